package supervisor

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestLeanEnvRoundTrip(t *testing.T) {
	env := LeanEnv([]string{"A=1", "GOGC=off", "GOMAXPROCS=4", "B=2"})
	for _, want := range []string{"A=1", "B=2", "GOMAXPROCS=" + strconv.Itoa(leanProcs), "GOGC=" + strconv.Itoa(leanGC)} {
		if !slices.Contains(env, want) {
			t.Errorf("LeanEnv: %q missing from %q", want, env)
		}
	}
	for _, kv := range env {
		if k, v, _ := strings.Cut(kv, "="); k == envLeanSaved {
			t.Setenv(k, v)
		}
	}
	t.Setenv("GOMAXPROCS", strconv.Itoa(leanProcs))
	t.Setenv("GOGC", strconv.Itoa(leanGC))
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
	t.Setenv("GOGC", strconv.Itoa(leanGC))
	t.Setenv(envLeanSaved, "")
	lean()
	if _, ok := os.LookupEnv("GOGC"); ok {
		t.Errorf("GOGC kept though the caller had none")
	}
}
