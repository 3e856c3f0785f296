package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// TestSupervisorReapsOrphans: a process of the container whose parent
// exits comes to the supervisor (a child subreaper; with --pid host no
// init of the container's own takes it); when it ends, the supervisor
// reaps it rather than keeping a zombie. The supervisor learns of it from
// SIGCHLD: an idle supervisor polls nothing.
func TestSupervisorReapsOrphans(t *testing.T) {
	harness.Need(t)
	name := lcName("reap")
	marker := markerSleep()
	id := runDetached(t, name, []string{"--pid", "host"}, "sh", "-c", "(sleep 4 &); exec sleep "+marker)
	sup := supervisorPIDs(id)
	if len(sup) != 1 {
		t.Fatalf("want one supervisor process for %s, found %v", id[:12], sup)
	}
	orphan := 0
	eventually(t, 10*time.Second, "the orphaned sleep 4 a child of the supervisor", func() (bool, string) {
		for pid, args := range childrenOf(sup[0]) {
			if args == "sleep 4" {
				orphan = pid
				return true, ""
			}
		}
		return false, fmt.Sprint(childrenOf(sup[0]))
	})
	eventually(t, 20*time.Second, "the orphan reaped once it ended", func() (bool, string) {
		_, err := os.Stat("/proc/" + strconv.Itoa(orphan))
		return os.IsNotExist(err), fmt.Sprintf("pid %d: %s", orphan, procState(orphan))
	})
	if st := inspectC(t, name).State.Status; st != "running" {
		t.Errorf("the container is %s after its orphan was reaped, want running", st)
	}
}

// childrenOf maps the children of pid (by /proc/*/stat's PPid) to their
// command lines, "" for a zombie.
func childrenOf(ppid int) map[int]string {
	out := map[int]string{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:]) // state ppid ...
		if len(f) < 2 || f[1] != strconv.Itoa(ppid) {
			continue
		}
		cl, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		out[pid] = strings.ReplaceAll(strings.TrimRight(string(cl), "\x00"), "\x00", " ")
	}
	return out
}

// procState is the state letter of pid from /proc/PID/stat ("gone" when
// it has none).
func procState(pid int) string {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "gone"
	}
	s := string(stat)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2 : i+3]
	}
	return "?"
}
