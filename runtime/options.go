package runtime

import (
	"io"
	"os"
	"time"
)

// RunOptions is everything `skiff run` can be asked for. The CLI fills it
// from flags; the API service will fill it from JSON. Nothing below cmd/
// sees a flag.
type RunOptions struct {
	Image    string
	Pull     string // missing (default), always, never
	Platform string
	Quiet    bool // no pull progress

	Name        string
	Cmd         []string // after the image; empty uses the image's CMD
	Entrypoint  *string  // --entrypoint; "" resets the image's
	Env         []string // KEY=VALUE, resolved by the caller
	Workdir     string
	User        string
	Hostname    string
	Volumes     []string // -v host:ctr[:opts]
	Mounts      []string // --mount type=bind|volume|tmpfs,…
	VolumesFrom []string // --volumes-from CONTAINER[:ro|rw]
	Tmpfs       []string // --tmpfs path[:opts]
	ReadOnly    bool
	Network     string   // none, host, private (default), container:NAME
	Publish     []string // -p [ip:][hostPort:]containerPort[/proto]
	PublishAll  bool     // -P: the image's EXPOSE on free host ports
	DNS         []string
	DNSSearch   []string
	DNSOptions  []string
	AddHost     []string // name:ip
	Aliases     []string // --network-alias, on a user-defined network
	MacAddress  string   // of the container's outbound interface
	CapAdd      []string
	CapDrop     []string
	Privileged  bool
	SecurityOpt []string
	Init        bool
	Remove      bool

	Detach      bool
	Labels      map[string]string
	StopSignal  string
	StopTimeout *int
	Restart     string   // no, on-failure[:N], always, unless-stopped
	LogOpts     []string // max-size=…, max-file=…
	Health      HealthOptions

	Interactive bool
	TTY         bool
	Stdin       *os.File
	Stdout      io.Writer
	Stderr      io.Writer
	// Warn receives one-line warnings for the user.
	Warn func(string)
}

// HealthOptions are the --health-* flags; zero values keep the image's.
type HealthOptions struct {
	Cmd         string
	None        bool // --no-healthcheck
	Interval    time.Duration
	Timeout     time.Duration
	StartPeriod time.Duration
	Retries     int
}
