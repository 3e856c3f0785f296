package container

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/internal/ondisk"
)

// The ps index. `ps -a` shows every container, and reading and decoding
// every record (2-3 KB of JSON each, 30-50 µs) made it grow with the
// store. containers/.ps-index holds, a line per record written, the part
// of the record ps shows and filters on (Brief), keyed by the record's
// file: its inode number, size and modification time. Save writes the
// record, then appends its line; ps reads the index once, stats each
// record and uses a container's last line only while that key is the
// record's, so the record stays the truth: a record changed by a writer
// that did not append (a kill between the rename and the append, an older
// binary) has another inode, and is read and decoded as before. Records
// are never changed in place (ondisk writes a new file and renames it),
// so a key names one content while that file lives; a stale line could
// only pass if a later record reused the inode with the same size and
// time and its own line were lost too.
//
// Appends are single write(2)s under O_APPEND, which the kernel does not
// interleave, under a shared lock on .ps-index.lock; whoever compacts
// (ps, when lines of removed containers or records read the slow way
// pile up) takes it exclusively, keeps the lines appended since it read
// and renames the new file into place, so no append is lost. The index
// is a cache: it is not synced, a line that does not parse is ignored, a
// missing or damaged index costs one slow ps that writes it again.

const (
	psIndexName = ".ps-index"
	// psLineTag starts every line; another format gets another tag.
	psLineTag = "ps1"
	// psIndexMax bounds an index no ps compacts: past it, a writer
	// removes it and the next ps writes it again.
	psIndexMax = 4 << 20
)

func psIndexPath() string { return filepath.Join(ContainersDir(), psIndexName) }
func psLockPath() string  { return psIndexPath() + ".lock" }

// recordKey names one version of a record file.
type recordKey struct {
	ino, size uint64
	mtime     int64
}

func keyOf(st *unix.Stat_t) recordKey {
	return recordKey{ino: st.Ino, size: uint64(st.Size), mtime: st.Mtim.Nano()}
}

// Brief is the part of c that ps shows and filters on, the part the ps
// index holds: ID, name, created, command, image, labels, network mode,
// mounts, ports, networks and fixed addresses, and the state without the
// health log. The rest is zero.
func (c *Container) Brief() *Container {
	b := &Container{ID: c.ID, Name: c.Name, Created: c.Created, Path: c.Path, Args: c.Args, Image: c.Image, ImageID: c.ImageID}
	b.Config.Labels = c.Config.Labels
	hc := &b.HostConfig
	hc.NetworkMode, hc.Mounts = c.HostConfig.NetworkMode, c.HostConfig.Mounts
	hc.Isolation.IPv4Address, hc.Isolation.IPv6Address = c.HostConfig.Isolation.IPv4Address, c.HostConfig.Isolation.IPv6Address
	b.NetworkSettings = c.NetworkSettings
	s := c.State
	b.State = State{Status: s.Status, Running: s.Running, Paused: s.Paused, Restarting: s.Restarting, Dead: s.Dead,
		ExitCode: s.ExitCode, Error: s.Error, StartedAt: s.StartedAt, FinishedAt: s.FinishedAt, SupervisorPid: s.SupervisorPid}
	if h := s.Health; h != nil {
		b.State.Health = &HealthState{Status: h.Status, FailingStreak: h.FailingStreak}
	}
	return b
}

