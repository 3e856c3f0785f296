package cmd

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
)

// keeperCommand is the hidden `skiff __keeper ID`: the keeper of one
// service, started by the engine with its ready pipe as fd 3. It logs to
// its stderr, which the engine points at the service's keeper.log.
func keeperCommand() *cli.Command {
	return &cli.Command{
		Name:            engine.KeeperCommand,
		Hidden:          true,
		SkipFlagParsing: true,
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, 1, engine.KeeperCommand+" SERVICE-ID"); err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
			e, err := engine.New(engine.WithLogger(log), engine.WithWarnings(func(s string) { log.Warn(s) }))
			if err != nil {
				return err
			}
			defer e.Close()
			// The engine's ready pipe, when it started this keeper; a systemd
			// unit starts it without one.
			var ready io.Writer
			if fd, err := strconv.Atoi(os.Getenv(engine.EnvKeeperReady)); err == nil && fd > 2 {
				f := os.NewFile(uintptr(fd), "ready")
				defer f.Close()
				ready = f
			}
			os.Unsetenv(engine.EnvKeeperReady)
			return e.ServiceKeep(context.Background(), c.Args().First(), ready)
		},
	}
}
