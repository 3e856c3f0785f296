// Package container is the on-disk record of one container: what create
// parsed from the user's options (mounts with absolute sources, port
// bindings, the network mode, security options), the state the
// supervisor keeps up to date, and the files that hold it, written
// atomically under the container's own lock. Every skiff process reads
// it; the small supervisor binary too, so it stays light: the standard
// library, x/sys and skiff's light packages (paths, netns, internal)
// only. It does not start or stop anything (see runtime/ and supervisor/).
package container

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/internal/ondisk"
	"github.com/skiff-project/skiff/netns"
	"github.com/skiff-project/skiff/paths"
)

// SupervisorArg is the supervisor's first argument: `skiff-supervisor
// __supervise ID [attach]`, so that its process is recognisable.
const SupervisorArg = "__supervise"

// Container is the record of one container, kept as JSON in its
// directory. Its shape follows Docker's inspect output so that inspect is
// little more than this record.
type Container struct {
	ID         string     `json:"Id"`
	Name       string     `json:"Name"` // without Docker's leading slash
	Created    time.Time  `json:"Created"`
	Path       string     `json:"Path"`
	Args       []string   `json:"Args"`
	Image      string     `json:"Image"` // as the user named it
	ImageID    string     `json:"ImageID"`
	Config     Config     `json:"Config"`
	HostConfig HostConfig `json:"HostConfig"`
	// NetworkSettings holds what the running container got: its
	// published ports as bound on the host.
	NetworkSettings NetworkSettings `json:"NetworkSettings"`
	State           State           `json:"State"`
	RestartCount    int             `json:"RestartCount"`
	LogPath         string          `json:"LogPath"`
}

