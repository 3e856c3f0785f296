package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/skiff-project/skiff/engine"
)

// attachStore holds the attach sessions of the service: those waiting
// for their container to start (docker run attaches first), and the
// live ones' resize channels.
type attachStore struct {
	mu       sync.Mutex
	pending  map[string][]*pendingAttach
	sessions map[string]map[chan [2]uint16]bool
	// sizes are the terminal sizes containers were created with
	// (HostConfig.ConsoleSize), for the pty of their first start: the
	// client's resize comes only after the start, later than a program
	// that asks for the size at once.
	sizes map[string][2]uint16
}

type pendingAttach struct {
	ready   chan struct{} // closed once streams is set (or the attach failed)
	streams engine.AttachStreams
	started chan startResult
}

type startResult struct {
	a   *engine.Attachment
	err error
}

func newAttachStore() *attachStore {
	return &attachStore{pending: map[string][]*pendingAttach{}, sessions: map[string]map[chan [2]uint16]bool{}, sizes: map[string][2]uint16{}}
}

// setSize remembers a new container's terminal size (width, height).
func (as *attachStore) setSize(id string, w, h uint16) {
	if w == 0 || h == 0 {
		return
	}
	as.mu.Lock()
	defer as.mu.Unlock()
	if len(as.sizes) > 1000 { // containers created and never attached
		clear(as.sizes)
	}
	as.sizes[id] = [2]uint16{w, h}
}

// takeSize returns, once, the size a container was created with.
func (as *attachStore) takeSize(id string) (uint16, uint16) {
	as.mu.Lock()
	defer as.mu.Unlock()
	sz := as.sizes[id]
	delete(as.sizes, id)
	return sz[0], sz[1]
}

// takePending hands the first attach waiting for id to the start.
func (as *attachStore) takePending(id string) *pendingAttach {
	as.mu.Lock()
	defer as.mu.Unlock()
	q := as.pending[id]
	if len(q) == 0 {
		return nil
	}
	as.pending[id] = q[1:]
	if len(q) == 1 {
		delete(as.pending, id)
	}
	return q[0]
}

func (as *attachStore) addPending(id string, pa *pendingAttach) {
	as.mu.Lock()
	defer as.mu.Unlock()
	as.pending[id] = append(as.pending[id], pa)
}

// dropPending removes pa; false when a start took it meanwhile.
func (as *attachStore) dropPending(id string, pa *pendingAttach) bool {
	as.mu.Lock()
	defer as.mu.Unlock()
	q := as.pending[id]
	for i, x := range q {
		if x == pa {
			as.pending[id] = append(q[:i:i], q[i+1:]...)
			if len(as.pending[id]) == 0 {
				delete(as.pending, id)
			}
			return true
		}
	}
	return false
}

func (as *attachStore) addSession(id string, ch chan [2]uint16) func() {
	as.mu.Lock()
	defer as.mu.Unlock()
	if as.sessions[id] == nil {
		as.sessions[id] = map[chan [2]uint16]bool{}
	}
	as.sessions[id][ch] = true
	return func() {
		as.mu.Lock()
		defer as.mu.Unlock()
		delete(as.sessions[id], ch)
		if len(as.sessions[id]) == 0 {
			delete(as.sessions, id)
		}
	}
}

// resize sends a size to every attach session of id (a full channel
// drops it: a newer size follows).
func (as *attachStore) resize(id string, w, h uint16) {
	as.mu.Lock()
	defer as.mu.Unlock()
	for ch := range as.sessions[id] {
		select {
		case ch <- [2]uint16{w, h}:
		default:
		}
	}
}

