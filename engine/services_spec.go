package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/services"
)

// Docker's (swarmkit's) defaults for what a spec leaves out.
const (
	defaultRestartDelay  = 5 * time.Second
	defaultUpdateMonitor = 5 * time.Second
	firstRestartDelay    = 100 * time.Millisecond
)

// withDefaults fills what Docker's manager fills in a new spec.
func withDefaults(spec swarm.ServiceSpec) swarm.ServiceSpec {
	if spec.Mode.Replicated == nil && spec.Mode.Global == nil && spec.Mode.ReplicatedJob == nil && spec.Mode.GlobalJob == nil {
		one := uint64(1)
		spec.Mode.Replicated = &swarm.ReplicatedService{Replicas: &one}
	}
	if r := spec.Mode.Replicated; r != nil && r.Replicas == nil {
		one := uint64(1)
		r.Replicas = &one
	}
	rp := spec.TaskTemplate.RestartPolicy
	if rp == nil {
		rp = &swarm.RestartPolicy{}
		spec.TaskTemplate.RestartPolicy = rp
	}
	if rp.Condition == "" {
		rp.Condition = swarm.RestartPolicyConditionAny
	}
	if rp.Delay == nil {
		d := defaultRestartDelay
		rp.Delay = &d
	}
	if rp.MaxAttempts == nil {
		zero := uint64(0)
		rp.MaxAttempts = &zero
	}
	for _, uc := range []**swarm.UpdateConfig{&spec.UpdateConfig, &spec.RollbackConfig} {
		if *uc == nil {
			*uc = &swarm.UpdateConfig{Parallelism: 1}
		}
		if (*uc).FailureAction == "" {
			(*uc).FailureAction = swarm.UpdateFailureActionPause
		}
		if (*uc).Monitor == 0 {
			(*uc).Monitor = defaultUpdateMonitor
		}
		if (*uc).Order == "" {
			(*uc).Order = swarm.UpdateOrderStopFirst
		}
	}
	if spec.EndpointSpec == nil {
		spec.EndpointSpec = &swarm.EndpointSpec{}
	}
	if spec.EndpointSpec.Mode == "" {
		spec.EndpointSpec.Mode = swarm.ResolutionModeVIP
	}
	for i := range spec.EndpointSpec.Ports {
		p := &spec.EndpointSpec.Ports[i]
		if p.Protocol == "" {
			p.Protocol = network.TCP
		}
		if p.PublishMode == "" {
			p.PublishMode = swarm.PortConfigPublishModeIngress
		}
	}
	if spec.TaskTemplate.ContainerSpec == nil {
		spec.TaskTemplate.ContainerSpec = &swarm.ContainerSpec{}
	}
	return spec
}

