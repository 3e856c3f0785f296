package runtime

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	cstorage "go.podman.io/storage"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/internal/names"
	"github.com/skiff-project/skiff/internal/ondisk"
	"github.com/skiff-project/skiff/netns"
	"github.com/skiff-project/skiff/netns/network"
	"github.com/skiff-project/skiff/paths"
	"github.com/skiff-project/skiff/storage"
)

// Create checks what in s needs the host's state (the image, networks,
// other containers, volumes), makes the container's writable layer and
// writes its record in state created. Nothing runs yet. A failure leaves
// nothing behind.
func Create(st *storage.Store, img *storage.Image, s Spec) (_ *container.Container, retErr error) {
	if s.Restart.Name == "" {
		s.Restart.Name = "no"
	}
	if s.Log.Type == "" {
		s.Log = container.LogConfig{Type: "json-file", Config: map[string]string{}}
	}
	ports := s.Ports
	if ports == nil {
		ports = netns.PortMap{}
	}
	var userNet *network.Network
	var err error
	switch {
	case s.NetworkKind == netns.ModeUser:
		// Keep the network from being pruned until the record names it.
		unlock, err := network.Lock()
		if err != nil {
			return nil, err
		}
		defer unlock()
		if userNet, err = network.Lookup(s.Network); err != nil {
			return nil, err
		}
		s.Network = userNet.Name
	case s.NetworkKind == netns.ModePrivate && !paths.Rootless():
		// Root: Docker's default bridge with NAT instead of slirp4netns.
		if userNet, err = network.EnsureDefault(); err != nil {
			return nil, err
		}
		s.Network, s.NetworkKind = network.DefaultName, netns.ModeUser
	case s.NetworkKind == netns.ModePrivate:
		s.Network = netns.ModePrivate
	}
	if (len(ports) > 0 || s.PublishAll) && !netns.OwnNamespace(s.NetworkKind) {
		if s.Warn != nil {
			s.Warn(fmt.Sprintf("published ports are discarded with --network %s", s.Network))
		}
		ports, s.PublishAll = netns.PortMap{}, false
	}
	if s.NetworkKind == netns.ModeContainer {
		target, err := container.Lookup(strings.TrimPrefix(s.Network, "container:"))
		if err != nil {
			return nil, fmt.Errorf("--network %s: %w", s.Network, err)
		}
		s.Network = "container:" + target.ID
	}
	if err := resolveIsolation(&s, userNet, img); err != nil {
		return nil, err
	}
	var anon []string
	defer func() {
		if retErr != nil {
			removeVolumes(anon) // nothing of a failed create stays behind
		}
	}()
	if usesVolumes(s, img) {
		// Keep its volumes from being pruned until the record names them.
		unlock, err := storage.LockVolumes()
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	mounts, anon, err := resolveVolumes(s, img)
	if err != nil {
		return nil, err
	}
	ic := img.Config.Config
	c := &container.Container{
		ID: names.NewID(), Name: s.Name, Image: s.Image, ImageID: img.ID,
		Created: time.Now().UTC(),
		Config: container.Config{
			Hostname: s.Hostname, User: firstNonEmpty(s.User, ic.User),
			Env: mergeEnv(ic.Env, s.Env), Entrypoint: ic.Entrypoint, Cmd: ic.Cmd,
			WorkingDir: firstNonEmpty(s.Workdir, ic.WorkingDir), Labels: map[string]string{},
			StopSignal: firstNonEmpty(s.StopSignal, ic.StopSignal), StopTimeout: s.StopTimeout, SdNotifyMode: s.SdNotify,
			Tty: s.TTY, OpenStdin: s.Interactive, ExposedPorts: ic.ExposedPorts, MacAddress: s.MacAddress,
		},
		HostConfig: container.HostConfig{
			Mounts: mounts, VolumesFrom: s.VolumesFrom, AnonymousVolumes: anon, ReadonlyRootfs: s.ReadOnly,
			NetworkMode: s.Network, NetworkKind: s.NetworkKind, PortBindings: ports, PublishAllPorts: s.PublishAll,
			DNS: s.DNS, DNSSearch: s.DNSSearch, DNSOptions: s.DNSOptions, ExtraHosts: s.ExtraHosts,
			CapAdd: s.CapAdd, CapDrop: s.CapDrop, Privileged: s.Privileged,
			SecurityOpt: s.SecurityOpt, Security: s.Security, Init: s.Init, InitPath: s.InitPath,
			AutoRemove: s.Remove, RestartPolicy: s.Restart, LogConfig: s.Log,
			Resources: s.Resources,
			Isolation: s.Isolation,
		},
		State: container.State{Status: container.StatusCreated},
	}
	if s.StartNext {
		c.State.CreatorPid = os.Getpid()
	}
	for _, m := range mounts {
		if m.Bind != "" {
			c.HostConfig.Binds = append(c.HostConfig.Binds, m.Bind)
		}
	}
	if len(ports) > 0 || len(s.Expose) > 0 {
		// Docker lists published ports among the exposed ones.
		exposed := map[string]struct{}{}
		for k := range c.Config.ExposedPorts {
			exposed[k] = struct{}{}
		}
		for k := range ports {
			exposed[k] = struct{}{}
		}
		for _, k := range s.Expose {
			exposed[k] = struct{}{}
		}
		c.Config.ExposedPorts = exposed
	}
	maps.Copy(c.Config.Labels, ic.Labels)
	maps.Copy(c.Config.Labels, s.Labels)
	if s.EntrypointSet {
		c.Config.Entrypoint, c.Config.Cmd = s.Entrypoint, nil
	}
	if len(s.Cmd) > 0 {
		c.Config.Cmd = s.Cmd
	}
	args := append(append([]string(nil), c.Config.Entrypoint...), c.Config.Cmd...)
	if len(args) == 0 {
		return nil, errdefs.Invalid("no command specified: the image %s has no CMD or ENTRYPOINT; give one after the image name", s.Image)
	}
	c.Path, c.Args = args[0], args[1:]
	if c.Config.Healthcheck, err = healthConfig(ic.Healthcheck, s.Health); err != nil {
		return nil, err
	}
	if userNet != nil {
		c.NetworkSettings.Networks = map[string]*container.EndpointSettings{userNet.Name: {
			NetworkID: userNet.ID, Aliases: s.Aliases, Gateway: userNet.Gateway, Internal: userNet.Internal,
		}}
	}
	if c.Name == "" {
		c.Name = randomName() + "_" + c.ID[:4]
	}
	if err := container.ValidName(c.Name); err != nil {
		return nil, err
	}
	raw := st.Raw()
	if s.Name != "" {
		// Named creates take the names' lock from the check of the name to
		// the record, so that a layer holding a name without a record is
		// known to be left by an interrupted create, not one in progress.
		unlock, err := ondisk.Lock(filepath.Join(paths.ContainersDir(), ".names.lock"))
		if err != nil {
			return nil, err
		}
		defer unlock()
		if err := takeOverName(raw, c.Name); err != nil {
			return nil, err
		}
	}
	_, err = raw.CreateContainer(c.ID, []string{c.Name}, img.ID, "", "", storageOptions(s.Isolation, s.Remove))
	if errors.Is(err, cstorage.ErrDuplicateName) && s.Name != "" && dropOrphanLayer(raw, c.Name) {
		_, err = raw.CreateContainer(c.ID, []string{c.Name}, img.ID, "", "", storageOptions(s.Isolation, s.Remove))
	}
	if err != nil {
		if errors.Is(err, cstorage.ErrDuplicateName) {
			return nil, fmt.Errorf("container name %q is already in use: remove that container or choose another --name: %w", c.Name, errdefs.ErrConflict)
		}
		return nil, fmt.Errorf("creating container layer: %w", err)
	}
	if err := os.MkdirAll(c.Dir(), 0o700); err != nil {
		_ = raw.DeleteContainer(c.ID)
		return nil, err
	}
	c.LogPath = filepath.Join(c.Dir(), c.ID+"-json.log")
	if err := c.Save(); err != nil {
		_ = raw.DeleteContainer(c.ID)
		_ = os.RemoveAll(c.Dir())
		return nil, err
	}
	if s.Name != "" {
		container.LinkName(c.Name, c.ID) // commands by this name read one record
	}
	return c, nil
}

// takeOverName makes sure no record holds a name the storage library
// would give out again: a container whose removal was cut short (its
// layer is gone, its record is not) is removed now; any other holder is
// a conflict.
func takeOverName(raw cstorage.Store, name string) error {
	other, err := container.ByName(name)
	if err != nil || other == nil {
		return err
	}
	if _, err := raw.Container(other.ID); err != nil && isUnknownContainer(err) &&
		(other.State.SupervisorPid == 0 || !container.Alive(other.State.SupervisorPid, other.ID)) {
		_ = os.RemoveAll(other.RunDir())
		return os.RemoveAll(other.Dir())
	}
	if other.State.Status == container.StatusRemoving {
		return fmt.Errorf("container name %q is held by %s, whose removal was interrupted: finish it with skiff rm -f %s: %w", name, container.ShortID(other.ID), name, errdefs.ErrConflict)
	}
	return fmt.Errorf("container name %q is already in use by %s: remove that container or choose another --name: %w", name, container.ShortID(other.ID), errdefs.ErrConflict)
}

// dropOrphanLayer deletes the storage library's container named name when
// no record names it: left by a create killed between making the layer
// and writing the record. The caller holds the names' lock.
func dropOrphanLayer(raw cstorage.Store, name string) bool {
	sc, err := raw.Container(name)
	if err != nil {
		return false
	}
	if _, err := container.ReadRecord(sc.ID); !errors.Is(err, errdefs.ErrNotFound) {
		return false
	}
	_, _ = raw.Unmount(sc.ID, true)
	return raw.DeleteContainer(sc.ID) == nil
}

// mergeEnv overrides the image's variables with the user's, keeping order.
func mergeEnv(image, user []string) []string {
	var order []string
	vals := map[string]string{}
	for _, kv := range append(append([]string(nil), image...), user...) {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = kv
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, vals[k])
	}
	return out
}

