// Package kube translates between Kubernetes objects (k8s.io/api types,
// YAML through sigs.k8s.io/yaml) and what skiff runs: Docker's swarm
// ServiceSpec for a Deployment, swarm ContainerSpecs for the containers
// of a Pod, port configs for Services, mounts for volumes, files for
// ConfigMaps and Secrets. It never runs anything: the engine
// (engine/kube.go) runs the result of Play and feeds Generate.
package kube

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
)

// Labels skiff puts on what kube play makes, so that kube down (and
// play --replace) find exactly that, and kube generate finds the names
// the objects had.
const (
	// LabelFile is the absolute path of the YAML file ("-" for stdin).
	LabelFile = "io.skiff.kube.file"
	// LabelObject is Kind/name of the object it came from.
	LabelObject = "io.skiff.kube.object"
	// LabelPod and LabelContainer are, on a Pod's containers, the pod's
	// name and the container's name in it.
	LabelPod       = "io.skiff.kube.pod"
	LabelContainer = "io.skiff.kube.container"
	// AnnotationHostPath prefixes the annotation generate puts on a pod
	// (template) for each hostPath volume: the key's name part is the
	// volume's name, the value says that it is a path on this host.
	AnnotationHostPath = "host-path.io.skiff.kube/"
	// LabelApp is the label generate selects on: app=NAME.
	LabelApp = "app"
)

// Object is one Kubernetes object: *appsv1.Deployment, *corev1.Pod,
// *corev1.Service, *corev1.PersistentVolumeClaim, *corev1.ConfigMap or
// *corev1.Secret.
type Object any

// Marshal writes objects as one multi-document YAML stream (documents
// separated by ---), without the empty status and null creation
// timestamps typed marshalling puts in.
func Marshal(objs []Object) ([]byte, error) {
	var out bytes.Buffer
	for i, o := range objs {
		j, err := json.Marshal(o)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := json.Unmarshal(j, &m); err != nil {
			return nil, err
		}
		prune(m, true)
		j, err = json.Marshal(m)
		if err != nil {
			return nil, err
		}
		y, err := yaml.JSONToYAML(j)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			out.WriteString("---\n")
		}
		out.Write(y)
	}
	return out.Bytes(), nil
}

// prune drops "creationTimestamp: null" everywhere and an empty status
// at the top.
func prune(m map[string]any, top bool) {
	for k, v := range m {
		switch v := v.(type) {
		case nil:
			if k == "creationTimestamp" {
				delete(m, k)
			}
		case map[string]any:
			prune(v, false)
			if top && k == "status" && empty(v) {
				delete(m, k)
			}
		}
	}
}

// kindOf is an object's "Kind name", for messages.
func kindOf(o Object) (string, string) {
	switch o := o.(type) {
	case *appsv1.Deployment:
		return "Deployment", o.Name
	case *corev1.Pod:
		return "Pod", o.Name
	case *corev1.Service:
		return "Service", o.Name
	case *corev1.PersistentVolumeClaim:
		return "PersistentVolumeClaim", o.Name
	case *corev1.ConfigMap:
		return "ConfigMap", o.Name
	case *corev1.Secret:
		return "Secret", o.Name
	}
	return fmt.Sprintf("%T", o), ""
}

// Validate applies the field validation apimachinery offers without a
// cluster (k8s.io/kubernetes's own validation is not used): object
// names, labels, annotations and selectors, and the names and numbers
// inside pod specs and services. The error names the field.
func Validate(o Object) error {
	var errs field.ErrorList
	meta := func(m *metav1.ObjectMeta, nameFn apivalidation.ValidateNameFunc) {
		errs = append(errs, apivalidation.ValidateObjectMeta(m, m.Namespace != "", nameFn, field.NewPath("metadata"))...)
	}
	switch o := o.(type) {
	case *appsv1.Deployment:
		meta(&o.ObjectMeta, apivalidation.NameIsDNSSubdomain)
		sp := field.NewPath("spec")
		if o.Spec.Selector == nil {
			errs = append(errs, field.Required(sp.Child("selector"), ""))
		} else {
			errs = append(errs, metavalidation.ValidateLabelSelector(o.Spec.Selector, metavalidation.LabelSelectorValidationOptions{}, sp.Child("selector"))...)
			sel, err := metav1.LabelSelectorAsSelector(o.Spec.Selector)
			if err == nil && (sel.Empty() || !sel.Matches(labels.Set(o.Spec.Template.Labels))) {
				errs = append(errs, field.Invalid(sp.Child("template", "metadata", "labels"), o.Spec.Template.Labels, "`selector` does not match template `labels`"))
			}
		}
		if o.Spec.Replicas != nil && *o.Spec.Replicas < 0 {
			errs = append(errs, field.Invalid(sp.Child("replicas"), *o.Spec.Replicas, "must be greater than or equal to 0"))
		}
		errs = append(errs, metavalidation.ValidateLabels(o.Spec.Template.Labels, sp.Child("template", "metadata", "labels"))...)
		errs = append(errs, validatePodSpec(&o.Spec.Template.Spec, sp.Child("template", "spec"))...)
	case *corev1.Pod:
		meta(&o.ObjectMeta, apivalidation.NameIsDNSSubdomain)
		errs = append(errs, validatePodSpec(&o.Spec, field.NewPath("spec"))...)
	case *corev1.Service:
		meta(&o.ObjectMeta, apivalidation.NameIsDNS1035Label)
		sp := field.NewPath("spec")
		errs = append(errs, metavalidation.ValidateLabels(o.Spec.Selector, sp.Child("selector"))...)
		for i, p := range o.Spec.Ports {
			pp := sp.Child("ports").Index(i)
			if len(o.Spec.Ports) > 1 && p.Name == "" {
				errs = append(errs, field.Required(pp.Child("name"), "when there are several ports"))
			}
			if p.Name != "" {
				for _, msg := range validation.IsDNS1123Label(p.Name) {
					errs = append(errs, field.Invalid(pp.Child("name"), p.Name, msg))
				}
			}
			for _, msg := range validation.IsValidPortNum(int(p.Port)) {
				errs = append(errs, field.Invalid(pp.Child("port"), p.Port, msg))
			}
			if p.NodePort != 0 {
				for _, msg := range validation.IsValidPortNum(int(p.NodePort)) {
					errs = append(errs, field.Invalid(pp.Child("nodePort"), p.NodePort, msg))
				}
			}
			errs = append(errs, validateIntOrName(p.TargetPort, pp.Child("targetPort"))...)
		}
	case *corev1.PersistentVolumeClaim:
		meta(&o.ObjectMeta, apivalidation.NameIsDNSSubdomain)
	case *corev1.ConfigMap:
		meta(&o.ObjectMeta, apivalidation.NameIsDNSSubdomain)
		errs = append(errs, checkKeys("data", o.Data)...)
		errs = append(errs, checkKeys("binaryData", o.BinaryData)...)
	case *corev1.Secret:
		meta(&o.ObjectMeta, apivalidation.NameIsDNSSubdomain)
		errs = append(errs, checkKeys("data", o.Data)...)
		errs = append(errs, checkKeys("stringData", o.StringData)...)
	}
	if len(errs) == 0 {
		return nil
	}
	return errs.ToAggregate()
}

