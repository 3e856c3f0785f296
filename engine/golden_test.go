package engine

// Golden key sets: the JSON field set of each Docker-shaped report skiff
// builds, held against Docker's.
//
// Each golden file, testdata/golden/<object>.keys, lists the key paths of
// the JSON Docker Engine sends for such an object to a client of API 1.47
// (the version skiff announces, see APIVersion), one a line, sorted. It is
// written by hand, never regenerated from skiff's output: there is no
// -update flag, on purpose. Where each comes from:
//
//   - container_inspect.keys: GET /containers/{id}/json, swagger definition
//     ContainerInspectResponse (inline in api/docs/v1.47.yaml) with
//     ContainerState, Health, HealthcheckResult, ContainerConfig,
//     HealthConfig, HostConfig, Mount, MountPoint, NetworkSettings,
//     EndpointSettings, DriverData.
//   - container_summary.keys: GET /containers/json, ContainerSummary, with
//     MountPoint, Port and EndpointSettings.
//   - image_inspect.keys: GET /images/{name}/json, ImageInspect, with
//     ImageConfig, HealthConfig, DriverData.
//   - image_summary.keys: GET /images/json, ImageSummary.
//   - image_history.keys: GET /images/{name}/history,
//     HistoryResponseItem (ImageHistoryResponseItem in v1.47.yaml).
//   - network_inspect.keys: GET /networks/{id}, Network (NetworkInspect in
//     newer documents), with IPAM, IPAMConfig and NetworkContainer.
//   - volume.keys: GET /volumes/{name}, Volume.
//   - system_info.keys: GET /info, SystemInfo.
//   - system_version.keys: GET /version, SystemVersion.
//
// The definitions were read in moby's api/swagger.yaml and
// api/docs/v1.47.yaml. Which of their fields Docker always sends was read
// in the Go types it marshals, github.com/moby/moby/api v1.57.0/types (a
// field without omitempty is always sent), and in moby's API routers
// (daemon/server/router/...), which add back, for clients older than
// 1.52, fields the v1.57 types dropped (compat.WithExtraFields): image
// inspect's Parent, DockerVersion, Comment, Author and the legacy Config
// fields, the default bridge's top-level NetworkSettings fields, info's
// *Commit.Expected and BridgeNfIp*tables, and which strip newer ones
// (ImageManifestDescriptor, the summary's Health). Fields of the v1.47
// document that Docker itself no longer sends to 1.47 clients are not
// listed. Optional (omitempty) fields are listed when the hand-made input
// below makes Docker send them (a health check, a --mount, --init…).
//
// Key paths descend into objects (State.Health.Status) and into the
// elements of arrays of objects (Mounts[].Destination), but not into maps
// whose keys are data (Labels, ExposedPorts, PortBindings, Options, …):
// those are leaves. Maps of objects keyed by name (NetworkSettings.Networks,
// a network's Containers, info's Runtimes and IndexConfigs) descend with *
// for the key. Lines starting with # are comments; "# skiff extra:" marks
// a field skiff adds that Docker (at API 1.47) does not send.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/moby/api/types/image"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/netns"
	netpkg "github.com/skiff-project/skiff/netns/network"
	"github.com/skiff-project/skiff/storage"
)

// dataMaps are the keys whose object values are maps keyed by data: key
// paths stop at them.
var dataMaps = map[string]bool{
	"Labels": true, "ExposedPorts": true, "PortBindings": true, "Ports": true,
	"Tmpfs": true, "Options": true, "Volumes": true, "DriverOpts": true,
	"Sysctls": true, "StorageOpt": true, "Annotations": true, "Details": true,
	"AuxiliaryAddresses": true, "status": true, "options": true,
}

// dataMapPaths are maps keyed by data known by their whole path, where
// the last key alone is not enough (Config is an object elsewhere).
var dataMapPaths = map[string]bool{
	"HostConfig.LogConfig.Config": true,
	"GraphDriver.Data":            true,
	"Status":                      true, // a volume's driver status
}

// namedMaps are maps of objects keyed by name: key paths go on with *.
var namedMaps = map[string]bool{
	"Networks": true, "Containers": true, "Runtimes": true, "IndexConfigs": true,
}

