package e2e

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// The tests in this file are not parallel: they compare the user's mounts
// and containers before and after, which other tests would disturb. Go runs
// non-parallel top-level tests before releasing the parallel ones.

// TestLifecycleSupervisorKilled: the supervisor dies with SIGKILL; the
// container shows a truthful state, and rm -f removes it without leaking
// mounts or processes.
func TestLifecycleSupervisorKilled(t *testing.T) {
	harness.Need(t)
	u := harness.E2E
	runOut(t, nil, "true") // the shared namespace and its mounts exist
	mountsBefore := storeMounts(t, u)
	name := lcName("supkill")
	marker := markerSleep()
	id := runDetached(t, name, nil, "sleep", marker)
	sup := supervisorPIDs(id)
	if len(sup) != 1 {
		t.Fatalf("want one supervisor process for %s (args containing %q and the ID), found %v; the user's processes:\n%s",
			id[:12], supervisorArg, sup, userProcesses(u))
	}
	must(t, syscall.Kill(sup[0], syscall.SIGKILL))
	eventually(t, 10*time.Second, "the supervisor gone", func() (bool, string) {
		return !harness.ProcessAlive(sup[0]), fmt.Sprint(sup[0])
	})
	time.Sleep(300 * time.Millisecond)

	// A truthful state: "running" only while the process really runs, and
	// then with its pid; otherwise exited or dead.
	c := inspectC(t, name)
	alive := sleepPIDs(marker)
	switch c.State.Status {
	case "running":
		if len(alive) != 1 || c.State.Pid != alive[0] {
			t.Errorf("supervisor killed: status running with pid %d, but the container's processes are %v", c.State.Pid, alive)
		}
	case "exited":
		if len(alive) != 0 {
			t.Errorf("supervisor killed: status exited, but the container's process still runs: %v", alive)
		}
		if c.State.Running || c.State.Pid != 0 {
			t.Errorf("supervisor killed: status exited with Running %v Pid %d", c.State.Running, c.State.Pid)
		}
	case "dead":
		// Unmanaged: the process may still run (rm -f must end it), and
		// the engine says so in State.Error.
		if c.State.Running {
			t.Errorf("supervisor killed: status dead with Running true")
		}
		if c.State.Error == "" {
			t.Errorf("supervisor killed: status dead without a State.Error saying why")
		}
	default:
		t.Errorf("supervisor killed: status %q, want running, exited or dead", c.State.Status)
	}
	// ps agrees with inspect and does not fail on the orphan.
	st := psStatus(t, name)
	if st == "" {
		t.Errorf("ps -a does not list the container whose supervisor died")
	}
	if (c.State.Status == "running") != strings.HasPrefix(st, "Up ") {
		t.Errorf("ps STATUS %q disagrees with inspect's %s", st, c.State.Status)
	}
	// Other commands still work around it.
	skiff(t, "logs", name).OK(t)
	skiff(t, "ps", "-a").OK(t)

	skiff(t, "rm", "-f", name).OK(t).StdoutIs(t, name+"\n")
	skiff(t, "inspect", name).ErrorLine(t, errExit, name)
	eventually(t, 10*time.Second, "no process of the container after rm -f", func() (bool, string) {
		p := sleepPIDs(marker)
		s := supervisorPIDs(id)
		return len(p) == 0 && len(s) == 0, fmt.Sprintf("container %v supervisor %v", p, s)
	})
	if mountsAfter := storeMounts(t, u); len(mountsAfter) > len(mountsBefore) {
		t.Errorf("rm -f after a supervisor kill left mounts:\nbefore %v\nafter %v", mountsBefore, mountsAfter)
	}
	// The name is free again.
	runDetached(t, name, nil, "true")
}

