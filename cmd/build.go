package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"
	"go.podman.io/storage/pkg/archive"
	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/build"
	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/registry/reference"
	"github.com/skiff-project/skiff/runtime"
	"github.com/skiff-project/skiff/storage"
)

func buildCommand() *cli.Command {
	return &cli.Command{
		Name:      "build",
		Usage:     "Build an image from a Dockerfile",
		ArgsUsage: "PATH",
		UsageText: "skiff build [OPTIONS] PATH\n\nExample: skiff build -t app:1 .",
		Flags: []cli.Flag{
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
		},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, 1, "build [OPTIONS] PATH"); err != nil {
				return err
			}
			if p := c.String("platform"); p != "" && p != "linux/"+goruntime.GOARCH {
				return errdefs.Invalid("--platform %s: skiff builds for this host's platform only (linux/%s)", p, goruntime.GOARCH)
			}
			dir := c.Args().First()
			if dir == "-" && c.String("file") == "-" {
				return errdefs.Invalid("the context and the Dockerfile cannot both come from stdin")
			}
			var tags []string
			for _, t := range c.StringSlice("tag") {
				n, err := reference.Parse(t)
				if err != nil {
					return err
				}
				tags = append(tags, n.String())
			}
			args, err := storage.ParseKV(c.StringSlice("build-arg"), "--build-arg")
			if err != nil {
				return err
			}
			labels, err := storage.ParseKV(c.StringSlice("label"), "--label")
			if err != nil {
				return err
			}
			return withStore(c, func(ctx context.Context, st *storage.Store) error {
				// Secrets from the environment go to temporary files, made
				// here because entering the user namespace may re-execute.
				secrets, cleanupSecrets, err := parseSecrets(c.StringSlice("secret"))
				if err != nil {
					return err
				}
				defer cleanupSecrets()
				// Read stdin only here, inside the user namespace: entering it
				// may re-execute skiff, and the new process must find stdin unread.
				tmpContext := ""
				if dir == "-" {
					// The context is a tar stream on stdin, as Docker's `build -`.
					tmp, err := os.MkdirTemp("", "skiff-build-context-")
					if err != nil {
						return err
					}
					defer os.RemoveAll(tmp)
					tmpContext = tmp
					if err := archive.Untar(os.Stdin, tmp, &archive.TarOptions{NoLchown: true}); err != nil {
						return errdefs.Invalid("reading the build context from stdin: %v", err)
					}
					dir = tmp
				}
				if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
					return errdefs.Invalid("build context %s is not a directory", dir)
				}
				var df io.Reader
				switch f := c.String("file"); f {
				case "-":
					df = os.Stdin
				default:
					if f == "" {
						f = filepath.Join(dir, "Dockerfile")
					}
					fh, err := os.Open(f)
					if err != nil {
						return errdefs.NotFound("Dockerfile %s: %v", f, err)
					}
					defer fh.Close()
					df = fh
				}
				// Ctrl-C removes the RUN container in flight before leaving.
				var mu sync.Mutex
				running, interrupted := "", false
				sigs := make(chan os.Signal, 1)
				signal.Notify(sigs, unix.SIGINT, unix.SIGTERM)
				defer signal.Stop(sigs)
				go func() {
					s, ok := <-sigs
					if !ok {
						return
					}
					mu.Lock()
					interrupted = true
					if running != "" {
						_, _ = runtime.Remove(st, running, true, true)
					}
					mu.Unlock()
					if tmpContext != "" {
						_ = os.RemoveAll(tmpContext)
					}
					cleanupSecrets()
					fmt.Fprintf(os.Stderr, "Error: build interrupted (%s)\n", s)
					os.Exit(130)
				}()
				policy := "missing"
				if c.Bool("pull") {
					policy = "always"
				}
				img, err := build.Build(ctx, st, build.Options{
					ContextDir: dir, Dockerfile: df, Tags: tags, BuildArgs: args, Target: c.String("target"),
					Labels: labels, Network: c.String("network"), Quiet: c.Bool("quiet"), Out: os.Stdout, NoCache: c.Bool("no-cache"),
					Running: func(id string) { mu.Lock(); running = id; mu.Unlock() }, Secrets: secrets,
					Pull: func(ctx context.Context, ref string) (*storage.Image, error) {
						return ensureImage(ctx, c, st, ref, policy, c.Bool("quiet"))
					},
				})
				var re *build.RunError
				if errors.As(err, &re) {
					mu.Lock()
					stopped := interrupted
					mu.Unlock()
					if stopped {
						select {} // the signal handler reports and exits 130
					}
					fmt.Fprintf(os.Stderr, "Error: %s\n", oneLine(err))
					return &errdefs.ExitStatus{Code: 1} // Docker: a failed RUN fails the build with 1
				}
				if err != nil {
					return err
				}
				if f := c.String("iidfile"); f != "" {
					if err := os.WriteFile(f, []byte("sha256:"+img.ID), 0o644); err != nil {
						return err
					}
				}
				if c.Bool("quiet") {
					fmt.Fprintf(c.App.Writer, "sha256:%s\n", img.ID)
				}
				return nil
			})
		},
	}
}

// parseSecrets reads --secret id=NAME,src=FILE (or env=VAR, whose value is
// put in a private temporary file) into files by id.
func parseSecrets(specs []string) (_ map[string]string, _ func(), err error) {
	out := map[string]string{}
	var temps []string
	cleanup := func() {
		for _, t := range temps {
			_ = os.Remove(t)
		}
	}
	defer func() {
		if err != nil {
			cleanup() // nothing half-made is left on an error
		}
	}()
	for _, spec := range specs {
		kv := map[string]string{}
		for _, f := range strings.Split(spec, ",") {
			k, v, _ := strings.Cut(f, "=")
			kv[k] = v
		}
		id := kv["id"]
		src := firstNonEmpty(kv["src"], kv["source"])
		env := kv["env"]
		if id == "" {
			return nil, nil, errdefs.Invalid("--secret %q: want id=NAME,src=FILE or id=NAME,env=VAR", spec)
		}
		if typ := kv["type"]; typ != "" && typ != "file" && typ != "env" {
			return nil, nil, errdefs.Invalid("--secret %q: unknown type %q (want file or env)", spec, typ)
		}
		switch {
		case src != "":
			abs, err := filepath.Abs(src)
			if err == nil {
				_, err = os.Stat(abs)
			}
			if err != nil {
				return nil, nil, errdefs.NotFound("--secret id=%s: source file %s: %v", id, src, err)
			}
			out[id] = abs
		default:
			if env == "" {
				env = id
			}
			v, ok := os.LookupEnv(env)
			if !ok {
				return nil, nil, errdefs.NotFound("--secret id=%s: environment variable %s is not set; give src=FILE or env=VAR", id, env)
			}
			f, err := os.CreateTemp("", "skiff-secret-")
			if err != nil {
				return nil, nil, err
			}
			temps = append(temps, f.Name())
			_, err = f.WriteString(v)
			f.Close()
			if err != nil {
				return nil, nil, err
			}
			out[id] = f.Name()
		}
	}
	return out, cleanup, nil
}
