package e2e

// systemd units that skiff writes: `skiff generate systemd` for
// containers (plain and --new) and services, and the quadlet-style
// generator (`skiff-user-generator`, `skiff generate quadlet`). There is
// no systemd as PID 1 here, so each unit is checked with `systemd-analyze
// verify --user` as the unprivileged user (syntax, keys, executables),
// and the commands in the units are run by hand as systemd would run
// them, in order, checking what they do.

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skiff-project/skiff/systemd"
	"github.com/skiff-project/skiff/tests/harness"
)

// verifyUnits runs `systemd-analyze verify --user` on the unit files as
// u, in a fresh XDG_RUNTIME_DIR; any diagnostic (an unknown key, a
// missing executable, a bad line) fails the test.
func verifyUnits(t *testing.T, u *harness.User, files ...string) {
	t.Helper()
	path, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (Debian's systemd package)")
	}
	rt := harness.UserDir(t, u)
	if err := os.Chmod(rt, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := harness.Command(u, append([]string{"verify", "--user"}, files...)...)
	cmd.Path, cmd.Args[0] = path, path
	cmd.Env = append(u.Env(), "XDG_RUNTIME_DIR="+rt, "SYSTEMD_LOG_LEVEL=notice")
	out, err := cmd.CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify --user %s: %v\n%s", strings.Join(files, " "), err, out)
	}
}

// writeUnit writes a generated unit's text as NAME into a directory u owns.
func writeUnit(t *testing.T, u *harness.User, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	harness.WriteUserFile(t, u, p, []byte(text))
	return p
}

// unitOf parses a unit's text.
func unitOf(t *testing.T, text string) *systemd.Unit {
	t.Helper()
	u, err := systemd.Parse(strings.NewReader(text))
	if err != nil {
		t.Fatalf("generated unit does not parse: %v\n%s", err, text)
	}
	return u
}

// unitValues are the values of section's key, in order.
func unitValues(u *systemd.Unit, section, key string) []string {
	var out []string
	if s := u.Lookup(section); s != nil {
		for _, e := range s.Entries {
			if e.Key == key {
				out = append(out, e.Value)
			}
		}
	}
	return out
}