// keyPaths returns the sorted key paths of a JSON document.
func keyPaths(data []byte) ([]string, error) {
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("want a JSON object: %w", err)
	}
	set := map[string]bool{}
	walkKeys(doc, "", set)
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

// walkKeys adds the key paths of v, when it is an object, to set; other
// values (scalars, null, the arrays of arrays of DriverStatus) hold none.
func walkKeys(v any, prefix string, set map[string]bool) {
	obj, ok := v.(map[string]any)
	if !ok {
		return
	}
	for k, child := range obj {
		path := prefix + k
		set[path] = true
		switch child := child.(type) {
		case map[string]any:
			switch {
			case dataMaps[k] || dataMapPaths[path]:
			case namedMaps[k]:
				for _, elem := range child {
					walkKeys(elem, path+".*.", set)
				}
			default:
				walkKeys(child, path+".", set)
			}
		case []any:
			for _, elem := range child {
				walkKeys(elem, path+"[].", set)
			}
		}
	}
}

// readGolden reads a golden file: its key paths, without comments and
// blank lines. It fails on unsorted or repeated keys, so that the files
// stay easy to check by hand.
func readGolden(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the golden file: %v", err)
	}
	var keys []string
	for i, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if n := len(keys); n > 0 && keys[n-1] >= l {
			t.Fatalf("%s:%d: %q is not sorted after %q, or is repeated", path, i+1, l, keys[n-1])
		}
		keys = append(keys, l)
	}
	return keys
}

// diffKeys returns the keys of want that got lacks, and those of got that
// want lacks.
func diffKeys(want, got []string) (missing, extra []string) {
	for _, k := range want {
		if !slices.Contains(got, k) {
			missing = append(missing, k)
		}
	}
	for _, k := range got {
		if !slices.Contains(want, k) {
			extra = append(extra, k)
		}
	}
	return missing, extra
}

func TestGoldenKeys(t *testing.T) {
	// mountPointsOf looks volumes up: rootless, keep it from the user's own.
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	tests := []struct {
		name  string
		value func(t *testing.T) any
	}{
		{"container_inspect", func(t *testing.T) any { return inspectContainer(goldenContainer(t)) }},
		{"container_summary", func(t *testing.T) any { return summarize(goldenContainer(t)) }},
		{"image_inspect", func(t *testing.T) any {
			res, err := inspectImage(goldenImage())
			if err != nil {
				t.Fatal(err)
			}
			return res
		}},
		{"image_summary", func(t *testing.T) any { return imageSummary(goldenImage()) }},
		{"image_history", func(t *testing.T) any { return goldenHistory() }},
		{"network_inspect", func(t *testing.T) any { return goldenNetworkInspect() }},
		{"volume", func(t *testing.T) any { return dockerVolume(goldenVolume()) }},
		{"system_info", func(t *testing.T) any { return goldenInfo(t) }},
		{"system_version", func(t *testing.T) any { return SystemVersion() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := json.Marshal(tt.value(t))
			if err != nil {
				t.Fatal(err)
			}
			got, err := keyPaths(data)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "golden", tt.name+".keys")
			missing, extra := diffKeys(readGolden(t, path), got)
			if len(missing) == 0 && len(extra) == 0 {
				return
			}
			var b bytes.Buffer
			fmt.Fprintf(&b, "the JSON keys of %s differ from %s:\n", tt.name, path)
			if len(missing) > 0 {
				fmt.Fprintf(&b, "missing (Docker sends them, skiff does not), %d:\n", len(missing))
				for _, k := range missing {
					fmt.Fprintf(&b, "\t- %s\n", k)
				}
			}
			if len(extra) > 0 {
				fmt.Fprintf(&b, "extra (skiff sends them, the golden file lacks them), %d:\n", len(extra))
				for _, k := range extra {
					fmt.Fprintf(&b, "\t+ %s\n", k)
				}
			}
			t.Error(b.String())
		})
	}
}

