package kube

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	mcontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// testService is a service as the engine keeps it (defaults filled).
func testService() swarm.ServiceSpec {
	replicas := uint64(2)
	grace := 7 * time.Second
	return swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: "web", Labels: map[string]string{"tier": "front"}},
		Mode:        swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &replicas}},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{
				Image:   "registry.local/www:v1",
				Command: []string{"sh", "-c"},
				Args:    []string{"httpd -f -p 80"},
				Env:     []string{"A=1", "B=two words"},
				Dir:     "/www",
				User:    "1000:1000",
				Labels:  map[string]string{"role": "http"},
				Healthcheck: &mcontainer.HealthConfig{Test: []string{"CMD-SHELL", "wget -q -O- localhost"},
					Interval: 10 * time.Second, Timeout: 2 * time.Second, Retries: 3, StartPeriod: time.Second},
				ReadOnly:        true,
				CapabilityAdd:   []string{"CAP_NET_BIND_SERVICE"},
				CapabilityDrop:  []string{"ALL"},
				StopGracePeriod: &grace,
				Mounts: []mount.Mount{
					{Type: mount.TypeVolume, Source: "webdata", Target: "/data"},
					{Type: mount.TypeVolume, Target: "/cache"},
					{Type: mount.TypeTmpfs, Target: "/run/tmp", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 64 << 20}},
					{Type: mount.TypeBind, Source: "/srv/site", Target: "/site", ReadOnly: true},
				},
			},
			RestartPolicy: &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionAny},
		},
		UpdateConfig: &swarm.UpdateConfig{Parallelism: 2, Order: swarm.UpdateOrderStartFirst, Monitor: 5 * time.Second},
		EndpointSpec: &swarm.EndpointSpec{Ports: []swarm.PortConfig{
			{Protocol: network.TCP, TargetPort: 80, PublishedPort: 8080, PublishMode: swarm.PortConfigPublishModeIngress},
		}},
	}
}

func testPod() []Container {
	return []Container{
		{Name: "app", Restart: "always", Spec: swarm.ContainerSpec{Image: "busybox", Args: []string{"httpd", "-f", "-p", "8000"},
			Env: []string{"MODE=dev"}, Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: "demo-shared", Target: "/shared"}}},
			Ports:     []swarm.PortConfig{{Protocol: network.TCP, TargetPort: 8000, PublishedPort: 18000}},
			EmptyDirs: map[string]string{"demo-shared": "shared"}},
		{Name: "sidecar", Restart: "always", Spec: swarm.ContainerSpec{Image: "busybox", Args: []string{"sleep", "1000"},
			Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: "demo-shared", Target: "/in"}}},
			EmptyDirs: map[string]string{"demo-shared": "shared"}},
	}
}

