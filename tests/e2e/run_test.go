package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

func TestRunEcho(t *testing.T) {
	parallel(t)
	r := skiff(t, "run", "--rm", busybox(t), "echo", "hello").OK(t)
	r.StdoutIs(t, "hello\n")
	if r.Stderr != "" {
		t.Errorf("run of a pulled image should print nothing on stderr\n%s", r.Output())
	}
}

func TestRunDefaultCmd(t *testing.T) {
	parallel(t)
	// The image's Cmd is sh: with no command it reads the script from stdin.
	r := skiffWith(t, harness.RunOptions{Stdin: strings.NewReader("echo from-stdin-script\n")}, "run", "--rm", "-i", busybox(t))
	r.OK(t).StdoutIs(t, "from-stdin-script\n")
}

func TestRunExitStatus(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	for _, code := range []int{0, 1, 3, 42, 255} {
		skiff(t, "run", "--rm", bb, "sh", "-c", "exit "+strconv.Itoa(code)).Exit(t, code)
	}
}

func TestRunExitStatusKilled(t *testing.T) {
	parallel(t)
	// Killed by a signal: 128+signal, like Docker. Pid 1 cannot be killed
	// from inside its namespace, so the test kills it from the host.
	marker := strconv.Itoa(1_000_000 + int(time.Now().UnixNano()%8_000_000))
	bg := startBackground(t, harness.E2E, "run", "--rm", busybox(t), "sleep", marker)
	pid := waitForProcess(t, "sleep\x00"+marker+"\x00")
	must(t, syscall.Kill(pid, syscall.SIGKILL))
	if code := bg.wait(t, 30*time.Second); code != 137 {
		t.Errorf("container killed by SIGKILL: skiff exited %d, want 137\n%s", code, bg.output())
	}
}

// waitForProcess waits up to 30s for a host process whose command line is
// exactly cmdline (arguments separated by NULs) and returns its pid.
func waitForProcess(t *testing.T, cmdline string) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			if b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline"); err == nil && string(b) == cmdline {
				return pid
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no process %q appeared within 30s", cmdline)
	return 0
}

func TestRunCommandNotFound(t *testing.T) {
	parallel(t)
	skiff(t, "run", "--rm", busybox(t), "nosuchcmd").ErrorLine(t, 127, "nosuchcmd")
	skiff(t, "run", "--rm", busybox(t), "/no/such/path").ErrorLine(t, 127, "/no/such/path")
}

func TestRunNotExecutable(t *testing.T) {
	parallel(t)
	// /etc/passwd is mode 0644.
	skiff(t, "run", "--rm", busybox(t), "/etc/passwd").ErrorLine(t, 126, "/etc/passwd")
	// A directory cannot be executed either.
	skiff(t, "run", "--rm", busybox(t), "/etc").ErrorLine(t, 126, "/etc")
}

func TestRunUnknownImagePullNever(t *testing.T) {
	parallel(t)
	skiff(t, "run", "--rm", "--pull", "never", ref("nosuchimage")).ErrorLine(t, runExit, "nosuchimage")
	skiff(t, "run", "--rm", "--pull", "never", "nosuchlocal:v9").ErrorLine(t, runExit, "nosuchlocal")
}

func TestRunPullsMissingImage(t *testing.T) {
	parallel(t)
	pi := harness.PushVariant(t, "autopull", "latest", "autopull")
	// Like docker run: pulled on demand; progress may go to stderr, the
	// container's output alone to stdout.
	image := ref("autopull")
	r := skiff(t, "run", "--rm", image, "cat", "/variant").OK(t).StdoutIs(t, "autopull\n")
	if !imageListed(t, harness.E2E, pi.Ref) {
		t.Errorf("run did not keep the pulled image %s", pi.Ref)
	}
	// Docker's lines around the pull, on stderr.
	for _, want := range []string{"Unable to find image '" + image + "' locally", "Status: Downloaded newer image for " + image + ":latest"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("run of a missing image: no %q on stderr\n%s", want, r.Output())
		}
	}
	// --pull always pulls without calling the image missing, and says
	// when nothing changed; -q says nothing.
	r = skiff(t, "run", "--rm", "--pull", "always", image, "true").OK(t)
	if !strings.Contains(r.Stderr, "Status: Image is up to date for "+image+":latest") || strings.Contains(r.Stderr, "Unable to find image") {
		t.Errorf("run --pull always of a present, unchanged image:\n%s", r.Output())
	}
	if r = skiff(t, "run", "--rm", "-q", "--pull", "always", image, "true").OK(t); r.Stderr != "" {
		t.Errorf("run -q --pull always wrote to stderr: %q", r.Stderr)
	}
}

