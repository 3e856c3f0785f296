package kube

// kube generate: a swarm service becomes a Deployment (and a Service for
// its ports, PersistentVolumeClaims for its named volumes); plain
// containers become one Pod, or a Deployment of one replica.

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	mcontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/swarm"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Container is one container as generate takes it and play gives it:
// its swarm ContainerSpec and what a ContainerSpec does not hold.
type Container struct {
	// Name is the container's name in its pod (play: the skiff container
	// is POD-NAME).
	Name string
	Spec swarm.ContainerSpec
	// Ports are the published ports; PublishedPort 0 is any free host
	// port.
	Ports []swarm.PortConfig
	// Restart is Docker's restart policy name: no, always,
	// unless-stopped, on-failure.
	Restart    string
	Privileged bool
	// Pull is the image pull policy: "" (missing), always or never.
	Pull string
	// EmptyDirs names the volumes kube play made for a pod's emptyDir
	// volumes: volume name → the emptyDir's name.
	EmptyDirs map[string]string
}

// DefaultClaimSize is the storage request of the PersistentVolumeClaims
// generate writes: Kubernetes requires one, a local volume has no size.
const DefaultClaimSize = "1Gi"

// DefaultMonitor is swarm's default update monitor period, which a
// service has when it was made without one (minReadySeconds 0): it is
// not written, so that generate → play → generate gives the same.
const DefaultMonitor = 5 * time.Second

type generator struct {
	warnings []string
	owner    string
}

func (g *generator) warn(format string, args ...any) {
	g.warnings = append(g.warnings, "kube generate: "+g.owner+": "+fmt.Sprintf(format, args...))
}

// GenerateService returns the objects for a swarm service: a Deployment,
// a Service when it publishes ports, and a PersistentVolumeClaim per
// named volume; and warnings for what Kubernetes cannot express.
func GenerateService(spec swarm.ServiceSpec) ([]Object, []string, error) {
	g := &generator{owner: "service " + spec.Name}
	if spec.TaskTemplate.ContainerSpec == nil {
		return nil, nil, fmt.Errorf("service %s has no container spec", spec.Name)
	}
	name := g.name(spec.Name)
	c := Container{Name: name, Spec: *spec.TaskTemplate.ContainerSpec}
	if spec.EndpointSpec != nil {
		c.Ports = spec.EndpointSpec.Ports
	}
	if rp := spec.TaskTemplate.RestartPolicy; rp != nil && rp.Condition != "" && rp.Condition != swarm.RestartPolicyConditionAny {
		g.warn("restart condition %s: a Deployment's pods always restart", rp.Condition)
	}
	if len(spec.TaskTemplate.Networks) > 0 {
		g.warn("networks are not written: Kubernetes has one pod network")
	}
	replicas := int32(1)
	if r := spec.Mode.Replicated; r != nil && r.Replicas != nil {
		replicas = int32(*r.Replicas)
	} else if spec.Mode.Global == nil {
		g.warn("only replicated and global services are written (global as 1 replica)")
	}
	tmpl, extra := g.podTemplate(name, []Container{c}, true)
	tmpl.Labels = g.labels(tmpl.Labels, c.Spec.Labels)
	d := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: g.labels(map[string]string{LabelApp: name}, spec.Labels)},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{LabelApp: name}},
			Template: tmpl,
		},
	}
	g.strategy(d, spec.UpdateConfig)
	return g.finish(append([]Object{d}, extra...))
}

// strategy is the Deployment's update strategy from the service's
// UpdateConfig: stop-first replaces Parallelism at a time
// (maxUnavailable), start-first starts Parallelism new ones first
// (maxSurge); Parallelism 0 (all at once) is Recreate. The monitor
// period is minReadySeconds (unless it is swarm's default).
func (g *generator) strategy(d *appsv1.Deployment, uc *swarm.UpdateConfig) {
	if uc == nil {
		uc = &swarm.UpdateConfig{Parallelism: 1, Order: swarm.UpdateOrderStopFirst}
	}
	if uc.Monitor > 0 && uc.Monitor != DefaultMonitor {
		d.Spec.MinReadySeconds = int32(seconds(uc.Monitor))
	}
	if uc.Delay > 0 {
		g.warn("update delay %s: a Deployment has no pause between batches", uc.Delay)
	}
	if uc.Parallelism == 0 {
		d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType
		return
	}
	p, zero := intstr.FromInt32(int32(uc.Parallelism)), intstr.FromInt32(0)
	ru := &appsv1.RollingUpdateDeployment{MaxUnavailable: &p, MaxSurge: &zero}
	if uc.Order == swarm.UpdateOrderStartFirst {
		ru = &appsv1.RollingUpdateDeployment{MaxUnavailable: &zero, MaxSurge: &p}
	}
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: ru}
}

