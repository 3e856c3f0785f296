package runtime

import (
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/containerd/console"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/utils"
)

// ttyIO gives a container process a pty and joins it to the caller's
// terminal: raw mode, resize, copy both ways.
type ttyIO struct {
	parent, child *os.File
	stdin         *os.File // nil: no input
	host          console.Console
	raw           bool
	pty           console.Console
	wg            sync.WaitGroup
}

// newTTY gives p a pty sized like the caller's terminal (stdin, else
// stdout); input, when set, is copied into it with the terminal raw.
func newTTY(p *libcontainer.Process, stdin *os.File, input bool) (*ttyIO, error) {
	parent, child, err := utils.NewSockPair("console")
	if err != nil {
		return nil, fmt.Errorf("creating console socket: %w", err)
	}
	t := &ttyIO{parent: parent, child: child, raw: input}
	if input {
		t.stdin = stdin
	}
	p.ConsoleSocket = child
	for _, f := range []*os.File{stdin, os.Stdout} {
		if f == nil {
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
	_ = console.ClearONLCR(pty.Fd())
	t.pty = pty
	if t.host != nil && t.raw {
		_ = t.host.SetRaw()
	}
	if t.stdin != nil {
		go func() { _, _ = io.Copy(pty, t.stdin) }()
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
