package engine

import (
	"errors"
	"testing"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
)

func TestStartAllWants(t *testing.T) {
	ctr := func(policy, status string, code int, byUser bool, labels map[string]string) *container.Container {
		c := &container.Container{ID: "0123456789ab", Name: "web"}
		c.HostConfig.RestartPolicy.Name = policy
		c.State.Status, c.State.ExitCode, c.State.StoppedByUser = status, code, byUser
		c.Config.Labels = labels
		return c
	}
	always := Filters{"restart-policy": {"always"}}
	unit := Filters{"restart-policy": {"always", "unless-stopped"}}
	tests := []struct {
		what string
		f    Filters
		c    *container.Container
		want bool
	}{
		{"always, dead", always, ctr("always", "dead", 0, false, nil), true},
		{"always, stopped by the user", always, ctr("always", "exited", 0, true, nil), true},
		{"always, running", always, ctr("always", "running", 0, false, nil), false},
		{"no policy under the always filter", always, ctr("no", "dead", 0, false, nil), false},
		{"no policy without a filter", nil, ctr("", "exited", 0, false, nil), true},
		{"unless-stopped, dead", unit, ctr("unless-stopped", "dead", 0, false, nil), true},
		{"unless-stopped, stopped by the user", unit, ctr("unless-stopped", "exited", 143, true, nil), false},
		{"on-failure, dead", nil, ctr("on-failure", "dead", 0, false, nil), true},
		{"on-failure, exited 0", nil, ctr("on-failure", "exited", 0, false, nil), false},
		{"on-failure, exited 1", nil, ctr("on-failure", "exited", 1, false, nil), true},
		{"on-failure, stopped by the user", nil, ctr("on-failure", "exited", 137, true, nil), false},
		{"a service replica", nil, ctr("always", "dead", 0, false, map[string]string{LabelServiceID: "x"}), false},
		{"being removed", nil, ctr("always", "removing", 0, false, nil), false},
		{"name filter", Filters{"name": {"we"}}, ctr("always", "dead", 0, false, nil), true},
		{"name filter, other", Filters{"name": {"db"}}, ctr("always", "dead", 0, false, nil), false},
	}
	for _, tt := range tests {
		if got := startAllWants(tt.f, tt.c); got != tt.want {
			t.Errorf("%s: startAllWants = %v, want %v", tt.what, got, tt.want)
		}
	}
}

func TestCheckStartAllFilters(t *testing.T) {
	for _, f := range []Filters{{"restart-policy": {"sometimes"}}, {"ancestor": {"busybox"}}, {"status": {"asleep"}}} {
		if err := checkStartAllFilters(f); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%v: err = %v, want an invalid argument", f, err)
		}
	}
	if err := checkStartAllFilters(Filters{"restart-policy": restartPolicies, "name": {"x"}, "label": {"a=b"}}); err != nil {
		t.Errorf("good filters refused: %v", err)
	}
}
