package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// TestLifecycleRunDetachedSurvivesCLI: run -d prints the ID and returns once
// the container is started; the container (and its supervisor) outlive the
// CLI, and the supervisor is detached in its own session.
func TestLifecycleRunDetachedSurvivesCLI(t *testing.T) {
	parallel(t)
	name := lcName("detached")
	marker := markerSleep()
	rmOnCleanup(t, harness.E2E, name)
	r := skiff(t, "run", "-d", "--name", name, busybox(t), "sleep", marker).OK(t)
	id := strings.TrimSpace(r.Stdout)
	if !containerIDRe.MatchString(id) || r.Stdout != id+"\n" {
		t.Fatalf("run -d: stdout %q, want the 64-hex ID and a newline", r.Stdout)
	}
	if r.Stderr != "" {
		t.Errorf("run -d of a pulled image should print nothing on stderr\n%s", r.Output())
	}
	// The harness waits up to 5s for pipes a detached child keeps open: the
	// supervisor must not hold the CLI's stdout/stderr.
	if r.Duration > 4*time.Second {
		t.Errorf("run -d took %s: the supervisor probably keeps the CLI's stdout/stderr open", r.Duration)
	}
	// "started" means the container's process runs when run -d returns.
	c := inspectC(t, name)
	if c.State.Status != "running" || !c.State.Running || c.State.Pid <= 0 {
		t.Errorf("right after run -d: State %+v, want running with a pid", c.State)
	}
	if c.Id != id {
		t.Errorf("inspect Id %q, run -d printed %q", c.Id, id)
	}
	time.Sleep(time.Second)
	if pids := sleepPIDs(marker); len(pids) != 1 {
		t.Fatalf("1s after run -d exited: %d processes `sleep %s`, want 1\n%s", len(pids), marker, userProcesses(harness.E2E))
	}
	if s := stateOf(t, harness.E2E, name); s != "running" {
		t.Errorf("1s after run -d exited: status %q, want running", s)
	}
	sup := supervisorPIDs(id)
	if len(sup) != 1 {
		t.Fatalf("want one supervisor process (args containing %q and the ID), found %v; the user's processes:\n%s", supervisorArg, sup, userProcesses(harness.E2E))
	}
	if sid, err := sessionID(sup[0]); err != nil || sid != sup[0] {
		t.Errorf("supervisor %d: session %d (%v), want its own session (setsid)", sup[0], sid, err)
	}
}

func TestLifecycleRunDetachedStartErrors(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	// Start errors come back from the supervisor with run's exit codes.
	n1 := lcName("notfound")
	rmOnCleanup(t, harness.E2E, n1)
	skiff(t, "run", "-d", "--name", n1, bb, "nosuchcmd").ErrorLine(t, 127, "nosuchcmd")
	n2 := lcName("noexec")
	rmOnCleanup(t, harness.E2E, n2)
	skiff(t, "run", "-d", "--name", n2, bb, "/etc/passwd").ErrorLine(t, 126, "/etc/passwd")
	skiff(t, "run", "-d", "--pull", "never", ref("nosuchimage")).ErrorLine(t, runExit, "nosuchimage")
	// The failed container stays (no --rm), not running, with the error
	// and Docker's exit code recorded.
	c := inspectC(t, n1)
	if c.State.Running || (c.State.Status != "created" && c.State.Status != "exited") {
		t.Errorf("after a failed start: status %q running %v, want created or exited", c.State.Status, c.State.Running)
	}
	if c.State.ExitCode != 127 || !strings.Contains(c.State.Error, "nosuchcmd") {
		t.Errorf("after a failed start: ExitCode %d Error %q, want 127 and an error naming nosuchcmd", c.State.ExitCode, c.State.Error)
	}
	// With --rm the failed container is removed.
	n3 := lcName("notfound-rm")
	rmOnCleanup(t, harness.E2E, n3)
	skiff(t, "run", "-d", "--rm", "--name", n3, bb, "nosuchcmd").ErrorLine(t, 127, "nosuchcmd")
	waitGoneC(t, harness.E2E, n3, 10*time.Second)
}

func TestLifecycleRunDetachedRm(t *testing.T) {
	parallel(t)
	name := lcName("detached-rm")
	runDetached(t, name, []string{"--rm"}, "sh", "-c", "sleep 0.5; exit 3")
	// The supervisor removes the container once it exits.
	waitGoneC(t, harness.E2E, name, 15*time.Second)
	if got := psNames(t, "-a", "--filter", "name="+name, "--format", "{{.Names}}"); len(got) != 0 {
		t.Errorf("ps -a still lists the --rm container: %v", got)
	}
	// stop of a --rm container removes it too.
	n2 := lcName("detached-rm-stop")
	runDetached(t, n2, []string{"--rm"}, idleCmd...)
	skiff(t, "stop", n2).OK(t).StdoutIs(t, n2+"\n")
	waitGoneC(t, harness.E2E, n2, 15*time.Second)
}

