package cmd

// `skiff service`: Docker's swarm services on one host, with no daemon.
// The engine keeps the desired state and a keeper per service; these
// commands turn flags into a swarm.ServiceSpec, call the engine and print
// what docker/cli prints.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/moby/moby/api/types/swarm"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

func servicesCommand() *cli.Command {
	return &cli.Command{
		Name:  "service",
		Usage: "Manage services (replicated containers kept running, daemonless)",
		Subcommands: []*cli.Command{
			{
				Name:      "create",
				Usage:     "Create a new service",
				ArgsUsage: "IMAGE [COMMAND] [ARG...]",
				UsageText: "skiff service create [OPTIONS] IMAGE [COMMAND] [ARG...]",
				Flags:     serviceCreateFlags(),
				Action:    serviceCreate,
			},
			{
				Name:      "ls",
				Aliases:   []string{"list"},
				Usage:     "List services",
				UsageText: "skiff service ls [OPTIONS]",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only display IDs"},
					&cli.StringSliceFlag{Name: "filter", Aliases: []string{"f"}, Usage: "filter: id=, name=, label=KEY[=VALUE], mode=replicated|global"},
					&cli.StringFlag{Name: "format", Usage: "table, json or a Go template, e.g. '{{.Name}} {{.Replicas}}'"},
				},
				Action: serviceList,
			},
			{
				Name:      "ps",
				Usage:     "List the tasks of one or more services",
				ArgsUsage: "SERVICE [SERVICE...]",
				UsageText: "skiff service ps [OPTIONS] SERVICE [SERVICE...]",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only display task IDs"},
					&cli.BoolFlag{Name: "no-trunc", Usage: "do not truncate output"},
					&cli.BoolFlag{Name: "no-resolve", Usage: "do not map IDs to names"},
					&cli.StringSliceFlag{Name: "filter", Aliases: []string{"f"}, Usage: "filter: id=, name=, desired-state=running|shutdown|accepted, node="},
					&cli.StringFlag{Name: "format", Usage: "table, json or a Go template, e.g. '{{.Name}} {{.CurrentState}}'"},
				},
				Action: servicePs,
			},
			{
				Name:      "inspect",
				Usage:     "Display detailed information on one or more services",
				ArgsUsage: "SERVICE [SERVICE...]",
				UsageText: "skiff service inspect [--pretty | -f FORMAT] SERVICE [SERVICE...]",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Usage: "json or a Go template, e.g. '{{.Spec.Name}}'"},
					&cli.BoolFlag{Name: "pretty", Usage: "print the information in a human friendly format"},
				},
				Action: serviceInspect,
			},
			{
				Name:      "logs",
				Usage:     "Fetch the logs of a service or task",
				ArgsUsage: "SERVICE|TASK",
				UsageText: "skiff service logs [OPTIONS] SERVICE|TASK",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "follow log output"},
					&cli.StringFlag{Name: "tail", Aliases: []string{"n"}, Value: "all", Usage: "number of lines to show from the end of the logs"},
					&cli.StringFlag{Name: "since", Usage: "show logs since a timestamp (2013-01-02T13:23:37Z) or relative (42m)"},
					&cli.BoolFlag{Name: "timestamps", Aliases: []string{"t"}, Usage: "show timestamps"},
					&cli.BoolFlag{Name: "no-task-ids", Usage: "do not include task IDs in output"},
					&cli.BoolFlag{Name: "no-trunc", Usage: "do not truncate output"},
					&cli.BoolFlag{Name: "no-resolve", Usage: "do not map IDs to names in output"},
					&cli.BoolFlag{Name: "raw", Usage: "do not neatly format logs"},
				},
				Action: serviceLogs,
			},
			{
				Name:      "scale",
				Usage:     "Scale one or multiple replicated services",
				ArgsUsage: "SERVICE=REPLICAS [SERVICE=REPLICAS...]",
				UsageText: "skiff service scale [-d] SERVICE=REPLICAS [SERVICE=REPLICAS...]",
				Flags:     []cli.Flag{&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "exit at once instead of waiting for the services to converge"}},
				Action:    serviceScale,
			},
			{
				Name:      "update",
				Usage:     "Update a service",
				ArgsUsage: "SERVICE",
				UsageText: "skiff service update [OPTIONS] SERVICE",
				Flags:     serviceUpdateFlags(),
				Action:    serviceUpdate,
			},
			{
				Name:      "rollback",
				Usage:     "Revert changes to a service's configuration",
				ArgsUsage: "SERVICE",
				UsageText: "skiff service rollback [-d] [-q] SERVICE",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "exit at once instead of waiting for the service to converge"},
					&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "suppress progress output"},
				},
				Action: serviceRollback,
			},
			{
				Name:      "rm",
				Aliases:   []string{"remove"},
				Usage:     "Remove one or more services",
				ArgsUsage: "SERVICE [SERVICE...]",
				UsageText: "skiff service rm SERVICE [SERVICE...]",
				Action: func(c *cli.Context) error {
					return eachArg(c, "service rm SERVICE [SERVICE...]", func(ctx context.Context, e *engine.Engine, ref string) error {
						return e.ServiceRemove(ctx, ref)
					})
				},
			},
		},
	}
}