// psLine is the line in the index of b (a container's Brief) for its
// record file of key k, without its newline: tab-separated, the tag, the
// ID and the key, then Brief's fields as JSON values (which never hold a
// tab or a newline), then the CRC-32C of all that in hex, so that a
// damaged line is not read.
func psLine(b *Container, k recordKey) []byte {
	line := []byte(psLineTag)
	add := func(v any) {
		data, err := json.Marshal(v)
		if err != nil {
			data = nil // never for these types; the line will not parse
		}
		line = append(append(line, '\t'), data...)
	}
	for _, v := range []any{
		b.ID, k.ino, k.size, k.mtime,
		b.Name, unixNano(b.Created), b.Path, b.Args, b.Image, b.ImageID, b.Config.Labels,
		b.HostConfig.NetworkMode, b.HostConfig.Mounts, b.HostConfig.Isolation.IPv4Address, b.HostConfig.Isolation.IPv6Address,
		b.NetworkSettings.Ports, b.NetworkSettings.Networks,
		b.State.Status, b.State.Running, b.State.Paused, b.State.Restarting, b.State.Dead, b.State.ExitCode, b.State.Error,
		unixNano(b.State.StartedAt), unixNano(b.State.FinishedAt), b.State.Health, b.State.SupervisorPid,
	} {
		add(v)
	}
	return fmt.Appendf(append(line, '\t'), "%08x", crc32.Checksum(line, castagnoli))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// psFields is how many fields a line has, the tag included.
const psFields = 29

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// psEntry is one line of the index, split.
type psEntry struct {
	f [psFields]string
}

// splitPsLine splits a line (without its newline) whose checksum was
// checked (sumOK); ok is false for one that is not of this format.
func splitPsLine(line string) (e psEntry, ok bool) {
	n := len(line) - 9
	if n < 0 || line[n] != '\t' {
		return e, false
	}
	line = line[:n]
	for i := range e.f {
		j := strings.IndexByte(line, '\t')
		if i == psFields-1 {
			j = len(line)
		} else if j < 0 {
			return e, false
		}
		e.f[i], line = line[:j], line[min(j+1, len(line)):]
	}
	return e, e.f[0] == psLineTag && strings.IndexByte(e.f[psFields-1], '\t') < 0
}

// sumOK checks the checksum at the end of a line (without its newline).
func sumOK(line []byte) bool {
	n := len(line) - 9
	if n < 0 || line[n] != '\t' {
		return false
	}
	sum, err := strconv.ParseUint(string(line[n+1:]), 16, 32)
	return err == nil && uint32(sum) == crc32.Checksum(line[:n], castagnoli)
}

// key is the record key the entry was made from.
func (e *psEntry) key() (k recordKey, ok bool) {
	d := decoder{ok: true}
	k.ino, k.size, k.mtime = uint64(d.int(e.f[2])), uint64(d.int(e.f[3])), d.int(e.f[4])
	return k, d.ok
}

// decode sets the zero c to the entry's Brief container. Its strings
// share the line's memory.
func (e *psEntry) decode(c *Container) bool {
	d := decoder{ok: true}
	f := e.f[5:]
	c.ID = d.str(e.f[1])
	c.Name, c.Created, c.Path = d.str(f[0]), fromUnixNano(d.int(f[1])), d.str(f[2])
	d.strs(f[3], &c.Args)
	c.Image, c.ImageID = d.str(f[4]), d.str(f[5])
	d.labels(f[6], &c.Config.Labels)
	hc := &c.HostConfig
	hc.NetworkMode = d.str(f[7])
	d.json(f[8], &hc.Mounts)
	hc.Isolation.IPv4Address, hc.Isolation.IPv6Address = d.str(f[9]), d.str(f[10])
	d.json(f[11], &c.NetworkSettings.Ports)
	d.json(f[12], &c.NetworkSettings.Networks)
	s := &c.State
	s.Status = d.str(f[13])
	s.Running, s.Paused, s.Restarting, s.Dead = d.bool(f[14]), d.bool(f[15]), d.bool(f[16]), d.bool(f[17])
	s.ExitCode, s.Error = int(d.int(f[18])), d.str(f[19])
	s.StartedAt, s.FinishedAt = fromUnixNano(d.int(f[20])), fromUnixNano(d.int(f[21]))
	d.json(f[22], &s.Health)
	s.SupervisorPid = int(d.int(f[23]))
	return d.ok && len(c.ID) == 64
}

// decoder decodes the JSON values of a line, the common ones without
// encoding/json; ok turns false at the first that does not decode.
type decoder struct{ ok bool }

func (d *decoder) int(s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		d.ok = false
	}
	return n
}

func (d *decoder) bool(s string) bool {
	switch s {
	case "true":
		return true
	case "false":
		return false
	}
	d.ok = false
	return false
}

