package e2e

// run/create's namespace modes, devices, sysctls, ulimits and the rest of
// Docker's flags (issue 15), each checked from inside the container, as
// the user with subordinate ids, the one without where it differs, and
// root.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/tests/harness"
)

// isoUsers are the users every isolation test runs as.
func isoUsers() []*harness.User { return []*harness.User{harness.E2E, harness.NoSub, harness.Root} }

// eachUser runs f as a subtest per user, skipping users this host cannot
// run rootless.
func eachUser(t *testing.T, users []*harness.User, f func(t *testing.T, u *harness.User, bb string)) {
	for _, u := range users {
		t.Run(u.Name, func(t *testing.T) {
			f(t, u, pulled(t, u, "busybox"))
		})
	}
}

// isoRun runs `run --rm FLAGS busybox CMD` as u, expects exit 0 and
// returns stdout.
func isoRun(t testing.TB, u *harness.User, bb string, flags []string, cmd ...string) string {
	t.Helper()
	args := append(append([]string{"run", "--rm"}, flags...), bb)
	return harness.RunAs(t, u, append(args, cmd...)...).OK(t).Stdout
}

// isoRefused checks that run with flags fails with exit 125 and one error
// line holding words, and that no container was created.
func isoRefused(t *testing.T, u *harness.User, bb string, flags []string, words ...string) {
	t.Helper()
	name := lcName("iso-bad")
	args := append(append([]string{"run", "--rm", "--name", name}, flags...), bb, "true")
	harness.RunAs(t, u, args...).LastErrorLine(t, 125, words...)
	if r := harness.RunAs(t, u, "inspect", name); r.ExitCode == 0 {
		t.Errorf("%s: a refused run left container %s behind", strings.Join(flags, " "), name)
		harness.RunAs(t, u, "rm", "-f", name)
	}
}

func hostFile(t testing.TB, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	must(t, err)
	return strings.TrimSpace(string(data))
}

func TestIsolationPidHost(t *testing.T) {
	parallel(t)
	comm := hostFile(t, "/proc/1/comm")
	eachUser(t, isoUsers(), func(t *testing.T, u *harness.User, bb string) {
		// The host's pid 1 (rootless too: /proc is the host's, bound).
		out := isoRun(t, u, bb, []string{"--pid", "host"}, "sh", "-c", "cat /proc/1/comm; echo $$")
		f := strings.Fields(out)
		if len(f) != 2 || f[0] != comm || f[1] == "1" {
			t.Errorf("--pid host: /proc/1/comm and the shell's pid: %q, want %s and a pid other than 1", out, comm)
		}
		if out := isoRun(t, u, bb, nil, "cat", "/proc/1/comm"); strings.TrimSpace(out) != "cat" {
			t.Errorf("own pid namespace: /proc/1/comm %q, want cat", out)
		}
	})
}

func TestIsolationPidIpcContainer(t *testing.T) {
	parallel(t)
	eachUser(t, isoUsers(), func(t *testing.T, u *harness.User, bb string) {
		donor, private := lcName("iso-donor"), lcName("iso-private")
		runDetachedAs(t, u, bb, donor, []string{"--ipc", "shareable"}, "sh", "-c", "exec sleep 1231")
		runDetachedAs(t, u, bb, private, nil, idleCmd...)
		// Its processes, from a container in its pid namespace.
		out := isoRun(t, u, bb, []string{"--pid", "container:" + donor}, "sh", "-c", "cat /proc/*/cmdline | tr '\\0' ' '")
		if !strings.Contains(out, "sleep 1231") {
			t.Errorf("--pid container:%s: its sleep is not among the processes: %q", donor, out)
		}
		// Its /dev/shm and IPC namespace.
		ns := strings.TrimSpace(harness.RunAs(t, u, "exec", donor, "readlink", "/proc/self/ns/ipc").OK(t).Stdout)
		out = isoRun(t, u, bb, []string{"--ipc", "container:" + donor}, "sh", "-c", "echo shared > /dev/shm/mark; readlink /proc/self/ns/ipc")
		if strings.TrimSpace(out) != ns {
			t.Errorf("--ipc container:%s: IPC namespace %q, want the donor's %q", donor, out, ns)
		}
		if got := harness.RunAs(t, u, "exec", donor, "cat", "/dev/shm/mark").OK(t).Stdout; got != "shared\n" {
			t.Errorf("the donor does not see the joiner's /dev/shm file: %q", got)
		}
		isoRefused(t, u, bb, []string{"--ipc", "container:" + private}, "shareable")
		isoRefused(t, u, bb, []string{"--pid", "container:nosuch-" + harness.UniqueSuffix()}, "nosuch")
	})
}

