package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	ctypes "github.com/moby/moby/api/types/container"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

// execStore holds the exec instances the service created: Docker's exec
// IDs live as long as the service (a finished one is forgotten after
// execKeep).
type execStore struct {
	mu    sync.Mutex
	execs map[string]*execInstance
}

const execKeep = 10 * time.Minute

type execInstance struct {
	id, containerID string
	req             ctypes.ExecCreateRequest

	mu       sync.Mutex
	started  bool
	running  bool
	exitCode *int
	pid      int
	ended    time.Time
	resize   chan [2]uint16
}

func newExecStore() *execStore { return &execStore{execs: map[string]*execInstance{}} }

func (es *execStore) add(x *execInstance) {
	es.mu.Lock()
	defer es.mu.Unlock()
	for id, old := range es.execs {
		old.mu.Lock()
		stale := !old.ended.IsZero() && time.Since(old.ended) > execKeep
		old.mu.Unlock()
		if stale {
			delete(es.execs, id)
		}
	}
	es.execs[x.id] = x
}

func (es *execStore) get(id string) (*execInstance, error) {
	es.mu.Lock()
	defer es.mu.Unlock()
	if x, ok := es.execs[id]; ok {
		return x, nil
	}
	return nil, fmt.Errorf("No such exec instance: %s: %w", id, errdefs.ErrNotFound)
}

func (x *execInstance) inspect() ctypes.ExecInspectResponse {
	x.mu.Lock()
	defer x.mu.Unlock()
	priv := x.req.Privileged
	res := ctypes.ExecInspectResponse{
		ID: x.id, Running: x.running, ExitCode: x.exitCode, ContainerID: x.containerID, Pid: x.pid,
		OpenStdin: x.req.AttachStdin, OpenStdout: x.req.AttachStdout, OpenStderr: x.req.AttachStderr,
		CanRemove: !x.running && x.started, DetachKeys: []byte(x.req.DetachKeys),
		ProcessConfig: &ctypes.ExecProcessConfig{Tty: x.req.Tty, User: x.req.User, Privileged: &priv},
	}
	if len(x.req.Cmd) > 0 {
		res.ProcessConfig.Entrypoint, res.ProcessConfig.Arguments = x.req.Cmd[0], x.req.Cmd[1:]
	}
	if res.ProcessConfig.Arguments == nil {
		res.ProcessConfig.Arguments = []string{}
	}
	return res
}

func (s *Server) execCreate(w http.ResponseWriter, r *http.Request, p params) error {
	var req ctypes.ExecCreateRequest
	if err := decodeJSON(r, &req, false); err != nil {
		return err
	}
	if len(req.Cmd) == 0 {
		return errdefs.Invalid("exec needs a command (Cmd)")
	}
	if _, err := engine.ParseDetachKeys(req.DetachKeys); err != nil {
		return err
	}
	c, err := s.e.ContainerInspect(r.Context(), p["id"], false)
	if err != nil {
		return err
	}
	switch {
	case c.State == nil || !c.State.Running:
		return fmt.Errorf("container %s is not running: %w", p["id"], errdefs.ErrConflict)
	case c.State.Paused:
		return fmt.Errorf("container %s is paused, unpause the container before exec: %w", p["id"], errdefs.ErrConflict)
	}
	x := &execInstance{id: engine.NewID(), containerID: c.ID, req: req, resize: make(chan [2]uint16, 4)}
	s.execs.add(x)
	writeJSON(w, http.StatusCreated, ctypes.ExecCreateResponse{ID: x.id})
	return nil
}

func (s *Server) execInspect(w http.ResponseWriter, r *http.Request, p params) error {
	x, err := s.execs.get(p["id"])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, x.inspect())
	return nil
}

func (s *Server) execResize(w http.ResponseWriter, r *http.Request, p params) error {
	x, err := s.execs.get(p["id"])
	if err != nil {
		return err
	}
	wid, hgt, err := sizeValue(r)
	if err != nil {
		return err
	}
	select {
	case x.resize <- [2]uint16{wid, hgt}:
	default:
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// execStart runs an exec instance: detached in the background, or with
// the connection taken over for its streams (multiplexed without a tty).
func (s *Server) execStart(w http.ResponseWriter, r *http.Request, p params) error {
	x, err := s.execs.get(p["id"])
	if err != nil {
		return err
	}
	var req ctypes.ExecStartRequest
	if err := decodeJSON(r, &req, true); err != nil {
		return err
	}
	x.mu.Lock()
	if x.started {
		x.mu.Unlock()
		return fmt.Errorf("exec %s has already run: %w", x.id, errdefs.ErrConflict)
	}
	x.started, x.running = true, true
	x.mu.Unlock()
	tty := x.req.Tty || req.Tty
	o := engine.ExecOptions{
		ID: x.id, Cmd: x.req.Cmd, Env: x.req.Env, User: x.req.User, Workdir: x.req.WorkingDir,
		Privileged: x.req.Privileged, TTY: tty, Resize: x.resize,
		Started: func(pid int) { x.mu.Lock(); x.pid = pid; x.mu.Unlock() },
	}
	size := req.ConsoleSize
	if size == nil {
		size = x.req.ConsoleSize
	}
	if size != nil {
		o.Height, o.Width = uint16(size[0]), uint16(size[1])
	}
	if req.Detach {
		o.Stdout, o.Stderr = io.Discard, io.Discard
		go s.runExec(x, o)
		writeJSON(w, http.StatusOK, struct{}{})
		return nil
	}
	conn, err := hijack(w, r, !tty)
	if err != nil {
		x.finish(-1)
		return err
	}
	defer conn.Close()
	var out, errw io.Writer = conn, conn
	if !tty {
		out, errw = newMux(conn)
	}
	o.Stdout, o.Stderr = io.Discard, io.Discard
	if x.req.AttachStdout {
		o.Stdout = out
	}
	if x.req.AttachStderr {
		o.Stderr = errw
	}
	if x.req.AttachStdin {
		o.Interactive, o.Stdin = true, conn
	}
	if err := s.runExec(x, o); err != nil {
		fmt.Fprintf(errw, "%s\r\n", errdefs.Message(err))
	}
	_ = conn.CloseWrite()
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	if !x.req.AttachStdin {
		_, _ = io.Copy(io.Discard, conn)
	}
	return nil
}

// runExec runs x to its end and records its exit code; an error that
// kept it from running is returned (its code is Docker's 126 or 127).
func (s *Server) runExec(x *execInstance, o engine.ExecOptions) error {
	err := s.e.ContainerExec(context.Background(), x.containerID, o)
	var st *errdefs.ExitStatus
	switch {
	case err == nil:
		x.finish(0)
	case errors.As(err, &st):
		x.finish(st.Code)
		return nil
	default:
		x.finish(errdefs.ExitCode(err))
		return err
	}
	return nil
}

func (x *execInstance) finish(code int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.running, x.exitCode, x.ended = false, &code, time.Now()
}
