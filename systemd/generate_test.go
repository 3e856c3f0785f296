package systemd

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/units")

// golden compares got with testdata/units/NAME (or rewrites it with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "units", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s:\n--- got\n%s\n--- want\n%s", name, path, got, want)
	}
}

func TestRenderContainer(t *testing.T) {
	base := ContainerUnit{Skiff: "/usr/local/bin/skiff", Version: "1.0", UnitName: "container-web", Ref: "web", Name: "web", StopTimeout: -1}
	golden(t, "container-web.service", RenderContainer(base).String())

	n := base
	n.UnitName, n.New, n.Restart, n.RestartSec, n.StopTimeout = "container-web-new", true, "always", 5, 30
	n.RunArgs = [][]string{
		{"--name", "web"}, {"--env", "GREETING=hello world"}, {"--env", "PRICE=100% $5"},
		{"--publish", "8080:80"}, {"--volume", "data:/data"}, {"127.0.0.1:5000/busybox", "httpd", "-f", "-p", "80"},
	}
	golden(t, "container-web-new.service", RenderContainer(n).String())
}

func TestRenderService(t *testing.T) {
	u := RenderService(ServiceUnit{Skiff: "/usr/local/bin/skiff", Version: "1.0", UnitName: "service-web", ID: "abcdefghijklmnopqrstuvwxy", Name: "web", Keeper: "__keeper"})
	golden(t, "service-web.service", u.String())
}

func TestCheckRestartPolicy(t *testing.T) {
	for _, p := range RestartPolicies {
		if err := CheckRestartPolicy(p); err != nil {
			t.Error(err)
		}
	}
	for _, p := range []string{"", "unless-stopped", "Always"} {
		if CheckRestartPolicy(p) == nil {
			t.Errorf("%q accepted", p)
		}
	}
}
