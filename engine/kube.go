//go:build !skiff_nokube

package engine

// Kubernetes YAML out and in (package kube does the translation): `kube
// generate` describes services and containers as Kubernetes objects;
// `kube play` runs a YAML file's Deployments as services and its Pods as
// containers sharing a network namespace, everything labelled with the
// file so that `kube down` removes exactly that.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	mcontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/kube"
	"github.com/skiff-project/skiff/netns"
	"github.com/skiff-project/skiff/paths"
	"github.com/skiff-project/skiff/services"
)

// KubeGenerate returns the YAML (several documents) describing the
// services and containers named: each service a Deployment (and a
// Service, PersistentVolumeClaims), the containers together one Pod or
// Deployment. What Kubernetes cannot express is a warning.
func (e *Engine) KubeGenerate(ctx context.Context, refs []string, o KubeGenerateOptions) ([]byte, error) {
	switch o.Type {
	case "", "pod", "deployment":
	default:
		return nil, errdefs.Invalid("invalid --type %q: use pod or deployment", o.Type)
	}
	if len(refs) == 0 {
		return nil, errdefs.Invalid("name at least one container or service")
	}
	var objs []kube.Object
	var ctrs []*container.Container
	for _, ref := range refs {
		svc, serr := services.Lookup(ref)
		if serr == nil && (svc.Spec.Name == ref || svc.ID == ref) {
			out, warnings, err := kube.GenerateService(svc.Spec)
			if err != nil {
				return nil, err
			}
			e.warnAll(warnings)
			objs = append(objs, out...)
			continue
		}
		c, err := container.Lookup(ref)
		switch {
		case err == nil:
			ctrs = append(ctrs, c)
		case serr == nil:
			out, warnings, err := kube.GenerateService(svc.Spec)
			if err != nil {
				return nil, err
			}
			e.warnAll(warnings)
			objs = append(objs, out...)
		case errors.Is(err, errdefs.ErrNotFound):
			return nil, errdefs.NotFound("no such container or service: %s", ref)
		default:
			return nil, err
		}
	}
	if len(ctrs) > 0 {
		var kcs []kube.Container
		for _, c := range ctrs {
			kc, err := e.kubeContainer(ctx, c)
			if err != nil {
				return nil, err
			}
			kcs = append(kcs, kc)
		}
		out, warnings, err := kube.GeneratePod(podName(ctrs), kcs, o.Type == "deployment")
		if err != nil {
			return nil, err
		}
		e.warnAll(warnings)
		objs = append(objs, out...)
	}
	return kube.Marshal(objs)
}

func (e *Engine) warnAll(ws []string) {
	for _, w := range ws {
		e.warn(w)
	}
}

// podName is the pod the containers were played from, or the first
// one's name (with -pod when there are several).
func podName(cs []*container.Container) string {
	p := cs[0].Config.Labels[kube.LabelPod]
	for _, c := range cs {
		if c.Config.Labels[kube.LabelPod] != p {
			p = ""
		}
	}
	switch {
	case p != "":
		return p
	case len(cs) == 1:
		return cs[0].Name
	}
	return cs[0].Name + "-pod"
}

