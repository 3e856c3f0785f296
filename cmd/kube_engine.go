//go:build !skiff_nokube

package cmd

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
)

// withKubeEngine runs a kube command's fn: this skiff has the Kubernetes
// types (skiff-kube, or a build without the skiff_nokube tag).
func withKubeEngine(c *cli.Context, fn func(ctx context.Context, e *engine.Engine) error) error {
	return withEngine(c, fn)
}
