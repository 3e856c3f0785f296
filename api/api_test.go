package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/blkiodev"
	ctypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"

	"github.com/skiff-project/skiff/errdefs"
)

// A server without an engine answers everything that needs none: the
// routing, versions, paths and errors.
func testServer() *Server { return New(nil, Options{Version: "test"}) }

func do(t *testing.T, s *Server, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}

func TestPingAndVersionPrefix(t *testing.T) {
	s := testServer()
	for _, path := range []string{"/_ping", "/v1.24/_ping", "/v1.41/_ping", "/v1.57/_ping"} {
		rec := do(t, s, http.MethodGet, path, "")
		if rec.Code != http.StatusOK || rec.Body.String() != "OK" {
			t.Errorf("GET %s = %d %q, want 200 OK", path, rec.Code, rec.Body.String())
		}
		if got := rec.Header().Get("Api-Version"); got != MaxVersion {
			t.Errorf("GET %s: Api-Version %q, want %s", path, got, MaxVersion)
		}
		if got := rec.Header().Get("Builder-Version"); got != "1" {
			t.Errorf("GET %s: Builder-Version %q, want 1 (the classic builder)", path, got)
		}
	}
	if rec := do(t, s, http.MethodHead, "/_ping", ""); rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Errorf("HEAD /_ping = %d with %d bytes, want 200 and no body", rec.Code, rec.Body.Len())
	}
}

func TestBadVersionsAndPaths(t *testing.T) {
	s := testServer()
	for _, tt := range []struct {
		method, path string
		code         int
		msg          string
	}{
		{"GET", "/v1.99/_ping", 400, "too new"},
		{"GET", "/v1.12/_ping", 400, "too old"},
		{"GET", "/v1.41/containers/../../etc/passwd/json", 400, `".." segment`},
		{"GET", "/containers/./json", 400, `"." segment`},
		{"GET", "/no/such/endpoint", 404, "not an endpoint"},
		{"PUT", "/containers/json", 405, "method not allowed"},
	} {
		rec := do(t, s, tt.method, tt.path, "")
		var body errorBody
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Errorf("%s %s: body %q is not Docker's error JSON: %v", tt.method, tt.path, rec.Body.String(), err)
			continue
		}
		if rec.Code != tt.code || !strings.Contains(body.Message, tt.msg) {
			t.Errorf("%s %s = %d %q, want %d and a message with %q", tt.method, tt.path, rec.Code, body.Message, tt.code, tt.msg)
		}
	}
}

func TestRouterGreedyNames(t *testing.T) {
	s := testServer()
	for _, tt := range []struct{ method, path, name string }{
		{"GET", "/images/busybox/json", "busybox"},
		{"GET", "/images/127.0.0.1:5000/lib/busybox:1.36/json", "127.0.0.1:5000/lib/busybox:1.36"},
		{"DELETE", "/images/127.0.0.1:5000/busybox@sha256:abcd", "127.0.0.1:5000/busybox@sha256:abcd"},
		{"POST", "/images/a/b/c/push", "a/b/c"},
	} {
		segs := strings.Split(strings.TrimPrefix(tt.path, "/"), "/")
		h, p, _ := s.mux.match(tt.method, segs)
		if h == nil || p["name"] != tt.name {
			t.Errorf("%s %s: name %q (handler %v), want %q", tt.method, tt.path, p["name"], h != nil, tt.name)
		}
	}
	// The fixed routes win over the greedy ones.
	h, p, _ := s.mux.match("GET", []string{"images", "json"})
	if h == nil || p["name"] != "" {
		t.Errorf("GET /images/json went to an image named %q", p["name"])
	}
}

func TestBadJSON(t *testing.T) {
	s := testServer()
	for _, tt := range []struct {
		body string
		code int
	}{
		{"{", 400},
		{`{"Image": 5}`, 400},
		{"", 400},
		{`{"Image":"` + strings.Repeat("x", maxJSONBody+10) + `"}`, 413},
	} {
		rec := do(t, s, "POST", "/v1.41/containers/create", tt.body)
		if rec.Code != tt.code {
			t.Errorf("create with %.20q… = %d %s, want %d", tt.body, rec.Code, rec.Body.String(), tt.code)
		}
	}
}

