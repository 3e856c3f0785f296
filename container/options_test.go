package container

import (
	"errors"
	"maps"
	"testing"

	"github.com/skiff-project/skiff/errdefs"
)

func TestParseRestart(t *testing.T) {
	tests := []struct {
		in      string
		want    RestartPolicy
		wantErr bool
	}{
		{in: "", want: RestartPolicy{Name: "no"}},
		{in: "no", want: RestartPolicy{Name: "no"}},
		{in: "always", want: RestartPolicy{Name: "always"}},
		{in: "unless-stopped", want: RestartPolicy{Name: "unless-stopped"}},
		{in: "on-failure", want: RestartPolicy{Name: "on-failure"}},
		{in: "on-failure:3", want: RestartPolicy{Name: "on-failure", MaximumRetryCount: 3}},
		{in: "on-failure:0", want: RestartPolicy{Name: "on-failure"}},
		{in: "on-failure:-1", wantErr: true},
		{in: "on-failure:x", wantErr: true},
		{in: "on-failure:", wantErr: true},
		{in: "always:3", wantErr: true},
		{in: "no:1", wantErr: true},
		{in: "sometimes", wantErr: true},
		{in: "Always", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRestart(tt.in)
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
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseLogOpts(t *testing.T) {
	tests := []struct {
		name    string
		opts    []string
		want    map[string]string
		wantErr bool
	}{
		{name: "none", want: map[string]string{}},
		{name: "max-size", opts: []string{"max-size=10m"}, want: map[string]string{"max-size": "10m"}},
		{name: "both", opts: []string{"max-size=1k", "max-file=3"}, want: map[string]string{"max-size": "1k", "max-file": "3"}},
		{name: "bytes without unit", opts: []string{"max-size=1024"}, want: map[string]string{"max-size": "1024"}},
		{name: "bad size", opts: []string{"max-size=big"}, wantErr: true},
		{name: "max-file 0", opts: []string{"max-file=0"}, wantErr: true},
		{name: "max-file not a number", opts: []string{"max-file=three"}, wantErr: true},
		{name: "unknown option", opts: []string{"compress=true"}, wantErr: true},
		{name: "no value", opts: []string{"max-size"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseLogOpts(tt.opts)
			if tt.wantErr {
				if !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Fatalf("err = %v, want an invalid argument", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if got.Type != "json-file" {
				t.Errorf("Type = %q, want json-file", got.Type)
			}
			if !maps.Equal(got.Config, tt.want) {
				t.Errorf("Config = %v, want %v", got.Config, tt.want)
			}
		})
	}
}

func TestValidName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"web", true},
		{"Web-1", true},
		{"a", true},
		{"9lives", true},
		{"my_app.v2-x", true},
		{"", false},
		{"-web", false},
		{"_web", false},
		{".web", false},
		{"web app", false},
		{"web/app", false},
		{"wéb", false},
		{"web:1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidName(tt.name)
			if tt.ok && err != nil {
				t.Errorf("ValidName(%q) = %v, want nil", tt.name, err)
			}
			if !tt.ok && !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("ValidName(%q) = %v, want an invalid argument", tt.name, err)
			}
		})
	}
}

func TestParseSdNotify(t *testing.T) {
	for in, want := range map[string]string{"": "supervisor", "supervisor": "supervisor", "conmon": "supervisor", "container": "container", "ignore": "ignore"} {
		if got, err := ParseSdNotify(in); err != nil || got != want {
			t.Errorf("ParseSdNotify(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"Container", "none", "conmon-only"} {
		if _, err := ParseSdNotify(in); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("ParseSdNotify(%q): err = %v, want an invalid argument", in, err)
		}
	}
	c := &Container{}
	if c.SdNotify() != SdNotifySupervisor {
		t.Errorf("a record without a mode: %q, want supervisor", c.SdNotify())
	}
}
