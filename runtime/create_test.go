package runtime

import (
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

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
			got, err := parseLogOpts(tt.opts)
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

func TestMergeEnv(t *testing.T) {
	tests := []struct {
		name        string
		image, user []string
		want        []string
	}{
		{name: "empty", want: []string{}},
		{name: "image only", image: []string{"PATH=/bin", "A=1"}, want: []string{"PATH=/bin", "A=1"}},
		{name: "user only", user: []string{"B=2"}, want: []string{"B=2"}},
		{name: "user overrides in place", image: []string{"PATH=/bin", "A=1", "C=3"}, user: []string{"A=x", "B=2"}, want: []string{"PATH=/bin", "A=x", "C=3", "B=2"}},
		{name: "last user value wins", user: []string{"A=1", "A=2"}, want: []string{"A=2"}},
		{name: "empty value overrides", image: []string{"A=1"}, user: []string{"A="}, want: []string{"A="}},
		{name: "value with =", image: []string{"A=1"}, user: []string{"A=b=c"}, want: []string{"A=b=c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			image := slices.Clone(tt.image)
			got := mergeEnv(tt.image, tt.user)
			if !slices.Equal(got, tt.want) {
				t.Errorf("mergeEnv = %q, want %q", got, tt.want)
			}
			if !slices.Equal(tt.image, image) {
				t.Errorf("mergeEnv changed the image's env to %q", tt.image)
			}
		})
	}
}

func TestHealthConfig(t *testing.T) {
	image := &v1.HealthConfig{
		Test: []string{"CMD", "/check"}, Interval: 10 * time.Second, Timeout: 2 * time.Second,
		StartPeriod: time.Second, Retries: 5,
	}
	imageHC := &Healthcheck{Test: []string{"CMD", "/check"}, Interval: 10 * time.Second, Timeout: 2 * time.Second, StartPeriod: time.Second, Retries: 5}
	tests := []struct {
		name    string
		image   *v1.HealthConfig
		o       HealthOptions
		want    *Healthcheck
		wantErr bool
	}{
		{name: "nothing", want: nil},
		{name: "image's", image: image, want: imageHC},
		{name: "image's NONE", image: &v1.HealthConfig{Test: []string{"NONE"}}, want: nil},
		{name: "image with empty test", image: &v1.HealthConfig{Interval: time.Second}, want: nil},
		{name: "--no-healthcheck", image: image, o: HealthOptions{None: true}, want: nil},
		{name: "--health-cmd alone", o: HealthOptions{Cmd: "curl -f localhost"}, want: &Healthcheck{Test: []string{"CMD-SHELL", "curl -f localhost"}}},
		{name: "--health-cmd replaces the image's test only", image: image, o: HealthOptions{Cmd: "true"},
			want: &Healthcheck{Test: []string{"CMD-SHELL", "true"}, Interval: 10 * time.Second, Timeout: 2 * time.Second, StartPeriod: time.Second, Retries: 5}},
		{name: "flags override the image's timings", image: image, o: HealthOptions{Interval: time.Minute, Retries: 1},
			want: &Healthcheck{Test: []string{"CMD", "/check"}, Interval: time.Minute, Timeout: 2 * time.Second, StartPeriod: time.Second, Retries: 1}},
		{name: "all flags", o: HealthOptions{Cmd: "x", Interval: time.Second, Timeout: 2 * time.Second, StartPeriod: 3 * time.Second, Retries: 4},
			want: &Healthcheck{Test: []string{"CMD-SHELL", "x"}, Interval: time.Second, Timeout: 2 * time.Second, StartPeriod: 3 * time.Second, Retries: 4}},
		{name: "--health-cmd over image NONE", image: &v1.HealthConfig{Test: []string{"NONE"}}, o: HealthOptions{Cmd: "x"}, want: &Healthcheck{Test: []string{"CMD-SHELL", "x"}}},
		{name: "interval without cmd", o: HealthOptions{Interval: time.Second}, wantErr: true},
		{name: "retries without cmd", o: HealthOptions{Retries: 2}, wantErr: true},
		{name: "timeout over image NONE", image: &v1.HealthConfig{Test: []string{"NONE"}}, o: HealthOptions{Timeout: time.Second}, wantErr: true},
		{name: "negative interval", o: HealthOptions{Cmd: "x", Interval: -time.Second}, wantErr: true},
		{name: "negative retries", image: image, o: HealthOptions{Retries: -1}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before []string
			if tt.image != nil {
				before = slices.Clone(tt.image.Test)
			}
			got, err := healthConfig(tt.image, tt.o)
			if tt.wantErr {
				if !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Fatalf("err = %v, want an invalid argument", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			switch {
			case tt.want == nil && got != nil:
				t.Errorf("got %+v, want no health check", got)
			case tt.want != nil && got == nil:
				t.Errorf("got no health check, want %+v", tt.want)
			case got != nil && (!slices.Equal(got.Test, tt.want.Test) || got.Interval != tt.want.Interval || got.Timeout != tt.want.Timeout ||
				got.StartPeriod != tt.want.StartPeriod || got.Retries != tt.want.Retries):
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if tt.image != nil && !slices.Equal(tt.image.Test, before) {
				t.Errorf("healthConfig changed the image's test to %q", tt.image.Test)
			}
		})
	}
}

// Docker: "--no-healthcheck conflicts with --health-* options".
func TestHealthConfigNoneConflicts(t *testing.T) {
	h, err := healthConfig(nil, HealthOptions{None: true, Cmd: "true"})
	if err == nil {
		t.Fatalf("--no-healthcheck with --health-cmd is accepted (health check %v); Docker rejects the combination", h)
	}
	if !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("err = %v, want an invalid argument", err)
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
			err := validName(tt.name)
			if tt.ok && err != nil {
				t.Errorf("validName(%q) = %v, want nil", tt.name, err)
			}
			if !tt.ok && !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("validName(%q) = %v, want an invalid argument", tt.name, err)
			}
		})
	}
}

func TestRandomNameIsValid(t *testing.T) {
	for i := 0; i < 50; i++ {
		n := randomName() + "_" + newID()[:4]
		if err := validName(n); err != nil {
			t.Fatalf("generated name %q is invalid: %v", n, err)
		}
	}
}