func TestIsolationIpcShm(t *testing.T) {
	parallel(t)
	mark := "skiff-iso-" + harness.UniqueSuffix()
	must(t, os.WriteFile("/dev/shm/"+mark, []byte("x"), 0o644))
	t.Cleanup(func() { os.Remove("/dev/shm/" + mark) })
	eachUser(t, isoUsers(), func(t *testing.T, u *harness.User, bb string) {
		if out := isoRun(t, u, bb, []string{"--ipc", "none"}, "sh", "-c", "test -e /dev/shm && echo there || echo none"); out != "none\n" {
			t.Errorf("--ipc none: /dev/shm %q, want none", out)
		}
		if out := isoRun(t, u, bb, []string{"--ipc", "host"}, "ls", "/dev/shm"); !strings.Contains(out, mark) {
			t.Errorf("--ipc host: the host's /dev/shm/%s is not there: %q", mark, out)
		}
		for flags, want := range map[string]string{"": "65536", "--shm-size 10m": "10240", "--shm-size 0": "65536", "--ipc shareable --shm-size 2m": "2048"} {
			out := isoRun(t, u, bb, strings.Fields(flags), "df", "-k", "/dev/shm")
			if f := strings.Fields(out); len(f) < 9 || f[8] != want {
				t.Errorf("%s: df /dev/shm %q, want %s 1k-blocks", flags, out, want)
			}
		}
		isoRefused(t, u, bb, []string{"--shm-size", "-1"}, "--shm-size")
		isoRefused(t, u, bb, []string{"--ipc", "host", "--shm-size", "1m"}, "--shm-size", "--ipc host")
		isoRefused(t, u, bb, []string{"--ipc", "bogus"}, "--ipc", "shareable")
	})
}

func TestIsolationUTS(t *testing.T) {
	parallel(t)
	host, err := os.Hostname()
	must(t, err)
	eachUser(t, isoUsers(), func(t *testing.T, u *harness.User, bb string) {
		if out := isoRun(t, u, bb, []string{"--uts", "host"}, "hostname"); strings.TrimSpace(out) != host {
			t.Errorf("--uts host: hostname %q, want the host's %q", out, host)
		}
		out := isoRun(t, u, bb, []string{"-h", "web", "--domainname", "example.org"}, "sh", "-c", "hostname; cat /proc/sys/kernel/domainname")
		if out != "web\nexample.org\n" {
			t.Errorf("--domainname: %q, want web and example.org", out)
		}
		isoRefused(t, u, bb, []string{"--uts", "host", "-h", "x"}, "--hostname", "--uts")
		isoRefused(t, u, bb, []string{"--uts", "private"}, "--uts")
	})
}

func TestIsolationCgroupns(t *testing.T) {
	parallel(t)
	eachUser(t, isoUsers(), func(t *testing.T, u *harness.User, bb string) {
		self, err := os.Readlink("/proc/self/ns/cgroup")
		must(t, err)
		if out := isoRun(t, u, bb, []string{"--cgroupns", "private"}, "readlink", "/proc/self/ns/cgroup"); strings.TrimSpace(out) == self {
			t.Errorf("--cgroupns private: the host's cgroup namespace %s", out)
		}
		if out := isoRun(t, u, bb, []string{"--cgroupns", "host"}, "readlink", "/proc/self/ns/cgroup"); strings.TrimSpace(out) != self {
			t.Errorf("--cgroupns host: %q, want the host's %s", out, self)
		}
		isoRefused(t, u, bb, []string{"--cgroupns", "x"}, "--cgroupns")
	})
}

