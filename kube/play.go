package kube

// kube play: Kubernetes YAML (several documents) becomes a Plan of what
// to make: skiff services for Deployments, containers for Pods, named
// volumes for PersistentVolumeClaims, files for ConfigMap and Secret
// volumes. Everything is read and checked before the engine makes
// anything; what skiff cannot do is a warning naming the field.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	mcontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// LabelEmptyDir is, on the volume kube play makes for a Pod's emptyDir,
// the emptyDir's name.
const LabelEmptyDir = "io.skiff.kube.emptydir"

// PlayOptions say where the YAML came from and where its files go.
type PlayOptions struct {
	// File is the YAML file's absolute path ("-" for stdin): the value of
	// LabelFile on everything made.
	File string
	// FilesDir is the directory for the files of ConfigMap and Secret
	// volumes (absolute; kube down removes it).
	FilesDir string
}

// Plan is what a YAML file asks for, checked, in skiff's terms.
type Plan struct {
	File     string
	FilesDir string
	Files    []File
	Volumes  []Volume
	Services []Service
	Pods     []Pod
	Warnings []string
}

// File is one file of a ConfigMap or Secret volume.
type File struct {
	Path string // absolute, under FilesDir
	Data []byte
	Mode os.FileMode
}

// Volume is a named volume to make (unless it exists).
type Volume struct {
	Name   string
	Labels map[string]string
}

// Service is a Deployment as a skiff service.
type Service struct {
	Object string // Deployment/NAME
	Spec   swarm.ServiceSpec
	Pull   string // "" (missing), always or never
}

// Pod is a Pod as skiff containers: the first owns the network namespace
// (and the published ports, in its Ports), the others join it.
type Pod struct {
	Object      string // Pod/NAME
	Name        string
	HostNetwork bool
	Containers  []PodContainer
}

// PodContainer is one container of a pod: ContainerName is the skiff
// container's name, POD-NAME.
type PodContainer struct {
	Container
	ContainerName string
}

// doc is one decoded document.
type doc struct {
	n    int // 1-based, in its file
	kind string
	name string
	obj  Object
	raw  map[string]any
}

type player struct {
	o        PlayOptions
	plan     *Plan
	configs  map[string]*corev1.ConfigMap
	secrets  map[string]*corev1.Secret
	claims   map[string]bool
	portName map[string]map[string]int32 // object → port name → container port
	// emptyDirs are the volumes made for pods' emptyDirs: name → the
	// emptyDir's name.
	emptyDirs map[string]string
}

// Play reads a YAML stream of Kubernetes objects into a Plan. Invalid
// YAML, a document without apiVersion, kind or metadata.name, an object
// that fails validation or a reference that cannot be resolved (a
// ConfigMap key, a volume) is an error naming the document; unsupported
// kinds and fields are warnings in the plan.
func Play(data []byte, o PlayOptions) (*Plan, error) {
	p := &player{o: o, plan: &Plan{File: o.File, FilesDir: o.FilesDir},
		configs: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}, claims: map[string]bool{},
		portName: map[string]map[string]int32{}, emptyDirs: map[string]string{}}
	docs, err := p.decode(data)
	if err != nil {
		return nil, err
	}
	for _, d := range docs {
		switch o := d.obj.(type) {
		case *corev1.ConfigMap:
			p.configs[o.Name] = o
			rest := o.DeepCopy()
			rest.Data, rest.BinaryData, rest.Immutable = nil, nil, nil
			p.leftovers(d, rest, nil)
		case *corev1.Secret:
			p.secrets[o.Name] = o
			rest := o.DeepCopy()
			rest.Type, rest.Data, rest.StringData, rest.Immutable = "", nil, nil, nil
			p.leftovers(d, rest, nil)
		case *corev1.PersistentVolumeClaim:
			p.claim(d, o)
		}
	}
	for _, d := range docs {
		var err error
		switch o := d.obj.(type) {
		case *appsv1.Deployment:
			err = p.deployment(d, o)
		case *corev1.Pod:
			err = p.pod(d, o)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d (%s %s): %w", p.where(), d.n, d.kind, d.name, err)
		}
	}
	for _, d := range docs {
		if s, ok := d.obj.(*corev1.Service); ok {
			if err := p.service(d, s); err != nil {
				return nil, fmt.Errorf("%s: document %d (Service %s): %w", p.where(), d.n, d.name, err)
			}
		}
	}
	return p.plan, nil
}

func (p *player) where() string {
	if p.o.File == "-" || p.o.File == "" {
		return "stdin"
	}
	return p.o.File
}

func (p *player) warn(d doc, format string, args ...any) {
	p.plan.Warnings = append(p.plan.Warnings, fmt.Sprintf("kube play: %s %s: ", d.kind, d.name)+fmt.Sprintf(format, args...))
}

