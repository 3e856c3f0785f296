package engine

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/build"
	ctypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	registry "github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/api/types/volume"
	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/paths"
	skiffregistry "github.com/skiff-project/skiff/registry"
	"github.com/skiff-project/skiff/storage"
	"github.com/skiff-project/skiff/supervisor"
	"github.com/skiff-project/skiff/userns"
)

// API versions of the Docker Engine API skiff's answers follow.
const (
	APIVersion    = "1.57"
	MinAPIVersion = "1.24"
)

// Version, GitCommit and BuildTime describe this build; the Makefile
// sets them (main passes Version in).
var (
	Version   = "dev"
	GitCommit = "unknown"
	BuildTime = "unknown"
)

// DefaultRuntime is the OCI runtime skiff runs containers with: runc's
// libcontainer, in the skiff binary itself.
const DefaultRuntime = "libcontainer"

// SystemVersion is Docker's /version answer: the engine is this binary,
// so it needs no engine value (nor the user's namespace).
func SystemVersion() system.VersionResponse {
	return system.VersionResponse{
		Platform: system.PlatformInfo{Name: "skiff"}, Version: Version, APIVersion: APIVersion,
		MinAPIVersion: MinAPIVersion, Os: goruntime.GOOS, Arch: goruntime.GOARCH, GoVersion: goruntime.Version(),
		KernelVersion: KernelVersion(), GitCommit: GitCommit, BuildTime: BuildTime,
		Components: []system.ComponentVersion{{Name: "Engine", Version: Version, Details: map[string]string{
			"ApiVersion": APIVersion, "MinAPIVersion": MinAPIVersion, "GitCommit": GitCommit, "GoVersion": goruntime.Version(),
			"Os": goruntime.GOOS, "Arch": goruntime.GOARCH, "KernelVersion": KernelVersion(), "BuildTime": BuildTime,
		}}},
	}
}

// KernelVersion is the running kernel's release.
func KernelVersion() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

// Info is Docker's /info answer as Docker sends it to clients of API
// 1.47 (with the *Commit.Expected and BridgeNfIp*tables fields), and
// where skiff keeps its logs.
type Info struct {
	system.Info
	ContainerdCommit  Commit
	RuncCommit        Commit
	InitCommit        Commit
	BridgeNfIptables  bool
	BridgeNfIp6tables bool
	// SupervisorLog is where each container's supervisor logs what it
	// does, ID standing for the container's ID; skiff's own commands log
	// to stderr at --log-level.
	SupervisorLog string `json:"SkiffSupervisorLog"`
}

// Commit is a component's commit, and the one expected (the same here).
type Commit struct {
	ID       string
	Expected string
}

// SystemInfo describes this engine and host.
func (e *Engine) SystemInfo(ctx context.Context) (*Info, error) {
	ctrs, err := container.List()
	if err != nil {
		return nil, err
	}
	var nImages int
	if err := e.withStore(func(st *storage.Store) error {
		imgs, err := st.Images()
		nImages = len(imgs)
		return err
	}); err != nil {
		return nil, err
	}
	info := newInfo(ctrs, nImages)
	info.Swarm = e.systemInfoSwarm(ctx)
	return info, nil
}

// systemInfoSwarm is /info's Swarm: skiff is always a one-node swarm of its
// user, this host its one manager (services.go).
func (e *Engine) systemInfoSwarm(ctx context.Context) swarm.Info {
	si := swarm.Info{
		NodeAddr: "127.0.0.1", LocalNodeState: swarm.LocalNodeStateActive, ControlAvailable: true,
		Nodes: 1, Managers: 1, RemoteManagers: []swarm.Peer{},
	}
	nodes, err := e.NodeList(ctx, nil)
	if err == nil && len(nodes) == 0 {
		err = errors.New("no node")
	}
	if err != nil {
		si.Error = "cannot read this host's node: " + errdefs.Message(err)
		return si
	}
	si.NodeID = nodes[0].ID
	if ms := nodes[0].ManagerStatus; ms != nil && ms.Addr != "" {
		si.RemoteManagers = append(si.RemoteManagers, swarm.Peer{NodeID: si.NodeID, Addr: ms.Addr})
	}
	sw, err := e.SwarmInspect(ctx)
	if err != nil {
		si.Error = "cannot read the swarm: " + errdefs.Message(err)
		return si
	}
	si.Cluster = &sw.ClusterInfo
	return si
}