// GeneratePod returns the objects for plain containers: one Pod with
// them all (or, with deployment, a Deployment of one replica), a Service
// for their published ports and PersistentVolumeClaims for their named
// volumes.
func GeneratePod(name string, cs []Container, deployment bool) ([]Object, []string, error) {
	g := &generator{owner: "pod " + name}
	if len(cs) == 0 {
		return nil, nil, fmt.Errorf("no containers given")
	}
	name = g.name(name)
	tmpl, extra := g.podTemplate(name, cs, deployment)
	tmpl.Labels = g.labels(tmpl.Labels, cs[0].Spec.Labels)
	if !deployment {
		switch cs[0].Restart {
		case "", "no":
			tmpl.Spec.RestartPolicy = corev1.RestartPolicyNever
		case "on-failure":
			tmpl.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
		default:
			tmpl.Spec.RestartPolicy = corev1.RestartPolicyAlways
		}
		p := &corev1.Pod{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: tmpl.ObjectMeta,
			Spec:       tmpl.Spec,
		}
		p.Name = name
		return g.finish(append([]Object{p}, extra...))
	}
	one := int32(1)
	d := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{LabelApp: name}},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{LabelApp: name}},
			Template: tmpl,
		},
	}
	return g.finish(append([]Object{d}, extra...))
}

func (g *generator) finish(objs []Object) ([]Object, []string, error) {
	for _, o := range objs {
		if err := Validate(o); err != nil {
			kind, name := kindOf(o)
			return nil, g.warnings, fmt.Errorf("kube generate: the %s %s written is not valid: %v", kind, name, err)
		}
	}
	return objs, g.warnings, nil
}

// name is a Docker name as a Kubernetes name.
func (g *generator) name(n string) string {
	k := k8sName(n)
	if len(validation.IsDNS1035Label(k)) > 0 {
		k = k8sName("x-" + k) // a Service's name starts with a letter
	}
	if k != n {
		g.warn("named %s in Kubernetes (names there are lower-case letters, digits and '-')", k)
	}
	return k
}

// labels adds the labels of from that are valid Kubernetes labels and
// not skiff's own bookkeeping to to.
func (g *generator) labels(to, from map[string]string) map[string]string {
	if to == nil {
		to = map[string]string{}
	}
	for _, k := range sortedKeys(from) {
		v := from[k]
		if strings.HasPrefix(k, "io.skiff.kube.") || strings.HasPrefix(k, "com.docker.swarm.") {
			continue
		}
		if len(validation.IsQualifiedName(k)) > 0 || len(validation.IsValidLabelValue(v)) > 0 {
			g.warn("label %s=%s is not a valid Kubernetes label, left out", k, v)
			continue
		}
		if _, ok := to[k]; !ok {
			to[k] = v
		}
	}
	return to
}