// kinds are the kinds play reads, by apiVersion.
var kinds = map[string]func() Object{
	"apps/v1 Deployment":       func() Object { return &appsv1.Deployment{} },
	"v1 Pod":                   func() Object { return &corev1.Pod{} },
	"v1 Service":               func() Object { return &corev1.Service{} },
	"v1 ConfigMap":             func() Object { return &corev1.ConfigMap{} },
	"v1 Secret":                func() Object { return &corev1.Secret{} },
	"v1 PersistentVolumeClaim": func() Object { return &corev1.PersistentVolumeClaim{} },
}

// decode splits the stream into documents and decodes each into its
// type, checking all of them.
func (p *player) decode(data []byte) ([]doc, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs []doc
	seen := map[string]int{}
	for n := 1; ; n++ {
		b, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %v", p.where(), n, err)
		}
		j, err := yaml.YAMLToJSON(b)
		if err != nil {
			return nil, fmt.Errorf("%s: document %d is not valid YAML: %v", p.where(), n, oneLine(err))
		}
		var raw map[string]any
		if err := json.Unmarshal(j, &raw); err != nil {
			if bytes.Equal(bytes.TrimSpace(j), []byte("null")) {
				continue // an empty document
			}
			return nil, fmt.Errorf("%s: document %d is not a Kubernetes object (a YAML mapping with apiVersion, kind and metadata)", p.where(), n)
		}
		if raw == nil {
			continue
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		_ = json.Unmarshal(j, &head)
		switch {
		case head.APIVersion == "" || head.Kind == "":
			return nil, fmt.Errorf("%s: document %d: apiVersion and kind are required", p.where(), n)
		case head.Metadata.Name == "":
			return nil, fmt.Errorf("%s: document %d (%s): metadata.name is required", p.where(), n, head.Kind)
		}
		d := doc{n: n, kind: head.Kind, name: head.Metadata.Name, raw: raw}
		mk, ok := kinds[head.APIVersion+" "+head.Kind]
		if !ok {
			p.warn(d, "kind %s (apiVersion %s) is not supported, ignored", head.Kind, head.APIVersion)
			continue
		}
		key := head.Kind + "/" + head.Metadata.Name
		if first, dup := seen[key]; dup {
			return nil, fmt.Errorf("%s: document %d: %s is defined twice (documents %d and %d)", p.where(), n, key, first, n)
		}
		seen[key] = n
		obj := mk()
		if err := json.Unmarshal(j, obj); err != nil {
			return nil, fmt.Errorf("%s: document %d (%s %s): %v", p.where(), n, head.Kind, head.Metadata.Name, oneLine(err))
		}
		if err := Validate(obj); err != nil {
			return nil, fmt.Errorf("%s: document %d (%s %s): %v", p.where(), n, head.Kind, head.Metadata.Name, oneLine(err))
		}
		d.obj = obj
		// Fields Kubernetes does not know: compare with what the type kept.
		back, _ := json.Marshal(obj)
		var kept map[string]any
		_ = json.Unmarshal(back, &kept)
		for _, f := range unknownFields("", raw, kept) {
			p.warn(d, "field %s is not a Kubernetes field, ignored", f)
		}
		docs = append(docs, d)
	}
	return docs, nil
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", " ") }

// unknownFields lists the non-empty keys of raw that kept lacks.
func unknownFields(path string, raw, kept any) []string {
	var out []string
	switch r := raw.(type) {
	case map[string]any:
		k, _ := kept.(map[string]any)
		for _, key := range sortedKeys(r) {
			kv, ok := k[key]
			if !ok {
				if !empty(r[key]) && !isZero(r[key]) {
					out = append(out, join(path, key))
				}
				continue
			}
			out = append(out, unknownFields(join(path, key), r[key], kv)...)
		}
	case []any:
		k, _ := kept.([]any)
		for i, v := range r {
			if i < len(k) {
				out = append(out, unknownFields(fmt.Sprintf("%s[%d]", path, i), v, k[i])...)
			}
		}
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func isZero(v any) bool {
	switch v := v.(type) {
	case bool:
		return !v
	case float64:
		return v == 0
	}
	return false
}

// empty reports whether v holds nothing: null, "", or maps and lists of
// nothing.
func empty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case map[string]any:
		for _, x := range v {
			if !empty(x) {
				return false
			}
		}
		return true
	case []any:
		for _, x := range v {
			if !empty(x) {
				return false
			}
		}
		return true
	}
	return false
}

// descend are the paths (indices as []) of objects whose fields play
// takes one by one: below them each field left is named on its own.
var descend = func() map[string]bool {
	m := map[string]bool{"": true, "metadata": true, "spec": true, "spec.template": true,
		"spec.template.metadata": true, "spec.strategy": true, "spec.strategy.rollingUpdate": true,
		"spec.ports[]": true, "spec.selector": true}
	for _, pod := range []string{"spec", "spec.template.spec"} {
		for _, s := range []string{"", ".securityContext", ".volumes[]", ".volumes[].emptyDir", ".volumes[].configMap",
			".volumes[].secret", ".volumes[].configMap.items[]", ".volumes[].secret.items[]", ".volumes[].hostPath",
			".volumes[].persistentVolumeClaim"} {
			m[pod+s] = true
		}
		for _, c := range []string{"containers[]"} {
			for _, s := range []string{"", ".ports[]", ".env[]", ".env[].valueFrom", ".envFrom[]", ".livenessProbe",
				".readinessProbe", ".livenessProbe.exec", ".readinessProbe.exec", ".securityContext",
				".securityContext.capabilities", ".volumeMounts[]"} {
				m[pod+"."+c+s] = true
			}
		}
	}
	return m
}()

// leftovers warns about each field of rest (what play did not take of
// an object) that is set: rest is a copy whose taken fields were
// cleared. Metadata the API server fills, status and annotations are
// dropped first; skip lists paths already reported.
func (p *player) leftovers(d doc, rest Object, skip map[string]bool) {
	b, _ := json.Marshal(rest)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	delete(m, "apiVersion")
	delete(m, "kind")
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok {
		for _, k := range []string{"name", "labels", "annotations", "uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink"} {
			delete(md, k)
		}
	}
	var walk func(path, norm string, v any)
	walk = func(path, norm string, v any) {
		if empty(v) || isZero(v) || skip[path] {
			return
		}
		switch x := v.(type) {
		case map[string]any:
			if descend[norm] {
				for _, k := range sortedKeys(x) {
					walk(join(path, k), join(norm, k), x[k])
				}
				return
			}
		case []any:
			if descend[norm+"[]"] {
				for i, e := range x {
					walk(fmt.Sprintf("%s[%d]", path, i), norm+"[]", e)
				}
				return
			}
		}
		p.warn(d, "field %s is not supported, ignored", path)
	}
	walk("", "", m)
}

// claim is a PersistentVolumeClaim: a named volume. Its size and access
// modes mean nothing to a local volume.
func (p *player) claim(d doc, c *corev1.PersistentVolumeClaim) {
	p.claims[c.Name] = true
	p.addVolume(c.Name, "PersistentVolumeClaim/"+c.Name, nil)
	rest := c.DeepCopy()
	rest.Spec.AccessModes = nil
	delete(rest.Spec.Resources.Requests, corev1.ResourceStorage)
	if rest.Spec.VolumeMode != nil && *rest.Spec.VolumeMode == corev1.PersistentVolumeFilesystem {
		rest.Spec.VolumeMode = nil
	}
	p.leftovers(d, rest, nil)
}

func (p *player) labels(object string) map[string]string {
	return map[string]string{LabelFile: p.o.File, LabelObject: object}
}

func (p *player) addVolume(name, object string, extra map[string]string) {
	for _, v := range p.plan.Volumes {
		if v.Name == name {
			return
		}
	}
	l := p.labels(object)
	for k, v := range extra {
		l[k] = v
	}
	p.plan.Volumes = append(p.plan.Volumes, Volume{Name: name, Labels: l})
}

// deployment is a skiff service: one container (the first), the
// replicas, the strategy as the UpdateConfig, probes as the healthcheck.
func (p *player) deployment(d doc, dep *appsv1.Deployment) error {
	rest := dep.DeepCopy()
	object := "Deployment/" + dep.Name
	ps := &rest.Spec.Template.Spec
	skip := map[string]bool{}
	if len(ps.Containers) > 1 {
		for i := range ps.Containers[1:] {
			path := fmt.Sprintf("spec.template.spec.containers[%d]", i+1)
			p.warn(d, "field %s is not supported (a Deployment runs as a skiff service: one container per replica), ignored", path)
			skip[path] = true
		}
	}
	if rp := ps.RestartPolicy; rp == corev1.RestartPolicyAlways {
		ps.RestartPolicy = ""
	}
	cs, err := p.podSpec(d, object, "", ps, "spec.template.spec", false)
	if err != nil {
		return err
	}
	c := cs[0]
	replicas := uint64(1)
	if rest.Spec.Replicas != nil {
		replicas = uint64(*rest.Spec.Replicas)
		rest.Spec.Replicas = nil
	}
	rest.Spec.Selector = nil // checked: it matches the template's labels
	tl := map[string]string{}
	for k, v := range rest.Spec.Template.Labels {
		tl[k] = v
	}
	rest.Spec.Template.Labels, rest.Spec.Template.Annotations = nil, nil
	for k, v := range p.labels(object) {
		tl[k] = v
	}
	c.Spec.Labels = tl
	sl := map[string]string{}
	for k, v := range dep.Labels {
		sl[k] = v
	}
	for k, v := range p.labels(object) {
		sl[k] = v
	}
	uc, err := updateConfig(rest, int(replicas))
	if err != nil {
		return err
	}
	spec := swarm.ServiceSpec{
		Annotations:  swarm.Annotations{Name: dep.Name, Labels: sl},
		Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &replicas}},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &c.Spec},
		UpdateConfig: uc,
		EndpointSpec: &swarm.EndpointSpec{Ports: c.Ports},
	}
	if len(c.Ports) == 0 {
		spec.EndpointSpec = nil
	}
	p.plan.Services = append(p.plan.Services, Service{Object: object, Spec: spec, Pull: c.Pull})
	p.leftovers(d, rest, skip)
	return nil
}

