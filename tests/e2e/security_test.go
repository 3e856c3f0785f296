package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/skiff-project/skiff/tests/harness"
)

// Capability numbers from linux/capability.h.
var capNumbers = map[string]uint{
	"CHOWN": 0, "DAC_OVERRIDE": 1, "DAC_READ_SEARCH": 2, "FOWNER": 3, "FSETID": 4, "KILL": 5,
	"SETGID": 6, "SETUID": 7, "SETPCAP": 8, "LINUX_IMMUTABLE": 9, "NET_BIND_SERVICE": 10,
	"NET_BROADCAST": 11, "NET_ADMIN": 12, "NET_RAW": 13, "SYS_CHROOT": 18, "SYS_PTRACE": 19,
	"SYS_ADMIN": 21, "MKNOD": 27, "AUDIT_WRITE": 29, "SETFCAP": 31,
}

// dockerDefaultCaps is Docker's default capability set.
var dockerDefaultCaps = []string{
	"CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
	"SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
}

func capMask(names ...string) uint64 {
	var m uint64
	for _, n := range names {
		m |= 1 << capNumbers[n]
	}
	return m
}

func capHex(m uint64) string { return fmt.Sprintf("%016x", m) }

// allCaps is the mask of every capability this kernel knows.
func allCaps(t *testing.T) uint64 {
	data, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	must(t, err)
	last, err := strconv.Atoi(strings.TrimSpace(string(data)))
	must(t, err)
	return 1<<(last+1) - 1
}

func TestNamespaces(t *testing.T) {
	parallel(t)
	kinds := []string{"pid", "mnt", "uts", "ipc", "net", "user"}
	out := runOut(t, nil, "sh", "-c", "for n in "+strings.Join(kinds, " ")+"; do readlink /proc/self/ns/$n; done")
	got := strings.Split(strings.TrimSpace(out), "\n")
	if len(got) != len(kinds) {
		t.Fatalf("namespaces: %q", out)
	}
	for i, k := range kinds {
		host, err := os.Readlink("/proc/self/ns/" + k)
		must(t, err)
		if got[i] == host {
			t.Errorf("%s namespace %s is the host's", k, got[i])
		}
	}
}

func TestPID1(t *testing.T) {
	parallel(t)
	// The command itself is pid 1 (the trailing true stops busybox sh from
	// exec'ing its last command in place of itself).
	out := runOut(t, nil, "sh", "-c", "echo $$; cat /proc/1/comm; true")
	f := strings.Fields(out)
	if len(f) != 2 || f[0] != "1" || f[1] != "sh" {
		t.Errorf("pid 1 should be the command (sh): got %q", out)
	}
	// With --init, an init is pid 1 and the command runs under it.
	out = runOut(t, []string{"--init"}, "sh", "-c", "echo $$; cat /proc/1/comm; awk '/^PPid/{print $2}' /proc/$$/status; true")
	f = strings.Fields(out)
	if len(f) != 3 || f[0] == "1" || f[1] == "sh" || f[2] != "1" {
		t.Errorf("--init: want the command as a child of an init at pid 1; got pid, pid 1 name, parent: %q", out)
	}
	// The init passes on the command's exit status.
	skiff(t, "run", "--rm", "--init", busybox(t), "sh", "-c", "exit 5").Exit(t, 5)
}

func TestCapabilities(t *testing.T) {
	parallel(t)
	status := func(flags ...string) string {
		return runOut(t, flags, "cat", "/proc/self/status")
	}
	def := capMask(dockerDefaultCaps...)
	for _, tc := range []struct {
		name   string
		flags  []string
		eff    uint64
		bounds uint64
	}{
		{"default", nil, def, def},
		{"cap-add NET_ADMIN", []string{"--cap-add", "NET_ADMIN"}, def | capMask("NET_ADMIN"), def | capMask("NET_ADMIN")},
		{"cap-add lower-case with prefix", []string{"--cap-add", "cap_sys_ptrace"}, def | capMask("SYS_PTRACE"), def | capMask("SYS_PTRACE")},
		{"cap-drop CHOWN", []string{"--cap-drop", "CHOWN"}, def &^ capMask("CHOWN"), def &^ capMask("CHOWN")},
		{"cap-drop ALL cap-add KILL", []string{"--cap-drop", "ALL", "--cap-add", "KILL"}, capMask("KILL"), capMask("KILL")},
		{"privileged", []string{"--privileged"}, allCaps(t), allCaps(t)},
		// A non-root user has no effective capabilities (Docker).
		{"user app", []string{"-u", "app"}, 0, def},
	} {
		s := status(tc.flags...)
		if got := procStatusField(t, s, "CapEff"); got != capHex(tc.eff) {
			t.Errorf("%s: CapEff %s, want %s", tc.name, got, capHex(tc.eff))
		}
		if got := procStatusField(t, s, "CapBnd"); got != capHex(tc.bounds) {
			t.Errorf("%s: CapBnd %s, want %s", tc.name, got, capHex(tc.bounds))
		}
	}
	// The capabilities work: without CHOWN, chown fails.
	skiff(t, "run", "--rm", "--cap-drop", "CHOWN", busybox(t), "chown", "1000", "/tmp").Exit(t, 1)
	skiff(t, "run", "--rm", busybox(t), "chown", "1000", "/tmp").OK(t)
}

