package e2e

// Helpers for the container lifecycle tests (lifecycle_*_test.go): detached
// containers, inspect, ps tables, polling and the supervisor process.
//
// Conventions of these tests:
//   - every container gets a unique name (lcName) and a t.Cleanup `rm -f`;
//   - a failed command reports one "Error: " line and exits as Docker's CLI
//     does: 1 (errExit below) for every command but run; run (and create
//     with invalid options) 125 (runExit), 126/127 when the container's
//     command cannot be run or does not exist; an unknown flag or a flag
//     value that does not parse 125 (usageExit);
//   - long-running containers trap TERM so `stop` does not wait for its
//     timeout (a pid 1 without a handler ignores SIGTERM).

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// Exit codes of failed commands, Docker's (see the README's Exit codes).
const (
	// errExit: any command but run failed (rm, inspect, start, pull, ...).
	errExit = 1
	// runExit: run failed in skiff (no such image, a name in use, a port
	// taken), or run or create got options that are not valid.
	runExit = 125
	// usageExit: an unknown flag, or a flag value that does not parse.
	usageExit = 125
)

// idleScript runs until SIGTERM, then exits 0 at once.
const idleScript = "trap 'exit 0' TERM; sleep 300 & wait"

// idleCmd is a container command that runs until stopped.
var idleCmd = []string{"sh", "-c", idleScript}

var containerIDRe = regexp.MustCompile(`^[0-9a-f]{64}$`)

// lcName returns a container name unique to this run: lc-<what>-<hex>.
func lcName(what string) string { return "lc-" + what + "-" + harness.UniqueSuffix() }

// rmOnCleanup removes the containers (rm -f, as u) when the test ends.
func rmOnCleanup(t *testing.T, u *harness.User, names ...string) {
	t.Helper()
	t.Cleanup(func() {
		args := append([]string{"rm", "-f"}, names...)
		r := harness.RunAsWith(t, u, harness.RunOptions{Timeout: 30 * time.Second}, args...)
		if r.ExitCode != 0 && !strings.Contains(strings.ToLower(r.Stderr), "no such") {
			t.Logf("cleanup: %s\n%s", r.Cmdline(), r.Output())
		}
	})
}

// runDetachedAs starts `run -d --name name FLAGS IMAGE CMD...` as u, checks
// it printed a full ID, registers the cleanup and returns the ID.
func runDetachedAs(t *testing.T, u *harness.User, image, name string, flags []string, cmd ...string) string {
	t.Helper()
	rmOnCleanup(t, u, name)
	args := append([]string{"run", "-d", "--name", name}, flags...)
	args = append(args, image)
	args = append(args, cmd...)
	r := harness.RunAs(t, u, args...).OK(t)
	id := strings.TrimSpace(r.Stdout)
	if !containerIDRe.MatchString(id) || r.Stdout != id+"\n" {
		t.Fatalf("%s: stdout %q, want the 64-hex container ID and a newline\n%s", r.Cmdline(), r.Stdout, r.Output())
	}
	return id
}

// runDetached is runDetachedAs for the e2e user and the busybox image.
func runDetached(t *testing.T, name string, flags []string, cmd ...string) string {
	t.Helper()
	return runDetachedAs(t, harness.E2E, busybox(t), name, flags, cmd...)
}

// createContainer runs `create --name name FLAGS busybox CMD...` and returns the ID.
func createContainer(t *testing.T, name string, flags []string, cmd ...string) string {
	t.Helper()
	rmOnCleanup(t, harness.E2E, name)
	args := append([]string{"create", "--name", name}, flags...)
	args = append(args, busybox(t))
	args = append(args, cmd...)
	r := skiff(t, args...).OK(t)
	id := strings.TrimSpace(r.Stdout)
	if !containerIDRe.MatchString(id) || r.Stdout != id+"\n" {
		t.Fatalf("%s: stdout %q, want the 64-hex container ID and a newline\n%s", r.Cmdline(), r.Stdout, r.Output())
	}
	return id
}

// healthJSON is Docker's State.Health.
type healthJSON struct {
	Status        string
	FailingStreak int
	Log           []struct {
		Start, End string
		ExitCode   int
		Output     string
	}
}