func TestIsolationUsernsKeepID(t *testing.T) {
	parallel(t)
	u := harness.E2E
	bb := pulled(t, u, "busybox")
	dir := harness.UserDir(t, u)
	harness.WriteUserFile(t, u, filepath.Join(dir, "mine"), []byte("x"))
	out := isoRun(t, u, bb, []string{"--userns", "keep-id", "-v", dir + ":/b"}, "sh", "-c", "id -u; id -g; id -un; stat -c %u /b/mine; stat -c %u /bin/busybox; touch /b/made")
	want := fmt.Sprintf("%d\n%d\n%s\n%d\n0\n", u.UID, u.GID, u.Name, u.UID)
	if out != want {
		t.Errorf("--userns keep-id: uid, gid, owner of a bound file and of the image's /bin/busybox: %q, want %q", out, want)
	}
	var st unix.Stat_t
	must(t, unix.Stat(filepath.Join(dir, "made"), &st))
	if int(st.Uid) != u.UID {
		t.Errorf("--userns keep-id: a file made in the bind belongs to %d on the host, want the user %d", st.Uid, u.UID)
	}
	if out := isoRun(t, u, bb, []string{"--userns", "host"}, "id", "-u"); out != "0\n" {
		t.Errorf("--userns host: id -u %q, want 0", out)
	}
	isoRefused(t, u, bb, []string{"--userns", "keep-id", "--pid", "host"}, "keep-id")
	isoRefused(t, u, bb, []string{"--userns", "auto"}, "--userns")
	isoRefused(t, harness.NoSub, pulled(t, harness.NoSub, "busybox"), []string{"--userns", "keep-id"}, "subordinate")
	isoRefused(t, harness.Root, pulled(t, harness.Root, "busybox"), []string{"--userns", "keep-id"}, "rootless")
}

func TestIsolationGroupAdd(t *testing.T) {
	parallel(t)
	eachUser(t, isoUsers(), func(t *testing.T, u *harness.User, bb string) {
		if u == harness.NoSub {
			// One id in its user namespace: setgroups is denied there.
			isoRefused(t, u, bb, []string{"--group-add", "staff"}, "--group-add", "subordinate")
			return
		}
		out := isoRun(t, u, bb, []string{"--group-add", "staff", "--group-add", "1234"}, "id", "-G")
		if g := strings.Fields(out); !contains(g, "50") || !contains(g, "1234") {
			t.Errorf("--group-add staff --group-add 1234: id -G %q, want 50 (staff) and 1234", out)
		}
		name := lcName("iso-groups")
		runDetachedAs(t, u, bb, name, []string{"--group-add", "staff"}, idleCmd...)
		if out := harness.RunAs(t, u, "exec", name, "id", "-G").OK(t).Stdout; !contains(strings.Fields(out), "50") {
			t.Errorf("exec in a --group-add staff container: id -G %q, want 50 among them", out)
		}
		harness.RunAs(t, u, "run", "--rm", "--group-add", "nosuchgroup", bb, "true").LastErrorLine(t, 125, "nosuchgroup")
	})
}

func TestIsolationSysctl(t *testing.T) {
	parallel(t)
	eachUser(t, isoUsers(), func(t *testing.T, u *harness.User, bb string) {
		out := isoRun(t, u, bb, []string{"--sysctl", "net.ipv4.ip_forward=1", "--sysctl", "kernel.shmmax=123456", "--sysctl", "fs.mqueue.msg_max=20"},
			"cat", "/proc/sys/net/ipv4/ip_forward", "/proc/sys/kernel/shmmax", "/proc/sys/fs/mqueue/msg_max")
		if out != "1\n123456\n20\n" {
			t.Errorf("--sysctl: %q, want 1, 123456, 20", out)
		}
		isoRefused(t, u, bb, []string{"--sysctl", "kernel.hostname=x"}, "kernel.hostname", "--hostname")
		isoRefused(t, u, bb, []string{"--sysctl", "vm.swappiness=1"}, "vm.swappiness", "namespaced")
		isoRefused(t, u, bb, []string{"--network", "host", "--sysctl", "net.ipv4.ip_forward=1"}, "net.ipv4.ip_forward", "host")
		isoRefused(t, u, bb, []string{"--ipc", "host", "--sysctl", "kernel.shmmax=1"}, "kernel.shmmax", "IPC")
		isoRefused(t, u, bb, []string{"--sysctl", "novalue"}, "KEY=VALUE")
	})
}