// TestLifecycleRunRmAttached: a foreground run --rm is gone, with its
// anonymous volumes, when the CLI returns the container's status (the
// CLI removes it itself; the supervisor hands it over).
func TestLifecycleRunRmAttached(t *testing.T) {
	parallel(t)
	name := lcName("rm-attached")
	skiff(t, "run", "--rm", "--name", name, "-v", "/data", busybox(t), "sh", "-c", "echo hi; mount | grep -q ' /data ' && exit 3").
		Exit(t, 3).StdoutIs(t, "hi\n")
	r := skiff(t, "inspect", name)
	if r.ExitCode != 1 || !strings.Contains(r.Stderr, "No such object: "+name) { // Docker's words
		t.Errorf("the --rm container is still there when run returned\n%s", r.Output())
	}
	if vols := skiff(t, "volume", "ls", "-q", "--filter", "dangling=true").OK(t).Stdout; strings.Contains(vols, name) {
		t.Errorf("volume left: %s", vols)
	}
}

// TestLifecycleRunInstantExitStatus: a command that exits at once still
// gives run its own status, every time: the supervisor, not its reaper of
// orphans, collects the container (it can be the supervisor's zombie child
// as soon as skiff __start exits).
func TestLifecycleRunInstantExitStatus(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	for i := 0; i < 15; i++ {
		skiff(t, "run", "--rm", "--network", "none", bb, "sh", "-c", "exit 3").Exit(t, 3)
	}
}

// TestLifecycleRunRmClientKilled: when the CLI of a run --rm cannot remove
// the container after it exits (stopped, then killed), its supervisor does.
func TestLifecycleRunRmClientKilled(t *testing.T) {
	parallel(t)
	name := lcName("rm-killed")
	b := startBackground(t, harness.E2E, "run", "--rm", "--name", name, busybox(t), "sh", "-c", "echo up; sleep 1")
	b.waitFor(t, "up")
	b.signal(t, syscall.SIGSTOP)
	waitStatus(t, harness.E2E, name, "exited", 30*time.Second) // handed over to a CLI that cannot act
	b.signal(t, syscall.SIGKILL)
	waitGoneC(t, harness.E2E, name, 30*time.Second)
}

func TestLifecycleCreateStart(t *testing.T) {
	parallel(t)
	name := lcName("create")
	id := createContainer(t, name, []string{"--label", "lc.test=create"}, "sh", "-c", "echo out-$((20+22)); echo err-line >&2; exit 4")
	c := inspectC(t, name)
	if c.State.Status != "created" || c.State.Running || c.State.Pid != 0 {
		t.Errorf("after create: State %+v, want created, not running, pid 0", c.State)
	}
	if !strings.HasPrefix(c.State.StartedAt, "0001-01-01") {
		t.Errorf("after create: StartedAt %q, want the zero time", c.State.StartedAt)
	}
	tb := parseTable(t, skiff(t, "ps", "-a", "--filter", "name="+name).OK(t).Stdout)
	if row := tb.rowWith("NAMES", name); row == nil || row["STATUS"] != "Created" {
		t.Errorf("ps -a: row %v, want STATUS Created", row)
	}
	// Not in ps without -a.
	if got := psNames(t, "--filter", "name="+name, "--format", "{{.Names}}"); len(got) != 0 {
		t.Errorf("ps (no -a) lists a created container: %v", got)
	}
	// start echoes its argument; the container runs detached.
	skiff(t, "start", name).OK(t).StdoutIs(t, name+"\n")
	skiff(t, "wait", name).OK(t).StdoutIs(t, "4\n")
	r := skiff(t, "logs", name).OK(t)
	if r.Stdout != "out-42\n" || r.Stderr != "err-line\n" {
		t.Errorf("logs after start: stdout %q stderr %q, want out-42 / err-line", r.Stdout, r.Stderr)
	}
	// start by full ID works too, and runs the same container again.
	skiff(t, "start", id).OK(t).StdoutIs(t, id+"\n")
	skiff(t, "wait", id).OK(t).StdoutIs(t, "4\n")
	if out := skiff(t, "logs", name).OK(t).Stdout; out != "out-42\nout-42\n" {
		t.Errorf("logs after a second start: %q, want the output of both runs", out)
	}
}

