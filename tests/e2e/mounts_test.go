package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/skiff-project/skiff/tests/harness"
)

func TestRunBindMount(t *testing.T) {
	parallel(t)
	u := harness.E2E
	dir := harness.UserDir(t, u)
	harness.WriteUserFile(t, u, filepath.Join(dir, "in.txt"), []byte("from-host\n"))
	r := skiff(t, "run", "--rm", "-v", dir+":/data", busybox(t), "sh", "-c", "cat /data/in.txt; echo from-container > /data/out.txt; stat -c %u /data/in.txt")
	// Container root is the user: the user's file shows as root's.
	r.OK(t).StdoutIs(t, "from-host\n0\n")
	data, err := os.ReadFile(filepath.Join(dir, "out.txt"))
	if err != nil || string(data) != "from-container\n" {
		t.Fatalf("the container's write did not reach the host: %q %v", data, err)
	}
	fi, err := os.Stat(filepath.Join(dir, "out.txt"))
	must(t, err)
	if uid := fi.Sys().(*syscall.Stat_t).Uid; int(uid) != u.UID {
		t.Errorf("file written by container root is owned by host uid %d, want the user's %d", uid, u.UID)
	}
	// A missing host directory is created for -v (Docker).
	skiff(t, "run", "--rm", "-v", dir+"/created:/c", busybox(t), "true").OK(t)
	if fi, err := os.Stat(dir + "/created"); err != nil || !fi.IsDir() {
		t.Errorf("-v with a missing host path should create the directory: %v", err)
	}
}

func TestRunMountFlag(t *testing.T) {
	parallel(t)
	u := harness.E2E
	dir := harness.UserDir(t, u)
	harness.WriteUserFile(t, u, filepath.Join(dir, "in.txt"), []byte("from-host\n"))
	// --mount type=bind is -v's long form.
	skiff(t, "run", "--rm", "--mount", "type=bind,source="+dir+",target=/m", busybox(t), "cat", "/m/in.txt").OK(t).StdoutIs(t, "from-host\n")
	r := skiff(t, "run", "--rm", "--mount", "type=bind,src="+dir+",dst=/m,readonly", busybox(t), "touch", "/m/x")
	if r.ExitCode == 0 {
		t.Errorf("--mount ...,readonly allowed a write\n%s", r.Output())
	}
	skiff(t, "run", "--rm", "--mount", "type=tmpfs,target=/t", busybox(t), "sh", "-c", `awk '$2=="/t"{print $3}' /proc/mounts`).OK(t).StdoutIs(t, "tmpfs\n")
	// Unlike -v, a missing host path is an error for --mount (Docker).
	skiff(t, "run", "--rm", "--mount", "type=bind,source="+dir+"/missing,target=/m", busybox(t), "true").ErrorLine(t, runExit, dir+"/missing")
}

func TestRunBindMountReadOnly(t *testing.T) {
	parallel(t)
	u := harness.E2E
	dir := harness.UserDir(t, u)
	harness.WriteUserFile(t, u, filepath.Join(dir, "in.txt"), []byte("ro\n"))
	r := skiff(t, "run", "--rm", "-v", dir+":/data:ro", busybox(t), "sh", "-c", "cat /data/in.txt; touch /data/new")
	if r.ExitCode == 0 {
		t.Fatalf("writing to a :ro volume succeeded\n%s", r.Output())
	}
	if r.Stdout != "ro\n" || !strings.Contains(r.Stderr, "Read-only file system") {
		t.Errorf("want the file readable and the write refused with EROFS\n%s", r.Output())
	}
	if _, err := os.Stat(filepath.Join(dir, "new")); err == nil {
		t.Errorf("the refused write created a file on the host")
	}
}

func TestRunBindMountFile(t *testing.T) {
	parallel(t)
	u := harness.E2E
	dir := harness.UserDir(t, u)
	f := filepath.Join(dir, "single.conf")
	harness.WriteUserFile(t, u, f, []byte("single-file\n"))
	skiff(t, "run", "--rm", "-v", f+":/etc/single.conf:ro", busybox(t), "cat", "/etc/single.conf").OK(t).StdoutIs(t, "single-file\n")
}

func TestRunTmpfs(t *testing.T) {
	parallel(t)
	out := runOut(t, []string{"--tmpfs", "/scratch"}, "sh", "-c", `awk '$2=="/scratch"{print $3}' /proc/mounts; echo x > /scratch/f && cat /scratch/f`)
	if out != "tmpfs\nx\n" {
		t.Errorf("--tmpfs /scratch: got %q, want a tmpfs mount that is writable", out)
	}
	// Options pass through.
	out = runOut(t, []string{"--tmpfs", "/scratch:ro"}, "sh", "-c", `awk '$2=="/scratch"{print $4}' /proc/mounts`)
	if !strings.HasPrefix(out, "ro") {
		t.Errorf("--tmpfs /scratch:ro mounted with options %q", out)
	}
}

func TestRunReadOnly(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	for _, path := range []string{"/x", "/tmp/x", "/etc/x"} {
		r := skiff(t, "run", "--rm", "--read-only", bb, "touch", path)
		if r.ExitCode == 0 || !strings.Contains(r.Stderr, "Read-only file system") {
			t.Errorf("--read-only: touch %s should fail with EROFS\n%s", path, r.Output())
		}
	}
	// A tmpfs on /tmp is writable; the rest stays read-only.
	skiff(t, "run", "--rm", "--read-only", "--tmpfs", "/tmp", bb, "sh", "-c", "touch /tmp/x && ! touch /y 2>/dev/null && echo ok").OK(t).StdoutIs(t, "ok\n")
	// Volumes keep their own mode.
	dir := harness.UserDir(t, harness.E2E)
	skiff(t, "run", "--rm", "--read-only", "-v", dir+":/data", bb, "touch", "/data/x").OK(t)
	// /etc/hosts and friends stay readable.
	skiff(t, "run", "--rm", "--read-only", bb, "sh", "-c", "cat /etc/hostname >/dev/null && echo readable").OK(t).StdoutIs(t, "readable\n")
}
