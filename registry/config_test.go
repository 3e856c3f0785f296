package registry

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skiff-project/skiff/registry/reference"
)

func writeFile(t *testing.T, name, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPullEndpoints(t *testing.T) {
	c := &Config{}
	if err := c.readDaemonJSON(writeFile(t, "daemon.json", `{"registry-mirrors": ["http://127.0.0.1:5001"], "insecure-registries": ["10.1.0.0/16", "reg.lan:5000"]}`)); err != nil {
		t.Fatal(err)
	}
	conf := `
[[registry]]
prefix = "docker.io"
location = "docker.io"
[[registry.mirror]]
location = "127.0.0.1:5002"
[[registry]]
prefix = "example.com/team"
location = "internal.lan:5000/mirror/team"
insecure = true
[[registry]]
location = "blocked.example"
blocked = true
[[registry]]
prefix = "quay.io"
mirror-by-digest-only = true
[[registry.mirror]]
location = "cache.lan/quay"
`
	if err := c.readRegistriesConf(writeFile(t, "registries.conf", conf)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ref  string
		want []string // endpoint references, mirrors first
		err  bool
	}{
		{ref: "busybox", want: []string{"127.0.0.1:5002/library/busybox:latest", "127.0.0.1:5001/library/busybox:latest", "docker.io/library/busybox:latest"}},
		{ref: "example.com/team/app:1", want: []string{"internal.lan:5000/mirror/team/app:1"}},
		{ref: "example.com/teamx/app:1", want: []string{"example.com/teamx/app:1"}},
		{ref: "blocked.example/x", err: true},
		{ref: "quay.io/a/b:1", want: []string{"quay.io/a/b:1"}},
		{ref: "quay.io/a/b@sha256:" + sixtyFour, want: []string{"cache.lan/quay/a/b@sha256:" + sixtyFour, "quay.io/a/b@sha256:" + sixtyFour}},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			n, err := reference.Parse(tc.ref)
			if err != nil {
				t.Fatal(err)
			}
			eps, err := c.pullEndpoints(n)
			if tc.err {
				if err == nil {
					t.Fatalf("want an error, got %v", eps)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ep := range eps {
				got = append(got, ep.named.String())
			}
			if len(got) != len(tc.want) {
				t.Fatalf("endpoints %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("endpoint %d %s, want %s", i, got[i], tc.want[i])
				}
			}
		})
	}
	for host, want := range map[string]bool{"127.0.0.1:5000": true, "localhost:1": true, "[::1]:5000": true, "10.1.2.3:5000": true, "10.2.0.1": false,
		"reg.lan:5000": true, "internal.lan:5000": false, "example.com": false} {
		if got := c.Insecure(host); got != want {
			t.Errorf("Insecure(%s) = %v, want %v", host, got, want)
		}
	}
	if m := c.DockerIOMirrors(); len(m) != 2 || m[0] != "http://127.0.0.1:5001/" || m[1] != "127.0.0.1:5002" {
		t.Errorf("DockerIOMirrors %v", m)
	}
}

const sixtyFour = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestConfigErrorsNameTheFile(t *testing.T) {
	c := &Config{}
	p := writeFile(t, "registries.conf", "[[registry]\n")
	if err := c.readRegistriesConf(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("a broken registries.conf: error %v, want one naming %s", err, p)
	}
	p = writeFile(t, "daemon.json", `{"registry-mirrors": ["ftp://x"]}`)
	if err := c.readDaemonJSON(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("a bad mirror: error %v, want one naming %s", err, p)
	}
}
