// Package events is skiff's event journal: Docker's events without a
// daemon. Every skiff process that changes something (an engine call, a
// container's supervisor, a clean-up step) appends one Docker
// events.Message as a JSON line to a per-user file,
// RUNTIME_DIR/events/events.log; `skiff events` and the API's /events
// read it back and follow it.
//
// Appends are safe with any number of writer processes: each line is one
// O_APPEND write, made under a shared flock that only the rotation takes
// exclusively. At MaxSize the file is renamed to events.log.1 (the one old
// file kept) and the next writer starts a new one. Recording never fails
// the caller: an error is passed to Logf and dropped.
//
// The supervisor binary imports this package, so it stays light: the
// standard library, x/sys, paths, internal/ondisk and the API's events
// types only.
package events

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"time"

	mevents "github.com/moby/moby/api/types/events"
	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/internal/ondisk"
	"github.com/skiff-project/skiff/paths"
)

// Docker's event types, as the journal stores them.
type (
	Message = mevents.Message
	Actor   = mevents.Actor
	Type    = mevents.Type
	Action  = mevents.Action
)

// Docker's event types skiff emits.
const (
	ContainerEventType = mevents.ContainerEventType
	ImageEventType     = mevents.ImageEventType
	NetworkEventType   = mevents.NetworkEventType
	VolumeEventType    = mevents.VolumeEventType
	BuilderEventType   = mevents.BuilderEventType
	ServiceEventType   = mevents.ServiceEventType
)

// Files in Dir.
const (
	logName  = "events.log"
	oldName  = "events.log.1"
	lockName = "events.lock"
)

// MaxSize is the size at which events.log is renamed to events.log.1.
var MaxSize int64 = 1 << 20

// Logf receives what Record could not record: stderr unless set (the
// engine sends it to its diagnostics, the supervisor to supervisor.log).
// Set it before events are recorded from several goroutines.
var Logf = func(format string, args ...any) { fmt.Fprintf(os.Stderr, "skiff: "+format+"\n", args...) }

// Dir is the journal's directory: RUNTIME_DIR/events.
func Dir() string { return filepath.Join(paths.RuntimeDir(), "events") }

// Record appends m to the user's journal. Time and TimeNano are set when
// zero (one from the other, or both from now), Scope to "local". It never
// fails: errors go to Logf.
func Record(m Message) { journal{dir: Dir()}.record(m) }

// journal is the journal in one directory (tests use their own).
type journal struct{ dir string }

func (j journal) path(name string) string { return filepath.Join(j.dir, name) }

func (j journal) record(m Message) {
	if err := j.append(m); err != nil {
		Logf("recording the %s %s event: %v", m.Type, m.Action, err)
	}
}

// Stamp fills in a message's zero Time, TimeNano and Scope.
func Stamp(m *Message) {
	switch {
	case m.Time == 0 && m.TimeNano == 0:
		now := time.Now()
		m.Time, m.TimeNano = now.Unix(), now.UnixNano()
	case m.TimeNano == 0:
		m.TimeNano = m.Time * int64(time.Second)
	case m.Time == 0:
		m.Time = m.TimeNano / int64(time.Second)
	}
	if m.Scope == "" {
		m.Scope = "local"
	}
}

func (j journal) append(m Message) error {
	Stamp(&m)
	line, err := json.Marshal(m)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	if err := os.MkdirAll(j.dir, 0o700); err != nil {
		return err
	}
	size, err := j.write(line)
	if err != nil {
		return err
	}
	if size >= MaxSize {
		return j.rotate()
	}
	return nil
}

// write appends line in one write under the shared lock, so that no
// rotation falls between opening the file and writing to it, and returns
// the file's size after it.
func (j journal) write(line []byte) (int64, error) {
	unlock, err := ondisk.LockShared(j.path(lockName))
	if err != nil {
		return 0, err
	}
	defer unlock()
	f, err := os.OpenFile(j.path(logName), os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n, err := f.Write(line)
	if err != nil {
		return 0, err
	}
	if n != len(line) {
		return 0, fmt.Errorf("short write to %s", f.Name())
	}
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// rotate renames a full events.log to events.log.1 (replacing the older
// one), under the exclusive lock: no writer is between opening and
// writing, and a reader that follows finds the file it holds complete.
func (j journal) rotate() error {
	unlock, err := ondisk.Lock(j.path(lockName))
	if err != nil {
		return err
	}
	defer unlock()
	st, err := os.Stat(j.path(logName))
	if err != nil || st.Size() < MaxSize {
		return nil // another writer rotated it meanwhile
	}
	return os.Rename(j.path(logName), j.path(oldName))
}

// ContainerActor is a container as Docker's events show it: extra, then
// the container's labels, then its image (as the user named it) and name.
func ContainerActor(id, name, image string, labels, extra map[string]string) Actor {
	attrs := make(map[string]string, len(extra)+len(labels)+2)
	maps.Copy(attrs, extra)
	maps.Copy(attrs, labels)
	if image != "" {
		attrs["image"] = image
	}
	attrs["name"] = name
	return Actor{ID: id, Attributes: attrs}
}