// decodeStrict decodes each document of a generated stream strictly
// (unknown fields are errors) into its k8s.io/api type and validates it.
func decodeStrict(t *testing.T, y []byte) []Object {
	t.Helper()
	var out []Object
	for i, d := range strings.Split(string(y), "\n---\n") {
		var head struct{ Kind string }
		if err := yaml.Unmarshal([]byte(d), &head); err != nil {
			t.Fatalf("document %d: %v", i+1, err)
		}
		var o Object
		switch head.Kind {
		case "Deployment":
			o = &appsv1.Deployment{}
		case "Pod":
			o = &corev1.Pod{}
		case "Service":
			o = &corev1.Service{}
		case "PersistentVolumeClaim":
			o = &corev1.PersistentVolumeClaim{}
		default:
			t.Fatalf("document %d: unexpected kind %q", i+1, head.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(d), o); err != nil {
			t.Fatalf("document %d (%s) does not decode strictly: %v\n%s", i+1, head.Kind, err, d)
		}
		if err := Validate(o); err != nil {
			t.Fatalf("document %d (%s) is not valid: %v\n%s", i+1, head.Kind, err, d)
		}
		out = append(out, o)
	}
	return out
}

func generateService(t *testing.T, spec swarm.ServiceSpec) []byte {
	t.Helper()
	objs, _, err := GenerateService(spec)
	if err != nil {
		t.Fatal(err)
	}
	y, err := Marshal(objs)
	if err != nil {
		t.Fatal(err)
	}
	return y
}

func TestGenerateServiceStrict(t *testing.T) {
	y := generateService(t, testService())
	t.Logf("generated:\n%s", y)
	objs := decodeStrict(t, y)
	var kinds []string
	for _, o := range objs {
		k, n := kindOf(o)
		kinds = append(kinds, k+"/"+n)
	}
	if want := []string{"Deployment/web", "Service/web", "PersistentVolumeClaim/webdata"}; !slices.Equal(kinds, want) {
		t.Fatalf("objects %v, want %v\n%s", kinds, want, y)
	}
	d := objs[0].(*appsv1.Deployment)
	if *d.Spec.Replicas != 2 || d.Spec.Strategy.RollingUpdate == nil || d.Spec.Strategy.RollingUpdate.MaxSurge.IntVal != 2 || d.Spec.Strategy.RollingUpdate.MaxUnavailable.IntVal != 0 {
		t.Errorf("replicas/strategy: %+v %+v", d.Spec.Replicas, d.Spec.Strategy)
	}
	c := d.Spec.Template.Spec.Containers[0]
	if c.LivenessProbe == nil || !slices.Equal(c.LivenessProbe.Exec.Command, []string{"/bin/sh", "-c", "wget -q -O- localhost"}) || c.LivenessProbe.PeriodSeconds != 10 || c.ReadinessProbe == nil {
		t.Errorf("probes: %+v %+v", c.LivenessProbe, c.ReadinessProbe)
	}
	sc := c.SecurityContext
	if sc == nil || *sc.RunAsUser != 1000 || *sc.RunAsGroup != 1000 || !*sc.ReadOnlyRootFilesystem || sc.Capabilities.Add[0] != "NET_BIND_SERVICE" || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("securityContext: %+v", sc)
	}
	if ann := d.Spec.Template.Annotations[AnnotationHostPath+"site"]; !strings.Contains(ann, "/srv/site") {
		t.Errorf("no host-path annotation for the bind mount: %v", d.Spec.Template.Annotations)
	}
	s := objs[1].(*corev1.Service)
	if s.Spec.Type != corev1.ServiceTypeNodePort || len(s.Spec.Ports) != 1 || s.Spec.Ports[0].Port != 8080 || s.Spec.Ports[0].NodePort != 8080 || s.Spec.Ports[0].TargetPort.IntVal != 80 {
		t.Errorf("service: %+v", s.Spec)
	}
	if bytes.Contains(y, []byte("creationTimestamp")) || bytes.Contains(y, []byte("status: {}")) {
		t.Errorf("generated YAML has creationTimestamp or an empty status:\n%s", y)
	}
}

func TestGeneratePodStrict(t *testing.T) {
	objs, _, err := GeneratePod("demo", testPod(), false)
	if err != nil {
		t.Fatal(err)
	}
	y, _ := Marshal(objs)
	got := decodeStrict(t, y)
	p, ok := got[0].(*corev1.Pod)
	if !ok || len(p.Spec.Containers) != 2 || p.Spec.RestartPolicy != corev1.RestartPolicyAlways || p.Spec.Volumes[0].EmptyDir == nil {
		t.Fatalf("pod:\n%s", y)
	}
	if _, ok := got[1].(*corev1.Service); !ok {
		t.Fatalf("no Service for the published port:\n%s", y)
	}
	objs, _, err = GeneratePod("demo", testPod()[:1], true)
	if err != nil {
		t.Fatal(err)
	}
	y, _ = Marshal(objs)
	if d, ok := decodeStrict(t, y)[0].(*appsv1.Deployment); !ok || *d.Spec.Replicas != 1 {
		t.Fatalf("--type deployment:\n%s", y)
	}
}

// TestRoundTrip: generate → play → generate gives the same YAML, for a
// service and for a pod.
func TestRoundTrip(t *testing.T) {
	y1 := generateService(t, testService())
	plan, err := Play(y1, PlayOptions{File: "/x/web.yaml", FilesDir: "/data/kube/x"})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Warnings) > 0 {
		t.Errorf("warnings playing generated YAML: %q", plan.Warnings)
	}
	if len(plan.Services) != 1 {
		t.Fatalf("plan: %+v", plan)
	}
	if y2 := generateService(t, plan.Services[0].Spec); !bytes.Equal(y1, y2) {
		t.Errorf("service round trip differs:\n--- first\n%s\n--- second\n%s", y1, y2)
	}

	objs, _, err := GeneratePod("demo", testPod(), false)
	if err != nil {
		t.Fatal(err)
	}
	p1, _ := Marshal(objs)
	plan, err = Play(p1, PlayOptions{File: "/x/demo.yaml", FilesDir: "/data/kube/y"})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Warnings) > 0 {
		t.Errorf("warnings playing generated YAML: %q", plan.Warnings)
	}
	if len(plan.Pods) != 1 || len(plan.Pods[0].Containers) != 2 {
		t.Fatalf("plan: %+v", plan)
	}
	pod := plan.Pods[0]
	if pod.Containers[0].ContainerName != "demo-app" || pod.Containers[1].ContainerName != "demo-sidecar" {
		t.Errorf("container names %s %s, want demo-app demo-sidecar", pod.Containers[0].ContainerName, pod.Containers[1].ContainerName)
	}
	if len(plan.Volumes) != 1 || plan.Volumes[0].Name != "demo-shared" || plan.Volumes[0].Labels[LabelEmptyDir] != "shared" {
		t.Errorf("volumes %+v, want demo-shared for the emptyDir", plan.Volumes)
	}
	var cs []Container
	for _, pc := range pod.Containers {
		cs = append(cs, pc.Container)
	}
	objs, _, err = GeneratePod(pod.Name, cs, false)
	if err != nil {
		t.Fatal(err)
	}
	if p2, _ := Marshal(objs); !bytes.Equal(p1, p2) {
		t.Errorf("pod round trip differs:\n--- first\n%s\n--- second\n%s", p1, p2)
	}
}

