package supervisor

import (
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// chunks reads each of its strings in one Read, as a terminal gives keys.
type chunks []string

func (c *chunks) Read(p []byte) (int, error) {
	if len(*c) == 0 {
		return 0, io.EOF
	}
	n := copy(p, (*c)[0])
	if (*c)[0] = (*c)[0][n:]; (*c)[0] == "" {
		*c = (*c)[1:]
	}
	return n, nil
}

func TestDetachReader(t *testing.T) {
	keys := []byte{0x10, 0x11} // ctrl-p ctrl-q
	tests := []struct {
		name     string
		in       chunks
		want     string
		detached bool
	}{
		{"plain input", chunks{"ls\n", "exit\n"}, "ls\nexit\n", false},
		{"keys at once", chunks{"ls\n\x10\x11", "lost"}, "ls\n", true},
		{"keys one per read", chunks{"a", "\x10", "\x11", "b"}, "a", true},
		{"a partial sequence is input", chunks{"\x10x", "y"}, "\x10xy", false},
		{"partial at the end", chunks{"a\x10"}, "a\x10", false},
		{"first key twice", chunks{"\x10\x10\x11"}, "\x10", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			got, err := io.ReadAll(NewDetachReader(&in, keys))
			if string(got) != tt.want || errors.Is(err, ErrDetached) != tt.detached {
				t.Errorf("read %q, err %v; want %q, detached %v", got, err, tt.want, tt.detached)
			}
		})
	}
	// No keys: the reader as it is.
	if err := iotest.TestReader(NewDetachReader(&chunks{"abc"}, nil), []byte("abc")); err != nil {
		t.Error(err)
	}
}
