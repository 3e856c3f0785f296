package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skiff-project/skiff/tests/harness"
)

// noMkdirProfile allows everything but mkdir and mkdirat (EPERM).
const noMkdirProfile = `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
  {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}`

// A container's seccomp program is compiled once and kept in the runtime
// directory (runtime/seccompcache); what a run loads is always its own
// profile's program: a cached file that does not fit is compiled again,
// for run and for exec, rootless and as root.
func TestSeccompProgramCache(t *testing.T) {
	harness.Requires(t, "seccomp")
	dir := sharedTempDir(t)
	profile := filepath.Join(dir, "nomkdir.json")
	if err := os.WriteFile(profile, []byte(noMkdirProfile), 0o644); err != nil {
		t.Fatal(err)
	}
	eachUser(t, []*harness.User{harness.E2E, harness.Root}, func(t *testing.T, u *harness.User, bb string) {
		cache := filepath.Join(u.RuntimeDir(), "seccomp")
		custom := []string{"--security-opt", "seccomp=" + profile}
		check := func(when string) {
			t.Helper()
			r := harness.RunAs(t, u, append(append([]string{"run", "--rm"}, custom...), bb, "mkdir", "/tmp/d")...)
			if r.ExitCode == 0 || !strings.Contains(r.Stderr, "Operation not permitted") {
				t.Errorf("%s: the custom profile should refuse mkdir with EPERM\n%s", when, r.Output())
			}
			r = harness.RunAs(t, u, "run", "--rm", bb, "unshare", "-U", "true")
			if r.ExitCode == 0 || !strings.Contains(r.Stderr, "Operation not permitted") {
				t.Errorf("%s: the default profile should refuse unshare -U with EPERM\n%s", when, r.Output())
			}
			harness.RunAs(t, u, append(append([]string{"run", "--rm"}, custom...), bb, "sh", "-c", "touch /tmp/f && echo ok")...).OK(t).StdoutIs(t, "ok\n")
		}
		check("first run")
		files, err := filepath.Glob(filepath.Join(cache, "*"))
		if err != nil || len(files) < 2 {
			t.Fatalf("want the two profiles' programs cached in %s, have %v (%v)", cache, files, err)
		}
		// Every cached program swapped for another profile's (each now
		// claims a digest it was not compiled for) or for garbage.
		other, err := os.ReadFile(files[1])
		if err != nil {
			t.Fatal(err)
		}
		spoilt := map[string][]byte{}
		for i, f := range files {
			spoilt[f] = other
			if i > 0 {
				spoilt[f] = []byte("skiff-seccomp-bpf/1 " + strings.Repeat("0", 64) + " 0 false AAAA")
			}
			if err := os.WriteFile(f, spoilt[f], 0o600); err != nil {
				t.Fatal(err)
			}
		}
		check("after the cache was spoilt")
		rewritten := 0
		for f, junk := range spoilt {
			if data, err := os.ReadFile(f); err == nil && string(data) != string(junk) {
				rewritten++
			}
		}
		if rewritten < 2 {
			t.Errorf("the runs should have compiled and cached both profiles again; %d of %d files rewritten", rewritten, len(spoilt))
		}
		// exec loads the container's program too.
		name := lcName("seccache")
		harness.RunAs(t, u, append(append([]string{"run", "-d", "--name", name}, custom...), bb, "sleep", "60")...).OK(t)
		t.Cleanup(func() { harness.RunAs(t, u, "rm", "-f", name) })
		r := harness.RunAs(t, u, "exec", name, "mkdir", "/tmp/e")
		if r.ExitCode == 0 || !strings.Contains(r.Stderr, "Operation not permitted") {
			t.Errorf("exec: the custom profile should refuse mkdir with EPERM\n%s", r.Output())
		}
	})
}
