package api

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// apiVersion parses "1.41" into a comparable number (1041).
func apiVersion(t testing.TB, v string) int {
	t.Helper()
	maj, min, ok := strings.Cut(v, ".")
	a, err1 := strconv.Atoi(maj)
	b, err2 := strconv.Atoi(min)
	if !ok || err1 != nil || err2 != nil {
		t.Fatalf("API version %q is not MAJOR.MINOR", v)
	}
	return a*1000 + b
}

// The docker CLI's own newest API version (28.x speaks up to 1.50).
func clientMaxAPI(t testing.TB) string {
	t.Helper()
	r := dockerWith(t, harness.RunOptions{Env: []string{"DOCKER_HOST=unix:///nonexistent.sock"}}, "version", "--format", "{{.Client.APIVersion}}")
	v := strings.TrimSpace(r.Stdout)
	if v == "" {
		t.Fatalf("docker version without a server printed no client API version\n%s", r.Output())
	}
	return v
}

func TestDockerVersion(t *testing.T) {
	parallel(t)
	r := docker(t, "version").OK(t)
	if !strings.Contains(r.Stdout, "Server:") || !strings.Contains(r.Stdout, "Engine:") {
		t.Errorf("docker version: no Server/Engine section\n%s", r.Output())
	}
	var v struct {
		Client struct{ APIVersion, DefaultAPIVersion string }
		Server *struct {
			Version, APIVersion, MinAPIVersion, Os, Arch string
			Components                                   []struct{ Name, Version string }
		}
	}
	r = docker(t, "version", "--format", "{{json .}}").OK(t)
	must(t, json.Unmarshal([]byte(r.Stdout), &v))
	if v.Server == nil {
		t.Fatalf("docker version --format json: no Server\n%s", r.Output())
	}
	if v.Server.Version == "" || v.Server.Os != "linux" || v.Server.Arch == "" {
		t.Errorf("Server: %+v, want a version, Os linux and an Arch", *v.Server)
	}
	if v.Server.APIVersion == "" || v.Server.MinAPIVersion == "" || apiVersion(t, v.Server.MinAPIVersion) > apiVersion(t, v.Server.APIVersion) {
		t.Errorf("Server APIVersion %q MinAPIVersion %q: want both, min <= max", v.Server.APIVersion, v.Server.MinAPIVersion)
	}
	if apiVersion(t, v.Server.MinAPIVersion) > 1041 {
		t.Errorf("Server MinAPIVersion %s: docker-py 5 speaks 1.41 by default, the service must accept it", v.Server.MinAPIVersion)
	}
	if len(v.Server.Components) == 0 {
		t.Errorf("Server.Components is empty: docker version shows the Engine from it")
	}
	// Negotiation: the client speaks the lower of its newest and the server's.
	want := clientMaxAPI(t)
	if apiVersion(t, v.Server.APIVersion) < apiVersion(t, want) {
		want = v.Server.APIVersion
	}
	if v.Client.APIVersion != want {
		t.Errorf("negotiated client API version %q, want %q (client max %s, server %s)", v.Client.APIVersion, want, clientMaxAPI(t), v.Server.APIVersion)
	}
	// An old client pinned to 1.41 (docker-py's default) still works.
	r = dockerWith(t, harness.RunOptions{Env: []string{"DOCKER_API_VERSION=1.41"}}, "version", "--format", "{{.Client.APIVersion}} {{.Server.APIVersion}}").OK(t)
	if !strings.HasPrefix(r.Stdout, "1.41 ") {
		t.Errorf("DOCKER_API_VERSION=1.41 docker version: %q, want the client at 1.41", r.Stdout)
	}
}

func TestDockerInfo(t *testing.T) {
	parallel(t)
	docker(t, "info").OK(t)
	var info struct {
		ID, Name, ServerVersion, OperatingSystem, OSType, Architecture, Driver string
		NCPU                                                                   int
		MemTotal                                                               int64
		Containers, ContainersRunning, Images                                  *int
		ServerErrors                                                           []string
		DockerRootDir                                                          string
	}
	r := docker(t, "info", "--format", "{{json .}}").OK(t)
	must(t, json.Unmarshal([]byte(r.Stdout), &info))
	if len(info.ServerErrors) > 0 {
		t.Errorf("docker info: ServerErrors %v", info.ServerErrors)
	}
	if info.ServerVersion == "" || info.OSType != "linux" || info.NCPU < 1 || info.MemTotal <= 0 || info.Driver == "" || info.OperatingSystem == "" {
		t.Errorf("docker info: %+v, want ServerVersion, OSType linux, NCPU, MemTotal, Driver, OperatingSystem", info)
	}
	if info.Containers == nil || info.Images == nil || info.ContainersRunning == nil {
		t.Errorf("docker info: no Containers/ContainersRunning/Images counts\n%s", r.Output())
	}
}