// newInfo is the /info answer for these containers and this many images.
func newInfo(ctrs []*container.Container, images int) *Info {
	info := &Info{SupervisorLog: filepath.Join(paths.ContainersDir(), "ID", supervisor.DiagFile)}
	in := &info.Info
	for _, c := range ctrs {
		switch {
		case c.State.Paused:
			in.ContainersPaused++
		case c.State.Running:
			in.ContainersRunning++
		default:
			in.ContainersStopped++
		}
	}
	in.ID, in.Containers, in.Images = "skiff", len(ctrs), images
	in.Driver, in.DockerRootDir = "overlay", paths.DataDir()
	in.DriverStatus = [][2]string{{"Backing Filesystem", "overlay"}}
	in.CgroupVersion, in.CgroupDriver = cgroupVersion(), "cgroupfs"
	in.SecurityOptions = []string{"name=seccomp,profile=builtin"}
	if paths.Rootless() {
		in.SecurityOptions = append(in.SecurityOptions, "name=rootless")
	}
	var si unix.Sysinfo_t
	_ = unix.Sysinfo(&si)
	in.KernelVersion, in.OperatingSystem, in.OSType, in.Architecture = KernelVersion(), osName(), "linux", goruntime.GOARCH
	in.NCPU, in.MemTotal = goruntime.NumCPU(), int64(si.Totalram)*int64(si.Unit)
	in.Name, _ = os.Hostname()
	in.ServerVersion, in.DefaultRuntime, in.LoggingDriver = Version, DefaultRuntime, "json-file"
	in.SystemTime = time.Now().Format(time.RFC3339Nano)
	in.IndexServerAddress = "https://index.docker.io/v1/"
	exe, _ := os.Executable()
	in.Runtimes = map[string]system.RuntimeWithStatus{DefaultRuntime: {Runtime: system.Runtime{Path: exe}}}
	in.Warnings = []string{}
	var err error
	if in.RegistryConfig, err = registryServiceConfig(); err != nil {
		in.Warnings = append(in.Warnings, "WARNING: "+errdefs.Message(err))
	}
	if paths.Rootless() && in.CgroupVersion == "1" {
		in.Warnings = append(in.Warnings, "WARNING: resource limits are not available rootless on cgroup v1: containers run without them")
	}
	info.ContainerdCommit = Commit{ID: "N/A", Expected: "N/A"}
	runc := moduleVersion("github.com/opencontainers/runc")
	info.RuncCommit = Commit{ID: runc, Expected: runc}
	info.InitCommit = Commit{ID: "N/A", Expected: "N/A"}
	return info
}

