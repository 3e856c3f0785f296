package e2e

// Helpers for the services tests (services_*_test.go): services created
// through the real binary, their replicas as `ps` shows them, the keeper
// process, and HTTP clients of the published port.
//
// Conventions:
//   - every service gets a unique name (svcName) and a t.Cleanup
//     `service rm`;
//   - replicas serve HTTP on port 80 with busybox httpd (svcCmd); the page
//     is "VARIANT HOSTNAME TOKEN": the image's /variant (harness.PushVariant
//     "svc-www:v1", "svc-www:v2"), the replica's hostname and a random token
//     drawn when the replica starts, so two replicas never answer alike;
//   - the published port is reached from the test process (root, in the
//     host's network namespace, which is also the unprivileged user's);
//   - failed service commands exit 1 with one "Error: " line (errExit).

import (
	"encoding/json"
	"fmt"
	"github.com/moby/moby/api/types/swarm"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// Docker's labels on a service's task containers.
const (
	labelServiceName = "com.docker.swarm.service.name"
	labelServiceID   = "com.docker.swarm.service.id"
	labelTaskID      = "com.docker.swarm.task.id"
	labelTaskSlot    = "com.docker.swarm.task.slot"
)

// svcWWWScript is the replicas' command (sh -c): write the page, say so
// on stdout (for service logs), serve /www on port 80 until SIGTERM (the
// trap makes stop quick: a pid 1 without a handler ignores SIGTERM).
const svcWWWScript = `mkdir -p /www; ` +
	`echo "$(cat /variant 2>/dev/null || echo none) $(hostname) $RANDOM$RANDOM" > /www/index.html; ` +
	`echo "started $(hostname)"; ` +
	`trap 'exit 0' TERM; httpd -f -p 80 -h /www & wait`

// svcCmd is the replicas' command line after the image.
var svcCmd = []string{"sh", "-c", svcWWWScript}

// svcName returns a service name unique to this run: svc-<what>-<hex>.
func svcName(what string) string { return "svc-" + what + "-" + harness.UniqueSuffix() }

var (
	svcPushMu sync.Mutex
	svcPushed = map[string]*harness.Image{}
)

// svcImageRef pushes (once per test binary) the busybox variant
// Registry/svc-www:TAG whose /variant holds TAG, and returns its reference.
func svcImageRef(t testing.TB, tag string) string {
	t.Helper()
	svcPushMu.Lock()
	defer svcPushMu.Unlock()
	if _, ok := svcPushed[tag]; !ok {
		svcPushed[tag] = harness.PushVariant(t, "svc-www", tag, tag)
	}
	return harness.Registry + "/svc-www:" + tag
}

// svcImage is svcImageRef pulled (once per user and test binary) by u, so
// that tests which are not about pulling do not race each other's pulls.
func svcImage(t testing.TB, u *harness.User, tag string) string {
	t.Helper()
	svcImageRef(t, tag)
	return pulled(t, u, "svc-www:"+tag)
}

// svcRmOnCleanup removes the services (as u) when the test ends.
func svcRmOnCleanup(t *testing.T, u *harness.User, names ...string) {
	t.Helper()
	t.Cleanup(func() {
		args := append([]string{"service", "rm"}, names...)
		r := harness.RunAsWith(t, u, harness.RunOptions{Timeout: 45 * time.Second}, args...)
		if r.ExitCode != 0 && !strings.Contains(strings.ToLower(r.Stderr), "no such") && !strings.Contains(strings.ToLower(r.Stderr), "not found") {
			t.Logf("cleanup: %s\n%s", r.Cmdline(), r.Output())
		}
	})
}

var svcIDRe = regexp.MustCompile(`^[0-9a-z]{25}$`)

// svcCreate runs `service create --name NAME FLAGS IMAGE CMD...` as u,
// registers the cleanup, expects exit 0 and the service ID alone on
// stdout (Docker's: 25 lowercase alphanumerics), and returns the ID.
func svcCreate(t *testing.T, u *harness.User, name string, flags []string, image string, cmd ...string) string {
	t.Helper()
	svcRmOnCleanup(t, u, name)
	args := append([]string{"service", "create", "--name", name}, flags...)
	args = append(args, image)
	args = append(args, cmd...)
	r := harness.RunAsWith(t, u, harness.RunOptions{Timeout: 90 * time.Second}, args...).OK(t)
	id := strings.TrimSpace(r.Stdout)
	if !svcIDRe.MatchString(id) || r.Stdout != id+"\n" {
		t.Errorf("%s: stdout %q, want the service ID (25 lowercase alphanumerics) and a newline\n%s", r.Cmdline(), r.Stdout, r.Output())
		if lines := r.Lines(); len(lines) > 0 {
			id = strings.TrimSpace(lines[len(lines)-1])
		}
	}
	return id
}

// serviceJSON is Docker's service inspect output.
type serviceJSON struct{ swarm.Service }

// replicasWanted is Spec.Mode.Replicated.Replicas, or -1.
func (s serviceJSON) replicasWanted() int {
	if s.Spec.Mode.Replicated == nil || s.Spec.Mode.Replicated.Replicas == nil {
		return -1
	}
	return int(*s.Spec.Mode.Replicated.Replicas)
}

// updateState is UpdateStatus.State, or "".
func (s serviceJSON) updateState() string {
	if s.UpdateStatus == nil {
		return ""
	}
	return string(s.UpdateStatus.State)
}

// svcInspectAs runs `service inspect NAME` as u and decodes the one element.
func svcInspectAs(t testing.TB, u *harness.User, name string) serviceJSON {
	t.Helper()
	r := harness.RunAs(t, u, "service", "inspect", name).OK(t)
	var out []serviceJSON
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
		t.Fatalf("%s: output is not a JSON array: %v\n%s", r.Cmdline(), err, r.Output())
	}
	if len(out) != 1 {
		t.Fatalf("%s: want 1 element, got %d\n%s", r.Cmdline(), len(out), r.Output())
	}
	return out[0]
}

