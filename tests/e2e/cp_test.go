package e2e

// cp between containers and the host, in both directions, with a running
// container and with a stopped one: Docker's path rules (trailing "/",
// DIR/., renaming), tar streams on "-", -a, -L, symlinks resolved inside the
// container's root, and the errors (exit 1, errExit).
//
// Every test runs twice, as parallel subtests "running" and "stopped", each
// on its own container prepared by cpSetup. A stopped container is looked
// into by copying a script to /check.sh and `start -a`: its command runs
// that script when it exists.

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// cpSetup prepares the files the cp tests copy out of a container.
const cpSetup = `mkdir -p /src/dir/sub /tmp/into && echo a > /src/dir/a && echo b > /src/dir/sub/b &&
echo f > /src/file && ln -s /src/file /src/link && echo owned > /src/owned && chown 1000:1000 /src/owned &&
ln -s /etc /escape && ln -s ../../../../../../etc /src/up`

// cpCtr is a container prepared for the cp tests.
type cpCtr struct {
	name    string
	running bool
	dir     string // a scratch directory of the e2e user for cpCheck
}

// cpStates runs f as two parallel subtests, on a running and on a stopped
// container prepared by cpSetup and started with the extra run flags.
func cpStates(t *testing.T, flags []string, f func(t *testing.T, c *cpCtr)) {
	t.Helper()
	parallel(t)
	for _, running := range []bool{true, false} {
		state := "stopped"
		if running {
			state = "running"
		}
		t.Run(state, func(t *testing.T) {
			t.Parallel()
			f(t, cpStart(t, running, flags))
		})
	}
}

// cpStart prepares a container: running (idle after cpSetup) or stopped
// (exited after cpSetup; started again it runs /check.sh).
func cpStart(t *testing.T, running bool, flags []string) *cpCtr {
	t.Helper()
	c := &cpCtr{running: running, dir: harness.UserDir(t, harness.E2E)}
	if running {
		c.name = lcName("cp-run")
		runDetached(t, c.name, flags, "sh", "-c", cpSetup+"\necho ready; "+idleScript)
		waitLogs(t, c.name, "ready", 15*time.Second)
		return c
	}
	c.name = lcName("cp-stop")
	rmOnCleanup(t, harness.E2E, c.name)
	args := append([]string{"run", "--name", c.name}, flags...)
	args = append(args, busybox(t), "sh", "-c", "if [ -f /check.sh ]; then exec sh /check.sh; fi\n"+cpSetup)
	skiff(t, args...).OK(t)
	if s := stateOf(t, harness.E2E, c.name); s != "exited" {
		t.Fatalf("container %s is %q after its setup, want exited", c.name, s)
	}
	return c
}

// check runs script in the container (exec when it runs; cp to /check.sh
// and start -a when it is stopped) and returns its stdout.
func (c *cpCtr) check(t *testing.T, script string) string {
	t.Helper()
	if c.running {
		return skiff(t, "exec", c.name, "sh", "-c", script).OK(t).Stdout
	}
	f := filepath.Join(c.dir, "check.sh")
	harness.WriteUserFile(t, harness.E2E, f, []byte(script+"\n"))
	skiff(t, "cp", f, c.name+":/check.sh").OK(t)
	out := skiff(t, "start", "-a", c.name).OK(t).Stdout
	if s := stateOf(t, harness.E2E, c.name); s != "exited" {
		t.Fatalf("container %s is %q after start -a, want exited", c.name, s)
	}
	return out
}

// cpHostTree writes, owned by the e2e user, DIR/file.txt (mode 0640),
// DIR/tree/a, DIR/tree/sub/b and a symlink DIR/hl -> file.txt; it returns DIR.
func cpHostTree(t *testing.T) string {
	t.Helper()
	u := harness.E2E
	d := harness.UserDir(t, u)
	must(t, os.MkdirAll(filepath.Join(d, "tree", "sub"), 0o755))
	harness.WriteUserFile(t, u, filepath.Join(d, "file.txt"), []byte("hello\n"))
	must(t, os.Chmod(filepath.Join(d, "file.txt"), 0o640))
	harness.WriteUserFile(t, u, filepath.Join(d, "tree", "a"), []byte("a\n"))
	harness.WriteUserFile(t, u, filepath.Join(d, "tree", "sub", "b"), []byte("b\n"))
	must(t, os.Symlink("file.txt", filepath.Join(d, "hl")))
	for _, p := range []string{"tree", "tree/sub", "hl"} {
		must(t, os.Lchown(filepath.Join(d, p), u.UID, u.GID))
	}
	return d
}

