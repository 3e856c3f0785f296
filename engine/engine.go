// Package engine is skiff's one engine: every verb of the CLI and of the
// Docker API service is a method here, with a context, typed options and a
// typed report (Docker's own API types from github.com/moby/moby/api where
// they fit), so that `skiff run` and `docker run` through the socket do
// exactly the same thing. It never prints: progress and warnings go to
// what the caller passes in, and errors carry an errdefs class that the
// CLI maps to an exit code and the API to an HTTP status.
//
// Below it sit the packages that do the work: runtime (containers and
// their steps), container (the on-disk record), supervisor, storage
// (images, volumes, archives), registry, netns (networking) and build.
// Nothing above it (cmd/, api/) imports them.
package engine

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/skiff-project/skiff/events"
	"github.com/skiff-project/skiff/internal/trace"
	"github.com/skiff-project/skiff/paths"
	"github.com/skiff-project/skiff/storage"
	"github.com/skiff-project/skiff/userns"
)

// Engine serves one user: their namespace, store and state directories.
// Its methods may be called from several goroutines.
type Engine struct {
	log  *slog.Logger
	warn func(string)

	mu sync.Mutex
	st *storage.Store
}

// Option configures New.
type Option func(*Engine)

// WithLogger sends the engine's diagnostics to l.
func WithLogger(l *slog.Logger) Option { return func(e *Engine) { e.log = l } }

// WithWarnings sends one-line warnings for the user (a host that cannot
// do something, a setting that is ignored) to fn.
func WithWarnings(fn func(string)) Option { return func(e *Engine) { e.warn = fn } }

// New returns the engine of the calling user. Rootless, it first enters
// the user's namespace, which may execute this program again from the
// start (so call it before reading stdin or making temporary files). The
// image store is opened on first use.
func New(opts ...Option) (*Engine, error) {
	e := &Engine{log: slog.New(slog.NewTextHandler(io.Discard, nil)), warn: func(string) {}}
	for _, o := range opts {
		o(e)
	}
	userns.Warn = e.warn
	events.Logf = func(format string, args ...any) { e.log.Warn(fmt.Sprintf(format, args...)) }
	if err := userns.Enter(); err != nil {
		return nil, err
	}
	e.log.Debug("engine ready", "rootless", paths.Rootless(), "uid", paths.UID(), "data", paths.DataDir(), "runtime", paths.RuntimeDir())
	return e, nil
}

// Close releases the store; mounts stay (containers may be running).
func (e *Engine) Close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.st != nil {
		e.st.Close()
		e.st = nil
	}
}

// store opens the image store once.
func (e *Engine) store() (*storage.Store, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.st != nil {
		return e.st, nil
	}
	start := time.Now()
	end := trace.Begin("open the store")
	st, err := storage.Open()
	end()
	if err != nil {
		return nil, err
	}
	e.log.Debug("store open", "took", time.Since(start))
	e.st = st
	return st, nil
}

// withStore runs fn with the store open.
func (e *Engine) withStore(fn func(st *storage.Store) error) error {
	st, err := e.store()
	if err != nil {
		return err
	}
	return fn(st)
}

// cancelled returns ctx's error once it is done, else nil.
func cancelled(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	default:
		return nil
	}
}
