package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"github.com/containerd/console"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/utils"
	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/supervisor"
)

// ttyIO gives a container process a pty and joins it to the caller:
// the caller's terminal (raw mode, its size, SIGWINCH) when stdin or
// stdout is one, else plain streams with sizes sent on a channel (the
// API's resize).
type ttyIO struct {
	parent, child *os.File
	stdin         io.Reader // nil: no input
	host          console.Console
	raw           bool
	pty           console.Console
	wg            sync.WaitGroup
	// detached is closed when the detach keys end the input.
	detached chan struct{}
}

// newTTY gives p a pty. With host, it is sized like the caller's
// terminal (stdin, else stdout) and input puts that terminal in raw mode;
// without, it is width x height and sizes come through resizeTo. input,
// when set, is copied into the pty.
func newTTY(p *libcontainer.Process, stdin io.Reader, input, host bool, width, height uint16) (*ttyIO, error) {
	parent, child, err := utils.NewSockPair("console")
	if err != nil {
		return nil, fmt.Errorf("creating console socket: %w", err)
	}
	t := &ttyIO{parent: parent, child: child, raw: input, detached: make(chan struct{})}
	if input {
		t.stdin = stdin
	}
	p.ConsoleSocket = child
	p.ConsoleWidth, p.ConsoleHeight = width, height
	if !host {
		return t, nil
	}
	for _, r := range []io.Reader{stdin, os.Stdout} {
		f, ok := r.(*os.File)
		if !ok || f == nil {
			continue
		}
		if c, err := console.ConsoleFromFile(f); err == nil {
			t.host = c
			if ws, err := c.Size(); err == nil {
				p.ConsoleWidth, p.ConsoleHeight = ws.Width, ws.Height
			}
			break
		}
	}
	return t, nil
}

// resizeTo sets the pty's size (the API's resize).
func (t *ttyIO) resizeTo(width, height uint16) {
	if t.pty != nil && width > 0 && height > 0 {
		_ = t.pty.Resize(console.WinSize{Width: width, Height: height})
	}
}

// attach receives the pty master from the container and starts copying.
func (t *ttyIO) attach(stdout io.Writer) error {
	t.child.Close()
	f, err := utils.RecvFile(t.parent)
	if err != nil {
		return fmt.Errorf("receiving the container's pty: %w", err)
	}
	pty, err := console.ConsoleFromFile(f)
	if err != nil {
		return err
	}
	t.pty = pty
	if t.host != nil && t.raw {
		_ = t.host.SetRaw()
	}
	if t.stdin != nil {
		go func() {
			if _, err := io.Copy(pty, t.stdin); errors.Is(err, supervisor.ErrDetached) {
				close(t.detached)
			}
		}()
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		_, _ = io.Copy(stdout, pty)
	}()
	return nil
}

func (t *ttyIO) resize() {
	if t.host != nil && t.pty != nil {
		_ = t.pty.ResizeFrom(t.host)
	}
}

// wait lets the output drain after the process exited.
func (t *ttyIO) wait() { t.wg.Wait() }

func (t *ttyIO) close() {
	if t.host != nil && t.raw {
		_ = t.host.Reset()
	}
	if t.pty != nil {
		_ = t.pty.Close()
	}
	t.parent.Close()
	t.child.Close()
}

// handOff gives the pty to a small process (skiff-supervisor's drain) that
// keeps it open and reads and drops its output, so the process on it runs
// on after the caller detached and exits, as it would under Docker's
// daemon.
func (t *ttyIO) handOff() error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	bin, err := supervisorBinary(self)
	if err != nil {
		return err
	}
	fd, err := unix.Dup(int(t.pty.Fd()))
	if err != nil {
		return fmt.Errorf("keeping the detached process's terminal: %w", err)
	}
	f := os.NewFile(uintptr(fd), "pty")
	defer f.Close()
	cmd := exec.Command(bin, supervisor.DrainArg)
	cmd.Env = supervisor.LeanEnv(os.Environ())
	cmd.ExtraFiles = []*os.File{f}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = "/"
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("keeping the detached process's terminal: %w", err)
	}
	return cmd.Process.Release()
}
