package api

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

// Services and tasks: Docker's swarm services, kept by skiff with no
// daemon. The handlers are thin: Docker's types in, the engine's
// service calls, Docker's JSON out.

func (s *Server) listServices(w http.ResponseWriter, r *http.Request, _ params) error {
	f, err := filtersValue(r)
	if err != nil {
		return err
	}
	list, err := s.e.ServiceList(r.Context(), engine.ServiceListOptions{Filters: f, Status: boolValue(r, "status")})
	if err != nil {
		return err
	}
	if list == nil {
		list = []swarm.Service{}
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

// createService creates a service and answers at once, as Docker does:
// the client polls the service and its tasks while they converge. The
// X-Registry-Auth header is not used: the engine pulls with the user's
// own credentials (docker login through this service stores none).
func (s *Server) createService(w http.ResponseWriter, r *http.Request, _ params) error {
	var spec swarm.ServiceSpec
	if err := decodeJSON(r, &spec, false); err != nil {
		return err
	}
	res, err := s.e.ServiceCreate(r.Context(), spec, engine.ServiceCreateOptions{})
	if err != nil {
		return err
	}
	if res.Warnings == nil {
		res.Warnings = []string{}
	}
	writeJSON(w, http.StatusCreated, res)
	return nil
}

// inspectService answers the service; insertDefaults is accepted and
// changes nothing: the engine stores the spec with Docker's defaults.
func (s *Server) inspectService(w http.ResponseWriter, r *http.Request, p params) error {
	svc, err := s.e.ServiceInspect(r.Context(), p["id"])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, svc)
	return nil
}

func (s *Server) removeService(w http.ResponseWriter, r *http.Request, p params) error {
	if err := s.e.ServiceRemove(r.Context(), p["id"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// updateService replaces the spec: ?version= must be the service's
// current version (a stale one is a conflict), ?rollback=previous goes
// back to the previous spec instead.
func (s *Server) updateService(w http.ResponseWriter, r *http.Request, p params) error {
	o, err := serviceUpdateOptions(r)
	if err != nil {
		return err
	}
	var spec swarm.ServiceSpec
	if err := decodeJSON(r, &spec, o.Rollback); err != nil {
		return err
	}
	res, err := s.e.ServiceUpdate(r.Context(), p["id"], spec, o)
	if err != nil {
		return err
	}
	if res.Warnings == nil {
		res.Warnings = []string{}
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// serviceUpdateOptions reads update's query: version, rollback and
// registryAuthFrom (checked, not used: see createService).
func serviceUpdateOptions(r *http.Request) (engine.ServiceUpdateOptions, error) {
	var o engine.ServiceUpdateOptions
	if v := r.FormValue("version"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return o, errdefs.Invalid("invalid service version %q: want the service's Version.Index, a number", v)
		}
		o.Version = n
	}
	switch v := r.FormValue("rollback"); v {
	case "", "none":
	case "previous":
		o.Rollback = true
	default:
		return o, errdefs.Invalid("invalid rollback=%q: want previous or none", v)
	}
	switch v := r.FormValue("registryAuthFrom"); v {
	case "", string(swarm.RegistryAuthFromSpec), string(swarm.RegistryAuthFromPreviousSpec):
	default:
		return o, errdefs.Invalid("invalid registryAuthFrom=%q: want spec or previous-spec", v)
	}
	return o, nil
}

func (s *Server) listTasks(w http.ResponseWriter, r *http.Request, _ params) error {
	f, err := filtersValue(r)
	if err != nil {
		return err
	}
	tasks, err := s.e.TaskList(r.Context(), f)
	if err != nil {
		return err
	}
	if tasks == nil {
		tasks = []swarm.Task{}
	}
	writeJSON(w, http.StatusOK, tasks)
	return nil
}

func (s *Server) inspectTask(w http.ResponseWriter, r *http.Request, p params) error {
	t, err := s.e.TaskInspect(r.Context(), p["id"])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

// Logs.

// serviceLogOptions reads the logs query (container logs' parameters
// and details); stdout and stderr say which streams to send.
func serviceLogOptions(r *http.Request) (o engine.LogOptions, stdout, stderr, details bool, err error) {
	stdout, stderr, details = boolValue(r, "stdout"), boolValue(r, "stderr"), boolValue(r, "details")
	if !stdout && !stderr {
		return o, false, false, false, errdefs.Invalid("you must choose at least one stream (stdout=1 or stderr=1)")
	}
	o = engine.LogOptions{Follow: boolValue(r, "follow"), Tail: -1, Timestamps: boolValue(r, "timestamps")}
	if v := r.FormValue("tail"); v != "" && v != "all" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return o, false, false, false, errdefs.Invalid("invalid tail=%q: want a number or all", v)
		}
		o.Tail = n
	}
	if v := r.FormValue("since"); v != "" && v != "0" {
		if o.Since, err = engine.ParseTime(v, "since"); err != nil {
			return o, false, false, false, err
		}
	}
	return o, stdout, stderr, details, nil
}

// logDetails is dockerd's details of a task's log line: its context
// attributes, query-escaped and sorted by key, comma-separated. The
// docker CLI's service logs reads the node, service and task IDs from
// them to print each line's replica (web.1.abcdef@host).
func logDetails(nodeID, serviceID, taskID string) string {
	return engine.FormatLogAttrs(map[string]string{
		engine.LabelNodeID: nodeID, engine.LabelServiceID: serviceID, engine.LabelTaskID: taskID,
	})
}

// logStream is the reply of a service's or task's logs: one frame per
// line (the docker CLI's service logs takes each frame as one line),
// multiplexed unless the tasks have a tty. The headers go out with the
// first line, when the logs end, or (following) after a moment with no
// line, so that an error before any line still gets its own status.
type logStream struct {
	mu      sync.Mutex
	w       http.ResponseWriter
	mux     bool
	ct      string
	started bool
	failed  error // the client went away, or the reply became an error
	timer   *time.Timer
}

func newLogStream(w http.ResponseWriter, r *http.Request, tty bool) *logStream {
	ls := &logStream{w: w, mux: !tty, ct: "application/vnd.docker.raw-stream"}
	if !tty && versionAtLeast(r, "1.42") {
		ls.ct = "application/vnd.docker.multiplexed-stream"
	}
	return ls
}

// startAfter sends the headers after d unless a line did first.
func (ls *logStream) startAfter(d time.Duration) {
	ls.timer = time.AfterFunc(d, ls.start)
}

func (ls *logStream) start() {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	ls.startLocked()
	ls.flushLocked()
}

func (ls *logStream) startLocked() {
	if !ls.started {
		ls.w.Header().Set("Content-Type", ls.ct)
		ls.w.WriteHeader(http.StatusOK)
		ls.started = true
	}
}

func (ls *logStream) flushLocked() {
	if f, ok := ls.w.(http.Flusher); ok {
		f.Flush()
	}
}

// claim stops the reply from starting, when it has not yet, so that the
// caller can answer with an error instead; it reports whether it had not.
func (ls *logStream) claim() bool {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.started {
		return false
	}
	ls.started, ls.failed = true, errLogsEnded
	return true
}

// errLogsEnded stops the lines of a logs reply that ended in an error
// before it started.
var errLogsEnded = errors.New("the logs ended")

func (ls *logStream) stop() {
	if ls.timer != nil {
		ls.timer.Stop()
	}
}

// frame writes one line on a stream.
func (ls *logStream) frame(stream byte, line []byte) error {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.failed != nil {
		return ls.failed
	}
	ls.startLocked()
	if ls.mux {
		var hdr [8]byte
		hdr[0] = stream
		binary.BigEndian.PutUint32(hdr[4:], uint32(len(line)))
		if _, err := ls.w.Write(hdr[:]); err != nil {
			ls.failed = err
			return err
		}
	}
	if _, err := ls.w.Write(line); err != nil {
		ls.failed = err
		return err
	}
	ls.flushLocked()
	return nil
}

// lineWriter cuts one task's output into lines and frames each, with the
// task's details after the timestamp (dockerd's order: timestamp,
// details, line).
type lineWriter struct {
	ls         *logStream
	stream     byte
	details    string // "" without details
	timestamps bool
	buf        []byte
}

func (lw *lineWriter) Write(b []byte) (int, error) {
	lw.buf = append(lw.buf, b...)
	for {
		i := bytes.IndexByte(lw.buf, '\n')
		if i < 0 {
			break
		}
		if err := lw.emit(lw.buf[:i+1]); err != nil {
			return 0, err
		}
		lw.buf = lw.buf[i+1:]
	}
	if len(lw.buf) == 0 {
		lw.buf = nil
	}
	return len(b), nil
}

// flush sends a last line without its newline.
func (lw *lineWriter) flush() {
	if len(lw.buf) > 0 {
		_ = lw.emit(lw.buf)
		lw.buf = nil
	}
}

func (lw *lineWriter) emit(line []byte) error {
	if lw.details == "" {
		return lw.ls.frame(lw.stream, line)
	}
	out := make([]byte, 0, len(line)+len(lw.details)+1)
	if lw.timestamps {
		if ts, rest, ok := bytes.Cut(line, []byte(" ")); ok {
			out = append(append(out, ts...), ' ')
			line = rest
		}
	}
	out = append(append(out, lw.details...), ' ')
	out = append(out, line...)
	return lw.ls.frame(lw.stream, out)
}

// taskWriters hands out each task's pair of writers (the same pair when
// asked again) and flushes them all at the end.
type taskWriters struct {
	ls                  *logStream
	stdout, stderr      bool
	details, timestamps bool
	nodeID              func() string
	mu                  sync.Mutex
	byTask              map[string][2]*lineWriter
}

func (tw *taskWriters) get(t swarm.Task) (io.Writer, io.Writer) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if p, ok := tw.byTask[t.ID]; ok {
		return tw.pick(p)
	}
	d := ""
	if tw.details {
		node := t.NodeID
		if node == "" {
			node = tw.nodeID()
		}
		d = logDetails(node, t.ServiceID, t.ID)
	}
	p := [2]*lineWriter{
		{ls: tw.ls, stream: streamStdout, details: d, timestamps: tw.timestamps},
		{ls: tw.ls, stream: streamStderr, details: d, timestamps: tw.timestamps},
	}
	if tw.byTask == nil {
		tw.byTask = map[string][2]*lineWriter{}
	}
	tw.byTask[t.ID] = p
	return tw.pick(p)
}

func (tw *taskWriters) pick(p [2]*lineWriter) (io.Writer, io.Writer) {
	var out, errw io.Writer = p[0], p[1]
	if !tw.stdout {
		out = io.Discard
	}
	if !tw.stderr {
		errw = io.Discard
	}
	return out, errw
}

func (tw *taskWriters) flush() {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	for _, p := range tw.byTask {
		p[0].flush()
		p[1].flush()
	}
}

// selfNodeID returns this host's node ID, looked up once (for a task
// that does not name its node).
func (s *Server) selfNodeID(ctx context.Context) func() string {
	var once sync.Once
	var id string
	return func() string {
		once.Do(func() {
			if n, err := s.e.NodeInspect(ctx, "self"); err == nil {
				id = n.ID
			}
		})
		return id
	}
}

// finishLogs ends a logs reply: err as the reply's error when nothing
// was sent yet, else on the stderr stream as dockerd does (not with
// details: the docker CLI would take the message for a task's details).
func (s *Server) finishLogs(ls *logStream, details bool, err error) error {
	ls.stop()
	if err == nil {
		ls.start()
		return nil
	}
	if ls.claim() {
		return err
	}
	s.log.Debug("logs ended with an error", "err", err)
	if !details {
		_ = ls.frame(streamStderr, []byte("Error grabbing logs: "+errdefs.Message(err)+"\n"))
	}
	return nil
}

// serviceLogs streams the logs of every task of a service, each line
// with the task's details when asked (the docker CLI always asks, unless
// --raw, to print the replica before each line).
func (s *Server) serviceLogs(w http.ResponseWriter, r *http.Request, p params) error {
	o, stdout, stderr, details, err := serviceLogOptions(r)
	if err != nil {
		return err
	}
	svc, err := s.e.ServiceInspect(r.Context(), p["id"])
	if err != nil {
		return err
	}
	tty := svc.Spec.TaskTemplate.ContainerSpec != nil && svc.Spec.TaskTemplate.ContainerSpec.TTY
	ls := newLogStream(w, r, tty)
	if o.Follow {
		ls.startAfter(200 * time.Millisecond)
	}
	tw := &taskWriters{ls: ls, stdout: stdout, stderr: stderr, details: details, timestamps: o.Timestamps, nodeID: s.selfNodeID(r.Context())}
	err = s.e.ServiceLogs(r.Context(), svc.ID, o, tw.get)
	tw.flush()
	if r.Context().Err() != nil {
		err = nil // the client went away
	}
	return s.finishLogs(ls, details, err)
}

// taskLogs streams the log of one task's container.
func (s *Server) taskLogs(w http.ResponseWriter, r *http.Request, p params) error {
	o, stdout, stderr, details, err := serviceLogOptions(r)
	if err != nil {
		return err
	}
	t, err := s.e.TaskInspect(r.Context(), p["id"])
	if err != nil {
		return err
	}
	cid, err := s.taskContainer(r.Context(), t)
	if err != nil {
		return err
	}
	tty := t.Spec.ContainerSpec != nil && t.Spec.ContainerSpec.TTY
	ls := newLogStream(w, r, tty)
	if o.Follow {
		ls.startAfter(200 * time.Millisecond)
	}
	tw := &taskWriters{ls: ls, stdout: stdout, stderr: stderr, details: details, timestamps: o.Timestamps, nodeID: s.selfNodeID(r.Context())}
	out, errw := tw.get(*t)
	err = s.e.ContainerLogs(r.Context(), cid, o, out, errw)
	tw.flush()
	if r.Context().Err() != nil {
		err = nil
	}
	return s.finishLogs(ls, details, err)
}

// taskContainer is the container that runs (or ran) a task: the one its
// status names, else the one labelled with its ID.
func (s *Server) taskContainer(ctx context.Context, t *swarm.Task) (string, error) {
	if cs := t.Status.ContainerStatus; cs != nil && cs.ContainerID != "" {
		return cs.ContainerID, nil
	}
	list, err := s.e.ContainerList(ctx, engine.ContainerListOptions{
		All: true, Last: -1, Filters: engine.Filters{"label": {engine.LabelTaskID + "=" + t.ID}},
	})
	if err != nil {
		return "", err
	}
	if len(list) == 0 {
		return "", fmt.Errorf("task %s has no container (it never started, or its container was removed): %w", t.ID, errdefs.ErrNotFound)
	}
	return list[0].ID, nil
}
