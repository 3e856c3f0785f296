//go:build skiff_nokube

package cmd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

// kubeBinary is skiff built with the Kubernetes types, installed next to
// this one.
const kubeBinary = "skiff-kube"

// withKubeEngine hands a kube command to skiff-kube. This skiff is built
// without the Kubernetes types (skiff_nokube), whose package
// initialisation cost every start of skiff ~1.5 ms and 300 page faults.
// The command line was parsed and checked here, and the user's namespace
// entered (with its warnings) as for any command; skiff-kube then runs the
// same command line inside it, before fn read anything.
func withKubeEngine(c *cli.Context, _ func(ctx context.Context, e *engine.Engine) error) error {
	return withEngine(c, func(context.Context, *engine.Engine) error {
		self, err := os.Executable()
		if err != nil {
			return fmt.Errorf("finding skiff's own binary: %w", err)
		}
		path := filepath.Join(filepath.Dir(self), kubeBinary)
		err = syscall.Exec(path, os.Args, os.Environ())
		return fmt.Errorf("running %s for %s: %v: build it with make build and install it next to skiff (./install.sh): %w",
			path, commandPath(c), err, errdefs.ErrUnavailable)
	})
}