// unitValue is the one value of section's key ("" when unset).
func unitValue(u *systemd.Unit, section, key string) string {
	v := unitValues(u, section, key)
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// execWords splits an Exec*= value as systemd does: its "-" prefix
// (failure ignored) and its words, with %% and $$ read back.
func execWords(t *testing.T, value string) (ignoreFailure bool, words []string) {
	t.Helper()
	ignoreFailure = strings.HasPrefix(value, "-")
	words, err := systemd.SplitWords(strings.TrimPrefix(value, "-"))
	if err != nil {
		t.Fatalf("%q: %v", value, err)
	}
	for i, w := range words {
		words[i] = strings.NewReplacer("%%", "%", "$$", "$").Replace(w)
	}
	return ignoreFailure, words
}

// runExec runs a unit's Exec*= command as u, as systemd would (with the
// skiff binary the unit names, which must be the one under test).
func runExec(t *testing.T, u *harness.User, value string, env ...string) *harness.Result {
	t.Helper()
	ignore, words := execWords(t, value)
	if len(words) == 0 {
		t.Fatalf("empty command %q", value)
	}
	var r *harness.Result
	switch words[0] {
	case harness.Binary:
		r = harness.RunAsWith(t, u, harness.RunOptions{Env: env, Timeout: 90 * time.Second}, words[1:]...)
	case "/bin/sh":
		r = shellAs(t, u, env, words[1:]...)
	default:
		t.Fatalf("%q runs %s, not the skiff under test (%s)", value, words[0], harness.Binary)
	}
	if r.ExitCode != 0 && !ignore {
		t.Fatalf("%s (from %q): want exit 0\n%s", r.Cmdline(), value, r.Output())
	}
	return r
}

// shellAs runs /bin/sh with args as u.
func shellAs(t *testing.T, u *harness.User, env []string, args ...string) *harness.Result {
	t.Helper()
	cmd := harness.Command(u, args...)
	cmd.Path, cmd.Args = "/bin/sh", append([]string{"/bin/sh"}, args...)
	cmd.Env = append(u.Env(), env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	r := &harness.Result{User: u.Name, Prog: "/bin/sh", Args: args, Stdout: stdout.String(), Stderr: stderr.String(), ExitCode: cmd.ProcessState.ExitCode()}
	if err != nil && r.ExitCode < 0 {
		t.Fatalf("sh %q: %v", args, err)
	}
	return r
}

// inspectField is `inspect --format '{{json FIELD}}'` decoded into out.
func inspectField(t *testing.T, u *harness.User, name, field string, out any) {
	t.Helper()
	r := harness.RunAs(t, u, "inspect", "--format", "{{json "+field+"}}", name).OK(t)
	if err := json.Unmarshal([]byte(r.Stdout), out); err != nil {
		t.Fatalf("%s: %v\n%s", r.Cmdline(), err, r.Output())
	}
}

// TestGenerateSystemdContainer: a container's unit, by ID and --name,
// passes verify and starts/stops that container; --new recreates the
// container from its record (env, labels, ports, volumes, command, stop
// timeout), and its ExecStartPre/ExecStart/ExecStop/ExecStopPost, run in
// that order, make and remove it; --files writes NAME.service.
func TestGenerateSystemdContainer(t *testing.T) {
	parallel(t)
	u := harness.E2E
	img := busybox(t)
	name := "sd-ctr-" + harness.UniqueSuffix()
	vol := "sd-vol-" + harness.UniqueSuffix()
	port := netPort(t)
	t.Cleanup(func() { harness.RunAs(t, u, "volume", "rm", "-f", vol) })
	flags := []string{"-e", "GREETING=hello world", "-e", "PRICE=100% $5", "--label", "app=sd", "-p", fmt.Sprintf("127.0.0.1:%d:80", port),
		"-v", vol + ":/data", "--stop-timeout", "7", "--hostname", "sdhost"}
	id := runDetachedAs(t, u, img, name, flags, "sh", "-c", "trap 'exit 0' TERM; sleep 300 & wait")
	dir := harness.UserDir(t, u)

	t.Run("by-id", func(t *testing.T) {
		r := harness.RunAs(t, u, "generate", "systemd", name).OK(t)
		unit := unitOf(t, r.Stdout)
		if got := unitValue(unit, "Service", "ExecStart"); got != harness.Binary+" start "+id {
			t.Errorf("ExecStart=%s, want %s start %s", got, harness.Binary, id)
		}
		for k, want := range map[string]string{"Type": "notify", "NotifyAccess": "all", "KillMode": "mixed", "Restart": "on-failure", "TimeoutStopSec": "67"} {
			if got := unitValue(unit, "Service", k); got != want {
				t.Errorf("%s=%s, want %s", k, got, want)
			}
		}
		if got := unitValue(unit, "Service", "ExecStop"); got != harness.Binary+" stop -t 7 "+id {
			t.Errorf("ExecStop=%s, want the container's --stop-timeout 7", got)
		}
		if !strings.HasPrefix(r.Stdout, "# container-"+id+".service\n") {
			t.Errorf("unit's first line %q, want # container-%s.service", strings.SplitN(r.Stdout, "\n", 2)[0], id)
		}
		verifyUnits(t, u, writeUnit(t, u, dir, "container-"+id+".service", r.Stdout))
	})

	t.Run("name", func(t *testing.T) {
		r := harness.RunAs(t, u, "generate", "systemd", "--name", "--restart-policy", "always", "--restart-sec", "3", "--stop-timeout", "4",
			"--container-prefix", "ctr", "--separator", "_", id[:12]).OK(t)
		unit := unitOf(t, r.Stdout)
		for k, want := range map[string]string{
			"ExecStart": harness.Binary + " start " + name, "ExecStop": harness.Binary + " stop -t 4 " + name,
			"Restart": "always", "RestartSec": "3", "TimeoutStopSec": "64",
		} {
			if got := unitValue(unit, "Service", k); got != want {
				t.Errorf("%s=%s, want %s", k, got, want)
			}
		}
		p := writeUnit(t, u, dir, "ctr_"+name+".service", r.Stdout)
		verifyUnits(t, u, p)
		// The unit's commands stop and start the container.
		runExec(t, u, unitValue(unit, "Service", "ExecStop"))
		if s := stateOf(t, u, name); s != "exited" {
			t.Errorf("after ExecStop: state %s, want exited", s)
		}
		runExec(t, u, unitValue(unit, "Service", "ExecStart"))
		if s := stateOf(t, u, name); s != "running" {
			t.Errorf("after ExecStart: state %s, want running", s)
		}
	})

	t.Run("files", func(t *testing.T) {
		r := harness.RunAsWith(t, u, harness.RunOptions{Dir: dir}, "generate", "systemd", "--files", "--name", "--new", name).OK(t)
		want := filepath.Join(dir, "container-"+name+".service")
		if r.Stdout != want+"\n" {
			t.Fatalf("--files printed %q, want %q", r.Stdout, want+"\n")
		}
		data, err := os.ReadFile(want)
		if err != nil {
			t.Fatal(err)
		}
		if st, _ := os.Stat(want); st == nil || st.Sys().(*syscall.Stat_t).Uid != uint32(u.UID) {
			t.Errorf("%s is not owned by %s", want, u.Name)
		}
		unit := unitOf(t, string(data))
		if len(unitValues(unit, "Service", "ExecStart")) != 1 || len(unitValues(unit, "Service", "ExecStopPost")) != 1 {
			t.Errorf("--new unit without one ExecStart and one ExecStopPost:\n%s", data)
		}
		verifyUnits(t, u, want)
	})

	t.Run("new", func(t *testing.T) {
		r := harness.RunAs(t, u, "generate", "systemd", "--new", "--name", name).OK(t)
		unit := unitOf(t, r.Stdout)
		p := writeUnit(t, u, dir, "container-"+name+"-new.service", r.Stdout)
		verifyUnits(t, u, p)
		_, start := execWords(t, unitValue(unit, "Service", "ExecStart"))
		if !slices.Equal(start[:3], []string{harness.Binary, "run", "-d"}) || slices.Contains(start, "--restart") || slices.Contains(start, "--rm") {
			t.Errorf("ExecStart %q: want %s run -d …, without --restart or --rm (systemd restarts and removes it)", start, harness.Binary)
		}
		if ign, _ := execWords(t, unitValue(unit, "Service", "ExecStopPost")); !ign {
			t.Errorf("ExecStopPost=%s: want the - prefix (nothing to remove is fine)", unitValue(unit, "Service", "ExecStopPost"))
		}
		if got := unitValue(unit, "Service", "ExecStop"); got != harness.Binary+" stop -t 7 "+name {
			t.Errorf("ExecStop=%s", got)
		}
		// Remove the original, then do what systemd does at start: the
		// container comes back as it was.
		harness.RunAs(t, u, "rm", "-f", name).OK(t)
		runExec(t, u, unitValue(unit, "Service", "ExecStartPre"))
		runExec(t, u, unitValue(unit, "Service", "ExecStart"))
		if s := stateOf(t, u, name); s != "running" {
			t.Fatalf("after ExecStart: state %s, want running", s)
		}
		newID := strings.TrimSpace(harness.RunAs(t, u, "inspect", "--format", "{{.Id}}", name).OK(t).Stdout)
		if newID == id {
			t.Errorf("--new's ExecStart did not make a new container")
		}
		var env []string
		inspectField(t, u, name, ".Config.Env", &env)
		for _, want := range []string{"GREETING=hello world", "PRICE=100% $5"} {
			if !slices.Contains(env, want) {
				t.Errorf("recreated container's env %q lacks %q", env, want)
			}
		}
		var labels map[string]string
		inspectField(t, u, name, ".Config.Labels", &labels)
		if labels["app"] != "sd" {
			t.Errorf("recreated container's labels %v, want app=sd", labels)
		}
		var ports map[string][]struct{ HostIp, HostPort string }
		inspectField(t, u, name, ".HostConfig.PortBindings", &ports)
		if b := ports["80/tcp"]; len(b) != 1 || b[0].HostIp != "127.0.0.1" || b[0].HostPort != fmt.Sprint(port) {
			t.Errorf("recreated container's ports %v, want 127.0.0.1:%d->80/tcp", ports, port)
		}
		var binds []string
		inspectField(t, u, name, ".HostConfig.Binds", &binds)
		if !slices.Equal(binds, []string{vol + ":/data"}) {
			t.Errorf("recreated container's binds %q, want %s:/data", binds, vol)
		}
		var cmd []string
		inspectField(t, u, name, ".Config.Cmd", &cmd)
		if len(cmd) != 3 || cmd[0] != "sh" {
			t.Errorf("recreated container's command %q", cmd)
		}
		var hostname string
		inspectField(t, u, name, ".Config.Hostname", &hostname)
		if hostname != "sdhost" {
			t.Errorf("recreated container's hostname %q, want sdhost", hostname)
		}
		var restart struct{ Name string }
		inspectField(t, u, name, ".HostConfig.RestartPolicy", &restart)
		if restart.Name != "no" && restart.Name != "" {
			t.Errorf("recreated container's restart policy %q, want no (systemd restarts it)", restart.Name)
		}
		// A second start finds the leftover and replaces it.
		runExec(t, u, unitValue(unit, "Service", "ExecStartPre"))
		runExec(t, u, unitValue(unit, "Service", "ExecStart"))
		runExec(t, u, unitValue(unit, "Service", "ExecStop"))
		runExec(t, u, unitValue(unit, "Service", "ExecStopPost"))
		if r := harness.RunAs(t, u, "inspect", name); r.ExitCode == 0 {
			t.Errorf("after ExecStopPost the container is still there")
		}
		// ExecStopPost again: nothing to remove, and "-" makes that fine.
		runExec(t, u, unitValue(unit, "Service", "ExecStopPost"))
	})

	t.Run("errors", func(t *testing.T) {
		r := harness.RunAs(t, u, "generate", "systemd", "--restart-policy", "unless-stopped", id)
		r.ErrorLine(t, errExit, "restart-policy", "unless-stopped")
		r = harness.RunAs(t, u, "generate", "systemd", "no-such-thing-"+harness.UniqueSuffix())
		if r.ExitCode == 0 || !strings.Contains(r.Stderr, "no such container or service") {
			t.Errorf("%s: want an error naming no such container or service\n%s", r.Cmdline(), r.Output())
		}
		harness.RunAs(t, u, "generate", "systemd").Exit(t, errExit)
	})
}

// TestGenerateSystemdService: a service's unit runs its keeper as the
// unit's main process; the ExecStart line, run as systemd runs it (no
// ready pipe on fd 3, NOTIFY_SOCKET set), takes the service over from a
// killed keeper, says READY=1 and keeps the published port answering;
// SIGTERM (systemctl stop) ends it.
func TestGenerateSystemdService(t *testing.T) {
	parallel(t)
	harness.Requires(t, "slirp4netns")
	u := harness.E2E
	img := svcImage(t, u, "v1")
	name := svcName("sd")
	port := netPort(t)
	id := svcCreate(t, u, name, []string{"--replicas", "1", "-p", fmt.Sprintf("%d:80", port)}, img, svcCmd...)
	dir := harness.UserDir(t, u)

	r := harness.RunAs(t, u, "generate", "systemd", "--name", name).OK(t)
	unit := unitOf(t, r.Stdout)
	start := unitValue(unit, "Service", "ExecStart")
	if start != harness.Binary+" __keeper "+id {
		t.Errorf("ExecStart=%s, want %s __keeper %s", start, harness.Binary, id)
	}
	for k, want := range map[string]string{"Type": "notify", "KillMode": "process", "Restart": "on-failure"} {
		if got := unitValue(unit, "Service", k); got != want {
			t.Errorf("%s=%s, want %s", k, got, want)
		}
	}
	verifyUnits(t, u, writeUnit(t, u, dir, "service-"+name+".service", r.Stdout))
	// By ID, the unit is named after the ID.
	r = harness.RunAs(t, u, "generate", "systemd", id).OK(t)
	if !strings.HasPrefix(r.Stdout, "# service-"+id+".service\n") {
		t.Errorf("unit by ID starts %q", strings.SplitN(r.Stdout, "\n", 2)[0])
	}

	// Kill the keeper a skiff command started; start the unit's.
	old := waitOneKeeper(t, u, id, 10*time.Second)
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitNoKeeper(t, u, id, "SIGKILL")
	// Its cmdline empties, and its main thread turns zombie, before its
	// last thread closes its files: wait until its lock is free.
	lock := filepath.Join(u.Home, ".local/share/skiff/services", id, "keeper.lock")
	eventually(t, 10*time.Second, "the killed keeper's lock released", func() (bool, string) {
		f, err := os.Open(lock)
		if err != nil {
			return false, err.Error()
		}
		defer f.Close()
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			return false, lockHolders(lock)
		}
		return true, ""
	})
	sockPath := filepath.Join(dir, "notify.sock")
	sock, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	if err := os.Chmod(sockPath, 0o777); err != nil {
		t.Fatal(err)
	}
	_, words := execWords(t, start)
	cmd := harness.Command(u, words[1:]...)
	cmd.Path, cmd.Args[0] = words[0], words[0]
	cmd.Env = append(u.Env(), "NOTIFY_SOCKET="+sockPath)
	cmd.WaitDelay = 5 * time.Second // the replicas it starts may hold the output pipe
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
		<-done
	}()
	_ = sock.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 4096)
	ready := false
	for !ready {
		n, err := sock.Read(buf)
		if err != nil {
			state := "still running"
			select {
			case werr := <-done:
				state = fmt.Sprintf("exited: %v", werr)
				done <- werr
			case <-time.After(time.Second):
			}
			t.Fatalf("no READY=1 on NOTIFY_SOCKET from the unit's keeper within 30 s: %v; the keeper %s; keepers now %v; %s\noutput:\n%s",
				err, state, keeperPIDs(id), lockHolders(lock)+"; "+keeperFiles(u, id, cmd.Process.Pid), out.String())
		}
		ready = slices.Contains(strings.Split(string(buf[:n]), "\n"), "READY=1")
	}
	if pids := keeperPIDs(id); !slices.Equal(pids, []int{cmd.Process.Pid}) {
		t.Errorf("keepers %v, want only the unit's %d", pids, cmd.Process.Pid)
	}
	eventually(t, 20*time.Second, "the published port answering through the unit's keeper", func() (bool, string) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err != nil {
			return false, err.Error()
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(3 * time.Second))
		fmt.Fprintf(c, "GET / HTTP/1.0\r\n\r\n")
		b := make([]byte, 512)
		n, _ := c.Read(b)
		return strings.Contains(string(b[:n]), "200"), string(b[:n])
	})
	// systemctl stop: SIGTERM to the main process, which ends.
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		done <- err
		if err != nil {
			t.Errorf("the unit's keeper after SIGTERM: %v (want exit 0)\n%s", err, out.String())
		}
	case <-time.After(10 * time.Second):
		t.Errorf("the unit's keeper did not end within 10 s of SIGTERM")
	}
}

