package e2e

// Volumes made with the local driver's options (`volume create -o type=…
// -o device=… -o o=…`): a tmpfs, or a bind of a host directory, mounted on
// the volume while containers use it, as Docker's local driver does; what a
// rootless user cannot mount is refused when the volume is made.

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/skiff-project/skiff/tests/harness"
)

// volMountedInNamespace reports whether the volume's directory is a mount
// point in the e2e user's shared namespace (its pause process's view).
func volMountedInNamespace(t *testing.T, name string) bool {
	t.Helper()
	pid, err := harness.PausePID(harness.E2E)
	if err != nil {
		t.Fatalf("finding the pause process: %v", err)
	}
	mounts, err := harness.MountsUnder(pid, volMountpoint(name))
	if err != nil {
		t.Fatal(err)
	}
	return len(mounts) > 0
}

func TestVolumeOptionsTmpfs(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	name := volName("tmpfs")
	volCreate(t, name, "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=64m,uid=1000")
	want := map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=64m,uid=1000"}
	if got := volInspect(t, name)[0].Options; !reflect.DeepEqual(got, want) {
		t.Errorf("volume inspect Options %v, want %v", got, want)
	}
	// The container sees a 64 MiB tmpfs owned by uid 1000.
	out := skiff(t, "run", "--rm", "-v", name+":/data", bb, "sh", "-c",
		"stat -c %u /data; df -k /data | tail -n 1; echo kept > /data/f").OK(t).Stdout
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || lines[0] != "1000" || !strings.HasPrefix(lines[1], "tmpfs") || !strings.Contains(lines[1], " 65536 ") {
		t.Errorf("a tmpfs volume with size=64m,uid=1000: the container shows %q; want owner 1000 and a tmpfs of 65536 KiB", out)
	}
	// The file is in memory, not in the volume's directory on disk, and the
	// next container using the volume sees it.
	if _, err := os.Stat(filepath.Join(volMountpoint(name), "f")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the tmpfs volume's file reached the disk under %s (stat: %v)", volMountpoint(name), err)
	}
	skiff(t, "run", "--rm", "-v", name+":/data", bb, "cat", "/data/f").OK(t).StdoutIs(t, "kept\n")
	if !volMountedInNamespace(t, name) {
		t.Errorf("after a run, %s is not mounted in the user's namespace", volMountpoint(name))
	}
	// volume rm unmounts it.
	skiff(t, "volume", "rm", name).OK(t)
	if volMountedInNamespace(t, name) {
		t.Errorf("after volume rm, %s is still mounted in the user's namespace", volMountpoint(name))
	}
}

func TestVolumeOptionsBind(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	dir := harness.UserDir(t, harness.E2E)
	harness.WriteUserFile(t, harness.E2E, filepath.Join(dir, "h"), []byte("from the host\n"))
	name := volName("bind")
	volCreate(t, name, "-o", "type=none", "-o", "o=bind", "-o", "device="+dir)
	skiff(t, "run", "--rm", "-v", name+":/data", bb, "sh", "-c", "cat /data/h; echo from-ctr > /data/c").OK(t).StdoutIs(t, "from the host\n")
	if data, err := os.ReadFile(filepath.Join(dir, "c")); err != nil || string(data) != "from-ctr\n" {
		t.Errorf("the container's file in the bound host directory: %q, %v; want from-ctr", data, err)
	}
	// Removing the volume unmounts it and leaves the host's files alone.
	skiff(t, "volume", "rm", name).OK(t)
	for _, f := range []string{"h", "c"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("volume rm of a bind volume removed the host's %s: %v", f, err)
		}
	}
	// An empty host directory is filled from the image, as Docker fills
	// any empty volume.
	empty := harness.UserDir(t, harness.E2E)
	fill := volName("bind-fill")
	volCreate(t, fill, "-o", "type=none", "-o", "o=bind", "-o", "device="+empty)
	skiff(t, "run", "--rm", "-v", fill+":/etc", bb, "true").OK(t)
	if _, err := os.Stat(filepath.Join(empty, "passwd")); err != nil {
		t.Errorf("an empty bound directory mounted on /etc was not filled from the image: %v", err)
	}
	// A host directory that is gone fails the run with the volume named.
	gone := volName("bind-gone")
	volCreate(t, gone, "-o", "type=none", "-o", "o=bind", "-o", "device="+filepath.Join(dir, "nosuchdir"))
	skiff(t, "run", "--rm", "-v", gone+":/data", bb, "true").ErrorLine(t, runExit, gone, "nosuchdir")
}

// Options the local driver does not take, and mounts a rootless user
// cannot make, are refused when the volume is made: one line naming the
// option, nothing made. As root, Docker's local driver takes any type.
func TestVolumeOptionsRefused(t *testing.T) {
	parallel(t)
	for _, tc := range []struct {
		opts  []string
		words []string
	}{
		{[]string{"type=nfs", "device=:/export", "o=addr=127.0.0.1"}, []string{"type=nfs", "rootless"}},
		{[]string{"type=tmpfs"}, []string{"device"}},
		{[]string{"device=tmpfs"}, []string{"type"}},
		{[]string{"o=size=1m"}, []string{"device|type"}},
		{[]string{"type=tmpfs", "device=tmpfs", "o=bogus=1"}, []string{"bogus"}},
		{[]string{"type=tmpfs", "device=tmpfs", "o=size=lots"}, []string{"lots"}},
		{[]string{"type=none", "device=/tmp"}, []string{"o=bind"}},
		{[]string{"type=none", "o=bind", "device=relative/dir"}, []string{"relative/dir", "absolute"}},
		{[]string{"size=1g"}, []string{"size"}},
		{[]string{"colour=red"}, []string{"colour"}},
	} {
		name := volName("refused")
		args := []string{"volume", "create"}
		for _, o := range tc.opts {
			args = append(args, "-o", o)
		}
		skiff(t, append(args, name)...).ErrorLine(t, errExit, tc.words...)
		if volExists(t, name) {
			t.Errorf("volume create %v made %s", tc.opts, name)
			skiff(t, "volume", "rm", "-f", name)
		}
	}
	name := volName("root-nfs")
	harness.RunAsRoot(t, "volume", "create", "-o", "type=nfs", "-o", "device=:/export", "-o", "o=addr=127.0.0.1", name).OK(t)
	harness.RunAsRoot(t, "volume", "rm", name).OK(t)
}
