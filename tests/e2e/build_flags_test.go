package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// Docker's build flags beyond the Dockerfile: what RUN steps get
// (--add-host, --security-opt, --ssh), where layers come from
// (--cache-from, --squash), what is written besides the image (--output),
// what is printed (--progress), and the flags that have nothing to act on
// in a daemonless builder (--rm, --force-rm, --compress,
// --disable-content-trust, --isolation).

// buildTag is a fresh tag for the e2e user's image, removed when the test ends.
func buildTag(t *testing.T, name string) string {
	t.Helper()
	tag := name + ":" + harness.UniqueSuffix()
	t.Cleanup(func() { harness.RunAs(t, harness.E2E, "rmi", "-f", tag) })
	return tag
}

func TestBuildAddHostAndSecurityOpt(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	dir := buildContext(t, map[string]string{"Dockerfile": "FROM " + bb + "\n" +
		"RUN (grep myhost /etc/hosts || echo none) > /hosts; grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status > /status\n"})
	tag := buildTag(t, "build-hosts")
	skiff(t, "build", "-q", "--add-host", "myhost:10.1.2.3", "--security-opt", "seccomp=unconfined",
		"--security-opt", "no-new-privileges", "-t", tag, dir).OK(t)
	out := skiff(t, "run", "--rm", tag, "cat", "/hosts", "/status").OK(t).Stdout
	for _, want := range []string{"10.1.2.3\tmyhost", "NoNewPrivs:\t1", "Seccomp:\t0"} {
		if !strings.Contains(out, want) {
			t.Errorf("RUN with --add-host and --security-opt saw %q, want %q in it", out, want)
		}
	}
	// Without them: no entry, Docker's seccomp filter, privileges may grow.
	skiff(t, "build", "-q", "--no-cache", "-t", tag, dir).OK(t)
	out = skiff(t, "run", "--rm", tag, "cat", "/hosts", "/status").OK(t).Stdout
	for _, want := range []string{"none", "NoNewPrivs:\t0", "Seccomp:\t2"} {
		if !strings.Contains(out, want) {
			t.Errorf("RUN without the flags saw %q, want %q in it", out, want)
		}
	}
	skiff(t, "build", "--add-host", "nocolon", dir).ErrorLine(t, errExit, "--add-host")
	skiff(t, "build", "--security-opt", "bogus", dir).ErrorLine(t, errExit, "--security-opt")
}

// TestBuildCacheFrom: an image pushed by one user stands in, for root
// (whose build cache has never seen the Dockerfile), for the steps that
// would make the same layers: the RUN that writes random bytes is not run
// again. A changed COPY source ends the match there.
func TestBuildCacheFrom(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	marker := harness.UniqueSuffix() // no build cache has this Dockerfile
	dir := buildContext(t, map[string]string{
		"Dockerfile": "FROM " + bb + "\nARG V=" + marker + "\nRUN head -c 16 /dev/urandom | od -An -tx1 > /stamp\nCOPY a.txt /a.txt\nRUN cat /stamp /a.txt > /both\n",
		"a.txt":      "one\n",
	})
	src := ref("cache-from-" + marker + ":1")
	skiff(t, "build", "-q", "-t", src, dir).OK(t)
	t.Cleanup(func() { harness.RunAs(t, harness.E2E, "rmi", "-f", src) })
	skiff(t, "push", src).OK(t)
	want := skiff(t, "run", "--rm", src, "cat", "/both").OK(t).Stdout
	layers := skiff(t, "image", "inspect", "-f", "{{json .RootFS.Layers}}", src).OK(t).Stdout

	pulled(t, harness.Root, "busybox")
	tag := "cache-from-root:" + marker
	t.Cleanup(func() { harness.RunAsRoot(t, "rmi", "-f", tag, src) })
	out := harness.RunAsRoot(t, "build", "-t", tag, "--cache-from", src, dir).OK(t).Stdout
	if n := strings.Count(out, "--> Using cache"); n != 3 {
		t.Errorf("build --cache-from: %d steps from the cache, want 3 (RUN, COPY, RUN):\n%s", n, out)
	}
	harness.RunAsRoot(t, "run", "--rm", tag, "cat", "/both").OK(t).StdoutIs(t, want)
	if got := harness.RunAsRoot(t, "image", "inspect", "-f", "{{json .RootFS.Layers}}", tag).OK(t).Stdout; got != layers {
		t.Errorf("layers %s, want the --cache-from image's %s", got, layers)
	}

	harness.WriteUserFile(t, harness.E2E, filepath.Join(dir, "a.txt"), []byte("two\n"))
	out = harness.RunAsRoot(t, "build", "-t", tag, "--cache-from", src, dir).OK(t).Stdout
	if n := strings.Count(out, "--> Using cache"); n != 1 {
		t.Errorf("build --cache-from with a changed COPY source: %d steps from the cache, want 1 (the first RUN):\n%s", n, out)
	}
	stamp := strings.SplitN(want, "\n", 2)[0]
	harness.RunAsRoot(t, "run", "--rm", tag, "cat", "/both").OK(t).StdoutIs(t, stamp+"\ntwo\n")

	// An image that cannot be had is left out with a warning.
	r := skiff(t, "build", "-q", "--cache-from", ref("nosuch-"+marker), dir).OK(t)
	if !strings.Contains(r.Stderr, "WARNING: --cache-from") {
		t.Errorf("--cache-from of a missing image: want a warning, stderr:\n%s", r.Stderr)
	}
}

