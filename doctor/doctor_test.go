package doctor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeHost is a rootless host in a temporary directory: /etc/subuid and
// /etc/subgid with content, /proc/sys with the given sysctls.
func fakeHost(t *testing.T, user, subuid, subgid string, sysctls map[string]string) Host {
	t.Helper()
	dir := t.TempDir()
	write := func(rel, data string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/subuid", subuid)
	write("etc/subgid", subgid)
	write("proc/self/uid_map", "         0          0 4294967295\n")
	for k, v := range sysctls {
		write(filepath.Join("proc/sys", strings.ReplaceAll(k, ".", "/")), v+"\n")
	}
	write("etc/os-release", "ID=debian\n")
	return Host{
		Rootless: true, UID: 1002, User: user,
		SubUID: filepath.Join(dir, "etc/subuid"), SubGID: filepath.Join(dir, "etc/subgid"),
		Proc: filepath.Join(dir, "proc"), Sys: filepath.Join(dir, "sys"), Dev: filepath.Join(dir, "dev"),
		Env:      func(string) string { return "" },
		LookPath: func(string) (string, error) { return "", errors.New("not found") },
		DataDir:  dir, OSRelease: filepath.Join(dir, "etc/os-release"),
		AppArmorDir: filepath.Join(dir, "etc/apparmor.d"), Exe: "/usr/local/bin/skiff",
	}
}

const hostIDs = "skiff-e2e:100000:65536\nleaddev:165536:65536\nleaddev:400000:65536\nsvcdev:231072:65536\n"

func find(t *testing.T, cs []Check, name string) Check {
	t.Helper()
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no %s check in %+v", name, cs)
	return Check{}
}

func TestSubIDs(t *testing.T) {
	tests := []struct {
		name, user, subuid, subgid string
		status                     Status
		msg, fix                   string
	}{
		{"ok", "skiff-e2e", hostIDs, hostIDs, OK, "skiff-e2e has 65536 subordinate uids (100000-165535)", ""},
		{"by uid", "bob", "1002:500000:65536\n", "1002:500000:65536\n", OK, "bob has 65536 subordinate uids (500000-565535)", ""},
		{"none", "skiff-nosub", hostIDs, hostIDs, Fail, "skiff-nosub has no subordinate uids",
			"sudo usermod --add-subuids 296608-362143 --add-subgids 296608-362143 skiff-nosub && skiff system migrate"},
		{"only subuid missing", "bob", hostIDs, hostIDs + "bob:500000:65536\n", Fail, "bob has no subordinate uids",
			"sudo usermod --add-subuids 296608-362143 bob && skiff system migrate"},
		{"small", "bob", hostIDs + "bob:500000:1000\n", hostIDs + "bob:500000:65536\n", Warn, "bob has only 1000 subordinate uids (500000-500999)",
			"sudo usermod --add-subuids 296608-362143 bob && skiff system migrate"},
		{"overlap", "bob", hostIDs + "bob:150000:65536\n", hostIDs + "bob:500000:65536\n", Warn, "overlap skiff-e2e's 100000-165535, leaddev's 165536-231071",
			"sudo usermod --del-subuids 150000-215535 --add-subuids 296608-362143 bob && skiff system migrate"},
		{"no files", "bob", "", "", Fail, "bob has no subordinate uids",
			"sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 bob && skiff system migrate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := fakeHost(t, tt.user, tt.subuid, tt.subgid, nil)
			c := find(t, h.subIDs(), "subuid")
			if c.Status != tt.status || !strings.Contains(c.Message, tt.msg) || c.Fix != tt.fix {
				t.Errorf("got %+v\nwant %s %q fix %q", c, tt.status, tt.msg, tt.fix)
			}
		})
	}
	h := fakeHost(t, "root", "", "", nil)
	h.Rootless = false
	for _, c := range h.subIDs() {
		if c.Status != Skip {
			t.Errorf("as root: %+v", c)
		}
	}
}

