package cmd

import (
	"errors"
	"testing"

	"github.com/skiff-project/skiff/errdefs"
)

func TestFilterPs(t *testing.T) {
	psEf := "UID          PID    PPID  C STIME TTY          TIME CMD\n" +
		"root           1       0  0 10:00 ?        00:00:01 /sbin/init\n" +
		"100000      4242    4200  0 10:01 ?        00:00:00 sh -c sleep 1000\n" +
		"100000      4243    4242  0 10:01 ?        00:00:00 sleep 1000\n" +
		"root        4200       1  0 10:01 ?        00:00:00 skiff __supervise 4242\n"
	tests := []struct {
		name    string
		out     string
		pids    []int
		want    string
		wantErr bool
	}{
		{name: "container rows only", out: psEf, pids: []int{4242, 4243},
			want: "UID          PID    PPID  C STIME TTY          TIME CMD\n" +
				"100000      4242    4200  0 10:01 ?        00:00:00 sh -c sleep 1000\n" +
				"100000      4243    4242  0 10:01 ?        00:00:00 sleep 1000\n"},
		{name: "PPID and args are not PID", out: psEf, pids: []int{4200},
			want: "UID          PID    PPID  C STIME TTY          TIME CMD\n" +
				"root        4200       1  0 10:01 ?        00:00:00 skiff __supervise 4242\n"},
		{name: "no pids keeps the header", out: psEf, pids: nil, want: "UID          PID    PPID  C STIME TTY          TIME CMD\n"},
		{name: "PID first, no trailing newline", out: "  PID COMMAND\n    7 sh\n    8 top", pids: []int{8}, want: "  PID COMMAND\n    8 top\n"},
		{name: "no PID column", out: "COMMAND\nsh\n", pids: []int{1}, wantErr: true},
		{name: "empty output", out: "", pids: []int{1}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := filterPs(tt.out, tt.pids)
			if tt.wantErr {
				if !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Fatalf("err = %v, want an invalid argument", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if got != tt.want {
				t.Errorf("filterPs:\n%q\nwant:\n%q", got, tt.want)
			}
		})
	}
}
