package cmd

import (
	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
)

// isolationFlags are run/create's namespace, device, sysctl and ulimit
// flags (--pid, --ipc, --device, …).
func isolationFlags() []cli.Flag { return nil }

// isolationOptions reads isolationFlags.
func isolationOptions(c *cli.Context) (engine.IsolationOptions, error) {
	return engine.IsolationOptions{}, nil
}
