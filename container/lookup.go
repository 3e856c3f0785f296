package container

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/skiff-project/skiff/errdefs"
)

// Finding a container by name should not cost what the store holds.
// List reads every record; Lookup and ByName do not. A name looked up
// once, or given with --name, gets a link in .names (NAME -> ../ID), a
// hint that Lookup follows and checks against the record it leads to, so
// `inspect NAME` reads one record. Without a link that holds (none yet, a
// container renamed or removed since), they take the IDs from the
// directory's entries and decode only the records that hold the name as a
// string: about a file read per container, not a read and a decode.

// namesDir holds the links from names to containers' directories.
func namesDir() string { return filepath.Join(ContainersDir(), ".names") }

// LinkName records that container id is named name. The link is replaced
// atomically; failing to make it only makes later lookups slower.
func LinkName(name, id string) {
	if ValidName(name) != nil || len(id) != 64 {
		return
	}
	dir := namesDir()
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return
	}
	tmp := filepath.Join(dir, fmt.Sprintf(".%s.%d.tmp", name, os.Getpid()))
	_ = os.Remove(tmp)
	if os.Symlink(filepath.Join("..", id), tmp) != nil {
		return
	}
	if os.Rename(tmp, filepath.Join(dir, name)) != nil {
		_ = os.Remove(tmp)
	}
}

// UnlinkName removes name's link if it leads to container id.
func UnlinkName(name, id string) {
	link := filepath.Join(namesDir(), name)
	if target, err := os.Readlink(link); err == nil && filepath.Base(target) == id {
		_ = os.Remove(link)
	}
}

// pruneLinks removes the links to containers not among ids (removed by a
// command that does not unlink, such as --rm's cleanup).
func pruneLinks(ids []string) {
	entries, err := os.ReadDir(namesDir())
	if err != nil || len(entries) == 0 {
		return
	}
	live := make(map[string]bool, len(ids))
	for _, id := range ids {
		live[id] = true
	}
	for _, e := range entries {
		link := filepath.Join(namesDir(), e.Name())
		if target, err := os.Readlink(link); err == nil && !live[filepath.Base(target)] {
			_ = os.Remove(link)
		}
	}
}

// byLink follows name's link to a record that still has that name.
func byLink(name string) *Container {
	if ValidName(name) != nil {
		return nil
	}
	target, err := os.Readlink(filepath.Join(namesDir(), name))
	if err != nil {
		return nil
	}
	c, err := ReadRecord(filepath.Base(target))
	if err != nil || c.Name != name {
		return nil
	}
	return c
}

// IDs lists the IDs of the containers' directories, unsorted, without
// reading any record.
func IDs() ([]string, error) {
	entries, err := os.ReadDir(ContainersDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(entries))
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}

// List returns every container, newest first. Records are read a few at
// a time in parallel; one that cannot be read is being created or removed
// by another call and is left out.
func List() ([]*Container, error) {
	ids, err := IDs()
	if err != nil {
		return nil, err
	}
	recs := make([]*Container, len(ids))
	inParallel(len(ids), func(i int) { recs[i], _ = ReadRecord(ids[i]) })
	out := make([]*Container, 0, len(recs))
	for _, c := range recs {
		if c != nil {
			out = append(out, c)
		}
	}
	sortNewestFirst(out)
	return out, nil
}

// inParallel calls fn(0) to fn(n-1) on a few goroutines (file reads and
// JSON decoding: as many as there are processors, up to 4).
func inParallel(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), 4, n)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += workers {
				fn(i)
			}
		}(w)
	}
	wg.Wait()
}

func sortNewestFirst(cs []*Container) {
	sort.Slice(cs, func(i, j int) bool { return cs[i].Created.After(cs[j].Created) })
}

// ByName finds the container with exactly this name, or returns nil.
func ByName(name string) (*Container, error) {
	if c := byLink(name); c != nil {
		return c, nil
	}
	ids, err := IDs()
	if err != nil {
		return nil, err
	}
	return byName(ids, name), nil
}

// byName is the newest of the records among ids named name, or nil. A
// record's name is in it as a JSON string, so records without that
// string are not decoded.
func byName(ids []string, name string) *Container {
	needle, err := json.Marshal(name)
	if err != nil {
		return nil
	}
	recs := make([]*Container, len(ids))
	inParallel(len(ids), func(i int) {
		data, err := os.ReadFile(recordPath(ids[i]))
		if err != nil || !bytes.Contains(data, needle) {
			return
		}
		c := &Container{}
		if json.Unmarshal(data, c) == nil && c.Name == name {
			recs[i] = c
		}
	})
	pruneLinks(ids)
	var found []*Container
	for _, c := range recs {
		if c != nil {
			found = append(found, c)
		}
	}
	if len(found) == 0 {
		return nil
	}
	sortNewestFirst(found)
	found[0].correctState()
	LinkName(name, found[0].ID)
	return found[0]
}

// Lookup finds a container by full ID, name or unique ID prefix.
func Lookup(ref string) (*Container, error) {
	if ref == "" {
		return nil, errdefs.Invalid("empty container name or ID")
	}
	if len(ref) == 64 {
		if c, err := ReadRecord(ref); err == nil {
			return c, nil
		}
	}
	name := strings.TrimPrefix(ref, "/")
	if c := byLink(name); c != nil {
		return c, nil
	}
	ids, err := IDs()
	if err != nil {
		return nil, err
	}
	if c := byName(ids, name); c != nil {
		return c, nil
	}
	var match []*Container
	for _, id := range ids {
		if !strings.HasPrefix(id, ref) {
			continue
		}
		if c, err := ReadRecord(id); err == nil {
			match = append(match, c)
		}
	}
	switch len(match) {
	case 1:
		return match[0], nil
	case 0:
		return nil, errdefs.NotFound("no such container: %s", ref)
	}
	return nil, fmt.Errorf("container ID prefix %q matches %d containers: give more characters or the name: %w", ref, len(match), errdefs.ErrConflict)
}
