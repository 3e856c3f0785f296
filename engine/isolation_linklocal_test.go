package engine

import (
	"strings"
	"testing"
)

// --link-local-ip (the API's IPAMConfig.LinkLocalIPs) is refused by the
// engine, so the CLI and the API refuse it alike.
func TestLinkLocalIPsRefused(t *testing.T) {
	o := ContainerCreateOptions{Image: "x", Isolation: IsolationOptions{LinkLocalIPs: []string{"169.254.1.1"}}}
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "--link-local-ip 169.254.1.1") {
		t.Errorf("Validate: %v, want the link-local refusal", err)
	}
}