// attachContainer is POST /containers/{id}/attach: the connection is
// taken over and carries the container's streams, multiplexed unless it
// has a tty. A container that has not started yet is waited for.
func (s *Server) attachContainer(w http.ResponseWriter, r *http.Request, p params) error {
	c, err := s.e.ContainerInspect(r.Context(), p["id"], false)
	if err != nil {
		return err
	}
	keys, err := engine.ParseDetachKeys(r.FormValue("detachKeys"))
	if err != nil {
		return err
	}
	tty := c.Config != nil && c.Config.Tty
	wantIn, wantOut, wantErr := boolValue(r, "stdin"), boolValue(r, "stdout"), boolValue(r, "stderr")
	stream := boolValue(r, "stream")
	var pa *pendingAttach
	if stream && (c.State == nil || !c.State.Running) {
		// Waiting before the client hears the upgrade: it starts the
		// container as soon as it does, and the start must find us.
		pa = &pendingAttach{ready: make(chan struct{}), started: make(chan startResult, 1)}
		s.attaches.addPending(c.ID, pa)
	}
	conn, err := hijack(w, r, !tty)
	if err != nil {
		if pa != nil {
			s.attaches.dropPending(c.ID, pa)
			close(pa.ready) // a start that took it already goes on without it
		}
		return err
	}
	defer conn.Close()
	var out, errw io.Writer = conn, conn
	if !tty {
		out, errw = newMux(conn)
	}
	if boolValue(r, "logs") {
		lo := out
		le := errw
		if !wantOut {
			lo = io.Discard
		}
		if !wantErr {
			le = io.Discard
		}
		_ = s.e.ContainerLogs(r.Context(), c.ID, engine.LogOptions{Tail: -1}, lo, le)
	}
	if !stream {
		return nil
	}
	resize := make(chan [2]uint16, 4)
	defer s.attaches.addSession(c.ID, resize)()
	streams := engine.AttachStreams{Resize: resize, DetachKeys: keys}
	if tty {
		streams.Width, streams.Height = s.attaches.takeSize(c.ID)
	}
	if wantIn && c.Config != nil && c.Config.OpenStdin {
		streams.Stdin = conn
	}
	if wantOut {
		streams.Stdout = out
	}
	if wantErr {
		streams.Stderr = errw
	}
	if pa != nil {
		pa.streams = streams
		close(pa.ready)
	}
	s.runAttach(c.ID, streams, pa)
	_ = conn.CloseWrite()
	// Let the client read the end before the connection goes.
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, _ = io.Copy(io.Discard, conn)
	return nil
}

// runAttach streams a container until it exits: at once when it runs,
// else when a start has made it run. A start through this service hands
// the waiting attach (pa, registered already, or a new one) the
// container's first byte; one from elsewhere (the CLI) is noticed within
// a poll.
func (s *Server) runAttach(id string, streams engine.AttachStreams, pa *pendingAttach) {
	ctx := context.Background()
	if pa == nil {
		c, err := s.e.ContainerInspect(ctx, id, false)
		if err != nil {
			return
		}
		if c.State != nil && c.State.Running {
			_, _ = s.e.ContainerAttach(ctx, id, streams)
			return
		}
		pa = &pendingAttach{streams: streams, ready: make(chan struct{}), started: make(chan startResult, 1)}
		close(pa.ready)
		s.attaches.addPending(id, pa)
	}
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case res := <-pa.started:
			if res.err == nil {
				_, _ = res.a.Stream(streams)
			} else if errors.Is(res.err, errStartedPlain) {
				_, _ = s.e.ContainerAttach(ctx, id, streams)
			}
			return
		case <-t.C:
		}
		c, err := s.e.ContainerInspect(ctx, id, false)
		gone := err != nil
		if !gone && (c.State == nil || !c.State.Running) {
			continue
		}
		if !s.attaches.dropPending(id, pa) {
			continue // a start has it: its result comes
		}
		if !gone {
			_, _ = s.e.ContainerAttach(ctx, id, streams)
		}
		return
	}
}

// errStartedPlain tells a waiting attach that its container was started
// without it (it was not ready in time): attach to the running one.
var errStartedPlain = errors.New("started without the attach")

// startFor starts id for the attach waiting for it: with its streams
// once they are ready, or plainly (the attach then joins the running
// container) if they do not come soon.
func (s *Server) startFor(ctx context.Context, id string, pa *pendingAttach) error {
	select {
	case <-pa.ready:
	case <-time.After(10 * time.Second):
	}
	select {
	case <-pa.ready:
		if pa.streams.Stdout != nil || pa.streams.Stderr != nil || pa.streams.Stdin != nil {
			a, err := s.e.ContainerStartWith(ctx, id, pa.streams)
			pa.started <- startResult{a: a, err: err}
			return err
		}
	default:
	}
	err := s.e.ContainerStart(ctx, id)
	pa.started <- startResult{err: errStartedPlain}
	return err
}