// podTemplate is the pod of the containers, and the objects it needs
// besides (the Service for its ports, PersistentVolumeClaims).
func (g *generator) podTemplate(owner string, cs []Container, deployment bool) (corev1.PodTemplateSpec, []Object) {
	t := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{LabelApp: owner}}}
	var extra []Object
	vols := map[string]string{} // k8s volume name → its key (type:source)
	volKey := map[string]string{}
	addVolume := func(want string, key string, src corev1.VolumeSource) string {
		if n, ok := volKey[key]; ok {
			return n
		}
		n := k8sName(want)
		for i := 2; vols[n] != ""; i++ {
			n = k8sName(want) + "-" + strconv.Itoa(i)
		}
		vols[n], volKey[key] = key, n
		t.Spec.Volumes = append(t.Spec.Volumes, corev1.Volume{Name: n, VolumeSource: src})
		return n
	}
	var ports []swarm.PortConfig
	for i, c := range cs {
		cs := c.Spec
		k := corev1.Container{
			Name:       k8sName(c.Name),
			Image:      cs.Image,
			Command:    cs.Command,
			Args:       cs.Args,
			WorkingDir: cs.Dir,
			TTY:        cs.TTY,
			Stdin:      cs.OpenStdin,
		}
		switch c.Pull {
		case "always":
			k.ImagePullPolicy = corev1.PullAlways
		case "never":
			k.ImagePullPolicy = corev1.PullNever
		}
		for _, e := range cs.Env {
			n, v, _ := strings.Cut(e, "=")
			k.Env = append(k.Env, corev1.EnvVar{Name: n, Value: v})
		}
		seen := map[string]bool{}
		for _, p := range c.Ports {
			proto := corev1.ProtocolTCP
			if strings.EqualFold(string(p.Protocol), "udp") {
				proto = corev1.ProtocolUDP
			}
			key := fmt.Sprint(p.TargetPort, proto)
			if !seen[key] {
				seen[key] = true
				k.Ports = append(k.Ports, corev1.ContainerPort{ContainerPort: int32(p.TargetPort), Protocol: proto})
			}
			ports = append(ports, p)
		}
		if hc := cs.Healthcheck; hc != nil {
			if pr := probe(hc); pr != nil {
				k.LivenessProbe, k.ReadinessProbe = pr, pr.DeepCopy()
			}
		}
		k.SecurityContext = g.security(c)
		for _, m := range cs.Mounts {
			var n string
			switch {
			case m.Type == mount.TypeVolume && m.Source != "" && c.EmptyDirs[m.Source] != "":
				n = addVolume(c.EmptyDirs[m.Source], "emptydir:"+m.Source, corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}})
			case m.Type == mount.TypeVolume && m.Source != "":
				claim := k8sName(m.Source)
				if claim != m.Source {
					g.warn("volume %s is claimed as %s", m.Source, claim)
				}
				n = addVolume(m.Source, "volume:"+m.Source, corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}})
				if !hasClaim(extra, claim) {
					extra = append(extra, &corev1.PersistentVolumeClaim{
						TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
						ObjectMeta: metav1.ObjectMeta{Name: claim},
						Spec: corev1.PersistentVolumeClaimSpec{
							AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
							Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(DefaultClaimSize)}},
						},
					})
				}
			case m.Type == mount.TypeVolume:
				n = addVolume(path.Base(m.Target), fmt.Sprintf("anon:%d:%s", i, m.Target), corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}})
			case m.Type == mount.TypeTmpfs:
				ed := &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}
				if m.TmpfsOptions != nil && m.TmpfsOptions.SizeBytes > 0 {
					q := resource.NewQuantity(m.TmpfsOptions.SizeBytes, resource.BinarySI)
					ed.SizeLimit = q
				}
				n = addVolume(path.Base(m.Target), fmt.Sprintf("tmpfs:%d:%s", i, m.Target), corev1.VolumeSource{EmptyDir: ed})
			case m.Type == mount.TypeBind:
				n = addVolume(path.Base(m.Source), "bind:"+m.Source, corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: m.Source}})
				if t.Annotations == nil {
					t.Annotations = map[string]string{}
				}
				t.Annotations[AnnotationHostPath+n] = m.Source + " is a path on the host this was generated on: a cluster's nodes may not have it"
			default:
				g.warn("mount of type %s on %s is left out", m.Type, m.Target)
				continue
			}
			k.VolumeMounts = append(k.VolumeMounts, corev1.VolumeMount{Name: n, MountPath: m.Target, ReadOnly: m.ReadOnly})
		}
		if i == 0 {
			if cs.StopGracePeriod != nil {
				s := int64(seconds(*cs.StopGracePeriod))
				t.Spec.TerminationGracePeriodSeconds = &s
			}
			if !deployment && cs.Hostname != "" && cs.Hostname != owner {
				t.Spec.Hostname = cs.Hostname
			}
		}
		if cs.Init != nil && *cs.Init {
			g.warn("container %s: --init is left out: Kubernetes has no init option (use shareProcessNamespace or an init in the image)", c.Name)
		}
		if cs.StopSignal != "" {
			g.warn("container %s: stop signal %s is left out", c.Name, cs.StopSignal)
		}
		t.Spec.Containers = append(t.Spec.Containers, k)
	}
	if len(ports) > 0 {
		extra = append([]Object{g.service(owner, ports)}, extra...)
	}
	return t, extra
}