// kubeContainer is a container as package kube takes it: what the user
// gave it beyond its image.
func (e *Engine) kubeContainer(ctx context.Context, c *container.Container) (kube.Container, error) {
	img := &mcontainer.Config{}
	if ii, err := e.ImageInspect(ctx, c.ImageID); err == nil && ii.Config != nil {
		img = ii.Config.Config
	}
	cfg, hc := c.Config, c.HostConfig
	kc := kube.Container{
		Name:       c.Name,
		Restart:    hc.RestartPolicy.Name,
		Privileged: hc.Privileged,
		Spec: swarm.ContainerSpec{
			Image:          c.Image,
			TTY:            cfg.Tty,
			OpenStdin:      cfg.OpenStdin,
			ReadOnly:       hc.ReadonlyRootfs,
			CapabilityAdd:  hc.CapAdd,
			CapabilityDrop: hc.CapDrop,
			Labels:         map[string]string{},
		},
	}
	if n := cfg.Labels[kube.LabelContainer]; n != "" {
		kc.Name = n
	}
	if !slices.Equal(cfg.Entrypoint, img.Entrypoint) {
		kc.Spec.Command = cfg.Entrypoint
		kc.Spec.Args = cfg.Cmd
	} else if !slices.Equal(cfg.Cmd, img.Cmd) {
		kc.Spec.Args = cfg.Cmd
	}
	for _, v := range cfg.Env {
		if !slices.Contains(img.Env, v) {
			kc.Spec.Env = append(kc.Spec.Env, v)
		}
	}
	if cfg.WorkingDir != img.WorkingDir {
		kc.Spec.Dir = cfg.WorkingDir
	}
	if cfg.User != img.User {
		kc.Spec.User = cfg.User
	}
	if cfg.Hostname != "" && !strings.HasPrefix(c.ID, cfg.Hostname) {
		kc.Spec.Hostname = cfg.Hostname
	}
	for k, v := range cfg.Labels {
		if iv, ok := img.Labels[k]; !ok || iv != v {
			kc.Spec.Labels[k] = v
		}
	}
	if hc.Init {
		t := true
		kc.Spec.Init = &t
	}
	if cfg.StopSignal != "" && cfg.StopSignal != img.StopSignal {
		kc.Spec.StopSignal = cfg.StopSignal
	}
	if cfg.StopTimeout != nil {
		d := secondsDuration(*cfg.StopTimeout)
		kc.Spec.StopGracePeriod = &d
	}
	if h := cfg.Healthcheck; h != nil && len(h.Test) > 0 && h.Test[0] != "NONE" {
		kc.Spec.Healthcheck = &mcontainer.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
	}
	for _, m := range hc.Mounts {
		if m.Origin == "" {
			continue // the image's VOLUMEs come with the image
		}
		am := mount.Mount{Type: mount.Type(m.Type), Source: m.Source, Target: m.Destination, ReadOnly: m.ReadOnly}
		if m.Type == container.MountVolume && slices.Contains(hc.AnonymousVolumes, m.Source) {
			am.Source = ""
		}
		if m.Type == container.MountVolume && am.Source != "" {
			if v, err := e.VolumeInspect(ctx, am.Source); err == nil && v.Labels[kube.LabelEmptyDir] != "" {
				if kc.EmptyDirs == nil {
					kc.EmptyDirs = map[string]string{}
				}
				kc.EmptyDirs[am.Source] = v.Labels[kube.LabelEmptyDir]
			}
		}
		if m.Type == container.MountTmpfs {
			for _, opt := range m.Options {
				if s, ok := strings.CutPrefix(opt, "size="); ok {
					if n, err := strconv.ParseInt(s, 10, 64); err == nil {
						am.TmpfsOptions = &mount.TmpfsOptions{SizeBytes: n}
					}
				}
			}
		}
		kc.Spec.Mounts = append(kc.Spec.Mounts, am)
	}
	for _, k := range sortedPorts(hc.PortBindings) {
		port, proto, _ := strings.Cut(k, "/")
		target, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			continue
		}
		for _, b := range hc.PortBindings[k] {
			published, _ := strconv.ParseUint(b.HostPort, 10, 16)
			kc.Ports = append(kc.Ports, swarm.PortConfig{Protocol: protocol(proto), TargetPort: uint32(target), PublishedPort: uint32(published)})
		}
	}
	return kc, nil
}

// kubeFilesDir is where the ConfigMap and Secret files of a YAML file
// go.
func kubeFilesDir(file string) string {
	sum := sha256.Sum256([]byte(file))
	return filepath.Join(paths.DataDir(), "kube", hex.EncodeToString(sum[:8]))
}

