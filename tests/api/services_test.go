package api

import (
	"encoding/json"
	"fmt"
	"github.com/moby/moby/api/types/swarm"
	"net"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// The docker CLI's service and node commands against skiff's API, a
// one-node swarm that is always active: create, ls, ps, inspect, scale,
// update, rollback, logs, rm, and node ls/inspect, as typed.

// svcSlow bounds the service commands that wait for convergence (each
// waits 5 s, the update monitor, once the replicas run).
var svcSlow = harness.RunOptions{Timeout: 3 * time.Minute}

var (
	serviceIDRe = regexp.MustCompile(`^[a-z0-9]{25}$`)
	taskIDRe    = regexp.MustCompile(`^[a-z0-9]{25}$`)
)

// serveVariant logs a line, then serves the image's /variant (the marker
// harness.PushVariant wrote) as /www/index.html with busybox httpd, under
// a shell that exits on SIGTERM.
const serveVariant = "mkdir -p /www && cp /variant /www/index.html && echo started $(cat /variant) && trap 'exit 0' TERM; httpd -f -p 80 -h /www & wait"

// serviceRmOnCleanup removes services through docker when the test ends.
func serviceRmOnCleanup(t *testing.T, names ...string) {
	t.Helper()
	t.Cleanup(func() {
		args := append([]string{"service", "rm"}, names...)
		r := dockerWith(t, harness.RunOptions{Timeout: time.Minute}, args...)
		if r.ExitCode != 0 && !strings.Contains(strings.ToLower(r.Stderr), "no such") && !strings.Contains(strings.ToLower(r.Stderr), "not found") {
			t.Logf("cleanup: %s\n%s", r.Cmdline(), r.Output())
		}
	})
}

// converged checks that a service command that waited (create, update,
// scale, rollback without -d) printed the service first and the
// convergence last, as the docker CLI does when stdout is no terminal.
func converged(t *testing.T, r *harness.Result, first string) {
	t.Helper()
	lines := r.Lines()
	if len(lines) == 0 || lines[0] != first {
		t.Errorf("%s: want %q on the first line of stdout\n%s", r.Cmdline(), first, r.Output())
	}
	if !strings.Contains(r.Stdout, "converged") {
		t.Errorf("%s: want the CLI's \"Service … converged\"\n%s", r.Cmdline(), r.Output())
	}
}

// serviceInspect is the part of `docker service inspect` the tests read.
type serviceInspect = swarm.Service

func inspectService(t *testing.T, n string) serviceInspect {
	t.Helper()
	var s serviceInspect
	inspectJSON(t, []string{"service", "inspect"}, n, &s)
	return s
}

// runningTasks returns `docker service ps`'s current tasks: NAME STATE,
// sorted.
func runningTasks(t *testing.T, n string) []string {
	t.Helper()
	r := docker(t, "service", "ps", "--filter", "desired-state=running", "--format", "{{.Name}} {{.CurrentState}}", n).OK(t)
	var out []string
	for _, l := range r.Lines() {
		name, state, _ := strings.Cut(l, " ")
		state, _, _ = strings.Cut(state, " ") // "Running 3 seconds ago"
		out = append(out, name+" "+state)
	}
	sort.Strings(out)
	return out
}

// wantRunning checks that the service's current tasks are n.1 … n.count,
// all running.
func wantRunning(t *testing.T, n string, count int) {
	t.Helper()
	var want []string
	for i := 1; i <= count; i++ {
		want = append(want, fmt.Sprintf("%s.%d Running", n, i))
	}
	sort.Strings(want)
	if got := runningTasks(t, n); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("docker service ps %s (desired running): %q, want %q", n, got, want)
	}
}

// serves checks that the published port answers body, several times
// (each GET a new connection, spread over the replicas).
func serves(t *testing.T, port int, body string) {
	t.Helper()
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	for i := 0; i < 6; i++ {
		if got := httpGet(t, url, 30*time.Second); got != body {
			t.Errorf("GET %s (#%d): %q, want %q", url, i+1, got, body)
			return
		}
	}
}

