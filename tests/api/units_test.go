package api

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// unitsDir is contrib/systemd in this checkout.
func unitsDir(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "contrib", "systemd")
}

// installUnits writes the units of kind (user or system) into a fresh
// directory with the binary path filled in, as install.sh does.
func installUnits(t *testing.T, kind string) string {
	t.Helper()
	dir := harness.UserDir(t, user()) // readable by the user too
	for _, f := range []string{"skiff.socket", "skiff.service"} {
		b, err := os.ReadFile(filepath.Join(unitsDir(t), kind, f))
		must(t, err)
		text := strings.ReplaceAll(string(b), "@BINDIR@", filepath.Dir(harness.Binary))
		must(t, os.WriteFile(filepath.Join(dir, f), []byte(text), 0o644))
	}
	return dir
}

// The shipped units pass systemd's own checks, and the service unit keeps
// the containers when the idle service exits (KillMode=process: the
// supervisors were started from its cgroup).
func TestSystemdUnitsVerify(t *testing.T) {
	parallel(t)
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze is not installed (Debian's systemd package)")
	}
	for _, kind := range []string{"user", "system"} {
		dir := installUnits(t, kind)
		args := []string{"verify"}
		var cmd *exec.Cmd
		if kind == "user" {
			args = append(args, "--user")
			runtimeDir := harness.UserDir(t, user())
			cmd = harness.UserCommand(user(), "systemd-analyze", append(args, filepath.Join(dir, "skiff.socket"), filepath.Join(dir, "skiff.service"))...)
			cmd.Env = append(cmd.Env, "XDG_RUNTIME_DIR="+runtimeDir)
		} else {
			cmd = exec.Command("systemd-analyze", append(args, filepath.Join(dir, "skiff.socket"), filepath.Join(dir, "skiff.service"))...)
		}
		out, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "" {
			t.Errorf("systemd-analyze verify of the %s units: %v\n%s", kind, err, out)
		}
		svc, err := os.ReadFile(filepath.Join(dir, "skiff.service"))
		must(t, err)
		for _, want := range []string{"KillMode=process", "ExecStart=" + harness.Binary + " system service --time 5"} {
			if !strings.Contains(string(svc), want) {
				t.Errorf("%s skiff.service lacks %q:\n%s", kind, want, svc)
			}
		}
		sock, err := os.ReadFile(filepath.Join(dir, "skiff.socket"))
		must(t, err)
		if !strings.Contains(string(sock), "SocketMode=0600") {
			t.Errorf("%s skiff.socket is not mode 0600:\n%s", kind, sock)
		}
	}
}

// The unit's command under systemd-socket-activate (systemd's activation
// by hand): nothing runs until the first connection, which starts the
// service and gets its answer; idle, it exits, and a container it started
// keeps running.
func TestSocketActivatedUnitCommand(t *testing.T) {
	parallel(t)
	if _, err := exec.LookPath("systemd-socket-activate"); err != nil {
		t.Skip("systemd-socket-activate is not installed (Debian's systemd package)")
	}
	bb := busybox(t)
	sock := filepath.Join(harness.UserDir(t, user()), "unit.sock")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tmpl := harness.Command(user())
	cmd := exec.CommandContext(ctx, "systemd-socket-activate", "-l", sock, harness.Binary, "system", "service", "--time", "2")
	cmd.Env, cmd.Dir, cmd.SysProcAttr = tmpl.Env, tmpl.Dir, tmpl.SysProcAttr
	stderr, err := cmd.StderrPipe()
	must(t, err)
	must(t, cmd.Start())
	done := make(chan struct{})
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
		}
		_ = cmd.Wait()
		close(done)
	}()
	defer func() {
		_ = cmd.Process.Kill()
		<-done
	}()
	eventually(t, 10*time.Second, "the activation socket", func() (bool, string) {
		_, err := os.Stat(sock)
		return err == nil, "no socket yet"
	})
	// Until the first connection only the listener runs (it execs the
	// service then).
	if exe, _ := os.Readlink(filepath.Join("/proc", strconv.Itoa(cmd.Process.Pid), "exe")); filepath.Base(exe) != "systemd-socket-activate" {
		t.Errorf("before the first connection the process is %q, want systemd-socket-activate still listening", exe)
	}
	env := harness.RunOptions{Env: []string{"DOCKER_HOST=unix://" + sock}}
	name := name("activated")
	t.Cleanup(func() { harness.RunAs(t, user(), "rm", "-f", name) })
	harness.DockerWith(t, user(), env, "run", "-d", "--name", name, bb, "sleep", "300").OK(t)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the activated service did not exit after 2 idle seconds\n%s", log.String())
	}
	r := harness.RunAs(t, user(), "inspect", "--format", "{{.State.Running}}", name).OK(t)
	if strings.TrimSpace(r.Stdout) != "true" {
		t.Errorf("the container the activated service started is not running after the service exited: %q", r.Stdout)
	}
}
