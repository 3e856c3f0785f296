package cmd

import (
	"context"
	"fmt"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	units "github.com/docker/go-units"
	ctypes "github.com/moby/moby/api/types/container"
	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
)

// psRow is one line of `ps`, with Docker's field names.
type psRow struct {
	Command      string
	CreatedAt    string
	ID           string
	Image        string
	Labels       string
	LocalVolumes string
	Mounts       string
	Names        string
	Networks     string
	Ports        string
	RunningFor   string
	Size         string
	State        string
	Status       string

	labels map[string]string
}

// Label returns one label's value, for '{{.Label "key"}}' templates.
func (r psRow) Label(key string) string { return r.labels[key] }

func psFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "show all containers (default shows just running)"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only display container IDs"},
		&cli.IntFlag{Name: "last", Aliases: []string{"n"}, Value: -1, Usage: "show n last created containers (includes all states)"},
		&cli.BoolFlag{Name: "latest", Aliases: []string{"l"}, Usage: "show the latest created container (includes all states)"},
		&cli.BoolFlag{Name: "size", Aliases: []string{"s"}, Usage: "display total file sizes"},
		&cli.BoolFlag{Name: "no-trunc", Usage: "don't truncate output"},
		&cli.StringSliceFlag{Name: "filter", Aliases: []string{"f"}, Usage: "filter: status=, name=, id=, label=KEY[=VALUE], ancestor=, exited=, before=, since=, network=, volume=, health="},
		&cli.StringFlag{Name: "format", Usage: "table, json or a Go template, e.g. '{{.Names}} {{.Status}}'"},
	}
}

func psCommand() *cli.Command {
	return &cli.Command{
		Name:      "ps",
		Usage:     "List containers",
		UsageText: "skiff ps [OPTIONS]",
		Flags:     psFlags(),
		Action:    psAction,
	}
}

func psAction(c *cli.Context) error {
	if err := exactArgs(c, 0, 0, "ps [OPTIONS]"); err != nil {
		return err
	}
	f, err := engine.ParseFilters(c.StringSlice("filter"))
	if err != nil {
		return err
	}
	format := c.String("format")
	if format != "" && format != "json" && format != "table" {
		if _, err := parseTemplate(strings.TrimPrefix(format, "table")); err != nil {
			return err
		}
	}
	o := engine.ContainerListOptions{All: c.Bool("all"), Last: c.Int("last"), Size: c.Bool("size"), Filters: f}
	if c.Bool("latest") {
		o.Last = 1
	}
	// ps allocates for every container and exits: no collection before
	// 32 MiB (one sometimes ran with 500 containers, for nothing).
	debug.SetGCPercent(800)
	return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
		list, err := e.ContainerList(ctx, o)
		if err != nil {
			return err
		}
		var rows []any
		for _, sm := range list {
			row := psRowFor(sm, c.Bool("no-trunc"), c.Bool("size"))
			if c.Bool("quiet") {
				fmt.Fprintln(c.App.Writer, row.ID)
				continue
			}
			rows = append(rows, row)
		}
		if c.Bool("quiet") {
			return nil
		}
		def := "{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
		if c.Bool("size") {
			def += "\t{{.Size}}"
		}
		lf := listFormat{format: format, defTable: def, header: headerFor(psRow{}, map[string]string{
			"ID": "CONTAINER ID", "RunningFor": "CREATED", "CreatedAt": "CREATED AT", "LocalVolumes": "LOCAL VOLUMES",
		})}
		return lf.write(c.App.Writer, rows)
	})
}

func psRowFor(sm ctypes.Summary, noTrunc, size bool) psRow {
	cmd := sm.Command
	id := sm.ID
	if !noTrunc {
		id = sm.ID[:12]
		if len(cmd) > 20 {
			cmd = cmd[:19] + "…"
		}
	}
	var labels []string
	for k, v := range sm.Labels {
		labels = append(labels, k+"="+v)
	}
	sort.Strings(labels)
	var nets []string
	for n := range sm.NetworkSettings.Networks {
		nets = append(nets, n)
	}
	sort.Strings(nets)
	created := time.Unix(sm.Created, 0)
	row := psRow{
		Command:      fmt.Sprintf("%q", cmd),
		CreatedAt:    created.Local().Format("2006-01-02 15:04:05 -0700 MST"),
		ID:           id,
		Image:        engine.FamiliarImage(sm.Image),
		Labels:       strings.Join(labels, ","),
		LocalVolumes: fmt.Sprint(countVolumes(sm)),
		Mounts:       mountNames(sm, noTrunc),
		Names:        strings.TrimPrefix(sm.Names[0], "/"),
		Networks:     strings.Join(nets, ","),
		RunningFor:   units.HumanDuration(time.Since(created)) + " ago",
		State:        string(sm.State),
		Status:       sm.Status,
		Ports:        portsText(sm.Ports),
		labels:       sm.Labels,
	}
	if size {
		row.Size = fmt.Sprintf("%s (virtual %s)", humanBytes(sm.SizeRw), humanBytes(sm.SizeRootFs))
	}
	return row
}

func countVolumes(sm ctypes.Summary) int {
	n := 0
	for _, m := range sm.Mounts {
		if m.Type == "volume" {
			n++
		}
	}
	return n
}

// mountNames is Docker's MOUNTS column: volume names, bind sources.
func mountNames(sm ctypes.Summary, noTrunc bool) string {
	var out []string
	for _, m := range sm.Mounts {
		n := m.Name
		if n == "" {
			n = m.Source
		}
		if !noTrunc {
			n = ellipsis(n, 15)
		}
		out = append(out, n)
	}
	return strings.Join(out, ",")
}

// portsText is Docker's PORTS column: 0.0.0.0:8080->80/tcp, with runs
// of consecutive ports folded (0.0.0.0:8000-8002->80-82/tcp).
func portsText(ports []ctypes.PortSummary) string {
	type entry struct {
		ip, proto  string
		host, ctr  int
		hEnd, cEnd int
	}
	var es []entry
	for _, p := range ports {
		if p.PublicPort == 0 {
			continue
		}
		ip := ""
		if p.IP.IsValid() {
			ip = p.IP.String()
		}
		es = append(es, entry{ip, p.Type, int(p.PublicPort), int(p.PrivatePort), int(p.PublicPort), int(p.PrivatePort)})
	}
	sort.Slice(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if a.proto != b.proto {
			return a.proto < b.proto
		}
		if a.ip != b.ip {
			return a.ip < b.ip
		}
		return a.ctr < b.ctr
	})
	var folded []entry
	for _, e := range es {
		if n := len(folded); n > 0 {
			last := &folded[n-1]
			if last.ip == e.ip && last.proto == e.proto && e.ctr == last.cEnd+1 && e.host == last.hEnd+1 {
				last.cEnd, last.hEnd = e.ctr, e.host
				continue
			}
		}
		folded = append(folded, e)
	}
	var out []string
	for _, e := range folded {
		ip := e.ip
		if strings.Contains(ip, ":") {
			ip = "[" + ip + "]"
		}
		if e.cEnd == e.ctr {
			out = append(out, fmt.Sprintf("%s:%d->%d/%s", ip, e.host, e.ctr, e.proto))
		} else {
			out = append(out, fmt.Sprintf("%s:%d-%d->%d-%d/%s", ip, e.host, e.hEnd, e.ctr, e.cEnd, e.proto))
		}
	}
	return strings.Join(out, ", ")
}