func TestKeyPaths(t *testing.T) {
	doc := `{"A":1,"B":{"C":null,"Labels":{"x":1},"Networks":{"n1":{"IP":"x"},"n2":{"GW":"y"}}},
		"L":[{"D":1},{"E":[{"F":1}]}],"S":["a"],"HostConfig":{"LogConfig":{"Config":{"k":"v"},"Type":"t"}},"Z":[[1,2]]}`
	got, err := keyPaths([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"A", "B", "B.C", "B.Labels", "B.Networks", "B.Networks.*.GW", "B.Networks.*.IP",
		"HostConfig", "HostConfig.LogConfig", "HostConfig.LogConfig.Config", "HostConfig.LogConfig.Type",
		"L", "L[].D", "L[].E", "L[].E[].F", "S", "Z"}
	if !slices.Equal(got, want) {
		t.Errorf("keyPaths =\n%q\nwant\n%q", got, want)
	}
}

const (
	goldenCtrID   = "3f4e5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081"
	goldenImageID = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
	goldenNetID   = "9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b"
)

var goldenTime = time.Date(2025, 3, 14, 9, 26, 53, 589793238, time.UTC)

// goldenContainer is a running nginx as `run -d --name web --init
// --health-cmd … -p 127.0.0.1:8080:80 -v golden-data:/data --mount
// type=bind,src=…,dst=/usr/share/nginx/html,ro --tmpfs /run --label …
// --restart unless-stopped nginx:1.27` makes it, as root: on the default
// bridge network.
func goldenContainer(t *testing.T) *container.Container {
	t.Helper()
	vol, err := container.ParseVolume("golden-data:/data", "")
	if err != nil {
		t.Fatal(err)
	}
	bind, err := container.ParseMount("type=bind,src="+t.TempDir()+",dst=/usr/share/nginx/html,ro", "")
	if err != nil {
		t.Fatal(err)
	}
	tmpfs, err := container.ParseTmpfs("/run")
	if err != nil {
		t.Fatal(err)
	}
	stop := 10
	ports := netns.PortMap{"80/tcp": {{HostIP: "127.0.0.1", HostPort: "8080"}}}
	return &container.Container{
		ID: goldenCtrID, Name: "web", Created: goldenTime,
		Path: "/docker-entrypoint.sh", Args: []string{"nginx", "-g", "daemon off;"},
		Image: "nginx:1.27", ImageID: goldenImageID,
		Config: container.Config{
			User: "101", Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "NGINX_VERSION=1.27.4"},
			Cmd: []string{"nginx", "-g", "daemon off;"}, Entrypoint: []string{"/docker-entrypoint.sh"}, WorkingDir: "/usr/share/nginx",
			Labels:     map[string]string{"com.example.team": "web", "maintainer": "NGINX Docker Maintainers"},
			StopSignal: "SIGQUIT", StopTimeout: &stop,
			Healthcheck: &container.Healthcheck{
				Test:     []string{"CMD-SHELL", "curl -fs http://localhost/ || exit 1"},
				Interval: 30 * time.Second, Timeout: 5 * time.Second, StartPeriod: 10 * time.Second, Retries: 3,
			},
			ExposedPorts: map[string]struct{}{"80/tcp": {}},
		},
		HostConfig: container.HostConfig{
			Binds:  []string{"golden-data:/data"},
			Mounts: []container.Mount{vol, bind, tmpfs},
			// Root's default: the bridge network, with NAT.
			NetworkMode: netpkg.DefaultName, NetworkKind: netns.ModeUser, PortBindings: ports,
			DNS: []string{"192.0.2.53"}, DNSSearch: []string{"example.com"}, DNSOptions: []string{"ndots:2"},
			ExtraHosts: []string{"db:192.0.2.10"}, CapAdd: []string{"NET_ADMIN"}, CapDrop: []string{"MKNOD"},
			SecurityOpt: []string{"no-new-privileges"}, Init: true,
			RestartPolicy: container.RestartPolicy{Name: "unless-stopped"},
			LogConfig:     container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "10m"}},
		},
		NetworkSettings: container.NetworkSettings{
			Ports: ports,
			Networks: map[string]*container.EndpointSettings{netpkg.DefaultName: {
				NetworkID: goldenNetID, Aliases: []string{"web"}, IPAddress: "10.88.0.5", Gateway: "10.88.0.1", PrefixLen: 16,
			}},
		},
		State: container.State{
			Status: container.StatusRunning, Running: true, Pid: 4242, StartedAt: goldenTime.Add(time.Second),
			Health: &container.HealthState{Status: "healthy", Log: []container.HealthLog{
				{Start: goldenTime.Add(31 * time.Second), End: goldenTime.Add(32 * time.Second), Output: "ok"},
			}},
			SupervisorPid: 4240,
		},
		LogPath: filepath.Join(container.ContainersDir(), goldenCtrID, "json.log"),
	}
}

