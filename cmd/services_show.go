package cmd

// `service ls`, `service ps` and `service inspect`: what docker/cli
// prints for them, from the engine's swarm.Service and swarm.Task.

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	units "github.com/docker/go-units"
	"github.com/moby/moby/api/types/swarm"
	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

// serviceRow is one line of `service ls`, with Docker's field names.
type serviceRow struct {
	ID       string
	Name     string
	Mode     string
	Replicas string
	Image    string
	Ports    string
}

func serviceList(c *cli.Context) error {
	if err := exactArgs(c, 0, 0, "service ls [OPTIONS]"); err != nil {
		return err
	}
	f, err := engine.ParseFilters(c.StringSlice("filter"))
	if err != nil {
		return err
	}
	if err := checkFormat(c.String("format")); err != nil {
		return err
	}
	return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
		list, err := e.ServiceList(ctx, engine.ServiceListOptions{Filters: f, Status: true})
		if err != nil {
			return err
		}
		sort.SliceStable(list, func(i, j int) bool { return naturalLess(list[i].Spec.Name, list[j].Spec.Name) })
		var rows []any
		for _, s := range list {
			if c.Bool("quiet") {
				fmt.Fprintln(c.App.Writer, shortID(s.ID))
				continue
			}
			rows = append(rows, serviceRowFor(s))
		}
		if c.Bool("quiet") {
			return nil
		}
		lf := listFormat{format: c.String("format"), defTable: "{{.ID}}\t{{.Name}}\t{{.Mode}}\t{{.Replicas}}\t{{.Image}}\t{{.Ports}}",
			header: headerFor(serviceRow{}, nil)}
		return lf.write(c.App.Writer, rows)
	})
}

// checkFormat refuses a bad --format template before anything is done.
func checkFormat(format string) error {
	if format != "" && format != "json" && format != "table" {
		_, err := parseTemplate(strings.TrimPrefix(format, "table"))
		return err
	}
	return nil
}

func serviceRowFor(s swarm.Service) serviceRow {
	row := serviceRow{ID: shortID(s.ID), Name: s.Spec.Name, Mode: serviceMode(s.Spec.Mode), Ports: servicePorts(s.Endpoint.Ports)}
	if cs := s.Spec.TaskTemplate.ContainerSpec; cs != nil {
		row.Image = displayImage(cs.Image)
	}
	var running, desired, completed uint64
	if st := s.ServiceStatus; st != nil {
		running, desired, completed = st.RunningTasks, st.DesiredTasks, st.CompletedTasks
	}
	row.Replicas = fmt.Sprintf("%d/%d", running, desired)
	switch m := s.Spec.Mode; {
	case m.ReplicatedJob != nil && m.ReplicatedJob.TotalCompletions != nil:
		row.Replicas += fmt.Sprintf(" (%d/%d completed)", completed, *m.ReplicatedJob.TotalCompletions)
	case m.GlobalJob != nil:
		row.Replicas += fmt.Sprintf(" (%d/%d completed)", completed, desired+completed)
	case m.Replicated != nil && s.Spec.TaskTemplate.Placement != nil && s.Spec.TaskTemplate.Placement.MaxReplicas > 0:
		row.Replicas += fmt.Sprintf(" (max %d per node)", s.Spec.TaskTemplate.Placement.MaxReplicas)
	}
	return row
}

func serviceMode(m swarm.ServiceMode) string {
	switch {
	case m.Global != nil:
		return "global"
	case m.Replicated != nil:
		return "replicated"
	case m.ReplicatedJob != nil:
		return "replicated job"
	case m.GlobalJob != nil:
		return "global job"
	}
	return ""
}

// shortID is an ID as Docker's tables show it: its first 12 characters.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// displayImage is an image as docker/cli's service tables show it: the
// digest pinned behind a tag dropped, the name made familiar.
func displayImage(image string) string {
	if name, _, ok := strings.Cut(image, "@"); ok {
		slash := strings.LastIndex(name, "/")
		if !strings.Contains(name[slash+1:], ":") {
			return image
		}
		image = name
	}
	return engine.FamiliarImage(image)
}

