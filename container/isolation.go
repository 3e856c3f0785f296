package container

// Isolation are a container's namespace modes, devices, sysctls and
// ulimits, parsed: every value is checked, other containers are named by
// ID, sizes are bytes.
type Isolation struct {
	// PidMode is "" (own namespace), "host" or "container:ID".
	PidMode string `json:"PidMode,omitempty"`
	// IpcMode is private (also ""), shareable, host, none or container:ID.
	IpcMode string `json:"IpcMode,omitempty"`
	// UTSMode is "" or "host".
	UTSMode string `json:"UTSMode,omitempty"`
	// UsernsMode is "" (skiff's user namespace), host or keep-id;
	// KeepIDUID and KeepIDGID are the user's ids that keep-id maps.
	UsernsMode string `json:"UsernsMode,omitempty"`
	KeepIDUID  int    `json:"KeepIDUID,omitempty"`
	KeepIDGID  int    `json:"KeepIDGID,omitempty"`
	// CgroupnsMode is host or private.
	CgroupnsMode string `json:"CgroupnsMode,omitempty"`
	// GroupAdd are --group-add's groups, names resolved at start in the
	// image's /etc/group.
	GroupAdd []string          `json:"GroupAdd,omitempty"`
	Sysctls  map[string]string `json:"Sysctls,omitempty"`
	Ulimits  []Ulimit          `json:"Ulimits,omitempty"`
	// ShmSize is the size of /dev/shm in bytes (Docker's default 64 MiB).
	ShmSize           int64    `json:"ShmSize,omitempty"`
	Devices           []Device `json:"Devices,omitempty"`
	DeviceCgroupRules []string `json:"DeviceCgroupRules,omitempty"`
	// CDIDevices are fully qualified CDI device names (vendor/class=name)
	// from --gpus and --device, injected from their CDI specs at start.
	CDIDevices []string `json:"CDIDevices,omitempty"`
	// GPUs is --gpus as given (Docker's DeviceRequests in inspect).
	GPUs        string            `json:"GPUs,omitempty"`
	Annotations map[string]string `json:"Annotations,omitempty"`
	Domainname  string            `json:"Domainname,omitempty"`
	// IPv4Address and IPv6Address are --ip and --ip6 on the container's
	// user-defined network.
	IPv4Address string `json:"IPv4Address,omitempty"`
	IPv6Address string `json:"IPv6Address,omitempty"`
	// Links are --link's NAME:ALIAS, the name resolved to the container's ID.
	Links []Link `json:"Links,omitempty"`
	// APISocket is the API socket bound at /var/run/docker.sock
	// (--use-api-socket), "" for none.
	APISocket string `json:"APISocket,omitempty"`
	// Platform is --platform (os/arch[/variant]): the image must be of it.
	Platform string `json:"Platform,omitempty"`
}

// Ulimit is one --ulimit: a resource's soft and hard limit.
type Ulimit struct {
	Name string `json:"Name"`
	Soft int64  `json:"Soft"`
	Hard int64  `json:"Hard"`
}

// Device is one --device: a host device node and where it appears.
type Device struct {
	PathOnHost        string `json:"PathOnHost"`
	PathInContainer   string `json:"PathInContainer"`
	CgroupPermissions string `json:"CgroupPermissions"`
}

// Link is one --link: another container reachable under Alias.
type Link struct {
	ID    string `json:"ID"`
	Name  string `json:"Name"`
	Alias string `json:"Alias"`
}

// DefaultShmSize is Docker's /dev/shm size.
const DefaultShmSize = 64 << 20

// IpcModeOf is the IPC mode as Docker shows it: private when unset.
func (i Isolation) IpcModeOf() string {
	if i.IpcMode == "" {
		return "private"
	}
	return i.IpcMode
}