func TestStatusOf(t *testing.T) {
	for err, want := range map[error]int{
		errdefs.NotFound("x"):                          404,
		errdefs.Invalid("x"):                           400,
		errdefs.ErrConflict:                            409,
		errdefs.ErrAlreadyExists:                       409,
		errdefs.ErrNotImplemented:                      501,
		&errdefs.ExitStatus{Code: 127}:                 400,
		errNotModified:                                 304,
		http.ErrHandlerTimeout:                         500,
		errdefs.ErrUnavailable:                         503,
		errdefs.ErrCommandNotFound:                     400,
		errdefs.ErrCannotInvoke:                        400,
		errTooLarge:                                    413,
		errMethod:                                      405,
		errdefs.NotFound("No such container: %s", "x"): 404,
	} {
		if got := statusOf(err); got != want {
			t.Errorf("statusOf(%v) = %d, want %d", err, got, want)
		}
	}
}

func TestCreateOptionsCarryOver(t *testing.T) {
	yes := true
	req := &ctypes.CreateRequest{
		Config: &ctypes.Config{
			Image: "busybox", Cmd: []string{"sh"}, Entrypoint: []string{""}, Env: []string{"A=1"},
			Tty: true, OpenStdin: true, Labels: map[string]string{"k": "v"},
			Volumes:      map[string]struct{}{"/anon": {}, "/bound": {}},
			ExposedPorts: network.PortSet{network.MustParsePort("80/tcp"): {}},
			Healthcheck:  &ctypes.HealthConfig{Test: []string{"CMD", "true"}, Retries: 2},
		},
		HostConfig: &ctypes.HostConfig{
			Binds: []string{"/h:/bound:ro"}, NetworkMode: "proj_default", AutoRemove: true, Init: &yes,
			RestartPolicy: ctypes.RestartPolicy{Name: "no"},
			PortBindings:  network.PortMap{network.MustParsePort("80/tcp"): {{HostPort: "8080"}}},
			Tmpfs:         map[string]string{"/run": "size=1m"},
			Mounts:        []mount.Mount{{Type: mount.TypeVolume, Source: "data", Target: "/data", VolumeOptions: &mount.VolumeOptions{NoCopy: true}}},
			LogConfig:     ctypes.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "1m"}},
		},
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			"proj_default": {Aliases: []string{"web"}},
			"other":        {Aliases: []string{"w2"}},
		}},
	}
	o, extra, err := createOptions("/web-1", req)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case o.Name != "web-1", o.Image != "busybox", !o.EntrypointSet || o.Entrypoint != nil, !o.TTY, !o.Interactive, !o.Init, !o.AutoRemove:
		t.Errorf("basic fields: %+v", o)
	case strings.Join(o.Binds, ",") != "/h:/bound:ro,/anon":
		t.Errorf("Binds %q: want the -v bind and the anonymous /anon (not /bound twice)", o.Binds)
	case strings.Join(o.Publish, ",") != "8080:80/tcp", strings.Join(o.Expose, ",") != "80/tcp":
		t.Errorf("ports: publish %q expose %q", o.Publish, o.Expose)
	case strings.Join(o.Tmpfs, ",") != "/run:size=1m", len(o.MountSpecs) != 1 || !o.MountSpecs[0].NoCopy:
		t.Errorf("mounts: tmpfs %q specs %+v", o.Tmpfs, o.MountSpecs)
	case o.NetworkMode != "proj_default" || strings.Join(o.Aliases, ",") != "web":
		t.Errorf("network %q aliases %q", o.NetworkMode, o.Aliases)
	case len(extra) != 1 || extra["other"] == nil:
		t.Errorf("extra networks %v, want other", extra)
	case strings.Join(o.LogOpts, ",") != "max-size=1m", o.Health.Retries != 2 || o.Health.Test[0] != "CMD":
		t.Errorf("log %q health %+v", o.LogOpts, o.Health)
	}
}

func TestCreateOptionsRefuseWhatSkiffCannotDo(t *testing.T) {
	for name, hc := range map[string]*ctypes.HostConfig{
		"IOMaximumBandwidth":                 {Resources: ctypes.Resources{IOMaximumBandwidth: 1 << 20}},
		"HostConfig.Cgroup":                  {Cgroup: "container:x"},
		"HostConfig.DeviceRequests driver x": {Resources: ctypes.Resources{DeviceRequests: []ctypes.DeviceRequest{{Driver: "x", Count: 1}}}},
	} {
		_, _, err := createOptions("", &ctypes.CreateRequest{Config: &ctypes.Config{Image: "x"}, HostConfig: hc})
		if err == nil || !strings.Contains(err.Error(), name) || statusOf(err) != 400 {
			t.Errorf("%s set: err %v, want a 400 naming it", name, err)
		}
	}
	// What clients send when nothing is set passes.
	neg := int64(-1)
	no := false
	hc := &ctypes.HostConfig{NetworkMode: "default", IpcMode: "private", Resources: ctypes.Resources{MemorySwappiness: &neg, OomKillDisable: &no, Ulimits: nil}}
	if _, _, err := createOptions("", &ctypes.CreateRequest{Config: &ctypes.Config{Image: "x"}, HostConfig: hc}); err != nil {
		t.Errorf("defaults refused: %v", err)
	}
}