// updateConfig is the Deployment's strategy as an UpdateConfig (see
// generator.strategy), taken out of rest.
func updateConfig(rest *appsv1.Deployment, replicas int) (*swarm.UpdateConfig, error) {
	uc := &swarm.UpdateConfig{Parallelism: 1, Order: swarm.UpdateOrderStopFirst}
	if s := rest.Spec.MinReadySeconds; s > 0 {
		uc.Monitor = time.Duration(s) * time.Second
		rest.Spec.MinReadySeconds = 0
	}
	st := &rest.Spec.Strategy
	switch st.Type {
	case appsv1.RecreateDeploymentStrategyType:
		uc.Parallelism = 0
		st.Type = ""
		return uc, nil
	case appsv1.RollingUpdateDeploymentStrategyType, "":
		st.Type = ""
	default:
		return nil, fmt.Errorf("spec.strategy.type %q: want RollingUpdate or Recreate", st.Type)
	}
	def := intstr.FromString("25%")
	surge, unavail := &def, &def
	if ru := st.RollingUpdate; ru != nil {
		if ru.MaxSurge != nil {
			surge = ru.MaxSurge
		}
		if ru.MaxUnavailable != nil {
			unavail = ru.MaxUnavailable
		}
		st.RollingUpdate = nil
	}
	s, err := intstr.GetScaledValueFromIntOrPercent(surge, replicas, true)
	if err != nil {
		return nil, fmt.Errorf("spec.strategy.rollingUpdate.maxSurge: %v", err)
	}
	u, err := intstr.GetScaledValueFromIntOrPercent(unavail, replicas, false)
	if err != nil {
		return nil, fmt.Errorf("spec.strategy.rollingUpdate.maxUnavailable: %v", err)
	}
	switch {
	case u == 0 && s == 0:
		return nil, errors.New("spec.strategy.rollingUpdate: maxSurge and maxUnavailable may not both be 0")
	case u == 0:
		uc.Order, uc.Parallelism = swarm.UpdateOrderStartFirst, uint64(s)
	default:
		uc.Parallelism = uint64(u)
	}
	return uc, nil
}

