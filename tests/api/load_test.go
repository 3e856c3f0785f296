package api

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// procStatus reads one numeric field of /proc/PID/status ("Threads", "VmRSS").
func procStatus(pid int, field string) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && k == field {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.Atoi(f[0])
				return n
			}
		}
	}
	return -1
}

func vmRSSKiB(pid int) int {
	if pid == 0 {
		return 0
	}
	return procStatus(pid, "VmRSS")
}

// fdCount is the number of open file descriptors of pid.
func fdCount(pid int) int {
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(entries)
}

// descendants counts the processes below pid.
func descendants(pid int) int { return len(descendantList(pid)) }

// descendantList describes the processes below pid: "PID COMM (STATE)".
func descendantList(pid int) []string {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp := procStatus(p, "PPid"); pp > 0 {
			children[pp] = append(children[pp], p)
		}
	}
	var out []string
	var walk func(int)
	walk = func(p int) {
		for _, c := range children[p] {
			comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", c))
			state := "?"
			if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c)); err == nil {
				for _, l := range strings.Split(string(data), "\n") {
					if v, ok := strings.CutPrefix(l, "State:"); ok {
						state = strings.TrimSpace(v)
					}
				}
			}
			out = append(out, fmt.Sprintf("%d %s (%s)", c, strings.TrimSpace(string(comm)), state))
			walk(c)
		}
	}
	walk(pid)
	return out
}

// serviceFootprint is what a leak would grow: threads, open files, child
// processes of the service.
type serviceFootprint struct{ threads, fds, children int }

func footprint(s *harness.Service) serviceFootprint {
	pid := s.PID()
	return serviceFootprint{procStatus(pid, "Threads"), fdCount(pid), descendants(pid)}
}

// dropMidStream opens a streaming request (a hijacked attach, or logs with
// follow), reads until it has seen some output, and closes the connection.
func dropMidStream(t testing.TB, s *harness.Service, method, path string, upgrade bool) {
	t.Helper()
	dropMidStreamBody(t, s, method, path, upgrade, "")
}

// dropMidStreamBody is dropMidStream with a JSON request body.
func dropMidStreamBody(t testing.TB, s *harness.Service, method, path string, upgrade bool, body string) {
	t.Helper()
	conn, err := s.Dial()
	must(t, err)
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	hdr := "Host: docker\r\n"
	if upgrade {
		hdr += "Connection: Upgrade\r\nUpgrade: tcp\r\n"
	}
	if method == http.MethodPost {
		hdr += fmt.Sprintf("Content-Type: application/json\r\nContent-Length: %d\r\n", len(body))
	}
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\n%s\r\n%s", method, path, hdr, body)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	want := http.StatusOK
	if upgrade {
		want = http.StatusSwitchingProtocols
	}
	if resp.StatusCode != want {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		t.Fatalf("%s %s: %s %s, want %d", method, path, resp.Status, b, want)
	}
	var r io.Reader = resp.Body
	if upgrade {
		r = br // the hijacked stream follows the headers
	}
	buf := make([]byte, 64)
	if _, err := io.ReadAtLeast(r, buf, 16); err != nil {
		t.Fatalf("%s %s: no output before the disconnect: %v", method, path, err)
	}
}

// TestClientDisconnectsMidStream drops `logs -f` and `attach` streams
// halfway through, many times: the service goes on serving and its
// threads, open files and child processes do not grow with them. Not
// parallel: other tests' connections and containers would move the counts.
func TestClientDisconnectsMidStream(t *testing.T) {
	needRootless(t)
	s := harness.StartService(t, user())
	if s.PID() == 0 {
		t.Skip("SKIFF_API_SOCKET: the service is not the harness's child, its footprint cannot be read")
	}
	n := name("chatty")
	runDetached(t, n, []string{"-i"}, "sh", "-c", "trap 'exit 0' TERM; while :; do echo chatter-chatter-chatter; sleep 0.05; done")
	streams := []struct {
		method, path string
		upgrade      bool
	}{
		{http.MethodGet, "/v1.41/containers/" + n + "/logs?follow=1&stdout=1&stderr=1", false},
		{http.MethodGet, "/v1.41/containers/" + n + "/logs?follow=1&stdout=1&tail=0", false},
		{http.MethodPost, "/v1.41/containers/" + n + "/attach?stream=1&stdout=1&stderr=1", true},
		{http.MethodPost, "/v1.41/containers/" + n + "/attach?stream=1&stdin=1&stdout=1&stderr=1", true},
	}
	round := func() {
		for _, st := range streams {
			dropMidStream(t, s, st.method, st.path, st.upgrade)
		}
	}
	round() // warm up: lazily started helpers, caches
	time.Sleep(time.Second)
	base := footprint(s)
	const rounds = 10
	for i := 0; i < rounds; i++ {
		round()
	}
	var now serviceFootprint
	eventually(t, 15*time.Second, "the service's footprint back near its level before the disconnects", func() (bool, string) {
		now = footprint(s)
		ok := now.fds <= base.fds+4 && now.children <= base.children && now.threads <= base.threads+4
		return ok, fmt.Sprintf("before %+v, after %d×%d dropped streams %+v; the service's descendants: %v", base, rounds, len(streams), now, descendantList(s.PID()))
	})
	stillServing(t, s)
	// The container is unharmed and still streams.
	r := docker(t, "logs", "--tail", "1", n).OK(t)
	if !strings.Contains(r.Stdout, "chatter") {
		t.Errorf("docker logs after the disconnects: %q", r.Stdout)
	}
	docker(t, "stop", n).OK(t)
	// An exec's stream dropped likewise: the exec ends with its process.
	n2 := name("exec-drop")
	runDetached(t, n2, nil, idleCmd...)
	for i := 0; i < 5; i++ {
		r := raw(t, s, http.MethodPost, "/v1.41/containers/"+n2+"/exec", jsonHeader,
			[]byte(`{"AttachStdout": true, "Cmd": ["sh", "-c", "while :; do echo exec-chatter; sleep 0.05; done"]}`))
		if r.status != 201 {
			t.Fatalf("exec create:\n%s", r)
		}
		var id struct{ Id string }
		must(t, json.Unmarshal(r.body, &id))
		dropMidStreamBody(t, s, http.MethodPost, "/v1.41/exec/"+id.Id+"/start", true, `{"Detach": false, "Tty": false}`)
	}
	stillServing(t, s)
}

