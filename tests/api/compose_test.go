package api

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// composeProject is a copy of testdata/compose/NAME the test user owns,
// with a unique project name and the environment compose interpolates.
type composeProject struct {
	dir, name string
	env       []string
}

func newComposeProject(t *testing.T, src string, env ...string) *composeProject {
	t.Helper()
	dir := harness.UserDir(t, user())
	entries, err := os.ReadDir(testdata(t, "compose", src))
	must(t, err)
	for _, e := range entries {
		data, err := os.ReadFile(testdata(t, "compose", src, e.Name()))
		must(t, err)
		harness.WriteUserFile(t, user(), filepath.Join(dir, e.Name()), data)
	}
	p := &composeProject{dir: dir, name: "api-" + src + "-" + harness.UniqueSuffix(), env: env}
	t.Cleanup(func() {
		r := p.compose(t, "down", "-v", "--remove-orphans", "-t", "1")
		if r.ExitCode != 0 {
			t.Logf("cleanup: %s\n%s", r.Cmdline(), r.Output())
		}
	})
	return p
}

// compose runs docker compose -p NAME ARGS in the project's directory.
func (p *composeProject) compose(t testing.TB, args ...string) *harness.Result {
	t.Helper()
	return harness.ComposeWith(t, user(), harness.RunOptions{Dir: p.dir, Env: p.env, Timeout: 3 * time.Minute},
		append([]string{"-p", p.name}, args...)...)
}

// composePs is one entry of `docker compose ps --format json`.
type composePs struct {
	Name, Service, State, Health string
}