// cpRead returns a host file's content ("<missing>" when it cannot be read).
func cpRead(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "<missing>"
	}
	return string(b)
}

// cpTarEntries lists a tar stream: names (without a trailing /) to headers,
// with the contents of regular files.
func cpTarEntries(t *testing.T, what string, data []byte) (map[string]*tar.Header, map[string]string) {
	t.Helper()
	hdrs, bodies := map[string]*tar.Header{}, map[string]string{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: not a tar stream: %v (%d bytes)", what, err, len(data))
		}
		name := strings.TrimSuffix(h.Name, "/")
		hdrs[name] = h
		if h.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			bodies[name] = string(b)
		}
	}
	return hdrs, bodies
}

// cpTar builds a tar stream of directory dir/ and file dir/name owned by uid:gid.
func cpTar(t *testing.T, dir, name, body string, uid, gid int) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	must(t, tw.WriteHeader(&tar.Header{Name: dir + "/", Typeflag: tar.TypeDir, Mode: 0o755, Uid: uid, Gid: gid, ModTime: time.Now()}))
	must(t, tw.WriteHeader(&tar.Header{Name: dir + "/" + name, Typeflag: tar.TypeReg, Mode: 0o644, Uid: uid, Gid: gid, Size: int64(len(body)), ModTime: time.Now()}))
	_, err := tw.Write([]byte(body))
	must(t, err)
	must(t, tw.Close())
	return buf.Bytes()
}

func TestCpToContainer(t *testing.T) {
	cpStates(t, nil, func(t *testing.T, c *cpCtr) {
		h := cpHostTree(t)
		skiff(t, "cp", h+"/file.txt", c.name+":/tmp/").OK(t).StdoutIs(t, "")
		skiff(t, "cp", h+"/file.txt", c.name+":/tmp/renamed").OK(t)
		skiff(t, "cp", h+"/tree", c.name+":/tmp/new").OK(t)
		skiff(t, "cp", h+"/tree", c.name+":/tmp").OK(t)
		skiff(t, "cp", h+"/tree/.", c.name+":/tmp/into").OK(t)
		// Over an existing file.
		skiff(t, "cp", h+"/tree/a", c.name+":/src/file").OK(t)
		got := c.check(t, `cat /tmp/file.txt /tmp/renamed /tmp/new/a /tmp/new/sub/b /tmp/tree/a /tmp/tree/sub/b /tmp/into/a /tmp/into/sub/b /src/file
[ -e /tmp/into/tree ] || echo no-tree; [ -e /tmp/new/tree ] || echo flat
stat -c %a /tmp/renamed; stat -c %u:%g /tmp/file.txt /tmp/new /tmp/new/sub/b`)
		want := "hello\nhello\na\nb\na\nb\na\nb\na\nno-tree\nflat\n640\n0:0\n0:0\n0:0\n"
		if got != want {
			t.Errorf("after cp into %s the container holds\n%s\nwant\n%s", c.name, got, want)
		}
	})
}

