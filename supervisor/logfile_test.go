package supervisor

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skiff-project/skiff/container"
)

// openTestLog opens a json-file log in a temp dir with the given
// --log-opt values.
func openTestLog(t *testing.T, cfg map[string]string) (*jsonLog, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ctr-json.log")
	l, err := openLog(path, container.LogConfig{Type: "json-file", Config: cfg})
	if err != nil {
		t.Fatalf("openLog: %v", err)
	}
	t.Cleanup(l.close)
	return l, path
}

// readLogFile parses every line of a json-file log, failing on any line
// that is not one JSON entry with log, stream and time.
func readLogFile(t *testing.T, path string) []logEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []logEntry
	s := bufio.NewScanner(f)
	s.Buffer(nil, 1<<20)
	for s.Scan() {
		var raw map[string]any
		if err := json.Unmarshal(s.Bytes(), &raw); err != nil {
			t.Fatalf("line %q is not JSON: %v", s.Text(), err)
		}
		for _, k := range []string{"log", "stream", "time"} {
			if _, ok := raw[k]; !ok {
				t.Errorf("line %q has no %q field", s.Text(), k)
			}
		}
		var e logEntry
		if err := json.Unmarshal(s.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func logTexts(es []logEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Log)
	}
	return out
}

func TestLineSplitter(t *testing.T) {
	long := strings.Repeat("x", maxLogLine)
	tests := []struct {
		name   string
		writes []string
		flush  bool
		want   []string
	}{
		{name: "one line", writes: []string{"hello\n"}, want: []string{"hello\n"}},
		{name: "two lines in one write", writes: []string{"a\nb\n"}, want: []string{"a\n", "b\n"}},
		{name: "line across writes", writes: []string{"hel", "lo\nwor", "ld\n"}, want: []string{"hello\n", "world\n"}},
		{name: "empty line", writes: []string{"\n"}, want: []string{"\n"}},
		{name: "partial line waits", writes: []string{"no newline"}, want: nil},
		{name: "partial line flushed", writes: []string{"a\nno newline"}, flush: true, want: []string{"a\n", "no newline"}},
		{name: "flush with nothing held", writes: []string{"a\n"}, flush: true, want: []string{"a\n"}},
		{name: "long line split at 16 KiB", writes: []string{long[:10000], long[10000:], "tail\n"}, want: []string{long, "tail\n"}},
		{name: "exactly 16 KiB without newline", writes: []string{long}, want: []string{long}},
		{name: "32 KiB plus a bit, flushed", writes: []string{long + long + "end"}, flush: true, want: []string{long, long, "end"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, path := openTestLog(t, nil)
			s := &lineSplitter{stream: "stdout", log: l}
			for _, w := range tt.writes {
				n, err := s.Write([]byte(w))
				if err != nil || n != len(w) {
					t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(w))
				}
			}
			if tt.flush {
				s.flush()
			}
			es := readLogFile(t, path)
			if got := logTexts(es); !equalStrings(got, tt.want) {
				t.Errorf("entries = %s, want %s", summarize(got), summarize(tt.want))
			}
			for _, e := range es {
				if e.Stream != "stdout" {
					t.Errorf("stream = %q, want stdout", e.Stream)
				}
				if e.Time.IsZero() || time.Since(e.Time) > time.Minute || e.Time.Location() != time.UTC {
					t.Errorf("time = %v, want about now in UTC", e.Time)
				}
			}
		})
	}
}

// Docker's json-file driver never writes an entry longer than 16 KiB,
// whether the newline arrives in the same write or not.
func TestLineSplitterLongLineInOneWrite(t *testing.T) {
	l, path := openTestLog(t, nil)
	s := &lineSplitter{stream: "stderr", log: l}
	line := strings.Repeat("y", maxLogLine+100) + "\n"
	if _, err := s.Write([]byte(line)); err != nil {
		t.Fatal(err)
	}
	got := logTexts(readLogFile(t, path))
	if strings.Join(got, "") != line {
		t.Fatalf("the entries do not add up to the line written")
	}
	for _, e := range got {
		if len(e) > maxLogLine {
			t.Fatalf("a %d-byte line written with its newline in one Write is logged as one %d-byte entry; lineSplitter only splits lines still waiting for their newline", len(line), len(e))
		}
	}
	if len(got) != 2 {
		t.Errorf("got %d entries, want 2", len(got))
	}
}

func TestJSONLogStreams(t *testing.T) {
	l, path := openTestLog(t, nil)
	l.write("stdout", []byte("out\n"))
	l.write("stderr", []byte("err \"quoted\" \x01\n"))
	es := readLogFile(t, path)
	if len(es) != 2 {
		t.Fatalf("got %d entries, want 2", len(es))
	}
	if es[0].Stream != "stdout" || es[0].Log != "out\n" {
		t.Errorf("first entry = %+v", es[0])
	}
	if es[1].Stream != "stderr" || es[1].Log != "err \"quoted\" \x01\n" {
		t.Errorf("second entry = %+v", es[1])
	}
	if es[1].Time.Before(es[0].Time) {
		t.Errorf("times go backwards: %v then %v", es[0].Time, es[1].Time)
	}
}

