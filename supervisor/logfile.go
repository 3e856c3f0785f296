package supervisor

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	units "github.com/docker/go-units"

	"github.com/skiff-project/skiff/container"
)

// logEntry is one line of Docker's json-file log format.
type logEntry struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

// jsonLog appends entries to a container's log, rotating it at max-size
// into path.1 … path.(max-file-1), as Docker's json-file driver does.
type jsonLog struct {
	mu      sync.Mutex
	path    string
	f       *os.File
	size    int64
	maxSize int64
	maxFile int
	buf     []byte // the entry being written, kept for the next
}

// keepLogBuf bounds the entry buffer kept between lines: the buffer of a
// long line (up to 16 KiB, escaped up to six times that) is let go.
const keepLogBuf = 4 << 10

func openLog(path string, cfg container.LogConfig) (*jsonLog, error) {
	l := &jsonLog{path: path, maxFile: 1}
	if v := cfg.Config["max-size"]; v != "" {
		l.maxSize, _ = units.RAMInBytes(v)
	}
	if v := cfg.Config["max-file"]; v != "" {
		l.maxFile, _ = strconv.Atoi(v)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening container log: %w", err)
	}
	st, _ := f.Stat()
	l.f, l.size = f, st.Size()
	return l, nil
}

func (l *jsonLog) write(stream string, line []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := appendEntry(l.buf[:0], stream, line, time.Now().UTC()) // supervisor/logline.go
	if l.maxSize > 0 && l.size+int64(len(b)) > l.maxSize && l.size > 0 {
		l.rotate()
	}
	n, _ := l.f.Write(b)
	l.size += int64(n)
	if cap(b) <= keepLogBuf {
		l.buf = b
	} else {
		l.buf = nil
	}
}

func (l *jsonLog) rotate() {
	l.f.Close()
	if l.maxFile <= 1 {
		_ = os.Truncate(l.path, 0)
	} else {
		for i := l.maxFile - 1; i > 1; i-- {
			_ = os.Rename(fmt.Sprintf("%s.%d", l.path, i-1), fmt.Sprintf("%s.%d", l.path, i))
		}
		_ = os.Rename(l.path, l.path+".1")
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_TRUNC, 0o600)
	if err == nil {
		l.f = f
	}
	l.size = 0
}

func (l *jsonLog) close() { l.f.Close() }

// lineSplitter turns a byte stream into log lines (at most 16 KiB each,
// as Docker splits long lines).
type lineSplitter struct {
	buf    []byte
	stream string
	log    *jsonLog
}

const maxLogLine = 16 << 10

func (s *lineSplitter) Write(p []byte) (int, error) {
	s.buf = append(s.buf, p...)
	rest := s.buf
	for {
		i := indexByte(rest, '\n')
		switch {
		case i >= maxLogLine || i < 0 && len(rest) >= maxLogLine:
			s.log.write(s.stream, rest[:maxLogLine]) // Docker splits long lines
			rest = rest[maxLogLine:]
		case i >= 0:
			s.log.write(s.stream, rest[:i+1])
			rest = rest[i+1:]
		default:
			// The unfinished line moves to the front: the buffer is
			// used again, not grown anew for each write.
			s.buf = s.buf[:copy(s.buf, rest)]
			return len(p), nil
		}
	}
}

func (s *lineSplitter) flush() {
	if len(s.buf) > 0 {
		s.log.write(s.stream, s.buf)
		s.buf = nil
	}
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// LogOptions select what `logs` prints.
type LogOptions struct {
	Follow     bool
	Tail       int // -1 for all
	Since      time.Time
	Until      time.Time
	Timestamps bool
	// Details puts the log's attributes before each line (see
	// container.LogDetails), after the timestamp.
	Details bool
}

// ReadLogs writes a container's log to stdout and stderr; with Follow it
// keeps going until the container stops (or ctx-like stop is closed).
func ReadLogs(c *container.Container, o LogOptions, stdout, stderr io.Writer, stop <-chan struct{}) error {
	// The current file stays open while it is read and followed: a
	// container removed meanwhile (docker-py removes before it reads a
	// followed log) takes its path, not what was written to it.
	cur, _ := os.Open(c.LogPath)
	defer func() {
		if cur != nil {
			cur.Close()
		}
	}()
	var entries []logEntry
	max := 1
	if v := c.HostConfig.LogConfig.Config["max-file"]; v != "" {
		max, _ = strconv.Atoi(v)
	}
	for i := max - 1; i >= 1; i-- {
		f, err := os.Open(fmt.Sprintf("%s.%d", c.LogPath, i))
		if err != nil {
			continue
		}
		es, _ := readEntries(f)
		f.Close()
		entries = append(entries, es...)
	}
	var offset int64
	if cur != nil {
		es, n := readEntries(cur)
		entries = append(entries, es...)
		offset = n
	}
	if o.Tail >= 0 && len(entries) > o.Tail {
		entries = entries[len(entries)-o.Tail:]
	}
	details := ""
	if o.Details {
		details = c.LogDetails()
	}
	emit := func(e logEntry) {
		if !o.Since.IsZero() && e.Time.Before(o.Since) {
			return
		}
		if !o.Until.IsZero() && e.Time.After(o.Until) {
			return
		}
		w := stdout
		if e.Stream == "stderr" {
			w = stderr
		}
		if o.Timestamps {
			fmt.Fprintf(w, "%s ", e.Time.Format("2006-01-02T15:04:05.000000000Z07:00"))
		}
		io.WriteString(w, details+e.Log)
	}
	for _, e := range entries {
		emit(e)
	}
	if !o.Follow {
		return nil
	}
	// Follow: read on from the open file until the container is not
	// running any more and everything written has been read; a rotation
	// moves on to the new file once the old one is read to its end.
	for {
		select {
		case <-stop:
			return nil
		default:
		}
		running := false
		if rec, err := container.ReadRecord(c.ID); err == nil {
			running = rec.State.Running || rec.State.Restarting
		}
		for {
			if cur == nil {
				if cur, _ = os.Open(c.LogPath); cur == nil {
					break
				}
				offset = 0
			}
			if st, err := cur.Stat(); err == nil && st.Size() < offset {
				offset = 0 // truncated (max-file 1)
			}
			_, _ = cur.Seek(offset, io.SeekStart)
			es, n := readEntries(cur)
			offset += n
			for _, e := range es {
				emit(e)
			}
			st, err1 := cur.Stat()
			pst, err2 := os.Stat(c.LogPath)
			if err1 != nil || err2 != nil || os.SameFile(st, pst) {
				break
			}
			cur.Close() // rotated: the new file next
			cur = nil
		}
		if !running {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// readEntries reads whole lines; it returns how many bytes they took, so
// a half-written last line is read again next time.
func readEntries(r io.Reader) ([]logEntry, int64) {
	br := bufio.NewReaderSize(r, 64<<10)
	var out []logEntry
	var n int64
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			break
		}
		n += int64(len(line))
		var e logEntry
		if json.Unmarshal(line, &e) == nil {
			out = append(out, e)
		}
	}
	return out, n
}