func TestBuildSquash(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	dir := buildContext(t, map[string]string{
		"Dockerfile": "FROM " + bb + "\nRUN echo one > /one\nCOPY a.txt /a.txt\nRUN echo two > /two && rm /one /etc/owned-by-1000\nENV SQUASHED=yes\n",
		"a.txt":      "a\n",
	})
	tag := buildTag(t, "build-squash")
	skiff(t, "build", "-q", "--squash", "-t", tag, dir).OK(t)
	base := len(strings.Split(skiff(t, "image", "inspect", "-f", `{{join .RootFS.Layers " "}}`, bb).OK(t).Stdout, " "))
	got := len(strings.Split(skiff(t, "image", "inspect", "-f", `{{join .RootFS.Layers " "}}`, tag).OK(t).Stdout, " "))
	if got != base+1 {
		t.Errorf("--squash: %d layers, want the base's %d and one", got, base)
	}
	skiff(t, "run", "--rm", tag, "sh", "-c", "cat /two /a.txt; test ! -e /one && test ! -e /etc/owned-by-1000 && echo gone; echo $SQUASHED").OK(t).
		StdoutIs(t, "two\na\ngone\nyes\n")
	hist := skiff(t, "history", "--no-trunc", "--format", "{{.Comment}}", tag).OK(t).Stdout
	if !strings.Contains(hist, "merge sha256:") {
		t.Errorf("--squash: history has no merge entry:\n%s", hist)
	}
}

func TestBuildOutput(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	dir := buildContext(t, map[string]string{"Dockerfile": "FROM " + bb + "\nRUN echo built > /built\n"})
	out := filepath.Join(harness.UserDir(t, harness.E2E), "out")
	tag := buildTag(t, "build-output")
	skiff(t, "build", "-q", "-t", tag, "-o", "type=local,dest="+out, dir).OK(t)
	if data, err := os.ReadFile(filepath.Join(out, "built")); err != nil || string(data) != "built\n" {
		t.Errorf("-o type=local: %s/built = %q, %v", out, data, err)
	}
	var st syscall.Stat_t
	must(t, syscall.Stat(filepath.Join(out, "built"), &st))
	if int(st.Uid) != harness.E2E.UID {
		t.Errorf("-o type=local: %s/built belongs to uid %d, want the user who built (%d)", out, st.Uid, harness.E2E.UID)
	}
	// The image is made too.
	skiff(t, "run", "--rm", tag, "cat", "/built").OK(t).StdoutIs(t, "built\n")

	file := filepath.Join(harness.UserDir(t, harness.E2E), "rootfs.tar")
	skiff(t, "build", "-q", "-o", "type=tar,dest="+file, dir).OK(t)
	data, err := os.ReadFile(file)
	must(t, err)
	if !tarHas(t, data, "built") || !tarHas(t, data, "bin/busybox") {
		t.Errorf("-o type=tar: the archive lacks built or bin/busybox")
	}
	// -o -: the tar on stdout, the steps on stderr.
	r := skiff(t, "build", "-o", "-", dir).OK(t)
	if !tarHas(t, []byte(r.Stdout), "built") {
		t.Errorf("-o -: stdout is not the image's files")
	}
	if !strings.Contains(r.Stderr, "STEP 2/2") {
		t.Errorf("-o -: the steps should go to stderr:\n%s", r.Stderr)
	}
	skiff(t, "build", "-o", "type=registry,dest=x", dir).ErrorLine(t, errExit, "--output")
	skiff(t, "build", "-o", "type=local", dir).ErrorLine(t, errExit, "dest")
}

