package container

import "testing"

func TestLogDetails(t *testing.T) {
	c := &Container{}
	c.Config.Labels = map[string]string{"app": "web", "tier.x": "1", "other": "no"}
	c.Config.Env = []string{"MODE=prod", "SECRET=s", "EMPTY="}
	tests := []struct {
		opts map[string]string
		want string
	}{
		{nil, " "},
		{map[string]string{"labels": "app,missing"}, "app=web "},
		{map[string]string{"labels-regex": "^tier"}, "tier.x=1 "},
		{map[string]string{"env": "MODE,EMPTY"}, "EMPTY=,MODE=prod "},
		{map[string]string{"env-regex": "^S", "labels": "app"}, "SECRET=s,app=web "},
	}
	for _, tt := range tests {
		c.HostConfig.LogConfig = LogConfig{Type: "json-file", Config: tt.opts}
		if got := c.LogDetails(); got != tt.want {
			t.Errorf("log options %v: details %q, want %q", tt.opts, got, tt.want)
		}
	}
	if got := FormatLogAttrs(map[string]string{"a b": "c,d"}); got != "a+b=c%2Cd" {
		t.Errorf("FormatLogAttrs escapes as %q, want a+b=c%%2Cd", got)
	}
}