// svcLsRow returns the row of NAME in `service ls` (the default table:
// ID NAME MODE REPLICAS IMAGE PORTS), or nil.
func svcLsRow(t testing.TB, u *harness.User, name string) map[string]string {
	t.Helper()
	r := harness.RunAs(t, u, "service", "ls").OK(t)
	tb := parseTable(t, r.Stdout)
	for _, col := range []string{"ID", "NAME", "MODE", "REPLICAS", "IMAGE", "PORTS"} {
		if !slices.Contains(tb.header, col) {
			t.Errorf("%s: no %s column in the header %q", r.Cmdline(), col, tb.header)
		}
	}
	return tb.rowWith("NAME", name)
}

// svcListed reports whether `service ls` lists NAME.
func svcListed(t testing.TB, u *harness.User, name string) bool {
	t.Helper()
	return svcLsRow(t, u, name) != nil
}

// replicasCell is the REPLICAS cell of NAME in service ls ("3/3"), or a
// description of why there is none.
func replicasCell(t testing.TB, u *harness.User, name string) string {
	t.Helper()
	row := svcLsRow(t, u, name)
	if row == nil {
		return "(service ls does not list " + name + ")"
	}
	return row["REPLICAS"]
}

// waitReplicasCell waits until service ls shows "want" (e.g. "3/3") as
// NAME's REPLICAS.
func waitReplicasCell(t testing.TB, u *harness.User, name, want string, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, fmt.Sprintf("service ls showing %s with REPLICAS %s", name, want), func() (bool, string) {
		c := replicasCell(t, u, name)
		return c == want || strings.HasPrefix(c, want+" "), fmt.Sprintf("REPLICAS %q", c)
	})
}

// replica is one task container as ps shows it.
type replica struct {
	Name, ID, Service, Slot, TaskID, State string
}