const handWritten = `
# a hand-written application: Deployment, Service, ConfigMap, Secret, PVC
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  labels: {app: shop}
spec:
  replicas: 3
  selector:
    matchLabels: {app: shop}
  strategy:
    rollingUpdate: {maxSurge: 0, maxUnavailable: 1}
  template:
    metadata:
      labels: {app: shop}
    spec:
      nodeSelector: {disktype: ssd}
      containers:
      - name: shop
        image: registry.local/shop:1
        args: [serve]
        ports:
        - {name: http, containerPort: 8080}
        envFrom:
        - configMapRef: {name: shop-config}
        env:
        - name: DB_PASSWORD
          valueFrom:
            secretKeyRef: {name: shop-secret, key: password}
        - {name: LOG, value: debug}
        resources:
          limits: {memory: 128Mi}
        readinessProbe:
          exec: {command: [cat, /tmp/ready]}
          periodSeconds: 5
        volumeMounts:
        - {name: config, mountPath: /etc/shop}
        - {name: data, mountPath: /var/lib/shop}
        - {name: scratch, mountPath: /scratch}
      volumes:
      - name: config
        configMap:
          name: shop-config
          items: [{key: shop.conf, path: shop.conf}]
      - name: data
        persistentVolumeClaim: {claimName: shop-data}
      - name: scratch
        emptyDir: {medium: Memory}
---
apiVersion: v1
kind: Service
metadata: {name: shop}
spec:
  type: NodePort
  selector: {app: shop}
  ports:
  - {port: 80, targetPort: http, nodePort: 30080}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: shop-config}
data:
  COLOR: blue
  shop.conf: |
    listen 8080
---
apiVersion: v1
kind: Secret
metadata: {name: shop-secret}
type: Opaque
stringData: {password: hunter2}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: shop-data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop}
spec: {}
`