func TestIsolationUlimit(t *testing.T) {
	parallel(t)
	var cur unix.Rlimit
	must(t, unix.Getrlimit(unix.RLIMIT_NOFILE, &cur))
	eachUser(t, isoUsers(), func(t *testing.T, u *harness.User, bb string) {
		out := isoRun(t, u, bb, []string{"--ulimit", "nofile=512:1024", "--ulimit", "nproc=100"}, "sh", "-c", "ulimit -n; ulimit -Hn; ulimit -u")
		if out != "512\n1024\n100\n" {
			t.Errorf("--ulimit nofile=512:1024 nproc=100: %q, want 512, 1024, 100", out)
		}
		if out := isoRun(t, u, bb, []string{"--ulimit", "nofile=512:1024"}, "sh", "-c", "ulimit -n"); out != "512\n" {
			t.Errorf("exec'd after --ulimit: %q", out)
		}
		isoRefused(t, u, bb, []string{"--ulimit", "nofiles=1"}, "--ulimit", "nofile")
		isoRefused(t, u, bb, []string{"--ulimit", "nofile=20:10"}, "--ulimit")
		if !u.IsRoot() && cur.Max != unix.RLIM_INFINITY {
			isoRefused(t, u, bb, []string{"--ulimit", fmt.Sprintf("nofile=1024:%d", cur.Max+1)}, "hard limit")
		}
	})
}

func TestIsolationDevices(t *testing.T) {
	parallel(t)
	eachUser(t, isoUsers(), func(t *testing.T, u *harness.User, bb string) {
		out := isoRun(t, u, bb, []string{"--device", "/dev/null:/dev/mynull", "--device", "/dev/zero"},
			"sh", "-c", "test -c /dev/mynull && echo x > /dev/mynull && head -c 3 /dev/zero | wc -c")
		if strings.TrimSpace(out) != "3" {
			t.Errorf("--device /dev/null:/dev/mynull --device /dev/zero: %q, want both usable", out)
		}
		isoRefused(t, u, bb, []string{"--device", "/dev/nosuch"}, "/dev/nosuch")
		isoRefused(t, u, bb, []string{"--device", "/etc/passwd"}, "device node")
		isoRefused(t, u, bb, []string{"--device-cgroup-rule", "x 1:3"}, "--device-cgroup-rule")
		if !u.IsRoot() {
			// /dev/kmsg is 0644 root's: the user cannot open it for writing.
			isoRefused(t, u, bb, []string{"--device", "/dev/kmsg"}, "/dev/kmsg", "cannot open")
			isoRefused(t, u, bb, []string{"--device-cgroup-rule", "c 1:11 rwm"}, "rootless")
			return
		}
		// Root: the devices cgroup refuses to open a node (fuse, 10:229)
		// until a rule allows it.
		open := []string{"sh", "-c", "mknod /tmp/f c 10 229 && exec 3</tmp/f && echo opened"}
		if r := harness.RunAs(t, u, append([]string{"run", "--rm", bb}, open...)...); r.ExitCode == 0 {
			t.Errorf("c 10:229 opened without a rule:\n%s", r.Output())
		}
		if out := isoRun(t, u, bb, []string{"--device-cgroup-rule", "c 10:229 rwm"}, open...); out != "opened\n" {
			t.Errorf("--device-cgroup-rule 'c 10:229 rwm': %q, want opened", out)
		}
	})
}

func TestIsolationGPUs(t *testing.T) {
	parallel(t)
	spec := filepath.Join("/etc/cdi", "skiff-e2e-"+harness.UniqueSuffix()+".yaml")
	must(t, os.MkdirAll("/etc/cdi", 0o755))
	eachUser(t, isoUsers(), func(t *testing.T, u *harness.User, bb string) {
		isoRefused(t, u, bb, []string{"--gpus", "device=skiff-e2e"}, "CDI", "nvidia.com/gpu=skiff-e2e")
		isoRefused(t, u, bb, []string{"--gpus", "bogus"}, "--gpus")
	})
	// A fake CDI spec: its GPU is /dev/null.
	must(t, os.WriteFile(spec, []byte(`cdiVersion: "0.6.0"
kind: nvidia.com/gpu
devices:
  - name: skiff-e2e
    containerEdits:
      deviceNodes:
        - path: /dev/skiff-gpu0
          hostPath: /dev/null
containerEdits:
  env:
    - SKIFF_FAKE_GPU=yes
`), 0o644))
	t.Cleanup(func() { os.Remove(spec) })
	eachUser(t, isoUsers(), func(t *testing.T, u *harness.User, bb string) {
		cmd := []string{"sh", "-c", "test -c /dev/skiff-gpu0 && echo x > /dev/skiff-gpu0 && echo $SKIFF_FAKE_GPU"}
		for _, flags := range [][]string{{"--gpus", "device=skiff-e2e"}, {"--device", "nvidia.com/gpu=skiff-e2e"}} {
			if out := isoRun(t, u, bb, flags, cmd...); out != "yes\n" {
				t.Errorf("%s: %q, want the fake GPU's node and variable", strings.Join(flags, " "), out)
			}
		}
		isoRefused(t, u, bb, []string{"--gpus", "99"}, "--gpus 99")
	})
}

