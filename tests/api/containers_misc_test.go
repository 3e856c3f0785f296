package api

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

func TestDockerCp(t *testing.T) {
	parallel(t)
	n := name("cp")
	runDetached(t, n, nil, idleCmd...)
	dir := harness.UserDir(t, user())
	// Host to container: a file, then a directory.
	harness.WriteUserFile(t, user(), filepath.Join(dir, "in.txt"), []byte("into the container\n"))
	docker(t, "cp", filepath.Join(dir, "in.txt"), n+":/tmp/").OK(t)
	docker(t, "exec", n, "cat", "/tmp/in.txt").OK(t).StdoutIs(t, "into the container\n")
	sub := filepath.Join(dir, "tree")
	must(t, os.MkdirAll(filepath.Join(sub, "deep"), 0o755))
	harness.WriteUserFile(t, user(), filepath.Join(sub, "deep", "f"), []byte("deep\n"))
	for _, d := range []string{sub, filepath.Join(sub, "deep")} {
		must(t, os.Chown(d, user().UID, user().GID))
	}
	docker(t, "cp", sub, n+":/tmp/tree").OK(t) // a new name: the directory is copied as it
	docker(t, "exec", n, "cat", "/tmp/tree/deep/f").OK(t).StdoutIs(t, "deep\n")
	docker(t, "cp", sub, n+":/tmp/tree").OK(t) // an existing directory: copied into it
	docker(t, "exec", n, "cat", "/tmp/tree/tree/deep/f").OK(t).StdoutIs(t, "deep\n")
	// Container to host.
	docker(t, "exec", n, "sh", "-c", "mkdir -p /out/sub && echo from-container > /out/sub/file && chmod 0640 /out/sub/file").OK(t)
	docker(t, "cp", n+":/out", filepath.Join(dir, "got")).OK(t)
	data, err := os.ReadFile(filepath.Join(dir, "got", "sub", "file"))
	if err != nil || string(data) != "from-container\n" {
		t.Errorf("docker cp CONTAINER:/out DIR: %q %v", data, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "got", "sub", "file")); err == nil && fi.Mode().Perm() != 0o640 {
		t.Errorf("copied file mode %v, want 0640", fi.Mode().Perm())
	}
	// To stdout as a tar stream.
	r := docker(t, "cp", n+":/out/sub/file", "-").OK(t)
	tr := tar.NewReader(strings.NewReader(r.Stdout))
	h, err := tr.Next()
	if err != nil || h.Name != "file" {
		t.Fatalf("docker cp CONTAINER:FILE -: first entry %v %v", h, err)
	}
	body, _ := io.ReadAll(tr)
	if string(body) != "from-container\n" {
		t.Errorf("docker cp to stdout: %q", body)
	}
	// From stdin as a tar stream.
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	must(t, tw.WriteHeader(&tar.Header{Name: "streamed.txt", Mode: 0o644, Size: 9, Typeflag: tar.TypeReg}))
	_, _ = tw.Write([]byte("streamed\n"))
	must(t, tw.Close())
	dockerWith(t, harness.RunOptions{Stdin: &buf}, "cp", "-", n+":/tmp").OK(t)
	docker(t, "exec", n, "cat", "/tmp/streamed.txt").OK(t).StdoutIs(t, "streamed\n")
	// Missing paths: Docker's errors.
	r = docker(t, "cp", n+":/no/such/file", dir)
	if r.ExitCode == 0 || !containsAnyFold(r.Stderr, "no such file", "not found", "could not find") {
		t.Errorf("docker cp of a missing path: want an error saying it does not exist\n%s", r.Output())
	}
	// A stopped container still has its files.
	docker(t, "stop", "-t", "1", n).OK(t)
	docker(t, "cp", n+":/tmp/in.txt", filepath.Join(dir, "back.txt")).OK(t)
	if data, _ := os.ReadFile(filepath.Join(dir, "back.txt")); string(data) != "into the container\n" {
		t.Errorf("docker cp from a stopped container: %q", data)
	}
}

