package cmd

import (
	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
)

// resourceFlags are run/create's cgroup limit flags (-m, --cpus, …).
func resourceFlags() []cli.Flag { return nil }

// resourceOptions reads resourceFlags.
func resourceOptions(c *cli.Context) (engine.ResourceOptions, error) {
	return engine.ResourceOptions{}, nil
}