func TestDockerSystemDf(t *testing.T) {
	parallel(t)
	busybox(t)
	r := docker(t, "system", "df").OK(t)
	for _, row := range []string{"TYPE", "Images", "Containers", "Local Volumes", "Build Cache"} {
		if !strings.Contains(r.Stdout, row) {
			t.Errorf("docker system df: no %q row\n%s", row, r.Output())
		}
	}
	r = docker(t, "system", "df", "--format", "{{.Type}} {{.TotalCount}}").OK(t)
	images := -1
	for _, l := range r.Lines() {
		if n, ok := strings.CutPrefix(l, "Images "); ok {
			images, _ = strconv.Atoi(n)
		}
	}
	if images < 1 {
		t.Errorf("docker system df: Images count %d, want at least the pulled busybox\n%s", images, r.Output())
	}
	docker(t, "system", "df", "-v").OK(t)
}

// event is one line of `docker events --format '{{json .}}'`.
type event struct {
	Type   string
	Action string
	Actor  struct {
		ID         string
		Attributes map[string]string
	}
	Time     int64
	TimeNano int64 `json:"timeNano"`
}

func parseEvents(t testing.TB, r *harness.Result) []event {
	t.Helper()
	var out []event
	for _, l := range r.Lines() {
		var e event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("%s: line %q is not an event: %v", r.Cmdline(), l, err)
		}
		out = append(out, e)
	}
	return out
}

func TestDockerEventsSinceUntil(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	n := name("events")
	since := time.Now().Add(-time.Second).Unix()
	docker(t, "run", "--rm", "--name", n, bb, "sh", "-c", "exit 3").Exit(t, 3)
	until := time.Now().Add(time.Second).Unix()
	// A bounded window: docker events returns once --until has passed.
	time.Sleep(1100 * time.Millisecond)
	r := dockerWith(t, harness.RunOptions{Timeout: 30 * time.Second}, "events",
		"--since", strconv.FormatInt(since, 10), "--until", strconv.FormatInt(until, 10),
		"--filter", "container="+n, "--format", "{{json .}}").OK(t)
	evs := parseEvents(t, r)
	var actions []string
	for _, e := range evs {
		if e.Type != "container" {
			t.Errorf("--filter container=%s gave an event of type %q: %+v", n, e.Type, e)
			continue
		}
		if e.Actor.Attributes["name"] != n {
			t.Errorf("event %s for another container: %+v", e.Action, e.Actor)
		}
		if e.Time < since || e.Time > until {
			t.Errorf("event %s at %d, outside --since %d --until %d", e.Action, e.Time, since, until)
		}
		if e.Action == "die" && e.Actor.Attributes["exitCode"] != "3" {
			t.Errorf("die event: exitCode %q, want 3: %+v", e.Actor.Attributes["exitCode"], e.Actor.Attributes)
		}
		actions = append(actions, e.Action)
	}
	// Docker's order for run --rm: create, (attach), start, die, destroy.
	want := []string{"create", "start", "die", "destroy"}
	i := 0
	for _, a := range actions {
		if i < len(want) && a == want[i] {
			i++
		}
	}
	if i != len(want) {
		t.Errorf("events of run --rm: %v, want %v in that order\n%s", actions, want, r.Output())
	}
	// --filter event=die keeps only that action.
	r = dockerWith(t, harness.RunOptions{Timeout: 30 * time.Second}, "events",
		"--since", strconv.FormatInt(since, 10), "--until", strconv.FormatInt(until, 10),
		"--filter", "container="+n, "--filter", "event=die", "--format", "{{.Action}}").OK(t)
	if r.Stdout != "die\n" {
		t.Errorf("--filter event=die: %q, want one die", r.Stdout)
	}
}

func TestDockerEventsStream(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	n := name("events-stream")
	cmd := harness.DockerCommand(t, user(), "events", "--filter", "container="+n, "--format", "{{.Action}}")
	out, err := cmd.StdoutPipe()
	must(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	must(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	time.Sleep(500 * time.Millisecond) // the stream is open before the container exists
	docker(t, "run", "--rm", "--name", n, bb, "true").OK(t)
	var got []string
	deadline := time.After(15 * time.Second)
	for !contains(got, "destroy") {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("docker events ended by itself after %v; stderr: %s", got, stderr.String())
			}
			got = append(got, l)
		case <-deadline:
			t.Fatalf("docker events (following) showed %v within 15 s, want start, die and destroy of %s; stderr: %s", got, n, stderr.String())
		}
	}
	for _, a := range []string{"create", "start", "die"} {
		if !contains(got, a) {
			t.Errorf("docker events (following): %v lacks %s", got, a)
		}
	}
}