func TestCreateOptionsResources(t *testing.T) {
	swappiness, pids, yes := int64(20), int64(0), true
	hc := &ctypes.HostConfig{OomScoreAdj: 200, Resources: ctypes.Resources{
		Memory: 64 << 20, MemorySwap: -1, MemorySwappiness: &swappiness, NanoCPUs: 1500000000, CPUShares: 512,
		CpusetCpus: "0", PidsLimit: &pids, OomKillDisable: &yes, CgroupParent: "/batch", BlkioWeight: 300,
		BlkioDeviceReadBps: []*blkiodev.ThrottleDevice{{Path: "/dev/vda", Rate: 1 << 20}},
	}}
	o, _, err := createOptions("", &ctypes.CreateRequest{Config: &ctypes.Config{Image: "x"}, HostConfig: hc})
	if err != nil {
		t.Fatal(err)
	}
	r := o.Resources
	if r.Memory != 64<<20 || r.MemorySwap != -1 || *r.MemorySwappiness != 20 || r.NanoCPUs != 1500000000 || r.CPUShares != 512 ||
		r.CpusetCpus != "0" || *r.PidsLimit != 0 || !r.OomKillDisable || r.CgroupParent != "/batch" || r.BlkioWeight != 300 ||
		r.OomScoreAdj != 200 || len(r.BlkioDeviceReadBps) != 1 || r.BlkioDeviceReadBps[0].Path != "/dev/vda" || r.BlkioDeviceReadBps[0].Rate != 1<<20 {
		t.Errorf("resources %+v", r)
	}
	if r.BlkioDeviceWriteBps != nil {
		t.Errorf("a list not sent reads as given: %v", r.BlkioDeviceWriteBps)
	}
}

func TestCreateOptionsCarryIsolation(t *testing.T) {
	v4 := netip.MustParseAddr("10.89.0.9")
	req := &ctypes.CreateRequest{
		Config: &ctypes.Config{Image: "x", Domainname: "example.org"},
		HostConfig: &ctypes.HostConfig{
			NetworkMode: "net1", PidMode: "host", IpcMode: "shareable", UTSMode: "host", CgroupnsMode: "private",
			GroupAdd: []string{"audio"}, ShmSize: 1 << 20, Sysctls: map[string]string{"net.ipv4.ip_forward": "1"},
			Annotations: map[string]string{"a": "b"}, Links: []string{"db:d"},
			Resources: ctypes.Resources{
				Ulimits:        []*ctypes.Ulimit{{Name: "nofile", Soft: 10, Hard: 20}},
				Devices:        []ctypes.DeviceMapping{{PathOnHost: "/dev/null"}},
				DeviceRequests: []ctypes.DeviceRequest{{Count: -1, Capabilities: [][]string{{"gpu"}}}},
			},
		},
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{"net1": {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: v4, LinkLocalIPs: []netip.Addr{netip.MustParseAddr("169.254.1.1")}}}}},
	}
	o, _, err := createOptions("", req)
	if err != nil {
		t.Fatal(err)
	}
	io := o.Isolation
	got := fmt.Sprintln(io.PidMode, io.IpcMode, io.UTSMode, io.CgroupnsMode, io.GroupAdd, io.ShmSize, io.Sysctls, io.Annotations,
		io.Links, io.Ulimits, io.Devices, io.GPUs, io.IP, io.Domainname, io.LinkLocalIPs)
	want := "host shareable host private [audio] 1048576 [net.ipv4.ip_forward=1] [a=b] [db:d] [nofile=10:20] [/dev/null:/dev/null:rwm] all 10.89.0.9 example.org [169.254.1.1]\n"
	if got != want {
		t.Errorf("isolation options %s, want %s", got, want)
	}
}
