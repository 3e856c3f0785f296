package runtime

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/supervisor"
)

// systemd's sd_notify protocol: a Type=notify unit's processes find a
// datagram socket in NOTIFY_SOCKET and send it newline-separated
// KEY=VALUE lines (READY=1, MAINPID=PID). A start under such a unit
// (`skiff run -d`, `skiff start`) sends them from the command itself,
// the unit's main process, once the container has started; the
// supervisor becomes the unit's main process. See container.SdNotify*.

// EnvNotifySocket is systemd's variable.
const EnvNotifySocket = "NOTIFY_SOCKET"

// ContainerNotifySocket is where a --sdnotify container container finds
// the socket, named in its NOTIFY_SOCKET.
const ContainerNotifySocket = "/run/notify/notify.sock"

// Notify sends state (lines such as "READY=1") to the notify socket
// (a path, or @name for an abstract socket).
func Notify(socket, state string) error {
	if socket == "" {
		return nil
	}
	name := socket
	if strings.HasPrefix(name, "@") {
		name = "\x00" + name[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("telling systemd %q on %s: %w", state, socket, err)
	}
	defer conn.Close()
	_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("telling systemd %q on %s: %w", state, socket, err)
	}
	return nil
}

// notifyState is what a start tells systemd in c's mode once its
// supervisor (pid) has started it: MAINPID and READY=1, MAINPID alone
// when the container says READY=1 itself, nothing when ignored.
func notifyState(c *container.Container, pid int) string {
	switch c.SdNotify() {
	case container.SdNotifyIgnore:
		return ""
	case container.SdNotifyContainer:
		return "MAINPID=" + strconv.Itoa(pid)
	}
	return "MAINPID=" + strconv.Itoa(pid) + "\nREADY=1"
}

// notifyEnv is what a start under systemd adds to the supervisor's
// environment: the socket, for a container that gets it.
func notifyEnv(c *container.Container, socket string) ([]string, error) {
	if socket == "" || c.SdNotify() != container.SdNotifyContainer {
		return nil, nil
	}
	if !strings.HasPrefix(socket, "/") {
		return nil, fmt.Errorf("--sdnotify container needs NOTIFY_SOCKET to be a socket file to mount into the container, not %q: %w", socket, errdefs.ErrInvalidArgument)
	}
	if st, err := os.Stat(socket); err != nil || st.Mode()&os.ModeSocket == 0 {
		return nil, fmt.Errorf("--sdnotify container: NOTIFY_SOCKET %s is not a socket: %w", socket, errdefs.ErrInvalidArgument)
	}
	return []string{supervisor.EnvNotifySocket + "=" + socket}, nil
}

// supervisorEnv is this process's environment without systemd's socket
// and the variables skiff passes to the supervisor itself, plus extra.
func supervisorEnv(extra ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == EnvNotifySocket || k == supervisor.EnvNotifySocket || k == supervisor.EnvSkiff || k == supervisor.EnvStarter {
			continue
		}
		out = append(out, kv)
	}
	return append(out, extra...)
}

// notifyMount is the socket's bind mount and variable for a container
// started with --sdnotify container under systemd (the supervisor got
// the socket in supervisor.EnvNotifySocket), else nothing.
func notifyMount(c *container.Container) ([]specs.Mount, []string) {
	socket := os.Getenv(supervisor.EnvNotifySocket)
	if socket == "" || c.SdNotify() != container.SdNotifyContainer {
		return nil, nil
	}
	m := specs.Mount{Destination: ContainerNotifySocket, Type: "bind", Source: socket, Options: []string{"bind", "nosuid", "nodev", "noexec"}}
	return []specs.Mount{m}, []string{EnvNotifySocket + "=" + ContainerNotifySocket}
}
