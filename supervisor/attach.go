package supervisor

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/skiff-project/skiff/container"
)

// The attach protocol between a CLI and a container's supervisor, over
// the container's unix socket. The client first sends one JSON line
// (attachRequest); then both sides send frames: a type byte, a 4-byte
// big-endian length and the payload.
const (
	frameStdin  byte = 0 // client → supervisor
	frameStdout byte = 1 // supervisor → client
	frameStderr byte = 2 // supervisor → client
	frameEOF    byte = 3 // client → supervisor: stdin ended
	frameResize byte = 4 // client → supervisor: width, height (uint16 each)
	frameExit   byte = 5 // supervisor → client: exit status (int32); last frame
	// supervisor → the client that asked to Remove: exit status (int32);
	// the container is the client's to remove (--rm), which closes the
	// connection when it is done.
	frameExitRemove byte = 6
)

type attachRequest struct {
	Stdin, Stdout, Stderr bool
	// Width and Height are the client's terminal size, if it has one.
	Width, Height uint16
	// Remove asks for the container to remove when it exits (--rm): the
	// client has the store open already, so no `skiff __cleanup remove`.
	Remove bool
}

func writeFrame(w io.Writer, t byte, p []byte) error {
	hdr := make([]byte, 5, 5+len(p))
	hdr[0] = t
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(p)))
	_, err := w.Write(append(hdr, p...))
	return err
}

func readFrame(r io.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > 1<<20 {
		return 0, nil, errors.New("attach frame too large")
	}
	p := make([]byte, n)
	_, err := io.ReadFull(r, p)
	return hdr[0], p, err
}

// attachClient is one attached CLI as the supervisor sees it.
type attachClient struct {
	conn net.Conn
	req  attachRequest
	mu   sync.Mutex
	dead bool
	gone chan struct{} // closed when the client's side of the connection ends
}

func (a *attachClient) send(t byte, p []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.dead {
		return
	}
	// A client that stops reading for this long is dropped rather than
	// stalling the container's output for everyone.
	_ = a.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if err := writeFrame(a.conn, t, p); err != nil {
		a.dead = true
		a.conn.Close()
	}
}

// attachHub fans container output out to attached clients and their
// input into the container.
type attachHub struct {
	mu      sync.Mutex
	clients []*attachClient
	stdin   io.WriteCloser // nil without -i
	resize  func(w, h uint16)
	size    [2]uint16     // the last size a client asked for
	first   chan struct{} // closed when the first client has attached
	once    sync.Once
}

func newAttachHub() *attachHub { return &attachHub{first: make(chan struct{})} }

func (h *attachHub) serve(l net.Listener) {
	for {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		go h.handle(conn)
	}
}

func (h *attachHub) handle(conn net.Conn) {
	br := bufio.NewReader(conn)
	line, err := br.ReadBytes('\n')
	if err != nil {
		conn.Close()
		return
	}
	c := &attachClient{conn: conn, gone: make(chan struct{})}
	defer close(c.gone)
	if err := json.Unmarshal(line, &c.req); err != nil {
		conn.Close()
		return
	}
	h.mu.Lock()
	h.clients = append(h.clients, c)
	h.mu.Unlock()
	if c.req.Width > 0 && c.req.Height > 0 {
		h.setSize(c.req.Width, c.req.Height)
	}
	h.once.Do(func() { close(h.first) })
	for {
		t, p, err := readFrame(br)
		if err != nil {
			return
		}
		switch t {
		case frameStdin:
			if c.req.Stdin && h.stdinWriter() != nil {
				_, _ = h.stdinWriter().Write(p)
			}
		case frameEOF:
			if c.req.Stdin {
				h.closeStdin()
			}
		case frameResize:
			if len(p) == 4 {
				h.setSize(binary.BigEndian.Uint16(p), binary.BigEndian.Uint16(p[2:]))
			}
		}
	}
}

// setSize records a terminal size and applies it to the pty, if any.
func (h *attachHub) setSize(w, ht uint16) {
	h.mu.Lock()
	h.size = [2]uint16{w, ht}
	resize := h.resize
	h.mu.Unlock()
	if resize != nil {
		resize(w, ht)
	}
}

// lastSize is the size to give a new pty (0, 0 when nobody said).
func (h *attachHub) lastSize() (uint16, uint16) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.size[0], h.size[1]
}

// setResize installs the pty's resize function and applies the last size.
func (h *attachHub) setResize(fn func(w, h uint16)) {
	h.mu.Lock()
	h.resize = fn
	sz := h.size
	h.mu.Unlock()
	if sz[0] > 0 && sz[1] > 0 {
		fn(sz[0], sz[1])
	}
}

func (h *attachHub) stdinWriter() io.WriteCloser {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stdin
}

func (h *attachHub) setStdin(w io.WriteCloser) {
	h.mu.Lock()
	h.stdin = w
	h.mu.Unlock()
}

func (h *attachHub) closeStdin() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stdin != nil {
		h.stdin.Close()
		h.stdin = nil
	}
}

// broadcast sends container output to every client that asked for it.
func (h *attachHub) broadcast(t byte, p []byte) {
	h.mu.Lock()
	if len(h.clients) == 0 { // nobody attached: nothing to copy
		h.mu.Unlock()
		return
	}
	cs := append([]*attachClient(nil), h.clients...)
	h.mu.Unlock()
	p = append([]byte(nil), p...) // the clients' queues keep it
	for _, c := range cs {
		if (t == frameStdout && c.req.Stdout) || (t == frameStderr && c.req.Stderr) {
			c.send(t, p)
		}
	}
}