func serviceCreate(c *cli.Context) error {
	if err := exactArgs(c, 1, -1, "service create [OPTIONS] IMAGE [COMMAND] [ARG...]"); err != nil {
		return err
	}
	spec, err := createSpec(c, c.Args().Slice(), serviceMounts)
	if err != nil {
		return withStatus(exitUsage, err) // docker/cli: a flag value it cannot parse
	}
	return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
		res, err := e.ServiceCreate(ctx, spec, engine.ServiceCreateOptions{})
		if err != nil {
			return err
		}
		for _, w := range res.Warnings {
			warn(w)
		}
		fmt.Fprintln(c.App.Writer, res.ID)
		if c.Bool("detach") {
			return nil
		}
		return converge(ctx, e, res.ID, firstNonEmpty(spec.Name, res.ID), c.Bool("quiet"))
	})
}

func serviceUpdate(c *cli.Context) error {
	if err := exactArgs(c, 1, 1, "service update [OPTIONS] SERVICE"); err != nil {
		return err
	}
	rollback := c.Bool("rollback")
	if rollback {
		for _, f := range c.Command.Flags {
			n := f.Names()[0]
			if n != "rollback" && n != "detach" && n != "quiet" && c.IsSet(n) {
				return errdefs.Invalid("--%s may not be combined with --rollback: roll back first, then update", n)
			}
		}
	}
	ref := c.Args().First()
	return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
		svc, err := e.ServiceInspect(ctx, ref)
		if err != nil {
			return err
		}
		spec := svc.Spec
		if !rollback {
			if err := updateSpec(c, &spec, serviceMounts); err != nil {
				return withStatus(exitUsage, err)
			}
		}
		o := engine.ServiceUpdateOptions{Version: svc.Version.Index, Rollback: rollback, Force: c.Bool("force")}
		return updateAndWait(ctx, c, e, svc.ID, ref, spec, o, c.Bool("quiet"))
	})
}

func serviceRollback(c *cli.Context) error {
	if err := exactArgs(c, 1, 1, "service rollback [OPTIONS] SERVICE"); err != nil {
		return err
	}
	ref := c.Args().First()
	return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
		svc, err := e.ServiceInspect(ctx, ref)
		if err != nil {
			return err
		}
		o := engine.ServiceUpdateOptions{Version: svc.Version.Index, Rollback: true}
		return updateAndWait(ctx, c, e, svc.ID, ref, svc.Spec, o, c.Bool("quiet"))
	})
}

// updateAndWait updates a service, prints its name as typed and waits for
// it to converge unless --detach.
func updateAndWait(ctx context.Context, c *cli.Context, e *engine.Engine, id, ref string, spec swarm.ServiceSpec, o engine.ServiceUpdateOptions, quiet bool) error {
	res, err := e.ServiceUpdate(ctx, id, spec, o)
	if err != nil {
		return err
	}
	for _, w := range res.Warnings {
		warn(w)
	}
	fmt.Fprintln(c.App.Writer, ref)
	if c.Bool("detach") {
		return nil
	}
	return converge(ctx, e, id, ref, quiet)
}

// scaleArg is one SERVICE=REPLICAS of `service scale`.
type scaleArg struct {
	service  string
	replicas uint64
}

// parseScaleArgs checks every SERVICE=REPLICAS before any is scaled.
func parseScaleArgs(args []string) ([]scaleArg, error) {
	var out []scaleArg
	for _, a := range args {
		name, n, ok := strings.Cut(a, "=")
		if !ok || name == "" || n == "" {
			return nil, errdefs.Invalid("invalid scale specifier %q: want SERVICE=REPLICAS, e.g. web=3", a)
		}
		r, err := parseCount(n, "--replicas")
		if err != nil {
			return nil, errdefs.Invalid("invalid replicas value %q for %s: want a whole number, 0 or more", n, name)
		}
		out = append(out, scaleArg{name, r})
	}
	return out, nil
}

func serviceScale(c *cli.Context) error {
	if err := exactArgs(c, 1, -1, "service scale [-d] SERVICE=REPLICAS [SERVICE=REPLICAS...]"); err != nil {
		return err
	}
	args, err := parseScaleArgs(c.Args().Slice())
	if err != nil {
		return err
	}
	return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
		var first error
		type scaled struct{ id, name string }
		var done []scaled
		for _, a := range args {
			id, err := scaleService(ctx, e, a)
			if err != nil {
				fmt.Fprintf(os.Stderr, "Error: %s\n", oneLine(err))
				if first == nil {
					first = err
				}
				continue
			}
			fmt.Fprintf(c.App.Writer, "%s scaled to %d\n", a.service, a.replicas)
			done = append(done, scaled{id, a.service})
		}
		if !c.Bool("detach") {
			for _, s := range done {
				if err := converge(ctx, e, s.id, s.name, false); err != nil {
					fmt.Fprintf(os.Stderr, "Error: %s\n", oneLine(err))
					if first == nil {
						first = err
					}
				}
			}
		}
		if first != nil {
			return failed()
		}
		return nil
	})
}

