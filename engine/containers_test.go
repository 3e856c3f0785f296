package engine

import (
	"errors"
	"slices"
	"testing"

	"github.com/skiff-project/skiff/errdefs"
)

func TestTopResponse(t *testing.T) {
	psEf := "UID          PID    PPID  C STIME TTY          TIME CMD\n" +
		"root           1       0  0 10:00 ?        00:00:01 /sbin/init\n" +
		"100000      4242    4200  0 10:01 ?        00:00:00 sh -c sleep 1000\n" +
		"100000      4243    4242  0 10:01 ?        00:00:00 sleep 1000\n" +
		"root        4200       1  0 10:01 ?        00:00:00 skiff __supervise 4242\n"
	titles := []string{"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"}
	tests := []struct {
		name    string
		out     string
		pids    []int
		titles  []string
		rows    [][]string
		wantErr bool
	}{
		{name: "container rows only, the command whole", out: psEf, pids: []int{4242, 4243}, titles: titles, rows: [][]string{
			{"100000", "4242", "4200", "0", "10:01", "?", "00:00:00", "sh -c sleep 1000"},
			{"100000", "4243", "4242", "0", "10:01", "?", "00:00:00", "sleep 1000"},
		}},
		{name: "PPID and args are not PID", out: psEf, pids: []int{4200}, titles: titles, rows: [][]string{
			{"root", "4200", "1", "0", "10:01", "?", "00:00:00", "skiff __supervise 4242"},
		}},
		{name: "no pids keeps the titles", out: psEf, pids: nil, titles: titles, rows: [][]string{}},
		{name: "PID first, no trailing newline", out: "  PID COMMAND\n    7 sh\n    8 top", pids: []int{8}, titles: []string{"PID", "COMMAND"}, rows: [][]string{{"8", "top"}}},
		{name: "no PID column", out: "COMMAND\nsh\n", pids: []int{1}, wantErr: true},
		{name: "empty output", out: "", pids: []int{1}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := topResponse(tt.out, tt.pids)
			if tt.wantErr {
				if !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Fatalf("err = %v, want an invalid argument", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if !slices.Equal(got.Titles, tt.titles) || !slices.EqualFunc(got.Processes, tt.rows, slices.Equal) {
				t.Errorf("topResponse = %q %q\nwant %q %q", got.Titles, got.Processes, tt.titles, tt.rows)
			}
		})
	}
}