// containerJSON is the part of Docker's container inspect output the tests check.
type containerJSON struct {
	Id           string
	Name         string
	Created      string
	Path         string
	Args         []string
	Image        string
	RestartCount int
	LogPath      string
	State        struct {
		Status     string
		Running    bool
		Paused     bool
		Restarting bool
		OOMKilled  bool
		Dead       bool
		Pid        int
		ExitCode   int
		Error      string
		StartedAt  string
		FinishedAt string
		Health     *healthJSON
	}
	Config struct {
		Hostname    string
		Image       string
		Cmd         []string
		Entrypoint  []string
		Env         []string
		Labels      map[string]string
		StopSignal  string
		StopTimeout *int
		Tty         bool
		OpenStdin   bool
		Healthcheck *struct {
			Test     []string
			Interval int64
			Retries  int
		}
	}
	HostConfig struct {
		AutoRemove    bool
		RestartPolicy struct {
			Name              string
			MaximumRetryCount int
		}
		LogConfig struct {
			Type   string
			Config map[string]string
		}
		Privileged bool
	}
	Mounts          []json.RawMessage
	NetworkSettings map[string]json.RawMessage
}

// inspectAs runs `inspect NAME` as u and decodes the one-element array.
func inspectAs(t testing.TB, u *harness.User, name string) containerJSON {
	t.Helper()
	r := harness.RunAs(t, u, "inspect", name).OK(t)
	var out []containerJSON
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
		t.Fatalf("%s: output is not a JSON array: %v\n%s", r.Cmdline(), err, r.Output())
	}
	if len(out) != 1 {
		t.Fatalf("%s: want 1 element, got %d\n%s", r.Cmdline(), len(out), r.Output())
	}
	return out[0]
}

// inspectC inspects a container of the e2e user.
func inspectC(t testing.TB, name string) containerJSON {
	t.Helper()
	return inspectAs(t, harness.E2E, name)
}

// stateOf returns State.Status via inspect --format.
func stateOf(t testing.TB, u *harness.User, name string) string {
	t.Helper()
	r := harness.RunAs(t, u, "inspect", "--format", "{{.State.Status}}", name).OK(t)
	return strings.TrimSpace(r.Stdout)
}

// eventually polls cond every 100ms until it returns true or timeout passes;
// then it fails the test with what cond last described.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, desc := cond()
		if ok {
			return
		}
		last = desc
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %s; last seen: %s", what, timeout, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitStatus waits until the container's State.Status is want.
func waitStatus(t testing.TB, u *harness.User, name, want string, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, fmt.Sprintf("container %s status %q", name, want), func() (bool, string) {
		r := harness.RunAs(t, u, "inspect", "--format", "{{.State.Status}}", name)
		s := strings.TrimSpace(r.Stdout)
		return r.ExitCode == 0 && s == want, r.Output()
	})
}

// waitLogs waits until `logs NAME` (stdout and stderr) contains s and returns stdout.
func waitLogs(t testing.TB, name, s string, timeout time.Duration) string {
	t.Helper()
	return waitLogsAs(t, harness.E2E, name, s, timeout)
}

// waitLogsAs is waitLogs for u's container.
func waitLogsAs(t testing.TB, u *harness.User, name, s string, timeout time.Duration) string {
	t.Helper()
	var out string
	eventually(t, timeout, fmt.Sprintf("logs of %s containing %q", name, s), func() (bool, string) {
		r := harness.RunAs(t, u, "logs", name)
		out = r.Stdout
		return r.ExitCode == 0 && strings.Contains(r.Stdout+r.Stderr, s), r.Output()
	})
	return out
}

// waitGoneC waits until inspect says the container does not exist.
func waitGoneC(t testing.TB, u *harness.User, name string, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, "container "+name+" removed", func() (bool, string) {
		r := harness.RunAs(t, u, "inspect", "--format", "{{.State.Status}}", name)
		return r.ExitCode != 0, r.Output()
	})
}

// parseDockerTime parses Docker's RFC 3339 timestamps.
func parseDockerTime(t testing.TB, what, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("%s: %q is not an RFC 3339 time: %v", what, s, err)
	}
	return ts
}

// table is a parsed tabwriter table: header names and rows of cells cut at
// the header's column offsets (in runes, as tabwriter pads).
type table struct {
	header []string
	rows   []map[string]string
}

