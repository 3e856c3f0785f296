package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	_ "github.com/opencontainers/cgroups/devices" // lets libcontainer manage the devices cgroup
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	cstorage "go.podman.io/storage"
	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/netns"
	"github.com/skiff-project/skiff/storage"
	"github.com/skiff-project/skiff/userns"
)

// stateRoot is libcontainer's state directory.
func stateRoot() string { return filepath.Join(userns.RuntimeDir(), "libcontainer") }

// plan is a validated RunOptions: everything that can be wrong with the
// input is found before anything is created.
type plan struct {
	mounts   []specs.Mount
	network  string
	security SecurityOpts
	initPath string
}

func validate(o *RunOptions) (*plan, error) {
	p := &plan{}
	for _, v := range o.Volumes {
		m, err := ParseVolume(v)
		if err != nil {
			return nil, err
		}
		p.mounts = append(p.mounts, m)
	}
	for _, ms := range o.Mounts {
		m, err := ParseMount(ms)
		if err != nil {
			return nil, err
		}
		p.mounts = append(p.mounts, m)
	}
	for _, t := range o.Tmpfs {
		m, err := ParseTmpfs(t)
		if err != nil {
			return nil, err
		}
		p.mounts = append(p.mounts, m)
	}
	var err error
	if p.network, err = netns.ParseMode(o.Network); err != nil {
		return nil, err
	}
	if p.security, err = ParseSecurityOpts(o.SecurityOpt); err != nil {
		return nil, err
	}
	for _, c := range append(append([]string(nil), o.CapAdd...), o.CapDrop...) {
		if _, err := normalizeCap(c); err != nil {
			return nil, err
		}
	}
	for _, e := range o.Env {
		if k, _, _ := strings.Cut(e, "="); k == "" || strings.ContainsAny(k, " \t\n") {
			return nil, errdefs.Invalid("invalid environment variable %q: want KEY=VALUE", e)
		}
	}
	if o.User != "" {
		u, g, hasG := strings.Cut(o.User, ":")
		if u == "" || (hasG && g == "") || strings.Count(o.User, ":") > 1 {
			return nil, errdefs.Invalid("invalid user %q: want user[:group], names or numbers", o.User)
		}
	}
	if o.Workdir != "" && !strings.HasPrefix(o.Workdir, "/") {
		return nil, errdefs.Invalid("invalid working directory %q: it must be absolute", o.Workdir)
	}
	if o.Init {
		if p.initPath, err = FindInit(); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Run creates a container from img, runs it in the foreground with the
// caller's stdio, and returns its exit status as an *errdefs.ExitStatus
// (nil for 0).
func Run(ctx context.Context, st *storage.Store, img *storage.Image, o RunOptions) (retErr error) {
	warn := o.Warn
	if warn == nil {
		warn = func(string) {}
	}
	p, err := validate(&o)
	if err != nil {
		return err
	}
	args := commandLine(img, o)
	if len(args) == 0 {
		return errdefs.Invalid("no command specified: the image %s has no CMD or ENTRYPOINT; give one after the image name", o.Image)
	}

	c := &Container{
		ID: newID(), Name: o.Name, Image: o.Image, ImageID: img.ID,
		Created: time.Now().UTC(), Path: args[0], Args: args[1:], State: "created", Network: p.network,
	}
	if c.Name == "" {
		c.Name = randomName() + "_" + c.ID[:4]
	}
	if strings.ContainsAny(c.Name, "/: \t") || strings.HasPrefix(c.Name, "-") {
		return errdefs.Invalid("invalid container name %q: use letters, digits, _, . and -", c.Name)
	}
	raw := st.Raw()
	if _, err := raw.CreateContainer(c.ID, []string{c.Name}, img.ID, "", "", nil); err != nil {
		if errors.Is(err, cstorage.ErrDuplicateName) {
			return fmt.Errorf("container name %q is already in use: remove that container or choose another --name: %w", c.Name, errdefs.ErrConflict)
		}
		return fmt.Errorf("creating container layer: %w", err)
	}
	var cleanups []func()
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}()
	removeAll := func() {
		_, _ = raw.Unmount(c.ID, true)
		if o.Remove || retErr != nil && !isExit(retErr) {
			_ = raw.DeleteContainer(c.ID)
			_ = os.RemoveAll(c.Dir())
		}
	}
	cleanups = append(cleanups, removeAll)
	if err := os.MkdirAll(c.Dir(), 0o700); err != nil {
		return err
	}
	rootfs, err := raw.Mount(c.ID, "")
	if err != nil {
		return fmt.Errorf("mounting the container's root file system: %w", err)
	}

	user, err := resolveUser(rootfs, firstNonEmpty(o.User, img.Config.Config.User))
	if err != nil {
		return err
	}
	cwd := firstNonEmpty(o.Workdir, img.Config.Config.WorkingDir, "/")
	if err := mkdirInRoot(rootfs, cwd, user); err != nil {
		return err
	}
	hostname := firstNonEmpty(o.Hostname, c.ID[:12])
	if p.network == netns.ModeHost && o.Hostname == "" {
		hostname, _ = os.Hostname()
	}
	env := buildEnv(img.Config.Config.Env, o.Env, hostname, user.Home, o.TTY)
	etc, err := netns.WriteFiles(c.Dir(), p.network, hostname)
	if err != nil {
		return err
	}
	for _, m := range p.mounts {
		if m.Type == "bind" && strings.Contains(strings.Join(m.Options, ","), "rbind") {
			if err := prepareVolumeSource(m); err != nil {
				return err
			}
		}
	}

	rootless := userns.Rootless()
	opts := []SpecOpt{
		WithCgroupMount(rootless),
		WithDevptsGID(gidMapped(5)),
		WithProcess(args, env, cwd, user, o.TTY),
		WithHostname(hostname),
		WithReadOnlyRoot(o.ReadOnly),
		WithMounts(etc),
		WithMounts(p.mounts),
		WithCapabilities(o.CapAdd, o.CapDrop),
	}
	if p.network == netns.ModeHost {
		opts = append(opts, WithHostNetwork())
	}
	if o.Privileged {
		opts = append(opts, WithPrivileged())
	}
	opts = append(opts, WithSecurity(p.security, o.Privileged))
	if p.initPath != "" {
		opts = append(opts, WithInit(p.initPath))
	}
	spec, err := NewSpec(rootfs, opts...)
	if err != nil {
		return err
	}
	if !rootless {
		spec.Linux.CgroupsPath = "/skiff/" + c.ID
	}
	config, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{
		CgroupName:      c.ID,
		Spec:            spec,
		RootlessCgroups: rootless,
		NoNewKeyring:    false,
	})
	if err != nil {
		return fmt.Errorf("building the container configuration: %w", err)
	}
	lc, err := libcontainer.Create(stateRoot(), c.ID, config)
	if err != nil {
		return fmt.Errorf("creating container %s: %w", c.ID[:12], err)
	}
	cleanups = append(cleanups, func() { _ = lc.Destroy() })

	proc := &libcontainer.Process{
		Args: spec.Process.Args, Env: env, Cwd: cwd,
		UID: user.UID, GID: user.GID, AdditionalGroups: user.Groups,
		Init: true,
	}
	var term *ttyIO
	if o.TTY {
		if term, err = newTTY(proc, o.Stdin); err != nil {
			return err
		}
		cleanups = append(cleanups, term.close)
	} else {
		if o.Interactive {
			proc.Stdin = o.Stdin
		}
		proc.Stdout, proc.Stderr = o.Stdout, o.Stderr
	}

	// Signals that reach skiff are for the container.
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs)
	defer signal.Stop(sigs)

	if err := lc.Start(proc); err != nil {
		return startError(args[0], err)
	}
	c.State, c.StartedAt = "running", time.Now().UTC()
	if term != nil {
		if err := term.attach(o.Stdout); err != nil {
			_ = proc.Signal(unix.SIGKILL)
			return err
		}
	}
	if p.network == netns.ModePrivate {
		pid, _ := proc.Pid()
		slirp, err := netns.StartSlirp(pid)
		if err != nil {
			_ = proc.Signal(unix.SIGKILL)
			_, _ = proc.Wait()
			return err
		}
		cleanups = append(cleanups, slirp.Stop)
	}
	if err := lc.Exec(); err != nil {
		_ = proc.Signal(unix.SIGKILL)
		return startError(args[0], err)
	}
	if !o.Remove {
		_ = c.Save()
	}

	waited := make(chan int, 1)
	go func() { waited <- waitStatus(proc) }()
	var code int