// KubePlay runs the files: every document of every file is read and
// checked, names checked free and images pulled before anything is made;
// if making something fails, what this play made is removed again.
func (e *Engine) KubePlay(ctx context.Context, files []KubeFile, o KubePlayOptions) ([]KubeMade, error) {
	var plans []*kube.Plan
	for _, f := range files {
		p, err := kube.Play(f.Data, kube.PlayOptions{File: f.Path, FilesDir: kubeFilesDir(f.Path)})
		if err != nil {
			return nil, errdefs.Invalid("%s", err.Error())
		}
		e.warnAll(p.Warnings)
		plans = append(plans, p)
	}
	// Check everything first: specs, names, images.
	svcNames, ctrNames := map[string]bool{}, map[string]bool{}
	for _, p := range plans {
		old := func(labels map[string]string) bool { return o.Replace && labels[kube.LabelFile] == p.File }
		for _, s := range p.Services {
			spec := withDefaults(s.Spec)
			if err := validateSpec(withoutFiles(spec, p.FilesDir)); err != nil {
				return nil, fmt.Errorf("kube play %s: %s: %w", p.File, s.Object, err)
			}
			if svcNames[spec.Name] {
				return nil, errdefs.Invalid("kube play: %s is defined twice", s.Object)
			}
			svcNames[spec.Name] = true
			if svc, err := services.Lookup(spec.Name); err == nil && svc.Spec.Name == spec.Name && !old(svc.Spec.Labels) {
				return nil, fmt.Errorf("kube play %s: %s: service name %q is in use: remove it (skiff service rm %s), or use kube play --replace for one this file made: %w", p.File, s.Object, spec.Name, spec.Name, errdefs.ErrConflict)
			}
		}
		for _, pod := range p.Pods {
			for _, pc := range pod.Containers {
				if ctrNames[pc.ContainerName] {
					return nil, errdefs.Invalid("kube play: container %s would be made twice", pc.ContainerName)
				}
				ctrNames[pc.ContainerName] = true
				if c, err := container.Lookup(pc.ContainerName); err == nil && c.Name == pc.ContainerName && !old(c.Config.Labels) {
					return nil, fmt.Errorf("kube play %s: %s: container name %q is in use: remove it (skiff rm -f %s), or use kube play --replace for one this file made: %w", p.File, pod.Object, pc.ContainerName, pc.ContainerName, errdefs.ErrConflict)
				}
				pc.Spec.Mounts = filesOut(pc.Spec.Mounts, p.FilesDir)
				if err := podContainerOptions(pod, pc, 0).Validate(); err != nil {
					return nil, fmt.Errorf("kube play %s: %s: container %s: %w", p.File, pod.Object, pc.Name, err)
				}
			}
		}
	}
	for _, p := range plans {
		for _, pod := range p.Pods {
			for _, pc := range pod.Containers {
				if _, err := e.ImageEnsure(ctx, pc.Spec.Image, pullPolicy(pc.Pull), PullOptions{}, nil); err != nil {
					return nil, err
				}
			}
		}
		for _, s := range p.Services {
			if _, err := e.ImageEnsure(ctx, s.Spec.TaskTemplate.ContainerSpec.Image, pullPolicy(s.Pull), PullOptions{}, nil); err != nil {
				return nil, err
			}
		}
	}
	if o.Replace {
		for _, p := range plans {
			if _, err := e.KubeDown(ctx, p.File); err != nil {
				return nil, err
			}
		}
	}
	var made []KubeMade
	var madeDirs []string
	undo := func(cause error) error {
		for i := len(made) - 1; i >= 0; i-- {
			m := made[i]
			var err error
			switch m.Kind {
			case "Service":
				err = e.ServiceRemove(context.WithoutCancel(ctx), m.Name)
			case "Container":
				err = e.ContainerRemove(context.WithoutCancel(ctx), m.Name, RemoveOptions{Force: true, Volumes: true})
			case "Volume":
				err = e.VolumeRemove(context.WithoutCancel(ctx), m.Name, true)
			}
			if err != nil && !errors.Is(err, errdefs.ErrNotFound) {
				e.warn(fmt.Sprintf("kube play: removing %s %s again: %s", strings.ToLower(m.Kind), m.Name, errdefs.Message(err)))
			}
		}
		for _, d := range madeDirs {
			_ = os.RemoveAll(d)
		}
		return cause
	}
	for _, p := range plans {
		if len(p.Files) > 0 {
			if _, err := os.Stat(p.FilesDir); errors.Is(err, os.ErrNotExist) {
				madeDirs = append(madeDirs, p.FilesDir)
			}
			if err := writeKubeFiles(p.Files); err != nil {
				return nil, undo(err)
			}
		}
		for _, v := range p.Volumes {
			if _, err := e.VolumeInspect(ctx, v.Name); err == nil {
				continue // someone's volume: used, not made (nor removed by down)
			}
			if _, err := e.VolumeCreate(ctx, v.Name, VolumeCreateOptions{Labels: v.Labels}); err != nil {
				return nil, undo(fmt.Errorf("kube play %s: volume %s: %w", p.File, v.Name, err))
			}
			made = append(made, KubeMade{"Volume", v.Name})
		}
		for _, pod := range p.Pods {
			for i, pc := range pod.Containers {
				if _, err := e.ContainerCreate(ctx, podContainerOptions(pod, pc, i)); err != nil {
					return nil, undo(fmt.Errorf("kube play %s: %s: container %s: %w", p.File, pod.Object, pc.Name, err))
				}
				made = append(made, KubeMade{"Container", pc.ContainerName})
			}
			for _, pc := range pod.Containers {
				if err := e.ContainerStart(ctx, pc.ContainerName); err != nil {
					return nil, undo(fmt.Errorf("kube play %s: %s: container %s: %w", p.File, pod.Object, pc.Name, err))
				}
			}
		}
		for _, s := range p.Services {
			if _, err := e.ServiceCreate(ctx, s.Spec, ServiceCreateOptions{Pull: pullPolicy(s.Pull)}); err != nil {
				return nil, undo(fmt.Errorf("kube play %s: %s: %w", p.File, s.Object, err))
			}
			made = append(made, KubeMade{"Service", s.Spec.Name})
		}
	}
	for _, m := range made {
		if m.Kind != "Service" {
			continue
		}
		if err := e.ServiceConverge(ctx, m.Name, nil); err != nil {
			return nil, undo(err)
		}
	}
	return made, nil
}