// validateSpec refuses, field by field, what skiff cannot do, with the
// field's name: nothing in a spec is dropped silently.
func validateSpec(spec swarm.ServiceSpec) error {
	bad := func(format string, args ...any) error {
		return errdefs.Invalid("service %s: %s", orDash(spec.Name), fmt.Sprintf(format, args...))
	}
	if spec.Name == "" {
		return bad("a name is required (--name)")
	}
	if !services.ValidName(spec.Name) {
		return bad("invalid name %q: use letters, digits, '_', '.' and '-', starting with a letter or digit, at most 63 characters", spec.Name)
	}
	cs := spec.TaskTemplate.ContainerSpec
	if cs == nil || cs.Image == "" {
		return bad("an image is required")
	}
	if spec.Mode.ReplicatedJob != nil || spec.Mode.GlobalJob != nil {
		return bad("job modes (replicated-job, global-job) are not supported: use --mode replicated")
	}
	if r := spec.Mode.Replicated; r != nil && r.Replicas != nil && *r.Replicas > 1000 {
		return bad("%d replicas is more than this host's limit of 1000", *r.Replicas)
	}
	rp := spec.TaskTemplate.RestartPolicy
	switch rp.Condition {
	case swarm.RestartPolicyConditionNone, swarm.RestartPolicyConditionOnFailure, swarm.RestartPolicyConditionAny:
	default:
		return bad("invalid restart condition %q: use none, on-failure or any", rp.Condition)
	}
	for what, uc := range map[string]*swarm.UpdateConfig{"update": spec.UpdateConfig, "rollback": spec.RollbackConfig} {
		switch uc.FailureAction {
		case swarm.UpdateFailureActionPause, swarm.UpdateFailureActionContinue, swarm.UpdateFailureActionRollback:
		default:
			return bad("invalid %s failure action %q: use pause, continue or rollback", what, uc.FailureAction)
		}
		if what == "rollback" && uc.FailureAction == swarm.UpdateFailureActionRollback {
			return bad("the rollback failure action cannot be rollback: use pause or continue")
		}
		switch uc.Order {
		case swarm.UpdateOrderStopFirst, swarm.UpdateOrderStartFirst:
		default:
			return bad("invalid %s order %q: use stop-first or start-first", what, uc.Order)
		}
	}
	seen := map[string]bool{}
	for _, p := range spec.EndpointSpec.Ports {
		if p.PublishMode != swarm.PortConfigPublishModeIngress {
			return bad("publish mode %q is not supported: skiff publishes a service's ports through its keeper's balancer (mode=ingress)", p.PublishMode)
		}
		if p.Protocol != network.TCP && p.Protocol != network.UDP {
			return bad("invalid protocol %q for port %d: use tcp or udp", p.Protocol, p.TargetPort)
		}
		if p.TargetPort == 0 || p.TargetPort > 65535 || p.PublishedPort > 65535 {
			return bad("invalid port %d:%d: ports are 1-65535", p.PublishedPort, p.TargetPort)
		}
		key := fmt.Sprintf("%d/%s", p.PublishedPort, p.Protocol)
		if p.PublishedPort != 0 && seen[key] {
			return bad("host port %s is published twice", key)
		}
		seen[key] = true
	}
	if spec.EndpointSpec.Mode != swarm.ResolutionModeVIP && spec.EndpointSpec.Mode != swarm.ResolutionModeDNSRR {
		return bad("invalid endpoint mode %q: use vip or dnsrr", spec.EndpointSpec.Mode)
	}
	tt := spec.TaskTemplate
	unsupported := []struct {
		set  bool
		what string
	}{
		{hasResources(tt.Resources), "resource limits and reservations (--limit-*, --reserve-*)"},
		{tt.Placement != nil && (len(tt.Placement.Constraints) > 0 || len(tt.Placement.Preferences) > 0 || tt.Placement.MaxReplicas > 0), "placement constraints and preferences (one node)"},
		{tt.PluginSpec != nil || tt.NetworkAttachmentSpec != nil, "plugin and network-attachment tasks"},
		{len(cs.Secrets) > 0, "secrets (--secret)"},
		{len(cs.Configs) > 0, "configs (--config)"},
		{len(cs.Sysctls) > 0, "sysctls (--sysctl)"},
		{len(cs.Ulimits) > 0, "ulimits (--ulimit)"},
		{cs.Privileges != nil && (cs.Privileges.CredentialSpec != nil || cs.Privileges.SELinuxContext != nil || cs.Privileges.Seccomp != nil || cs.Privileges.AppArmor != nil || cs.Privileges.NoNewPrivileges), "privileges (credential spec, SELinux, seccomp, AppArmor, no-new-privileges)"},
		{len(cs.Groups) > 0, "supplementary groups (--group)"},
		{cs.Isolation != "" && cs.Isolation != "default", "isolation"},
		{cs.OomScoreAdj != 0, "an OOM score (--oom-score-adj)"},
		{tt.LogDriver != nil && tt.LogDriver.Name != "" && tt.LogDriver.Name != "json-file", "log drivers other than json-file"},
	}
	for _, u := range unsupported {
		if u.set {
			return bad("%s: not supported by skiff's services yet", u.what)
		}
	}
	for i, m := range cs.Mounts {
		if _, err := mountFields(m).Mount("", fmt.Sprintf("Mounts[%d]", i)); err != nil {
			return bad("%s", errdefs.Message(err))
		}
	}
	return nil
}