// servicePorts is Docker's PORTS column of `service ls`: the ingress
// ports as *:8080->80/tcp, runs of consecutive ports folded
// (*:8080-8081->80-81/tcp, or *:8080-8081->80 onto one target).
func servicePorts(ports []swarm.PortConfig) string {
	var ps []swarm.PortConfig
	for _, p := range ports {
		if p.PublishMode == swarm.PortConfigPublishModeIngress || p.PublishMode == "" {
			ps = append(ps, p)
		}
	}
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Protocol != ps[j].Protocol {
			return ps[i].Protocol < ps[j].Protocol
		}
		return ps[i].PublishedPort < ps[j].PublishedPort
	})
	type run struct {
		pub0, pub1, tgt0, tgt1 uint32
		proto                  string
	}
	var runs []run
	for _, p := range ps {
		proto := string(cmpOr(p.Protocol, "tcp"))
		if n := len(runs); n > 0 {
			r := &runs[n-1]
			isRange := r.tgt1 != r.tgt0
			if r.proto == proto && p.PublishedPort == r.pub1+1 &&
				((p.TargetPort == r.tgt1+1 && (isRange || r.pub1 == r.pub0)) || (p.TargetPort == r.tgt1 && !isRange)) {
				r.pub1, r.tgt1 = p.PublishedPort, p.TargetPort
				continue
			}
		}
		runs = append(runs, run{p.PublishedPort, p.PublishedPort, p.TargetPort, p.TargetPort, proto})
	}
	span := func(a, b uint32) string {
		if a == b {
			return strconv.FormatUint(uint64(a), 10)
		}
		return fmt.Sprintf("%d-%d", a, b)
	}
	var out []string
	for _, r := range runs {
		out = append(out, fmt.Sprintf("*:%s->%s/%s", span(r.pub0, r.pub1), span(r.tgt0, r.tgt1), r.proto))
	}
	return strings.Join(out, ", ")
}

// naturalLess orders names with numbers by their value: web.2 before web.10.
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		if isDigit(a[0]) && isDigit(b[0]) {
			na, ra := leadingDigits(a)
			nb, rb := leadingDigits(b)
			ta, tb := strings.TrimLeft(na, "0"), strings.TrimLeft(nb, "0")
			if len(ta) != len(tb) {
				return len(ta) < len(tb)
			}
			if ta != tb {
				return ta < tb
			}
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			a, b = ra, rb
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func leadingDigits(s string) (string, string) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

// taskRow is one line of `service ps`, with Docker's field names.
type taskRow struct {
	ID           string
	Name         string
	Image        string
	Node         string
	DesiredState string
	CurrentState string
	Error        string
	Ports        string
}

func servicePs(c *cli.Context) error {
	if err := exactArgs(c, 1, -1, "service ps [OPTIONS] SERVICE [SERVICE...]"); err != nil {
		return err
	}
	f, err := engine.ParseFilters(c.StringSlice("filter"))
	if err != nil {
		return err
	}
	if err := checkFormat(c.String("format")); err != nil {
		return err
	}
	return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
		names := map[string]string{} // service ID -> name
		var missing []error
		for _, ref := range c.Args().Slice() {
			s, err := e.ServiceInspect(ctx, ref)
			if err != nil {
				if !isNotFound(err) {
					return err
				}
				missing = append(missing, err)
				continue
			}
			if _, dup := names[s.ID]; !dup {
				f["service"] = append(f["service"], s.ID)
			}
			names[s.ID] = s.Spec.Name
		}
		if len(names) == 0 {
			return reportMissing(missing)
		}
		nodes := nodeNames(ctx, e)
		if vs := f["node"]; len(vs) > 0 {
			// A node filter may name the node: the engine filters by ID.
			for i, v := range vs {
				if n, err := e.NodeInspect(ctx, v); err == nil {
					vs[i] = n.ID
				}
			}
		}
		tasks, err := e.TaskList(ctx, f)
		if err != nil {
			return err
		}
		o := taskTableOptions{noTrunc: c.Bool("no-trunc") || c.Bool("quiet"), noResolve: c.Bool("no-resolve"), services: names, nodes: nodes}
		table := !c.Bool("quiet") && (c.String("format") == "" || strings.HasPrefix(c.String("format"), "table"))
		rows := taskRows(tasks, o, table)
		if c.Bool("quiet") {
			for _, r := range rows {
				fmt.Fprintln(c.App.Writer, r.ID)
			}
		} else {
			lf := listFormat{format: c.String("format"),
				defTable: "{{.ID}}\t{{.Name}}\t{{.Image}}\t{{.Node}}\t{{.DesiredState}}\t{{.CurrentState}}\t{{.Error}}\t{{.Ports}}",
				header:   headerFor(taskRow{}, map[string]string{"DesiredState": "DESIRED STATE", "CurrentState": "CURRENT STATE"})}
			var out []any
			for _, r := range rows {
				out = append(out, r)
			}
			if err := lf.write(c.App.Writer, out); err != nil {
				return err
			}
		}
		return reportMissing(missing)
	})
}

