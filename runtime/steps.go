package runtime

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/internal/trace"
	"github.com/skiff-project/skiff/netns/network"
	"github.com/skiff-project/skiff/paths"
	"github.com/skiff-project/skiff/storage"
	"github.com/skiff-project/skiff/supervisor"
)

// The heavy steps of a container's life, each run by the supervisor as
// `skiff __start|__cleanup|__health ID`: they need libcontainer and the
// image store, which the small supervisor does not carry.

// StartStep mounts the container's root file system (unless the caller
// handed it over mounted: rootfs_handover.go), creates it with
// libcontainer on the descriptors the supervisor passed (see
// supervisor.StartFd*), waits for the supervisor's go (the network is
// up), starts the command and exits: the container then belongs to the
// supervisor, our parent and subreaper.
func StartStep(id string) error {
	report := os.NewFile(supervisor.StartFdReport, "report")
	err := startStep(id, report)
	if err != nil {
		fmt.Fprintf(report, "error %d %s\n", errdefs.ExitCode(err), strings.ReplaceAll(err.Error(), "\n", " "))
	}
	return err
}

// openStore opens the image store for a step.
func openStore() (*storage.Store, error) {
	defer trace.Begin("open the store")()
	return storage.Open()
}

func startStep(id string, report *os.File) error {
	c, err := container.ReadRecord(id)
	if err != nil {
		return err
	}
	rootfs, st, err := startRootfs(c) // runtime/rootfs_handover.go
	if err != nil {
		return err
	}
	if st != nil {
		defer st.Close()
	}
	goAhead := os.NewFile(supervisor.StartFdGo, "go")
	end := trace.Begin("wait for the supervisor's network namespace")
	_, err = goAhead.Read(make([]byte, 1))
	end()
	if err != nil {
		return fmt.Errorf("the supervisor went away before the container was created: %w", errdefs.ErrUnavailable)
	}
	nsPath := ""
	if c.OwnNetwork() {
		nsPath = c.NetNSPath()
	}
	end = trace.Begin("prepare the configuration")
	pr, err := prepare(c, rootfs, nsPath)
	end()
	if err != nil {
		return err
	}
	end = trace.Begin("join user-defined networks")
	joined, err := joinNetworks(c)
	end()
	if err != nil {
		network.DetachAll(c.ID)
		return err
	}
	// Made while libcontainer creates it; waited for on every way out,
	// so that no rule is made after a clean-up looked for them.
	forwarded := sync.OnceValue(forwardPorts(joined))
	defer forwarded()
	if old, err := libcontainer.Load(stateRoot(), c.ID); err == nil {
		_ = old.Destroy() // left over from a killed supervisor
	}
	end = trace.Begin("libcontainer: create")
	lc, err := libcontainer.Create(stateRoot(), c.ID, pr.config)
	end()
	if err != nil {
		return fmt.Errorf("creating container %s: %w", container.ShortID(c.ID), err)
	}
	proc := &libcontainer.Process{
		Args: pr.args, Env: pr.env, Cwd: pr.cwd,
		UID: pr.user.UID, GID: pr.user.GID, AdditionalGroups: pr.user.Groups,
		Init: true,
	}
	if c.Config.Tty {
		proc.ConsoleSocket = os.NewFile(supervisor.StartFdConsole, "console")
		proc.ConsoleWidth, proc.ConsoleHeight = 80, 24
		if w, h := terminalSize(c); w > 0 {
			proc.ConsoleWidth, proc.ConsoleHeight = w, h
		}
	} else {
		proc.Stdin = os.NewFile(supervisor.StartFdStdin, "stdin")
		proc.Stdout = os.NewFile(supervisor.StartFdStdout, "stdout")
		proc.Stderr = os.NewFile(supervisor.StartFdStderr, "stderr")
	}
	end = trace.Begin("libcontainer: start (namespaces, mounts, init)")
	err = lc.Start(proc)
	end()
	if err != nil {
		_ = lc.Destroy()
		return startError(pr.args[0], err)
	}
	end = trace.Begin("wait for the ports' forwarding (iptables)")
	err = forwarded()
	end()
	if err != nil {
		_ = proc.Signal(unix.SIGKILL)
		_ = lc.Destroy()
		return err
	}
	pid, _ := proc.Pid()
	fmt.Fprintf(report, "created %d\n", pid)
	end = trace.Begin("wait for the supervisor's go (network up)")
	_, err = goAhead.Read(make([]byte, 1))
	end()
	if err != nil {
		_ = proc.Signal(unix.SIGKILL)
		_ = lc.Destroy()
		return fmt.Errorf("the supervisor went away before the container started: %w", errdefs.ErrUnavailable)
	}
	end = trace.Begin("libcontainer: exec the command")
	err = lc.Exec()
	end()
	if err != nil {
		_ = proc.Signal(unix.SIGKILL)
		_ = lc.Destroy()
		return startError(pr.args[0], err)
	}
	fmt.Fprintf(report, "started %d\n", pid)
	return nil
}