func TestDockerLogin(t *testing.T) {
	parallel(t)
	ar := harness.NeedAuthRegistry(t)
	// A wrong password: the service checks it against the registry (/auth).
	r := dockerWith(t, harness.RunOptions{Stdin: strings.NewReader("wrong\n")}, "login", "-u", ar.User, "--password-stdin", ar.Addr)
	if r.ExitCode == 0 || !containsAnyFold(r.Stderr, "unauthorized", "401", "incorrect", "denied") {
		t.Errorf("docker login with a wrong password: want a failure saying unauthorized\n%s", r.Output())
	}
	// Without credentials the pull is refused.
	r = dockerWith(t, harness.RunOptions{Timeout: 2 * time.Minute}, "pull", ar.Busybox.Ref)
	if r.ExitCode == 0 {
		t.Errorf("docker pull from the authenticated registry without login succeeded\n%s", r.Output())
	}
	r = dockerWith(t, harness.RunOptions{Stdin: strings.NewReader(ar.Password + "\n")}, "login", "-u", ar.User, "--password-stdin", ar.Addr).OK(t)
	if !strings.Contains(r.Stdout, "Login Succeeded") {
		t.Errorf("docker login: %q, want Login Succeeded", r.Stdout)
	}
	defer docker(t, "logout", ar.Addr)
	// The CLI sends the stored credentials with the pull (X-Registry-Auth).
	r = dockerWith(t, harness.RunOptions{Timeout: 2 * time.Minute}, "pull", ar.Busybox.Ref).OK(t)
	var img struct{ Id string }
	inspectJSON(t, []string{"image", "inspect"}, ar.Busybox.Ref, &img)
	if img.Id != ar.Busybox.ID {
		t.Errorf("pulled %s: Id %s, want %s", ar.Busybox.Ref, img.Id, ar.Busybox.ID)
	}
	// And with the push.
	dst := ar.Ref("api-login-push") + ":" + harness.UniqueSuffix()
	docker(t, "tag", ar.Busybox.Ref, dst).OK(t)
	docker(t, "push", dst).OK(t)
	docker(t, "rmi", dst).OK(t)
}

func containsAnyFold(s string, words ...string) bool {
	s = strings.ToLower(s)
	for _, w := range words {
		if strings.Contains(s, strings.ToLower(w)) {
			return true
		}
	}
	return false
}

// TestPing checks the negotiation endpoint as clients read it: GET and
// HEAD /_ping with the API-Version and OSType headers, and a versioned
// prefix on other endpoints.
func TestPing(t *testing.T) {
	parallel(t)
	s := harness.StartService(t, user())
	c := s.HTTPClient()
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		req, _ := http.NewRequest(method, "http://docker/_ping", nil)
		resp, err := c.Do(req)
		must(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s /_ping: %s", method, resp.Status)
		}
		if method == http.MethodGet && string(body) != "OK" {
			t.Errorf("GET /_ping body %q, want OK", body)
		}
		if resp.Header.Get("Api-Version") == "" || resp.Header.Get("Ostype") != "linux" {
			t.Errorf("%s /_ping headers %v: want API-Version and OSType: linux", method, resp.Header)
		}
	}
	var v struct{ APIVersion, MinAPIVersion string }
	for _, path := range []string{"/version", "/v1.41/version"} {
		resp, err := c.Get("http://docker" + path)
		must(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || json.Unmarshal(body, &v) != nil || v.APIVersion == "" {
			t.Errorf("GET %s: %s %s", path, resp.Status, body)
		}
	}
	// Outside the supported range: 400 with Docker's message, like dockerd.
	for _, ver := range []string{"1.12", "1.99"} {
		resp, err := c.Get("http://docker/v" + ver + "/version")
		must(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e struct{ Message string }
		if resp.StatusCode != 400 || json.Unmarshal(body, &e) != nil || !strings.Contains(e.Message, ver) {
			t.Errorf("GET /v%s/version (min %s, max %s): %s %s, want 400 and a message naming %s", ver, v.MinAPIVersion, v.APIVersion, resp.Status, body, ver)
		}
	}
}