func TestLifecycleStartAttach(t *testing.T) {
	parallel(t)
	n1 := lcName("start-a")
	createContainer(t, n1, nil, "sh", "-c", "echo attached-out; echo attached-err >&2; exit 6")
	// start -a streams the output and exits with the container's status.
	r := skiff(t, "start", "-a", n1)
	r.Exit(t, 6)
	if r.Stdout != "attached-out\n" || r.Stderr != "attached-err\n" {
		t.Errorf("start -a: stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	// start -a -i: stdin reaches the container.
	n2 := lcName("start-ai")
	createContainer(t, n2, []string{"-i"}, "sh", "-c", "tr a-z A-Z")
	r = skiffWith(t, harness.RunOptions{Stdin: strings.NewReader("hello stdin\n")}, "start", "-a", "-i", n2)
	r.OK(t).StdoutIs(t, "HELLO STDIN\n")
	if s := stateOf(t, harness.E2E, n2); s != "exited" {
		t.Errorf("after start -a -i: status %q, want exited", s)
	}
}

func TestLifecycleStartRunningIsNoop(t *testing.T) {
	parallel(t)
	name := lcName("start-running")
	runDetached(t, name, nil, idleCmd...)
	before := inspectC(t, name)
	// Docker: starting a running container succeeds and changes nothing.
	skiff(t, "start", name).OK(t).StdoutIs(t, name+"\n")
	after := inspectC(t, name)
	if after.State.Pid != before.State.Pid || after.State.StartedAt != before.State.StartedAt {
		t.Errorf("start of a running container restarted it: pid %d→%d, StartedAt %s→%s", before.State.Pid, after.State.Pid, before.State.StartedAt, after.State.StartedAt)
	}
}

func TestLifecycleStartError(t *testing.T) {
	parallel(t)
	name := lcName("start-err")
	createContainer(t, name, nil, "nosuchcmd")
	r := skiff(t, "start", name)
	if r.ExitCode == 0 {
		t.Fatalf("start of a container whose command does not exist succeeded\n%s", r.Output())
	}
	r.ErrorLine(t, r.ExitCode, "nosuchcmd")
	if s := stateOf(t, harness.E2E, name); s == "running" {
		t.Errorf("status %q after a failed start", s)
	}
}

func TestLifecycleCidfileAndLabels(t *testing.T) {
	parallel(t)
	dir := harness.UserDir(t, harness.E2E)
	cid := filepath.Join(dir, "cid")
	name := lcName("cidfile")
	id := runDetached(t, name, []string{"--cidfile", cid, "--label", "lc.a=1", "--label", "lc.b=two words", "--label", "lc.flag"}, idleCmd...)
	data, err := os.ReadFile(cid)
	must(t, err)
	if string(data) != id {
		t.Errorf("--cidfile holds %q, want the ID %s (no newline, as Docker)", data, id)
	}
	c := inspectC(t, name)
	want := map[string]string{"lc.a": "1", "lc.b": "two words", "lc.flag": ""}
	for k, v := range want {
		if got, ok := c.Config.Labels[k]; !ok || got != v {
			t.Errorf("Config.Labels[%q] = %q (present %v), want %q", k, got, ok, v)
		}
	}
	// An existing cidfile is refused before anything is created (Docker).
	n2 := lcName("cidfile-exists")
	rmOnCleanup(t, harness.E2E, n2)
	skiff(t, "run", "-d", "--name", n2, "--cidfile", cid, busybox(t), "true").ErrorLine(t, runExit, cid)
	skiff(t, "inspect", n2).ErrorLine(t, errExit, n2)
	// Image labels are merged with --label.
	cfg := pulled(t, harness.E2E, "config")
	n3 := lcName("labels-merge")
	rmOnCleanup(t, harness.E2E, n3)
	skiff(t, "create", "--name", n3, "--label", "maintainer=override", "--label", "lc.own=x", cfg).OK(t)
	c = inspectC(t, n3)
	if c.Config.Labels["org.skiff.test"] != "config" || c.Config.Labels["maintainer"] != "override" || c.Config.Labels["lc.own"] != "x" {
		t.Errorf("labels of a container of the config image: %v, want the image's org.skiff.test, maintainer overridden, lc.own", c.Config.Labels)
	}
}

func TestLifecycleAddressing(t *testing.T) {
	parallel(t)
	name := lcName("addr")
	id := runDetached(t, name, nil, "sh", "-c", "echo addressed; "+idleScript)
	waitLogs(t, name, "addressed", 10*time.Second)
	// Full ID, unique prefix and name address the same container everywhere.
	for _, ref := range []string{id, id[:12], id[:20], name} {
		if got := strings.TrimSpace(skiff(t, "inspect", "--format", "{{.Id}}", ref).OK(t).Stdout); got != id {
			t.Errorf("inspect %s: Id %q, want %s", ref, got, id)
		}
		if out := skiff(t, "logs", ref).OK(t).Stdout; out != "addressed\n" {
			t.Errorf("logs %s: %q", ref, out)
		}
		skiff(t, "exec", ref, "true").OK(t)
		if out := skiff(t, "top", ref).OK(t).Stdout; !strings.Contains(out, "sleep 300") {
			t.Errorf("top %s: no sleep 300 in\n%s", ref, out)
		}
		// WINCH is ignored by default: the container keeps running.
		skiff(t, "kill", "-s", "WINCH", ref).OK(t).StdoutIs(t, ref+"\n")
		if ref != name {
			if got := psNames(t, "-a", "--filter", "id="+ref, "--format", "{{.Names}}"); len(got) != 1 || got[0] != name {
				t.Errorf("ps --filter id=%s: %v, want [%s]", ref, got, name)
			}
		}
	}
	if s := stateOf(t, harness.E2E, name); s != "running" {
		t.Fatalf("after kill -s WINCH: status %q, want running", s)
	}
	// The short ID is what ps shows; ps -q too.
	if got := psNames(t, "-q", "--filter", "name="+name); len(got) != 1 || got[0] != id[:12] {
		t.Errorf("ps -q: %v, want [%s]", got, id[:12])
	}
	// stop and rm by prefix echo the argument as given.
	skiff(t, "stop", id[:12]).OK(t).StdoutIs(t, id[:12]+"\n")
	skiff(t, "rm", id[:16]).OK(t).StdoutIs(t, id[:16]+"\n")
	skiff(t, "inspect", name).ErrorLine(t, errExit, name)
}

func TestLifecycleAmbiguousPrefix(t *testing.T) {
	parallel(t)
	// Create containers until two of ours share their first hex digit
	// (at most 17 by the pigeonhole principle).
	seen := map[byte]string{}
	var prefix string
	for i := 0; i < 17 && prefix == ""; i++ {
		id := createContainer(t, lcName("ambig"), nil, "true")
		if other, ok := seen[id[0]]; ok {
			prefix = commonPrefix(id, other)
			break
		}
		seen[id[0]] = id
	}
	if prefix == "" {
		t.Fatal("17 containers without two sharing a first digit")
	}
	for _, args := range [][]string{
		{"inspect", prefix},
		{"start", prefix},
		{"rm", "-f", prefix},
		{"logs", prefix},
	} {
		r := skiff(t, args...)
		r.ErrorLine(t, errExit, prefix, "ambiguous|multiple|more than one|matches")
	}
}

// commonPrefix is the longest common prefix of a and b.
func commonPrefix(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return a[:i]
}

func TestLifecycleNameInUse(t *testing.T) {
	parallel(t)
	name := lcName("inuse")
	id := createContainer(t, name, nil, "true")
	for _, args := range [][]string{
		{"create", "--name", name, busybox(t), "true"},
		{"run", "-d", "--name", name, busybox(t), "true"},
	} {
		// Docker: create exits 1, run 125.
		r := skiff(t, args...)
		r.ErrorLine(t, map[string]int{"create": errExit, "run": runExit}[args[0]], name, "already in use|already exists|conflict")
	}
	// Nothing changed: still one container by that name, the first one.
	if got := psNames(t, "-a", "--no-trunc", "-q", "--filter", "name="+name); len(got) != 1 || got[0] != id {
		t.Errorf("after the refused duplicates: ps -a --no-trunc -q %v, want [%s]", got, id)
	}
	// Docker's name rules.
	skiff(t, "create", "--name", "bad/name", busybox(t), "true").ErrorLine(t, runExit, "bad/name")
}

// TestStepsRefuseBadIDs: the supervisor's hidden steps, typed by hand
// without a container's full ID, refuse in one line (they panicked).
func TestStepsRefuseBadIDs(t *testing.T) {
	parallel(t)
	for _, step := range []string{"__start", "__cleanup", "__health"} {
		skiff(t, step).LastErrorLine(t, 1, step, "full container ID")
		skiff(t, step, "abc").LastErrorLine(t, 1, step, "full container ID")
	}
	// skiff-start, which the supervisor runs for __start and __health.
	for _, step := range []string{"__start", "__health"} {
		harness.RunBeside(t, harness.E2E, "skiff-start", step).LastErrorLine(t, 1, "skiff-start "+step, "full container ID")
		harness.RunBeside(t, harness.E2E, "skiff-start", step, "abc").LastErrorLine(t, 1, "skiff-start "+step, "full container ID")
	}
	for _, args := range [][]string{{}, {"__cleanup", strings.Repeat("a", 64)}, {"run", "busybox"}} {
		harness.RunBeside(t, harness.E2E, "skiff-start", args...).LastErrorLine(t, 1, "skiff-start", "run by a container's supervisor", "not a command")
	}
}
