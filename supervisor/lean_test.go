package supervisor

import (
	"os"
	"slices"
	"strings"
	"testing"
)

func TestLeanEnvRoundTrip(t *testing.T) {
	env := LeanEnv([]string{"A=1", "GOGC=off", "GOMAXPROCS=4", "B=2"})
	for _, want := range []string{"A=1", "B=2", "GOMAXPROCS=" + leanProcs, "GOGC=" + leanGC} {
		if !slices.Contains(env, want) {
			t.Errorf("LeanEnv: %q missing from %q", want, env)
		}
	}
	for _, kv := range env {
		if k, v, _ := strings.Cut(kv, "="); k == envLeanSaved {
			t.Setenv(k, v)
		}
	}
	t.Setenv("GOMAXPROCS", leanProcs)
	t.Setenv("GOGC", leanGC)
	lean()
	if got := os.Getenv("GOGC"); got != "off" {
		t.Errorf("GOGC after lean = %q, want the caller's off", got)
	}
	if got := os.Getenv("GOMAXPROCS"); got != "4" {
		t.Errorf("GOMAXPROCS after lean = %q, want the caller's 4", got)
	}
	if _, ok := os.LookupEnv(envLeanSaved); ok {
		t.Errorf("%s left in the environment", envLeanSaved)
	}
}

func TestLeanEnvNothingSaved(t *testing.T) {
	t.Setenv("GOGC", leanGC)
	t.Setenv(envLeanSaved, "")
	lean()
	if _, ok := os.LookupEnv("GOGC"); ok {
		t.Errorf("GOGC kept though the caller had none")
	}
}

func TestPositionDependent(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// A test binary is built as the Makefile builds skiff-supervisor
	// (CGO_ENABLED=0 gives ET_EXEC on linux/amd64); a text file is not ELF.
	if !positionDependent(exe) {
		t.Errorf("%s not taken for a position-dependent executable", exe)
	}
	if positionDependent("/proc/self/status") {
		t.Error("a text file taken for an ELF executable")
	}
}

func TestExeMapping(t *testing.T) {
	exe := "/usr/libexec/skiff/skiff supervisor"
	for line, want := range map[string]bool{
		"00400000-00560000 r-xp 00000000 fe:00 123    " + exe: true,
		"00560000-0070d000 r--p 00160000 fe:00 123    " + exe: true,
		"0070d000-0071e000 rw-p 0030d000 fe:00 123    " + exe: false,
		"00400000-00560000 r-xp 00000000 fe:00 123    /other": false,
		"7fff0000-7fff1000 rw-p 00000000 00:00 0":             false,
	} {
		start, end, ok := exeMapping([]byte(line), exe)
		if ok != want || ok && (start != 0x400000 && start != 0x560000 || end <= start) {
			t.Errorf("exeMapping(%q) = %#x, %#x, %v; want ok %v", line, start, end, ok, want)
		}
	}
}