func TestCpFromContainer(t *testing.T) {
	cpStates(t, nil, func(t *testing.T, c *cpCtr) {
		u := harness.E2E
		out := harness.UserDir(t, u)
		must(t, os.Mkdir(filepath.Join(out, "contents"), 0o755))
		must(t, os.Chown(filepath.Join(out, "contents"), u.UID, u.GID))
		skiff(t, "cp", c.name+":/src/file", out+"/").OK(t).StdoutIs(t, "")
		skiff(t, "cp", c.name+":/src/file", out+"/renamed").OK(t)
		skiff(t, "cp", c.name+":/src/dir", out+"/newdir").OK(t)
		skiff(t, "cp", c.name+":/src/dir", out).OK(t)
		skiff(t, "cp", c.name+":/src/dir/.", out+"/contents").OK(t)
		// A relative host destination is relative to the working directory.
		skiffWith(t, harness.RunOptions{Dir: out}, "cp", c.name+":/src/dir/a", "rel").OK(t)
		for p, want := range map[string]string{
			"file": "f\n", "renamed": "f\n", "newdir/a": "a\n", "newdir/sub/b": "b\n",
			"dir/a": "a\n", "dir/sub/b": "b\n", "contents/a": "a\n", "contents/sub/b": "b\n", "rel": "a\n",
		} {
			if got := cpRead(filepath.Join(out, p)); got != want {
				t.Errorf("host %s after cp out of %s: %q, want %q", p, c.name, got, want)
			}
		}
		for _, p := range []string{"contents/dir", "newdir/dir"} {
			if _, err := os.Lstat(filepath.Join(out, p)); err == nil {
				t.Errorf("cp out of %s created %s: want the directory's contents only", c.name, p)
			}
		}
		// The copies belong to the user who ran cp.
		for _, p := range []string{"file", "newdir", "newdir/sub/b"} {
			if fi, err := os.Lstat(filepath.Join(out, p)); err == nil {
				if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != u.UID {
					t.Errorf("host %s copied out of %s is owned by uid %d, want the user's %d", p, c.name, st.Uid, u.UID)
				}
			}
		}
	})
}

func TestCpTarStream(t *testing.T) {
	cpStates(t, nil, func(t *testing.T, c *cpCtr) {
		// Out: a tar of the directory itself, and of a single file.
		r := skiff(t, "cp", c.name+":/src/dir", "-").OK(t)
		hdrs, bodies := cpTarEntries(t, r.Cmdline(), []byte(r.Stdout))
		for _, n := range []string{"dir", "dir/a", "dir/sub", "dir/sub/b"} {
			if hdrs[n] == nil {
				t.Errorf("%s: no entry %s in the tar (entries %v)", r.Cmdline(), n, cpKeys(hdrs))
			}
		}
		if bodies["dir/a"] != "a\n" || bodies["dir/sub/b"] != "b\n" || len(hdrs) != 4 {
			t.Errorf("%s: tar entries %v with bodies %q, want dir, dir/a, dir/sub, dir/sub/b", r.Cmdline(), cpKeys(hdrs), bodies)
		}
		r = skiff(t, "cp", c.name+":/src/file", "-").OK(t)
		if hdrs, bodies := cpTarEntries(t, r.Cmdline(), []byte(r.Stdout)); len(hdrs) != 1 || bodies["file"] != "f\n" {
			t.Errorf("%s: tar entries %v %q, want one file \"file\"", r.Cmdline(), cpKeys(hdrs), bodies)
		}

		// In: extracted into an existing directory; without -a owned by root.
		in := cpTar(t, "fromtar", "x", "x\n", 1000, 1000)
		skiffWith(t, harness.RunOptions{Stdin: bytes.NewReader(in)}, "cp", "-", c.name+":/tmp").OK(t)
		in = cpTar(t, "archived", "y", "y\n", 1000, 1000)
		skiffWith(t, harness.RunOptions{Stdin: bytes.NewReader(in)}, "cp", "-a", "-", c.name+":/tmp").OK(t)
		got := c.check(t, "cat /tmp/fromtar/x /tmp/archived/y; stat -c %u:%g /tmp/fromtar/x /tmp/archived /tmp/archived/y")
		if want := "x\ny\n0:0\n1000:1000\n1000:1000\n"; got != want {
			t.Errorf("tar streams copied into %s (the second with -a): got\n%s\nwant\n%s", c.name, got, want)
		}
		// The destination of a stream must be an existing directory.
		skiffWith(t, harness.RunOptions{Stdin: bytes.NewReader(in)}, "cp", "-", c.name+":/tmp/nonexistent").ErrorLine(t, errExit, "/tmp/nonexistent")
	})
}

