package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/supervisor"
)

// ExecOptions describe `skiff exec`.
type ExecOptions struct {
	// ID names the exec in its events (the API's exec ID); "" gets one.
	ID          string
	Cmd         []string
	Env         []string
	User        string
	Workdir     string
	Privileged  bool
	Interactive bool
	TTY         bool
	Detach      bool
	Stdin       io.Reader
	Stdout      io.Writer
	Stderr      io.Writer
	// Resize, when set, carries terminal sizes (width, height) for the
	// TTY instead of the caller's own terminal: the API's exec resize.
	Resize <-chan [2]uint16
	// Width and Height are the TTY's first size with Resize.
	Width, Height uint16
	// Started, when set, gets the process's pid once it runs.
	Started func(pid int)
	// DetachKeys, typed on an interactive TTY's input, detach: Exec
	// returns supervisor.ErrDetached and the process runs on.
	DetachKeys []byte
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
		return cannotStart(err)
	}
	groups, err := resolveGroups(root, c.HostConfig.Isolation.GroupAdd) // as Docker's exec
	if err != nil {
		return err
	}
	user.Groups = append(user.Groups, groups...)
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
		if term, err = newTTY(p, supervisor.NewDetachReader(o.Stdin, o.DetachKeys), o.Interactive, o.Resize == nil, o.Width, o.Height); err != nil {
			return err
		}
		defer term.close()
		if o.Resize == nil {
			winch := make(chan os.Signal, 4)
			signal.Notify(winch, unix.SIGWINCH)
			defer signal.Stop(winch)
			go func() {
				for range winch {
					term.resize()
				}
			}()
		}
	default:
		if o.Interactive {
			p.Stdin = o.Stdin
			if _, ok := o.Stdin.(*os.File); !ok && o.Stdin != nil {
				// A pipe of our own: the process's end of it is a file, so
				// waiting for the process does not wait for the input
				// (a client's stream) to end.
				pr, pw, err := os.Pipe()
				if err != nil {
					return err
				}
				defer pr.Close()
				go func() {
					_, _ = io.Copy(pw, o.Stdin)
					pw.Close()
				}()
				p.Stdin = pr
			}
		}
		p.Stdout, p.Stderr = o.Stdout, o.Stderr
	}
	if err := lc.Run(p); err != nil {
		return cannotStart(startError(o.Cmd[0], err))
	}
	if o.Started != nil {
		if pid, err := p.Pid(); err == nil {
			o.Started(pid)
		}
	}
	if o.Detach {
		return nil
	}
	if term != nil {
		if err := term.attach(o.Stdout); err != nil {
			_ = p.Signal(unix.SIGKILL)
			return err
		}
		if o.Resize != nil {
			done := make(chan struct{})
			defer close(done)
			go func() {
				for {
					select {
					case sz, ok := <-o.Resize:
						if !ok {
							return
						}
						term.resizeTo(sz[0], sz[1])
					case <-done:
						return
					}
				}
			}()
		}
	}
	code, detached := waitOrDetach(p, term)
	if detached {
		if err := term.handOff(); err != nil {
			return err
		}
		return supervisor.ErrDetached
	}
	if term != nil {
		term.wait()
	}
	if code != 0 {
		return &errdefs.ExitStatus{Code: code}
	}
	return nil
}

// waitOrDetach waits for the process's exit status, or for the detach
// keys on its terminal (detached).
func waitOrDetach(p *libcontainer.Process, term *ttyIO) (code int, detached bool) {
	if term == nil {
		return waitStatus(p), false
	}
	exited := make(chan int, 1)
	go func() { exited <- waitStatus(p) }()
	select {
	case code := <-exited:
		return code, false
	case <-term.detached:
		return 0, true
	}
}

// cannotStart marks a failure to start an exec'd process as Docker's
// daemon does: 126 unless it is already a 126 or 127 (no such command).
func cannotStart(err error) error {
	if errors.Is(err, errdefs.ErrCannotInvoke) || errors.Is(err, errdefs.ErrCommandNotFound) {
		return err
	}
	return fmt.Errorf("%w: %w", err, errdefs.ErrCannotInvoke)
}

func cut(kv string) (string, string, bool) {
	for i := 0; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return kv, "", false
}