func TestRunBadArguments(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	for _, tc := range []struct {
		name  string
		flags []string
		word  string
	}{
		{"volume-relative-target", []string{"-v", "/tmp:data"}, "data"},
		{"volume-too-many-colons", []string{"-v", "/a:/b:ro:x:y"}, "/a:/b:ro:x:y"},
		{"volume-bad-option", []string{"-v", "/tmp:/data:bogus"}, "bogus"},
		{"env-empty-name", []string{"-e", "=value"}, "=value"},
		{"user-bad-syntax", []string{"-u", "1:2:3"}, "2:3"},
		{"tmpfs-relative", []string{"--tmpfs", "scratch"}, "scratch"},
		{"tmpfs-bad-size", []string{"--tmpfs", "/scratch:size=lots"}, "size"},
		{"unknown-flag", []string{"--nosuchflag"}, "--nosuchflag"},
		{"bad-network", []string{"--network", "nosuchnet"}, "nosuchnet"},
		{"bad-cap", []string{"--cap-add", "NOT_A_CAP"}, "NOT_A_CAP"},
		{"bad-security-opt", []string{"--security-opt", "bogus=1"}, "bogus"},
		{"bad-pull-policy", []string{"--pull", "sometimes"}, "sometimes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append(append([]string{"run", "--rm"}, tc.flags...), bb, "echo", "must-not-run")
			r := skiff(t, args...)
			r.ErrorLine(t, runExit, tc.word)
			if strings.Contains(r.Stdout, "must-not-run") {
				t.Errorf("the container ran despite the bad argument")
			}
		})
	}
	// No image at all.
	skiff(t, "run", "--rm").ErrorLine(t, errExit)
}

func TestRunEnv(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	r := skiffWith(t, harness.RunOptions{Env: []string{"FROM_HOST=host-value"}},
		"run", "--rm", "-e", "FOO=bar", "-e", "EMPTY=", "-e", "SPACED=a b", "-e", "FROM_HOST", "-e", "UNSET_ON_HOST",
		bb, "sh", "-c", `echo "$FOO|$EMPTY|$SPACED|$FROM_HOST|${UNSET_ON_HOST-unset}|$PATH|$HOME"; env | grep -c ^HOSTNAME=`)
	// -e NAME takes the value from skiff's environment, and is dropped when unset there (Docker).
	r.OK(t).StdoutIs(t, "bar||a b|host-value|unset|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin|/root\n1\n")

	dir := harness.UserDir(t, harness.E2E)
	envFile := filepath.Join(dir, "env.list")
	harness.WriteUserFile(t, harness.E2E, envFile, []byte("# a comment\nA=1\n\nB=two words\nFOO=from-file\n"))
	// -e wins over --env-file.
	r = skiff(t, "run", "--rm", "--env-file", envFile, "-e", "FOO=from-flag", bb, "sh", "-c", `echo "$A|$B|$FOO"`)
	r.OK(t).StdoutIs(t, "1|two words|from-flag\n")

	skiff(t, "run", "--rm", "--env-file", filepath.Join(dir, "missing.list"), bb, "true").ErrorLine(t, runExit, "missing.list")
}

func TestRunWorkdir(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	// Docker creates a missing working directory.
	skiff(t, "run", "--rm", "-w", "/tmp/new/dir", bb, "pwd").OK(t).StdoutIs(t, "/tmp/new/dir\n")
	skiff(t, "run", "--rm", "--workdir", "/etc", bb, "pwd").OK(t).StdoutIs(t, "/etc\n")
	// The image default is /.
	skiff(t, "run", "--rm", bb, "pwd").OK(t).StdoutIs(t, "/\n")
}

