package e2e

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/skiff-project/skiff/tests/harness"
)

var (
	upStatus     = regexp.MustCompile(`^Up (Less than a second|\d+ seconds?)$`)
	createdAgo   = regexp.MustCompile(`^(Less than a second|\d+ seconds?) ago$`)
	psSizeColumn = regexp.MustCompile(`^\d+(\.\d+)?[kMG]?B \(virtual \d+(\.\d+)?[kMG]?B\)$`)
)

// psFixture is three containers sharing a label unique to the test: one
// running, one exited with 3, one created.
type psFixture struct {
	label                  string // key=value
	running, exited, fresh string // names
	ids                    map[string]string
}

func newPsFixture(t *testing.T) *psFixture {
	t.Helper()
	f := &psFixture{label: "lc.ps=" + harness.UniqueSuffix(), ids: map[string]string{}}
	f.running, f.exited, f.fresh = lcName("ps-up"), lcName("ps-exited"), lcName("ps-created")
	f.ids[f.exited] = runDetached(t, f.exited, []string{"--label", f.label}, "sh", "-c", "exit 3")
	skiff(t, "wait", f.exited).OK(t).StdoutIs(t, "3\n")
	f.ids[f.fresh] = createContainer(t, f.fresh, []string{"--label", f.label, "--label", "lc.only-created=yes"}, "true")
	f.ids[f.running] = runDetached(t, f.running, []string{"--label", f.label}, "sleep", "300")
	return f
}

// ps runs ps with the fixture's label filter and more args.
func (f *psFixture) ps(t *testing.T, args ...string) *harness.Result {
	t.Helper()
	return skiff(t, append([]string{"ps", "--filter", "label=" + f.label}, args...)...).OK(t)
}

func TestLifecyclePsTable(t *testing.T) {
	parallel(t)
	f := newPsFixture(t)
	bb := busybox(t)
	out := f.ps(t, "-a").Stdout
	tb := parseTable(t, out)
	if want := []string{"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"}; !slices.Equal(tb.header, want) {
		t.Fatalf("ps -a header %q, want %q\n%s", tb.header, want, out)
	}
	if len(tb.rows) != 3 {
		t.Fatalf("ps -a with the fixture's label: %d rows, want 3\n%s", len(tb.rows), out)
	}
	// Newest first (Docker).
	if got := []string{tb.rows[0]["NAMES"], tb.rows[1]["NAMES"], tb.rows[2]["NAMES"]}; !slices.Equal(got, []string{f.running, f.fresh, f.exited}) {
		t.Errorf("ps -a order %v, want newest first: %v", got, []string{f.running, f.fresh, f.exited})
	}
	up := tb.rowWith("NAMES", f.running)
	if up == nil {
		t.Fatalf("no row for %s\n%s", f.running, out)
	}
	if up["CONTAINER ID"] != f.ids[f.running][:12] {
		t.Errorf("CONTAINER ID %q, want the short ID %s", up["CONTAINER ID"], f.ids[f.running][:12])
	}
	if up["IMAGE"] != bb {
		t.Errorf("IMAGE %q, want the reference given to run: %s", up["IMAGE"], bb)
	}
	if up["COMMAND"] != `"sleep 300"` {
		t.Errorf("COMMAND %q, want \"sleep 300\" (quoted, as Docker)", up["COMMAND"])
	}
	if !createdAgo.MatchString(up["CREATED"]) {
		t.Errorf("CREATED %q, want like \"2 seconds ago\"", up["CREATED"])
	}
	if !upStatus.MatchString(up["STATUS"]) {
		t.Errorf("STATUS %q, want like \"Up 2 seconds\"", up["STATUS"])
	}
	if ex := tb.rowWith("NAMES", f.exited); ex == nil || !exitedStatus.MatchString(ex["STATUS"]) || !strings.HasPrefix(ex["STATUS"], "Exited (3) ") {
		t.Errorf("exited row %v, want STATUS like \"Exited (3) 2 seconds ago\"", ex)
	}
	if cr := tb.rowWith("NAMES", f.fresh); cr == nil || cr["STATUS"] != "Created" {
		t.Errorf("created row %v, want STATUS Created", cr)
	}
	// Without -a only the running one.
	tb = parseTable(t, f.ps(t).Stdout)
	if len(tb.rows) != 1 || tb.rows[0]["NAMES"] != f.running {
		t.Errorf("ps (no -a): rows %v, want only %s", tb.rows, f.running)
	}
	// A long command is truncated with … unless --no-trunc.
	n := lcName("ps-long")
	runDetached(t, n, []string{"--label", f.label + "-long"}, "sh", "-c", "echo a-rather-long-command-line; "+idleScript)
	row := parseTable(t, skiff(t, "ps", "--filter", "name="+n).OK(t).Stdout).rowWith("NAMES", n)
	if row == nil || !strings.HasSuffix(row["COMMAND"], `…"`) || len([]rune(row["COMMAND"])) != 22 {
		t.Errorf("COMMAND of a long command: %v, want 20 characters ending in … (quoted)", row)
	}
	out = skiff(t, "ps", "--no-trunc", "--filter", "name="+n).OK(t).Stdout
	if !strings.Contains(out, `"sh -c 'echo a-rather-long-command-line; `+idleScript) && !strings.Contains(out, `"sh -c echo a-rather-long-command-line; `+idleScript) {
		t.Errorf("ps --no-trunc does not show the whole command:\n%s", out)
	}
	if row := parseTable(t, out).rowWith("NAMES", n); row == nil || !containerIDRe.MatchString(row["CONTAINER ID"]) {
		t.Errorf("ps --no-trunc: CONTAINER ID of %v is not the full ID", row)
	}
}