func TestSysctls(t *testing.T) {
	h := fakeHost(t, "bob", "", "", map[string]string{
		"user.max_user_namespaces":                     "0",
		"kernel.apparmor_restrict_unprivileged_userns": "1",
	})
	cs := h.sysctls()
	if len(cs) != 2 { // no unprivileged_userns_clone on this kernel
		t.Fatalf("want 2 checks, got %+v", cs)
	}
	if aa := find(t, cs, "apparmor_restrict_unprivileged_userns"); aa.Status != Fail || !strings.Contains(aa.Fix, "sudo apparmor_parser -r ") {
		t.Errorf("apparmor: %+v", aa) // TestAppArmor has the cases
	}
	if c := find(t, cs, "max_user_namespaces"); c.Status != Fail || !strings.Contains(c.Fix, "user.max_user_namespaces=15000") {
		t.Errorf("max_user_namespaces: %+v", c)
	}
	h = fakeHost(t, "bob", "", "", map[string]string{"user.max_user_namespaces": "100", "kernel.unprivileged_userns_clone": "1"})
	for _, c := range h.sysctls() {
		if c.Status != OK {
			t.Errorf("%+v", c)
		}
	}
}

func TestNetworkAndPorts(t *testing.T) {
	h := fakeHost(t, "bob", "", "", map[string]string{"net.ipv4.ip_unprivileged_port_start": "1024"})
	if c := h.network(); c.Status != Fail || c.Fix != "sudo apt-get install -y slirp4netns" {
		t.Errorf("network: %+v", c)
	}
	h.LookPath = func(s string) (string, error) {
		if s == "pasta" {
			return "/usr/bin/pasta", nil
		}
		return "", errors.New("no")
	}
	if c := h.network(); c.Status != OK || !strings.Contains(c.Message, "/usr/bin/pasta") {
		t.Errorf("network: %+v", c)
	}
	if c := h.ports(); c.Status != Info || !strings.Contains(c.Message, "ports below 1024") {
		t.Errorf("ports: %+v", c)
	}
	if c := h.idMapTool("newuidmap", 7); c.Status != Fail || c.Fix != "sudo apt-get install -y uidmap" {
		t.Errorf("newuidmap: %+v", c)
	}
}

func TestDeviceAndStore(t *testing.T) {
	h := fakeHost(t, "bob", "", "", nil)
	if c := h.device("tun", "net/tun", Fail, "mknod"); c.Status != Fail || c.Fix != "mknod" {
		t.Errorf("missing tun: %+v", c)
	}
	h.DataDir = filepath.Join(h.DataDir, "not", "yet")
	cs := h.store()
	if c := find(t, cs, "store"); c.Status != OK {
		t.Errorf("store: %+v", c)
	}
}

func TestReportOK(t *testing.T) {
	r := Report{Checks: []Check{{Status: OK}, {Status: Warn}, {Status: Info}, {Status: Skip}}}
	if !r.OK() {
		t.Error("warnings are not failures")
	}
	r.Checks = append(r.Checks, Check{Status: Fail})
	if r.OK() {
		t.Error("a failure is a failure")
	}
}

func TestRuntimeDir(t *testing.T) {
	h := fakeHost(t, "bob", "", "", nil)
	if c := h.runtimeDir(); c.Status != Warn || !strings.Contains(c.Message, "XDG_RUNTIME_DIR is not set") {
		t.Errorf("unset: %+v", c)
	}
	h.Env = func(string) string { return "/nonexistent-runtime" }
	if c := h.runtimeDir(); c.Status != Fail || c.Fix != "unset XDG_RUNTIME_DIR" {
		t.Errorf("missing: %+v", c)
	}
	dir := t.TempDir() // owned by the test's user
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	h.Env = func(string) string { return dir }
	h.UID = os.Getuid()
	if c := h.runtimeDir(); c.Status != OK {
		t.Errorf("own 0700 dir: %+v", c)
	}
	h.UID = os.Getuid() + 1
	if c := h.runtimeDir(); c.Status != Fail {
		t.Errorf("another user's dir: %+v", c)
	}
}

