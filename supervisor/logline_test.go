package supervisor

import (
	"bytes"
	"encoding/json"
	"math/rand"
	"testing"
	"time"

	"github.com/skiff-project/skiff/container"
)

// appendEntry writes what json.Marshal of a logEntry writes, byte for
// byte, whatever the line holds.
func TestAppendEntryIsJSONMarshal(t *testing.T) {
	lines := []string{
		"", "hello\n", "tab\there \"quoted\" back\\slash\r\n", "<html> & </html>", "\x00\x01\x1f\x7f\b\f",
		"naïve café ☕ 𝄞", "sep\u2028par\u2029", "bad \xff\xfe utf-8 \xe2\x82", "\xed\xa0\x80 surrogate", "end in half \xe2",
	}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 2000; i++ {
		b := make([]byte, rng.Intn(64))
		for j := range b {
			b[j] = byte(rng.Intn(256))
			if rng.Intn(3) == 0 {
				const tricky = "a\n\"<é\u2028\\" // and the bytes of é and U+2028 apart
				b[j] = tricky[rng.Intn(len(tricky))]
			}
		}
		lines = append(lines, string(b))
	}
	times := []time.Time{time.Date(2026, 12, 7, 15, 4, 5, 0, time.UTC), time.Date(2026, 1, 2, 3, 4, 5, 120000000, time.UTC), time.Now().UTC()}
	for i, line := range lines {
		for _, stream := range []string{"stdout", "stderr"} {
			tm := times[i%len(times)]
			want, err := json.Marshal(logEntry{Log: line, Stream: stream, Time: tm})
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, '\n')
			if got := appendEntry(nil, stream, []byte(line), tm); !bytes.Equal(got, want) {
				t.Fatalf("line %q:\n got  %s\n want %s", line, got, want)
			}
		}
	}
}

// Writing a log line allocates nothing once the buffer has grown.
func TestLogWriteAllocs(t *testing.T) {
	l, err := openLog(t.TempDir()+"/log.json", container.LogConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	s := &lineSplitter{stream: "stdout", log: l}
	chunk := []byte("one line\nand another <b>\nand a half")
	if n := testing.AllocsPerRun(100, func() { _, _ = s.Write(chunk) }); n > 0 {
		t.Errorf("%v allocations a write", n)
	}
}