// tarHas says whether a tar holds an entry (leading ./ ignored).
func tarHas(t *testing.T, data []byte, name string) bool {
	t.Helper()
	return slices.Contains(tarNames(t, data), name)
}

// TestBuildSSH forwards an ssh-agent of the user's to RUN
// --mount=type=ssh: ssh-add inside (the host's, copied in with its
// libraries) lists the key loaded outside.
func TestBuildSSH(t *testing.T) {
	parallel(t)
	for _, bin := range []string{"/usr/bin/ssh-agent", "/usr/bin/ssh-add", "/usr/bin/ssh-keygen"} {
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("%s: install the Debian package openssh-client", bin)
		}
	}
	bb := busybox(t)
	dir := buildContext(t, map[string]string{"Dockerfile": "FROM " + bb + "\nCOPY root/ /\n" +
		"RUN --mount=type=ssh echo \"sock=$SSH_AUTH_SOCK\" && ssh-add -l\n"})
	copyWithLibraries(t, "/usr/bin/ssh-add", filepath.Join(dir, "root"))

	work := harness.UserDir(t, harness.E2E)
	sock := filepath.Join(work, "agent.sock")
	agent := harness.UserCommand(harness.E2E, "/usr/bin/ssh-agent", "-D", "-a", sock)
	must(t, agent.Start())
	t.Cleanup(func() { _ = agent.Process.Kill(); _ = agent.Wait() })
	key := filepath.Join(work, "key")
	userRun(t, nil, "/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "skiff-build-test", "-f", key)
	waitForSocket(t, sock)
	userRun(t, []string{"SSH_AUTH_SOCK=" + sock}, "/usr/bin/ssh-add", key)

	env := harness.RunOptions{Env: []string{"SSH_AUTH_SOCK=" + sock}}
	out := skiffWith(t, env, "build", "--no-cache", "--ssh", "default", dir).OK(t).Stdout
	for _, want := range []string{"sock=/run/buildkit/ssh_agent.0", "skiff-build-test (ED25519)"} {
		if !strings.Contains(out, want) {
			t.Errorf("RUN --mount=type=ssh: output lacks %q:\n%s", want, out)
		}
	}
	// ID=SOCKET names the agent itself; an id the Dockerfile requires but
	// the build does not forward is an error.
	harness.WriteUserFile(t, harness.E2E, filepath.Join(dir, "Dockerfile"), []byte("FROM "+bb+"\nCOPY root/ /\n"+
		"RUN --mount=type=ssh,id=work,target=/agent SSH_AUTH_SOCK=/agent ssh-add -l\n"))
	out = skiff(t, "build", "--no-cache", "--ssh", "work="+sock, dir).OK(t).Stdout
	if !strings.Contains(out, "skiff-build-test (ED25519)") {
		t.Errorf("--ssh work=SOCKET: output lacks the key:\n%s", out)
	}
	harness.WriteUserFile(t, harness.E2E, filepath.Join(dir, "Dockerfile"), []byte("FROM "+bb+"\nRUN --mount=type=ssh,required true\n"))
	skiff(t, "build", dir).LastErrorLine(t, errExit, "--ssh default")
	skiff(t, "build", "--ssh", "default", dir).ErrorLine(t, errExit, "SSH_AUTH_SOCK")
	skiff(t, "build", "--ssh", "default="+key, dir).ErrorLine(t, errExit, "not an agent socket")
}