// TestLifecycleSupervisorKilledThenStop: without a supervisor, stop tells
// the truth, and start either works or says to remove the container.
func TestLifecycleSupervisorKilledThenStop(t *testing.T) {
	harness.Need(t)
	name := lcName("supkill-stop")
	id := runDetached(t, name, nil, "sh", "-c", "echo up; "+idleScript)
	waitLogs(t, name, "up", 10*time.Second)
	sup := supervisorPIDs(id)
	if len(sup) != 1 {
		t.Fatalf("want one supervisor process, found %v; the user's processes:\n%s", sup, userProcesses(harness.E2E))
	}
	must(t, syscall.Kill(sup[0], syscall.SIGKILL))
	eventually(t, 10*time.Second, "the supervisor gone", func() (bool, string) { return !harness.ProcessAlive(sup[0]), "" })
	// stop either stops the orphaned process, or refuses clearly (saying to
	// use rm -f); a success that leaves the process running is a lie.
	r := skiffWith(t, harness.RunOptions{Timeout: 30 * time.Second}, "stop", "-t", "2", name)
	if r.ExitCode == 0 {
		r.StdoutIs(t, name+"\n")
		eventually(t, 10*time.Second, "the container's processes gone after stop printed success", func() (bool, string) {
			p := procByCmdline(func(a []string) bool { return len(a) == 3 && a[0] == "sh" && a[2] == "echo up; "+idleScript })
			return len(p) == 0, fmt.Sprintf("pids %v, status %s", p, stateOf(t, harness.E2E, name))
		})
		if s := stateOf(t, harness.E2E, name); s != "exited" && s != "dead" {
			t.Errorf("stop without a supervisor: status %q, want exited (or dead)", s)
		}
	} else {
		r.ErrorLine(t, errExit, name, "rm -f|remove")
	}
	// Exited: a new start gets a new supervisor. Dead: only rm -f, said clearly.
	switch s := stateOf(t, harness.E2E, name); s {
	case "exited":
		skiff(t, "start", name).OK(t)
		if s := stateOf(t, harness.E2E, name); s != "running" {
			t.Errorf("start after the supervisor died: status %q, want running", s)
		}
		if sup2 := supervisorPIDs(id); len(sup2) != 1 {
			t.Errorf("after start: supervisors %v, want one", sup2)
		}
	case "dead":
		skiff(t, "start", name).ErrorLine(t, errExit, name, "rm -f|remove")
	}
	skiff(t, "rm", "-f", name).OK(t)
}

// TestLifecycleParallelCycles: 20 concurrent run -d, then 20 concurrent
// rm -f; ps -a stays consistent and nothing stays mounted.
func TestLifecycleParallelCycles(t *testing.T) {
	harness.Need(t)
	u := harness.E2E
	bb := busybox(t)
	runOut(t, nil, "true")
	mountsBefore := storeMounts(t, u)
	label := "lc.par=" + harness.UniqueSuffix()
	const n = 20
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("lc-par-%02d-%s", i, harness.UniqueSuffix())
	}
	rmOnCleanup(t, u, names...)
	parallelDo := func(f func(i int) *harness.Result) []*harness.Result {
		res := make([]*harness.Result, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				res[i] = f(i)
			}(i)
		}
		wg.Wait()
		return res
	}
	opts := harness.RunOptions{Timeout: 90 * time.Second}
	for i, r := range parallelDo(func(i int) *harness.Result {
		return harness.RunAsWith(t, u, opts, "run", "-d", "--name", names[i], "--label", label, bb, "sleep", "300")
	}) {
		if r.ExitCode != 0 || !containerIDRe.MatchString(strings.TrimSpace(r.Stdout)) {
			t.Errorf("parallel run -d #%d:\n%s", i, r.Output())
		}
	}
	got := skiff(t, "ps", "-a", "--filter", "label="+label, "--format", "{{.Names}} {{.State}}").OK(t).Lines()
	slices.Sort(got)
	var want []string
	for _, nm := range names {
		want = append(want, nm+" running")
	}
	if !slices.Equal(got, want) {
		t.Errorf("ps -a after 20 parallel run -d:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i, r := range parallelDo(func(i int) *harness.Result {
		return harness.RunAsWith(t, u, opts, "rm", "-f", names[i])
	}) {
		if r.ExitCode != 0 || r.Stdout != names[i]+"\n" {
			t.Errorf("parallel rm -f #%d:\n%s", i, r.Output())
		}
	}
	if got := skiff(t, "ps", "-a", "--filter", "label="+label, "-q").OK(t).Lines(); len(got) != 0 {
		t.Errorf("ps -a after 20 parallel rm -f still lists %v", got)
	}
	// ps -a as a whole still reads every record.
	skiff(t, "ps", "-a").OK(t)
	eventually(t, 15*time.Second, "no mounts left after the parallel cycles", func() (bool, string) {
		after := storeMounts(t, u)
		return len(after) <= len(mountsBefore), fmt.Sprintf("before %v after %v", mountsBefore, after)
	})
	eventually(t, 15*time.Second, "no container process left", func() (bool, string) {
		p := procByCmdline(func(a []string) bool { return len(a) == 2 && a[0] == "sleep" && a[1] == "300" })
		var ours []int
		for _, pid := range p {
			// Only the e2e user's subordinate uids run container processes.
			if uid := procUID(pid); u.SubUID.Contains(uid) || uid == u.UID {
				ours = append(ours, pid)
			}
		}
		return len(ours) == 0, fmt.Sprint(ours)
	})
}