// healthConfig merges the image's HEALTHCHECK with the --health-* flags.
func healthConfig(ih *v1.HealthConfig, o HealthOptions) (*container.Healthcheck, error) {
	var h *container.Healthcheck
	if ih != nil && len(ih.Test) > 0 && ih.Test[0] != "NONE" {
		h = &container.Healthcheck{Test: ih.Test, Interval: ih.Interval, Timeout: ih.Timeout, StartPeriod: ih.StartPeriod, Retries: ih.Retries}
	}
	if len(o.Test) > 0 {
		switch o.Test[0] {
		case "NONE":
			o.None = true
		case "CMD", "CMD-SHELL":
			if len(o.Test) < 2 || o.Test[0] == "CMD-SHELL" && len(o.Test) != 2 {
				return nil, errdefs.Invalid("invalid health check test %q: want [\"CMD\", arg...] or [\"CMD-SHELL\", command]", o.Test)
			}
		default:
			return nil, errdefs.Invalid("invalid health check test %q: it starts with CMD, CMD-SHELL or NONE", o.Test)
		}
	}
	if o.None {
		if o.Cmd != "" || o.Interval != 0 || o.Timeout != 0 || o.Retries != 0 || o.StartPeriod != 0 || o.StartInterval != 0 {
			return nil, errdefs.Invalid("--no-healthcheck conflicts with --health-* options")
		}
		// Docker records it, so inspect shows it and commit keeps it.
		return &container.Healthcheck{Test: []string{"NONE"}}, nil
	}
	if o.Cmd != "" {
		o.Test = []string{"CMD-SHELL", o.Cmd}
	}
	if len(o.Test) > 0 {
		if h == nil {
			h = &container.Healthcheck{}
		}
		h.Test = o.Test
	}
	if h == nil {
		if o.Interval != 0 || o.Timeout != 0 || o.Retries != 0 || o.StartPeriod != 0 || o.StartInterval != 0 {
			return nil, errdefs.Invalid("--health-interval, --health-timeout, --health-retries, --health-start-period and --health-start-interval need --health-cmd or an image HEALTHCHECK")
		}
		return nil, nil
	}
	if o.Interval < 0 || o.Timeout < 0 || o.Retries < 0 || o.StartPeriod < 0 || o.StartInterval < 0 {
		return nil, errdefs.Invalid("health check durations and retries must not be negative")
	}
	if o.Interval != 0 {
		h.Interval = o.Interval
	}
	if o.Timeout != 0 {
		h.Timeout = o.Timeout
	}
	if o.StartPeriod != 0 {
		h.StartPeriod = o.StartPeriod
	}
	if o.Retries != 0 {
		h.Retries = o.Retries
	}
	if o.StartInterval != 0 {
		h.StartInterval = o.StartInterval
	}
	return h, nil
}

