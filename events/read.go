package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/internal/ondisk"
)

// ReadOptions select what Read passes on.
type ReadOptions struct {
	// Since and Until bound the events' times (both included); zero
	// values leave that end open.
	Since, Until time.Time
	// Follow goes on after the journal's end, passing new events as they
	// are recorded, until the context is done or Until passes.
	Follow bool
	// Match, when set, passes only the events it accepts.
	Match func(Message) bool
}

// Read passes the journal's events to fn in the order they were recorded:
// events.log.1, then events.log, then (with Follow) new ones, across
// rotations. It returns fn's first error, ctx's error when ctx ends a
// Follow, and nil at the journal's end or when Until has passed.
func Read(ctx context.Context, o ReadOptions, fn func(Message) error) error {
	return journal{dir: Dir()}.read(ctx, o, fn)
}

// pollEvery is how often a follower looks at the journal when nothing
// told it of a change (no inotify, or a change inotify missed).
var pollEvery = 2 * time.Second

// reader follows one journal.
type reader struct {
	ctx     context.Context
	j       journal
	o       ReadOptions
	fn      func(Message) error
	cur     *os.File    // events.log as it was opened; nil before it exists
	curInfo os.FileInfo // its identity
	pending []byte      // the start of a line whose end is not written yet
	done    []os.FileInfo
}

func (j journal) read(ctx context.Context, o ReadOptions, fn func(Message) error) error {
	r := &reader{ctx: ctx, j: j, o: o, fn: fn}
	defer r.closeCur()
	if o.Follow {
		// The directory is watched, so it must exist.
		if err := os.MkdirAll(j.dir, 0o700); err != nil {
			return err
		}
	} else if _, err := os.Stat(j.dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := r.start(); err != nil {
		return err
	}
	if !o.Follow || !o.Until.IsZero() && !time.Now().Before(o.Until) {
		return nil
	}
	w := watch(j.dir)
	defer w.close()
	poll := time.NewTicker(pollEvery)
	defer poll.Stop()
	var until <-chan time.Time
	if !o.Until.IsZero() {
		t := time.NewTimer(time.Until(o.Until))
		defer t.Stop()
		until = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-until:
			// Writers stamp an event before they append it: take what
			// was written up to now, then stop.
			return r.poll()
		case <-w.changed:
		case <-poll.C:
		}
		if err := r.poll(); err != nil {
			return err
		}
	}
}

// start reads events.log.1 and events.log, opened together under the
// shared lock so that no rotation falls between them.
func (r *reader) start() error {
	unlock, err := ondisk.LockShared(r.j.path(lockName))
	if err != nil {
		return err
	}
	old, oerr := os.Open(r.j.path(oldName))
	cur, cerr := os.Open(r.j.path(logName))
	unlock()
	if oerr == nil {
		err := r.whole(old)
		old.Close()
		if err != nil {
			if cerr == nil {
				cur.Close()
			}
			return err
		}
	}
	if cerr == nil {
		r.setCur(cur)
		return r.drain()
	}
	return nil
}

func (r *reader) setCur(f *os.File) {
	r.cur, r.pending = f, nil
	r.curInfo, _ = f.Stat()
}

func (r *reader) closeCur() {
	if r.cur != nil {
		r.cur.Close()
		r.cur, r.curInfo, r.pending = nil, nil, nil
	}
}

// remember notes a file read to its end, so that it is not read again.
func (r *reader) remember(fi os.FileInfo) {
	if fi == nil {
		return
	}
	r.done = append(r.done, fi)
	if len(r.done) > 4 {
		r.done = r.done[1:]
	}
}

func (r *reader) seen(fi os.FileInfo) bool {
	for _, d := range r.done {
		if os.SameFile(d, fi) {
			return true
		}
	}
	return r.curInfo != nil && os.SameFile(r.curInfo, fi)
}

// whole reads a rotated file from its start to its end.
func (r *reader) whole(f *os.File) error {
	fi, _ := f.Stat()
	saved := r.pending
	r.pending = nil
	err := r.lines(f)
	r.pending = saved
	r.remember(fi)
	return err
}

// drain reads what was appended to the current file since the last call.
func (r *reader) drain() error {
	if r.cur == nil {
		return nil
	}
	return r.lines(r.cur)
}