func TestCpOwnership(t *testing.T) {
	cpStates(t, nil, func(t *testing.T, c *cpCtr) {
		// A file owned by 1000 inside: the tar stream of cp -a says 1000:1000.
		r := skiff(t, "cp", "-a", c.name+":/src/owned", "-").OK(t)
		hdrs, _ := cpTarEntries(t, r.Cmdline(), []byte(r.Stdout))
		if h := hdrs["owned"]; h == nil || h.Uid != 1000 || h.Gid != 1000 {
			t.Errorf("%s: want an entry \"owned\" with uid:gid 1000:1000, got %+v", r.Cmdline(), h)
		}
		// Copied out to the host, with -a or without: the host file
		// belongs to the user who ran cp, as Docker's CLI makes it (-a
		// keeps the owners only of what is copied in).
		u := harness.E2E
		out := harness.UserDir(t, u)
		skiff(t, "cp", "-a", c.name+":/src/owned", out+"/owned").OK(t)
		skiff(t, "cp", c.name+":/src/owned", out+"/plain").OK(t)
		for p, want := range map[string][2]int{"owned": {u.UID, u.GID}, "plain": {u.UID, u.GID}} {
			fi, err := os.Lstat(filepath.Join(out, p))
			if err != nil || cpRead(filepath.Join(out, p)) != "owned\n" {
				t.Errorf("cp %s:/src/owned to the host as %s: %q %v", c.name, p, cpRead(filepath.Join(out, p)), err)
				continue
			}
			if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != want[0] || int(st.Gid) != want[1] {
				t.Errorf("cp (%s) of %s:/src/owned (1000:1000 inside) to the host: owner %d:%d, want %d:%d", p, c.name, st.Uid, st.Gid, want[0], want[1])
			}
		}
		// Host files copied in: root's inside without -a. With -a they keep
		// their owner as the user's namespace sees it: the user's own files
		// are root's (as in a bind mount), a file of the subordinate uid and
		// gid that are 1000 inside is 1000's.
		h := cpHostTree(t)
		if u.SubUID.Count > 0 && u.SubGID.Count > 0 {
			must(t, os.Lchown(filepath.Join(h, "tree", "sub", "b"), u.SubUID.Start+999, u.SubGID.Start+999))
		}
		skiff(t, "cp", h+"/tree", c.name+":/tmp/plain").OK(t)
		skiff(t, "cp", "-a", h+"/tree", c.name+":/tmp/kept").OK(t)
		got := c.check(t, "stat -c %u:%g /tmp/plain /tmp/plain/a /tmp/plain/sub/b /tmp/kept /tmp/kept/a /tmp/kept/sub/b")
		want := "0:0\n0:0\n0:0\n0:0\n0:0\n1000:1000\n"
		if u.SubUID.Count == 0 || u.SubGID.Count == 0 {
			want = "0:0\n0:0\n0:0\n0:0\n0:0\n0:0\n"
		}
		if got != want {
			t.Errorf("owners inside %s of a host tree copied in without and with -a: got\n%s\nwant\n%s", c.name, got, want)
		}
	})
}

func TestCpSymlinks(t *testing.T) {
	cpStates(t, nil, func(t *testing.T, c *cpCtr) {
		out := harness.UserDir(t, harness.E2E)
		// Out: the link itself, or with -L its target.
		skiff(t, "cp", c.name+":/src/link", out+"/l").OK(t)
		if dst, err := os.Readlink(out + "/l"); err != nil || dst != "/src/file" {
			t.Errorf("cp %s:/src/link (no -L): host l is not the symlink -> /src/file: %q %v", c.name, dst, err)
		}
		skiff(t, "cp", "-L", c.name+":/src/link", out+"/l2").OK(t)
		if fi, err := os.Lstat(out + "/l2"); err != nil || !fi.Mode().IsRegular() || cpRead(out+"/l2") != "f\n" {
			t.Errorf("cp -L %s:/src/link: host l2 is not a regular file with the target's content: %v %v", c.name, fi, err)
		}
		// In: likewise.
		h := cpHostTree(t)
		skiff(t, "cp", h+"/hl", c.name+":/tmp/hl").OK(t)
		skiff(t, "cp", "-L", h+"/hl", c.name+":/tmp/hl2").OK(t)
		if got := c.check(t, "readlink /tmp/hl; [ -L /tmp/hl2 ] || cat /tmp/hl2"); got != "file.txt\nhello\n" {
			t.Errorf("host symlink copied into %s without and with -L: %q, want the link (file.txt) and the content", c.name, got)
		}
	})
}

