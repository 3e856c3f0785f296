// Package api serves Docker's Engine API over the same engine as the CLI:
// `skiff system service` starts it on demand (or systemd's socket
// activation does), each request runs the engine call the matching CLI
// command runs, and state stays on disk, so the service can exit when
// idle and start again without losing anything. Requests and replies use
// Docker's own types from github.com/moby/moby/api.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/skiff-project/skiff/engine"
)

// API versions served (the engine's): requests may name any version in
// this range in their /vX.Y/ prefix; without one they get the newest.
const (
	MinVersion = engine.MinAPIVersion
	MaxVersion = engine.APIVersion
)

// Options configure a Server.
type Options struct {
	// Idle is how long the service waits with no request in flight before
	// it stops; 0 serves until ctx is cancelled.
	Idle time.Duration
	// Version is skiff's version, for /version and the Server header.
	Version string
	Log     *slog.Logger
}

// Server is the API service of one user's engine.
type Server struct {
	e   *engine.Engine
	o   Options
	log *slog.Logger
	mux *router

	active   atomic.Int64 // requests in flight, hijacked streams included
	lastDone atomic.Int64 // unix nanoseconds when the last one ended

	execs    *execStore
	attaches *attachStore
}

// New returns the API service over e.
func New(e *engine.Engine, o Options) *Server {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{e: e, o: o, log: o.Log, execs: newExecStore(), attaches: newAttachStore()}
	s.mux = s.routes()
	s.lastDone.Store(time.Now().UnixNano())
	return s
}

// Serve answers requests on the listeners until ctx is cancelled or, with
// an idle timeout, nothing has been asked for that long. Requests in
// flight finish first (streams are cut when ctx is cancelled).
func (s *Server) Serve(ctx context.Context, ls ...net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, len(ls))
	for _, l := range ls {
		go func() { errc <- hs.Serve(l) }()
	}
	if s.o.Idle > 0 {
		go s.watchIdle(ctx, cancel)
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	shut, done := context.WithTimeout(context.Background(), 10*time.Second)
	defer done()
	_ = hs.Shutdown(shut)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// watchIdle cancels the service once no request has been in flight for
// the idle time.
func (s *Server) watchIdle(ctx context.Context, stop func()) {
	t := time.NewTicker(min(s.o.Idle/4+time.Millisecond, 250*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if s.active.Load() == 0 && time.Since(time.Unix(0, s.lastDone.Load())) >= s.o.Idle {
				s.log.Info("idle: stopping", "after", s.o.Idle)
				stop()
				return
			}
		}
	}
}

// ServeHTTP checks the version and the path, then routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.active.Add(1)
	defer func() {
		s.lastDone.Store(time.Now().UnixNano())
		s.active.Add(-1)
	}()
	start := time.Now()
	h := w.Header()
	h.Set("Api-Version", MaxVersion)
	h.Set("Docker-Experimental", "false")
	h.Set("Ostype", "linux")
	h.Set("Server", "skiff/"+s.o.Version+" (linux)")
	rw := &statusWriter{ResponseWriter: w}
	s.serve(rw, r)
	s.log.Debug("api", "method", r.Method, "path", r.URL.Path, "status", rw.status, "took", time.Since(start))
}

// statusWriter remembers the status for the log, and lets handlers
// flush and hijack through it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
