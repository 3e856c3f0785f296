package ondisk

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/skiff-project/skiff/errdefs"
)

func TestWriteFileReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "rec.json")
	if err := WriteJSON(p, map[string]int{"a": 1}, 0o600); err != nil {
		t.Fatal(err)
	}
	var got map[string]int
	if err := ReadJSON(p, &got, "no such thing"); err != nil || got["a"] != 1 {
		t.Fatalf("ReadJSON = %v, %v", got, err)
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode: %v %v", fi, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("left temporary files behind: %v", entries)
	}
}

func TestReadJSONMissingIsNotFound(t *testing.T) {
	var v struct{}
	err := ReadJSON(filepath.Join(t.TempDir(), "none"), &v, "no such volume: x")
	if !errors.Is(err, errdefs.ErrNotFound) || err.Error() != "no such volume: x: not found" {
		t.Errorf("err = %v", err)
	}
}

func TestWriteStreamFailureLeavesOldFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.tar")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := WriteStream(p, 0o644, func(f *os.File) error {
		_, _ = f.WriteString("half")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if data, _ := os.ReadFile(p); string(data) != "old" {
		t.Errorf("file = %q, want the old content", data)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary file left: %v", entries)
	}
}

func TestLockSerialises(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "lock")
	unlock, err := Lock(p)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan struct{})
	go func() {
		u2, err := Lock(p)
		if err == nil {
			u2()
		}
		close(got)
	}()
	select {
	case <-got:
		t.Fatal("second Lock did not wait for the first")
	case <-time.After(100 * time.Millisecond):
	}
	unlock()
	<-got
}