// registryServiceConfig is /info's RegistryConfig: the mirrors and
// insecure registries in effect (daemon.json, registries.conf), as
// docker info lists them. With a configuration that cannot be read it
// is Docker's default, with the error.
func registryServiceConfig() (*registry.ServiceConfig, error) {
	sc := &registry.ServiceConfig{
		IndexConfigs:          map[string]*registry.IndexInfo{"docker.io": {Name: "docker.io", Mirrors: []string{}, Secure: true, Official: true}},
		InsecureRegistryCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
		Mirrors:               []string{},
	}
	cfg, err := skiffregistry.LoadConfig()
	if err != nil {
		return sc, err
	}
	hosts, cidrs := cfg.InsecureRegistries()
	sc.InsecureRegistryCIDRs = cidrs
	sc.Mirrors = append(sc.Mirrors, cfg.DockerIOMirrors()...)
	sc.IndexConfigs["docker.io"].Mirrors = sc.Mirrors
	for _, h := range hosts {
		sc.IndexConfigs[h] = &registry.IndexInfo{Name: h, Mirrors: []string{}}
	}
	for prefix, ms := range cfg.MirrorsOf() {
		if prefix == "docker.io" {
			continue
		}
		if sc.IndexConfigs[prefix] == nil {
			sc.IndexConfigs[prefix] = &registry.IndexInfo{Name: prefix, Mirrors: []string{}, Secure: true}
		}
		sc.IndexConfigs[prefix].Mirrors = ms
	}
	return sc, nil
}

// Rootless reports whether the engine serves an unprivileged user.
func Rootless() bool { return paths.Rootless() }

// moduleVersion is the version of a module built into this binary.
func moduleVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == path {
				return d.Version
			}
		}
	}
	return "N/A"
}

func cgroupVersion() string {
	var sfs unix.Statfs_t
	if unix.Statfs("/sys/fs/cgroup", &sfs) == nil && sfs.Type == unix.CGROUP2_SUPER_MAGIC {
		return "2"
	}
	return "1"
}

func osName() string {
	data, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return "Linux"
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "Linux"
}

// SystemDF reports the disk use of images, containers, volumes and the
// build cache, each object with its size and use.
func (e *Engine) SystemDF(ctx context.Context) (*system.DiskUsage, error) {
	du := &system.DiskUsage{
		ImageUsage: &image.DiskUsage{Items: []image.Summary{}}, ContainerUsage: &ctypes.DiskUsage{Items: []ctypes.Summary{}},
		VolumeUsage: &volume.DiskUsage{Items: []volume.Volume{}}, BuildCacheUsage: &build.DiskUsage{Items: []build.CacheRecord{}},
	}
	ctrs, err := container.List()
	if err != nil {
		return nil, err
	}
	err = e.withStore(func(st *storage.Store) error {
		imgs, err := st.Images()
		if err != nil {
			return err
		}
		used := map[string]int64{}
		cu := du.ContainerUsage
		for _, c := range ctrs {
			used[c.ImageID]++
			sm := summarize(c)
			sm.SizeRw, sm.SizeRootFs = containerSizes(st, c.ID, c.ImageID)
			cu.Items = append(cu.Items, sm)
			cu.TotalSize += sm.SizeRw
			if c.State.Running {
				cu.ActiveCount++
			} else {
				cu.Reclaimable += sm.SizeRw
			}
		}
		cu.TotalCount = int64(len(ctrs))
		iu := du.ImageUsage
		for _, img := range imgs {
			sm := imageSummary(img)
			sm.Containers = used[img.ID]
			iu.Items = append(iu.Items, sm)
			iu.TotalSize += img.Size
			if used[img.ID] > 0 {
				iu.ActiveCount++
			} else {
				iu.Reclaimable += img.Size
			}
		}
		iu.TotalCount = int64(len(imgs))
		return nil
	})
	if err != nil {
		return nil, err
	}
	vols, err := volumesInUse(true)
	if err != nil {
		return nil, err
	}
	vu := du.VolumeUsage
	vu.Items = append(vu.Items, vols...)
	for _, v := range vols {
		vu.TotalSize += v.UsageData.Size
		if v.UsageData.RefCount > 0 {
			vu.ActiveCount++
		} else {
			vu.Reclaimable += v.UsageData.Size
		}
	}
	vu.TotalCount = int64(len(vols))
	return du, nil
}

// untilOnly is the until filter of f, the one the build cache takes.
func untilOnly(f Filters) Filters { return Filters{"until": f["until"]} }

// SystemPruneOptions are `system prune`'s.
type SystemPruneOptions struct {
	All     bool // every unused image, not only dangling ones
	Volumes bool // unused anonymous volumes too
	Filters Filters
}

