package cmd

// `service logs`: every replica's output, each line prefixed with the
// task it came from (web.1.abcdef012345@host    | ...), as docker/cli
// prints it.

import (
	"bytes"
	"context"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/moby/moby/api/types/swarm"
	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

func serviceLogs(c *cli.Context) error {
	if err := exactArgs(c, 1, 1, "service logs [OPTIONS] SERVICE|TASK"); err != nil {
		return err
	}
	o, err := logOptions(c)
	if err != nil {
		return err
	}
	ref := c.Args().First()
	return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
		lp := &logPrefixes{
			noTaskIDs: c.Bool("no-task-ids"), noTrunc: c.Bool("no-trunc"), raw: c.Bool("raw"), timestamps: o.Timestamps,
			names: map[string]string{}, nodes: map[string]string{}, stdout: os.Stdout, stderr: os.Stderr,
		}
		if !c.Bool("no-resolve") {
			lp.nodes = nodeNames(ctx, e)
		}
		defer lp.flush()
		svc, err := e.ServiceInspect(ctx, ref)
		if err == nil {
			if err := lp.setService(svc, c.Bool("no-resolve")); err != nil {
				return err
			}
			return e.ServiceLogs(ctx, svc.ID, o, lp.writers)
		}
		if !isNotFound(err) {
			return err
		}
		// Not a service: a task, as Docker's `service logs TASK`.
		t, terr := e.TaskInspect(ctx, ref)
		if terr != nil {
			if isNotFound(terr) {
				return errdefs.NotFound("no such task or service: %s", ref)
			}
			return terr
		}
		if t.Status.ContainerStatus == nil || t.Status.ContainerStatus.ContainerID == "" {
			return errdefs.NotFound("task %s has no container: it never started", ref)
		}
		svc, err = e.ServiceInspect(ctx, t.ServiceID)
		if err != nil {
			return err
		}
		if err := lp.setService(svc, c.Bool("no-resolve")); err != nil {
			return err
		}
		lp.padding = len(strconv.Itoa(t.Slot))
		stdout, stderr := lp.writers(*t)
		return e.ContainerLogs(ctx, t.Status.ContainerStatus.ContainerID, o, stdout, stderr)
	})
}

// logPrefixes makes the writers of each task's output: whole lines,
// prefixed, written one at a time to the shared stdout and stderr.
type logPrefixes struct {
	noTaskIDs, noTrunc, raw, timestamps bool
	service                             string
	padding                             int               // digits of the replica count
	names                               map[string]string // service ID -> name
	nodes                               map[string]string // node ID -> host name

	mu             sync.Mutex // one line at a time, and the writers list
	stdout, stderr io.Writer
	open           []*lineWriter
}

func (lp *logPrefixes) setService(s *swarm.Service, noResolve bool) error {
	lp.service = s.Spec.Name
	if noResolve || lp.service == "" {
		lp.service = s.ID
	}
	if cs := s.Spec.TaskTemplate.ContainerSpec; cs != nil && cs.TTY && !lp.raw {
		return errdefs.Invalid("service %s runs with a TTY (-t): its logs can only be shown with --raw", firstNonEmpty(s.Spec.Name, s.ID))
	}
	lp.padding = 1
	if r := s.Spec.Mode.Replicated; r != nil && r.Replicas != nil {
		lp.padding = len(strconv.FormatUint(*r.Replicas, 10))
	}
	return nil
}

// prefix is the context Docker puts before each line of a task's output.
func (lp *logPrefixes) prefix(t swarm.Task) string {
	if lp.raw {
		return ""
	}
	name := lp.service + "." + strconv.Itoa(t.Slot)
	if t.Slot == 0 {
		name = lp.service + "." + t.NodeID
	}
	if !lp.noTaskIDs {
		id := t.ID
		if !lp.noTrunc {
			id = shortID(id)
		}
		name += "." + id
	}
	node := firstNonEmpty(lp.nodes[t.NodeID], t.NodeID)
	pad := lp.padding - len(strconv.Itoa(t.Slot))
	return name + "@" + node + strings.Repeat(" ", max(pad, 0)) + "    | "
}

// writers is the engine's ServiceLogWriters: called for each task, maybe
// from several goroutines.
func (lp *logPrefixes) writers(t swarm.Task) (io.Writer, io.Writer) {
	p := lp.prefix(t)
	out := &lineWriter{mu: &lp.mu, w: lp.stdout, prefix: p, timestamps: lp.timestamps && !lp.raw}
	errw := &lineWriter{mu: &lp.mu, w: lp.stderr, prefix: p, timestamps: lp.timestamps && !lp.raw}
	lp.mu.Lock()
	lp.open = append(lp.open, out, errw)
	lp.mu.Unlock()
	return out, errw
}

// flush writes what is left of lines that never ended.
func (lp *logPrefixes) flush() {
	lp.mu.Lock()
	open := lp.open
	lp.mu.Unlock()
	for _, w := range open {
		w.flush()
	}
}

// lineWriter prefixes each line of one stream of one task; a partial
// line waits for its end. With timestamps the prefix goes after the
// line's timestamp, as in Docker.
type lineWriter struct {
	mu         *sync.Mutex // shared by every task's writers
	w          io.Writer
	prefix     string
	timestamps bool

	bufMu sync.Mutex
	buf   []byte
}

func (lw *lineWriter) Write(p []byte) (int, error) {
	lw.bufMu.Lock()
	defer lw.bufMu.Unlock()
	lw.buf = append(lw.buf, p...)
	for {
		i := bytes.IndexByte(lw.buf, '\n')
		if i < 0 {
			break
		}
		line := lw.buf[:i+1]
		if err := lw.emit(line); err != nil {
			return 0, err
		}
		lw.buf = lw.buf[i+1:]
	}
	if len(lw.buf) == 0 {
		lw.buf = nil // let a long line's memory go
	}
	return len(p), nil
}

func (lw *lineWriter) flush() {
	lw.bufMu.Lock()
	defer lw.bufMu.Unlock()
	if len(lw.buf) > 0 {
		_ = lw.emit(append(lw.buf, '\n'))
		lw.buf = nil
	}
}

func (lw *lineWriter) emit(line []byte) error {
	out := make([]byte, 0, len(lw.prefix)+len(line))
	if lw.timestamps {
		if ts, rest, ok := bytes.Cut(line, []byte(" ")); ok {
			out = append(out, ts...)
			out = append(out, ' ')
			line = rest
		}
	}
	out = append(out, lw.prefix...)
	out = append(out, line...)
	lw.mu.Lock()
	defer lw.mu.Unlock()
	_, err := lw.w.Write(out)
	return err
}
