package e2e

// Kubernetes YAML (`skiff kube play|generate|down`), as the unprivileged
// user: a Deployment runs as a skiff service with its replicas, its
// Service's port published and its ConfigMap as env and files; a Pod's
// containers share localhost; generate writes YAML that decodes strictly
// into k8s.io/api types and matches what was played; down removes all;
// bad input changes nothing.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/skiff-project/skiff/tests/harness"
)

const labelKubeFile = "io.skiff.kube.file"

// kubeFile writes content to a file in u's home, owned by u, removed when
// the test ends, and returns its path.
func kubeFile(t *testing.T, u *harness.User, name, content string) string {
	t.Helper()
	p := filepath.Join(u.Home, name)
	must(t, os.WriteFile(p, []byte(content), 0o644))
	must(t, os.Chown(p, u.UID, u.GID))
	t.Cleanup(func() { os.Remove(p) })
	return p
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// kubeDownOnCleanup runs kube down FILE when the test ends.
func kubeDownOnCleanup(t *testing.T, u *harness.User, file string) {
	t.Cleanup(func() {
		r := harness.RunAsWith(t, u, harness.RunOptions{Timeout: 60 * time.Second}, "kube", "down", file)
		if r.ExitCode != 0 {
			t.Logf("cleanup: %s\n%s", r.Cmdline(), r.Output())
		}
	})
}

// kubeLeft lists what still carries the file's label: containers (ps
// -a), services and volumes.
func kubeLeft(t testing.TB, u *harness.User, file string) []string {
	t.Helper()
	f := "label=" + labelKubeFile + "=" + file
	var left []string
	for _, args := range [][]string{
		{"ps", "-a", "--filter", f, "--format", "container {{.Names}}"},
		{"service", "ls", "--filter", f, "--format", "service {{.Name}}"},
		{"volume", "ls", "--filter", f, "--format", "volume {{.Name}}"},
	} {
		left = append(left, harness.RunAs(t, u, args...).OK(t).Lines()...)
	}
	return left
}

// kubeDecode decodes generated YAML strictly, document by document.
func kubeDecode(t *testing.T, y string) (deps []*appsv1.Deployment, pods []*corev1.Pod, svcs []*corev1.Service) {
	t.Helper()
	for i, d := range strings.Split(y, "\n---\n") {
		var head struct{ Kind string }
		if err := yaml.Unmarshal([]byte(d), &head); err != nil {
			t.Fatalf("kube generate: document %d: %v\n%s", i+1, err, y)
		}
		var into any
		switch head.Kind {
		case "Deployment":
			dep := &appsv1.Deployment{}
			deps, into = append(deps, dep), dep
		case "Pod":
			p := &corev1.Pod{}
			pods, into = append(pods, p), p
		case "Service":
			s := &corev1.Service{}
			svcs, into = append(svcs, s), s
		case "PersistentVolumeClaim":
			into = &corev1.PersistentVolumeClaim{}
		default:
			t.Fatalf("kube generate: document %d has kind %q\n%s", i+1, head.Kind, y)
		}
		if err := yaml.UnmarshalStrict([]byte(d), into); err != nil {
			t.Fatalf("kube generate: document %d (%s) does not decode strictly into k8s.io/api types: %v\n%s", i+1, head.Kind, err, d)
		}
	}
	return deps, pods, svcs
}

// TestKubePlayDeployment: a 2-replica Deployment with a NodePort Service,
// a ConfigMap as env (envFrom) and as files, answering on the port; then
// generate gives back the played objects, and down removes everything.
func TestKubePlayDeployment(t *testing.T) {
	parallel(t)
	harness.Requires(t, "slirp4netns")
	u := harness.E2E
	img := svcImage(t, u, "v1")
	name := svcName("kube")
	port := netPort(t)
	script := `mkdir -p /www; echo "kube $COLOR $(cat /etc/app/greeting) $(hostname)" > /www/index.html; ` +
		`trap 'exit 0' TERM; httpd -f -p 80 -h /www & wait`
	doc := fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
  labels: {app: %[1]s}
spec:
  replicas: 2
  selector:
    matchLabels: {app: %[1]s}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  template:
    metadata:
      labels: {app: %[1]s}
    spec:
      containers:
      - name: www
        image: %[2]q
        command: [sh, -c]
        args: [%[3]q]
        ports:
        - {containerPort: 80, name: http}
        envFrom:
        - configMapRef: {name: %[1]s-config}
        livenessProbe:
          exec: {command: [cat, /www/index.html]}
          periodSeconds: 1
        volumeMounts:
        - {name: config, mountPath: /etc/app}
      volumes:
      - name: config
        configMap: {name: %[1]s-config, items: [{key: greeting, path: greeting}]}
---
apiVersion: v1
kind: Service
metadata: {name: %[1]s}
spec:
  type: NodePort
  selector: {app: %[1]s}
  ports:
  - {port: 80, targetPort: http, nodePort: %[4]d}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: %[1]s-config}
data:
  COLOR: blue
  greeting: hello
`, name, img, script, port)
	file := kubeFile(t, u, name+".yaml", doc)
	kubeDownOnCleanup(t, u, file)
	r := harness.RunAsWith(t, u, harness.RunOptions{Timeout: 120 * time.Second}, "kube", "play", file).OK(t)
	if !slices.Contains(r.Lines(), "Service "+name) {
		t.Errorf("%s: stdout %q, want a line \"Service %s\"", r.Cmdline(), r.Stdout, name)
	}

	t.Run("answers", func(t *testing.T) {
		waitReplicasCell(t, u, name, "2/2", 30*time.Second)
		body := waitServiceAnswers(t, port, "kube blue hello ", 30*time.Second)
		t.Logf("GET :%d → %q", port, body)
		rs := waitRunningReplicas(t, u, name, 2, 20*time.Second)
		out := harness.RunAs(t, u, "exec", rs[0].Name, "sh", "-c", "echo $COLOR").OK(t)
		if strings.TrimSpace(out.Stdout) != "blue" {
			t.Errorf("COLOR in replica %s: %q, want blue (from the ConfigMap's envFrom)", rs[0].Name, out.Stdout)
		}
		s := svcInspectAs(t, u, name)
		if uc := s.Spec.UpdateConfig; uc == nil || uc.Parallelism != 1 || uc.Order != "start-first" {
			t.Errorf("UpdateConfig %+v, want parallelism 1 start-first (maxSurge 1, maxUnavailable 0)", uc)
		}
		if hc := s.Spec.TaskTemplate.ContainerSpec.Healthcheck; hc == nil || !slices.Equal(hc.Test, []string{"CMD", "cat", "/www/index.html"}) || hc.Interval != time.Second {
			t.Errorf("healthcheck %+v, want CMD cat /www/index.html every 1s", hc)
		}
		if s.Spec.Labels[labelKubeFile] != file {
			t.Errorf("service label %s = %q, want %s", labelKubeFile, s.Spec.Labels[labelKubeFile], file)
		}
	})

	t.Run("generate", func(t *testing.T) {
		r := harness.RunAs(t, u, "kube", "generate", name).OK(t)
		deps, pods, svcs := kubeDecode(t, r.Stdout)
		if len(deps) != 1 || len(pods) != 0 || len(svcs) != 1 {
			t.Fatalf("kube generate %s: %d Deployments, %d Pods, %d Services; want 1, 0, 1\n%s", name, len(deps), len(pods), len(svcs), r.Stdout)
		}
		d := deps[0]
		if d.Name != name || d.Spec.Replicas == nil || *d.Spec.Replicas != 2 || d.Spec.Selector.MatchLabels["app"] != name {
			t.Errorf("Deployment %s: name, replicas, selector %v %v; want %s, 2, app=%s", d.Name, d.Spec.Replicas, d.Spec.Selector, name, name)
		}
		ru := d.Spec.Strategy.RollingUpdate
		if ru == nil || ru.MaxSurge.IntValue() != 1 || ru.MaxUnavailable.IntValue() != 0 {
			t.Errorf("strategy %+v, want maxSurge 1, maxUnavailable 0", d.Spec.Strategy)
		}
		c := d.Spec.Template.Spec.Containers[0]
		if !strings.HasPrefix(c.Image, img) || !slices.Equal(c.Command, []string{"sh", "-c"}) || !slices.Equal(c.Args, []string{script}) {
			t.Errorf("container image %q command %q args %q; want %s, [sh -c], the script", c.Image, c.Command, c.Args, img)
		}
		env := map[string]string{}
		for _, e := range c.Env {
			env[e.Name] = e.Value
		}
		if env["COLOR"] != "blue" || env["greeting"] != "hello" {
			t.Errorf("env %v, want COLOR=blue and greeting=hello (the ConfigMap, resolved)", c.Env)
		}
		if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 80 {
			t.Errorf("ports %+v, want containerPort 80", c.Ports)
		}
		if p := c.LivenessProbe; p == nil || p.Exec == nil || !slices.Equal(p.Exec.Command, []string{"cat", "/www/index.html"}) || p.PeriodSeconds != 1 {
			t.Errorf("livenessProbe %+v, want exec cat /www/index.html every 1s", p)
		}
		mounted := false
		for _, m := range c.VolumeMounts {
			mounted = mounted || (m.MountPath == "/etc/app" && m.ReadOnly)
		}
		if !mounted {
			t.Errorf("volumeMounts %+v: want /etc/app read-only", c.VolumeMounts)
		}
		s := svcs[0]
		if s.Spec.Type != corev1.ServiceTypeNodePort || len(s.Spec.Ports) != 1 || s.Spec.Ports[0].NodePort != int32(port) || s.Spec.Ports[0].TargetPort.IntValue() != 80 || s.Spec.Selector["app"] != name {
			t.Errorf("Service %+v, want NodePort %d → 80 selecting app=%s", s.Spec, port, name)
		}
		for _, l := range r.Lines() {
			if strings.Contains(l, "io.skiff.kube") && !strings.Contains(l, "host-path.io.skiff.kube/") {
				t.Errorf("generated YAML carries skiff's bookkeeping label: %q", l)
			}
		}
	})

	t.Run("replace", func(t *testing.T) {
		// A second play of the same file is refused; --replace makes it anew.
		harness.RunAs(t, u, "kube", "play", file).ErrorLine(t, errExit, "in use")
		harness.RunAsWith(t, u, harness.RunOptions{Timeout: 120 * time.Second}, "kube", "play", "--replace", file).OK(t)
		waitServiceAnswers(t, port, "kube blue hello ", 30*time.Second)
	})

	t.Run("down", func(t *testing.T) {
		r := harness.RunAsWith(t, u, harness.RunOptions{Timeout: 60 * time.Second}, "kube", "down", file).OK(t)
		if !slices.Contains(r.Lines(), "Service "+name) {
			t.Errorf("%s: stdout %q, want a line \"Service %s\"", r.Cmdline(), r.Stdout, name)
		}
		if left := kubeLeft(t, u, file); len(left) > 0 {
			t.Errorf("after kube down: %q remain", left)
		}
		if got := replicasOf(t, u, name, true); len(got) > 0 {
			t.Errorf("after kube down: replicas %v remain", replicaNames(got))
		}
		if _, err := portGet(fmt.Sprintf("http://127.0.0.1:%d/", port)); err == nil {
			t.Errorf("port %d still answers after kube down", port)
		}
		// The ConfigMap's files: DATA/kube/<first 8 bytes of sha256(file), hex>.
		sum := sha256.Sum256([]byte(file))
		if dir := filepath.Join(u.DataDir(), "kube", hex.EncodeToString(sum[:8])); exists(dir) {
			t.Errorf("after kube down: the files directory %s remains", dir)
		}
	})
}

// TestKubePlayPod: a Pod's two containers share the network namespace
// (localhost); an unsupported field is a warning naming it; generate of
// the two containers gives the Pod back.
func TestKubePlayPod(t *testing.T) {
	parallel(t)
	u := harness.E2E
	img := busybox(t)
	pod := "kpod-" + harness.UniqueSuffix()
	doc := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %[1]s
  labels: {app: %[1]s}
spec:
  nodeSelector: {disk: ssd}
  containers:
  - name: web
    image: %[2]q
    command: [sh, -c, 'mkdir -p /www; echo pod-page > /www/index.html; trap "exit 0" TERM; httpd -f -p 8000 -h /www & wait']
  - name: client
    image: %[2]q
    command: [sh, -c, 'trap "exit 0" TERM; sleep 1000 & wait']
    env: [{name: ROLE, value: client}]
`, pod, img)
	file := kubeFile(t, u, pod+".yaml", doc)
	kubeDownOnCleanup(t, u, file)
	r := harness.RunAsWith(t, u, harness.RunOptions{Timeout: 90 * time.Second}, "kube", "play", file).OK(t)
	wantWarn := "WARNING: kube play: Pod " + pod + ": field spec.nodeSelector is not supported, ignored"
	if !strings.Contains(r.Stderr, wantWarn) {
		t.Errorf("%s: stderr lacks %q\n%s", r.Cmdline(), wantWarn, r.Output())
	}
	web, client := pod+"-web", pod+"-client"
	for _, c := range []string{web, client} {
		if !slices.Contains(r.Lines(), "Container "+c) {
			t.Errorf("%s: stdout %q lacks \"Container %s\"", r.Cmdline(), r.Stdout, c)
		}
	}
	eventually(t, 20*time.Second, "the client reaching the web container on localhost:8000", func() (bool, string) {
		r := harness.RunAs(t, u, "exec", client, "wget", "-q", "-O-", "http://127.0.0.1:8000/")
		return r.ExitCode == 0 && strings.TrimSpace(r.Stdout) == "pod-page", r.Output()
	})
	if nm := harness.RunAs(t, u, "inspect", "--format", "{{.HostConfig.NetworkMode}}", client).OK(t).Stdout; !strings.HasPrefix(nm, "container:") {
		t.Errorf("%s: NetworkMode %q, want container:%s", client, nm, web)
	}

	g := harness.RunAs(t, u, "kube", "generate", web, client).OK(t)
	_, pods, _ := kubeDecode(t, g.Stdout)
	if len(pods) != 1 {
		t.Fatalf("kube generate: %d Pods, want 1\n%s", len(pods), g.Stdout)
	}
	p := pods[0]
	var names []string
	for _, c := range p.Spec.Containers {
		names = append(names, c.Name)
	}
	if p.Name != pod || !slices.Equal(names, []string{"web", "client"}) || p.Labels["app"] != pod {
		t.Errorf("generated Pod %s with containers %v and labels %v; want %s with [web client], app=%s\n%s", p.Name, names, p.Labels, pod, pod, g.Stdout)
	}
	if len(p.Spec.Containers) == 2 {
		if e := p.Spec.Containers[1].Env; len(e) != 1 || e[0].Name != "ROLE" || e[0].Value != "client" {
			t.Errorf("client env %+v, want ROLE=client only (not the image's)", e)
		}
	}

	harness.RunAsWith(t, u, harness.RunOptions{Timeout: 60 * time.Second}, "kube", "down", file).OK(t)
	if left := kubeLeft(t, u, file); len(left) > 0 {
		t.Errorf("after kube down: %q remain", left)
	}
}