func TestLifecyclePsQuietLastSize(t *testing.T) {
	parallel(t)
	f := newPsFixture(t)
	// -q: short IDs, one a line; --no-trunc: full IDs.
	if got := f.ps(t, "-a", "-q").Lines(); len(got) != 3 || !slices.Contains(got, f.ids[f.exited][:12]) {
		t.Errorf("ps -a -q: %v, want the three short IDs", got)
	}
	if got := f.ps(t, "-q").Lines(); !slices.Equal(got, []string{f.ids[f.running][:12]}) {
		t.Errorf("ps -q: %v, want [%s]", got, f.ids[f.running][:12])
	}
	if got := f.ps(t, "-a", "-q", "--no-trunc").Lines(); len(got) != 3 || !slices.Contains(got, f.ids[f.fresh]) {
		t.Errorf("ps -a -q --no-trunc: %v, want the three full IDs", got)
	}
	// -n N and -l: the last created, whatever their state (they imply -a),
	// counted after the filters (Docker).
	if got := f.ps(t, "-n", "2", "--format", "{{.Names}}").Lines(); !slices.Equal(got, []string{f.running, f.fresh}) {
		t.Errorf("ps -n 2: %v, want [%s %s]", got, f.running, f.fresh)
	}
	if got := f.ps(t, "-l", "-q").Lines(); !slices.Equal(got, []string{f.ids[f.running][:12]}) {
		t.Errorf("ps -l -q: %v, want the newest %s", got, f.ids[f.running][:12])
	}
	if got := f.ps(t, "--last", "1", "--format", "{{.Names}}").Lines(); !slices.Equal(got, []string{f.running}) {
		t.Errorf("ps --last 1: %v, want [%s]", got, f.running)
	}
	// -s adds SIZE: writable layer (virtual: with the image).
	out := f.ps(t, "-a", "-s").Stdout
	tb := parseTable(t, out)
	if len(tb.header) == 0 || tb.header[len(tb.header)-1] != "SIZE" {
		t.Fatalf("ps -s: header %q, want SIZE last\n%s", tb.header, out)
	}
	for _, r := range tb.rows {
		if !psSizeColumn.MatchString(r["SIZE"]) {
			t.Errorf("ps -s: SIZE %q of %s, want like \"0B (virtual 1.2MB)\"", r["SIZE"], r["NAMES"])
		}
	}
}

