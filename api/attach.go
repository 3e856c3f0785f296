package api

import (
	"context"
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
}

type pendingAttach struct {
	streams engine.AttachStreams
	started chan startResult
}

type startResult struct {
	a   *engine.Attachment
	err error
}

func newAttachStore() *attachStore {
	return &attachStore{pending: map[string][]*pendingAttach{}, sessions: map[string]map[chan [2]uint16]bool{}}
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
	conn, err := hijack(w, r, !tty)
	if err != nil {
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
	if !boolValue(r, "stream") {
		return nil
	}
	resize := make(chan [2]uint16, 4)
	defer s.attaches.addSession(c.ID, resize)()
	streams := engine.AttachStreams{Resize: resize, DetachKeys: keys}
	if wantIn && c.Config != nil && c.Config.OpenStdin {
		streams.Stdin = conn
	}
	if wantOut {
		streams.Stdout = out
	}
	if wantErr {
		streams.Stderr = errw
	}
	s.runAttach(c.ID, streams)
	_ = conn.CloseWrite()
	// Let the client read the end before the connection goes.
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, _ = io.Copy(io.Discard, conn)
	return nil
}

// runAttach streams a container until it exits: at once when it runs,
// else when a start has made it run. A start through this service hands
// the waiting attach the container's first byte; one from elsewhere (the
// CLI) is noticed within a poll.
func (s *Server) runAttach(id string, streams engine.AttachStreams) {
	ctx := context.Background()
	c, err := s.e.ContainerInspect(ctx, id, false)
	if err != nil {
		return
	}
	if c.State != nil && c.State.Running {
		_, _ = s.e.ContainerAttach(ctx, id, streams)
		return
	}
	pa := &pendingAttach{streams: streams, started: make(chan startResult, 1)}
	s.attaches.addPending(id, pa)
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case res := <-pa.started:
			if res.err == nil {
				_, _ = res.a.Stream(streams)
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