func hasClaim(objs []Object, name string) bool {
	for _, o := range objs {
		if c, ok := o.(*corev1.PersistentVolumeClaim); ok && c.Name == name {
			return true
		}
	}
	return false
}

// service is the Service publishing ports: NodePort with nodePort and
// port the published port, or ClusterIP when no port has a fixed
// published port.
func (g *generator) service(owner string, ports []swarm.PortConfig) *corev1.Service {
	s := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: owner, Labels: map[string]string{LabelApp: owner}},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{LabelApp: owner}, Type: corev1.ServiceTypeClusterIP},
	}
	for _, p := range ports {
		proto := corev1.ProtocolTCP
		if strings.EqualFold(string(p.Protocol), "udp") {
			proto = corev1.ProtocolUDP
		}
		sp := corev1.ServicePort{Protocol: proto, Port: int32(p.TargetPort), TargetPort: intstr.FromInt32(int32(p.TargetPort))}
		if p.PublishedPort != 0 {
			sp.Port, sp.NodePort = int32(p.PublishedPort), int32(p.PublishedPort)
			s.Spec.Type = corev1.ServiceTypeNodePort
		}
		sp.Name = fmt.Sprintf("%s-%d", strings.ToLower(string(proto)), sp.Port)
		s.Spec.Ports = append(s.Spec.Ports, sp)
	}
	return s
}

// security is the container's securityContext: a numeric user and
// group, capabilities, a read-only root and privileged.
func (g *generator) security(c Container) *corev1.SecurityContext {
	cs := c.Spec
	sc := &corev1.SecurityContext{}
	set := false
	if cs.User != "" {
		u, gr, _ := strings.Cut(cs.User, ":")
		uid, err1 := strconv.ParseInt(u, 10, 64)
		gid, err2 := strconv.ParseInt(gr, 10, 64)
		switch {
		case err1 != nil || (gr != "" && err2 != nil):
			g.warn("container %s: user %s is left out: Kubernetes takes numeric ids only (runAsUser, runAsGroup)", c.Name, cs.User)
		default:
			sc.RunAsUser, set = &uid, true
			if gr != "" {
				sc.RunAsGroup = &gid
			}
		}
	}
	if len(cs.CapabilityAdd) > 0 || len(cs.CapabilityDrop) > 0 {
		sc.Capabilities = &corev1.Capabilities{}
		for _, x := range cs.CapabilityAdd {
			sc.Capabilities.Add = append(sc.Capabilities.Add, corev1.Capability(strings.TrimPrefix(strings.ToUpper(x), "CAP_")))
		}
		for _, x := range cs.CapabilityDrop {
			sc.Capabilities.Drop = append(sc.Capabilities.Drop, corev1.Capability(strings.TrimPrefix(strings.ToUpper(x), "CAP_")))
		}
		set = true
	}
	if cs.ReadOnly {
		t := true
		sc.ReadOnlyRootFilesystem, set = &t, true
	}
	if c.Privileged {
		t := true
		sc.Privileged, set = &t, true
	}
	if !set {
		return nil
	}
	return sc
}

// probe is the exec probe of a Docker healthcheck (nil for NONE).
func probe(hc *mcontainer.HealthConfig) *corev1.Probe {
	if len(hc.Test) == 0 {
		return nil
	}
	var cmd []string
	switch hc.Test[0] {
	case "CMD":
		cmd = hc.Test[1:]
	case "CMD-SHELL":
		cmd = []string{"/bin/sh", "-c", strings.Join(hc.Test[1:], " ")}
	default:
		return nil
	}
	if len(cmd) == 0 {
		return nil
	}
	p := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: cmd}}}
	p.PeriodSeconds = int32(seconds(hc.Interval))
	p.TimeoutSeconds = int32(seconds(hc.Timeout))
	p.InitialDelaySeconds = int32(seconds(hc.StartPeriod))
	p.FailureThreshold = int32(hc.Retries)
	return p
}

// seconds rounds d up to whole seconds.
func seconds(d time.Duration) int64 { return int64((d + time.Second - 1) / time.Second) }