// lines passes the complete lines read from f up to its end; a last line
// without its newline waits in pending for the rest.
func (r *reader) lines(f *os.File) error {
	buf := make([]byte, 64<<10)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			data := buf[:n]
			for {
				i := bytes.IndexByte(data, '\n')
				if i < 0 {
					r.pending = append(r.pending, data...)
					break
				}
				line := data[:i]
				if len(r.pending) > 0 {
					line = append(r.pending, line...)
					r.pending = nil
				}
				if err := r.line(line); err != nil {
					return err
				}
				data = data[i+1:]
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// line passes one recorded event on when the options accept it; a line
// that does not decode (a torn write of a killed process) is skipped.
func (r *reader) line(b []byte) error {
	if err := r.ctx.Err(); err != nil {
		return err
	}
	// Most lines of a full journal are outside since..until (a follow
	// from now, a --rm container's exit code): leave them undecoded.
	if t, ok := lineTime(b); ok && r.outside(t) {
		return nil
	}
	var m Message
	if len(b) == 0 || json.Unmarshal(b, &m) != nil {
		return nil
	}
	t := m.TimeNano
	if t == 0 {
		t = m.Time * int64(time.Second)
	}
	if r.outside(t) {
		return nil
	}
	if r.o.Match != nil && !r.o.Match(m) {
		return nil
	}
	return r.fn(m)
}

// outside reports whether a time in nanoseconds is outside since..until.
func (r *reader) outside(t int64) bool {
	return !r.o.Since.IsZero() && t < r.o.Since.UnixNano() || !r.o.Until.IsZero() && t > r.o.Until.UnixNano()
}

// lineTime reads a line's timeNano without decoding the rest: Message
// encodes it last, so the line ends with "timeNano":DIGITS}. ok is false
// for any other line, which is then decoded whole.
func lineTime(b []byte) (int64, bool) {
	const key = `"timeNano":`
	b = bytes.TrimRight(b, " \r")
	i := bytes.LastIndex(b, []byte(key))
	if i < 0 || len(b) == 0 || b[len(b)-1] != '}' {
		return 0, false
	}
	digits := b[i+len(key) : len(b)-1]
	t, err := strconv.ParseInt(string(digits), 10, 64)
	return t, err == nil && t > 0
}

// poll reads what is new, and moves on to the new events.log when the
// one it holds was rotated.
func (r *reader) poll() error {
	if err := r.drain(); err != nil {
		return err
	}
	st, err := os.Stat(r.j.path(logName))
	if r.cur != nil && err == nil && os.SameFile(st, r.curInfo) {
		return nil // not rotated
	}
	if r.cur == nil && err != nil {
		if _, oerr := os.Stat(r.j.path(oldName)); oerr != nil {
			return nil // nothing recorded yet
		}
	}
	// Under the shared lock nothing is rotated: the file held (if it was
	// rotated) is complete, events.log.1 and events.log stay put.
	unlock, err := ondisk.LockShared(r.j.path(lockName))
	if err != nil {
		return err
	}
	defer unlock()
	if err := r.drain(); err != nil {
		return err
	}
	if r.cur != nil {
		if st, err := os.Stat(r.j.path(logName)); err == nil && os.SameFile(st, r.curInfo) {
			return nil // it was, after all, not rotated
		}
		r.remember(r.curInfo)
		r.closeCur()
	}
	// Rotated more than once since the last look: the file in between is
	// events.log.1 now (anything older is gone).
	if old, err := os.Open(r.j.path(oldName)); err == nil {
		fi, _ := old.Stat()
		if fi != nil && !r.seen(fi) {
			err = r.whole(old)
		}
		old.Close()
		if err != nil {
			return err
		}
	}
	cur, err := os.Open(r.j.path(logName))
	if err != nil {
		return nil // no event since the rotation
	}
	r.setCur(cur)
	return r.drain()
}

// watcher tells of changes in the journal's directory through inotify;
// without it (no inotify instance left) the reader polls.
type watcher struct {
	f       *os.File
	changed chan struct{}
}

func watch(dir string) *watcher {
	w := &watcher{changed: make(chan struct{}, 1)}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return w
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_MODIFY|unix.IN_CREATE|unix.IN_MOVED_TO|unix.IN_MOVED_FROM|unix.IN_DELETE); err != nil {
		unix.Close(fd)
		return w
	}
	// A non-blocking descriptor in an os.File waits in the runtime's
	// poller, and Close ends a pending Read.
	w.f = os.NewFile(uintptr(fd), "inotify")
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, err := w.f.Read(buf); err != nil {
				return
			}
			select {
			case w.changed <- struct{}{}:
			default:
			}
		}
	}()
	return w
}

func (w *watcher) close() {
	if w.f != nil {
		w.f.Close()
	}
}