func TestIsolationIPAndLink(t *testing.T) {
	parallel(t)
	harness.Requires(t, "slirp4netns")
	eachUser(t, []*harness.User{harness.E2E, harness.Root}, func(t *testing.T, u *harness.User, bb string) {
		nw := unNet("iso")
		unCreate(t, u, nw, "--subnet", "10.231.7.0/24")
		db := lcName("iso-db")
		runDetachedAs(t, u, bb, db, []string{"--network", nw, "--ip", "10.231.7.50"}, idleCmd...)
		if out := harness.RunAs(t, u, "exec", db, "ip", "-4", "addr", "show", "eth0").OK(t).Stdout; !strings.Contains(out, "inet 10.231.7.50/24") {
			t.Errorf("--ip 10.231.7.50: ip addr %q", out)
		}
		var eps map[string]struct{ IPAMConfig struct{ IPv4Address string } }
		must(t, json.Unmarshal(inspectAs(t, u, db).NetworkSettings["Networks"], &eps))
		if got := eps[nw].IPAMConfig.IPv4Address; got != "10.231.7.50" {
			t.Errorf("inspect: NetworkSettings.Networks.%s.IPAMConfig.IPv4Address %q, want 10.231.7.50", nw, got)
		}
		out := isoRun(t, u, bb, []string{"--network", nw, "--link", db + ":dbalias"}, "sh", "-c", "ping -c1 -W5 dbalias >/dev/null && grep dbalias /etc/hosts")
		if !strings.HasPrefix(out, "10.231.7.50") {
			t.Errorf("--link %s:dbalias: %q, want the alias resolving to 10.231.7.50", db, out)
		}
		isoRefused(t, u, bb, []string{"--network", nw, "--ip", "10.231.7.50"}, "already in use")
		isoRefused(t, u, bb, []string{"--network", nw, "--ip", "10.9.9.9"}, "10.231.7.0/24")
		isoRefused(t, u, bb, []string{"--ip", "10.231.7.60"}, "user defined networks")
		isoRefused(t, u, bb, []string{"--network", nw, "--ip", "nonsense"}, "--ip")
		isoRefused(t, u, bb, []string{"--network", nw, "--link", "nosuch-" + harness.UniqueSuffix()}, "nosuch")
	})
}

func TestIsolationAttachStreams(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	cmd := []string{bb, "sh", "-c", "echo out; echo err >&2"}
	r := skiff(t, append([]string{"run", "--rm", "-a", "stdout"}, cmd...)...).OK(t)
	if r.Stdout != "out\n" || strings.Contains(r.Stderr, "err") {
		t.Errorf("-a stdout: stdout %q stderr %q, want out and no err", r.Stdout, r.Stderr)
	}
	r = skiff(t, append([]string{"run", "--rm", "-a", "STDERR"}, cmd...)...).OK(t)
	if r.Stdout != "" || r.Stderr != "err\n" {
		t.Errorf("-a STDERR: stdout %q stderr %q, want none and err", r.Stdout, r.Stderr)
	}
	// -i -a stdin -a stdout: input goes in, stderr stays out.
	in := []string{"run", "--rm", "-i", "-a", "stdin", "-a", "stdout", bb, "sh", "-c", "cat; echo err >&2"}
	r = skiffWith(t, harness.RunOptions{Stdin: strings.NewReader("typed\n")}, in...).OK(t)
	if r.Stdout != "typed\n" || strings.Contains(r.Stderr, "err") {
		t.Errorf("-i -a stdin -a stdout: stdout %q stderr %q, want the input echoed and no err", r.Stdout, r.Stderr)
	}
	isoRefused(t, harness.E2E, bb, []string{"-a", "stdweird"}, "STDIN, STDOUT and STDERR")
	isoRefused(t, harness.E2E, bb, []string{"-d", "-a", "stdout"}, "--attach", "--detach")
}