func TestJSONLogAppendsToExisting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctr-json.log")
	for i := 0; i < 2; i++ {
		l, err := openLog(path, container.LogConfig{Config: map[string]string{}})
		if err != nil {
			t.Fatal(err)
		}
		l.write("stdout", []byte(fmt.Sprintf("run %d\n", i)))
		l.close()
	}
	if got := logTexts(readLogFile(t, path)); !equalStrings(got, []string{"run 0\n", "run 1\n"}) {
		t.Errorf("entries = %q: a restart must append to the log", got)
	}
}

func TestJSONLogRotation(t *testing.T) {
	// Each entry is about 80 bytes, so max-size=200 holds two of them.
	tests := []struct {
		name      string
		cfg       map[string]string
		writes    int
		wantFiles []string // suffixes that must exist
		noFiles   []string // suffixes that must not
	}{
		{name: "no max-size never rotates", cfg: map[string]string{}, writes: 20, wantFiles: []string{""}, noFiles: []string{".1"}},
		{name: "max-file 1 truncates", cfg: map[string]string{"max-size": "200"}, writes: 20, wantFiles: []string{""}, noFiles: []string{".1"}},
		{name: "max-file 2", cfg: map[string]string{"max-size": "200", "max-file": "2"}, writes: 20, wantFiles: []string{"", ".1"}, noFiles: []string{".2"}},
		{name: "max-file 3", cfg: map[string]string{"max-size": "200", "max-file": "3"}, writes: 20, wantFiles: []string{"", ".1", ".2"}, noFiles: []string{".3", ".4"}},
		{name: "max-file 3, one rotation", cfg: map[string]string{"max-size": "200", "max-file": "3"}, writes: 3, wantFiles: []string{"", ".1"}, noFiles: []string{".2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, path := openTestLog(t, tt.cfg)
			for i := 0; i < tt.writes; i++ {
				l.write("stdout", []byte(fmt.Sprintf("line %02d\n", i)))
			}
			for _, s := range tt.wantFiles {
				if _, err := os.Stat(path + s); err != nil {
					t.Errorf("log file %q missing: %v", "ctr-json.log"+s, err)
				}
			}
			for _, s := range tt.noFiles {
				if _, err := os.Stat(path + s); err == nil {
					t.Errorf("log file %q exists, want at most max-file files", "ctr-json.log"+s)
				}
			}
			max := l.maxSize
			for _, s := range tt.wantFiles {
				st, err := os.Stat(path + s)
				if err == nil && max > 0 && st.Size() > max {
					t.Errorf("%s is %d bytes, over max-size %d", "ctr-json.log"+s, st.Size(), max)
				}
			}
			// The newest entries are in the current file, older ones in .1,
			// .2 …, and nothing is lost within the kept files.
			var all []string
			for i := len(tt.wantFiles) - 1; i >= 0; i-- {
				all = append(all, logTexts(readLogFile(t, path+tt.wantFiles[i]))...)
			}
			if len(all) == 0 || all[len(all)-1] != fmt.Sprintf("line %02d\n", tt.writes-1) {
				t.Fatalf("the last entry is not the last line written: %q", all)
			}
			for i := 1; i < len(all); i++ {
				if all[i] <= all[i-1] {
					t.Errorf("entries out of order or duplicated across files: %q", all)
					break
				}
			}
			if tt.cfg["max-size"] == "" && len(all) != tt.writes {
				t.Errorf("kept %d entries, want all %d", len(all), tt.writes)
			}
		})
	}
}

