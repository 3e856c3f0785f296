package container

import (
	"encoding/json"
	"testing"
)

// isTrue finds State's true booleans in records as they are written,
// and never takes a label or an environment string for one.
func TestIsTrue(t *testing.T) {
	c := &Container{ID: "x", Config: Config{Labels: map[string]string{"Running": "true", "Paused": " true"}, Env: []string{`"Restarting": true`}}}
	for _, running := range []bool{false, true} {
		c.State.Running = running
		for _, indent := range []bool{false, true} {
			data, _ := json.Marshal(c)
			if indent {
				data, _ = json.MarshalIndent(c, "", "  ")
			}
			if got := isTrue(data, "Running"); got != running {
				t.Errorf("Running %v, indented %v: isTrue %v", running, indent, got)
			}
			if isTrue(data, "Paused") {
				t.Errorf("indented %v: a label's \" true\" read as Paused", indent)
			}
			// The escaped quotes of an Env string are not a member name.
			if isTrue(data, "Restarting") {
				t.Errorf("indented %v: an Env string read as Restarting", indent)
			}
		}
	}
}