// lockHolders describes the processes holding a flock on path.
func lockHolders(path string) string {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return err.Error()
	}
	data, _ := os.ReadFile("/proc/locks")
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) >= 6 && strings.HasSuffix(f[len(f)-3], fmt.Sprintf(":%d", st.Ino)) {
			pid := f[len(f)-4]
			cmd, _ := os.ReadFile("/proc/" + pid + "/cmdline")
			out = append(out, fmt.Sprintf("%s %q", l, strings.ReplaceAll(string(cmd), "\x00", " ")))
		}
	}
	return fmt.Sprintf("locks on %s: %q", path, out)
}

// keeperFiles shows the service's keeper.pid and the end of its keeper.log.
func keeperFiles(u *harness.User, id string, unitPid int) string {
	d := filepath.Join(u.Home, ".local/share/skiff/services", id)
	pid, _ := os.ReadFile(filepath.Join(d, "keeper.pid"))
	log, _ := os.ReadFile(filepath.Join(d, "keeper.log"))
	if len(log) > 3000 {
		log = log[len(log)-3000:]
	}
	return fmt.Sprintf("unit keeper pid %d, keeper.pid %q, keeper.log:\n%s", unitPid, pid, log)
}

// quadletFiles are a web container with a volume and a network of its
// own, as README's example, in files named after a unique suffix.
func quadletFiles(img, sfx string, port int) map[string]string {
	return map[string]string{
		"sdq-web-" + sfx + ".container": fmt.Sprintf(`# a web server
[Unit]
Description=quadlet web %[1]s

[Container]
Image=%[2]s
ContainerName=sdq-web-%[1]s
Exec=sh -c "echo hi > /data/hello; trap 'exit 0' TERM; sleep 300 & wait"
PublishPort=127.0.0.1:%[3]d:80
Volume=sdq-data-%[1]s.volume:/data
Network=sdq-net-%[1]s.network
Environment=GREETING="hello world" MODE=quadlet
Label=app=sdq
StopTimeout=3

[Service]
Restart=always

[Install]
WantedBy=default.target
`, sfx, img, port),
		"sdq-data-" + sfx + ".volume": "[Volume]\nLabel=app=sdq\n",
		"sdq-net-" + sfx + ".network": "[Network]\nLabel=app=sdq\n",
	}
}