// parseTable parses the output of ps (or stats) in table form. tabwriter
// counts runes, so the "…" of a truncated command is one column.
func parseTable(t testing.TB, out string) table {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) == 0 || strings.TrimSpace(lines[0]) == "" {
		t.Fatalf("no table header in %q", out)
	}
	head := []rune(lines[0])
	var starts []int
	var names []string
	// A column starts at a non-space after two or more spaces (or at 0).
	for i := 0; i < len(head); i++ {
		if head[i] != ' ' && (i == 0 || (i >= 2 && head[i-1] == ' ' && head[i-2] == ' ')) {
			starts = append(starts, i)
		}
	}
	for k, s := range starts {
		e := len(head)
		if k+1 < len(starts) {
			e = starts[k+1]
		}
		names = append(names, strings.TrimSpace(string(head[s:e])))
	}
	tb := table{header: names}
	for _, l := range lines[1:] {
		rl := []rune(l)
		row := map[string]string{}
		for k, s := range starts {
			e := len(rl)
			if k+1 < len(starts) && starts[k+1] < e {
				e = starts[k+1]
			}
			if s < len(rl) {
				row[names[k]] = strings.TrimSpace(string(rl[s:e]))
			} else {
				row[names[k]] = ""
			}
		}
		tb.rows = append(tb.rows, row)
	}
	return tb
}

// rowWith returns the row whose column col is val, or nil.
func (tb table) rowWith(col, val string) map[string]string {
	for _, r := range tb.rows {
		if r[col] == val {
			return r
		}
	}
	return nil
}

// psNames lists `ps -a --filter name=PREFIX --format {{.Names}}` sorted as printed.
func psNames(t testing.TB, args ...string) []string {
	t.Helper()
	return skiff(t, append([]string{"ps"}, args...)...).OK(t).Lines()
}

// procByCmdline scans /proc for processes whose NUL-separated command line
// satisfies match, and returns their pids.
func procByCmdline(match func(args []string) bool) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || len(b) == 0 {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if match(args) && harness.ProcessAlive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// supervisorArg is the hidden first argument of the supervisor process.
//
// ASSUMPTION (for the lead to align with): the per-container supervisor is
// the skiff binary started with an argument list that contains the literal
// "__supervise" and, as a separate argument or inside one, the container's
// full 64-hex ID (its 12-hex short ID is accepted too). It runs as the
// user's host uid (root of the user's namespace), in its own session.
const supervisorArg = "__supervise"

// supervisorPIDs returns the pids of the supervisor(s) of container id.
func supervisorPIDs(id string) []int {
	return procByCmdline(func(args []string) bool {
		hasRole, hasID := false, false
		for _, a := range args {
			if strings.Contains(a, supervisorArg) {
				hasRole = true
			}
			if strings.Contains(a, id) || a == id[:12] {
				hasID = true
			}
		}
		return hasRole && hasID
	})
}

// userProcesses describes u's processes (pid and command line) for failure messages.
func userProcesses(u *harness.User) string {
	var b strings.Builder
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		st, err := os.ReadFile("/proc/" + e.Name() + "/status")
		if err != nil {
			continue
		}
		uid := -1
		for _, l := range strings.Split(string(st), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "Uid:" {
				uid, _ = strconv.Atoi(f[1])
			}
		}
		if uid != u.UID && !u.SubUID.Contains(uid) {
			continue
		}
		cl, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		fmt.Fprintf(&b, "  %s uid=%d %s\n", e.Name(), uid, strings.ReplaceAll(strings.TrimRight(string(cl), "\x00"), "\x00", " "))
	}
	return b.String()
}

// sessionID returns the session id of pid (field 6 of /proc/PID/stat).
func sessionID(pid int) (int, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	f := strings.Fields(s[i+2:])
	if len(f) < 4 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	return strconv.Atoi(f[3])
}

// markerSleep returns a sleep duration unique to this test, so the
// container's process can be found on the host by its command line.
func markerSleep() string {
	return strconv.Itoa(1_000_000 + int(time.Now().UnixNano()%8_000_000))
}

// sleepPIDs returns the pids of host processes running exactly `sleep marker`.
func sleepPIDs(marker string) []int {
	return procByCmdline(func(args []string) bool {
		return len(args) == 2 && (args[0] == "sleep" || strings.HasSuffix(args[0], "/sleep")) && args[1] == marker
	})
}