func TestRunUser(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	skiff(t, "run", "--rm", "-u", "app", bb, "sh", "-c", "id -u; id -g; id -un; echo $HOME").OK(t).StdoutIs(t, "1000\n1000\napp\n/home/app\n")
	skiff(t, "run", "--rm", "-u", "1000:50", bb, "sh", "-c", "id -u; id -g; id -gn").OK(t).StdoutIs(t, "1000\n50\nstaff\n")
	skiff(t, "run", "--rm", "-u", "app:staff", bb, "sh", "-c", "id -u; id -g").OK(t).StdoutIs(t, "1000\n50\n")
	// A uid that has no passwd entry is allowed (Docker).
	skiff(t, "run", "--rm", "-u", "4242", bb, "sh", "-c", "id -u; id -g").OK(t).StdoutIs(t, "4242\n0\n")
	skiff(t, "run", "--rm", "-u", "nobody", bb, "id", "-u").OK(t).StdoutIs(t, "65534\n")
	// The default is root.
	skiff(t, "run", "--rm", bb, "id", "-u").OK(t).StdoutIs(t, "0\n")
}

func TestRunUserUnknown(t *testing.T) {
	parallel(t)
	for _, u := range []string{"nosuchuser", "app:nosuchgroup"} {
		r := skiff(t, "run", "--rm", "-u", u, busybox(t), "true")
		if r.ExitCode != 125 && r.ExitCode != 126 {
			t.Errorf("-u %s: want exit 125 or 126\n%s", u, r.Output())
		}
		r.ErrorLine(t, r.ExitCode, strings.TrimPrefix(u, "app:"))
	}
}

func TestRunEntrypoint(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	skiff(t, "run", "--rm", "--entrypoint", "/bin/echo", bb, "hi", "there").OK(t).StdoutIs(t, "hi there\n")
	// --entrypoint alone drops the image's Cmd (Docker).
	skiff(t, "run", "--rm", "--entrypoint", "/bin/echo", bb).OK(t).StdoutIs(t, "\n")
}

func TestRunImageConfig(t *testing.T) {
	parallel(t)
	cfg := pulled(t, harness.E2E, "config")
	// Entrypoint + Cmd.
	skiff(t, "run", "--rm", cfg).OK(t).StdoutIs(t, "ep default-cmd\n")
	// Arguments replace Cmd, not the Entrypoint.
	skiff(t, "run", "--rm", cfg, "x", "y").OK(t).StdoutIs(t, "ep x y\n")
	// Env, WorkingDir and User of the image apply.
	skiff(t, "run", "--rm", "--entrypoint", "sh", cfg, "-c", "echo $FOO; pwd; id -u").OK(t).StdoutIs(t, "bar\n/home/app\n1000\n")
	// Flags override the image.
	skiff(t, "run", "--rm", "--entrypoint", "sh", "-u", "0", "-w", "/", "-e", "FOO=over", cfg, "-c", "echo $FOO; pwd; id -u").OK(t).StdoutIs(t, "over\n/\n0\n")
}

func TestRunHostname(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	skiff(t, "run", "--rm", "--hostname", "myhost", bb, "sh", "-c", "hostname; cat /etc/hostname; grep -c myhost /etc/hosts").OK(t).StdoutIs(t, "myhost\nmyhost\n1\n")
	// The default hostname is the short container ID, like Docker.
	out := runOut(t, nil, "hostname")
	if !hex12.MatchString(strings.TrimSpace(out)) {
		t.Errorf("default hostname %q, want the 12-digit container ID", out)
	}
}

func TestRunEtcFiles(t *testing.T) {
	parallel(t)
	out := runOut(t, nil, "sh", "-c", "cat /etc/hosts; echo ===; cat /etc/resolv.conf")
	hosts, resolv, _ := strings.Cut(out, "===\n")
	if !regexp.MustCompile(`(?m)^127\.0\.0\.1\s+localhost`).MatchString(hosts) {
		t.Errorf("/etc/hosts lacks 127.0.0.1 localhost:\n%s", hosts)
	}
	if !regexp.MustCompile(`(?m)^nameserver\s+\S+`).MatchString(resolv) {
		t.Errorf("/etc/resolv.conf has no nameserver:\n%s", resolv)
	}
	// The files are the container's own: writable, and changes do not leak.
	runOut(t, nil, "sh", "-c", "echo 10.1.2.3 extra >> /etc/hosts")
	if strings.Contains(runOut(t, nil, "cat", "/etc/hosts"), "extra") {
		t.Errorf("a change to /etc/hosts leaked into the next container")
	}
}