// procUID returns the real uid of pid, or -1.
func procUID(pid int) int {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(st), "\n") {
		var uid int
		if _, err := fmt.Sscanf(l, "Uid:\t%d", &uid); err == nil {
			return uid
		}
	}
	return -1
}

// TestLifecycleParallelForeground: 8 foreground runs at once all succeed.
func TestLifecycleParallelForeground(t *testing.T) {
	harness.Need(t)
	bb := busybox(t)
	var wg sync.WaitGroup
	res := make([]*harness.Result, 8)
	for i := range res {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			res[i] = harness.RunAsWith(t, harness.E2E, harness.RunOptions{Timeout: 90 * time.Second},
				"run", "--rm", bb, "sh", "-c", fmt.Sprintf("echo fg-%d; exit %d", i, i))
		}(i)
	}
	wg.Wait()
	for i, r := range res {
		if r.ExitCode != i || r.Stdout != fmt.Sprintf("fg-%d\n", i) {
			t.Errorf("parallel foreground run #%d: want exit %d and fg-%d\n%s", i, i, i, r.Output())
		}
	}
}

// TestLifecycleContainerPrune removes every stopped container of the user,
// so it must not run beside other tests.
func TestLifecycleContainerPrune(t *testing.T) {
	harness.Need(t)
	exited, fresh, running := lcName("prune-exited"), lcName("prune-created"), lcName("prune-running")
	exitedID := runDetached(t, exited, nil, "true")
	skiff(t, "wait", exited).OK(t)
	freshID := createContainer(t, fresh, nil, "true")
	runningID := runDetached(t, running, nil, "sleep", "300")
	r := skiff(t, "container", "prune", "-f").OK(t)
	if !strings.Contains(r.Stdout, "Deleted Containers:") || !strings.Contains(r.Stdout, exitedID) || !strings.Contains(r.Stdout, freshID) {
		t.Errorf("container prune -f: want \"Deleted Containers:\" and the full IDs of the exited and created containers\n%s", r.Output())
	}
	if strings.Contains(r.Stdout, runningID) {
		t.Errorf("container prune removed the running container\n%s", r.Output())
	}
	if !strings.Contains(r.Stdout, "Total reclaimed space:") {
		t.Errorf("container prune -f: no \"Total reclaimed space:\" line\n%s", r.Output())
	}
	skiff(t, "inspect", exited).ErrorLine(t, errExit, exited)
	skiff(t, "inspect", fresh).ErrorLine(t, errExit, fresh)
	if s := stateOf(t, harness.E2E, running); s != "running" {
		t.Errorf("after prune the running container is %q", s)
	}
	// Nothing left to prune: still success.
	r = skiff(t, "container", "prune", "--force").OK(t)
	if strings.Contains(r.Stdout, runningID) {
		t.Errorf("second prune removed the running container\n%s", r.Output())
	}
	// Without -f and no terminal to confirm: nothing is removed.
	n := lcName("prune-keep")
	createContainer(t, n, nil, "true")
	skiffWith(t, harness.RunOptions{Stdin: strings.NewReader("n\n")}, "container", "prune")
	if s := stateOf(t, harness.E2E, n); s != "created" {
		t.Errorf("prune answered \"n\" removed %s (status %q)", n, s)
	}
}