// TestQuadletGenerator: skiff run as skiff-user-generator reads
// ~/.config/skiff/systemd and writes units that pass verify, with the
// [Install] target as a symlink; the volume's and the container's
// commands, run in systemd's order, make the volume, the network and the
// container as the files say; `generate quadlet` warns about unknown
// keys by name.
func TestQuadletGenerator(t *testing.T) {
	parallel(t)
	u := harness.E2E
	img := busybox(t)
	sfx := harness.UniqueSuffix()
	home := harness.UserDir(t, u)
	cfg := filepath.Join(home, ".config", "skiff", "systemd")
	for _, d := range []string{filepath.Join(home, ".config"), filepath.Join(home, ".config", "skiff"), cfg} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, u.UID, u.GID); err != nil {
			t.Fatal(err)
		}
	}
	port := netPort(t)
	for name, text := range quadletFiles(img, sfx, port) {
		harness.WriteUserFile(t, u, filepath.Join(cfg, name), []byte(text))
	}
	ctr, vol, netName := "sdq-web-"+sfx, "systemd-sdq-data-"+sfx, "systemd-sdq-net-"+sfx
	t.Cleanup(func() {
		harness.RunAs(t, u, "rm", "-f", ctr)
		harness.RunAs(t, u, "volume", "rm", "-f", vol)
		harness.RunAs(t, u, "network", "rm", netName)
	})

	// The generator: the binary under test by the name systemd runs it.
	bin := harness.UserDir(t, u)
	gen := filepath.Join(bin, systemd.UserGeneratorName)
	if err := os.Symlink(harness.Binary, gen); err != nil {
		t.Fatal(err)
	}
	out := harness.UserDir(t, u)
	early, late := harness.UserDir(t, u), harness.UserDir(t, u)
	cmd := harness.Command(u, out, early, late)
	cmd.Path, cmd.Args[0] = gen, gen
	cmd.Env = []string{"HOME=" + home, "USER=" + u.Name, "PATH=/usr/bin:/bin"}
	if b, err := cmd.CombinedOutput(); err != nil || len(b) > 0 {
		t.Fatalf("%s %s: %v; want exit 0 and no output:\n%s", gen, out, err, b)
	}
	units := map[string]string{}
	for _, n := range []string{"sdq-web-" + sfx + ".service", "sdq-data-" + sfx + "-volume.service", "sdq-net-" + sfx + "-network.service"} {
		b, err := os.ReadFile(filepath.Join(out, n))
		if err != nil {
			t.Fatalf("the generator did not write %s: %v", n, err)
		}
		units[n] = string(b)
	}
	if l, err := os.Readlink(filepath.Join(out, "default.target.wants", "sdq-web-"+sfx+".service")); err != nil || l != "../sdq-web-"+sfx+".service" {
		t.Errorf("default.target.wants/sdq-web-%s.service → %q, %v", sfx, l, err)
	}
	var files []string
	for n := range units {
		files = append(files, filepath.Join(out, n))
	}
	slices.Sort(files)
	verifyUnits(t, u, files...)

	web := unitOf(t, units["sdq-web-"+sfx+".service"])
	for _, want := range []string{"sdq-data-" + sfx + "-volume.service", "sdq-net-" + sfx + "-network.service"} {
		if !slices.Contains(unitValues(web, "Unit", "Requires"), want) || !slices.Contains(unitValues(web, "Unit", "After"), want) {
			t.Errorf("web unit: no Requires= and After= %s:\n%s", want, units["sdq-web-"+sfx+".service"])
		}
	}
	if unitValue(web, "Service", "Restart") != "always" || unitValue(web, "Unit", "Description") != "quadlet web "+sfx {
		t.Errorf("web unit: [Unit] and [Service] not passed through:\n%s", units["sdq-web-"+sfx+".service"])
	}

	// systemd's order: the volume and network units (twice: they are
	// idempotent), then the container's ExecStartPre and ExecStart.
	for i := 0; i < 2; i++ {
		runExec(t, u, unitValue(unitOf(t, units["sdq-data-"+sfx+"-volume.service"]), "Service", "ExecStart"))
		runExec(t, u, unitValue(unitOf(t, units["sdq-net-"+sfx+"-network.service"]), "Service", "ExecStart"))
	}
	harness.RunAs(t, u, "volume", "inspect", vol).OK(t)
	harness.RunAs(t, u, "network", "inspect", netName).OK(t)
	runExec(t, u, unitValue(web, "Service", "ExecStartPre"))
	runExec(t, u, unitValue(web, "Service", "ExecStart"))
	if s := stateOf(t, u, ctr); s != "running" {
		t.Fatalf("after ExecStart: %s is %s, want running", ctr, s)
	}
	var env []string
	inspectField(t, u, ctr, ".Config.Env", &env)
	if !slices.Contains(env, "GREETING=hello world") || !slices.Contains(env, "MODE=quadlet") {
		t.Errorf("env %q, want GREETING=hello world and MODE=quadlet", env)
	}
	var binds []string
	inspectField(t, u, ctr, ".HostConfig.Binds", &binds)
	if !slices.Equal(binds, []string{vol + ":/data"}) {
		t.Errorf("binds %q, want %s:/data", binds, vol)
	}
	var mode string
	inspectField(t, u, ctr, ".HostConfig.NetworkMode", &mode)
	if mode != netName {
		t.Errorf("network %q, want %s", mode, netName)
	}
	runExec(t, u, unitValue(web, "Service", "ExecStop"))
	runExec(t, u, unitValue(web, "Service", "ExecStopPost"))
	if r := harness.RunAs(t, u, "inspect", ctr); r.ExitCode == 0 {
		t.Errorf("after ExecStopPost %s is still there", ctr)
	}

	t.Run("generate-quadlet", func(t *testing.T) {
		harness.WriteUserFile(t, u, filepath.Join(cfg, "sdq-odd-"+sfx+".container"),
			[]byte("[Container]\nImage="+img+"\nFrobnicate=yes\nSparkle=64m\nShmSize=8m\n"))
		out2 := harness.UserDir(t, u)
		r := harness.RunAsWith(t, u, harness.RunOptions{Env: []string{"HOME=" + home}}, "generate", "quadlet", "--user", out2).OK(t)
		if n := len(r.Lines()); n != 4 {
			t.Errorf("generate quadlet printed %d paths, want 4\n%s", n, r.Output())
		}
		if !strings.Contains(r.Stderr, "sdq-odd-"+sfx+".container: unknown key(s) in [Container] ignored: Frobnicate, Sparkle") {
			t.Errorf("no warning naming the unknown keys:\n%s", r.Output())
		}
		odd := filepath.Join(out2, "sdq-odd-"+sfx+".service")
		if data, err := os.ReadFile(odd); err != nil {
			t.Errorf("the file with unknown keys was not converted: %v", err)
		} else if !strings.Contains(string(data), "--shm-size 8m") {
			t.Errorf("ShmSize=8m: no --shm-size 8m in\n%s", data)
		}
		verifyUnits(t, u, odd)
		// --source reads another directory.
		r = harness.RunAs(t, u, "generate", "quadlet", "--source", cfg, harness.UserDir(t, u)).OK(t)
		if n := len(r.Lines()); n != 4 {
			t.Errorf("generate quadlet --source printed %d paths, want 4\n%s", n, r.Output())
		}
		harness.RunAs(t, u, "generate", "quadlet").Exit(t, errExit)
	})
}