// reportMissing prints each lookup error and returns exit status 1, as
// eachArg does; nil when there are none.
func reportMissing(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	for _, err := range errs {
		fmt.Fprintf(os.Stderr, "Error: %s\n", oneLine(err))
	}
	return failed()
}

// nodeNames maps node IDs to host names (the one node here); empty when
// the nodes cannot be listed, and IDs are shown instead.
func nodeNames(ctx context.Context, e *engine.Engine) map[string]string {
	out := map[string]string{}
	nodes, err := e.NodeList(ctx, nil)
	if err != nil {
		return out
	}
	for _, n := range nodes {
		out[n.ID] = n.Description.Hostname
	}
	return out
}

type taskTableOptions struct {
	noTrunc, noResolve bool
	services           map[string]string // service ID -> name
	nodes              map[string]string // node ID -> host name
}

// taskName is Docker's name for a task: SERVICE.SLOT, or SERVICE.NODE for
// a global service's; with --no-resolve, IDs instead of names.
func (o taskTableOptions) taskName(t swarm.Task) string {
	svc := t.ServiceID
	if name := o.services[t.ServiceID]; name != "" && !o.noResolve {
		svc = name
	}
	if t.Slot != 0 {
		return svc + "." + strconv.Itoa(t.Slot)
	}
	return svc + "." + t.NodeID
}

func (o taskTableOptions) node(id string) string {
	if name := o.nodes[id]; name != "" && !o.noResolve {
		return name
	}
	return id
}

// taskRows are `service ps`'s rows: tasks by name, the newest of a slot
// first; in a table the older ones of the slot are drawn under it as
// ` \_ web.1`, as Docker does.
func taskRows(tasks []swarm.Task, o taskTableOptions, table bool) []taskRow {
	type named struct {
		t    swarm.Task
		name string
	}
	ts := make([]named, len(tasks))
	for i, t := range tasks {
		ts[i] = named{t, o.taskName(t)}
	}
	sort.SliceStable(ts, func(i, j int) bool {
		if ts[i].name != ts[j].name {
			return naturalLess(ts[i].name, ts[j].name)
		}
		return ts[j].t.CreatedAt.Before(ts[i].t.CreatedAt)
	})
	var rows []taskRow
	prev := ""
	for _, n := range ts {
		name := n.name
		if table && name == prev {
			name = ` \_ ` + name
		}
		prev = n.name
		rows = append(rows, taskRowFor(n.t, name, o))
	}
	return rows
}

func taskRowFor(t swarm.Task, name string, o taskTableOptions) taskRow {
	r := taskRow{ID: t.ID, Name: name, Node: o.node(t.NodeID),
		DesiredState: capitalize(string(t.DesiredState)),
		CurrentState: fmt.Sprintf("%s %s ago", capitalize(string(t.Status.State)), strings.ToLower(units.HumanDuration(time.Since(t.Status.Timestamp)))),
		Error:        t.Status.Err,
	}
	if cs := t.Spec.ContainerSpec; cs != nil {
		r.Image = cs.Image
	}
	if !o.noTrunc {
		r.ID = shortID(t.ID)
		r.Image = displayImage(r.Image)
		r.Error = ellipsis(r.Error, 30)
	}
	if r.Error != "" {
		r.Error = `"` + r.Error + `"`
	}
	var ports []string
	for _, p := range t.Status.PortStatus.Ports {
		ports = append(ports, fmt.Sprintf("*:%d->%d/%s", p.PublishedPort, p.TargetPort, p.Protocol))
	}
	r.Ports = strings.Join(ports, ",")
	return r
}

// capitalize is Docker's PrettyPrint of a state: running -> Running.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

