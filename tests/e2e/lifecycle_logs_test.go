package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// dockerTimestamp is the -t prefix: Docker's RFC3339NanoFixed in UTC.
// (time.RFC3339Nano drops trailing zeros: about one line in ten shows it.)
var dockerTimestamp = regexp.MustCompile(`^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (.*)$`)

// anyTimestamp parses a -t prefix however many fraction digits it has.
var anyTimestamp = regexp.MustCompile(`^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) (.*)$`)

func TestLifecycleLogsStreams(t *testing.T) {
	parallel(t)
	name := lcName("logs")
	runDetached(t, name, nil, "sh", "-c", "echo out1; sleep 0.3; echo err1 >&2; sleep 0.3; echo out2")
	skiff(t, "wait", name).OK(t).StdoutIs(t, "0\n")
	check := func(args []string, stdout, stderr string) {
		t.Helper()
		r := skiff(t, append(append([]string{"logs"}, args...), name)...).OK(t)
		if r.Stdout != stdout || r.Stderr != stderr {
			t.Errorf("%s: stdout %q stderr %q, want %q and %q", r.Cmdline(), r.Stdout, r.Stderr, stdout, stderr)
		}
	}
	check(nil, "out1\nout2\n", "err1\n")
	check([]string{"--tail", "1"}, "out2\n", "")
	check([]string{"--tail", "2"}, "out2\n", "err1\n")
	check([]string{"--tail", "0"}, "", "")
	check([]string{"--tail", "all"}, "out1\nout2\n", "err1\n")
	check([]string{"-n", "1"}, "out2\n", "")
	// -t prefixes Docker's fixed-width RFC 3339 time.
	r := skiff(t, "logs", "-t", name).OK(t)
	for _, l := range append(r.Lines(), strings.Split(strings.TrimSpace(r.Stderr), "\n")...) {
		if !dockerTimestamp.MatchString(l) {
			t.Errorf("logs -t line %q, want \"2006-01-02T15:04:05.000000000Z text\"", l)
		}
	}
	// Forty more lines: a timestamp whose nanoseconds end in 0 must keep
	// its nine digits (Docker pads; RFC3339Nano would trim).
	nt := lcName("logs-ts")
	runDetached(t, nt, nil, "seq", "1", "40")
	skiff(t, "wait", nt).OK(t)
	for _, l := range skiff(t, "logs", "-t", nt).OK(t).Lines() {
		if !dockerTimestamp.MatchString(l) {
			t.Errorf("logs -t line %q, want \"2006-01-02T15:04:05.000000000Z text\" (nine fraction digits)", l)
		}
	}
	// On disk: Docker's json-file format, one object a line.
	c := inspectC(t, name)
	if c.HostConfig.LogConfig.Type != "json-file" {
		t.Errorf("HostConfig.LogConfig.Type %q, want json-file", c.HostConfig.LogConfig.Type)
	}
	data, err := os.ReadFile(c.LogPath)
	if err != nil {
		t.Fatalf("LogPath %q: %v", c.LogPath, err)
	}
	var entries []string
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var e struct{ Log, Stream, Time string }
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("log file line %q is not JSON: %v", l, err)
		}
		if _, err := time.Parse(time.RFC3339Nano, e.Time); err != nil {
			t.Errorf("log file line %q: time %q: %v", l, e.Time, err)
		}
		entries = append(entries, e.Stream+":"+e.Log)
	}
	if want := []string{"stdout:out1\n", "stderr:err1\n", "stdout:out2\n"}; strings.Join(entries, "|") != strings.Join(want, "|") {
		t.Errorf("log file entries %q, want %q", entries, want)
	}
	// A created, never started container has empty logs.
	n2 := lcName("logs-created")
	createContainer(t, n2, nil, "echo", "never")
	skiff(t, "logs", n2).OK(t).StdoutIs(t, "")
}

func TestLifecycleLogsSinceUntil(t *testing.T) {
	parallel(t)
	name := lcName("logs-since")
	runDetached(t, name, nil, "sh", "-c", "echo early; sleep 1.5; echo late")
	skiff(t, "wait", name).OK(t)
	lines := skiff(t, "logs", "-t", name).OK(t).Lines()
	if len(lines) != 2 {
		t.Fatalf("logs -t: %q, want two lines", lines)
	}
	var ts [2]time.Time
	for i, l := range lines {
		m := anyTimestamp.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("logs -t line %q has no timestamp", l)
		}
		ts[i] = parseDockerTime(t, "logs -t", m[1])
	}
	if d := ts[1].Sub(ts[0]); d < time.Second || d > 5*time.Second {
		t.Errorf("the two lines are %s apart, want about 1.5s", d)
	}
	mid := ts[0].Add(ts[1].Sub(ts[0]) / 2)
	unix := fmt.Sprintf("%d.%09d", mid.Unix(), mid.Nanosecond())
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--since", mid.Format(time.RFC3339Nano)}, "late\n"},
		{[]string{"--until", mid.Format(time.RFC3339Nano)}, "early\n"},
		{[]string{"--since", unix}, "late\n"},
		{[]string{"--until", unix}, "early\n"},
		{[]string{"--since", "10m"}, "early\nlate\n"},
		{[]string{"--until", "10m"}, ""}, // until ten minutes ago
		{[]string{"--since", ts[1].Add(time.Second).Format(time.RFC3339)}, ""},
		{[]string{"--since", mid.Format(time.RFC3339Nano), "--until", ts[1].Add(time.Second).Format(time.RFC3339Nano)}, "late\n"},
	} {
		r := skiff(t, append(append([]string{"logs"}, tc.args...), name)...).OK(t)
		if r.Stdout != tc.want {
			t.Errorf("%s: %q, want %q", r.Cmdline(), r.Stdout, tc.want)
		}
	}
	skiff(t, "logs", "--since", "not-a-time", name).ErrorLine(t, errExit, "not-a-time")
	skiff(t, "logs", "--tail", "lots", name).ErrorLine(t, errExit, "lots")
}