// SystemPruneReport is what SystemPrune removed.
type SystemPruneReport struct {
	Containers     []string
	Networks       []string
	Images         []string // image IDs and build cache objects
	Volumes        []string
	SpaceReclaimed uint64
}

// SystemPrune removes stopped containers, unused networks, dangling (or
// unused) images with the build cache and, with Volumes, unused anonymous
// volumes, in that order, as Docker does.
func (e *Engine) SystemPrune(ctx context.Context, o SystemPruneOptions) (*SystemPruneReport, error) {
	rep := &SystemPruneReport{}
	cr, err := e.ContainerPrune(ctx, o.Filters)
	if err != nil {
		return rep, err
	}
	rep.Containers, rep.SpaceReclaimed = cr.ContainersDeleted, cr.SpaceReclaimed
	nr, err := e.NetworkPrune(ctx, o.Filters)
	if err != nil {
		return rep, err
	}
	rep.Networks = nr.NetworksDeleted
	ir, err := e.ImagePrune(ctx, o.All, o.Filters)
	if err != nil {
		return rep, err
	}
	for _, d := range ir.ImagesDeleted {
		rep.Images = append(rep.Images, d.Deleted)
	}
	cache, err := e.BuildPrune(ctx, BuildPruneOptions{Filters: untilOnly(o.Filters)}) // Docker's system prune takes the build cache too
	if err != nil {
		return rep, err
	}
	rep.Images = append(rep.Images, cache...)
	if o.Volumes {
		vr, err := e.VolumePrune(ctx, false, Filters{})
		if err != nil {
			return rep, err
		}
		rep.Volumes = vr.VolumesDeleted
		rep.SpaceReclaimed += vr.SpaceReclaimed
	}
	return rep, nil
}

// SystemMigrate resets the user's namespace: the next command creates a
// fresh one with the current /etc/subuid ranges. It needs no engine (and
// must not enter the namespace it resets).
func SystemMigrate() error {
	if !paths.Rootless() {
		return nil
	}
	return userns.Reset()
}

// Login checks credentials with a registry and stores them in
// ~/.docker/config.json (or its credential helper). It needs no engine.
func Login(ctx context.Context, server, user, password string, tlsVerify *bool) error {
	return skiffregistry.Login(ctx, server, user, password, tlsVerify)
}

// CheckLogin checks credentials with a registry and stores nothing.
func CheckLogin(ctx context.Context, server, user, password string, tlsVerify *bool) error {
	return skiffregistry.CheckLogin(ctx, server, user, password, tlsVerify)
}

// DefaultSocket is where `system service` serves the Docker API unless
// told otherwise: the user's runtime directory (root: /run/skiff).
func DefaultSocket() string { return filepath.Join(paths.RuntimeDir(), "skiff.sock") }

// DockerHost is the DOCKER_HOST of this user's API service (DefaultSocket)
// and whether something listens there: a running skiff system service, or
// systemd's skiff.socket, which starts one on the first request.
func DockerHost() (host string, listening bool) {
	sock := DefaultSocket()
	return "unix://" + sock, unixListening(sock)
}

// unixListening reports whether a listening unix socket is bound to path,
// from /proc/net/unix (Flags has __SO_ACCEPTCON): connecting to find out
// would start a socket-activated service.
func unixListening(path string) bool {
	data, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(data), "\n")[1:] {
		// Num RefCount Protocol Flags Type St Inode Path
		f := strings.Fields(l)
		if len(f) < 8 || strings.Join(f[7:], " ") != path {
			continue
		}
		if flags, err := strconv.ParseUint(f[3], 16, 32); err == nil && flags&0x10000 != 0 {
			return true
		}
	}
	return false
}

// Logout forgets a registry's credentials.
func Logout(server string) error { return skiffregistry.Logout(server) }