// pod is skiff containers POD-NAME, the first owning the network
// namespace.
func (p *player) pod(d doc, pod *corev1.Pod) error {
	rest := pod.DeepCopy()
	object := "Pod/" + pod.Name
	restart := "always"
	switch rest.Spec.RestartPolicy {
	case corev1.RestartPolicyNever:
		restart = "no"
	case corev1.RestartPolicyOnFailure:
		restart = "on-failure"
	}
	rest.Spec.RestartPolicy = ""
	hostNet := rest.Spec.HostNetwork
	rest.Spec.HostNetwork = false
	cs, err := p.podSpec(d, object, pod.Name, &rest.Spec, "spec", true)
	if err != nil {
		return err
	}
	out := Pod{Object: object, Name: pod.Name, HostNetwork: hostNet}
	for i, c := range cs {
		c.Restart = restart
		l := map[string]string{}
		for k, v := range pod.Labels {
			l[k] = v
		}
		for k, v := range p.labels(object) {
			l[k] = v
		}
		l[LabelPod], l[LabelContainer] = pod.Name, c.Name
		c.Spec.Labels = l
		if i == 0 {
			if rest.Spec.Hostname != "" {
				c.Spec.Hostname = rest.Spec.Hostname
			} else if !hostNet {
				c.Spec.Hostname = pod.Name
			}
		}
		out.Containers = append(out.Containers, PodContainer{Container: c, ContainerName: pod.Name + "-" + c.Name})
	}
	rest.Spec.Hostname = ""
	p.plan.Pods = append(p.plan.Pods, out)
	p.leftovers(d, rest, nil)
	return nil
}