func TestPlayHandWritten(t *testing.T) {
	plan, err := Play([]byte(handWritten), PlayOptions{File: "/home/u/shop.yaml", FilesDir: "/data/kube/abc"})
	if err != nil {
		t.Fatal(err)
	}
	wantWarnings := []string{
		"kube play: Ingress shop: kind Ingress (apiVersion networking.k8s.io/v1) is not supported, ignored",
		"kube play: Deployment shop: field spec.template.spec.containers[0].resources is not supported, ignored",
		"kube play: Deployment shop: field spec.template.spec.nodeSelector is not supported, ignored",
	}
	if !slices.Equal(plan.Warnings, wantWarnings) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(plan.Warnings, "\n"), strings.Join(wantWarnings, "\n"))
	}
	if len(plan.Services) != 1 || len(plan.Pods) != 0 {
		t.Fatalf("plan: %+v", plan)
	}
	s := plan.Services[0]
	spec := s.Spec
	three := uint64(3)
	labels := map[string]string{"app": "shop", LabelFile: "/home/u/shop.yaml", LabelObject: "Deployment/shop"}
	want := swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: "shop", Labels: labels},
		Mode:        swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &three}},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{
			Image:       "registry.local/shop:1",
			Args:        []string{"serve"},
			Labels:      labels,
			Env:         []string{"COLOR=blue", "shop.conf=listen 8080\n", "DB_PASSWORD=hunter2", "LOG=debug"},
			Healthcheck: &mcontainer.HealthConfig{Test: []string{"CMD", "cat", "/tmp/ready"}, Interval: 5 * time.Second},
			Mounts: []mount.Mount{
				{Type: mount.TypeBind, Source: "/data/kube/abc/Deployment-shop/config", Target: "/etc/shop", ReadOnly: true},
				{Type: mount.TypeVolume, Source: "shop-data", Target: "/var/lib/shop"},
				{Type: mount.TypeTmpfs, Target: "/scratch"},
			},
		}},
		UpdateConfig: &swarm.UpdateConfig{Parallelism: 1, Order: swarm.UpdateOrderStopFirst},
		EndpointSpec: &swarm.EndpointSpec{Ports: []swarm.PortConfig{
			{Protocol: network.TCP, TargetPort: 8080, PublishedPort: 30080, PublishMode: swarm.PortConfigPublishModeIngress},
		}},
	}
	if g, w := jsonOf(spec), jsonOf(want); g != w {
		t.Errorf("service spec:\n got %s\nwant %s", g, w)
	}
	if len(plan.Files) != 1 || plan.Files[0].Path != "/data/kube/abc/Deployment-shop/config/shop.conf" || string(plan.Files[0].Data) != "listen 8080\n" || plan.Files[0].Mode != 0o644 {
		t.Errorf("files: %+v", plan.Files)
	}
	if len(plan.Volumes) != 1 || plan.Volumes[0].Name != "shop-data" || plan.Volumes[0].Labels[LabelObject] != "PersistentVolumeClaim/shop-data" {
		t.Errorf("volumes: %+v", plan.Volumes)
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestPlayUnknownField: a field Kubernetes does not have is named.
func TestPlayUnknownField(t *testing.T) {
	y := `apiVersion: v1
kind: Pod
metadata: {name: p, namespace: team}
spec:
  containers:
  - name: c
    image: busybox
    imagePullPolicy: IfNotPresent
    colour: red
    lifecycle: {preStop: {exec: {command: [sleep, "1"]}}}
  hostNetwork: true
`
	plan, err := Play([]byte(y), PlayOptions{File: "/p.yaml", FilesDir: "/d"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"kube play: Pod p: field spec.containers[0].colour is not a Kubernetes field, ignored",
		"kube play: Pod p: field metadata.namespace is not supported, ignored",
		"kube play: Pod p: field spec.containers[0].lifecycle is not supported, ignored",
	}
	if !slices.Equal(plan.Warnings, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(plan.Warnings, "\n"), strings.Join(want, "\n"))
	}
	if len(plan.Pods) != 1 || !plan.Pods[0].HostNetwork {
		t.Errorf("plan: %+v", plan.Pods)
	}
}

func TestPlayErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"not yaml", "kind: Pod\n  metadata: [", "document 1 is not valid YAML"},
		{"no kind", "apiVersion: v1\nmetadata: {name: x}\n", "document 1: apiVersion and kind are required"},
		{"no name", "apiVersion: v1\nkind: Pod\nspec: {}\n", "document 1 (Pod): metadata.name is required"},
		{"second doc", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n- a list\n", "document 2 is not a Kubernetes object"},
		{"bad name", "apiVersion: v1\nkind: Pod\nmetadata: {name: Bad_Name}\nspec: {containers: [{name: c, image: busybox}]}\n", "metadata.name"},
		{"no containers", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {}\n", "spec.containers: Required value"},
		{"selector", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  selector: {matchLabels: {app: one}}\n  template:\n    metadata: {labels: {app: two}}\n    spec: {containers: [{name: c, image: busybox}]}\n", "does not match template"},
		{"missing configmap", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: busybox, envFrom: [{configMapRef: {name: nope}}]}]}\n", "ConfigMap nope is not in this file"},
		{"missing key", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: busybox, env: [{name: X, valueFrom: {configMapKeyRef: {name: c, key: z}}}]}]}\n", "ConfigMap c has no key z"},
		{"twice", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n", "ConfigMap/c is defined twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Play([]byte(tc.yaml), PlayOptions{File: "/f.yaml", FilesDir: "/d"})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

// TestStrategyRoundTrip: each UpdateConfig a Deployment can express comes
// back the same.
func TestStrategyRoundTrip(t *testing.T) {
	for _, uc := range []swarm.UpdateConfig{
		{Parallelism: 1, Order: swarm.UpdateOrderStopFirst},
		{Parallelism: 3, Order: swarm.UpdateOrderStopFirst},
		{Parallelism: 2, Order: swarm.UpdateOrderStartFirst},
		{Parallelism: 0, Order: swarm.UpdateOrderStopFirst},
		{Parallelism: 1, Order: swarm.UpdateOrderStopFirst, Monitor: 30 * time.Second},
	} {
		t.Run(fmt.Sprint(uc.Parallelism, uc.Order, uc.Monitor), func(t *testing.T) {
			spec := testService()
			spec.UpdateConfig = &uc
			plan, err := Play(generateService(t, spec), PlayOptions{File: "/f", FilesDir: "/d"})
			if err != nil {
				t.Fatal(err)
			}
			got := plan.Services[0].Spec.UpdateConfig
			if !reflect.DeepEqual(*got, uc) {
				t.Errorf("UpdateConfig %+v came back as %+v", uc, *got)
			}
		})
	}
}
