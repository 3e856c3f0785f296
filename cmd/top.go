package cmd

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/runtime"
	"github.com/skiff-project/skiff/storage"
)

func topCommand() *cli.Command {
	return &cli.Command{
		Name:            "top",
		Usage:           "Display the running processes of a container",
		ArgsUsage:       "CONTAINER [ps OPTIONS]",
		UsageText:       "skiff top CONTAINER [ps OPTIONS]\n\nExample: skiff top web -o pid,comm",
		SkipFlagParsing: true,
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 || c.Args().First() == "--help" {
				return errdefs.Invalid("\"top\" needs a container: usage: skiff top CONTAINER [ps OPTIONS]")
			}
			return withStore(c, func(ctx context.Context, st *storage.Store) error {
				ctr, err := runtime.Lookup(c.Args().First())
				if err != nil {
					return err
				}
				pids, err := runtime.ContainerPids(ctr)
				if err != nil {
					return err
				}
				psArgs := c.Args().Tail()
				if len(psArgs) == 0 {
					psArgs = []string{"-ef"}
				}
				out, err := exec.Command("ps", psArgs...).CombinedOutput()
				if err != nil {
					return errdefs.Invalid("top: ps %s: %s", strings.Join(psArgs, " "), strings.TrimSpace(string(out)))
				}
				filtered, err := filterPs(string(out), pids)
				if err != nil {
					return err
				}
				_, _ = os.Stdout.WriteString(filtered)
				return nil
			})
		},
	}
}

// filterPs keeps ps's header and the rows of the given pids, as Docker's
// top does (ps runs on the host; the PID column says whose row it is).
func filterPs(out string, pids []int) (string, error) {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) == 0 {
		return "", errdefs.Invalid("top: ps printed nothing")
	}
	col := -1
	for i, h := range strings.Fields(lines[0]) {
		if h == "PID" {
			col = i
		}
	}
	if col < 0 {
		return "", errdefs.Invalid("top: ps output has no PID column: include pid in the ps options")
	}
	want := map[string]bool{}
	for _, p := range pids {
		want[strconv.Itoa(p)] = true
	}
	var b strings.Builder
	b.WriteString(lines[0] + "\n")
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) > col && want[f[col]] {
			b.WriteString(l + "\n")
		}
	}
	return b.String(), nil
}

func portCommand() *cli.Command {
	return &cli.Command{
		Name:      "port",
		Usage:     "List port mappings for the container",
		ArgsUsage: "CONTAINER [PRIVATE_PORT[/PROTO]]",
		UsageText: "skiff port CONTAINER [PRIVATE_PORT[/PROTO]]\n\nExample: skiff port web 80",
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, 2, "port CONTAINER [PRIVATE_PORT[/PROTO]]"); err != nil {
				return err
			}
			return withStore(c, func(ctx context.Context, st *storage.Store) error {
				ctr, err := runtime.Lookup(c.Args().First())
				if err != nil {
					return err
				}
				pm := ctr.NetworkSettings.Ports
				if c.NArg() == 2 {
					key := c.Args().Get(1)
					if !strings.Contains(key, "/") {
						key += "/tcp"
					}
					bs, ok := pm[key]
					if !ok {
						return errdefs.NotFound("no public port '%s' published for %s", c.Args().Get(1), ctr.Name)
					}
					for _, b := range bs {
						fmt.Fprintln(c.App.Writer, net.JoinHostPort(b.HostIP, b.HostPort))
					}
					return nil
				}
				for _, k := range pm.Keys() {
					for _, b := range pm[k] {
						fmt.Fprintf(c.App.Writer, "%s -> %s\n", k, net.JoinHostPort(b.HostIP, b.HostPort))
					}
				}
				return nil
			})
		},
	}
}

func statsCommand() *cli.Command {
	return &cli.Command{
		Name:      "stats",
		Usage:     "Display a snapshot of containers' resource usage",
		ArgsUsage: "[CONTAINER...]",
		UsageText: "skiff stats --no-stream [CONTAINER...]\n\nNeeds readable cgroups: as root on this host; rootless only with cgroup v2 delegation.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "no-stream", Usage: "print one snapshot (the only mode for now)"},
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "show all containers (default shows just running)"},
		},
		Action: func(c *cli.Context) error {
			return withStore(c, func(ctx context.Context, st *storage.Store) error {
				var ctrs []*runtime.Container
				if c.NArg() == 0 {
					all, err := runtime.List()
					if err != nil {
						return err
					}
					for _, ctr := range all {
						if ctr.State.Running || c.Bool("all") {
							ctrs = append(ctrs, ctr)
						}
					}
				}
				for _, ref := range c.Args().Slice() {
					ctr, err := runtime.Lookup(ref)
					if err != nil {
						return err
					}
					ctrs = append(ctrs, ctr)
				}
				w := tabwriter.NewWriter(c.App.Writer, 10, 1, 3, ' ', 0)
				fmt.Fprintln(w, "CONTAINER ID\tNAME\tCPU %\tMEM USAGE / LIMIT\tMEM %\tPIDS")
				for _, ctr := range ctrs {
					s, err := runtime.Stats(ctr, 200*time.Millisecond)
					if err != nil {
						return err
					}
					fmt.Fprintf(w, "%s\t%s\t%.2f%%\t%s / %s\t%.2f%%\t%d\n", ctr.ID[:12], ctr.Name, s.CPUPercent,
						humanBytes(int64(s.MemUsage)), humanBytes(int64(s.MemLimit)), s.MemPercent, s.Pids)
				}
				return w.Flush()
			})
		},
	}
}