// podSpec is the containers of a pod spec, taken out of s: volumes as
// mounts, env resolved from ConfigMaps and Secrets, probes as the
// healthcheck. pod is the Pod's name ("" for a Deployment's template:
// its emptyDirs are then each replica's own anonymous volume). All the
// ports are on the first container.
func (p *player) podSpec(d doc, object, pod string, s *corev1.PodSpec, path string, isPod bool) ([]Container, error) {
	mounts, err := p.volumes(d, object, pod, s, path)
	if err != nil {
		return nil, err
	}
	for _, k := range []*string{(*string)(&s.DNSPolicy), &s.SchedulerName} {
		if *k == string(corev1.DNSClusterFirst) || *k == corev1.DefaultSchedulerName {
			*k = ""
		}
	}
	var grace *time.Duration
	if t := s.TerminationGracePeriodSeconds; t != nil {
		g := time.Duration(*t) * time.Second
		grace = &g
		s.TerminationGracePeriodSeconds = nil
	}
	var podUser, podGroup *int64
	if sc := s.SecurityContext; sc != nil {
		podUser, podGroup = sc.RunAsUser, sc.RunAsGroup
		sc.RunAsUser, sc.RunAsGroup = nil, nil
	}
	n := len(s.Containers)
	if !isPod {
		n = 1
	}
	var out []Container
	var ports []swarm.PortConfig
	names := map[string]int32{}
	for i := range s.Containers[:n] {
		k := &s.Containers[i]
		cp := fmt.Sprintf("%s.containers[%d]", path, i)
		c := Container{Name: k.Name, Spec: swarm.ContainerSpec{
			Image: k.Image, Command: k.Command, Args: k.Args, Dir: k.WorkingDir, TTY: k.TTY, OpenStdin: k.Stdin,
			StopGracePeriod: grace,
		}}
		k.Name, k.Image, k.Command, k.Args, k.WorkingDir, k.TTY, k.Stdin = "", "", nil, nil, "", false, false
		switch k.ImagePullPolicy {
		case corev1.PullAlways:
			c.Pull = "always"
		case corev1.PullNever:
			c.Pull = "never"
		}
		k.ImagePullPolicy = ""
		if k.TerminationMessagePath == corev1.TerminationMessagePathDefault {
			k.TerminationMessagePath = ""
		}
		if k.TerminationMessagePolicy == corev1.TerminationMessageReadFile {
			k.TerminationMessagePolicy = ""
		}
		env, err := p.env(k, cp)
		if err != nil {
			return nil, err
		}
		c.Spec.Env = env
		for j := range k.Ports {
			port := &k.Ports[j]
			proto, ok := portProtocol(port.Protocol)
			if !ok {
				return nil, fmt.Errorf("%s.ports[%d].protocol %s: only TCP and UDP are supported", cp, j, port.Protocol)
			}
			if port.Name != "" {
				names[port.Name] = port.ContainerPort
			}
			if port.HostPort != 0 {
				ports = append(ports, swarm.PortConfig{Protocol: proto, TargetPort: uint32(port.ContainerPort), PublishedPort: uint32(port.HostPort), PublishMode: swarm.PortConfigPublishModeIngress})
			}
			port.Name, port.ContainerPort, port.HostPort, port.Protocol = "", 0, 0, ""
		}
		c.Spec.Healthcheck = healthcheck(k)
		if err := p.security(k, &c, isPod); err != nil {
			return nil, fmt.Errorf("%s: %v", cp, err)
		}
		if c.Spec.User == "" && podUser != nil {
			c.Spec.User = strconv.FormatInt(*podUser, 10)
			if podGroup != nil {
				c.Spec.User += ":" + strconv.FormatInt(*podGroup, 10)
			}
		}
		for j := range k.VolumeMounts {
			vm := &k.VolumeMounts[j]
			mk, ok := mounts[vm.Name]
			if !ok {
				return nil, fmt.Errorf("%s.volumeMounts[%d]: no volume %s in the pod", cp, j, vm.Name)
			}
			m := mk(vm.MountPath)
			m.ReadOnly = m.ReadOnly || vm.ReadOnly
			c.Spec.Mounts = append(c.Spec.Mounts, m)
			vm.Name, vm.MountPath, vm.ReadOnly = "", "", false
		}
		for _, m := range c.Spec.Mounts {
			if name, ok := p.emptyDirs[m.Source]; ok && m.Type == mount.TypeVolume && m.Source != "" {
				if c.EmptyDirs == nil {
					c.EmptyDirs = map[string]string{}
				}
				c.EmptyDirs[m.Source] = name
			}
		}
		out = append(out, c)
	}
	p.portName[object] = names
	out[0].Ports = ports
	return out, nil
}

