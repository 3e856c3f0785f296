package runtime

import (
	"time"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/netns"
)

// Spec is a container to create with every user string already parsed:
// the engine fills it from `run`/`create` flags or the API's JSON, the
// builder for its RUN steps. Create checks what needs the host's state
// (networks, other containers, volumes) and writes the record.
type Spec struct {
	Image string // as the user named it
	Name  string
	Cmd   []string // after the image; empty uses the image's CMD
	// Entrypoint replaces the image's ENTRYPOINT (and its CMD) when
	// EntrypointSet; an empty one resets it.
	Entrypoint    []string
	EntrypointSet bool
	Env           []string // KEY=VALUE, over the image's
	Workdir       string
	User          string
	Hostname      string
	// Mounts are -v, --mount and --tmpfs, parsed, host paths absolute.
	Mounts []container.Mount
	// VolumesFrom are CONTAINER[:ro|rw] whose mounts the container takes.
	VolumesFrom []string
	ReadOnly    bool
	// Network is the --network value and NetworkKind its kind (netns.Mode*).
	Network     string
	NetworkKind string
	Ports       netns.PortMap
	PublishAll  bool     // -P: the image's EXPOSE (and Expose) on free host ports
	Expose      []string // --expose, as "80/tcp", added to the image's
	DNS         []string
	DNSSearch   []string
	DNSOptions  []string
	ExtraHosts  []string // name:ip
	Aliases     []string // --network-alias, on a user-defined network
	MacAddress  string   // of the container's outbound interface
	CapAdd      []string
	CapDrop     []string
	Privileged  bool
	SecurityOpt []string
	Security    container.Security
	Init        bool
	InitPath    string
	Remove      bool

	Labels      map[string]string
	StopSignal  string
	StopTimeout *int
	SdNotify    string // container.SdNotify* ("" is supervisor)
	Restart     container.RestartPolicy
	Log         container.LogConfig
	Health      HealthOptions
	Resources   container.Resources // cgroup limits, parsed
	Isolation   container.Isolation // namespace modes, devices, sysctls, ulimits, parsed

	Interactive bool
	TTY         bool
	// StartNext marks a container its creator starts right away (run):
	// prunes leave it alone while that creator lives.
	StartNext bool
	// Warn receives one-line warnings for the user.
	Warn func(string)
}

// HealthOptions are the --health-* flags; zero values keep the image's.
type HealthOptions struct {
	Cmd string
	// Test is the API's form, which replaces Cmd: ["CMD", arg…],
	// ["CMD-SHELL", command] or ["NONE"]; empty keeps the image's.
	Test        []string
	None        bool // --no-healthcheck
	Interval    time.Duration
	Timeout     time.Duration
	StartPeriod time.Duration
	Retries     int
	// StartInterval is the time between checks during StartPeriod.
	StartInterval time.Duration
}
