package engine

import (
	"bytes"
	"errors"
	"testing"

	"github.com/skiff-project/skiff/errdefs"
)

func TestParseDetachKeys(t *testing.T) {
	tests := []struct {
		in      string
		want    []byte
		wantErr bool
	}{
		{in: "", want: nil},
		{in: "ctrl-p,ctrl-q", want: []byte{0x10, 0x11}},
		{in: "ctrl-a", want: []byte{0x01}},
		{in: "ctrl-z", want: []byte{0x1a}},
		{in: "ctrl-@", want: []byte{0x00}},
		{in: "ctrl-[", want: []byte{0x1b}},
		{in: `ctrl-\`, want: []byte{0x1c}},
		{in: "ctrl-]", want: []byte{0x1d}},
		{in: "ctrl-^", want: []byte{0x1e}},
		{in: "ctrl-_", want: []byte{0x1f}},
		{in: "a,b,c", want: []byte("abc")},
		{in: "ctrl-x, q", want: []byte{0x18, 'q'}},
		{in: "ctrl-p,ctrl-q,ctrl-p", want: []byte{0x10, 0x11, 0x10}},
		{in: "ctrl-1", wantErr: true},
		{in: "ctrl-", wantErr: true},
		{in: "ctrl-pp", wantErr: true},
		{in: "ab", wantErr: true},
		{in: "ctrl-p,", wantErr: true},
		{in: "shift-p", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDetachKeys(tt.in)
			if tt.wantErr {
				if !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Fatalf("ParseDetachKeys(%q) = %v, %v; want an invalid argument", tt.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("ParseDetachKeys(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
}