func TestRunContainerFilesystemIsolated(t *testing.T) {
	parallel(t)
	// Writes go to the container's own layer: the next container starts clean.
	runOut(t, nil, "sh", "-c", "echo dirty > /etc/dirty; rm /bin/ls")
	runOut(t, nil, "sh", "-c", "test ! -e /etc/dirty && test -e /bin/ls")
}

func TestRunNameDuplicate(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	name := "dup-" + harness.UniqueSuffix()
	bg := startBackground(t, harness.E2E, "run", "--rm", "--name", name, bb, "sh", "-c", "trap 'exit 0' TERM; echo started; sleep 60 & wait")
	bg.waitFor(t, "started")
	skiff(t, "run", "--rm", "--name", name, bb, "true").ErrorLine(t, runExit, name, "already in use|already exists|conflict")
	bg.stop(t)
	// Once the first is gone (--rm), the name is free again.
	skiff(t, "run", "--rm", "--name", name, bb, "echo", "reused").OK(t).StdoutIs(t, "reused\n")
}

// TestRunRmLeavesNothing is not parallel: it compares the store before and after.
func TestRunRmLeavesNothing(t *testing.T) {
	harness.Need(t)
	bb := busybox(t)
	u := harness.E2E
	runOut(t, nil, "true") // the shared namespace and its mounts exist
	// skiff's own container records and the storage library's.
	dirs := []string{filepath.Join(u.DataDir(), "containers"), filepath.Join(u.DataDir(), "storage", "overlay-containers")}
	before := entriesOfContainers(dirs...)
	mountsBefore := storeMounts(t, u)
	name := "rmcheck-" + harness.UniqueSuffix()
	skiff(t, "run", "--rm", "--name", name, bb, "sh", "-c", "echo x > /written").OK(t)
	if after := entriesOfContainers(dirs...); len(after) != len(before) {
		t.Errorf("--rm left a container directory: before %v, after %v", before, after)
	}
	if mountsAfter := storeMounts(t, u); len(mountsAfter) > len(mountsBefore) {
		t.Errorf("--rm left mounts under the store:\nbefore %v\nafter %v", mountsBefore, mountsAfter)
	}
	skiff(t, "inspect", name).ErrorLine(t, errExit, name)
}

// TestRunRmVolatileLayer: a --rm container's layer is volatile, as
// Podman makes it (no sync of its upper directory, its store records
// written without fsync: it is gone at its exit anyway); a container
// that stays is not.
func TestRunRmVolatileLayer(t *testing.T) {
	parallel(t)
	root := `grep " / " /proc/mounts`
	if out := runOut(t, nil, "sh", "-c", root); !strings.Contains(out, "volatile") {
		t.Errorf("run --rm: the root file system is not mounted volatile: %s", out)
	}
	name := lcName("not-volatile")
	rmOnCleanup(t, harness.E2E, name)
	out := skiff(t, "run", "--name", name, busybox(t), "sh", "-c", root).OK(t).Stdout
	if strings.Contains(out, "volatile") || !strings.Contains(out, "overlay") {
		t.Errorf("run without --rm: want the root file system mounted as usual, not volatile: %s", out)
	}
}

// entriesOfContainers is dirNames without the hidden entries: skiff's
// store-wide files among the containers' directories (.names.lock, made
// by the first create with --name; the .names links), no container's.
func entriesOfContainers(dirs ...string) []string {
	var out []string
	for _, p := range dirNames(dirs...) {
		if !strings.HasPrefix(filepath.Base(p), ".") {
			out = append(out, p)
		}
	}
	return out
}

// dirNames lists the entries of dirs (none for a missing dir).
func dirNames(dirs ...string) []string {
	var out []string
	for _, d := range dirs {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			out = append(out, filepath.Join(d, e.Name()))
		}
	}
	return out
}

// storeMounts lists overlay (and fuse) mounts under u's data directory, in
// the host mount namespace and in the pause process's: the namespaces that
// outlive a container.
func storeMounts(t *testing.T, u *harness.User) []string {
	t.Helper()
	all, err := harness.MountsUnder(os.Getpid(), u.DataDir())
	must(t, err)
	if pid, err := harness.PausePID(u); err == nil {
		m, err := harness.MountsUnder(pid, u.DataDir())
		if err == nil {
			all = append(all, m...)
		}
	}
	var out []string
	for _, m := range all {
		if strings.HasPrefix(m, "overlay ") || strings.HasPrefix(m, "fuse") {
			out = append(out, m)
		}
	}
	return out
}
