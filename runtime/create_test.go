package runtime

import (
	"errors"
	"slices"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/internal/names"
)

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
	imageHC := &container.Healthcheck{Test: []string{"CMD", "/check"}, Interval: 10 * time.Second, Timeout: 2 * time.Second, StartPeriod: time.Second, Retries: 5}
	tests := []struct {
		name    string
		image   *v1.HealthConfig
		o       HealthOptions
		want    *container.Healthcheck
		wantErr bool
	}{
		{name: "nothing", want: nil},
		{name: "image's", image: image, want: imageHC},
		{name: "image's NONE", image: &v1.HealthConfig{Test: []string{"NONE"}}, want: nil},
		{name: "image with empty test", image: &v1.HealthConfig{Interval: time.Second}, want: nil},
		{name: "--no-healthcheck", image: image, o: HealthOptions{None: true}, want: &container.Healthcheck{Test: []string{"NONE"}}},
		{name: "--health-cmd alone", o: HealthOptions{Cmd: "curl -f localhost"}, want: &container.Healthcheck{Test: []string{"CMD-SHELL", "curl -f localhost"}}},
		{name: "--health-cmd replaces the image's test only", image: image, o: HealthOptions{Cmd: "true"},
			want: &container.Healthcheck{Test: []string{"CMD-SHELL", "true"}, Interval: 10 * time.Second, Timeout: 2 * time.Second, StartPeriod: time.Second, Retries: 5}},
		{name: "flags override the image's timings", image: image, o: HealthOptions{Interval: time.Minute, Retries: 1},
			want: &container.Healthcheck{Test: []string{"CMD", "/check"}, Interval: time.Minute, Timeout: 2 * time.Second, StartPeriod: time.Second, Retries: 1}},
		{name: "all flags", o: HealthOptions{Cmd: "x", Interval: time.Second, Timeout: 2 * time.Second, StartPeriod: 3 * time.Second, Retries: 4},
			want: &container.Healthcheck{Test: []string{"CMD-SHELL", "x"}, Interval: time.Second, Timeout: 2 * time.Second, StartPeriod: 3 * time.Second, Retries: 4}},
		{name: "--health-cmd over image NONE", image: &v1.HealthConfig{Test: []string{"NONE"}}, o: HealthOptions{Cmd: "x"}, want: &container.Healthcheck{Test: []string{"CMD-SHELL", "x"}}},
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

func TestRandomNameIsValid(t *testing.T) {
	for i := 0; i < 50; i++ {
		n := randomName() + "_" + names.NewID()[:4]
		if err := container.ValidName(n); err != nil {
			t.Fatalf("generated name %q is invalid: %v", n, err)
		}
	}
}