// resolveVolumes returns the container's mounts: its own, those of
// --volumes-from containers (read-only or read-write as asked), and a
// fresh anonymous volume for every image VOLUME not covered by another
// mount. Named volumes that do not exist yet are created; volume mounts
// without a name get a new anonymous volume, whose name is kept in the
// mount so that every start mounts the same one.
func resolveVolumes(s Spec, img *storage.Image) (mounts []container.Mount, anon []string, err error) {
	newAnon := func() (string, error) {
		v, err := storage.CreateVolumeLocked("", storage.VolumeOptions{Anonymous: true}, false)
		if err != nil {
			return "", err
		}
		anon = append(anon, v.Name)
		return v.Name, nil
	}
	mounts = append(mounts, s.Mounts...)
	for _, ref := range s.VolumesFrom {
		name, mode, _ := strings.Cut(ref, ":")
		src, err := container.Lookup(name)
		if err != nil {
			return nil, anon, fmt.Errorf("--volumes-from %s: %w", name, err)
		}
		for _, m := range src.HostConfig.Mounts {
			if m.Type == container.MountTmpfs {
				continue
			}
			if mode != "" {
				m.ReadOnly = mode == "ro"
			}
			mounts = append(mounts, m)
		}
	}
	covered := map[string]bool{}
	for i, m := range mounts {
		covered[m.Destination] = true
		if m.Type != container.MountVolume {
			continue
		}
		if m.Source == "" {
			if mounts[i].Source, err = newAnon(); err != nil {
				return nil, anon, err
			}
			if m.Bind != "" {
				mounts[i].Bind = mounts[i].Source + ":" + m.Bind
			}
			continue
		}
		if _, err := storage.CreateVolumeLocked(m.Source, storage.VolumeOptions{}, true); err != nil {
			return nil, anon, err
		}
	}
	var imageVols []string
	for p := range img.Config.Config.Volumes {
		imageVols = append(imageVols, filepath.Clean(p))
	}
	sort.Strings(imageVols)
	for _, p := range imageVols {
		if covered[p] {
			continue
		}
		name, err := newAnon()
		if err != nil {
			return nil, anon, err
		}
		mounts = append(mounts, container.Mount{Type: container.MountVolume, Source: name, Destination: p})
	}
	return mounts, anon, nil
}

// usesVolumes reports whether creating the container makes or names
// volumes (so that Create holds the volumes' container.Lock).
func usesVolumes(s Spec, img *storage.Image) bool {
	if len(s.VolumesFrom) > 0 || len(img.Config.Config.Volumes) > 0 {
		return true
	}
	for _, m := range s.Mounts {
		if m.Type == container.MountVolume {
			return true
		}
	}
	return false
}

// removeVolumes deletes a container's anonymous volumes.
func removeVolumes(names []string) {
	for _, n := range names {
		_ = storage.RemoveVolume(n, nil)
	}
}