func TestLifecyclePsFilters(t *testing.T) {
	parallel(t)
	f := newPsFixture(t)
	bb := busybox(t)
	names := func(args ...string) []string {
		t.Helper()
		got := f.ps(t, append([]string{"-a", "--format", "{{.Names}}"}, args...)...).Lines()
		slices.Sort(got)
		return got
	}
	sorted := func(s ...string) []string { slices.Sort(s); return s }
	for _, tc := range []struct {
		filter []string
		want   []string
	}{
		{[]string{"status=running"}, sorted(f.running)},
		{[]string{"status=exited"}, sorted(f.exited)},
		{[]string{"status=created"}, sorted(f.fresh)},
		{[]string{"status=exited", "status=created"}, sorted(f.exited, f.fresh)},
		{[]string{"exited=3"}, sorted(f.exited)},
		{[]string{"exited=0"}, nil},
		{[]string{"name=" + f.running}, sorted(f.running)},
		{[]string{"name=ps-exited"}, sorted(f.exited)}, // substring match, as Docker
		{[]string{"id=" + f.ids[f.fresh][:12]}, sorted(f.fresh)},
		{[]string{"id=" + f.ids[f.fresh]}, sorted(f.fresh)},
		{[]string{"label=lc.only-created"}, sorted(f.fresh)},
		{[]string{"label=lc.only-created=yes"}, sorted(f.fresh)},
		{[]string{"label=lc.only-created=no"}, nil},
		{[]string{"ancestor=" + bb}, sorted(f.running, f.exited, f.fresh)},
		{[]string{"ancestor=" + ref("config")}, nil},
		{[]string{"status=running", "name=" + f.exited}, nil}, // different keys: AND
	} {
		var args []string
		for _, fl := range tc.filter {
			args = append(args, "--filter", fl)
		}
		if got := names(args...); !slices.Equal(got, tc.want) {
			t.Errorf("ps -a --filter %v: %v, want %v", tc.filter, got, tc.want)
		}
	}
	// The short form -f.
	if got := skiff(t, "ps", "-a", "-f", "label="+f.label, "-f", "status=exited", "--format", "{{.Names}}").OK(t).Lines(); !slices.Equal(got, []string{f.exited}) {
		t.Errorf("ps -a -f label=… -f status=exited: %v, want [%s]", got, f.exited)
	}
	// Image ID as ancestor.
	id := strings.TrimSpace(skiff(t, "inspect", "--format", "{{.Image}}", f.running).OK(t).Stdout)
	if got := names("--filter", "ancestor="+id); len(got) != 3 {
		t.Errorf("ps -a --filter ancestor=%s (the image ID): %v, want the three containers", id, got)
	}
}

