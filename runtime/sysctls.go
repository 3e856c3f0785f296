package runtime

import (
	"maps"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/sys/userns"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/netns"
)

// Docker's default sysctls (moby daemon/oci_linux.go, withCommonOptions):
// a container with a network namespace of its own (not --network host or
// container:) lets any of its users bind ports below 1024 and, when the
// engine runs outside a user namespace (root), open ICMP echo sockets
// (ping without CAP_NET_RAW); in a user namespace the gids of the range
// are not all mapped, so the kernel would refuse it.
const (
	sysctlUnprivilegedPortStart = "net.ipv4.ip_unprivileged_port_start"
	sysctlPingGroupRange        = "net.ipv4.ping_group_range"
)

// containerSysctls are c's sysctls: Docker's defaults where they apply,
// under the user's --sysctl values, which win.
func containerSysctls(c *container.Container) map[string]string {
	user := c.HostConfig.Isolation.Sysctls
	if !ownsNetworkNamespace(c) {
		return user
	}
	out := map[string]string{}
	if sysctlExists(sysctlUnprivilegedPortStart) {
		out[sysctlUnprivilegedPortStart] = "0"
	}
	if !userns.RunningInUserNS() && sysctlExists(sysctlPingGroupRange) {
		out[sysctlPingGroupRange] = "0 2147483647"
	}
	maps.Copy(out, user)
	return out
}

// ownsNetworkNamespace reports whether c's root may set c's network
// sysctls: c has a network namespace of its own (not --network host or
// container:), and with --userns keep-id one its user namespace owns,
// which --network none gives but not the namespace skiff's networks
// make for it beforehand (the container's root has no capability there).
func ownsNetworkNamespace(c *container.Container) bool {
	switch kind := c.HostConfig.NetworkKind; {
	case kind == netns.ModeHost || kind == netns.ModeContainer:
		return false
	case c.HostConfig.Isolation.UsernsMode == "keep-id":
		return !c.OwnNetwork()
	}
	return true
}

// sysctlExists reports whether this kernel has the sysctl (runc refuses
// one it lacks, so older kernels get no default).
func sysctlExists(name string) bool {
	_, err := os.Stat(filepath.Join("/proc/sys", strings.ReplaceAll(name, ".", "/")))
	return err == nil
}
