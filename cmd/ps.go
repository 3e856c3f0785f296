package cmd

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/netns"
	"github.com/skiff-project/skiff/registry/reference"
	"github.com/skiff-project/skiff/runtime"
	"github.com/skiff-project/skiff/storage"
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
		&cli.StringSliceFlag{Name: "filter", Aliases: []string{"f"}, Usage: "filter: status=, name=, id=, label=KEY[=VALUE], ancestor=, exited="},
		&cli.StringFlag{Name: "format", Usage: "table, json or a Go template, e.g. '{{.Names}} {{.Status}}'"},
	}
}

func psCommand() *cli.Command {
	return &cli.Command{
		Name:                   "ps",
		Usage:                  "List containers",
		UsageText:              "skiff ps [OPTIONS]\n\nExample: skiff ps -a --filter status=exited --format '{{.Names}}'",
		Flags:                  psFlags(),
		UseShortOptionHandling: true,
		Action:                 psAction,
	}
}

type psFilter struct {
	key, value string
}

var psStatuses = map[string]bool{"created": true, "restarting": true, "running": true, "removing": true, "paused": true, "exited": true, "dead": true}

func parsePsFilters(fs []string) ([]psFilter, error) {
	var out []psFilter
	for _, f := range fs {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, errdefs.Invalid("invalid --filter %q: want KEY=VALUE", f)
		}
		switch k {
		case "status":
			if !psStatuses[v] {
				return nil, errdefs.Invalid("invalid --filter %q: status is one of created, restarting, running, removing, paused, exited, dead", f)
			}
		case "exited":
			if _, err := fmt.Sscan(v, new(int)); err != nil {
				return nil, errdefs.Invalid("invalid --filter %q: exited takes a number", f)
			}
		case "name", "id", "label", "ancestor":
		default:
			return nil, errdefs.Invalid("invalid --filter %q: filters are status, name, id, label, ancestor and exited", f)
		}
		out = append(out, psFilter{k, v})
	}
	return out, nil
}

// matchFilters applies Docker's rule: filters with the same key are
// alternatives, different keys must all match; every label must match.
func matchFilters(fs []psFilter, st *storage.Store, c *runtime.Container) bool {
	byKey := map[string]bool{}
	for _, f := range fs {
		if f.key == "label" {
			if !f.match(st, c) {
				return false
			}
			continue
		}
		if _, seen := byKey[f.key]; !seen {
			byKey[f.key] = false
		}
		if f.match(st, c) {
			byKey[f.key] = true
		}
	}
	for _, ok := range byKey {
		if !ok {
			return false
		}
	}
	return true
}

func (f psFilter) match(st *storage.Store, c *runtime.Container) bool {
	switch f.key {
	case "status":
		return c.State.Status == f.value
	case "exited":
		return c.State.Status == runtime.StatusExited && fmt.Sprint(c.State.ExitCode) == f.value
	case "name":
		return strings.Contains(c.Name, f.value)
	case "id":
		return strings.HasPrefix(c.ID, f.value)
	case "label":
		k, v, hasV := strings.Cut(f.value, "=")
		got, ok := c.Config.Labels[k]
		return ok && (!hasV || got == v)
	case "ancestor":
		img, err := st.LookupImage(f.value)
		if err == nil {
			return img.ID == c.ImageID
		}
		return c.Image == f.value
	}
	return false
}

