package runtime

import (
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
)

// ExecOptions describe `skiff exec`.
type ExecOptions struct {
	Cmd         []string
	Env         []string
	User        string
	Workdir     string
	Privileged  bool
	Interactive bool
	TTY         bool
	Detach      bool
	Stdin       *os.File
	Stdout      io.Writer
	Stderr      io.Writer
}

// Exec runs a process in a running container's namespaces and returns
// its exit status (as *errdefs.ExitStatus when not 0).
func Exec(ref string, o ExecOptions) error {
	c, err := container.Lookup(ref)
	if err != nil {
		return err
	}
	if c.State.Paused {
		return fmt.Errorf("container %s is paused: unpause it first: %w", c.Name, errdefs.ErrConflict)
	}
	if !c.State.Running {
		return fmt.Errorf("container %s is not running: start it first: %w", c.Name, errdefs.ErrConflict)
	}
	if len(o.Cmd) == 0 {
		return errdefs.Invalid("exec needs a command")
	}
	for _, e := range o.Env {
		if k, _, _ := cut(e); k == "" {
			return errdefs.Invalid("invalid environment variable %q: want KEY=VALUE", e)
		}
	}
	lc, err := libcontainer.Load(stateRoot(), c.ID)
	if err != nil {
		return fmt.Errorf("container %s is not running: %w", c.Name, errdefs.ErrConflict)
	}
	root := fmt.Sprintf("/proc/%d/root", c.State.Pid)
	user, err := resolveUser(root, firstNonEmpty(o.User, c.Config.User))
	if err != nil {
		return err
	}
	hostname := firstNonEmpty(c.Config.Hostname, c.ID[:12])
	env := mergeEnv(buildEnv(c.Config.Env, hostname, user.Home, o.TTY), o.Env)
	p := &libcontainer.Process{
		Args: o.Cmd, Env: env, Cwd: firstNonEmpty(o.Workdir, c.Config.WorkingDir, "/"),
		UID: user.UID, GID: user.GID, AdditionalGroups: user.Groups,
	}
	if o.Privileged {
		all := allCaps()
		p.Capabilities = &configs.Capabilities{Bounding: all, Effective: all, Permitted: all}
	}
	var term *ttyIO
	switch {
	case o.Detach:
	case o.TTY:
		if term, err = newTTY(p, o.Stdin, o.Interactive); err != nil {
			return err
		}
		defer term.close()
		winch := make(chan os.Signal, 4)
		signal.Notify(winch, unix.SIGWINCH)
		defer signal.Stop(winch)
		go func() {
			for range winch {
				term.resize()
			}
		}()
	default:
		if o.Interactive {
			p.Stdin = o.Stdin
		}
		p.Stdout, p.Stderr = o.Stdout, o.Stderr
	}
	if err := lc.Run(p); err != nil {
		return startError(o.Cmd[0], err)
	}
	if o.Detach {
		return nil
	}
	if term != nil {
		if err := term.attach(o.Stdout); err != nil {
			_ = p.Signal(unix.SIGKILL)
			return err
		}
	}
	code := waitStatus(p)
	if term != nil {
		term.wait()
	}
	if code != 0 {
		return &errdefs.ExitStatus{Code: code}
	}
	return nil
}

func cut(kv string) (string, string, bool) {
	for i := 0; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return kv, "", false
}