func TestServiceLifecycle(t *testing.T) {
	parallel(t)
	suffix := harness.UniqueSuffix()
	repo := "api-svc-" + suffix
	one, two := "svc-one-"+suffix, "svc-two-"+suffix
	v1 := harness.PushVariant(t, repo, "v1", one)
	v2 := harness.PushVariant(t, repo, "v2", two)
	port := freePort(t)
	n := name("web")
	serviceRmOnCleanup(t, n)

	// create: the ID, then the CLI follows the convergence.
	r := dockerWith(t, svcSlow, "service", "create", "--replicas", "2", "-p", fmt.Sprintf("%d:80", port), "--name", n,
		v1.Ref, "sh", "-c", serveVariant).OK(t)
	id := ""
	if lines := r.Lines(); len(lines) > 0 {
		id = lines[0]
	}
	if !serviceIDRe.MatchString(id) {
		t.Fatalf("%s: first stdout line %q, want a 25-character service ID\n%s", r.Cmdline(), id, r.Output())
	}
	converged(t, r, id)
	serves(t, port, one+"\n")

	// ls: 2/2 replicas, the published port.
	r = docker(t, "service", "ls", "--filter", "name="+n).OK(t)
	if l := r.Lines(); len(l) != 2 || !strings.HasPrefix(l[0], "ID ") || !strings.Contains(l[1], n) || !strings.Contains(l[1], "replicated") ||
		!strings.Contains(l[1], " 2/2 ") || !strings.Contains(l[1], fmt.Sprintf("*:%d->80/tcp", port)) || !strings.HasPrefix(l[1], id[:12]) {
		t.Errorf("docker service ls: want the header and %s %s replicated 2/2 … *:%d->80/tcp\n%s", id[:12], n, port, r.Output())
	}
	docker(t, "service", "ls", "-q", "--filter", "id="+id[:6]).OK(t).StdoutIs(t, id[:12]+"\n")
	docker(t, "service", "ls", "--format", "{{.Name}} {{.Mode}} {{.Replicas}}", "--filter", "name="+n).OK(t).
		StdoutIs(t, n+" replicated 2/2\n")

	// ps: web.1 and web.2 running, on this host's node; the replicas are
	// ordinary containers named like them, with swarm's labels.
	wantRunning(t, n, 2)
	node := strings.TrimSpace(docker(t, "node", "ls", "--format", "{{.Hostname}}").OK(t).Stdout)
	r = docker(t, "service", "ps", "--format", "{{.Node}} {{.DesiredState}} {{.Image}}", n).OK(t)
	for _, l := range r.Lines() {
		if l != node+" Running "+v1.Ref {
			t.Errorf("docker service ps %s: line %q, want %q", n, l, node+" Running "+v1.Ref)
		}
	}
	r = docker(t, "ps", "--filter", "label=com.docker.swarm.service.name="+n, "--format", `{{.Names}} {{.Label "com.docker.swarm.service.id"}}`).OK(t)
	if got := sorted(r.Lines()); strings.Join(got, ",") != fmt.Sprintf("%s.1 %s,%s.2 %s", n, id, n, id) {
		t.Errorf("docker ps of the service's containers: %q, want %s.1 and %s.2 labelled with %s", got, n, n, id)
	}
	r = docker(t, "service", "ps", "-q", "--no-trunc", n).OK(t)
	for _, l := range r.Lines() {
		if !taskIDRe.MatchString(l) {
			t.Errorf("docker service ps -q --no-trunc: %q is no task ID\n%s", l, r.Output())
		}
	}
	if tasks := r.Lines(); len(tasks) > 0 {
		var task struct {
			ID, ServiceID, NodeID, DesiredState string
			Slot                                int
			Status                              struct{ State string }
		}
		inspectJSON(t, []string{"inspect", "--type", "task"}, tasks[0], &task)
		if task.ID != tasks[0] || task.ServiceID != id || task.DesiredState != "running" || task.Status.State != "running" || task.Slot < 1 {
			t.Errorf("docker inspect --type task %s: %+v", tasks[0], task)
		}
	}

	// inspect: Docker's JSON, and --pretty.
	s := inspectService(t, n)
	switch {
	case s.ID != id, s.Spec.Name != n:
		t.Errorf("service inspect: ID %q Name %q, want %s %s", s.ID, s.Spec.Name, id, n)
	case s.Spec.Mode.Replicated == nil || s.Spec.Mode.Replicated.Replicas == nil || *s.Spec.Mode.Replicated.Replicas != 2:
		t.Errorf("service inspect: Mode %+v, want replicated 2", s.Spec.Mode)
	case !strings.HasPrefix(s.Spec.TaskTemplate.ContainerSpec.Image, v1.Ref):
		t.Errorf("service inspect: image %q, want %s", s.Spec.TaskTemplate.ContainerSpec.Image, v1.Ref)
	case strings.Join(s.Spec.TaskTemplate.ContainerSpec.Args, " ") != "sh -c "+serveVariant:
		t.Errorf("service inspect: Args %q, want the command", s.Spec.TaskTemplate.ContainerSpec.Args)
	case len(s.Endpoint.Ports) != 1 || s.Endpoint.Ports[0].PublishedPort != uint32(port) || s.Endpoint.Ports[0].TargetPort != 80 || s.Endpoint.Ports[0].Protocol != "tcp":
		t.Errorf("service inspect: Endpoint.Ports %+v, want %d->80/tcp", s.Endpoint.Ports, port)
	case s.Spec.UpdateConfig == nil || s.Spec.UpdateConfig.Parallelism != 1 || s.Spec.UpdateConfig.FailureAction != "pause" || s.Spec.UpdateConfig.Order != "stop-first":
		t.Errorf("service inspect: UpdateConfig %+v, want Docker's defaults (1, pause, stop-first)", s.Spec.UpdateConfig)
	}
	r = docker(t, "service", "inspect", "--pretty", n).OK(t)
	for _, want := range []string{"ID:\t\t" + id, "Name:\t\t" + n, "Replicas:\t2", "Image:\t\t" + v1.Ref, "PublishedPort = " + fmt.Sprint(port)} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("docker service inspect --pretty: no %q\n%s", want, r.Output())
		}
	}

	// scale up: a third replica.
	r = dockerWith(t, svcSlow, "service", "scale", n+"=3").OK(t)
	converged(t, r, n+" scaled to 3")
	wantRunning(t, n, 3)
	docker(t, "service", "ls", "--format", "{{.Replicas}}", "--filter", "name="+n).OK(t).StdoutIs(t, "3/3\n")

	// update the image: every replica replaced, the port serves the new one.
	r = dockerWith(t, svcSlow, "service", "update", "--image", v2.Ref, n).OK(t)
	converged(t, r, n)
	wantRunning(t, n, 3)
	serves(t, port, two+"\n")
	s = waitUpdateState(t, n, "completed")
	if !strings.HasPrefix(s.Spec.TaskTemplate.ContainerSpec.Image, v2.Ref) || s.PreviousSpec == nil || !strings.HasPrefix(s.PreviousSpec.TaskTemplate.ContainerSpec.Image, v1.Ref) {
		t.Errorf("service inspect after update: image %q, PreviousSpec %+v; want %s after %s", s.Spec.TaskTemplate.ContainerSpec.Image, s.PreviousSpec, v2.Ref, v1.Ref)
	}
	if s.UpdateStatus == nil || s.UpdateStatus.State != "completed" {
		t.Errorf("service inspect after update: UpdateStatus %+v, want completed", s.UpdateStatus)
	}
	r = docker(t, "service", "ps", "--filter", "desired-state=running", "--format", "{{.Image}}", n).OK(t)
	if got := r.Lines(); len(got) != 3 || got[0] != v2.Ref || got[1] != v2.Ref || got[2] != v2.Ref {
		t.Errorf("docker service ps after update: images %q, want 3 × %s", got, v2.Ref)
	}
	// The replaced tasks stay in the history, shut down.
	r = docker(t, "service", "ps", "--filter", "desired-state=shutdown", "--format", "{{.Image}}", n).OK(t)
	if !strings.Contains(r.Stdout, v1.Ref) {
		t.Errorf("docker service ps --filter desired-state=shutdown: want the replaced %s tasks\n%s", v1.Ref, r.Output())
	}

	// rollback: back to the first image.
	r = dockerWith(t, svcSlow, "service", "rollback", n).OK(t)
	converged(t, r, n)
	wantRunning(t, n, 3)
	serves(t, port, one+"\n")
	s = waitUpdateState(t, n, "rollback_completed")
	if !strings.HasPrefix(s.Spec.TaskTemplate.ContainerSpec.Image, v1.Ref) {
		t.Errorf("service inspect after rollback: image %q, want %s", s.Spec.TaskTemplate.ContainerSpec.Image, v1.Ref)
	}
	if s.UpdateStatus == nil || s.UpdateStatus.State != "rollback_completed" {
		t.Errorf("service inspect after rollback: UpdateStatus %+v, want rollback_completed", s.UpdateStatus)
	}

	// logs: each line after its replica (NAME.SLOT.TASKID@NODE).
	lineRe := regexp.MustCompile(`^` + regexp.QuoteMeta(n) + `\.([1-3])\.[a-z0-9]{12}@` + regexp.QuoteMeta(node) + ` *\| started (` + one + `|` + two + `)$`)
	r = docker(t, "service", "logs", n).OK(t)
	slots := map[string]bool{}
	for _, l := range r.Lines() {
		m := lineRe.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("docker service logs: line %q, want %s.SLOT.TASKID@%s | started …", l, n, node)
			continue
		}
		slots[m[1]] = true
	}
	if len(slots) != 3 {
		t.Errorf("docker service logs: lines of slots %v, want 1, 2 and 3\n%s", slots, r.Output())
	}
	r = docker(t, "service", "logs", "--no-task-ids", "--timestamps", "--tail", "1", n).OK(t)
	tsRe := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\S+ ` + regexp.QuoteMeta(n) + `\.[1-3]@` + regexp.QuoteMeta(node) + ` *\| started `)
	for _, l := range r.Lines() {
		if !tsRe.MatchString(l) {
			t.Errorf("docker service logs --no-task-ids --timestamps --tail 1: line %q, want TIME %s.SLOT@%s | started …", l, n, node)
		}
	}
	r = docker(t, "service", "logs", "--raw", n).OK(t)
	for _, l := range r.Lines() {
		if !strings.HasPrefix(l, "started ") {
			t.Errorf("docker service logs --raw: line %q, want the replica's own line", l)
		}
	}

	// rm: the service, its replicas and its port are gone.
	docker(t, "service", "rm", n).OK(t).StdoutIs(t, n+"\n")
	docker(t, "service", "ls", "-q", "--filter", "name="+n).OK(t).StdoutIs(t, "")
	eventually(t, 30*time.Second, "the service's containers removed", func() (bool, string) {
		r := docker(t, "ps", "-a", "-q", "--filter", "label=com.docker.swarm.service.id="+id)
		return r.ExitCode == 0 && r.Stdout == "", r.Output()
	})
	eventually(t, 10*time.Second, "the published port closed", func() (bool, string) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err != nil {
			return true, ""
		}
		c.Close()
		return false, "still accepting connections"
	})
	failsWith(t, docker(t, "service", "inspect", n), "no such service")
}

// failsWith checks a failed docker command: exit 1, and stderr one line
// (the CLI's "Error response from daemon: …" or "Error: …") holding
// every one of words, case-insensitively ("a|b": either).
func failsWith(t *testing.T, r *harness.Result, words ...string) {
	t.Helper()
	msg := strings.TrimSpace(r.Stderr)
	if r.ExitCode != 1 || msg == "" || strings.Contains(msg, "\n") {
		t.Errorf("%s: want exit 1 and one line on stderr\n%s", r.Cmdline(), r.Output())
		return
	}
	for _, w := range words {
		if !containsAnyFold(msg, strings.Split(w, "|")...) {
			t.Errorf("%s: error %q does not mention %q", r.Cmdline(), msg, w)
		}
	}
}

func sorted(l []string) []string {
	out := append([]string(nil), l...)
	sort.Strings(out)
	return out
}

// The node and the swarm: one node, this host, the leader; a swarm that
// is always active and cannot be initialized, joined or left.
func TestServiceNodeAndSwarm(t *testing.T) {
	parallel(t)
	r := docker(t, "node", "ls").OK(t)
	lines := r.Lines()
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ID ") {
		t.Fatalf("docker node ls: want the header and one node\n%s", r.Output())
	}
	f := strings.Fields(lines[1])
	// ID * HOSTNAME Ready Active Leader VERSION
	if len(f) < 6 || f[1] != "*" || f[3] != "Ready" || f[4] != "Active" || f[5] != "Leader" {
		t.Errorf("docker node ls: %q, want ID * HOSTNAME Ready Active Leader …", lines[1])
	}
	r = docker(t, "node", "ls", "--format", "{{.ID}} {{.Self}} {{.Status}} {{.Availability}} {{.ManagerStatus}}").OK(t)
	nodeID, rest, _ := strings.Cut(strings.TrimSpace(r.Stdout), " ")
	if rest != "true Ready Active Leader" {
		t.Errorf("docker node ls --format: %q, want ID true Ready Active Leader", r.Stdout)
	}
	r = docker(t, "node", "inspect", "self", "--format", "{{.ID}} {{.Spec.Role}} {{.Spec.Availability}} {{.Status.State}} {{.ManagerStatus.Leader}} {{.ManagerStatus.Reachability}}").OK(t)
	if want := nodeID + " manager active ready true reachable\n"; r.Stdout != want {
		t.Errorf("docker node inspect self: %q, want %q", r.Stdout, want)
	}
	var node struct {
		ID          string
		Description struct{ Hostname string }
	}
	inspectJSON(t, []string{"node", "inspect"}, nodeID, &node)
	if node.ID != nodeID || node.Description.Hostname == "" {
		t.Errorf("docker node inspect %s: %+v", nodeID, node)
	}
	docker(t, "node", "inspect", "no-such-node").Exit(t, 1)
	// docker info: an active swarm of one manager, this node.
	r = docker(t, "info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}} {{.Swarm.Nodes}} {{.Swarm.Managers}} {{.Swarm.NodeID}} {{.Swarm.NodeAddr}} {{.Swarm.Error}}").OK(t)
	if want := "active true 1 1 " + nodeID + " 127.0.0.1 \n"; r.Stdout != want {
		t.Errorf("docker info (Swarm): %q, want %q", r.Stdout, want)
	}
	r = docker(t, "info", "--format", "{{json .Swarm.Cluster}}").OK(t)
	var cluster struct {
		ID   string
		Spec struct{ Name string }
	}
	if err := json.Unmarshal([]byte(r.Stdout), &cluster); err != nil || cluster.ID == "" {
		t.Errorf("docker info: Swarm.Cluster %q (%v), want the cluster's ID", r.Stdout, err)
	}
	r = docker(t, "info").OK(t)
	if !strings.Contains(r.Stdout, "Swarm: active") || !strings.Contains(r.Stdout, "NodeID: "+nodeID) || !strings.Contains(r.Stdout, "Is Manager: true") {
		t.Errorf("docker info: want Swarm: active, this node and Is Manager: true\n%s", r.Output())
	}
	// The swarm is there from the start and stays.
	failsWith(t, docker(t, "swarm", "init"), "already part of a swarm")
	failsWith(t, docker(t, "swarm", "join", "--token", "SWMTKN-1-x", "127.0.0.1:2377"), "already part of a swarm")
	failsWith(t, docker(t, "swarm", "leave", "--force"), "cannot be left")
	failsWith(t, docker(t, "swarm", "unlock-key"), "never locked")
	failsWith(t, docker(t, "node", "update", "--availability", "drain", "self"), "cannot update node")
	failsWith(t, docker(t, "node", "rm", "--force", nodeID), "cannot remove node")
}

// Bad input: a clear one-line error and exit 1 (the docker CLI's), and
// nothing half made.
func TestServiceBadInput(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	missing := name("missing")
	failsWith(t, docker(t, "service", "inspect", missing), "no such service", missing)
	failsWith(t, docker(t, "service", "rm", missing), "no such service", missing)
	failsWith(t, docker(t, "service", "ps", missing), "no such service", missing)
	failsWith(t, docker(t, "service", "logs", missing), "no such task or service", missing)
	failsWith(t, docker(t, "service", "scale", missing+"=2"), "no such service", missing)
	failsWith(t, docker(t, "service", "update", "--replicas", "2", missing), "no such service", missing)
	failsWith(t, docker(t, "service", "rollback", missing), "no such service", missing)

	// A name in use: a conflict; the first service is untouched.
	n := name("dup")
	serviceRmOnCleanup(t, n)
	r := dockerWith(t, svcSlow, "service", "create", "-d", "--name", n, bb, "sh", "-c", idleScript).OK(t)
	id := strings.TrimSpace(r.Stdout)
	if !serviceIDRe.MatchString(id) {
		t.Errorf("service create -d: stdout %q, want only the service ID\n%s", r.Stdout, r.Output())
	}
	failsWith(t, dockerWith(t, svcSlow, "service", "create", "-d", "--name", n, bb, "true"), "in use|already exists", n)
	docker(t, "service", "ls", "-q", "--filter", "name="+n).OK(t).StdoutIs(t, id[:min(12, len(id))]+"\n")
	// A stale version: the CLI's update reads the service first, so only
	// raw requests send one (badinput_test.go's way); here a rollback
	// with nothing to roll back to.
	r = dockerWith(t, svcSlow, "service", "rollback", "-d", n)
	if r.ExitCode == 0 {
		t.Errorf("%s: a service never updated has no previous spec: want an error\n%s", r.Cmdline(), r.Output())
	} else {
		failsWith(t, r, "previous")
	}
	// An image that cannot be pulled: an error, no service.
	bad := name("nopull")
	serviceRmOnCleanup(t, bad)
	r = dockerWith(t, svcSlow, "service", "create", "-d", "--name", bad, ref("no-such-image-"+harness.UniqueSuffix()), "true")
	failsWith(t, r, "no-such-image")
	docker(t, "service", "ls", "-q", "--filter", "name="+bad).OK(t).StdoutIs(t, "")
	// A published port in use: an error, no service.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port
	inUse := name("busyport")
	serviceRmOnCleanup(t, inUse)
	r = dockerWith(t, svcSlow, "service", "create", "-d", "--name", inUse, "-p", fmt.Sprintf("%d:80", busy), bb, "sh", "-c", idleScript)
	failsWith(t, r, fmt.Sprint(busy))
	docker(t, "service", "ls", "-q", "--filter", "name="+inUse).OK(t).StdoutIs(t, "")
	// A crash loop: the service stays, its tasks show the error and the
	// restarts back off (--restart-max-attempts 2: three tasks, no more).
	crash := name("crash")
	serviceRmOnCleanup(t, crash)
	dockerWith(t, svcSlow, "service", "create", "-d", "--restart-max-attempts", "2", "--name", crash, bb, "sh", "-c", "echo dying; exit 3").OK(t)
	eventually(t, 60*time.Second, "three failed tasks of "+crash, func() (bool, string) {
		r := docker(t, "service", "ps", "--format", "{{.CurrentState}} {{.Error}}", crash)
		n := 0
		for _, l := range r.Lines() {
			if strings.HasPrefix(l, "Failed ") && strings.Contains(l, "non-zero exit (3)") {
				n++
			}
		}
		return r.ExitCode == 0 && n == 3, r.Output()
	})
	docker(t, "service", "ls", "--format", "{{.Replicas}}", "--filter", "name="+crash).OK(t).StdoutIs(t, "0/1\n")
	// Host-mode publishing is refused (skiff's keeper publishes): one line.
	hostMode := name("hostmode")
	serviceRmOnCleanup(t, hostMode)
	failsWith(t, dockerWith(t, svcSlow, "service", "create", "-d", "--name", hostMode, "--publish", "mode=host,target=80,published="+fmt.Sprint(freePort(t)), bb, "true"), "host")
	docker(t, "service", "ls", "-q", "--filter", "name="+hostMode).OK(t).StdoutIs(t, "")
}

// The endpoints as raw requests: statuses (swagger's), Docker's JSON
// errors, the version check of an update, the CLI's private
// _up-to-date task filter.
func TestServiceRawAPI(t *testing.T) {
	parallel(t)
	s := harness.StartService(t, user())
	bb := busybox(t)
	r := raw(t, s, "GET", "/v1.47/_ping", nil, nil)
	if r.status != 200 || r.header.Get("Swarm") != "active/manager" {
		t.Errorf("want 200 and the header Swarm: active/manager\n%s", r)
	}
	r = raw(t, s, "HEAD", "/_ping", nil, nil)
	if r.status != 200 || r.header.Get("Swarm") != "active/manager" {
		t.Errorf("want 200 and the header Swarm: active/manager\n%s", r)
	}
	r = raw(t, s, "GET", "/v1.47/swarm", nil, nil)
	var sw struct{ ID string }
	if r.status != 200 || json.Unmarshal(r.body, &sw) != nil || sw.ID == "" {
		t.Errorf("GET /swarm: want 200 and the swarm's ID\n%s", r)
	}
	for _, p := range []string{"/swarm/init", "/swarm/join", "/swarm/leave", "/swarm/update?version=1", "/swarm/unlock"} {
		wantJSONError(t, raw(t, s, "POST", "/v1.47"+p, jsonHeader, []byte(`{}`)), 503, 503)
	}
	wantJSONError(t, raw(t, s, "GET", "/v1.47/swarm/unlockkey", nil, nil), 503, 503)
	missing := name("missing")
	for _, c := range []struct{ method, path string }{
		{"GET", "/services/" + missing},
		{"DELETE", "/services/" + missing},
		{"GET", "/services/" + missing + "/logs?stdout=1"},
		{"GET", "/tasks/" + missing},
		{"GET", "/tasks/" + missing + "/logs?stdout=1"},
		{"GET", "/nodes/" + missing},
	} {
		wantJSONError(t, raw(t, s, c.method, "/v1.47"+c.path, nil, nil), 404, 404)
	}
	wantJSONError(t, raw(t, s, "POST", "/v1.47/services/"+missing+"/update?version=1", jsonHeader, []byte(`{"Name":"x"}`)), 404, 404)
	wantJSONError(t, raw(t, s, "POST", "/v1.47/services/create", jsonHeader, []byte(`{"Name": 5}`)), 400, 400)
	wantJSONError(t, raw(t, s, "POST", "/v1.47/services/create", jsonHeader, []byte(`{"Name": "x", "Mode": {"Replicated": {"Replicas": -1}}}`)), 400, 400)

	// Create (201, the ID), update with a stale version (409) and the
	// current one (200), list with status, tasks up to date, remove.
	n := name("raw")
	serviceRmOnCleanup(t, n)
	spec := fmt.Sprintf(`{"Name": %q, "TaskTemplate": {"ContainerSpec": {"Image": %q, "Args": ["sh", "-c", %q]}}, "Mode": {"Replicated": {"Replicas": 1}}}`, n, bb, idleScript)
	r = raw(t, s, "POST", "/v1.47/services/create", jsonHeader, []byte(spec))
	var created struct {
		ID       string
		Warnings []string
	}
	if r.status != 201 || json.Unmarshal(r.body, &created) != nil || !serviceIDRe.MatchString(created.ID) || created.Warnings == nil {
		t.Fatalf("POST /services/create: want 201 and {\"ID\": …, \"Warnings\": []}\n%s", r)
	}
	r = raw(t, s, "GET", "/v1.47/services/"+n+"?insertDefaults=true", nil, nil)
	var svc struct {
		ID      string
		Version struct{ Index uint64 }
		Spec    json.RawMessage
	}
	if r.status != 200 || json.Unmarshal(r.body, &svc) != nil || svc.ID != created.ID {
		t.Fatalf("GET /services/NAME: want 200 and the service\n%s", r)
	}
	scaled := strings.Replace(string(svc.Spec), `"Replicas":1`, `"Replicas":0`, 1)
	if scaled == string(svc.Spec) {
		t.Fatalf("the spec has no \"Replicas\":1: %s", svc.Spec)
	}
	wantJSONError(t, raw(t, s, "POST", fmt.Sprintf("/v1.47/services/%s/update?version=%d", svc.ID, svc.Version.Index+100), jsonHeader, []byte(scaled)), 409, 409)
	wantJSONError(t, raw(t, s, "POST", fmt.Sprintf("/v1.47/services/%s/update?version=%d&rollback=sideways", svc.ID, svc.Version.Index), jsonHeader, []byte(scaled)), 400, 400)
	r = raw(t, s, "POST", fmt.Sprintf("/v1.47/services/%s/update?version=%d&registryAuthFrom=spec&rollback=none", svc.ID, svc.Version.Index), jsonHeader, []byte(scaled))
	if r.status != 200 || strings.TrimSpace(string(r.body)) != `{"Warnings":[]}` {
		t.Errorf("POST /services/ID/update: want 200 and {\"Warnings\":[]}\n%s", r)
	}
	r = raw(t, s, "GET", "/v1.47/services?status=true&filters="+url.QueryEscape(`{"name":["`+n+`"]}`), nil, nil)
	var list []struct {
		ID            string
		ServiceStatus *struct{ DesiredTasks uint64 }
	}
	if r.status != 200 || json.Unmarshal(r.body, &list) != nil || len(list) != 1 || list[0].ID != svc.ID || list[0].ServiceStatus == nil || list[0].ServiceStatus.DesiredTasks != 0 {
		t.Errorf("GET /services?status=true&filters=name: want the service, with ServiceStatus.DesiredTasks 0\n%s", r)
	}
	r = raw(t, s, "GET", "/v1.47/tasks?filters="+url.QueryEscape(`{"service":["`+svc.ID+`"],"_up-to-date":["true"]}`), nil, nil)
	var tasks []struct{ ID, ServiceID string }
	if r.status != 200 || json.Unmarshal(r.body, &tasks) != nil {
		t.Errorf("GET /tasks?filters=service,_up-to-date: want 200 and a list\n%s", r)
	}
	for _, tk := range tasks {
		if tk.ServiceID != svc.ID {
			t.Errorf("GET /tasks?filters=service: a task of another service\n%s", r)
		}
	}
	wantJSONError(t, raw(t, s, "GET", "/v1.47/tasks?filters="+url.QueryEscape(`{"no-such-filter":["x"]}`), nil, nil), 400, 400)
	r = raw(t, s, "DELETE", "/v1.47/services/"+svc.ID, nil, nil)
	if r.status != 200 {
		t.Errorf("DELETE /services/ID: want 200\n%s", r)
	}
	wantJSONError(t, raw(t, s, "GET", "/v1.47/services/"+svc.ID, nil, nil), 404, 404)
}

// waitUpdateState inspects the service until its update reaches state
// (the docker CLI stops waiting once the tasks are stable, at about the
// moment the keeper marks the update done), for a few seconds at most.
func waitUpdateState(t *testing.T, name, state string) serviceInspect {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := inspectService(t, name)
		if (s.UpdateStatus != nil && string(s.UpdateStatus.State) == state) || time.Now().After(deadline) {
			return s
		}
		time.Sleep(100 * time.Millisecond)
	}
}
