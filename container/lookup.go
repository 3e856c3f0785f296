package container

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

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
	d, err := os.Open(ContainersDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer d.Close()
	entries, err := d.ReadDir(-1) // unsorted, unlike os.ReadDir
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
// by another call and is left out. ps reads EachBrief instead.
func List() ([]*Container, error) {
	ids, err := IDs()
	if err != nil {
		return nil, err
	}
	recs := make([]*Container, len(ids))
	err = eachRecord(ids, func(i int, data []byte) {
		c := &Container{}
		if json.Unmarshal(data, c) == nil {
			c.correctState()
			recs[i] = c
		}
	})
	if err != nil {
		return nil, err
	}
	out := make([]*Container, 0, len(recs))
	for _, c := range recs {
		if c != nil {
			out = append(out, c)
		}
	}
	sortNewestFirst(out)
	return out, nil
}

// eachRecord calls fn with the index and the bytes of the record of each
// of ids that can be read, on a few goroutines; data is fn's only during
// the call.
func eachRecord(ids []string, fn func(i int, data []byte)) error {
	dir, err := openContainersDir()
	if dir < 0 {
		return err
	}
	defer unix.Close(dir)
	bufs := make([][]byte, workers(len(ids)))
	forEach(len(ids), func(w, i int) {
		fd, err := openAt(dir, ids[i]+"/container.json")
		if err != nil {
			return
		}
		var ok bool
		bufs[w], ok = readFD(fd, bufs[w])
		unix.Close(fd)
		if ok {
			fn(i, bufs[w])
		}
	})
	return nil
}

// The records are opened through a handle on their directory with plain
// system calls: os.ReadFile's walk of the whole path, its two stats and
// its poller set-up cost about as much as the read, hundreds of times in
// a list.

// openContainersDir opens the containers' directory for openAt; -1 and
// no error when there is none yet.
func openContainersDir() (int, error) {
	dir, err := unix.Open(ContainersDir(), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return -1, nil
	}
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: ContainersDir(), Err: err}
	}
	return dir, nil
}

// workers is how many goroutines forEach runs for n items: as many as
// there are processors, up to 4.
func workers(n int) int { return max(min(runtime.GOMAXPROCS(0), 4, n), 1) }

// forEach calls fn(w, i) for i in [0, n) on workers(n) goroutines; w is
// the goroutine's number, for what it may reuse between its calls.
func forEach(n int, fn func(w, i int)) {
	nw := workers(n)
	var wg sync.WaitGroup
	for w := 0; w < nw; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += nw {
				fn(w, i)
			}
		}(w)
	}
	wg.Wait()
}

// openAt opens the file at name under dir for reading.
func openAt(dir int, name string) (int, error) {
	for {
		fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// fstatAt stats the file at name under dir.
func fstatAt(dir int, name string, st *unix.Stat_t) error {
	for {
		err := unix.Fstatat(dir, name, st, 0)
		if err != unix.EINTR {
			return err
		}
	}
}

// readFD reads the file fd into buf, grown as needed.
func readFD(fd int, buf []byte) ([]byte, bool) {
	if cap(buf) == 0 {
		buf = make([]byte, 0, 16<<10)
	}
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, cap(buf))
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return buf, false
		case n == 0:
			return buf, true
		}
		buf = buf[:len(buf)+n]
	}
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
	_ = eachRecord(ids, func(i int, data []byte) {
		if !bytes.Contains(data, needle) {
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
