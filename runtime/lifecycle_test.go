package runtime

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/errdefs"
)

func TestParseSignal(t *testing.T) {
	tests := []struct {
		in      string
		want    unix.Signal
		wantErr bool
	}{
		{in: "TERM", want: unix.SIGTERM},
		{in: "SIGTERM", want: unix.SIGTERM},
		{in: "sigkill", want: unix.SIGKILL},
		{in: "kill", want: unix.SIGKILL},
		{in: "Hup", want: unix.SIGHUP},
		{in: "USR1", want: unix.SIGUSR1},
		{in: "9", want: unix.SIGKILL},
		{in: "15", want: unix.SIGTERM},
		{in: "64", want: unix.Signal(64)},
		{in: "0", wantErr: true},
		{in: "-9", wantErr: true},
		{in: "65", wantErr: true},
		{in: "", wantErr: true},
		{in: "SIG", wantErr: true},
		{in: "BOGUS", wantErr: true},
		{in: "SIGSIGTERM", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSignal(tt.in)
			if tt.wantErr {
				if !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Fatalf("ParseSignal(%q) = %v, %v; want an invalid argument", tt.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if got != tt.want {
				t.Errorf("ParseSignal(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}