// goldenImage is nginx:1.27 as pulled.
func goldenImage() *storage.Image {
	created := goldenTime.Add(-72 * time.Hour)
	diff := func(c byte) v1.Hash { return v1.Hash{Algorithm: "sha256", Hex: strings.Repeat(string(c), 64)} }
	return &storage.Image{
		ID: goldenImageID, Names: []string{"docker.io/library/nginx:1.27"},
		Digests: []string{"sha256:" + strings.Repeat("d", 64)}, Created: created, Size: 192_000_000,
		Config: v1.ConfigFile{
			Architecture: "amd64", OS: "linux", Author: "NGINX Docker Maintainers <docker-maint@nginx.com>",
			Created: v1.Time{Time: created},
			Config: v1.Config{
				User: "101", Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "NGINX_VERSION=1.27.4"},
				Cmd: []string{"nginx", "-g", "daemon off;"}, Entrypoint: []string{"/docker-entrypoint.sh"}, WorkingDir: "/usr/share/nginx",
				Labels:       map[string]string{"maintainer": "NGINX Docker Maintainers <docker-maint@nginx.com>"},
				ExposedPorts: map[string]struct{}{"80/tcp": {}},
				Volumes:      map[string]struct{}{"/var/cache/nginx": {}},
				Healthcheck: &v1.HealthConfig{
					Test:     []string{"CMD-SHELL", "curl -fs http://localhost/ || exit 1"},
					Interval: 30 * time.Second, Timeout: 5 * time.Second, StartPeriod: 10 * time.Second, Retries: 3,
				},
				OnBuild:    []string{"COPY . /usr/share/nginx/html"},
				StopSignal: "SIGQUIT",
			},
			History: []v1.History{
				{Created: v1.Time{Time: created.Add(-time.Hour)}, CreatedBy: "/bin/sh -c #(nop) ADD file:abc in / "},
				{Created: v1.Time{Time: created}, CreatedBy: "ENV NGINX_VERSION=1.27.4", Comment: "buildkit.dockerfile.v0", EmptyLayer: true},
				{Created: v1.Time{Time: created}, CreatedBy: "RUN /bin/sh -c apt-get install nginx", Comment: "buildkit.dockerfile.v0"},
			},
			RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{diff('1'), diff('2')}},
		},
	}
}

// goldenHistory is one history item as ImageHistory builds it.
func goldenHistory() image.HistoryResponseItem {
	return historyItem(storage.HistoryEntry{ID: goldenImageID, Created: goldenTime, CreatedBy: "RUN /bin/sh -c apt-get install nginx", Size: 61_000_000, Comment: "buildkit.dockerfile.v0"})
}

func goldenNetworkInspect() *NetworkInspect {
	n := &netpkg.Network{
		Name: "frontnet", ID: goldenNetID, Created: goldenTime, Driver: "bridge",
		Subnet: "10.89.1.0/24", Gateway: "10.89.1.1", Labels: map[string]string{"com.example.env": "test"},
		Containers: map[string]*netpkg.Endpoint{goldenCtrID: {
			Name: "web", IP: "10.89.1.2", Aliases: []string{"www"}, HostVeth: "veth3f4e5a6", Hosts: "/tmp/hosts",
		}},
	}
	return networkInspect(n)
}

func goldenVolume() *storage.Volume {
	return &storage.Volume{
		Name: "golden-data", Driver: "local", Mountpoint: "/var/lib/skiff/volumes/golden-data/_data",
		CreatedAt: goldenTime, Labels: map[string]string{"com.example.backup": "daily"},
		Options: map[string]string{"type": "none"}, Scope: "local",
	}
}

// goldenInfo is SystemInfo's answer for the golden container and five
// images (SystemInfo itself lists them from the store).
func goldenInfo(t *testing.T) *Info {
	return newInfo([]*container.Container{goldenContainer(t)}, 5)
}
