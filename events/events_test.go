package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func msg(id string, action Action, ns int64) Message {
	return Message{Type: ContainerEventType, Action: action, Actor: Actor{ID: id, Attributes: map[string]string{"name": id}}, TimeNano: ns}
}

// readAll reads j without following and returns the events' IDs.
func readAll(t *testing.T, j journal, o ReadOptions) []string {
	t.Helper()
	var ids []string
	if err := j.read(context.Background(), o, func(m Message) error {
		ids = append(ids, m.Actor.ID)
		return nil
	}); err != nil {
		t.Fatalf("read: %v", err)
	}
	return ids
}

func TestRecordStamps(t *testing.T) {
	j := journal{dir: t.TempDir()}
	before := time.Now()
	j.record(Message{Type: ContainerEventType, Action: "start", Actor: Actor{ID: "a"}})
	j.record(Message{Type: ContainerEventType, Action: "die", Actor: Actor{ID: "b"}, Time: 1700000000})
	j.record(Message{Type: ContainerEventType, Action: "die", Actor: Actor{ID: "c"}, TimeNano: 1700000000123456789, Scope: "swarm"})
	var got []Message
	err := j.read(context.Background(), ReadOptions{}, func(m Message) error { got = append(got, m); return nil })
	if err != nil || len(got) != 3 {
		t.Fatalf("read: %v, %d events; want 3", err, len(got))
	}
	a := got[0]
	if a.TimeNano < before.UnixNano() || a.TimeNano > time.Now().UnixNano() || a.Time != a.TimeNano/1e9 || a.Scope != "local" {
		t.Errorf("stamped event: time %d timeNano %d scope %q; want now, consistent, local", a.Time, a.TimeNano, a.Scope)
	}
	if b := got[1]; b.TimeNano != 1700000000*1e9 || b.Time != 1700000000 {
		t.Errorf("event with Time only: time %d timeNano %d", b.Time, b.TimeNano)
	}
	if c := got[2]; c.Time != 1700000000 || c.TimeNano != 1700000000123456789 || c.Scope != "swarm" {
		t.Errorf("event with TimeNano only: time %d timeNano %d scope %q", c.Time, c.TimeNano, c.Scope)
	}
	data, _ := os.ReadFile(filepath.Join(j.dir, logName))
	if lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n"); len(lines) != 3 || !strings.HasPrefix(lines[0], `{"Type":"container","Action":"start"`) {
		t.Errorf("journal file: want 3 JSON lines, got:\n%s", data)
	}
}

func TestRecordNeverFails(t *testing.T) {
	var logged []string
	old := Logf
	Logf = func(format string, args ...any) { logged = append(logged, fmt.Sprintf(format, args...)) }
	defer func() { Logf = old }()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	journal{dir: filepath.Join(file, "events")}.record(msg("x", "start", 0)) // a file where the directory should be
	if len(logged) != 1 || !strings.Contains(logged[0], "recording the container start event") {
		t.Errorf("Logf got %q; want one line about the lost event", logged)
	}
}

