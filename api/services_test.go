package api

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// The docker CLI shows its service and node commands only when /_ping
// says the node is an active manager.
func TestPingSaysSwarmManager(t *testing.T) {
	s := testServer()
	for _, m := range []string{http.MethodGet, http.MethodHead} {
		for _, path := range []string{"/_ping", "/v1.47/_ping"} {
			rec := do(t, s, m, path, "")
			if rec.Code != http.StatusOK || rec.Header().Get("Swarm") != "active/manager" {
				t.Errorf("%s %s = %d, Swarm header %q; want 200 and active/manager", m, path, rec.Code, rec.Header().Get("Swarm"))
			}
		}
	}
}

// What would change the swarm is refused with Docker's 503 and one line
// saying why.
func TestSwarmChangesRefused(t *testing.T) {
	s := testServer()
	for _, tt := range []struct{ method, path, word string }{
		{"POST", "/v1.47/swarm/init", "already part of a swarm"},
		{"POST", "/swarm/join", "already part of a swarm"},
		{"POST", "/swarm/leave?force=1", "cannot be left"},
		{"POST", "/swarm/update?version=3", "no settings"},
		{"POST", "/swarm/unlock", "never locked"},
		{"GET", "/swarm/unlockkey", "unlock key"},
	} {
		rec := do(t, s, tt.method, tt.path, `{"ListenAddr":"0.0.0.0:2377"}`)
		var body errorBody
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(body.Message, tt.word) || strings.Contains(body.Message, "\n") {
			t.Errorf("%s %s = %d %q, want 503 and one line with %q", tt.method, tt.path, rec.Code, body.Message, tt.word)
		}
	}
}

// Bad parameters are refused before the engine is asked (the test
// server has none).
func TestServiceBadParameters(t *testing.T) {
	s := testServer()
	for _, tt := range []struct {
		method, path, body string
		code               int
		word               string
	}{
		{"POST", "/services/create", "{", 400, "invalid JSON"},
		{"POST", "/services/create", "", 400, "body is required"},
		{"POST", "/services/create", `{"Name": 5}`, 400, "invalid JSON"},
		{"POST", "/services/web/update?version=abc", "{}", 400, "invalid service version"},
		{"POST", "/services/web/update?version=1&rollback=sideways", "{}", 400, "rollback"},
		{"POST", "/services/web/update?version=1&registryAuthFrom=elsewhere", "{}", 400, "registryAuthFrom"},
		{"POST", "/services/web/update?version=1", "", 400, "body is required"},
		{"GET", "/services/web/logs", "", 400, "at least one stream"},
		{"GET", "/services/web/logs?stdout=1&tail=-3", "", 400, "tail"},
		{"GET", "/services/web/logs?stdout=1&since=yesterday", "", 400, "since"},
		{"GET", "/tasks/abc/logs?stderr=0", "", 400, "at least one stream"},
		{"GET", "/tasks?filters=" + url.QueryEscape(`{"_up-to-date":["maybe"]}`), "", 400, "_up-to-date"},
		{"GET", "/tasks?filters=notjson", "", 400, "invalid filters"},
		{"PUT", "/services/web", "", 405, "method not allowed"},
	} {
		rec := do(t, s, tt.method, tt.path, tt.body)
		var body errorBody
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != tt.code || !strings.Contains(body.Message, tt.word) {
			t.Errorf("%s %s (%q) = %d %q, want %d and a message with %q", tt.method, tt.path, tt.body, rec.Code, body.Message, tt.code, tt.word)
		}
	}
}

func TestServiceUpdateOptions(t *testing.T) {
	for q, want := range map[string]struct {
		version  uint64
		rollback bool
	}{
		"version=12&rollback=none&registryAuthFrom=spec": {12, false},
		"version=3&rollback=previous":                    {3, true},
		"":                                               {0, false},
		"version=7&registryAuthFrom=previous-spec&rollback=":   {7, false},
		"rollback=previous&registryAuthFrom=spec&version=9000": {9000, true},
	} {
		r := httptest.NewRequest("POST", "/services/x/update?"+q, nil)
		r.Form = r.URL.Query()
		o, err := serviceUpdateOptions(r)
		if err != nil || o.Version != want.version || o.Rollback != want.rollback {
			t.Errorf("%q: %+v %v, want version %d rollback %v", q, o, err, want.version, want.rollback)
		}
	}
}

