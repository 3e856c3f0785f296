package runtime

import (
	"fmt"
	"testing"

	"github.com/moby/sys/userns"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/netns"
)

func TestContainerSysctls(t *testing.T) {
	if !sysctlExists(sysctlUnprivilegedPortStart) || !sysctlExists(sysctlPingGroupRange) {
		t.Skip("this kernel lacks net.ipv4.ip_unprivileged_port_start or ping_group_range (before 4.11)")
	}
	// ping_group_range is Docker's default only outside a user namespace.
	own := "map[net.ipv4.ip_unprivileged_port_start:0 net.ipv4.ping_group_range:0 2147483647]"
	if userns.RunningInUserNS() {
		own = "map[net.ipv4.ip_unprivileged_port_start:0]"
	}
	for _, c := range []struct {
		kind, userns string
		user         map[string]string
		want         string
	}{
		{netns.ModePrivate, "", nil, own},
		{netns.ModeUser, "", nil, own},
		{netns.ModeNone, "", nil, own},
		{netns.ModeHost, "", nil, "map[]"},
		{netns.ModeContainer, "", map[string]string{"kernel.shmmax": "1"}, "map[kernel.shmmax:1]"},
		// The user's value wins.
		{netns.ModePrivate, "", map[string]string{sysctlUnprivilegedPortStart: "1024", sysctlPingGroupRange: "0 0"},
			"map[net.ipv4.ip_unprivileged_port_start:1024 net.ipv4.ping_group_range:0 0]"},
		// keep-id: only in a network namespace its user namespace owns.
		{netns.ModePrivate, "keep-id", nil, "map[]"},
		{netns.ModeNone, "keep-id", nil, own},
	} {
		ct := &container.Container{HostConfig: container.HostConfig{NetworkKind: c.kind}}
		ct.HostConfig.Isolation.UsernsMode, ct.HostConfig.Isolation.Sysctls = c.userns, c.user
		if got := fmt.Sprint(containerSysctls(ct)); got != c.want {
			t.Errorf("--network %s --userns %q --sysctl %v: %s, want %s", c.kind, c.userns, c.user, got, c.want)
		}
	}
}