// writeEntries writes a json-file log with the given entries.
func writeEntries(t *testing.T, path string, es []logEntry) {
	t.Helper()
	var b bytes.Buffer
	for _, e := range es {
		data, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestReadLogs(t *testing.T) {
	base := time.Date(2024, 1, 2, 13, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return base.Add(time.Duration(m) * time.Minute) }
	dir := t.TempDir()
	path := filepath.Join(dir, "ctr-json.log")
	writeEntries(t, path+".2", []logEntry{{Log: "r2a\n", Stream: "stdout", Time: at(0)}})
	writeEntries(t, path+".1", []logEntry{{Log: "r1a\n", Stream: "stderr", Time: at(1)}, {Log: "r1b\n", Stream: "stdout", Time: at(2)}})
	writeEntries(t, path, []logEntry{{Log: "c1\n", Stream: "stdout", Time: at(3)}, {Log: "c2\n", Stream: "stderr", Time: at(4)}, {Log: "c3", Stream: "stdout", Time: at(5)}})
	// A half-written last line is not an entry yet.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"log":"half`); err != nil {
		t.Fatal(err)
	}
	f.Close()

	ctr := func(maxFile string) *container.Container {
		c := &container.Container{ID: strings.Repeat("a", 64), LogPath: path}
		c.HostConfig.LogConfig = container.LogConfig{Type: "json-file", Config: map[string]string{}}
		if maxFile != "" {
			c.HostConfig.LogConfig.Config["max-file"] = maxFile
			c.HostConfig.LogConfig.Config["max-size"] = "1k"
		}
		return c
	}
	tests := []struct {
		name       string
		maxFile    string
		o          LogOptions
		wantOut    string
		wantErr    string
		wantStderr bool // compare stderr too
	}{
		{name: "all of the current file", o: LogOptions{Tail: -1}, wantOut: "c1\nc3", wantErr: "c2\n", wantStderr: true},
		{name: "rotated files first", maxFile: "3", o: LogOptions{Tail: -1}, wantOut: "r2a\nr1b\nc1\nc3", wantErr: "r1a\nc2\n", wantStderr: true},
		{name: "max-file 2 reads .1 only", maxFile: "2", o: LogOptions{Tail: -1}, wantOut: "r1b\nc1\nc3", wantErr: "r1a\nc2\n", wantStderr: true},
		{name: "tail 2", maxFile: "3", o: LogOptions{Tail: 2}, wantOut: "c3", wantErr: "c2\n", wantStderr: true},
		{name: "tail 4 crosses files", maxFile: "3", o: LogOptions{Tail: 4}, wantOut: "r1b\nc1\nc3", wantErr: "c2\n", wantStderr: true},
		{name: "tail 0", maxFile: "3", o: LogOptions{Tail: 0}, wantOut: "", wantErr: "", wantStderr: true},
		{name: "tail larger than the log", o: LogOptions{Tail: 100}, wantOut: "c1\nc3", wantErr: "c2\n", wantStderr: true},
		{name: "since", maxFile: "3", o: LogOptions{Tail: -1, Since: at(2)}, wantOut: "r1b\nc1\nc3", wantErr: "c2\n", wantStderr: true},
		{name: "until", maxFile: "3", o: LogOptions{Tail: -1, Until: at(1)}, wantOut: "r2a\n", wantErr: "r1a\n", wantStderr: true},
		{name: "since and until", maxFile: "3", o: LogOptions{Tail: -1, Since: at(2), Until: at(3)}, wantOut: "r1b\nc1\n", wantErr: "", wantStderr: true},
		{name: "tail then since", maxFile: "3", o: LogOptions{Tail: 3, Since: at(4)}, wantOut: "c3", wantErr: "c2\n", wantStderr: true},
		{name: "timestamps", o: LogOptions{Tail: 1, Timestamps: true}, wantOut: "2024-01-02T13:05:00.000000000Z c3"},
		{name: "timestamps on stderr", o: LogOptions{Tail: 2, Timestamps: true}, wantErr: "2024-01-02T13:04:00.000000000Z c2\n", wantOut: "2024-01-02T13:05:00.000000000Z c3", wantStderr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if err := ReadLogs(ctr(tt.maxFile), tt.o, &out, &errb, nil); err != nil {
				t.Fatalf("ReadLogs: %v", err)
			}
			if out.String() != tt.wantOut {
				t.Errorf("stdout = %q, want %q", out.String(), tt.wantOut)
			}
			if tt.wantStderr && errb.String() != tt.wantErr {
				t.Errorf("stderr = %q, want %q", errb.String(), tt.wantErr)
			}
		})
	}

	t.Run("no log file yet", func(t *testing.T) {
		c := &container.Container{ID: strings.Repeat("b", 64), LogPath: filepath.Join(dir, "none.log")}
		var out, errb bytes.Buffer
		if err := ReadLogs(c, LogOptions{Tail: -1}, &out, &errb, nil); err != nil {
			t.Fatalf("ReadLogs: %v", err)
		}
		if out.Len()+errb.Len() != 0 {
			t.Errorf("printed %q %q for a missing log", out.String(), errb.String())
		}
	})
}

func TestReadEntries(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  []string
		wantN int64
	}{
		{name: "empty", in: "", want: nil, wantN: 0},
		{name: "whole lines", in: `{"log":"a\n"}` + "\n" + `{"log":"b"}` + "\n", want: []string{"a\n", "b"}, wantN: 26},
		{name: "half line not counted", in: `{"log":"a"}` + "\n" + `{"log":"b`, want: []string{"a"}, wantN: 12},
		{name: "bad line skipped but counted", in: "garbage\n" + `{"log":"a"}` + "\n", want: []string{"a"}, wantN: 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es, n := readEntries(strings.NewReader(tt.in))
			if got := logTexts(es); !equalStrings(got, tt.want) {
				t.Errorf("entries = %q, want %q", got, tt.want)
			}
			if n != tt.wantN {
				t.Errorf("n = %d, want %d", n, tt.wantN)
			}
		})
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// summarize shortens long entries for failure messages.
func summarize(ss []string) string {
	var parts []string
	for _, s := range ss {
		if len(s) > 40 {
			s = fmt.Sprintf("%.20s…(%d bytes)", s, len(s))
		}
		parts = append(parts, fmt.Sprintf("%q", s))
	}
	return "[" + strings.Join(parts, " ") + "]"
}