// userRun runs a program as the e2e user and fails the test unless it exits 0.
func userRun(t *testing.T, env []string, prog string, args ...string) {
	t.Helper()
	cmd := harness.UserCommand(harness.E2E, prog, args...)
	cmd.Env = append(cmd.Env, env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", prog, strings.Join(args, " "), err, out)
	}
}

func waitForSocket(t *testing.T, p string) {
	t.Helper()
	for i := 0; i < 100; i++ {
		if fi, err := os.Stat(p); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no socket at %s", p)
}

// copyWithLibraries copies a dynamically linked program and the
// libraries ldd names into root, at their own paths.
func copyWithLibraries(t *testing.T, prog, root string) {
	t.Helper()
	out, err := exec.Command("ldd", prog).Output()
	must(t, err)
	files := []string{prog}
	for _, m := range regexp.MustCompile(`(/\S+) \(0x`).FindAllStringSubmatch(string(out), -1) {
		files = append(files, m[1])
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		must(t, err)
		dst := filepath.Join(root, f)
		must(t, os.MkdirAll(filepath.Dir(dst), 0o755))
		must(t, os.WriteFile(dst, data, 0o755))
	}
	must(t, filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(p, harness.E2E.UID, harness.E2E.GID)
	}))
}

// TestBuildRmFlagsLeaveNothing: --rm=false and --force-rm are accepted;
// skiff removes a RUN's container whatever they say, after a failing RUN
// too. Not parallel: it counts build containers.
func TestBuildRmFlagsLeaveNothing(t *testing.T) {
	harness.Need(t)
	bb := busybox(t)
	dir := buildContext(t, map[string]string{"Dockerfile": "FROM " + bb + "\nRUN echo ok > /ok\nRUN exit 7\n"})
	for _, flags := range [][]string{{"--rm=false"}, {"--force-rm"}, {"--rm=false", "--force-rm=false"}} {
		args := append(append([]string{"build", "-q", "--no-cache"}, flags...), dir)
		skiff(t, args...).ErrorLine(t, 1, "status 7")
		if left := skiff(t, "ps", "-a", "-q", "--filter", "name=skiff-build-").OK(t).Lines(); len(left) > 0 {
			t.Errorf("build %s left containers behind: %v", strings.Join(flags, " "), left)
		}
	}
}

func TestBuildProgressAndNoOpFlags(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	dir := buildContext(t, map[string]string{"Dockerfile": "FROM " + bb + "\nRUN echo hi\n"})
	for _, p := range []string{"auto", "plain", "tty"} {
		if out := skiff(t, "build", "--progress", p, dir).OK(t).Stdout; !strings.Contains(out, "STEP 2/2: RUN echo hi") {
			t.Errorf("--progress %s: no step lines:\n%s", p, out)
		}
	}
	out := skiff(t, "build", "--progress", "quiet", dir).OK(t).Stdout
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}\n$`).MatchString(out) {
		t.Errorf("--progress quiet printed %q, want the image ID only", out)
	}
	skiff(t, "build", "--progress", "rawjson", dir).ErrorLine(t, errExit, "--progress")
	skiff(t, "build", "-q", "--isolation", "default", dir).OK(t)
	skiff(t, "build", "--isolation", "hyperv", dir).ErrorLine(t, errExit, "--isolation")
	skiff(t, "build", "-q", "--disable-content-trust", dir).OK(t)
	skiff(t, "build", "--disable-content-trust=false", dir).ErrorLine(t, errExit, "content trust")
	r := skiff(t, "build", "-q", "--compress", dir).OK(t)
	if !strings.Contains(r.Stderr, "WARNING: --compress has no effect") {
		t.Errorf("--compress: want a warning saying it does nothing, stderr:\n%s", r.Stderr)
	}
}
