package engine

import (
	"errors"
	"testing"
	"time"

	"github.com/skiff-project/skiff/errdefs"
)

func TestParseTime(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Time     // an absolute time, or
		ago     time.Duration // a time this long before now
		wantErr bool
	}{
		{in: "", want: time.Time{}},
		{in: "2024-01-02T13:23:37Z", want: time.Date(2024, 1, 2, 13, 23, 37, 0, time.UTC)},
		{in: "2024-01-02T13:23:37.5Z", want: time.Date(2024, 1, 2, 13, 23, 37, 5e8, time.UTC)},
		{in: "2024-01-02T13:23:37+02:00", want: time.Date(2024, 1, 2, 11, 23, 37, 0, time.UTC)},
		{in: "1700000000", want: time.Unix(1700000000, 0)},
		{in: "1700000000.5", want: time.Unix(1700000000, 5e8)},
		{in: "1700000000.123456789", want: time.Unix(1700000000, 123456789)},
		{in: "1700000000.000000001", want: time.Unix(1700000000, 1)},
		{in: "42m", ago: 42 * time.Minute},
		{in: "1h30m", ago: 90 * time.Minute},
		{in: "10s", ago: 10 * time.Second},
		{in: "yesterday", wantErr: true},
		{in: "2024-13-45", wantErr: true},
		{in: "10 minutes", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			before := time.Now()
			got, err := ParseTime(tt.in, "--since")
			after := time.Now()
			if tt.wantErr {
				if !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Fatalf("ParseTime(%q) = %v, %v; want an invalid argument", tt.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if tt.ago != 0 {
				if got.Before(before.Add(-tt.ago)) || got.After(after.Add(-tt.ago)) {
					t.Errorf("ParseTime(%q) = %v, want %v before now", tt.in, got, tt.ago)
				}
				return
			}
			if !got.Equal(tt.want) {
				t.Errorf("ParseTime(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

// Docker's --since 0 means the Unix epoch (all logs), not a zero
// duration back from now.
func TestParseTimeZero(t *testing.T) {
	got, err := ParseTime("0", "--since")
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(time.Unix(0, 0)) {
		t.Fatalf("--since 0 parses as now (%v), so logs --since 0 prints nothing; Docker reads it as the Unix epoch", got)
	}
}

// Docker reads a time without a zone (2024-01-02T13:23:37, 2024-01-02) in
// the local time zone.
func TestParseTimeLocal(t *testing.T) {
	saved := time.Local
	time.Local = time.FixedZone("TEST", 3*3600)
	t.Cleanup(func() { time.Local = saved })
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2024-01-02T13:23:37", time.Date(2024, 1, 2, 13, 23, 37, 0, time.Local)},
		{"2024-01-02", time.Date(2024, 1, 2, 0, 0, 0, 0, time.Local)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTime(tt.in, "--until")
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tt.want) {
				t.Fatalf("%s parses as %v, want local time %v as Docker", tt.in, got.UTC(), tt.want.UTC())
			}
		})
	}
}