// hasResources reports whether r asks for any limit or reservation: the
// docker CLI sends empty ones when no --limit-* or --reserve-* is given.
func hasResources(r *swarm.ResourceRequirements) bool {
	if r == nil {
		return false
	}
	if l := r.Limits; l != nil && (l.NanoCPUs != 0 || l.MemoryBytes != 0 || l.Pids != 0) {
		return true
	}
	if v := r.Reservations; v != nil && (v.NanoCPUs != 0 || v.MemoryBytes != 0 || len(v.GenericResources) > 0) {
		return true
	}
	return false
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// mountFields is the API's mount as --mount's fields.
func mountFields(m mount.Mount) MountFields {
	f := MountFields{Type: string(m.Type), Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly}
	if m.VolumeOptions != nil {
		f.NoCopy = m.VolumeOptions.NoCopy
	}
	if m.BindOptions != nil {
		f.Propagation = string(m.BindOptions.Propagation)
	}
	if m.TmpfsOptions != nil {
		if m.TmpfsOptions.SizeBytes > 0 {
			f.TmpfsSize = strconv.FormatInt(m.TmpfsOptions.SizeBytes, 10)
		}
		if m.TmpfsOptions.Mode != 0 {
			f.TmpfsMode = strconv.FormatUint(uint64(m.TmpfsOptions.Mode.Perm()), 8)
		}
	}
	return f
}

// ServiceMount parses --mount's syntax into the API's mount; relative
// bind sources are resolved against dir.
func ServiceMount(spec, dir string) (mount.Mount, error) {
	m, err := container.ParseMount(spec, dir)
	if err != nil {
		return mount.Mount{}, err
	}
	return apiMount(m), nil
}

// ServiceVolume parses -v's syntax (SRC:DST[:OPTS], NAME:DST or DST)
// into the API's mount.
func ServiceVolume(spec, dir string) (mount.Mount, error) {
	m, err := container.ParseVolume(spec, dir)
	if err != nil {
		return mount.Mount{}, err
	}
	return apiMount(m), nil
}

func apiMount(m container.Mount) mount.Mount {
	return mount.Mount{Type: mount.Type(m.Type), Source: m.Source, Target: m.Destination, ReadOnly: m.ReadOnly}
}

// replicaSlots is how many replicas the spec wants.
func replicaSlots(spec swarm.ServiceSpec) int {
	if r := spec.Mode.Replicated; r != nil && r.Replicas != nil {
		return int(*r.Replicas)
	}
	if spec.Mode.Global != nil {
		return 1 // one node
	}
	return 0
}

// sameTaskSpec reports whether a task was made from this task template.
func sameTaskSpec(a, b swarm.TaskSpec) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// replicaOptions is the container a task of svc runs in its slot.
func replicaOptions(svc *swarm.Service, t *swarm.Task, nodeID, name string) ContainerCreateOptions {
	o := containerSpecOptions(t.Spec.ContainerSpec, name)
	o.Labels[LabelServiceID] = svc.ID
	o.Labels[LabelServiceName] = svc.Spec.Name
	o.Labels[LabelTaskID] = t.ID
	o.Labels[LabelTaskName] = fmt.Sprintf("%s.%d.%s", svc.Spec.Name, t.Slot, t.ID)
	o.Labels[LabelTaskSlot] = strconv.Itoa(t.Slot)
	o.Labels[LabelNodeID] = nodeID
	o.Restart = "no" // the keeper restarts replicas, not their supervisor
	if tt := t.Spec; tt.LogDriver != nil {
		o.LogDriver = tt.LogDriver.Name
		for k, v := range tt.LogDriver.Options {
			o.LogOpts = append(o.LogOpts, k+"="+v)
		}
	}
	if nets := t.Spec.Networks; len(nets) > 0 {
		o.NetworkMode = nets[0].Target
		o.Aliases = append([]string{svc.Spec.Name}, nets[0].Aliases...)
	}
	return o
}

// containerSpecOptions is the container a swarm ContainerSpec describes
// (a service's task, or a container of a Kubernetes pod), named name.
// Its labels are a copy the caller may add to.
func containerSpecOptions(cs *swarm.ContainerSpec, name string) ContainerCreateOptions {
	labels := map[string]string{}
	for k, v := range cs.Labels {
		labels[k] = v
	}
	o := ContainerCreateOptions{
		Image:         cs.Image,
		Name:          name,
		Cmd:           cs.Args,
		Entrypoint:    cs.Command,
		EntrypointSet: len(cs.Command) > 0,
		Env:           cs.Env,
		Workdir:       cs.Dir,
		User:          cs.User,
		Hostname:      cs.Hostname,
		Labels:        labels,
		ReadOnly:      cs.ReadOnly,
		StopSignal:    cs.StopSignal,
		TTY:           cs.TTY,
		Interactive:   cs.OpenStdin,
		CapAdd:        cs.CapabilityAdd,
		CapDrop:       cs.CapabilityDrop,
	}
	if cs.Init != nil {
		o.Init = *cs.Init
	}
	if cs.StopGracePeriod != nil {
		secs := int((*cs.StopGracePeriod + time.Second - 1) / time.Second)
		o.StopTimeout = &secs
	}
	for _, m := range cs.Mounts {
		o.MountSpecs = append(o.MountSpecs, mountFields(m))
	}
	if hc := cs.Healthcheck; hc != nil {
		o.Health = HealthOptions{Test: hc.Test, Interval: hc.Interval, Timeout: hc.Timeout, StartPeriod: hc.StartPeriod, Retries: hc.Retries}
	}
	if d := cs.DNSConfig; d != nil {
		for _, a := range d.Nameservers {
			o.DNS = append(o.DNS, a.String())
		}
		o.DNSSearch, o.DNSOptions = d.Search, d.Options
	}
	for _, h := range cs.Hosts { // swarm's "IP NAME…" lines
		f := strings.Fields(h)
		for _, n := range f[min(1, len(f)):] {
			o.ExtraHosts = append(o.ExtraHosts, n+":"+f[0])
		}
	}
	return o
}