func (p *composeProject) ps(t testing.TB) []composePs {
	t.Helper()
	r := p.compose(t, "ps", "-a", "--format", "json").OK(t)
	var out []composePs
	for _, l := range r.Lines() {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if strings.HasPrefix(l, "[") { // older compose: one JSON array
			var arr []composePs
			must(t, json.Unmarshal([]byte(l), &arr))
			out = append(out, arr...)
			continue
		}
		var e composePs
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("compose ps --format json: line %q: %v", l, err)
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (p *composeProject) services(t testing.TB, state string) map[string]int {
	t.Helper()
	n := map[string]int{}
	for _, e := range p.ps(t) {
		if state == "" || e.State == state {
			n[e.Service]++
		}
	}
	return n
}

// checkGone checks that nothing of the project is left: containers,
// networks and volumes, through docker and through skiff's own CLI.
func (p *composeProject) checkGone(t *testing.T) {
	t.Helper()
	label := "label=com.docker.compose.project=" + p.name
	if got := docker(t, "ps", "-a", "-q", "--filter", label).OK(t).Stdout; got != "" {
		t.Errorf("after down: docker ps -a shows the project's containers: %q", got)
	}
	if got := docker(t, "network", "ls", "-q", "--filter", label).OK(t).Stdout; got != "" {
		t.Errorf("after down: docker network ls shows the project's networks: %q", got)
	}
	if got := docker(t, "volume", "ls", "-q", "--filter", label).OK(t).Stdout; got != "" {
		t.Errorf("after down -v: docker volume ls shows the project's volumes: %q", got)
	}
	if got := skiff(t, "ps", "-a", "-q", "--filter", label).OK(t).Stdout; got != "" {
		t.Errorf("after down: skiff ps -a shows the project's containers: %q", got)
	}
	for _, l := range skiff(t, "network", "ls", "--format", "{{.Name}}").OK(t).Lines() {
		if strings.HasPrefix(l, p.name) {
			t.Errorf("after down: skiff network ls shows %s", l)
		}
	}
	for _, l := range skiff(t, "volume", "ls", "--format", "{{.Name}}").OK(t).Lines() {
		if strings.HasPrefix(l, p.name) {
			t.Errorf("after down -v: skiff volume ls shows %s", l)
		}
	}
}

// TestCompose brings up testdata/compose/stack: a web server on a
// published port with a healthcheck, an app that depends on it being
// healthy and shares a named volume with it, and a worker with two
// replicas; then scale, logs, exec, run --rm and down -v.
func TestCompose(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	port := freePort(t)
	p := newComposeProject(t, "stack", "IMAGE="+bb, fmt.Sprintf("WEB_PORT=%d", port))
	r := p.compose(t, "up", "-d")
	if r.ExitCode != 0 {
		t.Fatalf("%s: want exit 0\n%s", r.Cmdline(), r.Output())
	}
	// The published port.
	if body := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port), 20*time.Second); body != "compose-web\n" {
		t.Errorf("GET the web service's published port: %q", body)
	}
	ps := p.ps(t)
	running := map[string]int{}
	for _, e := range ps {
		if e.State == "running" {
			running[e.Service]++
		}
		if e.Service == "web" && e.Health != "healthy" {
			t.Errorf("compose ps: web Health %q, want healthy (app depends on service_healthy)", e.Health)
		}
	}
	if running["web"] != 1 || running["app"] != 1 || running["worker"] != 2 {
		t.Errorf("compose ps: running %v, want web 1, app 1, worker 2 (deploy.replicas)\n%+v", running, ps)
	}
	// app started after web was healthy, reached it by its service name,
	// and wrote into the named volume that web mounts too.
	r = p.compose(t, "exec", "-T", "web", "cat", "/data/seen").OK(t)
	if r.Stdout != "compose-web\n" {
		t.Errorf("compose exec web cat /data/seen: %q, want what app fetched from http://web/", r.Stdout)
	}
	var vi struct{ Name string }
	inspectJSON(t, []string{"volume", "inspect"}, p.name+"_data", &vi)
	// exec: exit codes come back; --index picks a replica.
	p.compose(t, "exec", "-T", "app", "sh", "-c", "exit 3").Exit(t, 3)
	h1 := strings.TrimSpace(p.compose(t, "exec", "-T", "--index", "1", "worker", "hostname").OK(t).Stdout)
	h2 := strings.TrimSpace(p.compose(t, "exec", "-T", "--index", "2", "worker", "hostname").OK(t).Stdout)
	if h1 == "" || h1 == h2 {
		t.Errorf("compose exec --index 1/2 worker hostname: %q and %q, want two replicas", h1, h2)
	}
	// logs: each service's output, prefixed by its container.
	r = p.compose(t, "logs", "--no-color", "app").OK(t)
	if !strings.Contains(r.Stdout, "app-started") {
		t.Errorf("compose logs app: no app-started\n%s", r.Output())
	}
	r = p.compose(t, "logs", "--no-color", "worker").OK(t)
	if strings.Count(r.Stdout, "worker-up") != 2 {
		t.Errorf("compose logs worker: want worker-up from both replicas\n%s", r.Output())
	}
	// Scale up.
	p.compose(t, "up", "-d", "--scale", "worker=3").OK(t)
	if got := p.services(t, "running"); got["worker"] != 3 || got["web"] != 1 {
		t.Errorf("after up -d --scale worker=3: running %v", got)
	}
	// run --rm: a one-off container with the service's config, removed after.
	r = p.compose(t, "run", "--rm", "-T", "worker", "sh", "-c", "echo one-off; test -d /proc && exit 0").OK(t)
	if !strings.Contains(r.Stdout, "one-off") {
		t.Errorf("compose run --rm worker: %q", r.Stdout)
	}
	p.compose(t, "run", "--rm", "-T", "worker", "sh", "-c", "exit 5").Exit(t, 5)
	if got := p.services(t, ""); got["worker"] != 3 {
		t.Errorf("after compose run --rm: %v, want the 3 workers and no one-off container left", got)
	}
	// stop / start.
	p.compose(t, "stop", "-t", "1", "app").OK(t)
	if got := p.services(t, "running"); got["app"] != 0 {
		t.Errorf("after compose stop app: running %v", got)
	}
	p.compose(t, "start", "app").OK(t)
	// down -v: nothing left.
	p.compose(t, "down", "-v", "-t", "1").OK(t)
	p.checkGone(t)
}

// TestComposeBuild builds testdata/compose/build's image with compose (the
// classic builder through the API) and runs it.
func TestComposeBuild(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	tag := "localhost/api-compose-built:" + harness.UniqueSuffix()
	p := newComposeProject(t, "build", "IMAGE="+bb, "TAG="+tag)
	p.compose(t, "build").OK(t)
	ii := inspectImage(t, tag)
	if ii.Id == "" {
		t.Fatalf("compose build: no image %s", tag)
	}
	r := p.compose(t, "run", "--rm", "-T", "app").OK(t)
	if r.Stdout != "built-by-compose\ncopied from the project\n" {
		t.Errorf("compose run --rm of the built image: %q", r.Stdout)
	}
	p.compose(t, "up", "-d").OK(t)
	p.compose(t, "down", "-v", "--rmi", "all", "-t", "1").OK(t)
	if r := docker(t, "image", "inspect", tag); r.ExitCode == 0 {
		t.Errorf("compose down --rmi all left %s", tag)
	}
	p.checkGone(t)
}
