package runtime

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/supervisor"
)

func TestNotify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := Notify(path, "MAINPID=42\nREADY=1"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, err := conn.Read(buf)
	if err != nil || string(buf[:n]) != "MAINPID=42\nREADY=1" {
		t.Errorf("received %q, %v", buf[:n], err)
	}
	if err := Notify(filepath.Join(t.TempDir(), "none"), "READY=1"); err == nil {
		t.Errorf("a missing socket: no error")
	}
	if err := Notify("", "READY=1"); err != nil {
		t.Errorf("no socket: %v, want nothing done", err)
	}
}

func TestNotifyState(t *testing.T) {
	c := &container.Container{}
	for mode, want := range map[string]string{"": "MAINPID=7\nREADY=1", container.SdNotifySupervisor: "MAINPID=7\nREADY=1",
		container.SdNotifyContainer: "MAINPID=7", container.SdNotifyIgnore: ""} {
		c.Config.SdNotifyMode = mode
		if got := notifyState(c, 7); got != want {
			t.Errorf("mode %q: %q, want %q", mode, got, want)
		}
	}
}

func TestNotifyEnv(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "notify")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c := &container.Container{}
	if env, err := notifyEnv(c, sock); err != nil || env != nil {
		t.Errorf("supervisor mode: %q, %v; want nothing passed", env, err)
	}
	c.Config.SdNotifyMode = container.SdNotifyContainer
	if env, err := notifyEnv(c, sock); err != nil || !slices.Equal(env, []string{supervisor.EnvNotifySocket + "=" + sock}) {
		t.Errorf("container mode: %q, %v", env, err)
	}
	if _, err := notifyEnv(c, "@abstract"); err == nil {
		t.Errorf("container mode with an abstract socket: no error")
	}
	if env, err := notifyEnv(c, ""); err != nil || env != nil {
		t.Errorf("container mode without systemd: %q, %v", env, err)
	}
}

func TestSupervisorEnv(t *testing.T) {
	t.Setenv(EnvNotifySocket, "/run/user/1000/systemd/notify")
	t.Setenv(supervisor.EnvNotifySocket, "/old")
	env := supervisorEnv("A=1")
	for _, kv := range env {
		if kv == EnvNotifySocket+"="+os.Getenv(EnvNotifySocket) || kv == supervisor.EnvNotifySocket+"=/old" {
			t.Errorf("supervisor environment has %s", kv)
		}
	}
	if env[len(env)-1] != "A=1" {
		t.Errorf("extra variables not added: %q", env)
	}
	if got := withoutVar([]string{"NOTIFY_SOCKET=/x", "B=2"}, EnvNotifySocket); !slices.Equal(got, []string{"B=2"}) {
		t.Errorf("withoutVar: %q", got)
	}
}