// volumes turns the pod's volumes into makers of mounts, by name.
func (p *player) volumes(d doc, object, pod string, s *corev1.PodSpec, path string) (map[string]func(target string) mount.Mount, error) {
	out := map[string]func(string) mount.Mount{}
	for i := range s.Volumes {
		v := &s.Volumes[i]
		vp := fmt.Sprintf("%s.volumes[%d]", path, i)
		name := v.Name
		v.Name = ""
		switch {
		case v.PersistentVolumeClaim != nil:
			claim, ro := v.PersistentVolumeClaim.ClaimName, v.PersistentVolumeClaim.ReadOnly
			v.PersistentVolumeClaim = nil
			if !p.claims[claim] {
				p.warn(d, "%s: PersistentVolumeClaim %s is not in this file: the volume %s is used (and made when missing)", vp, claim, claim)
			}
			out[name] = func(t string) mount.Mount {
				return mount.Mount{Type: mount.TypeVolume, Source: claim, Target: t, ReadOnly: ro}
			}
		case v.EmptyDir != nil:
			ed := v.EmptyDir
			v.EmptyDir = nil
			switch {
			case ed.Medium == corev1.StorageMediumMemory:
				var size int64
				if ed.SizeLimit != nil {
					size = ed.SizeLimit.Value()
				}
				out[name] = func(t string) mount.Mount {
					m := mount.Mount{Type: mount.TypeTmpfs, Target: t}
					if size > 0 {
						m.TmpfsOptions = &mount.TmpfsOptions{SizeBytes: size}
					}
					return m
				}
			case ed.Medium != corev1.StorageMediumDefault:
				return nil, fmt.Errorf("%s.emptyDir.medium %s: only \"\" and Memory are supported", vp, ed.Medium)
			case pod != "":
				// Shared by the pod's containers: a named volume of the pod.
				vol := pod + "-" + name
				p.addVolume(vol, object, map[string]string{LabelEmptyDir: name})
				p.emptyDirs[vol] = name
				out[name] = func(t string) mount.Mount { return mount.Mount{Type: mount.TypeVolume, Source: vol, Target: t} }
			default:
				out[name] = func(t string) mount.Mount { return mount.Mount{Type: mount.TypeVolume, Target: t} }
				if ed.SizeLimit != nil {
					p.warn(d, "field %s.emptyDir.sizeLimit is not supported (volumes have no size), ignored", vp)
				}
			}
		case v.HostPath != nil:
			src := v.HostPath.Path
			v.HostPath = nil
			if !filepath.IsAbs(src) {
				return nil, fmt.Errorf("%s.hostPath.path %q: must be absolute", vp, src)
			}
			out[name] = func(t string) mount.Mount { return mount.Mount{Type: mount.TypeBind, Source: src, Target: t} }
		case v.ConfigMap != nil || v.Secret != nil:
			var data map[string][]byte
			var items []corev1.KeyToPath
			var mode *int32
			var kind, ref string
			var optional bool
			if cm := v.ConfigMap; cm != nil {
				kind, ref, items, mode, optional = "ConfigMap", cm.Name, cm.Items, cm.DefaultMode, cm.Optional != nil && *cm.Optional
				if c, ok := p.configs[ref]; ok {
					data = configData(c)
				}
				v.ConfigMap = nil
			} else {
				sv := v.Secret
				kind, ref, items, mode, optional = "Secret", sv.SecretName, sv.Items, sv.DefaultMode, sv.Optional != nil && *sv.Optional
				if s, ok := p.secrets[ref]; ok {
					data = secretData(s)
				}
				v.Secret = nil
			}
			if data == nil && !optional {
				return nil, fmt.Errorf("%s: %s %s is not in this file", vp, kind, ref)
			}
			dir := filepath.Join(p.o.FilesDir, strings.ReplaceAll(object, "/", "-"), name)
			perm := os.FileMode(0o644)
			if mode != nil {
				perm = os.FileMode(*mode) & 0o777
			}
			files := map[string][]byte{}
			fmode := map[string]os.FileMode{}
			if len(items) == 0 {
				for k, b := range data {
					files[k], fmode[k] = b, perm
				}
			}
			for j, it := range items {
				b, ok := data[it.Key]
				if !ok {
					if optional {
						continue
					}
					return nil, fmt.Errorf("%s.items[%d]: %s %s has no key %s", vp, j, kind, ref, it.Key)
				}
				clean := filepath.Clean(it.Path)
				if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
					return nil, fmt.Errorf("%s.items[%d].path %q: must be relative and stay inside the volume", vp, j, it.Path)
				}
				files[clean], fmode[clean] = b, perm
				if it.Mode != nil {
					fmode[clean] = os.FileMode(*it.Mode) & 0o777
				}
			}
			for _, k := range sortedKeys(files) {
				p.plan.Files = append(p.plan.Files, File{Path: filepath.Join(dir, k), Data: files[k], Mode: fmode[k]})
			}
			if len(files) == 0 {
				p.plan.Files = append(p.plan.Files, File{Path: dir + "/", Mode: 0o755})
			}
			out[name] = func(t string) mount.Mount {
				return mount.Mount{Type: mount.TypeBind, Source: dir, Target: t, ReadOnly: true}
			}
		default:
			// Reported by leftovers as the field that is set.
			out[name] = nil
			v.Name = name
			p.warn(d, "%s (%s): this kind of volume is not supported: its mounts are left out", vp, name)
		}
	}
	for n, f := range out {
		if f == nil {
			delete(out, n)
			for i := range s.Containers {
				ms := s.Containers[i].VolumeMounts[:0]
				for _, m := range s.Containers[i].VolumeMounts {
					if m.Name != n {
						ms = append(ms, m)
					}
				}
				s.Containers[i].VolumeMounts = ms
			}
		}
	}
	return out, nil
}

func configData(c *corev1.ConfigMap) map[string][]byte {
	out := map[string][]byte{}
	for k, v := range c.Data {
		out[k] = []byte(v)
	}
	for k, v := range c.BinaryData {
		out[k] = v
	}
	return out
}

func secretData(s *corev1.Secret) map[string][]byte {
	out := map[string][]byte{}
	for k, v := range s.Data {
		out[k] = v
	}
	for k, v := range s.StringData {
		out[k] = []byte(v)
	}
	return out
}

