package e2e

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/skiff-project/skiff/tests/harness"
)

// SKIFF_TRACE=FILE: every process of one `run --rm` writes its phases to
// the file, on one clock.
func TestTraceRun(t *testing.T) {
	parallel(t)
	u := harness.E2E
	file := harness.UserDir(t, u) + "/trace"
	harness.RunAsWith(t, u, harness.RunOptions{Env: []string{"SKIFF_TRACE=" + file}}, "run", "--rm", busybox(t), "true").OK(t)
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`^\+ *(\d+\.\d)ms +(\d+\.\d)ms  (\S+) (\S+)\[\d+\] +(.+)$`)
	phases := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("trace line %q is not +SINCEms LENGTHms PROCESS[PID] PHASE", l)
			continue
		}
		phases[m[3]+" "+m[4]+": "+m[5]] = true
	}
	for _, want := range []string{
		"skiff run: create the container",
		"skiff run: wait for the supervisor to start it",
		"skiff-supervisor __supervise: go code starts",
		"skiff-supervisor __supervise: wait for skiff-start to create it",
		"skiff-start __start: go code starts",
		"skiff-start __start: libcontainer: start (namespaces, mounts, init)",
		// --rm: the attached CLI removes the container, handed over by the supervisor.
		"skiff-supervisor __supervise: the attached client removes it",
		"skiff run: remove the container (--rm)",
	} {
		if !phases[want] {
			t.Errorf("no %q in the trace:\n%s", want, data)
		}
	}
	// skiff-start takes the root file system the CLI mounted meanwhile,
	// or mounts it itself when that mount is not done yet.
	if !phases["skiff-start __start: take the root file system the caller mounted"] && !phases["skiff-start __start: mount the root file system"] {
		t.Errorf("skiff-start neither took the CLI's mount nor mounted the root file system:\n%s", data)
	}
	// Off, nothing is written and stderr stays quiet.
	r := skiff(t, "run", "--rm", busybox(t), "true").OK(t)
	if strings.Contains(r.Stderr, "ms  skiff") {
		t.Errorf("a trace without SKIFF_TRACE:\n%s", r.Stderr)
	}
}
