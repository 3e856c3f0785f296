package cmd

import (
	"context"
	"errors"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/registry/reference"
	"github.com/skiff-project/skiff/runtime"
	"github.com/skiff-project/skiff/storage"
)

func commitCommand() *cli.Command {
	return &cli.Command{
		Name:      "commit",
		Usage:     "Create a new image from a container's changes",
		ArgsUsage: "CONTAINER [REPOSITORY[:TAG]]",
		UsageText: "skiff commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]\n\nExample: skiff commit -m 'add config' -c 'CMD [\"/app\"]' web myapp:2",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "author", Aliases: []string{"a"}, Usage: "author (e.g. \"Jane Doe <jane@example.com>\")"},
			&cli.StringSliceFlag{Name: "change", Aliases: []string{"c"}, Usage: "apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, LABEL, VOLUME, STOPSIGNAL)"},
			&cli.StringFlag{Name: "message", Aliases: []string{"m"}, Usage: "commit message"},
			&cli.BoolFlag{Name: "pause", Aliases: []string{"p"}, Value: true, Usage: "pause a running container during the commit"},
		},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, 2, "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]"); err != nil {
				return err
			}
			o := storage.CommitOptions{Changes: c.StringSlice("change"), Author: c.String("author"), Message: c.String("message")}
			for _, ch := range o.Changes {
				var probe v1.Config
				if err := storage.ApplyChange(&probe, ch); err != nil {
					return err
				}
			}
			if c.NArg() == 2 {
				n, err := reference.Parse(c.Args().Get(1))
				if err != nil {
					return err
				}
				if n.Digest != "" {
					return errdefs.Invalid("commit: %s has a digest: give a tag", c.Args().Get(1))
				}
				o.Name = n.String()
			}
			return withStore(c, func(ctx context.Context, st *storage.Store) error {
				ctr, err := runtime.Lookup(c.Args().First())
				if err != nil {
					return err
				}
				o.Config = commitConfig(ctr)
				o.CreatedBy = strings.Join(ctr.Config.Cmd, " ")
				if o.CreatedBy == "" {
					o.CreatedBy = strings.Join(append([]string{ctr.Path}, ctr.Args...), " ")
				}
				o.Mounts = mountDestinations(ctr)
				if c.Bool("pause") && ctr.State.Running && !ctr.State.Paused {
					switch err := runtime.Pause(ctr.ID); {
					case err == nil:
						defer func() { _ = runtime.Unpause(ctr.ID) }()
					case errors.Is(err, errdefs.ErrUnavailable):
						warn(fmt.Sprintf("%s: committing it while it runs", oneLine(err)))
					default:
						return fmt.Errorf("committing %s: %w", ctr.Name, err)
					}
				}
				img, err := st.Commit(ctx, ctr.ID, o)
				if err != nil {
					return err
				}
				fmt.Fprintf(c.App.Writer, "sha256:%s\n", img.ID)
				return nil
			})
		},
	}
}

// commitConfig is the container's configuration as an image config, as
// Docker's commit takes it.
func commitConfig(ctr *runtime.Container) v1.Config {
	cc := ctr.Config
	cfg := v1.Config{
		User:         cc.User,
		Env:          cc.Env,
		Cmd:          cc.Cmd,
		Entrypoint:   cc.Entrypoint,
		WorkingDir:   cc.WorkingDir,
		Labels:       cc.Labels,
		StopSignal:   cc.StopSignal,
		ExposedPorts: cc.ExposedPorts,
	}
	if h := cc.Healthcheck; h != nil {
		cfg.Healthcheck = &v1.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
	}
	return cfg
}