// str decodes a JSON string; one without escapes is what is between its
// quotes.
func (d *decoder) str(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' && strings.IndexByte(s, '\\') < 0 {
		return s[1 : len(s)-1]
	}
	var v string
	d.json(s, &v)
	return v
}

// strs decodes a JSON array of strings; one as json.Marshal writes it,
// without escapes, is split at its quotes.
func (d *decoder) strs(s string, out *[]string) {
	if list, ok := plainStrings(s); ok {
		*out = list
		return
	}
	d.json(s, out)
}

func plainStrings(s string) ([]string, bool) {
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' || strings.IndexByte(s, '\\') >= 0 {
		return nil, false
	}
	list := []string{}
	for rest := s[1 : len(s)-1]; len(rest) > 0; {
		end := strings.IndexByte(rest[1:], '"') + 1
		if rest[0] != '"' || end < 1 || len(rest) > end+1 && (rest[end+1] != ',' || len(rest) == end+2) {
			return nil, false
		}
		list = append(list, rest[1:end])
		rest = rest[min(end+2, len(rest)):]
	}
	return list, true
}

// labels decodes a JSON object of strings; most are {}.
func (d *decoder) labels(s string, out *map[string]string) {
	if s == "{}" {
		*out = map[string]string{}
		return
	}
	d.json(s, out)
}

func (d *decoder) json(s string, v any) {
	if s == "null" {
		return
	}
	if json.Unmarshal([]byte(s), v) != nil {
		d.ok = false
	}
}

// readPsIndex reads the index: each container's last whole line whose
// checksum holds, by ID, how many lines it has and its size.
func readPsIndex() (last map[string]string, lines int, size int64) {
	data, err := os.ReadFile(psIndexPath())
	if err != nil {
		return nil, 0, 0
	}
	text := string(data) // one copy: the lines' strings are its pieces
	last = make(map[string]string, bytes.Count(data, []byte{'\n'}))
	tag := psLineTag + "\t\""
	for start := 0; ; {
		nl := bytes.IndexByte(data[start:], '\n')
		if nl < 0 {
			break // a line being appended, or none
		}
		line, end := text[start:start+nl], start+nl
		lines++
		if strings.HasPrefix(line, tag) && len(line) > len(tag)+65 && line[len(tag)+64] == '"' && sumOK(data[start:end]) {
			last[line[len(tag):len(tag)+64]] = line
		}
		start = end + 1
	}
	return last, lines, int64(len(data))
}