func TestIsolationHealthStartInterval(t *testing.T) {
	parallel(t)
	name := lcName("iso-health")
	// Checked hourly, but every 200ms while starting: healthy long
	// before the hour.
	runDetached(t, name, []string{"--health-cmd", "test -f /tmp/ready", "--health-interval", "1h",
		"--health-start-period", "5m", "--health-start-interval", "200ms"}, "sh", "-c", "sleep 1; touch /tmp/ready; exec sleep 600")
	waitHealth(t, name, "healthy", 60*time.Second)
	if out := skiff(t, "inspect", "-f", "{{json .Config.Healthcheck.StartInterval}}", name).OK(t).Stdout; out != "200000000\n" {
		t.Errorf("inspect Config.Healthcheck.StartInterval %q, want 200000000", out)
	}
	isoRefused(t, harness.E2E, busybox(t), []string{"--health-start-interval", "1s"}, "--health-cmd")
}

func TestIsolationAcceptedValues(t *testing.T) {
	parallel(t)
	eachUser(t, isoUsers(), func(t *testing.T, u *harness.User, bb string) {
		dir := harness.UserDir(t, u)
		harness.WriteUserFile(t, u, filepath.Join(dir, "labels"), []byte("# labels\na=from-file\nb=2\n"))
		name := lcName("iso-accepted")
		rmOnCleanup(t, u, name)
		harness.RunAs(t, u, "create", "--name", name, "--runtime", "runc", "--isolation", "default", "--volume-driver", "local",
			"--platform", "linux/amd64", "--label-file", filepath.Join(dir, "labels"), "--label", "a=flag",
			"--annotation", "org.example/x=1", bb, "true").OK(t)
		var doc []struct {
			Config     struct{ Labels map[string]string }
			HostConfig struct{ Annotations map[string]string }
		}
		must(t, json.Unmarshal([]byte(harness.RunAs(t, u, "inspect", name).OK(t).Stdout), &doc))
		if len(doc) != 1 || doc[0].Config.Labels["a"] != "flag" || doc[0].Config.Labels["b"] != "2" || doc[0].HostConfig.Annotations["org.example/x"] != "1" {
			t.Errorf("inspect: labels, annotations, runtime: %+v", doc)
		}
		isoRefused(t, u, bb, []string{"--runtime", "crun"}, "runc")
		isoRefused(t, u, bb, []string{"--isolation", "hyperv"}, "--isolation")
		isoRefused(t, u, bb, []string{"--volume-driver", "nfs"}, "local")
		isoRefused(t, u, bb, []string{"--storage-opt", "size=1G"}, "--storage-opt", "size")
		isoRefused(t, u, bb, []string{"--platform", "linux/arm64"}, "linux/arm64")
		isoRefused(t, u, bb, []string{"--label-file", "/nonexistent/labels"}, "--label-file")
		isoRefused(t, u, bb, []string{"--annotation", "novalue"}, "--annotation")
	})
}

func TestIsolationUseAPISocket(t *testing.T) {
	u := harness.E2E
	harness.Need(t)
	bb := pulled(t, u, "busybox")
	isoRefused(t, u, bb, []string{"--use-api-socket"}, "skiff system service")
	cmd := harness.Command(u, "system", "service", "--time", "0")
	must(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Signal(unix.SIGTERM); _ = cmd.Wait() })
	sock := filepath.Join(u.RuntimeDir(), "skiff.sock")
	eventually(t, 20*time.Second, "the API socket "+sock, func() (bool, string) {
		_, err := os.Stat(sock)
		return err == nil, fmt.Sprint(err)
	})
	r := harness.RunAs(t, u, "run", "--rm", "--use-api-socket", bb, "sh", "-c", "test -S /var/run/docker.sock && echo socket").OK(t)
	if r.Stdout != "socket\n" || !strings.Contains(r.Stderr, "/var/run/docker.sock") {
		t.Errorf("--use-api-socket: stdout %q, stderr %q: want the socket inside and a line saying so", r.Stdout, r.Stderr)
	}
}