func TestDockerPsFilterFormat(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	label := "api-ps=" + harness.UniqueSuffix()
	running, exited, created := name("ps-running"), name("ps-exited"), name("ps-created")
	idRunning := runDetached(t, running, []string{"--label", label}, idleCmd...)
	runDetached(t, exited, []string{"--label", label}, "sh", "-c", "exit 2")
	rmOnCleanup(t, created)
	docker(t, "create", "--name", created, "--label", label, bb, "true").OK(t)
	docker(t, "wait", exited).OK(t).StdoutIs(t, "2\n")
	list := func(args ...string) []string {
		t.Helper()
		r := docker(t, append([]string{"ps", "--filter", "label=" + label, "--format", "{{.Names}}"}, args...)...).OK(t)
		l := r.Lines()
		sort.Strings(l)
		return l
	}
	if got := list(); !equal(got, []string{running}) {
		t.Errorf("docker ps: %v, want only the running %s", got, running)
	}
	all := []string{created, exited, running}
	sort.Strings(all)
	if got := list("-a"); !equal(got, all) {
		t.Errorf("docker ps -a: %v, want %v", got, all)
	}
	if got := list("-a", "--filter", "status=exited"); !equal(got, []string{exited}) {
		t.Errorf("--filter status=exited: %v", got)
	}
	if got := list("-a", "--filter", "status=created"); !equal(got, []string{created}) {
		t.Errorf("--filter status=created: %v", got)
	}
	if got := list("-a", "--filter", "exited=2"); !equal(got, []string{exited}) {
		t.Errorf("--filter exited=2: %v", got)
	}
	if got := list("-a", "--filter", "name="+running); !equal(got, []string{running}) {
		t.Errorf("--filter name=: %v", got)
	}
	if got := list("-a", "--filter", "id="+idRunning[:12]); !equal(got, []string{running}) {
		t.Errorf("--filter id=: %v", got)
	}
	if got := list("-a", "--filter", "ancestor="+bb); len(got) != 3 {
		t.Errorf("--filter ancestor=%s: %v, want all three", bb, got)
	}
	if got := list("-a", "-n", "1"); len(got) > 1 {
		t.Errorf("docker ps -a -n 1: %v, want at most one (limit)", got)
	}
	// Templates and JSON, as the CLI renders the list.
	r := docker(t, "ps", "-a", "--filter", "name="+exited, "--format", "{{.ID}}|{{.Image}}|{{.Command}}|{{.Status}}|{{.Label \"api-ps\"}}").OK(t)
	f := strings.Split(strings.TrimSpace(r.Stdout), "|")
	if len(f) != 5 || len(f[0]) != 12 || f[1] != bb || !strings.Contains(f[2], "sh -c") || !strings.HasPrefix(f[3], "Exited (2)") || f[4] != strings.SplitN(label, "=", 2)[1] {
		t.Errorf("docker ps --format: %q", r.Stdout)
	}
	r = docker(t, "ps", "-a", "--no-trunc", "-q", "--filter", "name="+running).OK(t)
	r.StdoutIs(t, idRunning+"\n")
	r = docker(t, "ps", "-a", "--filter", "label="+label, "--format", "json").OK(t)
	for _, l := range r.Lines() {
		var row map[string]any
		if err := json.Unmarshal([]byte(l), &row); err != nil || row["Names"] == nil || row["State"] == nil {
			t.Errorf("docker ps --format json: line %q (%v)", l, err)
		}
	}
	// --size asks the service for sizes.
	r = docker(t, "ps", "-a", "-s", "--filter", "name="+running, "--format", "{{.Size}}").OK(t)
	if !regexp.MustCompile(`^\d+(\.\d+)?[kMG]?B \(virtual \d+(\.\d+)?[kMG]?B\)\n$`).MatchString(r.Stdout) {
		t.Errorf("docker ps -s: %q, want 'N B (virtual N MB)'", r.Stdout)
	}
	// The table header.
	r = docker(t, "ps", "-a", "--filter", "label="+label).OK(t)
	if !regexp.MustCompile(`^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES\n`).MatchString(r.Stdout) {
		t.Errorf("docker ps: Docker's header\n%s", r.Output())
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDockerInspect(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	n := name("inspect")
	id := runDetached(t, n, []string{"-e", "A=1", "--label", "k=v", "-v", "/anon"}, idleCmd...)
	c := inspectContainer(t, n)
	if c.ID != id || c.Name != "/"+n || c.Config.Image != bb || c.Image != harness.Images["busybox"].ID {
		t.Errorf("inspect: Id %s Name %s Config.Image %s Image %s", c.ID, c.Name, c.Config.Image, c.Image)
	}
	if !contains(c.Config.Env, "A=1") || c.Config.Labels["k"] != "v" || !c.State.Running || c.State.Pid <= 0 {
		t.Errorf("inspect: Env %v Labels %v State %+v", c.Config.Env, c.Config.Labels, c.State)
	}
	if len(c.Mounts) != 1 || c.Mounts[0].Type != "volume" || c.Mounts[0].Destination != "/anon" || c.Mounts[0].Name == "" {
		t.Errorf("inspect Mounts: %+v, want the anonymous volume at /anon", c.Mounts)
	}
	if _, err := time.Parse(time.RFC3339Nano, c.State.StartedAt); err != nil {
		t.Errorf("State.StartedAt %q: %v", c.State.StartedAt, err)
	}
	// By short ID, and --format.
	r := docker(t, "inspect", "--format", "{{.Name}} {{.State.Status}}", id[:12]).OK(t)
	r.StdoutIs(t, "/"+n+" running\n")
	// docker inspect resolves images as well.
	r = docker(t, "inspect", "--type", "image", "--format", "{{.Id}}", bb).OK(t)
	r.StdoutIs(t, harness.Images["busybox"].ID+"\n")
	r = docker(t, "inspect", name("missing"))
	if r.ExitCode != 1 || !containsAnyFold(r.Stderr, "no such object", "no such container") {
		t.Errorf("docker inspect of a missing name: want exit 1, No such object\n%s", r.Output())
	}
	// rm -v removes the anonymous volume with the container.
	vol := c.Mounts[0].Name
	docker(t, "rm", "-f", "-v", n).OK(t)
	if r := docker(t, "volume", "inspect", vol); r.ExitCode == 0 {
		t.Errorf("docker rm -v left the anonymous volume %s", vol)
	}
}

func TestDockerTop(t *testing.T) {
	parallel(t)
	n := name("top")
	runDetached(t, n, nil, idleCmd...)
	r := docker(t, "top", n).OK(t)
	lines := r.Lines()
	if len(lines) < 2 || !regexp.MustCompile(`^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$`).MatchString(lines[0]) {
		t.Errorf("docker top: want ps -ef's header\n%s", r.Output())
	}
	if !strings.Contains(r.Stdout, "sleep 300") {
		t.Errorf("docker top: no sleep 300 process\n%s", r.Output())
	}
	r = docker(t, "top", n, "-o", "pid,comm").OK(t)
	if !regexp.MustCompile(`(?m)^PID\s+COMMAND$`).MatchString(r.Stdout) || !strings.Contains(r.Stdout, "sleep") {
		t.Errorf("docker top -o pid,comm:\n%s", r.Output())
	}
}

// expectCgroupRefusal checks a command that needs the container's cgroup,
// run where rootless containers have none: a clear error, not a hang or a
// silent success.
func expectCgroupRefusal(t *testing.T, r *harness.Result) {
	t.Helper()
	if r.ExitCode == 0 || !containsAnyFold(r.Stderr+r.Stdout, "cgroup") {
		t.Errorf("%s (%s): want a failure explaining that cgroups are not available\n%s", r.Cmdline(), rootlessCgroupV1(), r.Output())
	}
}

func TestDockerStats(t *testing.T) {
	parallel(t)
	n := name("stats")
	runDetached(t, n, nil, idleCmd...)
	r := dockerWith(t, harness.RunOptions{Timeout: 30 * time.Second}, "stats", "--no-stream", n)
	if why := rootlessCgroupV1(); why != "" {
		expectCgroupRefusal(t, r)
		return
	}
	checkStats(t, r, n)
}

// checkStats checks `docker stats --no-stream NAME`'s table.
func checkStats(t *testing.T, r *harness.Result, n string) {
	t.Helper()
	r.OK(t)
	lines := r.Lines()
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "CONTAINER ID") || !strings.Contains(lines[1], n) {
		t.Fatalf("docker stats --no-stream: want the header and one row\n%s", r.Output())
	}
	if !regexp.MustCompile(`\d+(\.\d+)?%\s+\d+(\.\d+)?[KMG]i?B / \d+(\.\d+)?[KMGT]i?B`).MatchString(lines[1]) {
		t.Errorf("docker stats row %q: want CPU %% and MEM USAGE / LIMIT", lines[1])
	}
}

func TestDockerDiff(t *testing.T) {
	parallel(t)
	n := name("diff")
	runDetached(t, n, nil, "sh", "-c", "echo x > /newfile && rm /etc/group && echo y >> /etc/passwd")
	docker(t, "wait", n).OK(t).StdoutIs(t, "0\n")
	r := docker(t, "diff", n).OK(t)
	for _, want := range []string{"A /newfile", "D /etc/group", "C /etc", "C /etc/passwd"} {
		if !contains(r.Lines(), want) {
			t.Errorf("docker diff: no %q line\n%s", want, r.Output())
		}
	}
}

func TestDockerExport(t *testing.T) {
	parallel(t)
	n := name("export")
	runDetached(t, n, nil, "sh", "-c", "echo exported > /marker")
	docker(t, "wait", n).OK(t)
	file := filepath.Join(harness.UserDir(t, user()), "fs.tar")
	dockerWith(t, harness.RunOptions{Timeout: 2 * time.Minute}, "export", "-o", file, n).OK(t)
	names := tarNames(t, file)
	for _, want := range []string{"bin/busybox", "marker", "etc/passwd"} {
		found := false
		for _, nm := range names {
			if strings.TrimPrefix(nm, "./") == want {
				found = true
			}
		}
		if !found {
			t.Errorf("docker export: the archive lacks %s (%d entries)", want, len(names))
		}
	}
}

func TestDockerRename(t *testing.T) {
	parallel(t)
	a, b := name("rename-a"), name("rename-b")
	rmOnCleanup(t, b)
	id := runDetached(t, a, nil, idleCmd...)
	docker(t, "rename", a, b).OK(t)
	if c := inspectContainer(t, b); c.ID != id || c.Name != "/"+b {
		t.Errorf("after rename: %s %s", c.ID, c.Name)
	}
	if r := docker(t, "inspect", "--type", "container", a); r.ExitCode == 0 {
		t.Errorf("the old name %s still resolves", a)
	}
	// Taken names: 409 conflict.
	c := name("rename-c")
	runDetached(t, c, nil, idleCmd...)
	r := docker(t, "rename", c, b)
	if r.ExitCode == 0 || !containsAnyFold(r.Stderr, "already in use", "conflict") {
		t.Errorf("rename onto a taken name: want a conflict\n%s", r.Output())
	}
	// skiff sees the new name too.
	if r := skiff(t, "inspect", "--format", "{{.Id}}", b).OK(t); strings.TrimSpace(r.Stdout) != id {
		t.Errorf("skiff inspect %s after docker rename: %q", b, r.Stdout)
	}
}

func TestDockerPauseUnpause(t *testing.T) {
	parallel(t)
	n := name("pause")
	runDetached(t, n, nil, idleCmd...)
	r := docker(t, "pause", n)
	if why := rootlessCgroupV1(); why != "" {
		expectCgroupRefusal(t, r)
		if c := inspectContainer(t, n); !c.State.Running || c.State.Paused {
			t.Errorf("after a refused pause: %+v", c.State)
		}
		return
	}
	checkPause(t, nil, r, n)
}

// checkPause checks a pause that succeeded, then unpauses.
func checkPause(t *testing.T, u *harness.User, r *harness.Result, n string) {
	t.Helper()
	dk := func(args ...string) *harness.Result {
		if u == nil {
			return docker(t, args...)
		}
		return harness.Docker(t, u, args...)
	}
	r.OK(t).StdoutIs(t, n+"\n")
	if s := strings.TrimSpace(dk("inspect", "--format", "{{.State.Status}} {{.State.Paused}}", n).OK(t).Stdout); s != "paused true" {
		t.Errorf("after pause: %q, want paused true", s)
	}
	if s := dk("ps", "--filter", "status=paused", "--filter", "name="+n, "-q").OK(t).Stdout; s == "" {
		t.Errorf("ps --filter status=paused does not list the paused container")
	}
	dk("unpause", n).OK(t).StdoutIs(t, n+"\n")
	if s := strings.TrimSpace(dk("inspect", "--format", "{{.State.Status}}", n).OK(t).Stdout); s != "running" {
		t.Errorf("after unpause: %q", s)
	}
	dk("exec", n, "true").OK(t)
}

func TestDockerUpdate(t *testing.T) {
	parallel(t)
	n := name("update")
	runDetached(t, n, nil, idleCmd...)
	// The restart policy is the engine's, not a cgroup's: always possible.
	docker(t, "update", "--restart", "on-failure:3", n).OK(t)
	r := docker(t, "inspect", "--format", "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}", n).OK(t)
	r.StdoutIs(t, "on-failure:3\n")
	r = docker(t, "update", "--memory", "64m", "--memory-swap", "128m", n)
	if why := rootlessCgroupV1(); why != "" {
		// A clear refusal: no cgroup here, or limits not supported at all
		// (TestDockerRootService then fails on them as root).
		if r.ExitCode == 0 || !containsAnyFold(r.Stderr, "cgroup", "not supported") {
			t.Errorf("%s (%s): want a failure explaining that limits are not available\n%s", r.Cmdline(), why, r.Output())
		}
		return
	}
	r.OK(t)
	r = docker(t, "inspect", "--format", "{{.HostConfig.Memory}}", n).OK(t)
	r.StdoutIs(t, fmt.Sprintf("%d\n", 64<<20))
}

// TestDockerContainerPrune is not parallel: it removes every stopped container.
func TestDockerContainerPrune(t *testing.T) {
	needRootless(t)
	bb := busybox(t)
	a, b, keep := name("prune-a"), name("prune-b"), name("prune-keep")
	rmOnCleanup(t, a, b, keep)
	idA := strings.TrimSpace(docker(t, "create", "--name", a, bb, "true").OK(t).Stdout)
	docker(t, "run", "--name", b, bb, "true").OK(t)
	idB := strings.TrimSpace(docker(t, "inspect", "--format", "{{.Id}}", b).OK(t).Stdout)
	runDetached(t, keep, nil, idleCmd...)
	r := docker(t, "container", "prune", "-f").OK(t)
	if !strings.Contains(r.Stdout, "Deleted Containers:") || !strings.Contains(r.Stdout, idA) || !strings.Contains(r.Stdout, idB) {
		t.Errorf("docker container prune -f: want Deleted Containers: with %s and %s\n%s", idA, idB, r.Output())
	}
	left := docker(t, "ps", "-a", "--format", "{{.Names}}").OK(t).Lines()
	if contains(left, a) || contains(left, b) || !contains(left, keep) {
		t.Errorf("after prune: %v, want %s and %s gone, %s kept", left, a, b, keep)
	}
}

func TestDockerWait(t *testing.T) {
	parallel(t)
	n := name("wait")
	runDetached(t, n, nil, "sh", "-c", "sleep 1; exit 7")
	start := time.Now()
	dockerWith(t, harness.RunOptions{Timeout: 30 * time.Second}, "wait", n).OK(t).StdoutIs(t, "7\n")
	if time.Since(start) < 300*time.Millisecond {
		t.Errorf("docker wait returned after %s, before the container exited", time.Since(start))
	}
	// Waiting on an exited container answers at once.
	docker(t, "wait", n).OK(t).StdoutIs(t, "7\n")
	r := docker(t, "wait", name("missing"))
	if r.ExitCode == 0 || !containsAnyFold(r.Stderr, "no such container") {
		t.Errorf("docker wait of a missing container:\n%s", r.Output())
	}
}

func TestDockerKillSignal(t *testing.T) {
	parallel(t)
	n := name("kill")
	runDetached(t, n, nil, "sh", "-c", "trap 'echo got-usr1; exit 9' USR1; echo ready; sleep 300 & wait")
	eventually(t, 10*time.Second, "the container ready", func() (bool, string) {
		r := docker(t, "logs", n)
		return strings.Contains(r.Stdout, "ready"), r.Output()
	})
	docker(t, "kill", "-s", "USR1", n).OK(t).StdoutIs(t, n+"\n")
	docker(t, "wait", n).OK(t).StdoutIs(t, "9\n")
	if r := docker(t, "logs", n).OK(t); !strings.Contains(r.Stdout, "got-usr1") {
		t.Errorf("the container did not get SIGUSR1: %q", r.Stdout)
	}
	// The default is SIGKILL: 137.
	n2 := name("kill-default")
	runDetached(t, n2, nil, idleCmd...)
	docker(t, "kill", n2).OK(t)
	docker(t, "wait", n2).OK(t).StdoutIs(t, "137\n")
	// A stopped container cannot be killed: 409.
	r := docker(t, "kill", n2)
	if r.ExitCode == 0 || !containsAnyFold(r.Stderr, "not running") {
		t.Errorf("docker kill of a stopped container:\n%s", r.Output())
	}
}

func TestDockerRestart(t *testing.T) {
	parallel(t)
	n := name("restart")
	runDetached(t, n, nil, "sh", "-c", "echo started; "+idleScript)
	before := inspectContainer(t, n)
	dockerWith(t, harness.RunOptions{Timeout: 30 * time.Second}, "restart", "-t", "2", n).OK(t).StdoutIs(t, n+"\n")
	after := inspectContainer(t, n)
	if !after.State.Running || after.State.StartedAt == before.State.StartedAt || after.State.Pid == before.State.Pid {
		t.Errorf("after restart: State %+v, before %+v: want running with a new start", after.State, before.State)
	}
	eventually(t, 10*time.Second, "two starts in the logs", func() (bool, string) {
		r := docker(t, "logs", n)
		return strings.Count(r.Stdout, "started\n") == 2, r.Output()
	})
	// Restart of a stopped container starts it.
	docker(t, "stop", n).OK(t)
	docker(t, "restart", n).OK(t)
	waitStatus(t, n, "running", 10*time.Second)
	// Back to back: the supervisor that ends must not take away the
	// runtime directory (network namespace, attach socket) the next one made.
	for i := 0; i < 6; i++ {
		dockerWith(t, harness.RunOptions{Timeout: 30 * time.Second}, "restart", "-t", "0", n).OK(t)
	}
	waitStatus(t, n, "running", 10*time.Second)
	// --restart on-failure:2: the container comes back by itself, twice.
	n2 := name("restart-policy")
	runDetached(t, n2, []string{"--restart", "on-failure:2"}, "sh", "-c", "echo run; sleep 0.3; exit 1")
	eventually(t, 30*time.Second, "the on-failure:2 policy exhausted", func() (bool, string) {
		c := inspectContainer(t, n2)
		return c.State.Status == "exited" && c.RestartCount == 2, fmt.Sprintf("%+v restarts %d", c.State, c.RestartCount)
	})
}

// TestCLIAndDockerShareContainers checks that skiff's CLI and the service
// see and change the same containers.
func TestCLIAndDockerShareContainers(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	// skiff creates, docker sees and stops.
	a := name("shared-skiff")
	rmOnCleanup(t, a)
	skiff(t, "run", "-d", "--name", a, bb, "sh", "-c", idleScript).OK(t)
	r := docker(t, "ps", "--filter", "name="+a, "--format", "{{.Names}} {{.State}}").OK(t)
	r.StdoutIs(t, a+" running\n")
	docker(t, "exec", a, "true").OK(t)
	docker(t, "stop", a).OK(t)
	if s := strings.TrimSpace(skiff(t, "inspect", "--format", "{{.State.Status}}", a).OK(t).Stdout); s != "exited" {
		t.Errorf("skiff inspect after docker stop: %q, want exited", s)
	}
	docker(t, "start", a).OK(t)
	if s := strings.TrimSpace(skiff(t, "inspect", "--format", "{{.State.Status}}", a).OK(t).Stdout); s != "running" {
		t.Errorf("skiff inspect after docker start: %q, want running", s)
	}
	// docker creates, skiff sees, stops and removes.
	b := name("shared-docker")
	id := runDetached(t, b, nil, idleCmd...)
	r = skiff(t, "ps", "--filter", "name="+b, "--format", "{{.ID}}").OK(t)
	r.StdoutIs(t, id[:12]+"\n")
	skiff(t, "logs", b).OK(t)
	skiff(t, "stop", b).OK(t)
	waitStatus(t, b, "exited", 10*time.Second)
	skiff(t, "rm", b).OK(t)
	r = docker(t, "inspect", "--type", "container", b)
	if r.ExitCode == 0 {
		t.Errorf("docker still sees %s after skiff rm\n%s", b, r.Output())
	}
	// Images pulled through the service are skiff's.
	if !contains(skiff(t, "images", "--format", "{{.Repository}}").OK(t).Lines(), bb) {
		t.Errorf("skiff images does not list %s pulled through the service", bb)
	}
}