// replicasOf lists the containers labelled as tasks of service NAME (ps,
// with -a when all), sorted by name.
func replicasOf(t testing.TB, u *harness.User, name string, all bool) []replica {
	t.Helper()
	args := []string{"ps", "--no-trunc", "--filter", "label=" + labelServiceName + "=" + name,
		"--format", `{{.Names}}|{{.ID}}|{{.Label "` + labelServiceName + `"}}|{{.Label "` + labelTaskSlot + `"}}|{{.Label "` + labelTaskID + `"}}|{{.State}}`}
	if all {
		args = append(args, "-a")
	}
	r := harness.RunAs(t, u, args...).OK(t)
	var out []replica
	for _, l := range r.Lines() {
		f := strings.Split(l, "|")
		if len(f) != 6 {
			t.Fatalf("%s: line %q: want 6 fields", r.Cmdline(), l)
		}
		out = append(out, replica{Name: f[0], ID: f[1], Service: f[2], Slot: f[3], TaskID: f[4], State: f[5]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// replicaNames is the names of rs.
func replicaNames(rs []replica) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return out
}

// slotNames is NAME.1 … NAME.n.
func slotNames(name string, n int) []string {
	var out []string
	for i := 1; i <= n; i++ {
		out = append(out, name+"."+strconv.Itoa(i))
	}
	sort.Strings(out)
	return out
}

// waitRunningReplicas waits until exactly n containers of service NAME
// run (ps, no -a), each named NAME.SLOT, and returns them.
func waitRunningReplicas(t testing.TB, u *harness.User, name string, n int, timeout time.Duration) []replica {
	t.Helper()
	slotRe := regexp.MustCompile(`^` + regexp.QuoteMeta(name) + `\.[1-9][0-9]*$`)
	var rs []replica
	eventually(t, timeout, fmt.Sprintf("exactly %d running replicas %s.N", n, name), func() (bool, string) {
		rs = replicasOf(t, u, name, false)
		ok := len(rs) == n
		for _, r := range rs {
			ok = ok && slotRe.MatchString(r.Name) && r.State == "running"
		}
		return ok, fmt.Sprintf("running: %v", replicaNames(rs))
	})
	return rs
}

// taskRow is one row of `service ps --no-trunc NAME`, with the name's
// history marker (" \_ ") removed.
type taskRow struct {
	ID, Name, Image, Desired, Current, Error string
}

// svcTasks runs `service ps --no-trunc NAME` as u and parses the table:
// ID NAME IMAGE NODE DESIRED STATE CURRENT STATE ERROR PORTS.
func svcTasks(t testing.TB, u *harness.User, name string) []taskRow {
	t.Helper()
	r := harness.RunAs(t, u, "service", "ps", "--no-trunc", name).OK(t)
	tb := parseTable(t, r.Stdout)
	for _, col := range []string{"ID", "NAME", "IMAGE", "NODE", "DESIRED STATE", "CURRENT STATE", "ERROR"} {
		if !slices.Contains(tb.header, col) {
			t.Fatalf("%s: no %s column in the header %q\n%s", r.Cmdline(), col, tb.header, r.Output())
		}
	}
	var out []taskRow
	for _, row := range tb.rows {
		out = append(out, taskRow{
			ID:      row["ID"],
			Name:    strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(row["NAME"]), `\_`)),
			Image:   row["IMAGE"],
			Desired: row["DESIRED STATE"],
			Current: row["CURRENT STATE"],
			Error:   row["ERROR"],
		})
	}
	return out
}

// describeTasks formats task rows for messages.
func describeTasks(rows []taskRow) string {
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "\n    %s %s %s desired=%q current=%q error=%q", r.ID, r.Name, r.Image, r.Desired, r.Current, r.Error)
	}
	return b.String()
}

// keeperPIDs returns the live processes whose command line has the
// hidden "__keeper" argument and the service's ID (or a 12-character
// prefix of it).
func keeperPIDs(id string) []int {
	if id == "" {
		return nil
	}
	return procByCmdline(func(args []string) bool {
		role, hasID := false, false
		for _, a := range args {
			if strings.Contains(a, "__keeper") {
				role = true
			}
			if strings.Contains(a, id) || len(a) >= 12 && strings.HasPrefix(id, a) {
				hasID = true
			}
		}
		return role && hasID
	})
}

// waitOneKeeper waits until exactly one keeper of service id runs, and
// returns its pid.
func waitOneKeeper(t testing.TB, u *harness.User, id string, timeout time.Duration) int {
	t.Helper()
	var pids []int
	eventually(t, timeout, "one keeper process (…__keeper… "+id+")", func() (bool, string) {
		pids = keeperPIDs(id)
		return len(pids) == 1, fmt.Sprintf("keeper pids %v; processes of %s:\n%s", pids, u.Name, userProcesses(u))
	})
	return pids[0]
}