func TestRoutesOfServices(t *testing.T) {
	s := testServer()
	for _, tt := range []struct{ method, path, id string }{
		{"GET", "/services", ""},
		{"POST", "/services/create", ""},
		{"GET", "/services/abc", "abc"},
		{"DELETE", "/services/web", "web"},
		{"POST", "/services/web/update", "web"},
		{"GET", "/services/web/logs", "web"},
		{"GET", "/tasks", ""},
		{"GET", "/tasks/t1", "t1"},
		{"GET", "/tasks/t1/logs", "t1"},
		{"GET", "/nodes", ""},
		{"GET", "/nodes/self", "self"},
		{"GET", "/swarm", ""},
	} {
		segs := strings.Split(strings.TrimPrefix(tt.path, "/"), "/")
		h, p, _ := s.mux.match(tt.method, segs)
		if h == nil || p["id"] != tt.id {
			t.Errorf("%s %s: handler %v, id %q; want id %q", tt.method, tt.path, h != nil, p["id"], tt.id)
		}
	}
}

// The details the docker CLI reads: sorted, query-escaped, comma-separated.
func TestLogDetails(t *testing.T) {
	got := logDetails("node1", "svc1", "task1")
	want := "com.docker.swarm.node.id=node1,com.docker.swarm.service.id=svc1,com.docker.swarm.task.id=task1"
	if got != want {
		t.Errorf("logDetails = %q, want %q", got, want)
	}
	if got := logDetails("a b", "c,d", "e=f"); got != "com.docker.swarm.node.id=a+b,com.docker.swarm.service.id=c%2Cd,com.docker.swarm.task.id=e%3Df" {
		t.Errorf("logDetails escapes %q", got)
	}
}

// readFrames reads a multiplexed stream as the docker CLI's stdcopy
// does: one Write per frame.
func readFrames(t *testing.T, b []byte) (stream []byte, frames []string) {
	t.Helper()
	r := bytes.NewReader(b)
	for {
		var hdr [8]byte
		if _, err := io.ReadFull(r, hdr[:]); err == io.EOF {
			return
		} else if err != nil {
			t.Fatalf("short frame header: %v", err)
		}
		n := binary.BigEndian.Uint32(hdr[4:])
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			t.Fatalf("short frame: %v", err)
		}
		stream = append(stream, hdr[0])
		frames = append(frames, string(body))
	}
}

// Each line is its own frame, with the details after the timestamp (the
// CLI splits a frame at its first spaces), whatever the chunks written.
func TestLogLinesFramed(t *testing.T) {
	rec := httptest.NewRecorder()
	ls := &logStream{w: rec, mux: true, ct: "application/vnd.docker.multiplexed-stream"}
	d := logDetails("n", "s", "t")
	out := &lineWriter{ls: ls, stream: streamStdout, details: d, timestamps: true}
	errw := &lineWriter{ls: ls, stream: streamStderr, details: d, timestamps: true}
	io.WriteString(out, "2024-01-02T03:04:05.000000001Z one\n2024-01-02T03:04:05.000000002Z tw")
	io.WriteString(errw, "2024-01-02T03:04:05.000000003Z oops\n")
	io.WriteString(out, "o\n2024-01-02T03:04:05.000000004Z \n2024-01-02T03:04:05.000000005Z last")
	out.flush()
	errw.flush()
	streams, frames := readFrames(t, rec.Body.Bytes())
	want := []string{
		"2024-01-02T03:04:05.000000001Z " + d + " one\n",
		"2024-01-02T03:04:05.000000003Z " + d + " oops\n",
		"2024-01-02T03:04:05.000000002Z " + d + " two\n",
		"2024-01-02T03:04:05.000000004Z " + d + " \n",
		"2024-01-02T03:04:05.000000005Z " + d + " last",
	}
	if strings.Join(frames, "|") != strings.Join(want, "|") || string(streams) != "\x01\x02\x01\x01\x01" {
		t.Errorf("frames %q on streams %v, want %q on 1 2 1 1 1", frames, streams, want)
	}
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/vnd.docker.multiplexed-stream" {
		t.Errorf("reply %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	// Without details or timestamps the lines pass as they are.
	rec = httptest.NewRecorder()
	ls = &logStream{w: rec, mux: true}
	plain := &lineWriter{ls: ls, stream: streamStdout}
	io.WriteString(plain, "a b\nc")
	plain.flush()
	if _, frames := readFrames(t, rec.Body.Bytes()); strings.Join(frames, "|") != "a b\n|c" {
		t.Errorf("plain frames %q", frames)
	}
	// Details without timestamps come first.
	rec = httptest.NewRecorder()
	ls = &logStream{w: rec, mux: false}
	raw := &lineWriter{ls: ls, stream: streamStdout, details: "k=v"}
	io.WriteString(raw, "x y\n")
	if rec.Body.String() != "k=v x y\n" {
		t.Errorf("raw (tty) stream %q", rec.Body.String())
	}
}
