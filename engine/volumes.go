package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/api/types/volume"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/events"
	"github.com/skiff-project/skiff/storage"
)

// VolumeCreateOptions are `volume create`'s.
type VolumeCreateOptions struct {
	Driver  string // only local
	Labels  map[string]string
	Options map[string]string // type, device, o: a file system mounted on the volume (see storage.MountVolume)
}

// VolumeCreate makes a volume; an empty name gets a random one.
func (e *Engine) VolumeCreate(ctx context.Context, name string, o VolumeCreateOptions) (*volume.Volume, error) {
	if o.Driver != "" && o.Driver != "local" {
		return nil, errdefs.Invalid("invalid --driver %q: only local exists", o.Driver)
	}
	v, err := storage.CreateVolume(name, storage.VolumeOptions{Labels: o.Labels, Options: o.Options}, false)
	if err != nil {
		return nil, err
	}
	volumeEvent("create", v.Name)
	out := dockerVolume(v)
	return &out, nil
}

func dockerVolume(v *storage.Volume) volume.Volume {
	return volume.Volume{
		CreatedAt: v.CreatedAt.Format(time.RFC3339), Driver: v.Driver, Labels: v.Labels,
		Mountpoint: v.Mountpoint, Name: v.Name, Options: v.Options, Scope: v.Scope,
	}
}

// VolumeInspect returns a volume's document.
func (e *Engine) VolumeInspect(ctx context.Context, name string) (*volume.Volume, error) {
	v, err := storage.GetVolume(name)
	if err != nil {
		return nil, err
	}
	out := dockerVolume(v)
	return &out, nil
}

// VolumeList lists volumes by name; UsageData.RefCount is the number of
// containers using each. Filters: name, label, dangling, driver.
func (e *Engine) VolumeList(ctx context.Context, f Filters) ([]volume.Volume, error) {
	if err := f.check("name", "label", "dangling", "driver"); err != nil {
		return nil, err
	}
	dangling, err := f.boolValue("dangling")
	if err != nil {
		return nil, err
	}
	vols, err := volumesInUse(false)
	if err != nil {
		return nil, err
	}
	out := []volume.Volume{}
	for _, v := range vols {
		if f.any("name", func(s string) bool { return strings.Contains(v.Name, s) }) &&
			f.any("driver", func(s string) bool { return v.Driver == s }) &&
			f.labels("label", v.Labels) && (dangling == nil || *dangling == (v.UsageData.RefCount == 0)) {
			out = append(out, v)
		}
	}
	return out, nil
}

// volumesInUse lists every volume with UsageData: how many containers use
// it and, with size, its disk use (else -1).
func volumesInUse(size bool) ([]volume.Volume, error) {
	vols, err := storage.Volumes()
	if err != nil {
		return nil, err
	}
	users, err := volumeUsersAll()
	if err != nil {
		return nil, err
	}
	out := make([]volume.Volume, 0, len(vols))
	for _, v := range vols {
		dv := dockerVolume(v)
		dv.UsageData = &volume.UsageData{RefCount: int64(len(users[v.Name])), Size: -1}
		if size {
			dv.UsageData.Size = storage.VolumeSize(v)
		}
		out = append(out, dv)
	}
	return out, nil
}

// VolumeRemove removes a volume no container uses; with force a missing
// volume is no error.
func (e *Engine) VolumeRemove(ctx context.Context, name string, force bool) error {
	err := storage.RemoveVolume(name, func(v *storage.Volume) ([]string, error) { return volumeUsers(v.Name) })
	if force && isNotFound(err) {
		return nil
	}
	if err == nil {
		volumeEvent("destroy", name)
	}
	return err
}

// VolumePrune removes the anonymous volumes (with all, every volume) no
// container uses; filters: label, label!. It reports the names and space.
func (e *Engine) VolumePrune(ctx context.Context, all bool, f Filters) (volume.PruneReport, error) {
	var rep volume.PruneReport
	if err := f.check("label", "label!", "all"); err != nil {
		return rep, err
	}
	if a, err := f.boolValue("all"); err != nil {
		return rep, err
	} else if a != nil {
		all = *a
	}
	keep := func(v *storage.Volume) bool {
		return !f.labels("label", v.Labels) || labelsMatchAny(f["label!"], v.Labels)
	}
	removed, size, err := storage.PruneVolumes(all, keep, func(v *storage.Volume) ([]string, error) { return volumeUsers(v.Name) })
	rep.VolumesDeleted, rep.SpaceReclaimed = removed, uint64(size)
	for _, name := range removed {
		volumeEvent("destroy", name)
	}
	if err == nil {
		pruneEvent(events.VolumeEventType, &rep.SpaceReclaimed)
	}
	return rep, err
}

// volumeUsers names the containers (any state) whose mounts use a volume.
func volumeUsers(name string) ([]string, error) {
	all, err := volumeUsersAll()
	return all[name], err
}

// volumeUsersAll maps each volume to the containers that use it.
func volumeUsersAll() (map[string][]string, error) {
	all, err := container.List()
	if err != nil {
		return nil, fmt.Errorf("listing the containers that use volumes: %w", err)
	}
	out := map[string][]string{}
	for _, c := range all {
		for _, m := range c.HostConfig.Mounts {
			if m.Type == container.MountVolume {
				out[m.Source] = append(out[m.Source], c.Name)
			}
		}
	}
	for _, users := range out {
		sort.Strings(users)
	}
	return out, nil
}