// terminalSize is the size the first attached client asked for, passed
// by the supervisor in the environment.
func terminalSize(c *container.Container) (uint16, uint16) {
	var w, h uint16
	if _, err := fmt.Sscanf(os.Getenv(supervisor.EnvTermSize), "%dx%d", &w, &h); err != nil {
		return 0, 0
	}
	return w, h
}

// joinNetworks connects c's pinned namespace to its user-defined networks
// and records the addresses; it returns the record as it is then (with
// the ports the supervisor bound).
func joinNetworks(c *container.Container) (*container.Container, error) {
	joined := c
	for _, name := range c.NetworkNames() {
		var err error
		if joined, err = connect(c, name); err != nil {
			return nil, err
		}
	}
	return joined, nil
}

func connect(c *container.Container, name string) (*container.Container, error) {
	ep := c.NetworkSettings.Networks[name]
	m := network.Member{ID: c.ID, Name: c.Name, NetNS: c.NetNSPath(), Hosts: filepath.Join(c.Dir(), "hosts")}
	m.IP, m.IP6 = requestedAddresses(c, name)
	ip, err := network.Attach(name, m, ep.Aliases)
	if err != nil {
		return nil, fmt.Errorf("connecting %s to network %s: %w", c.Name, name, err)
	}
	n, _ := network.Lookup(name)
	return container.Update(c.ID, func(c *container.Container) error {
		if e := c.NetworkSettings.Networks[name]; e != nil {
			e.IPAddress = ip
			if n != nil {
				e.PrefixLen, e.Gateway, e.NetworkID = n.PrefixLen(), n.Gateway, n.ID
				e.IPv6Address, e.IPv6PrefixLen, e.IPv6Gateway = n.Address6(c.ID), n.PrefixLen6(), n.Gateway6
			}
		}
		return nil
	})
}

// forwardPorts has the host send c's published ports straight to its
// address on its first outbound network (root: the one its default route
// goes through), so that its servers see the clients' addresses; the
// returned func waits until the rules are in. The supervisor's relay
// still holds the ports and serves the rest (127.0.0.1, rootless,
// internal networks).
func forwardPorts(c *container.Container) func() error {
	for _, name := range c.NetworkNames() {
		if e := c.NetworkSettings.Networks[name]; e != nil && !e.Internal {
			wait := network.Forward(name, c.ID, c.NetworkSettings.Ports)
			return func() error {
				if err := wait(); err != nil {
					return fmt.Errorf("forwarding the published ports of %s: %w", c.Name, err)
				}
				return nil
			}
		}
	}
	return func() error { return nil }
}

// leaveNetworks takes c off its networks and forgets its addresses.
func leaveNetworks(id string) {
	network.DetachAll(id)
	_, _ = container.Update(id, func(c *container.Container) error {
		for _, e := range c.NetworkSettings.Networks {
			e.IPAddress, e.IPv6Address = "", ""
		}
		return nil
	})
}

