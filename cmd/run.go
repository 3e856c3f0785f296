package cmd

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

func runFlags() []cli.Flag {
	flags := append(pullFlags(),
		&cli.BoolFlag{Name: "rm", Usage: "remove the container when it exits"},
		&cli.BoolFlag{Name: "interactive", Aliases: []string{"i"}, Usage: "keep STDIN open"},
		&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pseudo-TTY"},
		&cli.StringFlag{Name: "name", Usage: "assign a name to the container"},
		&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set environment variables (KEY=VALUE, or KEY to copy it from here)"},
		&cli.StringSliceFlag{Name: "env-file", Usage: "read environment variables from a file"},
		&cli.StringFlag{Name: "workdir", Aliases: []string{"w"}, Usage: "working directory inside the container"},
		&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "user[:group], names or numbers"},
		&cli.StringFlag{Name: "entrypoint", Usage: "override the image's ENTRYPOINT"},
		&cli.StringFlag{Name: "hostname", Aliases: []string{"h"}, Usage: "container host name"},
		&cli.StringSliceFlag{Name: "volume", Aliases: []string{"v"}, Usage: "mount /host/path:/ctr, VOLUME:/ctr or an anonymous volume at /ctr [:ro,U,nocopy]"},
		&cli.StringSliceFlag{Name: "mount", Usage: "attach a mount: type=bind|volume|tmpfs,source=…,target=/ctr[,readonly]"},
		&cli.StringSliceFlag{Name: "volumes-from", Usage: "mount the volumes of another container: CONTAINER[:ro|rw]"},
		&cli.StringSliceFlag{Name: "tmpfs", Usage: "mount a tmpfs at /path[:options]"},
		&cli.BoolFlag{Name: "read-only", Usage: "mount the root file system read-only"},
		&cli.StringFlag{Name: "network", Aliases: []string{"net"}, Usage: "none, host, private (default: own namespace, outbound via slirp4netns), container:NAME or a network"},
		&cli.StringSliceFlag{Name: "publish", Aliases: []string{"p"}, Usage: "publish a port: [ip:][hostPort:]containerPort[/tcp|/udp], ranges allowed"},
		&cli.BoolFlag{Name: "publish-all", Aliases: []string{"P"}, Usage: "publish the image's EXPOSEd ports on free host ports"},
		&cli.StringSliceFlag{Name: "expose", Usage: "expose a port or a range (PORT[/PROTO]) without publishing it"},
		&cli.StringSliceFlag{Name: "network-alias", Usage: "another name for the container on its user-defined network"},
		&cli.StringFlag{Name: "mac-address", Usage: "MAC address of the container's outbound interface (tap0)"},
		&cli.StringSliceFlag{Name: "dns", Usage: "DNS server for the container"},
		&cli.StringSliceFlag{Name: "dns-search", Usage: "DNS search domain"},
		&cli.StringSliceFlag{Name: "dns-option", Usage: "resolv.conf option"},
		&cli.StringSliceFlag{Name: "add-host", Usage: "add a hosts entry name:ip (ip may be host-gateway)"},
		&cli.StringSliceFlag{Name: "cap-add", Usage: "add Linux capabilities"},
		&cli.StringSliceFlag{Name: "cap-drop", Usage: "drop Linux capabilities"},
		&cli.BoolFlag{Name: "privileged", Usage: "give extended privileges to this container"},
		&cli.StringSliceFlag{Name: "security-opt", Usage: "no-new-privileges, seccomp=unconfined or seccomp=FILE"},
		&cli.BoolFlag{Name: "init", Usage: "run an init inside the container that forwards signals and reaps processes"},
		&cli.StringFlag{Name: "pull", Value: "missing", Usage: "pull the image: missing, always or never"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "suppress the pull output"},
		&cli.StringSliceFlag{Name: "label", Aliases: []string{"l"}, Usage: "set metadata KEY=VALUE on the container"},
		&cli.StringFlag{Name: "cidfile", Usage: "write the container ID to this file"},
		&cli.StringFlag{Name: "stop-signal", Usage: "signal to stop the container (default: the image's STOPSIGNAL or SIGTERM)"},
		&cli.IntFlag{Name: "stop-timeout", Usage: "seconds to wait for the stop signal before SIGKILL (default 10)"},
		&cli.StringFlag{Name: "restart", Value: "no", Usage: "restart policy: no, on-failure[:N], always, unless-stopped"},
		&cli.StringSliceFlag{Name: "log-opt", Usage: "json-file log options: max-size=10m, max-file=3"},
		&cli.StringFlag{Name: "log-driver", Value: "json-file", Usage: "only json-file exists"},
		&cli.StringFlag{Name: "health-cmd", Usage: "command to run to check health"},
		&cli.DurationFlag{Name: "health-interval", Usage: "time between health checks (default 30s)"},
		&cli.DurationFlag{Name: "health-timeout", Usage: "longest a health check may run (default 30s)"},
		&cli.IntFlag{Name: "health-retries", Usage: "failures in a row that make it unhealthy (default 3)"},
		&cli.DurationFlag{Name: "health-start-period", Usage: "time to start before failures count"},
		&cli.BoolFlag{Name: "no-healthcheck", Usage: "disable the image's HEALTHCHECK"},
		&cli.StringFlag{Name: "sdnotify", Value: "supervisor", Usage: "under a systemd Type=notify unit (NOTIFY_SOCKET): supervisor (or conmon: skiff sends MAINPID and READY=1), container (the container gets the socket and sends READY=1) or ignore"},
	)
	flags = append(flags, resourceFlags()...)
	return append(flags, isolationFlags()...)
}

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "Create and run a new container from an image",
		ArgsUsage: "IMAGE [COMMAND] [ARG...]",
		UsageText: "skiff run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Flags: append(runFlags(),
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "run in the background and print the container ID"},
			detachKeysFlag(),
			&cli.BoolFlag{Name: "sig-proxy", Value: true, Usage: "pass received signals to the container"},
			attachFlag(),
		),
		Action: runAction,
	}
}