// withoutFiles is spec without the mounts of files play has not written
// yet (under dir), for checking it before anything is made.
func withoutFiles(spec swarm.ServiceSpec, dir string) swarm.ServiceSpec {
	cs := *spec.TaskTemplate.ContainerSpec
	cs.Mounts = filesOut(cs.Mounts, dir)
	spec.TaskTemplate.ContainerSpec = &cs
	return spec
}

func filesOut(ms []mount.Mount, dir string) []mount.Mount {
	var out []mount.Mount
	for _, m := range ms {
		if m.Type != mount.TypeBind || !strings.HasPrefix(m.Source, dir+"/") {
			out = append(out, m)
		}
	}
	return out
}

func pullPolicy(p string) string {
	if p == "" {
		return PullMissing
	}
	return p
}

// podContainerOptions is the i-th container of a pod: the first owns the
// network namespace and publishes the pod's ports, the others join it.
func podContainerOptions(pod kube.Pod, pc kube.PodContainer, i int) ContainerCreateOptions {
	o := containerSpecOptions(&pc.Spec, pc.ContainerName)
	o.Restart = pc.Restart
	o.Privileged = pc.Privileged
	if i == 0 {
		if pod.HostNetwork {
			o.NetworkMode = "host"
		}
		for _, p := range pc.Ports {
			s := fmt.Sprintf("%d/%s", p.TargetPort, p.Protocol)
			if p.PublishedPort != 0 {
				s = fmt.Sprintf("%d:%s", p.PublishedPort, s)
			}
			o.Publish = append(o.Publish, s)
		}
	} else {
		o.NetworkMode = "container:" + pod.Containers[0].ContainerName
		o.Hostname = ""
	}
	return o
}

// writeKubeFiles writes the files of ConfigMap and Secret volumes.
func writeKubeFiles(files []kube.File) error {
	for _, f := range files {
		if strings.HasSuffix(f.Path, "/") {
			if err := os.MkdirAll(f.Path, 0o755); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(f.Path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(f.Path, f.Data, f.Mode); err != nil {
			return err
		}
		if err := os.Chmod(f.Path, f.Mode); err != nil {
			return err
		}
	}
	return nil
}

// KubeDown removes what kube play made from file (an absolute path, or
// "-"): its services, containers, the volumes it made and its files.
func (e *Engine) KubeDown(ctx context.Context, file string) ([]KubeMade, error) {
	var gone []KubeMade
	label := Filters{"label": {kube.LabelFile + "=" + file}}
	svcs, err := e.ServiceList(ctx, ServiceListOptions{Filters: label})
	if err != nil {
		return nil, err
	}
	for _, s := range svcs {
		if err := e.ServiceRemove(ctx, s.ID); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			return gone, err
		}
		gone = append(gone, KubeMade{"Service", s.Spec.Name})
	}
	ctrs, err := e.ContainerList(ctx, ContainerListOptions{All: true, Last: -1, Filters: label})
	if err != nil {
		return gone, err
	}
	// Containers that join another's network namespace go first.
	slices.SortStableFunc(ctrs, func(a, b mcontainer.Summary) int {
		ja, jb := strings.HasPrefix(a.HostConfig.NetworkMode, "container:"), strings.HasPrefix(b.HostConfig.NetworkMode, "container:")
		switch {
		case ja && !jb:
			return -1
		case jb && !ja:
			return 1
		}
		return 0
	})
	for _, c := range ctrs {
		if err := e.ContainerRemove(ctx, c.ID, RemoveOptions{Force: true, Volumes: true}); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			return gone, err
		}
		name := c.ID
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		gone = append(gone, KubeMade{"Container", name})
	}
	vols, err := e.VolumeList(ctx, label)
	if err != nil {
		return gone, err
	}
	for _, v := range vols {
		if err := e.VolumeRemove(ctx, v.Name, true); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			return gone, err
		}
		gone = append(gone, KubeMade{"Volume", v.Name})
	}
	if err := os.RemoveAll(kubeFilesDir(file)); err != nil {
		return gone, err
	}
	return gone, nil
}

func secondsDuration(s int) time.Duration { return time.Duration(s) * time.Second }

// sortedPorts is the keys of pm ("80/tcp"), by number then protocol.
func sortedPorts(pm netns.PortMap) []string {
	keys := make([]string, 0, len(pm))
	for k := range pm {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		pa, _, _ := strings.Cut(a, "/")
		pb, _, _ := strings.Cut(b, "/")
		na, _ := strconv.Atoi(pa)
		nb, _ := strconv.Atoi(pb)
		if na != nb {
			return na - nb
		}
		return strings.Compare(a, b)
	})
	return keys
}

func protocol(s string) network.IPProtocol {
	if s == "udp" {
		return network.UDP
	}
	return network.TCP
}
