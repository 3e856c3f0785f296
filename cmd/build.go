package cmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

func buildCommand() *cli.Command {
	return &cli.Command{
		Name:      "build",
		Usage:     "Build an image from a Dockerfile",
		ArgsUsage: "PATH",
		UsageText: "skiff build [OPTIONS] PATH | -",
		Flags: append([]cli.Flag{
			&cli.StringSliceFlag{Name: "tag", Aliases: []string{"t"}, Usage: "name the image (several allowed)"},
			&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: "the Dockerfile (default PATH/Dockerfile; - for stdin)"},
			&cli.StringSliceFlag{Name: "build-arg", Usage: "set a build-time variable KEY=VALUE"},
			&cli.StringFlag{Name: "target", Usage: "build up to this stage"},
			&cli.StringSliceFlag{Name: "label", Usage: "set metadata KEY=VALUE on the image"},
			&cli.StringFlag{Name: "iidfile", Usage: "write the image ID to this file"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only the image ID"},
			&cli.StringFlag{Name: "network", Usage: "network for RUN steps (private, none, host)"},
			&cli.BoolFlag{Name: "no-cache", Usage: "run every step again instead of reusing cached ones"},
			&cli.BoolFlag{Name: "pull", Usage: "always pull the FROM images"},
			&cli.StringFlag{Name: "platform", Usage: "only this host's platform"},
			&cli.StringSliceFlag{Name: "secret", Usage: "a secret for RUN --mount=type=secret: id=NAME,src=FILE or id=NAME,env=VAR"},
			&cli.StringSliceFlag{Name: "ssh", Usage: "an SSH agent for RUN --mount=type=ssh: default ($SSH_AUTH_SOCK), ID or ID=SOCKET"},
			&cli.StringSliceFlag{Name: "add-host", Usage: "add a hosts entry name:ip to RUN steps (ip may be host-gateway)"},
			&cli.StringSliceFlag{Name: "security-opt", Usage: "for RUN steps: no-new-privileges, seccomp=unconfined or seccomp=FILE"},
			&cli.StringSliceFlag{Name: "cache-from", Usage: "an image whose layers serve as cache (pulled when missing)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "also write the final stage's files: type=local,dest=DIR, type=tar,dest=FILE or - (a tar on stdout)"},
			&cli.BoolFlag{Name: "squash", Usage: "squash the layers the build adds into one"},
			&cli.StringFlag{Name: "progress", Value: "auto", Usage: "auto, plain, tty (step lines) or quiet (as -q)"},
			&cli.StringFlag{Name: "isolation", Usage: "only default on Linux"},
			&cli.BoolFlag{Name: "rm", Value: true, Usage: "remove intermediate containers (skiff always does, also on failure)"},
			&cli.BoolFlag{Name: "force-rm", Usage: "remove intermediate containers on failure too (skiff always does)"},
			&cli.BoolFlag{Name: "compress", Usage: "compress the context (no effect: skiff reads the context in place)"},
			contentTrustFlag(),
		}, buildLimitFlags()...),
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, 1, "build [OPTIONS] PATH"); err != nil {
				return err
			}
			args, err := parseKV(c.StringSlice("build-arg"), "--build-arg")
			if err != nil {
				return err
			}
			labels, err := parseKV(c.StringSlice("label"), "--label")
			if err != nil {
				return err
			}
			o := engine.BuildOptions{
				ContextDir: c.Args().First(), Dockerfile: c.String("file"), Tags: c.StringSlice("tag"),
				BuildArgs: args, Target: c.String("target"), Labels: labels, Network: c.String("network"),
				NoCache: c.Bool("no-cache"), Platform: c.String("platform"), Secrets: c.StringSlice("secret"),
				Quiet: c.Bool("quiet"), Out: os.Stdout, SSH: c.StringSlice("ssh"), ExtraHosts: c.StringSlice("add-host"),
				SecurityOpt: c.StringSlice("security-opt"), CacheFrom: c.StringSlice("cache-from"), Squash: c.Bool("squash"),
				Isolation: c.String("isolation"), Warn: func(s string) { fmt.Fprintln(os.Stderr, "WARNING: "+s) },
			}
			if err := buildProgress(c, &o); err != nil {
				return err
			}
			// run's parser: the flags build lacks read as not given. A
			// value that does not parse exits 125, as Docker's flag parser.
			if o.Resources, err = resourceOptions(c); err != nil {
				return withStatus(exitUsage, err)
			}
			o.ShmSize, o.Ulimits = c.String("shm-size"), c.StringSlice("ulimit")
			if err := o.CheckLimits(); err != nil {
				return withStatus(exitUsage, err)
			}
			if c.Bool("pull") {
				o.Pull = engine.PullAlways
			}
			if !o.Quiet {
				o.PullProgress = newProgress(os.Stderr)
				o.PullMissing = func(ref string) { fmt.Fprintf(os.Stderr, "Unable to find image '%s' locally\n", ref) }
			}
			return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
				// Read stdin only here, inside the user namespace: entering it
				// may run skiff again, which must find stdin unread.
				if o.ContextDir == "-" {
					o.ContextDir, o.Context = "", os.Stdin
				}
				if o.Dockerfile == "-" {
					o.Dockerfile, o.DockerfileText = "", io.Reader(os.Stdin)
				}
				// Ctrl-C cancels the build: the engine removes the RUN
				// container in flight and what the build made for itself.
				ctx, stop := signal.NotifyContext(ctx, unix.SIGINT, unix.SIGTERM)
				defer stop()
				id, err := e.Build(ctx, o)
				switch {
				case ctx.Err() != nil:
					fmt.Fprintln(os.Stderr, "Error: build interrupted")
					return &errdefs.ExitStatus{Code: 130}
				case engine.IsRunFailure(err):
					fmt.Fprintf(os.Stderr, "Error: %s\n", oneLine(err))
					return &errdefs.ExitStatus{Code: 1} // Docker: a failed RUN fails the build with 1
				case err != nil:
					return err
				}
				if f := c.String("iidfile"); f != "" {
					if err := os.WriteFile(f, []byte(id), 0o644); err != nil {
						return fmt.Errorf("writing --iidfile %s: %w", f, err)
					}
				}
				if o.Quiet && (o.Output == nil || o.Output.Dest != "-") {
					fmt.Fprintln(c.App.Writer, id)
				}
				return nil
			})
		},
	}
}

