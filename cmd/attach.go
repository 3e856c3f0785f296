package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/containerd/console"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

// terminal puts the caller's terminal in raw mode (when it gives input)
// and reports its size changes; restore undoes it.
type terminal struct {
	con           console.Console
	resize        chan [2]uint16
	sigs          chan os.Signal
	width, height uint16
}

func newTerminal(raw bool) *terminal {
	t := &terminal{resize: make(chan [2]uint16, 4)}
	con, err := console.ConsoleFromFile(os.Stdin)
	if err != nil {
		if con, err = console.ConsoleFromFile(os.Stdout); err != nil {
			close(t.resize)
			return t
		}
	}
	t.con = con
	if ws, err := con.Size(); err == nil {
		t.width, t.height = ws.Width, ws.Height
	}
	if raw {
		_ = con.SetRaw()
	}
	send := func() {
		if ws, err := con.Size(); err == nil {
			select {
			case t.resize <- [2]uint16{ws.Width, ws.Height}:
			default:
			}
		}
	}
	send()
	t.sigs = make(chan os.Signal, 4)
	signal.Notify(t.sigs, unix.SIGWINCH)
	go func() {
		for range t.sigs {
			send()
		}
	}()
	return t
}

func (t *terminal) restore() {
	if t.con != nil {
		signal.Stop(t.sigs)
		_ = t.con.Reset()
	}
}

// detachKeysFlag is --detach-keys, Docker's default ctrl-p,ctrl-q.
func detachKeysFlag() cli.Flag {
	return &cli.StringFlag{Name: "detach-keys", Value: "ctrl-p,ctrl-q", Usage: "key sequence that detaches from an attached container"}
}

// attachAndStart starts a created container with this terminal attached,
// forwards signals and returns its exit status. only, when given, names
// the streams to attach (run -a).
func attachAndStart(ctx context.Context, e *engine.Engine, id, name string, interactive, tty, sigProxy bool, detachKeys []byte, only ...string) error {
	if !tty || !interactive {
		detachKeys = nil
	}
	return attached(name, interactive, tty, sigProxy, detachKeys, func(streams engine.AttachStreams, started func(int)) (int, error) {
		keepStreams(&streams, only) // run -a
		return e.ContainerStartAttached(ctx, id, streams, started)
	})
}

// attached connects this process's stdio (stdin when interactive; the
// terminal in raw mode, and its size, with a tty; signals forwarded with
// sigProxy and no tty) to a container through connect, and turns the end
// into skiff's exit. connect calls started with the container's pid.
func attached(name string, interactive, tty, sigProxy bool, detachKeys []byte, connect func(engine.AttachStreams, func(pid int)) (int, error)) error {
	streams := engine.AttachStreams{Stdout: os.Stdout, Stderr: os.Stderr, DetachKeys: detachKeys}
	if interactive {
		streams.Stdin = os.Stdin
	}
	var term *terminal
	if tty {
		term = newTerminal(interactive)
		defer term.restore()
		streams.Resize = term.resize
		streams.Width, streams.Height = term.width, term.height
	}
	pid := make(chan int, 1)
	if sigProxy && !tty {
		defer proxySignals(pid)()
	}
	code, err := connect(streams, func(p int) { pid <- p })
	return attachResult(name, term, code, err)
}

// proxySignals forwards the signals that reach skiff to the container's
// process once its pid arrives (Docker's sig-proxy); the func stops it.
func proxySignals(pid <-chan int) func() {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
	go func() {
		p := <-pid
		for s := range sigs {
			_ = unix.Kill(p, s.(unix.Signal))
		}
	}()
	return func() { signal.Stop(sigs) }
}

// attachResult turns the end of an attach into skiff's exit.
func attachResult(name string, term *terminal, code int, err error) error {
	if errors.Is(err, engine.ErrDetached) {
		if term != nil {
			term.restore()
		}
		fmt.Fprintf(os.Stderr, "\nDetached from %s; it keeps running.\n", name)
		return nil
	}
	if err != nil {
		return err
	}
	if code != 0 {
		return &errdefs.ExitStatus{Code: code}
	}
	return nil
}

func attachCommand() *cli.Command {
	return &cli.Command{
		Name:      "attach",
		Usage:     "Attach local standard input, output, and error streams to a running container",
		ArgsUsage: "CONTAINER",
		UsageText: "skiff attach [OPTIONS] CONTAINER",
		Flags: []cli.Flag{
			detachKeysFlag(),
			&cli.BoolFlag{Name: "no-stdin", Usage: "do not attach STDIN"},
			&cli.BoolFlag{Name: "sig-proxy", Value: true, Usage: "proxy received signals to the container"},
		},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, 1, "attach [OPTIONS] CONTAINER"); err != nil {
				return err
			}
			keys, err := engine.ParseDetachKeys(c.String("detach-keys"))
			if err != nil {
				return err
			}
			return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
				ctr, err := e.ContainerInspect(ctx, c.Args().First(), false)
				if err != nil {
					return err
				}
				if ctr.State.Running {
					if err := checkTTY(!c.Bool("no-stdin"), ctr.Config.Tty); err != nil {
						return err
					}
				}
				interactive := !c.Bool("no-stdin") && ctr.Config.OpenStdin
				return attached(strings.TrimPrefix(ctr.Name, "/"), interactive, ctr.Config.Tty, c.Bool("sig-proxy"), keys,
					func(streams engine.AttachStreams, started func(int)) (int, error) {
						started(ctr.State.Pid)
						return e.ContainerAttach(ctx, ctr.ID, streams)
					})
			})
		},
	}
}