func scaleService(ctx context.Context, e *engine.Engine, a scaleArg) (string, error) {
	svc, err := e.ServiceInspect(ctx, a.service)
	if err != nil {
		return "", err
	}
	if svc.Spec.Mode.Replicated == nil {
		return "", errdefs.Invalid("%s: scale can only be used with replicated mode", a.service)
	}
	spec := svc.Spec
	n := a.replicas
	spec.Mode.Replicated = &swarm.ReplicatedService{Replicas: &n}
	res, err := e.ServiceUpdate(ctx, svc.ID, spec, engine.ServiceUpdateOptions{Version: svc.Version.Index})
	if err != nil {
		return "", err
	}
	for _, w := range res.Warnings {
		warn(w)
	}
	return svc.ID, nil
}

// converge waits for a service's replicas (ID, NAME as the user knows
// it), drawing progress on stderr when it is a terminal (and not quiet).
// Ctrl-C stops the wait, not the service, as in Docker.
func converge(ctx context.Context, e *engine.Engine, id, name string, quiet bool) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	var p *convergeProgress
	if !quiet && term.IsTerminal(int(os.Stderr.Fd())) {
		p = &convergeProgress{w: os.Stderr}
	}
	err := e.ServiceConverge(ctx, id, p.show)
	if ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled)) {
		fmt.Fprintf(os.Stderr, "Operation continuing in background.\nUse `skiff service ps %s` to check progress.\n", name)
		return nil
	}
	if err == nil && p != nil {
		fmt.Fprintln(p.w, "verify: Service converged")
	}
	return err
}

// convergeProgress redraws Docker's progress lines: the overall count and
// one bar per slot.
type convergeProgress struct {
	w     io.Writer
	drawn int
}

// taskProgress is how far each state is on the way to running, out of 9,
// as docker/cli's bars.
var taskProgress = map[swarm.TaskState]int{
	swarm.TaskStateNew: 1, swarm.TaskStateAllocated: 2, swarm.TaskStatePending: 3, swarm.TaskStateAssigned: 4,
	swarm.TaskStateAccepted: 5, swarm.TaskStatePreparing: 6, swarm.TaskStateReady: 7, swarm.TaskStateStarting: 8,
	swarm.TaskStateRunning: 9,
}

func (p *convergeProgress) show(sp engine.ServiceProgress) {
	if p == nil {
		return
	}
	lines := progressLines(sp)
	if p.drawn > 0 {
		fmt.Fprintf(p.w, "\x1b[%dA", p.drawn)
	}
	for _, l := range lines {
		fmt.Fprintf(p.w, "\x1b[2K%s\n", l)
	}
	// Lines left over from a longer drawing (scaling down) are cleared.
	for i := len(lines); i < p.drawn; i++ {
		fmt.Fprint(p.w, "\x1b[2K\n")
	}
	if p.drawn > len(lines) {
		fmt.Fprintf(p.w, "\x1b[%dA", p.drawn-len(lines))
	}
	p.drawn = len(lines)
}

// progressLines are the lines of one progress drawing.
func progressLines(sp engine.ServiceProgress) []string {
	var lines []string
	if u := sp.Update; u != nil && u.State != "" && u.State != swarm.UpdateStateCompleted {
		what := "update"
		if strings.HasPrefix(string(u.State), "rollback") {
			what = "rollback"
		}
		lines = append(lines, fmt.Sprintf("%s: %s", what, firstNonEmpty(u.Message, strings.ReplaceAll(string(u.State), "_", " "))))
	}
	lines = append(lines, fmt.Sprintf("overall progress: %d out of %d tasks", sp.Running, sp.Desired))
	width := len(fmt.Sprint(sp.Desired))
	tasks := slices.Clone(sp.Tasks)
	slices.SortStableFunc(tasks, func(a, b swarm.Task) int { return a.Slot - b.Slot })
	for _, t := range tasks {
		done := taskProgress[t.Status.State] * 50 / 9
		bar := strings.Repeat("=", done) + ">" + strings.Repeat(" ", 50-done)
		line := fmt.Sprintf("%*d/%d: %-9s [%s]", width, t.Slot, sp.Desired, t.Status.State, bar)
		if t.Status.Err != "" {
			line = fmt.Sprintf("%*d/%d: %s", width, t.Slot, sp.Desired, t.Status.Err)
		}
		lines = append(lines, line)
	}
	return lines
}