func TestReadSinceUntil(t *testing.T) {
	j := journal{dir: t.TempDir()}
	s := int64(time.Second)
	for i, id := range []string{"a", "b", "c", "d"} {
		j.record(msg(id, "start", int64(1000+i*1000)*s))
	}
	at := func(sec int64) time.Time { return time.Unix(sec, 0) }
	for _, tt := range []struct {
		o    ReadOptions
		want string
	}{
		{ReadOptions{}, "a b c d"},
		{ReadOptions{Since: at(2000)}, "b c d"},
		{ReadOptions{Since: at(2001)}, "c d"},
		{ReadOptions{Until: at(2000)}, "a b"},
		{ReadOptions{Since: at(2000), Until: at(3000)}, "b c"},
		{ReadOptions{Since: at(5000)}, ""},
		{ReadOptions{Match: func(m Message) bool { return m.Actor.ID != "b" }}, "a c d"},
		// Follow with an Until that has passed replays and ends.
		{ReadOptions{Since: at(3000), Until: at(4000), Follow: true}, "c d"},
	} {
		if got := strings.Join(readAll(t, j, tt.o), " "); got != tt.want {
			t.Errorf("read %+v: %q, want %q", tt.o, got, tt.want)
		}
	}
	// The old file comes first.
	if err := os.Rename(filepath.Join(j.dir, logName), filepath.Join(j.dir, oldName)); err != nil {
		t.Fatal(err)
	}
	j.record(msg("e", "start", 6000*s))
	if got := strings.Join(readAll(t, j, ReadOptions{Since: at(3000)}), " "); got != "c d e" {
		t.Errorf("read across events.log.1 and events.log: %q, want \"c d e\"", got)
	}
	// A journal never written reads as empty.
	if got := readAll(t, journal{dir: filepath.Join(t.TempDir(), "none")}, ReadOptions{}); len(got) != 0 {
		t.Errorf("empty journal: %q", got)
	}
}

func TestReadStopsOnError(t *testing.T) {
	j := journal{dir: t.TempDir()}
	for _, id := range []string{"a", "b", "c"} {
		j.record(msg(id, "start", 0))
	}
	stop := errors.New("stop")
	n := 0
	err := j.read(context.Background(), ReadOptions{}, func(Message) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("read: %v after %d events; want fn's error after 1", err, n)
	}
}

// follower follows j in the background and collects the event IDs.
type follower struct {
	mu   sync.Mutex
	ids  []string
	seen atomic.Int64
	done chan error
}

func follow(ctx context.Context, j journal, o ReadOptions) *follower {
	f := &follower{done: make(chan error, 1)}
	o.Follow = true
	go func() {
		f.done <- j.read(ctx, o, func(m Message) error {
			f.mu.Lock()
			f.ids = append(f.ids, m.Actor.ID)
			f.mu.Unlock()
			f.seen.Add(1)
			return nil
		})
	}()
	return f
}

func (f *follower) got() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.ids...)
}

// waitSeen waits until the follower has n events.
func (f *follower) waitSeen(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for f.seen.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("follower has %d events after 10s, want %d: %q", f.seen.Load(), n, f.got())
		}
		time.Sleep(time.Millisecond)
	}
}