// CleanupStep undoes a start after the container exited: libcontainer's
// state and cgroup, the rootfs mount, its places on networks; with
// remove, the container itself. The networks and libcontainer's state are
// let go while the store unmounts (and removes): they share nothing.
// st is the caller's open store, or nil to open one for the step.
func CleanupStep(st *storage.Store, id string, remove bool) error {
	var aside sync.WaitGroup
	defer aside.Wait()
	aside.Go(func() {
		end := trace.Begin("leave networks")
		leaveNetworks(id)
		unmountShm(id) // --ipc shareable
		end()
		end = trace.Begin("libcontainer: destroy")
		destroyState(id)
		end()
	})
	if st == nil {
		opened, err := openStore()
		if err != nil {
			return err
		}
		defer opened.Close()
		st = opened
	}
	if !remove { // removing the container unmounts it on the way
		end := trace.Begin("unmount the root file system")
		_, _ = st.Raw().Unmount(id, true)
		end()
	} else {
		defer trace.Begin("remove the container")()
		if c, err := container.ReadRecord(id); err == nil {
			removeVolumes(c.HostConfig.AnonymousVolumes) // --rm takes them, as Docker
			container.UnlinkName(c.Name, id)
		}
		if err := st.Raw().DeleteContainer(id); err != nil {
			_, _ = st.Raw().Unmount(id, true)
		}
		aside.Wait() // leaving the networks updates the record
		_ = os.RemoveAll(filepath.Join(paths.ContainersDir(), id))
	}
	return nil
}

// HealthStep runs the container's health check once in its namespaces and
// prints the result as JSON (a supervisor.HealthLog).
func HealthStep(id string) error {
	c, err := container.ReadRecord(id)
	if err != nil {
		return err
	}
	h := c.Config.Healthcheck
	if h == nil || len(h.Test) == 0 {
		return errdefs.Invalid("container %s has no health check", c.Name)
	}
	var args []string
	switch h.Test[0] {
	case "CMD":
		args = h.Test[1:]
	case "CMD-SHELL":
		args = []string{"/bin/sh", "-c", h.Test[1]}
	default:
		args = h.Test
	}
	timeout := h.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	res := probe(c, args, timeout)
	return json.NewEncoder(os.Stdout).Encode(res)
}

func probe(c *container.Container, args []string, timeout time.Duration) container.HealthLog {
	res := container.HealthLog{Start: time.Now().UTC(), ExitCode: -1}
	lc, err := libcontainer.Load(stateRoot(), c.ID)
	if err != nil {
		res.End, res.Output = time.Now().UTC(), err.Error()
		return res
	}
	root := fmt.Sprintf("/proc/%d/root", c.State.Pid)
	user, err := resolveUser(root, c.Config.User)
	if err != nil {
		res.End, res.Output = time.Now().UTC(), err.Error()
		return res
	}
	var out limitedBuffer
	out.max = 4096
	p := &libcontainer.Process{
		Args: args, Env: buildEnv(c.Config.Env, firstNonEmpty(c.Config.Hostname, c.ID[:12]), user.Home, false),
		Cwd: firstNonEmpty(c.Config.WorkingDir, "/"), UID: user.UID, GID: user.GID, AdditionalGroups: user.Groups,
		Stdout: &out, Stderr: &out,
	}
	if err := lc.Run(p); err != nil {
		res.End, res.Output = time.Now().UTC(), err.Error()
		return res
	}
	codeCh := make(chan int, 1)
	go func() { codeCh <- waitStatus(p) }()
	select {
	case code := <-codeCh:
		res.ExitCode = code
	case <-time.After(timeout):
		_ = p.Signal(unix.SIGKILL)
		<-codeCh
		out.WriteString("health check timed out")
	}
	res.End, res.Output = time.Now().UTC(), out.String()
	return res
}

// limitedBuffer keeps the first max bytes of a probe's output.
type limitedBuffer struct {
	b   strings.Builder
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if room := l.max - l.b.Len(); room > 0 {
		if len(p) > room {
			p = p[:room]
		}
		l.b.Write(p)
	}
	return n, nil
}

func (l *limitedBuffer) WriteString(s string) { _, _ = l.Write([]byte(s)) }
func (l *limitedBuffer) String() string       { return l.b.String() }

func waitStatus(p *libcontainer.Process) int {
	ps, err := p.Wait()
	if ps == nil {
		if err != nil {
			return 255
		}
		return 0
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
		if ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
	return ps.ExitCode()
}

// destroyState kills what is left of container id's processes and drops
// libcontainer's state of it (its cgroup too), if any is left.
func destroyState(id string) {
	if lc, err := libcontainer.Load(stateRoot(), id); err == nil {
		_ = lc.Signal(unix.SIGKILL)
		_ = lc.Destroy()
	}
}