func TestLifecycleLogsFollow(t *testing.T) {
	parallel(t)
	name := lcName("logs-f")
	runDetached(t, name, nil, "sh", "-c", "for i in 1 2 3 4 5 6; do echo tick$i; sleep 0.4; done")
	bg := startBackground(t, harness.E2E, "logs", "-f", name)
	bg.waitFor(t, "tick2\n")
	if strings.Contains(bg.stdout.String(), "tick6") {
		t.Fatalf("logs -f showed tick6 when tick2 arrived: the test is too slow to tell following from reading")
	}
	// logs -f ends by itself when the container exits.
	if code := bg.wait(t, 20*time.Second); code != 0 {
		t.Errorf("logs -f exited %d\n%s", code, bg.output())
	}
	if got := bg.stdout.String(); got != "tick1\ntick2\ntick3\ntick4\ntick5\ntick6\n" {
		t.Errorf("logs -f: %q, want every tick once, in order", got)
	}
	// -f --tail 1 on a running container: the last line, then new ones;
	// stop ends it.
	n2 := lcName("logs-f-tail")
	runDetached(t, n2, nil, "sh", "-c", "echo old1; echo old2; trap 'echo bye; exit 0' TERM; sleep 300 & wait")
	waitLogs(t, n2, "old2", 10*time.Second)
	bg = startBackground(t, harness.E2E, "logs", "-f", "--tail", "1", n2)
	bg.waitFor(t, "old2\n")
	time.Sleep(300 * time.Millisecond)
	skiff(t, "stop", n2).OK(t)
	if code := bg.wait(t, 20*time.Second); code != 0 {
		t.Errorf("logs -f --tail 1 exited %d after stop\n%s", code, bg.output())
	}
	if got := bg.stdout.String(); got != "old2\nbye\n" {
		t.Errorf("logs -f --tail 1: %q, want old2 then bye", got)
	}
	// --follow on an exited container prints and returns.
	r := skiffWith(t, harness.RunOptions{Timeout: 20 * time.Second}, "logs", "--follow", name).OK(t)
	if !strings.HasSuffix(r.Stdout, "tick6\n") {
		t.Errorf("logs --follow of an exited container: %q", r.Stdout)
	}
}

func TestLifecycleLogsRotation(t *testing.T) {
	parallel(t)
	name := lcName("logs-rot")
	// 400 lines of 40 bytes: about 35 KB of json-file, far above 2 × 1 KiB.
	runDetached(t, name, []string{"--log-opt", "max-size=1k", "--log-opt", "max-file=2"},
		"sh", "-c", `i=0; while [ $i -lt 400 ]; do printf 'line-%03d-padding-padding-padding-pad\n' $i; i=$((i+1)); done`)
	skiff(t, "wait", name).OK(t).StdoutIs(t, "0\n")
	c := inspectC(t, name)
	if c.HostConfig.LogConfig.Config["max-size"] != "1k" || c.HostConfig.LogConfig.Config["max-file"] != "2" {
		t.Errorf("HostConfig.LogConfig.Config %v, want max-size 1k and max-file 2", c.HostConfig.LogConfig.Config)
	}
	files, _ := filepath.Glob(c.LogPath + "*")
	if len(files) == 0 || len(files) > 2 {
		t.Errorf("log files %v, want at most max-file=2", files)
	}
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil && fi.Size() > 1024+200 {
			t.Errorf("log file %s is %d bytes, above max-size=1k (plus one entry)", f, fi.Size())
		}
	}
	// logs reads the rotated files too: a contiguous tail ending with line 399.
	r := skiff(t, "logs", name).OK(t)
	lines := r.Lines()
	if len(lines) == 0 || lines[len(lines)-1] != "line-399-padding-padding-padding-pad" {
		t.Fatalf("logs after rotation: does not end with line-399:\n%s", r.Output())
	}
	if strings.Contains(r.Stdout, "line-000-") {
		t.Errorf("logs after rotation still shows line-000: max-file=2 × max-size=1k cannot hold 400 lines")
	}
	first := 0
	fmt.Sscanf(lines[0], "line-%d-", &first)
	for i, l := range lines {
		if want := fmt.Sprintf("line-%03d-padding-padding-padding-pad", first+i); l != want {
			t.Fatalf("logs after rotation: line %d is %q, want %q (a contiguous tail)", i, l, want)
		}
	}
	if len(lines) < 10 {
		t.Errorf("logs after rotation shows %d lines: the rotated file was not read", len(lines))
	}
	// Bad log options are refused.
	for _, opt := range []string{"max-size=lots", "max-file=0x", "nosuchopt=1"} {
		n := lcName("logs-badopt")
		rmOnCleanup(t, harness.E2E, n)
		skiff(t, "run", "-d", "--name", n, "--log-opt", opt, busybox(t), "true").ErrorLine(t, runExit, strings.Split(opt, "=")[0])
	}
}