func createCommand() *cli.Command {
	return &cli.Command{
		Name:      "create",
		Usage:     "Create a new container without starting it",
		ArgsUsage: "IMAGE [COMMAND] [ARG...]",
		UsageText: "skiff create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Flags:     runFlags(),
		Action:    runAction,
	}
}

// createOptions turns run/create flags into the engine's options.
func createOptions(c *cli.Context) (engine.ContainerCreateOptions, error) {
	var o engine.ContainerCreateOptions
	env, err := collectEnv(c.StringSlice("env-file"), c.StringSlice("env"))
	if err != nil {
		return o, err
	}
	labels, err := readLabels(c)
	if err != nil {
		return o, err
	}
	dir, err := os.Getwd()
	if err != nil {
		return o, fmt.Errorf("finding the working directory for relative host paths: %w", err)
	}
	o = engine.ContainerCreateOptions{
		Image: c.Args().First(), Name: c.String("name"), Cmd: c.Args().Tail(), Env: env,
		Workdir: c.String("workdir"), User: c.String("user"), Hostname: c.String("hostname"), Labels: labels,
		Binds: c.StringSlice("volume"), Mounts: c.StringSlice("mount"), Tmpfs: c.StringSlice("tmpfs"),
		VolumesFrom: c.StringSlice("volumes-from"), ReadOnly: c.Bool("read-only"), Dir: dir,
		NetworkMode: c.String("network"), Publish: c.StringSlice("publish"), PublishAll: c.Bool("publish-all"),
		Expose:  c.StringSlice("expose"),
		Aliases: c.StringSlice("network-alias"), MacAddress: c.String("mac-address"),
		DNS: c.StringSlice("dns"), DNSSearch: c.StringSlice("dns-search"), DNSOptions: c.StringSlice("dns-option"),
		ExtraHosts: c.StringSlice("add-host"), CapAdd: c.StringSlice("cap-add"), CapDrop: c.StringSlice("cap-drop"),
		Privileged: c.Bool("privileged"), SecurityOpt: c.StringSlice("security-opt"), Init: c.Bool("init"),
		AutoRemove: c.Bool("rm"), Restart: c.String("restart"), LogDriver: c.String("log-driver"),
		LogOpts: c.StringSlice("log-opt"), StopSignal: c.String("stop-signal"), SdNotify: c.String("sdnotify"),
		Health: engine.HealthOptions{
			Cmd: c.String("health-cmd"), None: c.Bool("no-healthcheck"),
			Interval: c.Duration("health-interval"), Timeout: c.Duration("health-timeout"),
			StartPeriod: c.Duration("health-start-period"), Retries: c.Int("health-retries"),
			StartInterval: c.Duration("health-start-interval"),
		},
		Interactive: c.Bool("interactive"), TTY: c.Bool("tty"),
	}
	if c.IsSet("stop-timeout") {
		t := c.Int("stop-timeout")
		o.StopTimeout = &t
	}
	if c.IsSet("entrypoint") {
		o.EntrypointSet = true
		if ep := c.String("entrypoint"); ep != "" {
			o.Entrypoint = []string{ep}
		}
	}
	if err := checkContentTrust(c); err != nil {
		return o, err
	}
	if o.Resources, err = resourceOptions(c); err != nil {
		return o, err
	}
	if o.Isolation, err = isolationOptions(c); err != nil {
		return o, err
	}
	return o, o.Validate()
}

