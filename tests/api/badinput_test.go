package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// rawResponse is one HTTP exchange on the service's socket.
type rawResponse struct {
	req    string
	status int
	header http.Header
	body   []byte
}

func (r *rawResponse) String() string {
	b := r.body
	if len(b) > 2000 {
		b = append(b[:2000:2000], "…"...)
	}
	return fmt.Sprintf("request %q\nanswer %d %v\n%s", r.req, r.status, r.header, b)
}

// raw sends one request, written as is (no path cleaning, no escaping), on
// a new connection to the service and reads the answer (at most 1 MiB of
// body) within 30 s.
func raw(t testing.TB, s *harness.Service, method, path string, header map[string]string, body []byte) *rawResponse {
	t.Helper()
	conn, err := s.Dial()
	must(t, err)
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	var req bytes.Buffer
	fmt.Fprintf(&req, "%s %s HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n", method, path)
	for k, v := range header {
		fmt.Fprintf(&req, "%s: %s\r\n", k, v)
	}
	if body != nil {
		fmt.Fprintf(&req, "Content-Length: %d\r\n", len(body))
	}
	req.WriteString("\r\n")
	line := fmt.Sprintf("%s %s", method, path)
	// Write the body from a goroutine: the service may answer (and stop
	// reading) before it has all of it.
	go func() {
		_, _ = conn.Write(req.Bytes())
		if body != nil {
			_, _ = conn.Write(body)
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s: no HTTP answer: %v", line, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return &rawResponse{req: line, status: resp.StatusCode, header: resp.Header, body: b}
}

// wantJSONError checks an error answer: a status in [lo, hi] and Docker's
// {"message": "…"} body.
func wantJSONError(t testing.TB, r *rawResponse, lo, hi int) {
	t.Helper()
	if r.status < lo || r.status > hi {
		t.Errorf("want a status in %d..%d\n%s", lo, hi, r)
		return
	}
	var e struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil || strings.TrimSpace(e.Message) == "" {
		t.Errorf("want Docker's JSON error {\"message\": …} (%v)\n%s", err, r)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error answer Content-Type %q, want application/json\n%s", ct, r)
	}
}

// stillServing checks that the service answers GET /_ping.
func stillServing(t testing.TB, s *harness.Service) {
	t.Helper()
	if err := s.WaitPing(5 * time.Second); err != nil {
		t.Fatalf("the service stopped answering /_ping: %v\nits output:\n%s", err, s.Output())
	}
}

var jsonHeader = map[string]string{"Content-Type": "application/json"}

func TestBadJSON(t *testing.T) {
	parallel(t)
	s := harness.StartService(t, user())
	bb := busybox(t)
	// Bodies that parse far enough carry this label: none may be created.
	mark := "api-bad=" + harness.UniqueSuffix()
	lbl := `"Labels": {"api-bad": "` + strings.TrimPrefix(mark, "api-bad=") + `"}, `
	cases := []struct{ what, path, body string }{
		{"malformed JSON", "/v1.41/containers/create", `{` + lbl + `"Image": "` + bb + `", "Cmd": [`},
		{"not JSON at all", "/v1.41/containers/create", "this is not json"},
		{"a JSON array", "/v1.41/containers/create", `["` + bb + `"]`},
		{"Image of the wrong type", "/v1.41/containers/create", `{` + lbl + `"Image": 42}`},
		{"Cmd of the wrong type", "/v1.41/containers/create", `{` + lbl + `"Image": "` + bb + `", "Cmd": {"a": 1}}`},
		{"HostConfig.Memory of the wrong type", "/v1.41/containers/create", `{` + lbl + `"Image": "` + bb + `", "HostConfig": {"Memory": "lots"}}`},
		{"Env of the wrong type", "/v1.41/containers/create", `{` + lbl + `"Image": "` + bb + `", "Env": "A=1"}`},
		{"ExposedPorts of the wrong type", "/v1.41/containers/create", `{` + lbl + `"Image": "` + bb + `", "ExposedPorts": ["80/tcp"]}`},
		{"malformed network create", "/v1.41/networks/create", `{"Name": `},
		{"network Name of the wrong type", "/v1.41/networks/create", `{"Name": ["x"]}`},
		{"malformed volume create", "/v1.41/volumes/create", `{"Name": 1`},
		{"malformed exec create", "/v1.41/containers/none/exec", `{"Cmd": `},
		{"an empty body", "/v1.41/containers/create", ""},
	}
	for _, c := range cases {
		r := raw(t, s, http.MethodPost, c.path, jsonHeader, []byte(c.body))
		if r.status != 400 && !(c.path == "/v1.41/containers/none/exec" && r.status == 404) {
			t.Errorf("%s: want 400 Bad Request\n%s", c.what, r)
		}
		wantJSONError(t, r, 400, 404)
	}
	// A container name that is no name, and volume names with "..".
	for _, c := range []struct{ path, body string }{
		{"/v1.41/containers/create?name=../../etc", `{` + lbl + `"Image": "` + bb + `"}`},
		{"/v1.41/containers/create?name=a/b", `{` + lbl + `"Image": "` + bb + `"}`},
		{"/v1.41/volumes/create", `{"Name": "../../etc"}`},
		{"/v1.41/volumes/create", `{"Name": "a/../../b"}`},
		{"/v1.41/networks/create", `{"Name": "../../etc"}`},
	} {
		r := raw(t, s, http.MethodPost, c.path, jsonHeader, []byte(c.body))
		wantJSONError(t, r, 400, 400)
	}
	if got := docker(t, "ps", "-a", "-q", "--filter", "label="+mark).OK(t).Stdout; got != "" {
		t.Errorf("bad requests created containers: %q", got)
		docker(t, append([]string{"rm", "-f"}, strings.Fields(got)...)...)
	}
	stillServing(t, s)
}

// TestHugeBody sends 50 MB bodies: a clear 4xx, and the service goes on.
func TestHugeBody(t *testing.T) {
	parallel(t)
	s := harness.StartService(t, user())
	bb := busybox(t)
	big := make([]byte, 50<<20)
	for i := range big {
		big[i] = 'A'
	}
	// Valid JSON, a 50 MB label value.
	body := append(append([]byte(`{"Image": "`+bb+`", "Labels": {"big": "`), big...), `"}}`...)
	huge := name("huge")
	r := raw(t, s, http.MethodPost, "/v1.41/containers/create?name="+huge, jsonHeader, body)
	wantJSONError(t, r, 400, 499)
	if r.status == 201 {
		docker(t, "rm", "-f", huge)
	}
	// Garbage of the same size.
	r = raw(t, s, http.MethodPost, "/v1.41/networks/create", jsonHeader, big)
	wantJSONError(t, r, 400, 499)
	stillServing(t, s)
	docker(t, "run", "--rm", bb, "true").OK(t)
	if rss := vmRSSKiB(s.PID()); rss > 300<<10 {
		t.Errorf("the service's VmRSS is %d KiB after two 50 MB bodies: it kept them", rss)
	}
}

// hostPasswdMarker is in the host's /etc/passwd (the harness created the
// user) and not in any test image's.
var hostPasswdMarker = harness.E2EUserName + ":x:"

// TestDotDotURLs sends paths with ".." (plain and escaped): an error, and
// never a host file.
func TestDotDotURLs(t *testing.T) {
	parallel(t)
	s := harness.StartService(t, user())
	n := name("dotdot")
	runDetached(t, n, nil, idleCmd...)
	paths := []string{
		"/v1.41/containers/../../etc/passwd/json",
		"/containers/../../../../etc/passwd/json",
		"/v1.41/containers/..%2f..%2f..%2fetc%2fpasswd/json",
		"/v1.41/containers/%2e%2e/%2e%2e/etc/passwd/json",
		"/v1.41/images/../../../../etc/passwd/json",
		"/v1.41/images/..%2F..%2F..%2F..%2Fetc%2Fpasswd/json",
		"/v1.41/volumes/..%2F..%2F..%2Fetc",
		"/v1.41/networks/..%2F..%2Fetc",
		"/v1.41/../../../../etc/passwd",
		"/../../../../etc/passwd",
		"/v1.41/containers/" + n + "/../../../../../etc/passwd",
	}
	for _, p := range paths {
		r := raw(t, s, http.MethodGet, p, nil, nil)
		if r.status < 400 || r.status > 499 {
			t.Errorf("GET %s: want a 4xx\n%s", p, r)
		}
		if bytes.Contains(r.body, []byte(hostPasswdMarker)) {
			t.Errorf("GET %s: the answer holds the host's /etc/passwd\n%s", p, r)
		}
	}
	// The archive endpoint resolves ".." inside the container: the
	// container's /etc/passwd (busybox's), never the host's.
	for _, p := range []string{"../../../../../../etc/passwd", "/tmp/../../../etc/passwd"} {
		r := raw(t, s, http.MethodGet, "/v1.41/containers/"+n+"/archive?path="+p, nil, nil)
		if bytes.Contains(r.body, []byte(hostPasswdMarker)) {
			t.Errorf("archive?path=%s: the answer holds the host's /etc/passwd\n%s", p, r)
		}
		if r.status != 200 && (r.status < 400 || r.status > 499) {
			t.Errorf("archive?path=%s: want the container's file or a 4xx\n%s", p, r)
		}
	}
	stillServing(t, s)
}

func TestUnknownEndpoint(t *testing.T) {
	parallel(t)
	s := harness.StartService(t, user())
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/v1.41/nonexistent"},
		{http.MethodGet, "/nonexistent/endpoint"},
		{http.MethodPost, "/v1.41/containers/x/teleport"},
		{http.MethodGet, "/v1.41/containers/" + name("missing") + "/json"},
		{http.MethodGet, "/v1.41/images/localhost/no-such-image:x/json"},
		{http.MethodGet, "/v1.41/networks/" + name("missing")},
		{http.MethodGet, "/v1.41/volumes/" + name("missing")},
		{http.MethodGet, "/v1.41/exec/" + strings.Repeat("ab", 32) + "/json"},
	} {
		r := raw(t, s, c.method, c.path, nil, nil)
		if r.status != 404 {
			t.Errorf("%s %s: want 404\n%s", c.method, c.path, r)
		}
		wantJSONError(t, r, 404, 404)
	}
	// A known path with the wrong method.
	r := raw(t, s, http.MethodDelete, "/v1.41/version", nil, nil)
	if r.status != 404 && r.status != 405 {
		t.Errorf("DELETE /version: want 404 or 405\n%s", r)
	}
	stillServing(t, s)
}