func TestFollow(t *testing.T) {
	j := journal{dir: filepath.Join(t.TempDir(), "not-yet")}
	ctx, cancel := context.WithCancel(context.Background())
	f := follow(ctx, j, ReadOptions{Match: func(m Message) bool { return m.Action != "skip" }})
	time.Sleep(50 * time.Millisecond) // the follower starts before anything exists
	j.record(msg("a", "start", 0))
	f.waitSeen(t, 1)
	j.record(msg("x", "skip", 0))
	j.record(msg("b", "die", 0))
	f.waitSeen(t, 2)
	// A line is passed on only once its newline is written.
	line := `{"Type":"container","Action":"start","Actor":{"ID":"c","Attributes":null},"scope":"local","time":1,"timeNano":1000000000}` + "\n"
	file, err := os.OpenFile(filepath.Join(j.dir, logName), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	if _, err := file.WriteString(line[:40]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if got := f.got(); len(got) != 2 {
		t.Fatalf("after half a line: %q", got)
	}
	if _, err := file.WriteString(line[40:]); err != nil {
		t.Fatal(err)
	}
	f.waitSeen(t, 3)
	cancel()
	select {
	case err := <-f.done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("follow ended with %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not end when its context was cancelled")
	}
	if got := strings.Join(f.got(), " "); got != "a b c" {
		t.Errorf("followed %q, want \"a b c\"", got)
	}
}

func TestFollowUntil(t *testing.T) {
	j := journal{dir: t.TempDir()}
	j.record(msg("old", "start", 0))
	until := time.Now().Add(500 * time.Millisecond)
	f := follow(context.Background(), j, ReadOptions{Since: time.Now().Add(-time.Minute), Until: until})
	j.record(msg("new", "start", 0))
	select {
	case err := <-f.done:
		if err != nil {
			t.Fatalf("follow until: %v", err)
		}
		if time.Now().Before(until) {
			t.Errorf("follow until ended before its time")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow did not end at Until")
	}
	j.record(msg("late", "start", 0))
	if got := strings.Join(f.got(), " "); got != "old new" {
		t.Errorf("followed %q, want \"old new\"", got)
	}
}

// Rotation while following: the follower moves to each new file and
// misses nothing, nor sees anything twice. The writer keeps at most 8
// events ahead of it (a file holds about 25), so nothing may be lost.
func TestFollowRotation(t *testing.T) {
	defer func(old int64) { MaxSize = old }(MaxSize)
	MaxSize = 4096
	j := journal{dir: t.TempDir()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := follow(ctx, j, ReadOptions{Since: time.Unix(0, 1)})
	const n = 600
	var want []string
	for i := range n {
		if i >= 8 {
			f.waitSeen(t, int64(i-8))
		}
		id := fmt.Sprintf("e%03d", i)
		want = append(want, id)
		j.record(msg(id, "start", 0))
	}
	f.waitSeen(t, n)
	time.Sleep(50 * time.Millisecond)
	if got := f.got(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("followed %d events across rotations, want %d in order; first difference near %q", len(got), n, firstDiff(got, want))
	}
	// Two files at most, and not more than MaxSize plus a line each.
	entries, _ := os.ReadDir(j.dir)
	for _, e := range entries {
		fi, _ := e.Info()
		if e.Name() != logName && e.Name() != oldName && e.Name() != lockName {
			t.Errorf("unexpected file %s in the journal directory", e.Name())
		}
		if fi.Size() > MaxSize+512 {
			t.Errorf("%s is %d bytes, over MaxSize %d", e.Name(), fi.Size(), MaxSize)
		}
	}
	// A new reader replays the old file then the current one, in order.
	all := readAll(t, j, ReadOptions{})
	if len(all) < 25 || all[len(all)-1] != want[n-1] || strings.Join(all, " ") != strings.Join(want[n-len(all):], " ") {
		t.Errorf("replay after rotations: %d events ending %q; want the last events in order", len(all), all[len(all)-1])
	}
}

// A follower that looks only after two rotations still reads the file it
// held, then events.log.1, then events.log.
func TestFollowDoubleRotation(t *testing.T) {
	defer func(old int64) { MaxSize = old }(MaxSize)
	MaxSize = 2048
	j := journal{dir: t.TempDir()}
	j.record(msg("first", "start", 0))
	var got []string
	r := &reader{ctx: context.Background(), j: j, o: ReadOptions{}, fn: func(m Message) error { got = append(got, m.Actor.ID); return nil }}
	defer r.closeCur()
	if err := r.start(); err != nil {
		t.Fatal(err)
	}
	want := []string{"first"}
	// Write until events.log.1 is a later file than the one held.
	for i := 0; ; i++ {
		id := fmt.Sprintf("e%d", i)
		j.record(msg(id, "start", 0))
		want = append(want, id)
		if fi, err := os.Stat(filepath.Join(j.dir, oldName)); err == nil && !os.SameFile(fi, r.curInfo) {
			break
		}
		if i > 1000 {
			t.Fatal("no double rotation after 1000 events")
		}
	}
	j.record(msg("last", "start", 0))
	want = append(want, "last")
	if err := r.poll(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("after two rotations: %d events, want %d; near %q", len(got), len(want), firstDiff(got, want))
	}
}

func firstDiff(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("index %d: got %s, want %s", i, got[i], want[i])
		}
	}
	return fmt.Sprintf("lengths %d and %d", len(got), len(want))
}

// Writers in several processes and goroutines at once: every line whole,
// each writer's events in its order, none lost.
func TestConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	const procs, perProc, goroutines, perGoroutine = 4, 150, 8, 100
	var cmds []*exec.Cmd
	for p := range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$", "-test.count=1")
		cmd.Env = append(os.Environ(), "EVENTS_HELPER_DIR="+dir, fmt.Sprintf("EVENTS_HELPER_ID=p%d", p), fmt.Sprintf("EVENTS_HELPER_N=%d", perProc))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	j := journal{dir: dir}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() { writeMany(j, fmt.Sprintf("g%d", g), perGoroutine) })
	}
	wg.Wait()
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("writer process: %v", err)
		}
	}
	next := map[string]int{}
	total := 0
	err := j.read(context.Background(), ReadOptions{}, func(m Message) error {
		w, seq, _ := strings.Cut(m.Actor.ID, "-")
		n, _ := strconv.Atoi(seq)
		if n != next[w] {
			return fmt.Errorf("writer %s: event %d after %d", w, n, next[w]-1)
		}
		next[w]++
		total++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := procs*perProc + goroutines*perGoroutine; total != want {
		t.Errorf("%d events read, want %d (%v)", total, want, next)
	}
	data, _ := os.ReadFile(filepath.Join(dir, logName))
	if lines := strings.Count(string(data), "\n"); lines != total {
		t.Errorf("%d lines in the file, %d events decoded: some lines are torn", lines, total)
	}
}

func writeMany(j journal, writer string, n int) {
	for i := range n {
		m := msg(fmt.Sprintf("%s-%d", writer, i), "start", 0)
		m.Actor.Attributes["padding"] = strings.Repeat("x", 100+i%300) // lines of many lengths
		j.record(m)
	}
}

// TestHelperWriter is one writer process of TestConcurrentWriters.
func TestHelperWriter(t *testing.T) {
	dir := os.Getenv("EVENTS_HELPER_DIR")
	if dir == "" {
		t.Skip("a helper of TestConcurrentWriters")
	}
	n, _ := strconv.Atoi(os.Getenv("EVENTS_HELPER_N"))
	writeMany(journal{dir: dir}, os.Getenv("EVENTS_HELPER_ID"), n)
}

func TestContainerActor(t *testing.T) {
	a := ContainerActor("id1", "web", "busybox", map[string]string{"app": "x", "name": "label"}, map[string]string{"exitCode": "3"})
	want := map[string]string{"app": "x", "name": "web", "image": "busybox", "exitCode": "3"}
	if a.ID != "id1" || fmt.Sprint(a.Attributes) != fmt.Sprint(want) {
		t.Errorf("ContainerActor: %+v, want ID id1 and %v", a, want)
	}
}

// A line's time is read without decoding it, from the end where Message
// puts timeNano; a label that looks like one does not fool it, and a line
// that does not end that way is decoded whole instead.
func TestLineTime(t *testing.T) {
	m := Message{Type: ContainerEventType, Action: "start", TimeNano: 1700000000123456789, Time: 1700000000,
		Actor: Actor{ID: "a", Attributes: map[string]string{"trick": `"timeNano":5}`}}}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := lineTime(b); !ok || got != m.TimeNano {
		t.Errorf("lineTime(%s) = %d, %v; want %d", b, got, ok, m.TimeNano)
	}
	for _, line := range []string{`{"Type":"container"}`, `{"timeNano":12`, `not json`, ``} {
		if _, ok := lineTime([]byte(line)); ok {
			t.Errorf("lineTime(%q) ok, want it decoded whole", line)
		}
	}
}

// Reading from now passes over a full journal's old lines without
// decoding them (a follow's start, a --rm container's exit code).
func BenchmarkReadSinceNow(b *testing.B) {
	j := journal{dir: b.TempDir()}
	for i := 0; i < 6000; i++ {
		j.record(Message{Type: ContainerEventType, Action: "start",
			Actor: ContainerActor(strings.Repeat("ab", 32), "name", "127.0.0.1:5000/busybox:latest", map[string]string{"a": "b"}, nil)})
	}
	since := time.Now()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = j.read(context.Background(), ReadOptions{Since: since}, func(Message) error { return nil })
	}
}