// create makes sure the image is there (as --pull says), creates the
// container, prints the engine's warnings and writes --cidfile.
func create(ctx context.Context, c *cli.Context, e *engine.Engine, o engine.ContainerCreateOptions) (string, error) {
	quiet := c.Bool("quiet")
	po := pullOptions(c, quiet, os.Stderr)
	if !quiet {
		po.Pulled = func(status string) { fmt.Fprintf(os.Stderr, "Status: %s\n", status) }
	}
	missing := func() {
		if !quiet {
			fmt.Fprintf(os.Stderr, "Unable to find image '%s' locally\n", o.Image)
		}
	}
	if f := c.String("cidfile"); f != "" {
		if _, err := os.Stat(f); err == nil {
			return "", fmt.Errorf("--cidfile %s already exists: remove it first: %w", f, errdefs.ErrAlreadyExists)
		}
	}
	if _, err := e.ImageEnsure(ctx, o.Image, c.String("pull"), po, missing); err != nil {
		return "", err
	}
	res, err := e.ContainerCreate(ctx, o)
	if err != nil {
		return "", err
	}
	for _, w := range res.Warnings {
		warn(w)
	}
	if f := c.String("cidfile"); f != "" {
		if err := os.WriteFile(f, []byte(res.ID), 0o644); err != nil {
			return "", fmt.Errorf("writing --cidfile %s: %w", f, err)
		}
	}
	return res.ID, nil
}

// runAction is create and run: create prints the new container's ID; run
// starts it too, in the background (-d, printing the ID) or attached.
// Exit statuses are Docker's: a wrong argument count or -it without a
// terminal 1; invalid options 125; then run 125/126/127 (or the
// container's status) and create 1.
func runAction(c *cli.Context) error {
	run := c.Command.Name == "run"
	if err := exactArgs(c, 1, -1, c.Command.Name+" [OPTIONS] IMAGE [COMMAND] [ARG...]"); err != nil {
		return err
	}
	if run && !c.Bool("detach") {
		if err := checkTTY(c.Bool("interactive"), c.Bool("tty")); err != nil {
			return err
		}
	}
	o, err := createOptions(c)
	if err != nil {
		return withStatus(exitUsage, err)
	}
	o.StartNext = run
	detachKeys, err := engine.ParseDetachKeys(c.String("detach-keys"))
	if err != nil {
		return withStatus(exitUsage, err)
	}
	only, err := attachOnly(c)
	if err != nil {
		return withStatus(exitUsage, err)
	}
	err = runOrCreate(c, o, run, detachKeys, only)
	if run {
		return runStatus(err)
	}
	return err
}

// runOrCreate creates the container and, for run, starts it, attached
// to the streams in only (all when empty).
func runOrCreate(c *cli.Context, o engine.ContainerCreateOptions, run bool, detachKeys []byte, only []string) error {
	return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
		id, err := create(ctx, c, e, o)
		if err != nil {
			return err
		}
		if !run || c.Bool("detach") {
			if run {
				// Under a systemd Type=notify unit, systemd hears from
				// this process once the container runs (see --sdnotify).
				if err := e.ContainerStartNotify(ctx, id, os.Getenv("NOTIFY_SOCKET")); err != nil {
					return err
				}
			}
			fmt.Fprintln(c.App.Writer, id)
			return nil
		}
		return attachAndStart(ctx, e, id, firstNonEmpty(o.Name, id[:12]), o.Interactive, o.TTY, c.Bool("sig-proxy"), detachKeys, only...)
	})
}

// collectEnv reads --env-file files, then -e values; `KEY` alone copies
// KEY from skiff's own environment (and is dropped when unset), as Docker.
func collectEnv(files, flags []string) ([]string, error) {
	var out []string
	add := func(v, where string) error {
		if v == "" || strings.HasPrefix(v, "=") {
			return errdefs.Invalid("invalid environment variable %q in %s: want KEY=VALUE", v, where)
		}
		if strings.Contains(v, "=") {
			out = append(out, v)
		} else if val, ok := os.LookupEnv(v); ok {
			out = append(out, v+"="+val)
		}
		return nil
	}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, errdefs.Invalid("--env-file %s: %v", f, err)
		}
		s := bufio.NewScanner(fh)
		for n := 1; s.Scan(); n++ {
			line := strings.TrimLeft(s.Text(), " \t")
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if err := add(line, fmt.Sprintf("%s line %d", f, n)); err != nil {
				fh.Close()
				return nil, err
			}
		}
		fh.Close()
	}
	for _, e := range flags {
		if err := add(e, "-e"); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// parseLabels reads --label KEY=VALUE (or KEY, an empty value).
func parseLabels(ls []string) (map[string]string, error) {
	out := map[string]string{}
	for _, l := range ls {
		k, v, _ := strings.Cut(l, "=")
		if k == "" {
			return nil, errdefs.Invalid("invalid --label %q: want KEY=VALUE", l)
		}
		out[k] = v
	}
	return out, nil
}