// supervisors counts the skiff-supervisor processes on the host that run
// the harness's copy of the binary (one per running container).
func supervisors() int {
	sup := filepath.Join(filepath.Dir(harness.Binary), "skiff-supervisor")
	n := 0
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err == nil && strings.TrimSuffix(exe, " (deleted)") == sup {
			n++
		}
	}
	return n
}

// TestConcurrentRuns starts 50 `docker run --rm busybox true` at once. Not
// parallel: it counts the user's supervisors and mounts before and after.
func TestConcurrentRuns(t *testing.T) {
	needRootless(t)
	s := harness.StartService(t, user())
	bb := busybox(t)
	docker(t, "run", "--rm", bb, "true").OK(t)
	supBefore := supervisors()
	mountsBefore := userMounts(t)
	var before serviceFootprint
	if s.PID() != 0 {
		before = footprint(s)
	}
	const n = 50
	prefix := name("load")
	results := make([]*harness.Result, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i] = dockerWith(t, harness.RunOptions{Timeout: 3 * time.Minute}, "run", "--rm", "--name", fmt.Sprintf("%s-%d", prefix, i), bb, "true")
		}(i)
	}
	wg.Wait()
	t.Logf("%d concurrent docker run --rm: %s", n, time.Since(start).Round(time.Millisecond))
	failed := 0
	for _, r := range results {
		if r.ExitCode != 0 {
			failed++
			if failed <= 3 {
				t.Errorf("%s: want exit 0\n%s", r.Cmdline(), r.Output())
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d concurrent docker run --rm failed", failed, n)
	}
	// Nothing left: containers (both CLIs), supervisors, mounts.
	eventually(t, 20*time.Second, "no container of the load left", func() (bool, string) {
		a := docker(t, "ps", "-a", "-q", "--filter", "name="+prefix).Stdout
		b := skiff(t, "ps", "-a", "-q", "--filter", "name="+prefix).Stdout
		return a == "" && b == "", fmt.Sprintf("docker ps -a: %q, skiff ps -a: %q", a, b)
	})
	eventually(t, 20*time.Second, "the supervisors of the load gone", func() (bool, string) {
		n := supervisors()
		return n <= supBefore, fmt.Sprintf("%d supervisors, %d before", n, supBefore)
	})
	eventually(t, 20*time.Second, "the mounts of the load gone", func() (bool, string) {
		m := userMounts(t)
		return len(m) <= len(mountsBefore), fmt.Sprintf("%d mounts under the store, %d before: %v", len(m), len(mountsBefore), m)
	})
	if s.PID() != 0 {
		eventually(t, 15*time.Second, "the service's footprint back", func() (bool, string) {
			now := footprint(s)
			return now.fds <= before.fds+4 && now.children <= before.children,
				fmt.Sprintf("before %+v, after %+v; the service's descendants: %v", before, now, descendantList(s.PID()))
		})
	}
	stillServing(t, s)
}

// userMounts lists the mounts under the user's store in the mount
// namespace of its pause process (where rootless skiff mounts), or in the
// host's when there is none.
func userMounts(t testing.TB) []string {
	t.Helper()
	pid := os.Getpid()
	if p, err := harness.PausePID(user()); err == nil {
		pid = p
	}
	m, err := harness.MountsUnder(pid, user().DataDir())
	if err != nil {
		return nil
	}
	return m
}