loop:
	for {
		select {
		case code = <-waited:
			break loop
		case s := <-sigs:
			switch s {
			case unix.SIGCHLD, unix.SIGPIPE, unix.SIGURG:
			case unix.SIGWINCH:
				if term != nil {
					term.resize()
				}
			default:
				_ = proc.Signal(s)
			}
		}
	}
	if term != nil {
		term.wait()
	}
	c.State, c.ExitCode, c.FinishedAt = "exited", code, time.Now().UTC()
	if !o.Remove {
		_ = c.Save()
	}
	if code != 0 {
		return &errdefs.ExitStatus{Code: code}
	}
	return nil
}

func isExit(err error) bool {
	var e *errdefs.ExitStatus
	return errors.As(err, &e)
}

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

// startError classifies a failure to start the command: 127 when it does
// not exist, 126 when it cannot be executed, 125 otherwise.
func startError(cmd string, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "executable file not found") || strings.Contains(msg, "no such file or directory"):
		return fmt.Errorf("starting container: %s: executable file not found in $PATH or the image: %w", cmd, errdefs.ErrCommandNotFound)
	case strings.Contains(msg, "permission denied") || strings.Contains(msg, "is a directory") || strings.Contains(msg, "exec format error"):
		return fmt.Errorf("starting container: %s: %s: %w", cmd, lastPart(msg), errdefs.ErrCannotInvoke)
	}
	return fmt.Errorf("starting container: %w", err)
}

