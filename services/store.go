// Package services is the on-disk state of a user's services (Docker's
// swarm services on one host, kept without a daemon): each service's
// desired state as Docker's swarm.Service in
// DATA/services/ID/service.json, written by the commands that change it
// (create, update, rollback) and by its keeper (the ports it bound, the
// update status); the service's tasks, current and past, in tasks.json,
// written by the keeper alone; and the keeper's lock, which it holds for
// as long as it lives, so that any command can tell that it is gone.
// It starts nothing: the keeper's loop is the engine's (engine/service_keeper.go).
package services

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/internal/names"
	"github.com/skiff-project/skiff/internal/ondisk"
	"github.com/skiff-project/skiff/paths"
)

// Dir holds every service of the user.
func Dir() string { return filepath.Join(paths.DataDir(), "services") }

func serviceDir(id string) string    { return filepath.Join(Dir(), id) }
func servicePath(id string) string   { return filepath.Join(serviceDir(id), "service.json") }
func tasksPath(id string) string     { return filepath.Join(serviceDir(id), "tasks.json") }
func lockPath(id string) string      { return filepath.Join(serviceDir(id), "lock") }
func indexLock() string              { return filepath.Join(Dir(), "lock") }
func KeeperLock(id string) string    { return filepath.Join(serviceDir(id), "keeper.lock") }
func KeeperLog(id string) string     { return filepath.Join(serviceDir(id), "keeper.log") }
func keeperPidPath(id string) string { return filepath.Join(serviceDir(id), "keeper.pid") }

// ValidName reports whether s can name a service: Docker's object names,
// at most 63 characters (it is also a host name on the networks).
func ValidName(s string) bool { return len(s) <= 63 && names.Valid(s) }

// NewID is a swarm-style ID: 25 lowercase letters and digits.
func NewID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 25)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// Create writes a new service; a name in use is a conflict. svc.ID must
// be set.
func Create(svc *swarm.Service) error {
	unlock, err := ondisk.Lock(indexLock())
	if err != nil {
		return err
	}
	defer unlock()
	all, err := List()
	if err != nil {
		return err
	}
	for _, s := range all {
		if s.Spec.Name == svc.Spec.Name {
			return fmt.Errorf("service name %q is in use by service %s: remove it (skiff service rm %s) or pick another --name: %w", svc.Spec.Name, short(s.ID), svc.Spec.Name, errdefs.ErrConflict)
		}
	}
	if err := os.MkdirAll(serviceDir(svc.ID), 0o700); err != nil {
		return err
	}
	if err := ondisk.WriteJSON(tasksPath(svc.ID), []swarm.Task{}, 0o600); err != nil {
		return err
	}
	return ondisk.WriteJSON(servicePath(svc.ID), svc, 0o600)
}

// Read returns the service with exactly this ID.
func Read(id string) (*swarm.Service, error) {
	var s swarm.Service
	if err := ondisk.ReadJSON(servicePath(id), &s, "no such service: "+id); err != nil {
		return nil, err
	}
	return &s, nil
}

