package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/netns"
	"github.com/skiff-project/skiff/storage"
)

// Recover cleans up after a container whose supervisor is gone (killed):
// its processes, libcontainer's state, its network namespace and places
// on networks, its root file system mount; it then records the container
// as exited, so that it can be started or removed as usual.
func Recover(st *storage.Store, id string) error {
	return RecoverWith(st, id, "its supervisor was killed; cleaned up by skiff system check --repair")
}

// RecoverWith is Recover recording why in the container's State.Error.
// After a reboot the recorded pid may belong to another process by now:
// it is left alone when the container started before the machine booted.
func RecoverWith(st *storage.Store, id, why string) error {
	c, err := container.ReadRecord(id)
	if err != nil {
		return err
	}
	if c.State.Pid > 0 && !startedBeforeBoot(c) && pidAlive(c.State.Pid) {
		_ = unix.Kill(c.State.Pid, unix.SIGKILL)
		waitPidExit(c.State.Pid, 5*time.Second)
	}
	destroyState(c.ID)
	leaveNetworks(c.ID)
	netns.RemovePinned(c.NetNSPath())
	_ = os.RemoveAll(c.RunDir())
	if _, err := st.Raw().Unmount(c.ID, true); err != nil && !isUnknownContainer(err) {
		return fmt.Errorf("unmounting the file system of %s: %w", c.Name, err)
	}
	_, err = container.Update(c.ID, func(c *container.Container) error {
		if c.State.ExitCode == 0 {
			c.State.ExitCode = 137
		}
		c.State.Status, c.State.Running, c.State.Paused, c.State.Restarting, c.State.Dead = container.StatusExited, false, false, false, false
		c.State.Pid, c.State.SupervisorPid, c.State.FinishedAt = 0, 0, time.Now().UTC()
		c.State.Error = why
		c.NetworkSettings.Ports = nil
		return nil
	})
	return err
}

// Supervisor is a running skiff-supervisor process of this user.
type Supervisor struct {
	Pid         int
	ContainerID string
}

// Supervisors lists the supervisors of this user that /proc shows.
func Supervisors() []Supervisor {
	entries, _ := os.ReadDir("/proc")
	var out []Supervisor
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(data), "\x00")
		if len(args) < 3 || args[1] != container.SupervisorArg || filepath.Base(args[0]) != "skiff-supervisor" {
			continue
		}
		var st unix.Stat_t
		if unix.Stat(filepath.Join("/proc", e.Name()), &st) != nil || int(st.Uid) != os.Getuid() {
			continue // another user's
		}
		out = append(out, Supervisor{Pid: pid, ContainerID: args[2]})
	}
	return out
}

// startedBeforeBoot reports whether c last started before this machine
// booted (its pid then means nothing any more).
func startedBeforeBoot(c *container.Container) bool {
	boot, ok := bootTime()
	return ok && !c.State.StartedAt.IsZero() && c.State.StartedAt.Before(boot)
}

// bootTime is when the machine booted (btime in /proc/stat).
func bootTime() (time.Time, bool) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, false
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "btime "); ok {
			if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
				return time.Unix(n, 0), true
			}
		}
	}
	return time.Time{}, false
}