// waitNoKeeper waits until no keeper of service id runs.
func waitNoKeeper(t testing.TB, u *harness.User, id, after string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids := keeperPIDs(id)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("5 s after %s, keeper processes of service %s remain: %v\n%s", after, id, pids, userProcesses(u))
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// svcGetN makes n requests to the published port and returns the bodies
// (trimmed) and the errors.
func svcGetN(port, n int) (bodies []string, errs []string) {
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	for i := 0; i < n; i++ {
		body, err := portGet(url)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		bodies = append(bodies, strings.TrimSpace(body))
	}
	return bodies, errs
}

// waitServiceAnswers waits until the published port answers with a body
// starting with prefix ("v1 ").
func waitServiceAnswers(t testing.TB, port int, prefix string, timeout time.Duration) string {
	t.Helper()
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	var got string
	eventually(t, timeout, "GET "+url+" answering "+strconv.Quote(prefix+"…"), func() (bool, string) {
		body, err := portGet(url)
		if err != nil {
			return false, err.Error()
		}
		got = strings.TrimSpace(body)
		return strings.HasPrefix(got, prefix), fmt.Sprintf("body %q", body)
	})
	return got
}

// distinct is the sorted set of ss.
func distinct(ss []string) []string {
	m := map[string]bool{}
	for _, s := range ss {
		m[s] = true
	}
	var out []string
	for s := range m {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// poller requests the published port every interval until stopped and
// records each answer and failure, for updates that must not drop a
// request.
type poller struct {
	stop chan struct{}
	done chan struct{}

	mu     sync.Mutex
	ok     int
	fails  []string
	bodies map[string]int
	order  []string // bodies in the order first seen
}

func startPoller(port int, interval time.Duration) *poller {
	p := &poller{stop: make(chan struct{}), done: make(chan struct{}), bodies: map[string]int{}}
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	start := time.Now()
	go func() {
		defer close(p.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			body, err := portGet(url)
			p.mu.Lock()
			if err != nil {
				p.fails = append(p.fails, fmt.Sprintf("%6.2fs: %v", time.Since(start).Seconds(), err))
			} else {
				p.ok++
				b := strings.TrimSpace(body)
				if p.bodies[b] == 0 {
					p.order = append(p.order, fmt.Sprintf("%6.2fs: %q", time.Since(start).Seconds(), b))
				}
				p.bodies[b]++
			}
			p.mu.Unlock()
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return p
}

// finish stops the poller and returns the number of answered requests,
// the failures and the distinct bodies in the order first seen.
func (p *poller) finish() (ok int, fails, seen []string) {
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ok, p.fails, p.order
}

// killPID sends SIGKILL to pid as root (the test process).
func killPID(t testing.TB, pid int) {
	t.Helper()
	p, err := os.FindProcess(pid)
	must(t, err)
	if err := p.Kill(); err != nil {
		t.Fatalf("kill -9 %d: %v", pid, err)
	}
}

// containerPID is State.Pid of a container of u.
func containerPID(t testing.TB, u *harness.User, name string) int {
	t.Helper()
	r := harness.RunAs(t, u, "inspect", "-f", "{{.State.Pid}}", name).OK(t)
	pid, err := strconv.Atoi(strings.TrimSpace(r.Stdout))
	if err != nil || pid <= 0 {
		t.Fatalf("%s: want a pid > 0\n%s", r.Cmdline(), r.Output())
	}
	return pid
}

// waitReplaced waits until a running container named name exists whose
// ID is not old, and returns its ID.
func waitReplaced(t testing.TB, u *harness.User, name, old string, timeout time.Duration) string {
	t.Helper()
	var id string
	eventually(t, timeout, fmt.Sprintf("%s replaced by a new running container", name), func() (bool, string) {
		r := harness.RunAs(t, u, "inspect", "-f", "{{.Id}} {{.State.Status}}", name)
		f := strings.Fields(r.Stdout)
		if r.ExitCode != 0 || len(f) != 2 {
			return false, r.Output()
		}
		id = f[0]
		return f[0] != old && f[1] == "running", fmt.Sprintf("id %.12s status %s (old %.12s)", f[0], f[1], old)
	})
	return id
}

// labelsOf returns a container's Config.Labels.
func labelsOf(t testing.TB, u *harness.User, name string) map[string]string {
	t.Helper()
	return inspectAs(t, u, name).Config.Labels
}