func TestSeccomp(t *testing.T) {
	parallel(t)
	harness.Requires(t, "seccomp")
	bb := busybox(t)
	// Docker's default profile filters; unshare(CLONE_NEWUSER) needs CAP_SYS_ADMIN under it.
	s := runOut(t, nil, "cat", "/proc/self/status")
	if got := procStatusField(t, s, "Seccomp"); got != "2" {
		t.Errorf("default: Seccomp %s, want 2 (filter)", got)
	}
	r := skiff(t, "run", "--rm", bb, "unshare", "-U", "true")
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "Operation not permitted") {
		t.Errorf("default seccomp profile should refuse unshare -U with EPERM\n%s", r.Output())
	}
	s = runOut(t, []string{"--security-opt", "seccomp=unconfined"}, "cat", "/proc/self/status")
	if got := procStatusField(t, s, "Seccomp"); got != "0" {
		t.Errorf("seccomp=unconfined: Seccomp %s, want 0", got)
	}
	skiff(t, "run", "--rm", "--security-opt", "seccomp=unconfined", bb, "unshare", "-U", "echo", "unshared").OK(t).StdoutIs(t, "unshared\n")
	// --privileged turns the filter off too (Docker).
	s = runOut(t, []string{"--privileged"}, "cat", "/proc/self/status")
	if got := procStatusField(t, s, "Seccomp"); got != "0" {
		t.Errorf("--privileged: Seccomp %s, want 0", got)
	}
}

func TestNoNewPrivileges(t *testing.T) {
	parallel(t)
	if got := procStatusField(t, runOut(t, nil, "cat", "/proc/self/status"), "NoNewPrivs"); got != "0" {
		t.Errorf("default: NoNewPrivs %s, want 0 (Docker's default)", got)
	}
	for _, opt := range []string{"no-new-privileges", "no-new-privileges:true", "no-new-privileges=true"} {
		if got := procStatusField(t, runOut(t, []string{"--security-opt", opt}, "cat", "/proc/self/status"), "NoNewPrivs"); got != "1" {
			t.Errorf("--security-opt %s: NoNewPrivs %s, want 1", opt, got)
		}
	}
}

// existing returns those of paths that exist on the host.
func existing(paths ...string) []string {
	var out []string
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func TestMaskedPaths(t *testing.T) {
	parallel(t)
	// Docker masks these files with /dev/null and these directories with an
	// empty read-only tmpfs; only those the host kernel has can be checked.
	files := existing("/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/latency_stats", "/proc/timer_stats", "/proc/sched_debug")
	dirs := existing("/proc/acpi", "/proc/scsi", "/proc/asound", "/sys/firmware")
	if len(files) == 0 || len(dirs) == 0 {
		t.Skip("the host has none of Docker's masked /proc files or directories")
	}
	var script strings.Builder
	for _, f := range files {
		fmt.Fprintf(&script, "echo %s $(stat -c %%F %s) $(wc -c < %s);", f, f, f)
	}
	for _, d := range dirs {
		fmt.Fprintf(&script, "echo %s $(ls -A %s | wc -l);", d, d)
	}
	var want strings.Builder
	for _, f := range files {
		fmt.Fprintf(&want, "%s character special file 0\n", f)
	}
	for _, d := range dirs {
		fmt.Fprintf(&want, "%s 0\n", d)
	}
	if out := runOut(t, nil, "sh", "-c", script.String()); out != want.String() {
		t.Errorf("masked paths:\n%s\nwant:\n%s", out, want.String())
	}
	// /proc/sys and /sys are read-only.
	out := runOut(t, nil, "sh", "-c", `awk '$2=="/proc/sys"||$2=="/sys"{split($4,o,",");v[$2]=o[1]} END{print v["/proc/sys"], v["/sys"]}' /proc/mounts`)
	if out != "ro ro\n" {
		t.Errorf("/proc/sys and /sys mount options %q, want ro ro", out)
	}
	r := skiff(t, "run", "--rm", busybox(t), "sh", "-c", "echo 1 > /proc/sys/kernel/ns_last_pid")
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "Read-only file system") {
		t.Errorf("writing /proc/sys should fail with EROFS\n%s", r.Output())
	}
	// --privileged unmasks.
	out = runOut(t, []string{"--privileged"}, "stat", "-c", "%F", files[0])
	if out == "character special file\n" {
		t.Errorf("--privileged: %s is still masked", files[0])
	}
}

func TestDevices(t *testing.T) {
	parallel(t)
	// Docker's default /dev: null, zero, full, random, urandom, tty, pts, shm; no host disks.
	out := runOut(t, nil, "sh", "-c", "for d in null zero full random urandom tty; do test -c /dev/$d || echo missing $d; done; test -d /dev/pts && test -d /dev/shm || echo missing dirs; ls /dev | grep -c -E '^(sd|vd|nvme|loop)' ; head -c 4 /dev/zero | wc -c")
	if out != "0\n4\n" {
		t.Errorf("/dev in the container: %q, want the standard devices and no disks", out)
	}
}