func psAction(c *cli.Context) error {
	if err := exactArgs(c, 0, 0, "ps [OPTIONS]"); err != nil {
		return err
	}
	filters, err := parsePsFilters(c.StringSlice("filter"))
	if err != nil {
		return err
	}
	format := c.String("format")
	if format != "" && format != "json" && format != "table" {
		if _, err := parseTemplate(strings.TrimPrefix(format, "table")); err != nil {
			return err
		}
	}
	return withStore(c, func(ctx context.Context, st *storage.Store) error {
		all, err := runtime.List()
		if err != nil {
			return err
		}
		sort.SliceStable(all, func(i, j int) bool { return all[i].Created.After(all[j].Created) })
		last := c.Int("last")
		if c.Bool("latest") {
			last = 1
		}
		var rows []any
		n := 0
		for _, ctr := range all {
			if last >= 0 && n >= last {
				break
			}
			show := c.Bool("all") || last >= 0 || ctr.State.Running || ctr.State.Restarting || ctr.State.Paused
			for _, f := range filters {
				if f.key == "status" || f.key == "exited" {
					show = true
				}
			}
			if !matchFilters(filters, st, ctr) {
				show = false
			}
			if !show {
				continue
			}
			n++
			row := psRowFor(st, ctr, c.Bool("no-trunc"), c.Bool("size"))
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

func psRowFor(st *storage.Store, c *runtime.Container, noTrunc, size bool) psRow {
	cmd := strings.Join(append([]string{c.Path}, c.Args...), " ")
	id := c.ID
	if !noTrunc {
		id = c.ID[:12]
		if len(cmd) > 20 {
			cmd = cmd[:19] + "…"
		}
	}
	image := c.Image
	if n, err := reference.ParseNoTag(c.Image); err == nil {
		image = n.Familiar()
		if n.Tag == "latest" && !strings.HasSuffix(c.Image, ":latest") {
			image = n.FamiliarRepository()
		}
	}
	var labels []string
	for k, v := range c.Config.Labels {
		labels = append(labels, k+"="+v)
	}
	sort.Strings(labels)
	row := psRow{
		Command:    fmt.Sprintf("%q", cmd),
		CreatedAt:  c.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"),
		ID:         id,
		Image:      image,
		Labels:     strings.Join(labels, ","),
		Names:      c.Name,
		Networks:   c.HostConfig.NetworkMode,
		RunningFor: units.HumanDuration(time.Since(c.Created)) + " ago",
		State:      c.State.Status,
		Status:     statusText(c),
		Ports:      portsText(c.NetworkSettings.Ports),
		labels:     c.Config.Labels,
	}
	if size {
		var rw, virtual int64
		if ds, err := st.Raw().ContainerSize(c.ID); err == nil {
			rw = ds
		}
		if img, err := st.LookupImage(c.ImageID); err == nil {
			virtual = img.Size
		}
		row.Size = fmt.Sprintf("%s (virtual %s)", humanBytes(rw), humanBytes(rw+virtual))
	}
	return row
}

// statusText is Docker's STATUS column.
func statusText(c *runtime.Container) string {
	s := c.State
	switch s.Status {
	case runtime.StatusRunning, runtime.StatusPaused:
		t := "Up " + units.HumanDuration(time.Since(s.StartedAt))
		if s.Paused {
			t += " (Paused)"
		}
		if s.Health != nil {
			switch s.Health.Status {
			case "starting":
				t += " (health: starting)"
			default:
				t += " (" + s.Health.Status + ")"
			}
		}
		return t
	case runtime.StatusRestarting:
		return fmt.Sprintf("Restarting (%d) %s ago", s.ExitCode, units.HumanDuration(time.Since(s.FinishedAt)))
	case runtime.StatusExited:
		return fmt.Sprintf("Exited (%d) %s ago", s.ExitCode, units.HumanDuration(time.Since(s.FinishedAt)))
	case runtime.StatusDead:
		return "Dead"
	}
	return "Created"
}

// portsText is Docker's PORTS column: 0.0.0.0:8080->80/tcp, with runs
// of consecutive ports folded (0.0.0.0:8000-8002->80-82/tcp).
func portsText(pm netns.PortMap) string {
	type entry struct {
		ip, proto  string
		host, ctr  int
		hEnd, cEnd int
	}
	var es []entry
	for k, bs := range pm {
		p, proto, _ := strings.Cut(k, "/")
		ctr, _ := strconv.Atoi(p)
		for _, b := range bs {
			h, _ := strconv.Atoi(b.HostPort)
			es = append(es, entry{b.HostIP, proto, h, ctr, h, ctr})
		}
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