func validateIntOrName(v intstr.IntOrString, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if v.Type == intstr.String {
		for _, msg := range validation.IsValidPortName(v.StrVal) {
			errs = append(errs, field.Invalid(p, v.StrVal, msg))
		}
	} else if v.IntVal != 0 {
		for _, msg := range validation.IsValidPortNum(int(v.IntVal)) {
			errs = append(errs, field.Invalid(p, v.IntVal, msg))
		}
	}
	return errs
}

func validatePodSpec(s *corev1.PodSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(s.Containers) == 0 {
		errs = append(errs, field.Required(p.Child("containers"), ""))
	}
	vols := map[string]bool{}
	for i, v := range s.Volumes {
		vp := p.Child("volumes").Index(i)
		for _, msg := range validation.IsDNS1123Label(v.Name) {
			errs = append(errs, field.Invalid(vp.Child("name"), v.Name, msg))
		}
		if vols[v.Name] {
			errs = append(errs, field.Duplicate(vp.Child("name"), v.Name))
		}
		vols[v.Name] = true
	}
	names := map[string]bool{}
	for i, c := range s.Containers {
		cp := p.Child("containers").Index(i)
		for _, msg := range validation.IsDNS1123Label(c.Name) {
			errs = append(errs, field.Invalid(cp.Child("name"), c.Name, msg))
		}
		if names[c.Name] {
			errs = append(errs, field.Duplicate(cp.Child("name"), c.Name))
		}
		names[c.Name] = true
		if c.Image == "" {
			errs = append(errs, field.Required(cp.Child("image"), ""))
		}
		for j, e := range c.Env {
			for _, msg := range validation.IsEnvVarName(e.Name) {
				errs = append(errs, field.Invalid(cp.Child("env").Index(j).Child("name"), e.Name, msg))
			}
		}
		for j, port := range c.Ports {
			pp := cp.Child("ports").Index(j)
			for _, msg := range validation.IsValidPortNum(int(port.ContainerPort)) {
				errs = append(errs, field.Invalid(pp.Child("containerPort"), port.ContainerPort, msg))
			}
			if port.HostPort != 0 {
				for _, msg := range validation.IsValidPortNum(int(port.HostPort)) {
					errs = append(errs, field.Invalid(pp.Child("hostPort"), port.HostPort, msg))
				}
			}
			if port.Name != "" {
				for _, msg := range validation.IsValidPortName(port.Name) {
					errs = append(errs, field.Invalid(pp.Child("name"), port.Name, msg))
				}
			}
		}
		for j, m := range c.VolumeMounts {
			mp := cp.Child("volumeMounts").Index(j)
			if !vols[m.Name] {
				errs = append(errs, field.NotFound(mp.Child("name"), m.Name))
			}
			if !strings.HasPrefix(m.MountPath, "/") {
				errs = append(errs, field.Invalid(mp.Child("mountPath"), m.MountPath, "must be an absolute path"))
			}
		}
	}
	return errs
}

// notName matches what a Kubernetes name may not hold; compiled at its first use.
var notName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^a-z0-9-]+`) })

// k8sName turns a Docker name (letters, digits, _ . -) into a DNS label:
// lower case, runs of other characters as '-', at most 63 characters.
func k8sName(s string) string {
	n := notName().ReplaceAllString(strings.ToLower(s), "-")
	n = strings.Trim(n, "-")
	if len(n) > 63 {
		n = strings.TrimRight(n[:63], "-")
	}
	if n == "" {
		n = "x"
	}
	return n
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkKeys validates the keys of a ConfigMap's or a Secret's data.
func checkKeys[V any](name string, m map[string]V) field.ErrorList {
	var errs field.ErrorList
	for k := range m {
		for _, msg := range validation.IsConfigMapKey(k) {
			errs = append(errs, field.Invalid(field.NewPath(name).Key(k), k, msg))
		}
	}
	return errs
}