func serviceInspect(c *cli.Context) error {
	format := c.String("format")
	if c.Bool("pretty") {
		if format != "" {
			return errdefs.Invalid("--format is incompatible with --pretty: give one or the other")
		}
		if err := exactArgs(c, 1, -1, "service inspect [OPTIONS] SERVICE [SERVICE...]"); err != nil {
			return err
		}
		return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
			var missing []error
			for _, ref := range c.Args().Slice() {
				s, err := e.ServiceInspect(ctx, ref)
				if err != nil {
					missing = append(missing, err)
					continue
				}
				nets := map[string]string{}
				for _, n := range s.Spec.TaskTemplate.Networks {
					if ni, err := e.NetworkInspect(ctx, n.Target); err == nil {
						nets[n.Target] = ni.Name
					}
				}
				prettyService(c.App.Writer, *s, nets)
			}
			return reportMissing(missing)
		})
	}
	return inspectEach(c, "service inspect [OPTIONS] SERVICE [SERVICE...]", func(ctx context.Context, e *engine.Engine, ref string) (any, error) {
		return e.ServiceInspect(ctx, ref)
	})
}

// prettyService prints `service inspect --pretty`'s text for a service,
// line for line as docker/cli's template does.
func prettyService(w io.Writer, s swarm.Service, networkNames map[string]string) {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	spec := s.Spec
	task := spec.TaskTemplate
	cs := task.ContainerSpec
	if cs == nil {
		cs = &swarm.ContainerSpec{}
	}
	p("\nID:\t\t%s\nName:\t\t%s", s.ID, spec.Name)
	if len(spec.Labels) > 0 {
		p("\nLabels:")
		for _, k := range sortedKeys(spec.Labels) {
			p("\n %s", k)
			if v := spec.Labels[k]; v != "" {
				p("=%s", v)
			}
		}
	}
	p("\nService Mode:")
	switch {
	case spec.Mode.Global != nil:
		p("\tGlobal")
	case spec.Mode.Replicated != nil:
		p("\tReplicated")
		if r := spec.Mode.Replicated.Replicas; r != nil {
			p("\n Replicas:\t%d", *r)
		}
	}
	if u := s.UpdateStatus; u != nil && u.State != "" {
		p("\nUpdateStatus:\n State:\t\t%s", u.State)
		if u.StartedAt != nil {
			p("\n Started:\t%s ago", units.HumanDuration(time.Since(*u.StartedAt)))
		}
		if u.State == swarm.UpdateStateCompleted && u.CompletedAt != nil {
			p("\n Completed:\t%s ago", units.HumanDuration(time.Since(*u.CompletedAt)))
		}
		p("\n Message:\t%s", u.Message)
	}
	p("\nPlacement:")
	if pl := task.Placement; pl != nil {
		if len(pl.Constraints) > 0 {
			p("\n Constraints:\t%v", pl.Constraints)
		}
		var prefs []string
		for _, pref := range pl.Preferences {
			if pref.Spread != nil {
				prefs = append(prefs, "spread="+pref.Spread.SpreadDescriptor)
			}
		}
		if len(prefs) > 0 {
			p("\n Preferences:   %v", prefs)
		}
		if pl.MaxReplicas > 0 {
			p("\n Max Replicas Per Node:   %d", pl.MaxReplicas)
		}
	}
	updateConfig := func(title string, u *swarm.UpdateConfig, order string) {
		if u == nil {
			return
		}
		p("\n%s:\n Parallelism:\t%d", title, u.Parallelism)
		if u.Delay > 0 {
			p("\n Delay:\t\t%s", u.Delay)
		}
		p("\n On failure:\t%s", u.FailureAction)
		if u.Monitor > 0 {
			p("\n Monitoring Period: %s", u.Monitor)
		}
		p("\n Max failure ratio: %v", u.MaxFailureRatio)
		p("\n %s order:%s%s", order, strings.Repeat(" ", 6-(len(order)-6)), u.Order)
	}
	updateConfig("UpdateConfig", spec.UpdateConfig, "Update")
	updateConfig("RollbackConfig", spec.RollbackConfig, "Rollback")
	p("\nContainerSpec:\n Image:\t\t%s", cs.Image)
	if len(cs.Args) > 0 {
		p("\n Args:\t\t%s ", strings.Join(cs.Args, " "))
	}
	if len(cs.Env) > 0 {
		p("\n Env:\t\t%s ", strings.Join(cs.Env, " "))
	}
	if cs.Dir != "" {
		p("\n Dir:\t\t%s", cs.Dir)
	}
	if cs.Init != nil {
		p("\n Init:\t\t%t", *cs.Init)
	}
	if cs.User != "" {
		p("\n User: %s", cs.User)
	}
	if len(cs.CapabilityAdd) > 0 || len(cs.CapabilityDrop) > 0 {
		p("\nCapabilities:")
		if len(cs.CapabilityAdd) > 0 {
			p("\n Add: %s", strings.Join(cs.CapabilityAdd, ", "))
		}
		if len(cs.CapabilityDrop) > 0 {
			p("\n Drop: %s", strings.Join(cs.CapabilityDrop, ", "))
		}
	}
	if len(cs.Sysctls) > 0 {
		p("\nSysCtls:")
		for _, k := range sortedKeys(cs.Sysctls) {
			p("\n %s", k)
			if v := cs.Sysctls[k]; v != "" {
				p(": %s", v)
			}
		}
	}
	if len(cs.Mounts) > 0 {
		p("\nMounts:")
		for _, m := range cs.Mounts {
			p("\n Target:\t%s\n  Source:\t%s\n  ReadOnly:\t%t\n  Type:\t\t%s", m.Target, m.Source, m.ReadOnly, m.Type)
		}
	}
	if ld := task.LogDriver; ld != nil {
		p("\nLog Driver:")
		if ld.Name != "" {
			p("\n Name:\t\t%s", ld.Name)
		}
		if len(ld.Options) > 0 {
			p("\n LogOpts:")
			for _, k := range sortedKeys(ld.Options) {
				p("\n  %s", k)
				if v := ld.Options[k]; v != "" {
					p(":       %s", v)
				}
			}
		}
		p("\n")
	}
	if r := task.Resources; r != nil {
		p("\nResources:")
		if rv := r.Reservations; rv != nil && (rv.NanoCPUs > 0 || rv.MemoryBytes > 0) {
			p("\n Reservations:")
			if rv.NanoCPUs > 0 {
				p("\n  CPU:\t\t%v", float64(rv.NanoCPUs)/1e9)
			}
			if rv.MemoryBytes > 0 {
				p("\n  Memory:\t%s", units.BytesSize(float64(rv.MemoryBytes)))
			}
		}
		if l := r.Limits; l != nil && (l.NanoCPUs > 0 || l.MemoryBytes > 0 || l.Pids > 0) {
			p("\n Limits:")
			if l.NanoCPUs > 0 {
				p("\n  CPU:\t\t%v", float64(l.NanoCPUs)/1e9)
			}
			if l.MemoryBytes > 0 {
				p("\n  Memory:\t%s", units.BytesSize(float64(l.MemoryBytes)))
			}
		}
		if l := r.Limits; l != nil && l.Pids > 0 {
			p("\n  PIDs:\t\t%d", l.Pids)
		}
	}
	if len(task.Networks) > 0 {
		p("\nNetworks:")
		for _, n := range task.Networks {
			p(" %s", firstNonEmpty(networkNames[n.Target], n.Target))
		}
		p(" ")
	}
	mode := ""
	if spec.EndpointSpec != nil {
		mode = string(spec.EndpointSpec.Mode)
	}
	p("\nEndpoint Mode:\t%s", mode)
	if len(s.Endpoint.Ports) > 0 {
		p("\nPorts:")
		for _, port := range s.Endpoint.Ports {
			p("\n PublishedPort = %d\n  Protocol = %s\n  TargetPort = %d\n  PublishMode = %s", port.PublishedPort, port.Protocol, port.TargetPort, port.PublishMode)
		}
		p(" ")
	}
	if h := cs.Healthcheck; h != nil {
		p("\n Healthcheck:\n  Interval = %s\n  Retries = %d\n  StartPeriod =\t%s\n  Timeout =\t%s", h.Interval, h.Retries, h.StartPeriod, h.Timeout)
		if len(h.Test) > 0 {
			p("\n  Tests:")
			for _, t := range h.Test {
				p("\n\t Test = %s", t)
			}
			p(" ")
		}
	}
	p("\n\n")
	io.WriteString(w, b.String())
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