// TestIsolationInspect checks Docker's HostConfig fields of the flags.
func TestIsolationInspect(t *testing.T) {
	parallel(t)
	name := lcName("iso-inspect")
	createContainer(t, name, []string{"--pid", "host", "--ipc", "shareable", "--cgroupns", "private",
		"--group-add", "staff", "--sysctl", "net.ipv4.ip_forward=1", "--ulimit", "nofile=100:200", "--shm-size", "8m",
		"--device", "/dev/null:/dev/n:r", "--domainname", "example.org"}, "true")
	var doc []struct {
		Config     struct{ Domainname string }
		HostConfig struct {
			PidMode, IpcMode, UTSMode, CgroupnsMode string
			GroupAdd                                []string
			Sysctls                                 map[string]string
			Ulimits                                 []struct {
				Name       string
				Soft, Hard int64
			}
			ShmSize int64
			Devices []struct{ PathOnHost, PathInContainer, CgroupPermissions string }
		}
	}
	must(t, json.Unmarshal([]byte(skiff(t, "inspect", name).OK(t).Stdout), &doc))
	if len(doc) != 1 {
		t.Fatalf("inspect: %d documents", len(doc))
	}
	hc := doc[0].HostConfig
	got := fmt.Sprintln(hc.PidMode, hc.IpcMode, hc.UTSMode, hc.CgroupnsMode, hc.GroupAdd, hc.Sysctls, hc.Ulimits, hc.ShmSize, hc.Devices, doc[0].Config.Domainname)
	want := "host shareable  private [staff] map[net.ipv4.ip_forward:1] [{nofile 100 200}] " + strconv.Itoa(8<<20) + " [{/dev/null /dev/n r}] example.org\n"
	if got != want {
		t.Errorf("inspect HostConfig:\n got %s\nwant %s", got, want)
	}
	if out := skiff(t, "inspect", "-f", "{{.HostConfig.IpcMode}} {{json .HostConfig.ShmSize}}", busyboxCreated(t)).OK(t).Stdout; out != "private 67108864\n" {
		t.Errorf("defaults: IpcMode and ShmSize %q, want private 67108864", out)
	}
}

// busyboxCreated creates a container with no flags and returns its name.
func busyboxCreated(t *testing.T) string {
	name := lcName("iso-plain")
	createContainer(t, name, nil, "true")
	return name
}

// TestIsolationGenerateSystemd checks that generate systemd --new makes
// the container again with its isolation flags.
func TestIsolationGenerateSystemd(t *testing.T) {
	parallel(t)
	name := lcName("iso-unit")
	createContainer(t, name, []string{"--sysctl", "net.ipv4.ip_forward=1", "--ulimit", "nofile=100:200", "--shm-size", "8m",
		"--ipc", "shareable", "--group-add", "staff", "--health-cmd", "true", "--health-start-interval", "2s"}, "true")
	out := skiff(t, "generate", "systemd", "--new", "--name", name).OK(t).Stdout
	for _, want := range []string{"--ipc shareable", "--group-add staff", "--sysctl net.ipv4.ip_forward=1", "--ulimit nofile=100:200",
		"--shm-size 8388608", "--health-start-interval 2s"} {
		if !strings.Contains(out, want) {
			t.Errorf("generate systemd --new: no %q in\n%s", want, out)
		}
	}
}

// TestIsolationLinkDefaultNetwork checks Docker's legacy links on the
// default network: as root it is a bridge, so they work; rootless each
// container has its own slirp4netns, so they are refused.
func TestIsolationLinkDefaultNetwork(t *testing.T) {
	parallel(t)
	harness.Requires(t, "slirp4netns")
	root := harness.Root
	bb := pulled(t, root, "busybox")
	db := lcName("iso-linkdb")
	runDetachedAs(t, root, bb, db, nil, idleCmd...)
	ip := strings.TrimSpace(harness.RunAs(t, root, "inspect", "-f", "{{.NetworkSettings.IPAddress}}", db).OK(t).Stdout)
	out := isoRun(t, root, bb, []string{"--link", db + ":legacydb"}, "grep", "-w", "legacydb", "/etc/hosts")
	if f := strings.Fields(out); ip == "" || len(f) < 2 || f[0] != ip {
		t.Errorf("root: --link %s:legacydb on the default network: /etc/hosts line %q, want %s's address %q", db, out, db, ip)
	}
	other := lcName("iso-linkother")
	runDetached(t, other, nil, idleCmd...)
	isoRefused(t, harness.E2E, busybox(t), []string{"--link", other}, "user-defined network")
}