// Config is what the container runs: the image's config merged with the
// user's options, as Docker's Config.
type Config struct {
	Hostname     string              `json:"Hostname"`
	User         string              `json:"User"`
	Env          []string            `json:"Env"`
	Cmd          []string            `json:"Cmd"`
	Entrypoint   []string            `json:"Entrypoint"`
	WorkingDir   string              `json:"WorkingDir"`
	Labels       map[string]string   `json:"Labels"`
	StopSignal   string              `json:"StopSignal,omitempty"`
	StopTimeout  *int                `json:"StopTimeout,omitempty"`
	Tty          bool                `json:"Tty"`
	OpenStdin    bool                `json:"OpenStdin"`
	Healthcheck  *Healthcheck        `json:"Healthcheck,omitempty"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	MacAddress   string              `json:"MacAddress,omitempty"`
	// SdNotifyMode is what a start under systemd (NOTIFY_SOCKET set)
	// tells it: SdNotifySupervisor ("" too), SdNotifyContainer or
	// SdNotifyIgnore (see ParseSdNotify); Podman's Config has it too.
	SdNotifyMode string `json:"SdNotifyMode,omitempty"`
}

// Healthcheck is Docker's health check configuration (durations in ns).
type Healthcheck struct {
	Test        []string      `json:"Test"`
	Interval    time.Duration `json:"Interval,omitempty"`
	Timeout     time.Duration `json:"Timeout,omitempty"`
	StartPeriod time.Duration `json:"StartPeriod,omitempty"`
	Retries     int           `json:"Retries,omitempty"`
	// StartInterval is the time between checks during StartPeriod.
	StartInterval time.Duration `json:"StartInterval,omitempty"`
}

// HostConfig is how the container is set up on this host, parsed once
// when it was created.
type HostConfig struct {
	// Binds are the -v mounts as Docker shows them, bind sources made
	// absolute in the directory of the command that created it.
	Binds       []string `json:"Binds"`
	VolumesFrom []string `json:"VolumesFrom,omitempty"`
	// Mounts are all of the container's mounts (-v, --mount, --tmpfs,
	// --volumes-from and the image's VOLUMEs), in the order they are made.
	Mounts []Mount `json:"Mounts"`
	// AnonymousVolumes were made for this container (-v /path, the
	// image's VOLUME) and go with it (rm -v, --rm).
	AnonymousVolumes []string `json:"AnonymousVolumes,omitempty"`
	ReadonlyRootfs   bool     `json:"ReadonlyRootfs"`
	// NetworkMode is Docker's name for the network: private, host, none,
	// container:ID or a user-defined network's name; NetworkKind is its
	// kind (one of netns.Mode*).
	NetworkMode     string        `json:"NetworkMode"`
	NetworkKind     string        `json:"NetworkKind"`
	PortBindings    netns.PortMap `json:"PortBindings"`
	PublishAllPorts bool          `json:"PublishAllPorts"`
	DNS             []string      `json:"Dns"`
	DNSSearch       []string      `json:"DnsSearch"`
	DNSOptions      []string      `json:"DnsOptions"`
	ExtraHosts      []string      `json:"ExtraHosts"`
	CapAdd          []string      `json:"CapAdd"`
	CapDrop         []string      `json:"CapDrop"`
	Privileged      bool          `json:"Privileged"`
	// SecurityOpt are the --security-opt values as given; Security is
	// what they mean.
	SecurityOpt []string `json:"SecurityOpt"`
	Security    Security `json:"Security"`
	Init        bool     `json:"Init"`
	// InitPath is the init binary (tini) found when it was created.
	InitPath      string        `json:"InitPath,omitempty"`
	AutoRemove    bool          `json:"AutoRemove"`
	RestartPolicy RestartPolicy `json:"RestartPolicy"`
	LogConfig     LogConfig     `json:"LogConfig"`
	// Resources are the cgroup limits (container/resources.go).
	Resources Resources `json:"Resources"`
	// Isolation are the namespace modes, devices, sysctls and ulimits
	// (container/isolation.go).
	Isolation Isolation `json:"Isolation"`
}

// Security is what --security-opt asked for.
type Security struct {
	NoNewPrivileges bool `json:"NoNewPrivileges,omitempty"`
	// Seccomp is "" for Docker's default profile, "unconfined", or the
	// JSON of the profile file given (read when it was created).
	Seccomp string `json:"Seccomp,omitempty"`
}

// NetworkSettings is the running container's network, as Docker shows it.
type NetworkSettings struct {
	Ports netns.PortMap `json:"Ports"`
	// Networks are the user-defined networks it is connected to.
	Networks map[string]*EndpointSettings `json:"Networks,omitempty"`
}

// EndpointSettings is a container's place on one user-defined network.
type EndpointSettings struct {
	NetworkID string   `json:"NetworkID"`
	Aliases   []string `json:"Aliases"`
	IPAddress string   `json:"IPAddress"`
	Gateway   string   `json:"Gateway"`
	PrefixLen int      `json:"IPPrefixLen"`
	Internal  bool     `json:"Internal"`
	// IPAMConfig is the address asked for (network connect --ip).
	IPAMConfig *EndpointIPAM `json:"IPAMConfig,omitempty"`
	// IPv6Address and IPv6Gateway are the container's on an IPv6 network.
	IPv6Address   string `json:"GlobalIPv6Address,omitempty"`
	IPv6PrefixLen int    `json:"GlobalIPv6PrefixLen,omitempty"`
	IPv6Gateway   string `json:"IPv6Gateway,omitempty"`
}

// EndpointIPAM is a fixed address on a network.
type EndpointIPAM struct {
	IPv4Address string `json:"IPv4Address,omitempty"`
	IPv6Address string `json:"IPv6Address,omitempty"`
}

// PublishedPorts is what to publish at start: -p's bindings, and with -P
// every exposed port without one on a free host port.
func (c *Container) PublishedPorts() netns.PortMap {
	pm := netns.PortMap{}
	for k, v := range c.HostConfig.PortBindings {
		pm[k] = v
	}
	if c.HostConfig.PublishAllPorts {
		for p := range c.Config.ExposedPorts {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			if _, ok := pm[p]; !ok {
				pm[p] = []netns.PortBinding{{}}
			}
		}
	}
	return pm
}

// OwnNetwork reports whether c has a network namespace of its own, pinned
// by its supervisor (private or a user-defined network).
func (c *Container) OwnNetwork() bool { return netns.OwnNamespace(c.HostConfig.NetworkKind) }

// NetworkNames lists the user-defined networks of c, sorted.
func (c *Container) NetworkNames() []string {
	var out []string
	for n := range c.NetworkSettings.Networks {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Outbound reports whether c gets its own slirp4netns (rootless only:
// as root, containers leave through their bridge with NAT).
func (c *Container) Outbound() bool {
	if !paths.Rootless() {
		return false
	}
	internal := len(c.NetworkSettings.Networks) > 0
	for _, e := range c.NetworkSettings.Networks {
		internal = internal && e.Internal
	}
	return netns.Outbound(c.HostConfig.NetworkKind, internal)
}

// PublishTarget is the address published ports are forwarded to inside
// the container's namespace: the slirp4netns guest address when it has
// one, else "", its own address on its network, looked up when a client
// comes (as root it joins its bridge after the ports are bound). Never
// its loopback, as Docker: a server bound to 127.0.0.1 stays private.
func (c *Container) PublishTarget() string {
	if c.Outbound() {
		return netns.SlirpGuest
	}
	return ""
}

// RestartPolicy is Docker's: no, on-failure[:N], always, unless-stopped.
type RestartPolicy struct {
	Name              string `json:"Name"`
	MaximumRetryCount int    `json:"MaximumRetryCount"`
}

// LogConfig is the json-file log driver's settings.
type LogConfig struct {
	Type   string            `json:"Type"`
	Config map[string]string `json:"Config"`
}

// Container states, as Docker names them.
const (
	StatusCreated    = "created"
	StatusRunning    = "running"
	StatusPaused     = "paused"
	StatusRestarting = "restarting"
	StatusExited     = "exited"
	StatusDead       = "dead"
	// StatusRemoving is set by rm before it deletes anything, so that a
	// removal cut short (a kill) shows as such and rm -f finishes it.
	StatusRemoving = "removing"
)

// State is the container's run state. The supervisor writes it; Status
// is corrected on read when the supervisor is gone (see Load).
type State struct {
	Status        string       `json:"Status"`
	Running       bool         `json:"Running"`
	Paused        bool         `json:"Paused"`
	Restarting    bool         `json:"Restarting"`
	OOMKilled     bool         `json:"OOMKilled"`
	Dead          bool         `json:"Dead"`
	Pid           int          `json:"Pid"`
	ExitCode      int          `json:"ExitCode"`
	Error         string       `json:"Error"`
	StartedAt     time.Time    `json:"StartedAt"`
	FinishedAt    time.Time    `json:"FinishedAt"`
	Health        *HealthState `json:"Health,omitempty"`
	SupervisorPid int          `json:"SupervisorPid,omitempty"`
	// CreatorPid is the command that created the container, while it has
	// not been started: a run starting it holds it from prunes.
	CreatorPid int `json:"CreatorPid,omitempty"`
	// StoppedByUser is set by stop and kill so that restart policies
	// other than always leave the container stopped.
	StoppedByUser bool `json:"StoppedByUser,omitempty"`
	// RemovalInProgress is set by rm -f before it kills a running
	// container: its supervisor then leaves the clean-up to rm.
	RemovalInProgress bool `json:"RemovalInProgress,omitempty"`
}

// HealthState is Docker's State.Health.
type HealthState struct {
	Status        string      `json:"Status"` // starting, healthy, unhealthy
	FailingStreak int         `json:"FailingStreak"`
	Log           []HealthLog `json:"Log"`
}

// HealthLog is one health check result.
type HealthLog struct {
	Start    time.Time `json:"Start"`
	End      time.Time `json:"End"`
	ExitCode int       `json:"ExitCode"`
	Output   string    `json:"Output"`
}

// ContainersDir holds one directory per container.
func ContainersDir() string { return paths.ContainersDir() }

// Dir is the container's directory: its record, log and /etc files.
func (c *Container) Dir() string { return filepath.Join(ContainersDir(), c.ID) }

// RunDir holds what must not outlive a reboot: the attach socket and
// the pinned network namespace.
func (c *Container) RunDir() string {
	return filepath.Join(paths.RuntimeDir(), "c", c.ID[:20])
}

// AttachSocket is where the supervisor serves attach.
func (c *Container) AttachSocket() string { return filepath.Join(c.RunDir(), "attach") }

// NetNSPath is where the private network namespace is pinned.
func (c *Container) NetNSPath() string { return filepath.Join(c.RunDir(), "netns") }

func recordPath(id string) string { return filepath.Join(ContainersDir(), id, "container.json") }

// Save writes the record atomically (temp file, fsync, rename), then its
// line in the ps index (psindex.go), keyed by the file it wrote.
func (c *Container) Save() error {
	path := recordPath(c.ID)
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	var key recordKey
	err = writeRecord(c, path, func(f *os.File) error {
		if _, err := f.Write(data); err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &st); err != nil {
			return err
		}
		key = keyOf(&st)
		return nil
	})
	if err == nil {
		indexRecord(c, key)
	}
	return err
}

// writeRecord writes c's record at path; a --rm container's without
// syncs, as the storage library writes its volatile layer: it is removed
// at its exit, and a crash of the machine leaves it dead anyway.
func writeRecord(c *Container, path string, fill func(f *os.File) error) error {
	if c.HostConfig.AutoRemove {
		return ondisk.WriteStreamVolatile(path, 0o600, fill)
	}
	return ondisk.WriteStream(path, 0o600, fill)
}

// Update re-reads the record under the container's lock, applies fn and
// saves it, so that the supervisor and commands never lose each other's
// changes.
func Update(id string, fn func(*Container) error) (*Container, error) {
	unlock, err := Lock(id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	c, err := ReadRecord(id)
	if err != nil {
		return nil, err
	}
	if err := fn(c); err != nil {
		return c, err
	}
	return c, c.Save()
}

// Lock takes the container's own lock (flock on a file in its directory).
func Lock(id string) (func(), error) {
	dir := filepath.Join(ContainersDir(), id)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil, errdefs.NotFound("no such container: %s", id)
	}
	return ondisk.Lock(filepath.Join(dir, "lock"))
}

// ReadRecord reads a container's record by full ID, with its state
// corrected when its supervisor is gone.
func ReadRecord(id string) (*Container, error) {
	c := &Container{}
	if err := ondisk.ReadJSON(recordPath(id), c, "no such container: "+id); err != nil {
		return nil, err
	}
	c.correctState()
	return c, nil
}

// correctState tells the truth when the supervisor of a running container
// is gone (killed): the container is dead, whatever the record says.
// A supervisor records the exit before it exits, so the record is read
// again once the supervisor is seen gone: read before that last write, it
// would call a container that stopped cleanly a moment ago dead (with
// exit code 0: wait printed 0 for a container that exited 3).
func (c *Container) correctState() {
	if c.stateHolds() {
		return
	}
	var now struct{ State State }
	if ondisk.ReadJSON(recordPath(c.ID), &now, "") == nil &&
		(now.State.Status != c.State.Status || now.State.SupervisorPid != c.State.SupervisorPid) {
		c.State = now.State // written meanwhile: its supervisor's last word
		if c.stateHolds() {
			return
		}
	}
	c.State.Status = StatusDead
	c.State.Dead = true
	c.State.Running, c.State.Restarting, c.State.Paused = false, false, false
	if c.State.Error == "" {
		c.State.Error = "the container's supervisor exited unexpectedly: remove the container with rm -f"
	}
}

// stateHolds reports whether c's state needs no correction: it is
// not one a supervisor holds (running, restarting, paused), or that
// supervisor is alive.
func (c *Container) stateHolds() bool {
	switch c.State.Status {
	case StatusRunning, StatusRestarting, StatusPaused:
		return c.State.SupervisorPid > 0 && supervisorAlive(c.State.SupervisorPid, c.ID)
	}
	return true
}

// Starting reports whether the command that created c (a run) may still
// be about to start it: c is created, has no supervisor yet, and its
// creator is alive.
func (c *Container) Starting() bool {
	if c.State.Status != StatusCreated || c.State.SupervisorPid != 0 || c.State.CreatorPid == 0 {
		return false
	}
	_, err := os.Stat("/proc/" + strconv.Itoa(c.State.CreatorPid))
	return err == nil
}

// Alive reports whether pid is the supervisor of container id.
func Alive(pid int, id string) bool { return supervisorAlive(pid, id) }

// supervisorAlive reports whether pid is the supervisor of container id:
// its command line is `skiff-supervisor __supervise ID ...`. ps asks this
// for every running container, so it reads with plain system calls, from
// a handle on /proc, into a buffer it reuses; the kernel gives a command
// line whole up to the size asked, and one that fills the buffer is read
// again whole.
func supervisorAlive(pid int, id string) bool {
	dir, name := procDir(), strconv.Itoa(pid)+"/cmdline"
	if dir == unix.AT_FDCWD {
		name = "/proc/" + name
	}
	fd, err := openAt(dir, name)
	if err != nil {
		return false
	}
	buf := cmdlineBufs.Get().(*[1024]byte)
	defer cmdlineBufs.Put(buf)
	n, err := unix.Read(fd, buf[:])
	for err == unix.EINTR {
		n, err = unix.Read(fd, buf[:])
	}
	unix.Close(fd)
	data := buf[:max(n, 0)]
	if err == nil && n == len(buf) {
		data, err = os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	}
	if err != nil {
		return false
	}
	args := bytes.SplitN(data, []byte{0}, 4)
	return len(args) >= 3 && string(args[1]) == SupervisorArg && string(args[2]) == id
}

var cmdlineBufs = sync.Pool{New: func() any { return new([1024]byte) }}

// procDir is a handle on /proc, opened once; AT_FDCWD if it cannot be.
var procDir = sync.OnceValue(func() int {
	fd, err := unix.Open("/proc", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return unix.AT_FDCWD
	}
	return fd
})

// ShortID is the 12-character form of an ID.
func ShortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
