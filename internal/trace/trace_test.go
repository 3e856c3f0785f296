package trace

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestHelperProcess is the child of TestTraceAcrossProcesses: it traces one
// phase (and its exec) into the file its parent named.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("TRACE_HELPER") != "1" {
		t.Skip("run by TestTraceAcrossProcesses")
	}
	Begin("child work")()
}

func TestTraceAcrossProcesses(t *testing.T) {
	file := t.TempDir() + "/trace"
	// A parent process whose clock starts now: the test binary itself,
	// which inherits no T0 and sets one for its child.
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "TRACE_HELPER=1", envTrace+"="+file, envT0+"=1000")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 {
		t.Fatalf("want a start line and a phase line, got %q", lines)
	}
	line := regexp.MustCompile(`^\+ *\d+\.\dms +\d+\.\dms  trace\.test -test\.run=\S+\[\d+\] +(go code starts|child work)$`)
	for _, l := range lines {
		if !line.MatchString(l) {
			t.Errorf("line %q is not +SINCEms LENGTHms PROCESS PHASE", l)
		}
	}
	if f := strings.Fields(lines[0]); f[1] != "0.0ms" || !strings.HasSuffix(lines[0], " go code starts") || !strings.HasSuffix(lines[1], " child work") {
		t.Errorf("want a start line of no length, then child work: %q", lines)
	}
}

func TestOffCostsNothing(t *testing.T) {
	if Enabled() {
		t.Skip(envTrace + " is set for this test run")
	}
	if n := testing.AllocsPerRun(100, func() { Begin("x")() }); n != 0 {
		t.Errorf("Begin with tracing off allocates %v times", n)
	}
}