// List returns every service, oldest first. A directory without a
// service.json (a create cut short) is skipped.
func List() ([]*swarm.Service, error) {
	ents, err := os.ReadDir(Dir())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*swarm.Service
	for _, d := range ents {
		if !d.IsDir() {
			continue
		}
		s, err := Read(d.Name())
		if errors.Is(err, errdefs.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

// Lookup finds a service by ID, name or unique ID prefix.
func Lookup(ref string) (*swarm.Service, error) {
	if ref == "" {
		return nil, errdefs.Invalid("empty service name or ID")
	}
	all, err := List()
	if err != nil {
		return nil, err
	}
	for _, s := range all {
		if s.ID == ref || s.Spec.Name == ref {
			return s, nil
		}
	}
	var match []*swarm.Service
	for _, s := range all {
		if strings.HasPrefix(s.ID, ref) {
			match = append(match, s)
		}
	}
	switch len(match) {
	case 1:
		return match[0], nil
	case 0:
		return nil, errdefs.NotFound("no such service: %s", ref)
	}
	return nil, fmt.Errorf("service ID prefix %q matches %d services: give more characters or the name: %w", ref, len(match), errdefs.ErrConflict)
}

// Update changes the service under its lock and writes it back; fn's
// error leaves it as it was.
func Update(id string, fn func(*swarm.Service) error) (*swarm.Service, error) {
	unlock, err := ondisk.Lock(lockPath(id))
	if err != nil {
		return nil, err
	}
	defer unlock()
	s, err := Read(id)
	if err != nil {
		return nil, err
	}
	if err := fn(s); err != nil {
		return nil, err
	}
	if err := ondisk.WriteJSON(servicePath(id), s, 0o600); err != nil {
		return nil, err
	}
	return s, nil
}

// Remove deletes the service's state: service.json first, so that a
// removal cut short leaves a directory List skips.
func Remove(id string) error {
	if err := Hide(id); err != nil {
		return err
	}
	return os.RemoveAll(serviceDir(id))
}

// ReadTasks returns the service's tasks, current and past.
func ReadTasks(id string) ([]swarm.Task, error) {
	var ts []swarm.Task
	if err := ondisk.ReadJSON(tasksPath(id), &ts, "no such service: "+id); err != nil {
		return nil, err
	}
	return ts, nil
}

// WriteTasks replaces the service's tasks (the keeper's alone to call).
func WriteTasks(id string, ts []swarm.Task) error {
	return ondisk.WriteJSON(tasksPath(id), ts, 0o600)
}

// HoldKeeper takes the keeper's lock for the life of the calling
// process; ok is false when another keeper holds it.
func HoldKeeper(id string) (release func(), ok bool, err error) {
	release, ok, err = ondisk.TryLock(KeeperLock(id))
	if !ok || err != nil {
		return nil, ok, err
	}
	_ = ondisk.WriteFile(keeperPidPath(id), []byte(fmt.Sprintf("%d\n", os.Getpid())), 0o600)
	return release, true, nil
}

// KeeperAlive reports whether the service's keeper runs (holds its lock).
func KeeperAlive(id string) (bool, error) {
	release, ok, err := ondisk.TryLock(KeeperLock(id))
	if err != nil {
		return false, err
	}
	if ok {
		release()
	}
	return !ok, nil
}

// KeeperPid is the pid the last keeper wrote (0 if none).
func KeeperPid(id string) int {
	data, err := os.ReadFile(keeperPidPath(id))
	if err != nil {
		return 0
	}
	var pid int
	fmt.Sscanf(string(data), "%d", &pid)
	return pid
}

// NodeID is this host's node ID for the user, made on first use.
func NodeID() (string, error) {
	path := filepath.Join(Dir(), "node-id")
	if data, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(data))) == 25 {
		return strings.TrimSpace(string(data)), nil
	}
	unlock, err := ondisk.Lock(indexLock())
	if err != nil {
		return "", err
	}
	defer unlock()
	if data, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(data))) == 25 {
		return strings.TrimSpace(string(data)), nil
	}
	id := NewID()
	return id, ondisk.WriteFile(path, []byte(id+"\n"), 0o600)
}

// NodeCreated is when the node ID was made (the swarm's creation time).
func NodeCreated() time.Time {
	st, err := os.Stat(filepath.Join(Dir(), "node-id"))
	if err != nil {
		return time.Now()
	}
	return st.ModTime()
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// Hide removes service.json alone: the service is gone for every command
// (and for its keeper, which then ends) while its removal goes on.
func Hide(id string) error {
	if err := os.Remove(servicePath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// HalfRemoved lists service directories without a service.json older
// than a minute (a removal cut short; younger ones may be a create or a
// removal going on now).
func HalfRemoved() []string {
	ents, err := os.ReadDir(Dir())
	if err != nil {
		return nil
	}
	var out []string
	for _, d := range ents {
		if !d.IsDir() {
			continue
		}
		if _, err := os.Stat(servicePath(d.Name())); !errors.Is(err, os.ErrNotExist) {
			continue
		}
		if info, err := d.Info(); err == nil && time.Since(info.ModTime()) > time.Minute {
			out = append(out, d.Name())
		}
	}
	return out
}