// appendPsLines appends whole lines to the index in one write, under
// the shared lock; errors only make ps slower and are ignored. An index
// past psIndexMax is removed instead.
func appendPsLines(lines []byte) {
	unlock, err := ondisk.LockShared(psLockPath())
	if err != nil {
		return
	}
	defer unlock()
	f, err := os.OpenFile(psIndexPath(), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > psIndexMax {
		_ = os.Remove(psIndexPath())
		return
	}
	_, _ = f.Write(lines)
}

// indexRecord appends c's line for its record file of key k.
func indexRecord(c *Container, k recordKey) { appendPsLines(append(psLine(c.Brief(), k), '\n')) }

// compactPsIndex replaces the index with lines (one per container), and
// the lines appended since it was read at size read. Another compaction
// under way is left to finish its work.
func compactPsIndex(lines []byte, read int64) {
	unlock, ok, err := ondisk.TryLock(psLockPath())
	if err != nil || !ok {
		return
	}
	defer unlock()
	if f, err := os.Open(psIndexPath()); err == nil {
		if st, err := f.Stat(); err == nil && st.Size() > read {
			tail := make([]byte, st.Size()-read)
			if n, _ := f.ReadAt(tail, read); n == len(tail) {
				lines = append(lines, tail[:bytes.LastIndexByte(tail, '\n')+1]...)
			}
		}
		f.Close()
	}
	tmp := psIndexPath() + ".tmp"
	if os.WriteFile(tmp, lines, 0o600) != nil || os.Rename(tmp, psIndexPath()) != nil {
		_ = os.Remove(tmp)
	}
}

// errNoRecord is a record that cannot be read or decoded: being created
// or removed by another command.
var errNoRecord = errors.New("no record")

// readRecordAt reads and decodes the record of id under the directory
// dir, with the key of the file it read.
func readRecordAt(dir int, id string, buf []byte) (*Container, recordKey, []byte, error) {
	var k recordKey
	fd, err := openAt(dir, id+"/container.json")
	if err != nil {
		return nil, k, buf, errNoRecord
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return nil, k, buf, errNoRecord
	}
	buf, ok := readFD(fd, buf)
	c := &Container{}
	if !ok || json.Unmarshal(buf, c) != nil {
		return nil, k, buf, errNoRecord
	}
	return c, keyOf(&st), buf, nil
}

// EachBrief calls fn with the Brief container of every container, its
// state corrected, in no order, on a few goroutines at once: ps's list.
// c is fn's only during the call. Each comes from its line in the ps
// index while that line holds for its record, else from its record; the
// index is brought up to date on the way.
func EachBrief(fn func(c *Container)) error {
	var last map[string]string
	var lines int
	var size int64
	read := make(chan struct{})
	go func() { // while the directory is read
		last, lines, size = readPsIndex()
		close(read)
	}()
	ids, err := IDs()
	<-read
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		refreshPsIndex(nil, nil, lines, size) // the lines of removed containers
		return nil
	}
	dir, err := openContainersDir()
	if dir < 0 {
		return err
	}
	defer unix.Close(dir)
	// lineFor is the line that now holds for each record; fresh says it
	// was made from the record.
	lineFor, fresh := make([]string, len(ids)), make([]bool, len(ids))
	// A Container (1.5 KB) for each goroutine, not for each container.
	recs, bufs := make([]Container, workers(len(ids))), make([][]byte, workers(len(ids)))
	forEach(len(ids), func(w, i int) {
		c := &recs[w]
		*c = Container{}
		line, slow, ok := briefOf(dir, ids[i], last[ids[i]], c, &bufs[w])
		if !ok {
			return
		}
		lineFor[i], fresh[i] = line, slow
		c.correctState()
		fn(c)
	})
	refreshPsIndex(lineFor, fresh, lines, size)
	return nil
}

// briefOf sets the zero c to the Brief container of id, from its index
// line when the line holds for the record, else from the record (slow).
// line is the index line that now holds, without its newline; ok is false
// when the record cannot be read (being created or removed).
func briefOf(dir int, id, indexed string, c *Container, buf *[]byte) (line string, slow, ok bool) {
	var st unix.Stat_t
	if fstatAt(dir, id+"/container.json", &st) != nil {
		return "", false, false
	}
	if e, ok := splitPsLine(indexed); ok {
		if k, ok := e.key(); ok && k == keyOf(&st) {
			if e.decode(c) && c.ID == id {
				return indexed, false, true
			}
			*c = Container{}
		}
	}
	full, k, b, err := readRecordAt(dir, id, *buf)
	*buf = b
	if err != nil {
		return "", false, false
	}
	brief := full.Brief()
	*c = *brief
	return string(psLine(brief, k)), true, true
}

// refreshPsIndex writes the lines made from records to the index: as
// appended lines when they are few and the index is not bloated by the
// lines of removed containers and older states, else as a new index of
// the lines that hold (lineFor, "" for records not read).
func refreshPsIndex(lineFor []string, fresh []bool, lines int, size int64) {
	n := 0
	for _, slow := range fresh {
		if slow {
			n++
		}
	}
	bloated := lines+n > 2*len(lineFor)+64
	switch {
	case !bloated && n == 0:
	case !bloated && n <= len(lineFor)/8+1:
		var add []byte
		for i, slow := range fresh {
			if slow {
				add = append(append(add, lineFor[i]...), '\n')
			}
		}
		appendPsLines(add)
	default:
		var all []byte
		for _, l := range lineFor {
			if l != "" {
				all = append(append(all, l...), '\n')
			}
		}
		compactPsIndex(all, size)
	}
}