func TestCpSymlinkEscape(t *testing.T) {
	cpStates(t, nil, func(t *testing.T, c *cpCtr) {
		h := harness.UserDir(t, harness.E2E)
		abs, rel := "skiff-cp-escape-"+harness.UniqueSuffix(), "skiff-cp-escape-"+harness.UniqueSuffix()
		for _, n := range []string{abs, rel} {
			harness.WriteUserFile(t, harness.E2E, filepath.Join(h, n), []byte("inside\n"))
			t.Cleanup(func() { _ = os.Remove("/etc/" + n) })
		}
		// /escape -> /etc and /src/up -> ../../../../../../etc lead to the
		// container's /etc, never the host's.
		skiff(t, "cp", filepath.Join(h, abs), c.name+":/escape/").OK(t)
		skiff(t, "cp", filepath.Join(h, rel), c.name+":/src/up/").OK(t)
		for _, n := range []string{abs, rel} {
			if _, err := os.Lstat("/etc/" + n); !os.IsNotExist(err) {
				t.Errorf("cp through a container symlink wrote the HOST's /etc/%s (%v)", n, err)
			}
		}
		if got := c.check(t, "cat /etc/"+abs+" /etc/"+rel); got != "inside\ninside\n" {
			t.Errorf("cp through /escape and /src/up: the container's /etc holds %q, want both files", got)
		}
		// Out: the container's passwd, not the host's.
		out := harness.UserDir(t, harness.E2E)
		skiff(t, "cp", c.name+":/escape/passwd", out+"/p1").OK(t)
		skiff(t, "cp", c.name+":/src/up/passwd", out+"/p2").OK(t)
		skiff(t, "cp", "-L", c.name+":/escape", out+"/etc").OK(t)
		for _, p := range []string{"p1", "p2", "etc/passwd"} {
			got := cpRead(filepath.Join(out, p))
			if !strings.Contains(got, "app:x:1000:1000") || strings.Contains(got, harness.E2E.Name) {
				t.Errorf("cp out of %s through a symlink to /etc: %s is not the container's passwd:\n%s", c.name, p, got)
			}
		}
	})
}

func TestCpErrors(t *testing.T) {
	cpStates(t, nil, func(t *testing.T, c *cpCtr) {
		h := cpHostTree(t)
		out := harness.UserDir(t, harness.E2E)
		harness.WriteUserFile(t, harness.E2E, out+"/existing", []byte("keep\n"))
		skiff(t, "cp", c.name+":/nope", out+"/").ErrorLine(t, errExit, "could not find the file", "/nope")
		skiff(t, "cp", c.name+":/src/dir/nope", "-").ErrorLine(t, errExit, "could not find the file")
		skiff(t, "cp", h+"/file.txt", c.name+":/nonexistent/dir/").Exit(t, errExit)
		skiff(t, "cp", h+"/tree", c.name+":/nonexistent/dir/").Exit(t, errExit)
		skiff(t, "cp", h+"/tree", c.name+":/src/file").Exit(t, errExit)
		skiff(t, "cp", c.name+":/src/dir", out+"/existing").Exit(t, errExit)
		skiff(t, "cp", c.name+":/src/file", out+"/missing/dir/").Exit(t, errExit)
		skiff(t, "cp", h+"/missing", c.name+":/tmp/").Exit(t, errExit)
		skiff(t, "cp", c.name+":/src/file", c.name+":/tmp/").Exit(t, errExit)
		if got := cpRead(out + "/existing"); got != "keep\n" {
			t.Errorf("a refused cp changed the host file: %q", got)
		}
		if got := c.check(t, "cat /src/file; [ -e /nonexistent ] || echo none"); got != "f\nnone\n" {
			t.Errorf("refused copies changed the container: %q", got)
		}
	})
}

func TestCpUsage(t *testing.T) {
	parallel(t)
	h := cpHostTree(t)
	out := harness.UserDir(t, harness.E2E)
	missing := "lc-missing-" + harness.UniqueSuffix()
	skiff(t, "cp", h+"/file.txt", out+"/x").ErrorLine(t, errExit, "container")
	skiff(t, "cp", missing+":/etc/passwd", out+"/x").ErrorLine(t, errExit, missing)
	skiff(t, "cp", h+"/file.txt", missing+":/tmp/").ErrorLine(t, errExit, missing)
	skiff(t, "cp", missing+":/a", missing+":/b").Exit(t, errExit)
	skiff(t, "cp", h+"/file.txt").Exit(t, errExit)
	if _, err := os.Lstat(out + "/x"); err == nil {
		t.Errorf("a refused cp created %s/x", out)
	}
}