func TestLifecyclePsFormat(t *testing.T) {
	parallel(t)
	f := newPsFixture(t)
	bb := busybox(t)
	id := f.ids[f.running]
	out := f.ps(t, "--format", "{{.ID}}|{{.Names}}|{{.Image}}|{{.Command}}|{{.State}}").Stdout
	want := id[:12] + "|" + f.running + "|" + bb + `|"sleep 300"|running` + "\n"
	if out != want {
		t.Errorf("ps --format: %q, want %q", out, want)
	}
	// .Label "key" (a method in Docker's template context) and .Labels.
	r := skiff(t, "ps", "--filter", "label="+f.label, "--format", "{{.Label \"lc.ps\"}}")
	if r.ExitCode != 0 || r.Stdout != strings.TrimPrefix(f.label, "lc.ps=")+"\n" {
		t.Errorf("%s: want the label's value\n%s", r.Cmdline(), r.Output())
	}
	if out := f.ps(t, "--format", "{{.Labels}}").Stdout; !strings.Contains(out, f.label) {
		t.Errorf("ps --format {{.Labels}}: %q, want it to hold %s", out, f.label)
	}
	// --no-trunc applies to .ID in templates.
	if out := f.ps(t, "--no-trunc", "--format", "{{.ID}}").Stdout; out != id+"\n" {
		t.Errorf("ps --no-trunc --format {{.ID}}: %q, want the full ID", out)
	}
	// .Status and .RunningFor.
	line := f.ps(t, "-a", "--filter", "status=exited", "--format", "{{.Status}}|{{.RunningFor}}").Stdout
	st, rf, _ := strings.Cut(strings.TrimSpace(line), "|")
	if !exitedStatus.MatchString(st) || !createdAgo.MatchString(rf) {
		t.Errorf("--format {{.Status}}|{{.RunningFor}}: %q, want Exited (3) … ago|N seconds ago", line)
	}
	// table adds the header.
	out = f.ps(t, "--format", "table {{.Names}}\t{{.State}}").Stdout
	tb := parseTable(t, out)
	if !slices.Equal(tb.header, []string{"NAMES", "STATE"}) || len(tb.rows) != 1 || tb.rows[0]["NAMES"] != f.running || tb.rows[0]["STATE"] != "running" {
		t.Errorf("--format 'table {{.Names}}\\t{{.State}}':\n%s", out)
	}
	// json: one object a line with Docker's field names.
	lines := f.ps(t, "-a", "--format", "json").Lines()
	if len(lines) != 3 {
		t.Fatalf("--format json: %d lines, want 3", len(lines))
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("--format json: line %q is not a JSON object: %v", l, err)
		}
		for _, k := range []string{"ID", "Image", "Command", "CreatedAt", "RunningFor", "Ports", "State", "Status", "Size", "Names", "Labels", "Mounts", "Networks"} {
			if _, ok := m[k]; !ok {
				t.Errorf("--format json: no %q in %s", k, l)
			}
		}
		if m["Names"] == f.exited && m["State"] != "exited" {
			t.Errorf("--format json: State %v for the exited container", m["State"])
		}
	}
	// {{json .}} is the same object.
	var m map[string]any
	must(t, json.Unmarshal([]byte(f.ps(t, "--format", "{{json .}}").Stdout), &m))
	if m["Names"] != f.running || m["ID"] != id[:12] {
		t.Errorf("--format '{{json .}}': %v", m)
	}
	// container ls and container list are ps.
	for _, alias := range [][]string{{"container", "ls"}, {"container", "list"}} {
		args := append(append([]string{}, alias...), "-a", "--filter", "label="+f.label, "--format", "{{.Names}}")
		got := skiff(t, args...).OK(t).Lines()
		slices.Sort(got)
		if want := []string{f.exited, f.running, f.fresh}; !slices.Equal(got, sortedCopy(want)) {
			t.Errorf("%s: %v, want %v", strings.Join(alias, " "), got, sortedCopy(want))
		}
	}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

func TestLifecyclePsBadInput(t *testing.T) {
	parallel(t)
	// A row to format: a template that names no field fails on a row, so
	// with an empty store (this test alone) ps would have nothing to fail on.
	createContainer(t, lcName("ps-bad"), nil, "true")
	for _, tc := range []struct {
		args []string
		word string
	}{
		{[]string{"--filter", "nosuchkey=1"}, "nosuchkey"},
		{[]string{"--filter", "status=sleepy"}, "sleepy"},
		{[]string{"--filter", "novalue"}, "novalue"},
		{[]string{"--filter", "exited=notanumber"}, "notanumber"},
		{[]string{"--format", "{{.NoSuchField}}"}, "NoSuchField"},
		{[]string{"--format", "{{.Names"}, "template|format"},
	} {
		r := skiff(t, append([]string{"ps", "-a"}, tc.args...)...)
		r.ErrorLine(t, errExit, tc.word)
		if r.Stdout != "" {
			t.Errorf("%s printed a table despite the error:\n%s", r.Cmdline(), r.Stdout)
		}
	}
	// A flag value that does not parse is a usage error (Docker: 125).
	skiff(t, "ps", "-a", "-n", "many").ErrorLine(t, usageExit, "many")
	// A fresh ps still works (nothing got stuck).
	skiff(t, "ps", "-a").OK(t)
}