func lastPart(msg string) string {
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

// commandLine is Docker's rule: ENTRYPOINT + CMD, where --entrypoint
// replaces the image's entrypoint and resets its CMD, and arguments after
// the image replace CMD.
func commandLine(img *storage.Image, o RunOptions) []string {
	ep := img.Config.Config.Entrypoint
	cmd := img.Config.Config.Cmd
	if o.Entrypoint != nil {
		ep = nil
		if *o.Entrypoint != "" {
			ep = []string{*o.Entrypoint}
		}
		cmd = nil
	}
	if len(o.Cmd) > 0 {
		cmd = o.Cmd
	}
	return append(append([]string(nil), ep...), cmd...)
}

const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func buildEnv(image, user []string, hostname, home string, tty bool) []string {
	var order []string
	vals := map[string]string{}
	set := func(kv string) {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = kv
	}
	set(defaultPath)
	set("HOSTNAME=" + hostname)
	for _, e := range image {
		set(e)
	}
	if tty {
		set("TERM=xterm")
	}
	for _, e := range user {
		set(e)
	}
	if _, ok := vals["HOME"]; !ok {
		set("HOME=" + home)
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, vals[k])
	}
	return out
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// mkdirInRoot creates the working directory inside the rootfs, owned by
// the container's user, as Docker does.
func mkdirInRoot(rootfs, dir string, u ExecUser) error {
	p, err := securejoin.SecureJoin(rootfs, dir)
	if err != nil {
		return fmt.Errorf("working directory %s: %w", dir, err)
	}
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	if err := os.MkdirAll(p, 0o755); err != nil {
		return fmt.Errorf("creating working directory %s: %w", dir, err)
	}
	_ = os.Chown(p, u.UID, u.GID)
	return nil
}

// gidMapped reports whether gid exists in this process's user namespace.
func gidMapped(gid int) bool {
	data, err := os.ReadFile("/proc/self/gid_map")
	if err != nil {
		return true
	}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var in, out, n int
		if _, err := fmt.Sscan(l, &in, &out, &n); err == nil && gid >= in && gid < in+n {
			return true
		}
	}
	return false
}