// env is the container's environment: envFrom first, then env (which
// wins), ConfigMap and Secret references resolved.
func (p *player) env(k *corev1.Container, cp string) ([]string, error) {
	vals := map[string]string{}
	var order []string
	set := func(n, v string) {
		if _, ok := vals[n]; !ok {
			order = append(order, n)
		}
		vals[n] = v
	}
	for j := range k.EnvFrom {
		ef := &k.EnvFrom[j]
		var data map[string][]byte
		var kind, ref string
		var optional bool
		switch {
		case ef.ConfigMapRef != nil:
			kind, ref, optional = "ConfigMap", ef.ConfigMapRef.Name, ef.ConfigMapRef.Optional != nil && *ef.ConfigMapRef.Optional
			if c, ok := p.configs[ref]; ok {
				data = configData(c)
			}
			ef.ConfigMapRef = nil
		case ef.SecretRef != nil:
			kind, ref, optional = "Secret", ef.SecretRef.Name, ef.SecretRef.Optional != nil && *ef.SecretRef.Optional
			if s, ok := p.secrets[ref]; ok {
				data = secretData(s)
			}
			ef.SecretRef = nil
		default:
			continue
		}
		if data == nil && !optional {
			return nil, fmt.Errorf("%s.envFrom[%d]: %s %s is not in this file", cp, j, kind, ref)
		}
		for _, key := range sortedKeys(data) {
			set(ef.Prefix+key, string(data[key]))
		}
		ef.Prefix = ""
	}
	for j := range k.Env {
		e := &k.Env[j]
		name := e.Name
		if vf := e.ValueFrom; vf != nil {
			var data map[string][]byte
			var kind, ref, key string
			var optional bool
			switch {
			case vf.ConfigMapKeyRef != nil:
				kind, ref, key, optional = "ConfigMap", vf.ConfigMapKeyRef.Name, vf.ConfigMapKeyRef.Key, vf.ConfigMapKeyRef.Optional != nil && *vf.ConfigMapKeyRef.Optional
				if c, ok := p.configs[ref]; ok {
					data = configData(c)
				}
				vf.ConfigMapKeyRef = nil
			case vf.SecretKeyRef != nil:
				kind, ref, key, optional = "Secret", vf.SecretKeyRef.Name, vf.SecretKeyRef.Key, vf.SecretKeyRef.Optional != nil && *vf.SecretKeyRef.Optional
				if s, ok := p.secrets[ref]; ok {
					data = secretData(s)
				}
				vf.SecretKeyRef = nil
			default:
				continue // fieldRef, resourceFieldRef: left for leftovers
			}
			b, ok := data[key]
			switch {
			case data == nil && !optional:
				return nil, fmt.Errorf("%s.env[%d] (%s): %s %s is not in this file", cp, j, name, kind, ref)
			case !ok && !optional:
				return nil, fmt.Errorf("%s.env[%d] (%s): %s %s has no key %s", cp, j, name, kind, ref, key)
			case ok:
				set(name, string(b))
			}
			e.Name = ""
			continue
		}
		set(name, e.Value)
		e.Name, e.Value = "", ""
	}
	var out []string
	for _, n := range order {
		out = append(out, n+"="+vals[n])
	}
	return out, nil
}

// healthcheck is the container's exec probe (liveness, else readiness;
// a readiness probe that differs from the liveness probe is left).
func healthcheck(k *corev1.Container) *mcontainer.HealthConfig {
	pr := k.LivenessProbe
	if pr == nil || pr.Exec == nil {
		pr = k.ReadinessProbe
	}
	if pr == nil || pr.Exec == nil || len(pr.Exec.Command) == 0 {
		return nil
	}
	pr = pr.DeepCopy()
	hc := &mcontainer.HealthConfig{
		Test:        append([]string{"CMD"}, pr.Exec.Command...),
		Interval:    time.Duration(pr.PeriodSeconds) * time.Second,
		Timeout:     time.Duration(pr.TimeoutSeconds) * time.Second,
		StartPeriod: time.Duration(pr.InitialDelaySeconds) * time.Second,
		Retries:     int(pr.FailureThreshold),
	}
	for _, x := range []**corev1.Probe{&k.LivenessProbe, &k.ReadinessProbe} {
		if *x != nil && reflect.DeepEqual(**x, *pr) {
			*x = nil
		}
	}
	return hc
}

// security takes the container's securityContext: numeric user and
// group, capabilities, read-only root, privileged (pods only).
func (p *player) security(k *corev1.Container, c *Container, isPod bool) error {
	sc := k.SecurityContext
	if sc == nil {
		return nil
	}
	switch {
	case sc.RunAsUser != nil:
		c.Spec.User = strconv.FormatInt(*sc.RunAsUser, 10)
		if sc.RunAsGroup != nil {
			c.Spec.User += ":" + strconv.FormatInt(*sc.RunAsGroup, 10)
			sc.RunAsGroup = nil
		}
		sc.RunAsUser = nil
	}
	if caps := sc.Capabilities; caps != nil {
		for _, x := range caps.Add {
			c.Spec.CapabilityAdd = append(c.Spec.CapabilityAdd, string(x))
		}
		for _, x := range caps.Drop {
			c.Spec.CapabilityDrop = append(c.Spec.CapabilityDrop, string(x))
		}
		sc.Capabilities = nil
	}
	if r := sc.ReadOnlyRootFilesystem; r != nil {
		c.Spec.ReadOnly = *r
		sc.ReadOnlyRootFilesystem = nil
	}
	if pr := sc.Privileged; pr != nil && isPod {
		c.Privileged = *pr
		sc.Privileged = nil
	}
	return nil
}