// buildLimitFlags are Docker's build flags for the RUN containers' limits:
// run's own flags of those names, so both read the same values the same
// way.
func buildLimitFlags() []cli.Flag {
	return pickFlags(append(resourceFlags(), isolationFlags()...),
		"memory", "memory-swap", "cpu-shares", "cpu-period", "cpu-quota", "cpuset-cpus", "cpuset-mems",
		"cgroup-parent", "shm-size", "ulimit")
}

// pickFlags are the flags of all named names, in that order.
func pickFlags(all []cli.Flag, names ...string) []cli.Flag {
	var out []cli.Flag
	for _, n := range names {
		i := slices.IndexFunc(all, func(f cli.Flag) bool { return namesOf(f)[0] == n })
		if i < 0 {
			panic("pickFlags: no flag " + n)
		}
		out = append(out, all[i])
	}
	return out
}

// buildProgress reads the flags that decide what build prints and what
// it writes besides the image: --progress, --output (stdout then holds
// the tar and the step lines go to stderr), and --compress and
// --disable-content-trust, which have nothing to act on in skiff.
func buildProgress(c *cli.Context, o *engine.BuildOptions) error {
	switch p := c.String("progress"); p {
	case "auto", "plain", "tty":
	case "quiet":
		o.Quiet = true
	default:
		return errdefs.Invalid("invalid --progress %q: want auto, plain, tty or quiet", p)
	}
	if c.IsSet("output") {
		out, err := engine.ParseBuildOutput(c.String("output"))
		if err != nil {
			return err
		}
		if out.Dest == "-" {
			out.Writer, o.Out = os.Stdout, os.Stderr
		} else if out.Dest, err = filepath.Abs(out.Dest); err != nil {
			return err
		}
		o.Output = &out
	}
	if err := checkContentTrust(c); err != nil {
		return err
	}
	if c.Bool("compress") {
		fmt.Fprintln(os.Stderr, "WARNING: --compress has no effect: skiff reads the build context in place, nothing is sent to compress")
	}
	return nil
}