// TestCpVolume copies into and out of a volume of a running and of a stopped
// container: the files are the volume's, as in Docker.
func TestCpVolume(t *testing.T) {
	parallel(t)
	for _, running := range []bool{true, false} {
		state := "stopped"
		if running {
			state = "running"
		}
		t.Run(state, func(t *testing.T) {
			t.Parallel()
			name := volName("cp-" + state)
			volRmOnCleanup(t, name)
			c := cpStart(t, running, []string{"-v", name + ":/vol", "-v", name + ":/volro:ro"})
			h := cpHostTree(t)
			skiff(t, "cp", h+"/file.txt", c.name+":/vol/").OK(t)
			if got := cpRead(filepath.Join(volMountpoint(name), "file.txt")); got != "hello\n" {
				t.Errorf("cp into %s:/vol/ (%s): the volume's file.txt is %q, want hello", c.name, state, got)
			}
			harness.WriteUserFile(t, harness.E2E, filepath.Join(volMountpoint(name), "from-host"), []byte("vol\n"))
			out := harness.UserDir(t, harness.E2E)
			r := skiff(t, "cp", c.name+":/vol/from-host", out+"/")
			if got := cpRead(out + "/from-host"); r.ExitCode != 0 || got != "vol\n" {
				t.Errorf("cp out of %s:/vol (%s): %q, want the volume's file\n%s", c.name, state, got, r.Output())
			}
			// A read-only volume refuses the copy (Docker: "marked read-only").
			skiff(t, "cp", h+"/tree/a", c.name+":/volro/").Exit(t, errExit)
			if _, err := os.Lstat(filepath.Join(volMountpoint(name), "a")); err == nil {
				t.Errorf("cp into the :ro volume of %s (%s) wrote to the volume", c.name, state)
			}
		})
	}
}

// cpKeys lists a map's keys for messages.
func cpKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Docker's overwrite rule, both ways: a file never replaces a directory
// nor a directory a file; the error names both and nothing is deleted.
func TestCpNeverReplacesDirectoryWithFile(t *testing.T) {
	cpStates(t, nil, func(t *testing.T, c *cpCtr) {
		h := cpHostTree(t)
		u := harness.E2E
		// The host's out/file is a non-empty directory; the container's
		// /src/file is a file.
		out := harness.UserDir(t, u)
		must(t, os.MkdirAll(filepath.Join(out, "file", "keep"), 0o755))
		harness.WriteUserFile(t, u, filepath.Join(out, "file", "keep", "precious"), []byte("mine\n"))
		must(t, os.Chown(filepath.Join(out, "file"), u.UID, u.GID))
		must(t, os.Chown(filepath.Join(out, "file", "keep"), u.UID, u.GID))
		skiff(t, "cp", c.name+":/src/file", out).ErrorLine(t, errExit, "overwrite directory", filepath.Join(out, "file"), "/src/file")
		if got := cpRead(filepath.Join(out, "file", "keep", "precious")); got != "mine\n" {
			t.Errorf("the refused cp changed the host directory: precious = %q", got)
		}
		// The host's out/dir is a file; the container's /src/dir a directory.
		harness.WriteUserFile(t, u, filepath.Join(out, "dir"), []byte("a file\n"))
		skiff(t, "cp", c.name+":/src/dir", out).ErrorLine(t, errExit, "non-directory", filepath.Join(out, "dir"), "/src/dir")
		if got := cpRead(filepath.Join(out, "dir")); got != "a file\n" {
			t.Errorf("the refused cp changed the host file: %q", got)
		}
		// Into the container: the host's file out/dir over the directory
		// /src/dir, the host's directory out/file over the file /src/file.
		skiff(t, "cp", filepath.Join(out, "dir"), c.name+":/src").ErrorLine(t, errExit, "overwrite", "/src/dir")
		skiff(t, "cp", filepath.Join(out, "file"), c.name+":/src").ErrorLine(t, errExit, "overwrite", "/src/file")
		// A file into an existing directory is no conflict: it goes in.
		skiff(t, "cp", filepath.Join(h, "file.txt"), c.name+":/src/dir").OK(t)
		if got := c.check(t, "cat /src/dir/a /src/file /src/dir/file.txt"); got != "a\nf\nhello\n" {
			t.Errorf("the refused copies changed the container: %q", got)
		}
	})
}
