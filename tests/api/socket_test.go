package api

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// connectAs tries to connect to the unix socket path as u (with Debian's
// python3) and returns what happened: "connected" or the error.
func connectAs(t testing.TB, u *harness.User, path string) string {
	t.Helper()
	cmd := harness.UserCommand(u, harness.PythonPath, "-c", `
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
    print("connected")
except OSError as e:
    print("error: %s" % e)
`, path)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	_ = cmd.Run()
	return strings.TrimSpace(out.String())
}

// checkPrivateSocket checks that only the socket's owner can use it: mode
// 0600, and another user's connect is refused.
func checkPrivateSocket(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("the service's socket: %v", err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %v, want a socket with mode 0600", path, fi.Mode())
	}
	st := fi.Sys().(*syscall.Stat_t)
	if int(st.Uid) != user().UID {
		t.Errorf("%s: owner %d, want %s (%d)", path, st.Uid, user().Name, user().UID)
	}
	if got := connectAs(t, harness.NoSub, path); !strings.Contains(got, "Permission denied") {
		t.Errorf("%s connecting to %s: %q, want permission denied", harness.NoSubUserName, path, got)
	}
	if got := connectAs(t, user(), path); got != "connected" {
		t.Errorf("%s connecting to its own socket %s: %q", user().Name, path, got)
	}
}

// TestSocketPrivate checks the shared service's socket, and one the service
// creates in a directory every user can enter: the socket's own mode keeps
// other users out.
func TestSocketPrivate(t *testing.T) {
	parallel(t)
	s := harness.StartService(t, user())
	if s.External {
		t.Skip("SKIFF_API_SOCKET: not the harness's service")
	}
	checkPrivateSocket(t, s.Socket)
	open := harness.UserDir(t, user()) // 0755
	sock := filepath.Join(open, "open-dir.sock")
	extra := harness.StartExtraService(t, user(), nil, "--time", "0", "unix://"+sock)
	if err := extra.WaitPing(10 * time.Second); err != nil {
		t.Fatalf("skiff system service --time 0 unix://%s: %v\n%s", sock, err, extra.Output())
	}
	checkPrivateSocket(t, sock)
	must(t, extra.Stop())
}

// TestServiceDefaultSocket starts the service without a URI: the socket is
// $XDG_RUNTIME_DIR/skiff/skiff.sock, private, and gone after SIGTERM.
func TestServiceDefaultSocket(t *testing.T) {
	parallel(t)
	rt := harness.UserDir(t, user())
	must(t, os.Chmod(rt, 0o700))
	sock := filepath.Join(rt, "skiff", "skiff.sock")
	s := harness.StartExtraService(t, user(), []string{"XDG_RUNTIME_DIR=" + rt}, "--time", "0")
	s.Socket, s.Host = sock, "unix://"+sock
	if err := s.WaitPing(10 * time.Second); err != nil {
		t.Fatalf("skiff system service with XDG_RUNTIME_DIR=%s: no answer on %s: %v\n%s", rt, sock, err, s.Output())
	}
	// Open the runtime directory to everyone: the socket alone must keep them out.
	must(t, os.Chmod(rt, 0o755))
	checkPrivateSocket(t, sock)
	if fi, err := os.Stat(filepath.Dir(sock)); err == nil && fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("%s: mode %v, want no access for others", filepath.Dir(sock), fi.Mode().Perm())
	}
	// The docker CLI finds it through DOCKER_HOST.
	r := harness.DockerWith(t, user(), harness.RunOptions{Env: []string{"DOCKER_HOST=unix://" + sock}}, "version", "--format", "{{.Server.Version}}").OK(t)
	if strings.TrimSpace(r.Stdout) == "" {
		t.Errorf("docker version through the default socket: %q", r.Stdout)
	}
	must(t, s.Stop())
}

// TestServiceIdleExit: with --time 1 the service exits by itself once idle,
// and removes its socket.
func TestServiceIdleExit(t *testing.T) {
	parallel(t)
	sock := filepath.Join(harness.UserDir(t, user()), "idle.sock")
	s := harness.StartExtraService(t, user(), nil, "--time", "1", "unix://"+sock)
	if err := s.WaitPing(10 * time.Second); err != nil {
		t.Fatalf("skiff system service --time 1: %v\n%s", err, s.Output())
	}
	if !s.Wait(15 * time.Second) {
		t.Fatalf("skiff system service --time 1 still runs 15 s after its last request\n%s", s.Output())
	}
	if code := s.ExitCode(); code != 0 {
		t.Errorf("skiff system service --time 1 exited %d, want 0\n%s", code, s.Output())
	}
	if _, err := os.Lstat(sock); err == nil {
		t.Errorf("the idle service left its socket %s", sock)
	}
}

// TestServiceTCP: tcp://127.0.0.1:PORT only when asked, with a warning that
// TCP has no authentication.
func TestServiceTCP(t *testing.T) {
	parallel(t)
	port := freePort(t)
	s := harness.StartExtraService(t, user(), nil, "--time", "0", fmt.Sprintf("tcp://127.0.0.1:%d", port))
	var resp *http.Response
	eventually(t, 10*time.Second, "GET /_ping over TCP", func() (bool, string) {
		var err error
		resp, err = http.Get(fmt.Sprintf("http://127.0.0.1:%d/_ping", port))
		if err != nil {
			return false, err.Error() + "\n" + s.Output()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	if out := strings.ToLower(s.Output()); !strings.Contains(out, "warn") || !strings.Contains(out, "authenticat") {
		t.Errorf("skiff system service tcp://…: want a warning that TCP has no authentication; it printed:\n%s", s.Output())
	}
	must(t, s.Stop())
}

// TestServiceSocketActivation passes a listening socket the way systemd
// does (LISTEN_FDS=1, LISTEN_PID, fd 3): the service serves on it.
func TestServiceSocketActivation(t *testing.T) {
	parallel(t)
	dir := harness.UserDir(t, user())
	sock := filepath.Join(dir, "activated.sock")
	l, err := net.Listen("unix", sock)
	must(t, err)
	ul := l.(*net.UnixListener)
	ul.SetUnlinkOnClose(false)
	f, err := ul.File()
	must(t, err)
	l.Close()
	must(t, os.Chown(sock, user().UID, user().GID))
	must(t, os.Chmod(sock, 0o600))
	// sh sets LISTEN_PID to its own pid, which exec keeps for skiff.
	cmd := harness.UserCommand(user(), "/bin/sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=skiff.socket exec "$0" system service --time 0`, harness.Binary)
	cmd.ExtraFiles = []*os.File{f}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	must(t, cmd.Start())
	f.Close()
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("the socket-activated service did not exit within 10 s of SIGTERM")
		}
	}()
	c := &harness.Service{User: user(), Socket: sock, Host: "unix://" + sock}
	if err := c.WaitPing(10 * time.Second); err != nil {
		t.Fatalf("socket activation: no answer on the passed socket: %v\n%s", err, out.String())
	}
	r := harness.DockerWith(t, user(), harness.RunOptions{Env: []string{"DOCKER_HOST=unix://" + sock}}, "ps", "-a").OK(t)
	if !strings.HasPrefix(r.Stdout, "CONTAINER ID") {
		t.Errorf("docker ps through the activated socket: %q", r.Stdout)
	}
}