// TestKubePlayBadInput: invalid YAML in a later document, a document
// without a kind, a reference to a missing ConfigMap: exit 1, one error
// line, and nothing made (not even from the valid documents before).
func TestKubePlayBadInput(t *testing.T) {
	parallel(t)
	u := harness.E2E
	img := busybox(t)
	name := "kbad-" + harness.UniqueSuffix()
	good := fmt.Sprintf(`apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: %[1]s-data}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: Pod
metadata: {name: %[1]s}
spec:
  containers:
  - {name: c, image: %[2]q, command: [sleep, "100"]}
`, name, img)
	for _, tc := range []struct{ what, yaml string }{
		{"not YAML", good + "---\nkind: Pod\n  metadata: [\n"},
		{"no kind", good + "---\napiVersion: v1\nmetadata: {name: x}\n"},
		{"missing ConfigMap", good + "---\napiVersion: v1\nkind: Pod\nmetadata: {name: " + name + "-2}\nspec: {containers: [{name: c, image: busybox, envFrom: [{configMapRef: {name: nope}}]}]}\n"},
		{"invalid name", good + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: Not_Valid}\n"},
	} {
		t.Run(tc.what, func(t *testing.T) {
			file := kubeFile(t, u, name+"-"+strings.ReplaceAll(tc.what, " ", "-")+".yaml", tc.yaml)
			kubeDownOnCleanup(t, u, file)
			r := harness.RunAs(t, u, "kube", "play", file)
			r.ErrorLine(t, errExit, "document")
			if r.Stdout != "" {
				t.Errorf("%s: stdout %q, want nothing", r.Cmdline(), r.Stdout)
			}
			if left := kubeLeft(t, u, file); len(left) > 0 {
				t.Errorf("a failed kube play made %q", left)
			}
			if r := harness.RunAs(t, u, "volume", "inspect", name+"-data"); r.ExitCode == 0 {
				t.Errorf("a failed kube play made the volume %s-data", name)
			}
		})
	}
}