// TestAppArmor: where the kernel restricts user namespaces to programs with
// an AppArmor profile, doctor reads this process's label, finds the profile
// file that names this binary, and whether the kernel has it loaded.
func TestAppArmor(t *testing.T) {
	const profile = "abi <abi/4.0>,\ninclude <tunables/global>\n\nprofile skiff /usr/local/bin/skiff flags=(unconfined) {\n  userns,\n}\n"
	const newProfile = `printf 'abi <abi/4.0>,\ninclude <tunables/global>\nprofile %s %s flags=(unconfined) {\n  userns,\n}\n' | sudo tee %[3]s >/dev/null && sudo apparmor_parser -r %[3]s`
	tests := []struct {
		name, label, file, loaded, exe string
		status                         Status
		msg, fix                       string
	}{
		{"under skiff's profile", "skiff (unconfined)\n", profile, "", "", OK, "skiff runs under the profile skiff (unconfined)", ""},
		{"under another profile", "snap.foo (enforce)\n", "", "", "", Warn, "runs under the profile snap.foo (enforce), not skiff's", ""},
		{"installed, not loaded", "unconfined\n", profile, "passt (enforce)\nskiff-supervisor (unconfined)\n", "",
			Fail, "its profile skiff (ETC/skiff) is not loaded", "sudo apparmor_parser -r ETC/skiff"},
		{"installed, list unreadable", "unconfined\n", profile, "-", "",
			Fail, "is not loaded, or was loaded for another path", "sudo apparmor_parser -r ETC/skiff"},
		{"installed, loaded elsewhere", "unconfined\n", profile, "skiff (unconfined)\n", "",
			Fail, "is loaded, but for another path", "sudo apparmor_parser -r ETC/skiff"},
		{"none", "unconfined\n", "", "", "",
			Fail, "no profile in ETC allows /usr/local/bin/skiff to create them", fmt.Sprintf(newProfile, "skiff", "/usr/local/bin/skiff", "ETC/skiff")},
		{"another install's", "unconfined\n", profile, "", "/home/bob/.local/bin/skiff",
			Fail, "no profile in ETC allows /home/bob/.local/bin/skiff", fmt.Sprintf(newProfile, "skiff-bob", "/home/bob/.local/bin/skiff", "ETC/skiff-bob")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := fakeHost(t, "bob", "", "", map[string]string{"kernel.apparmor_restrict_unprivileged_userns": "1"})
			etc := h.AppArmorDir
			write := func(p, data string) {
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			write(filepath.Join(h.Proc, "self/attr/apparmor/current"), tt.label)
			write(filepath.Join(etc, "passt"), "profile passt /usr/bin/passt {\n}\n")
			if tt.file != "" {
				write(filepath.Join(etc, "skiff"), tt.file)
			}
			if tt.loaded != "-" {
				write(filepath.Join(h.Sys, "kernel/security/apparmor/profiles"), tt.loaded)
			}
			if tt.exe != "" {
				h.Exe = tt.exe
			}
			c := find(t, h.sysctls(), "apparmor_restrict_unprivileged_userns")
			msg, fix := strings.ReplaceAll(tt.msg, "ETC", etc), strings.ReplaceAll(tt.fix, "ETC", etc)
			if c.Status != tt.status || !strings.Contains(c.Message, msg) || c.Fix != fix {
				t.Errorf("got %+v\nwant %s %q fix %q", c, tt.status, msg, fix)
			}
		})
	}
	h := fakeHost(t, "bob", "", "", map[string]string{"kernel.apparmor_restrict_unprivileged_userns": "0"})
	if c := find(t, h.sysctls(), "apparmor_restrict_unprivileged_userns"); c.Status != OK {
		t.Errorf("restriction off: %+v", c)
	}
}