// service publishes a Service's ports on what it selects in this file:
// NodePort's nodePort (else port), LoadBalancer's port; ClusterIP ports
// get any free host port.
func (p *player) service(d doc, s *corev1.Service) error {
	rest := s.DeepCopy()
	defer func() { p.leftovers(d, rest, nil) }()
	// Addresses and families of the cluster's service network.
	rest.Spec.ClusterIP, rest.Spec.ClusterIPs, rest.Spec.IPFamilies, rest.Spec.IPFamilyPolicy = "", nil, nil, nil
	if rest.Spec.SessionAffinity == corev1.ServiceAffinityNone {
		rest.Spec.SessionAffinity = ""
	}
	if t := rest.Spec.InternalTrafficPolicy; t != nil && *t == corev1.ServiceInternalTrafficPolicyCluster {
		rest.Spec.InternalTrafficPolicy = nil
	}
	if rest.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyCluster {
		rest.Spec.ExternalTrafficPolicy = ""
	}
	typ := s.Spec.Type
	rest.Spec.Type = ""
	switch typ {
	case "", corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer:
	default:
		p.warn(d, "type %s is not supported, ignored", typ)
		rest.Spec.Ports = nil
		return nil
	}
	if len(s.Spec.Selector) == 0 {
		p.warn(d, "no selector: it publishes nothing, ignored")
		return nil
	}
	sel := labels.SelectorFromSet(s.Spec.Selector)
	rest.Spec.Selector = nil
	matched := false
	resolve := func(object string, sp corev1.ServicePort) (uint32, error) {
		switch {
		case sp.TargetPort.Type == intstr.String:
			n, ok := p.portName[object][sp.TargetPort.StrVal]
			if !ok {
				return 0, fmt.Errorf("port %s: %s has no port named %s", sp.Name, object, sp.TargetPort.StrVal)
			}
			return uint32(n), nil
		case sp.TargetPort.IntVal != 0:
			return uint32(sp.TargetPort.IntVal), nil
		}
		return uint32(sp.Port), nil
	}
	configs := func(object string) ([]swarm.PortConfig, error) {
		var out []swarm.PortConfig
		for _, sp := range s.Spec.Ports {
			proto, ok := portProtocol(sp.Protocol)
			if !ok {
				return nil, fmt.Errorf("port %s: protocol %s: only TCP and UDP are supported", sp.Name, sp.Protocol)
			}
			target, err := resolve(object, sp)
			if err != nil {
				return nil, err
			}
			pc := swarm.PortConfig{Protocol: proto, TargetPort: target, PublishMode: swarm.PortConfigPublishModeIngress}
			switch typ {
			case corev1.ServiceTypeNodePort:
				pc.PublishedPort = uint32(sp.Port)
				if sp.NodePort != 0 {
					pc.PublishedPort = uint32(sp.NodePort)
				}
			case corev1.ServiceTypeLoadBalancer:
				pc.PublishedPort = uint32(sp.Port)
			}
			out = append(out, pc)
		}
		return out, nil
	}
	for i := range p.plan.Services {
		sv := &p.plan.Services[i]
		if !sel.Matches(labels.Set(sv.Spec.TaskTemplate.ContainerSpec.Labels)) {
			continue
		}
		matched = true
		pcs, err := configs(sv.Object)
		if err != nil {
			return err
		}
		if sv.Spec.EndpointSpec == nil {
			sv.Spec.EndpointSpec = &swarm.EndpointSpec{}
		}
		sv.Spec.EndpointSpec.Ports = mergePorts(sv.Spec.EndpointSpec.Ports, pcs)
	}
	for i := range p.plan.Pods {
		pod := &p.plan.Pods[i]
		if !sel.Matches(labels.Set(pod.Containers[0].Spec.Labels)) {
			continue
		}
		matched = true
		pcs, err := configs(pod.Object)
		if err != nil {
			return err
		}
		pod.Containers[0].Ports = mergePorts(pod.Containers[0].Ports, pcs)
	}
	for i := range rest.Spec.Ports {
		rest.Spec.Ports[i] = corev1.ServicePort{}
	}
	if !matched {
		p.warn(d, "selects no Pod or Deployment in this file, ignored")
	}
	return nil
}

// mergePorts adds the ports of add that are not in have yet.
func mergePorts(have, add []swarm.PortConfig) []swarm.PortConfig {
	for _, a := range add {
		dup := false
		for _, h := range have {
			if h.Protocol == a.Protocol && h.TargetPort == a.TargetPort && h.PublishedPort == a.PublishedPort {
				dup = true
			}
		}
		if !dup {
			have = append(have, a)
		}
	}
	return have
}

// portProtocol is a Kubernetes port's protocol as swarm's (TCP when
// unset); false for SCTP, which skiff does not forward.
func portProtocol(p corev1.Protocol) (network.IPProtocol, bool) {
	switch p {
	case corev1.ProtocolTCP, "":
		return network.TCP, true
	case corev1.ProtocolUDP:
		return network.UDP, true
	}
	return "", false
}
