//go:build skiff_seccomp_cache && cgo && seccomp

package seccompcache

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// defaultConfig is Docker's default profile for a container with caps.
func defaultConfig(t *testing.T, caps ...string) *configs.Seccomp {
	t.Helper()
	p, err := seccomp.GetDefaultProfile(&specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: caps}}, Linux: &specs.Linux{}})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := specconv.SetupSeccomp(p)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func only(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) != 1 {
		t.Fatalf("want one cached program in %s, have %v (%v)", dir, ents, err)
	}
	return filepath.Join(dir, ents[0].Name())
}

func TestAttachCompilesOnceThenReads(t *testing.T) {
	dir := t.TempDir()
	a := defaultConfig(t, "CAP_CHOWN")
	if err := Attach(a, dir); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(a.ListenerMetadata, "skiff-seccomp-bpf/1 ") {
		t.Fatalf("no program attached: %.40q", a.ListenerMetadata)
	}
	file := only(t, dir)
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Errorf("cached program mode %v, want 0600", fi.Mode().Perm())
	}
	// The same configuration again: the file, unchanged.
	b := defaultConfig(t, "CAP_CHOWN")
	if err := os.WriteFile(file, []byte(a.ListenerMetadata), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Attach(b, dir); err != nil || b.ListenerMetadata != a.ListenerMetadata {
		t.Fatalf("second attach: %v, same program %t", err, b.ListenerMetadata == a.ListenerMetadata)
	}
	// Another configuration (CAP_SYS_ADMIN allows mount): its own program.
	c := defaultConfig(t, "CAP_CHOWN", "CAP_SYS_ADMIN")
	if err := Attach(c, dir); err != nil || c.ListenerMetadata == a.ListenerMetadata {
		t.Fatalf("other profile: %v, same program %t", err, c.ListenerMetadata == a.ListenerMetadata)
	}
}

func TestAttachReplacesAProgramThatDoesNotFit(t *testing.T) {
	dir := t.TempDir()
	a := defaultConfig(t)
	if err := Attach(a, dir); err != nil {
		t.Fatal(err)
	}
	file := only(t, dir)
	f := strings.Fields(a.ListenerMetadata)
	f[1] = strings.Repeat("0", 64) // compiled for some other configuration
	if err := os.WriteFile(file, []byte(strings.Join(f, " ")), 0o600); err != nil {
		t.Fatal(err)
	}
	b := defaultConfig(t)
	if err := Attach(b, dir); err != nil {
		t.Fatal(err)
	}
	// Compiled again (the instructions' order may differ from one
	// compilation to the next: runc's stub walks a map), for this
	// configuration, and cached in place of the stale one.
	got := strings.Fields(b.ListenerMetadata)
	if len(got) != 5 || got[1] != strings.Fields(a.ListenerMetadata)[1] {
		t.Fatalf("stale cache: attached %.80q, want a program for digest %s", b.ListenerMetadata, strings.Fields(a.ListenerMetadata)[1])
	}
	if data, _ := os.ReadFile(file); string(data) != b.ListenerMetadata {
		t.Errorf("the stale program was not replaced in the cache")
	}
}

func TestAttachLeavesSeccompAgentsAlone(t *testing.T) {
	a := defaultConfig(t)
	a.ListenerPath = "/run/agent.sock"
	a.ListenerMetadata = "agent's own"
	if err := Attach(a, t.TempDir()); err != nil || a.ListenerMetadata != "agent's own" {
		t.Fatalf("agent config changed: %v %q", err, a.ListenerMetadata)
	}
	if err := Attach(nil, t.TempDir()); err != nil {
		t.Fatal(err)
	}
}