// handOver gives the container, after its exit, to the first client that
// asked to remove it: that client alone hears the status now, and the
// hub forgets it. It returns the client, or nil when none asked.
func (h *attachHub) handOver(code int) *attachClient {
	h.mu.Lock()
	var c *attachClient
	for i, cl := range h.clients {
		if cl.req.Remove {
			c = cl
			h.clients = append(h.clients[:i:i], h.clients[i+1:]...)
			break
		}
	}
	h.mu.Unlock()
	if c != nil {
		c.send(frameExitRemove, exitStatus(code))
	}
	return c
}

func exitStatus(code int) []byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(int32(code)))
	return b[:]
}

// exit tells every client the exit status and lets them go.
func (h *attachHub) exit(code int) {
	h.mu.Lock()
	cs := h.clients
	h.clients = nil
	h.mu.Unlock()
	for _, c := range cs {
		c.send(frameExit, exitStatus(code))
		c.conn.Close()
	}
}

// hubWriter is an io.Writer that broadcasts one stream.
type hubWriter struct {
	h *attachHub
	t byte
}

func (w hubWriter) Write(p []byte) (int, error) {
	w.h.broadcast(w.t, p)
	return len(p), nil
}

// AttachStreams are the caller's side of an attach.
type AttachStreams struct {
	Stdin          io.Reader // nil: no input
	Stdout, Stderr io.Writer
	// Resize, when set, delivers terminal sizes to send.
	Resize <-chan [2]uint16
	// DetachKeys, when it matches the input, ends the attach without
	// stopping the container.
	DetachKeys []byte
	// Width and Height are the terminal's size when there is one.
	Width, Height uint16
	// RemoveOnExit asks the supervisor to leave the removal of the
	// container (--rm) to this caller: see Conn.HandedOver.
	RemoveOnExit bool
}

// ErrDetached is returned by an attach that ended on the detach keys.
var ErrDetached = errors.New("detached")

// Conn is a connected attach session, from the CLI's side.
type Conn struct {
	conn       net.Conn
	handedOver bool
}

// HandedOver reports whether the container exited and is the caller's
// to remove (RemoveOnExit); the connection stays open until Close, which
// tells the supervisor the removal is done (it removes what is left).
func (a *Conn) HandedOver() bool { return a.handedOver }

// Dial attaches to c's supervisor, asking for the streams s has, and
// telling it the terminal size.
func Dial(c *container.Container, s AttachStreams) (*Conn, error) {
	return dialAttach(c, attachRequest{Stdin: s.Stdin != nil, Stdout: s.Stdout != nil, Stderr: s.Stderr != nil, Width: s.Width, Height: s.Height, Remove: s.RemoveOnExit})
}

// Close drops the session.
func (a *Conn) Close() error { return a.conn.Close() }

// Stream copies until the supervisor sends the exit status (returned) or
// the detach keys are typed (ErrDetached).
func (a *Conn) Stream(s AttachStreams) (int, error) { return a.stream(s) }

func dialAttach(c *container.Container, req attachRequest) (*Conn, error) {
	conn, err := net.Dial("unix", c.AttachSocket())
	if err != nil {
		return nil, err
	}
	b, _ := json.Marshal(req)
	if _, err := conn.Write(append(b, '\n')); err != nil {
		conn.Close()
		return nil, err
	}
	return &Conn{conn: conn}, nil
}

// stream copies until the supervisor sends the exit status (returned) or
// the detach keys are typed (ErrDetached).
func (a *Conn) stream(s AttachStreams) (int, error) {
	defer func() {
		if !a.handedOver {
			a.conn.Close()
		}
	}()
	var wmu sync.Mutex
	send := func(t byte, p []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		return writeFrame(a.conn, t, p)
	}
	detached := make(chan struct{})
	if s.Stdin != nil {
		go func() {
			in := NewDetachReader(s.Stdin, s.DetachKeys)
			buf := make([]byte, 32<<10)
			for {
				n, err := in.Read(buf)
				if n > 0 && send(frameStdin, buf[:n]) != nil {
					return
				}
				if errors.Is(err, ErrDetached) {
					close(detached)
					a.conn.Close()
					return
				}
				if err != nil {
					_ = send(frameEOF, nil)
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	defer close(done)
	if s.Resize != nil {
		go func() {
			for {
				select {
				case <-done:
					return
				case sz, ok := <-s.Resize:
					if !ok {
						return
					}
					var b [4]byte
					binary.BigEndian.PutUint16(b[:], sz[0])
					binary.BigEndian.PutUint16(b[2:], sz[1])
					if send(frameResize, b[:]) != nil {
						return
					}
				}
			}
		}()
	}
	br := bufio.NewReaderSize(a.conn, 64<<10)
	for {
		t, p, err := readFrame(br)
		if err != nil {
			select {
			case <-detached:
				return 0, ErrDetached
			default:
			}
			return 0, errors.New("lost the connection to the container's supervisor")
		}
		var werr error
		switch t {
		case frameStdout:
			if s.Stdout != nil {
				_, werr = s.Stdout.Write(p)
			}
		case frameStderr:
			if s.Stderr != nil {
				_, werr = s.Stderr.Write(p)
			}
		case frameExit, frameExitRemove:
			a.handedOver = t == frameExitRemove
			if len(p) == 4 {
				return int(int32(binary.BigEndian.Uint32(p))), nil
			}
			return 0, nil
		}
		if werr != nil {
			// The attached side is gone: leave, the container runs on.
			return 0, fmt.Errorf("%w: %v", ErrOutputGone, werr)
		}
	}
}

// ErrOutputGone ends an attach whose output could not be written (the
// client went away); the container runs on.
var ErrOutputGone = errors.New("the attached output is gone")
