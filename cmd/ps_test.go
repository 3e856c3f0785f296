package cmd

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	ctypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
)

func TestPsRowFor(t *testing.T) {
	id := strings.Repeat("0123456789abcdef", 4)
	base := func() *ctypes.Summary {
		return &ctypes.Summary{ID: id, Names: []string{"/web"}, Image: "docker.io/library/busybox:latest", Command: "sh -c echo hi",
			Created: time.Now().Add(-time.Hour).Unix(), State: "exited", Labels: map[string]string{"b": "2", "a": "1"},
			NetworkSettings: &ctypes.NetworkSettingsSummary{Networks: map[string]*network.EndpointSettings{"private": {}}}}
	}
	tests := []struct {
		name    string
		mod     func(c *ctypes.Summary)
		noTrunc bool
		check   func(t *testing.T, r psRow)
	}{
		{name: "truncated", check: func(t *testing.T, r psRow) {
			if r.ID != id[:12] {
				t.Errorf("ID = %q, want %q", r.ID, id[:12])
			}
			if r.Command != `"sh -c echo hi"` {
				t.Errorf("Command = %s, want %q", r.Command, "sh -c echo hi")
			}
			if r.Names != "web" || r.State != "exited" || r.Networks != "private" {
				t.Errorf("row = %+v", r)
			}
			if r.Labels != "a=1,b=2" || r.Label("b") != "2" || r.Label("none") != "" {
				t.Errorf("Labels = %q, Label(b) = %q", r.Labels, r.Label("b"))
			}
			if r.RunningFor != "About an hour ago" {
				t.Errorf("RunningFor = %q", r.RunningFor)
			}
		}},
		{name: "long command cut at 20", mod: func(c *ctypes.Summary) { c.Command = "/usr/local/bin/server --port 8080" }, check: func(t *testing.T, r psRow) {
			if r.Command != `"/usr/local/bin/serv…"` {
				t.Errorf("Command = %s", r.Command)
			}
		}},
		{name: "no-trunc", noTrunc: true, mod: func(c *ctypes.Summary) { c.Command = "/usr/local/bin/server --port 8080" }, check: func(t *testing.T, r psRow) {
			if r.ID != id || r.Command != `"/usr/local/bin/server --port 8080"` {
				t.Errorf("ID %q, Command %s: want both whole", r.ID, r.Command)
			}
		}},
		{name: "image as named", check: func(t *testing.T, r psRow) {
			if r.Image != "busybox:latest" {
				t.Errorf("Image = %q, want busybox:latest", r.Image)
			}
		}},
		{name: "image without tag", mod: func(c *ctypes.Summary) { c.Image = "busybox" }, check: func(t *testing.T, r psRow) {
			if r.Image != "busybox" {
				t.Errorf("Image = %q, want busybox", r.Image)
			}
		}},
		{name: "registry image", mod: func(c *ctypes.Summary) { c.Image = "127.0.0.1:5000/app:1" }, check: func(t *testing.T, r psRow) {
			if r.Image != "127.0.0.1:5000/app:1" {
				t.Errorf("Image = %q", r.Image)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			if tt.mod != nil {
				tt.mod(c)
			}
			tt.check(t, psRowFor(*c, tt.noTrunc, false))
		})
	}
}

func TestPortsText(t *testing.T) {
	any4 := netip.MustParseAddr("0.0.0.0")
	lo := netip.MustParseAddr("127.0.0.1")
	ports := []ctypes.PortSummary{
		{IP: any4, PrivatePort: 80, PublicPort: 8080, Type: "tcp"},
		{IP: any4, PrivatePort: 8000, PublicPort: 9000, Type: "tcp"},
		{IP: any4, PrivatePort: 8001, PublicPort: 9001, Type: "tcp"},
		{IP: any4, PrivatePort: 8002, PublicPort: 9002, Type: "tcp"},
		{IP: lo, PrivatePort: 53, PublicPort: 5353, Type: "udp"},
		{IP: netip.MustParseAddr("::"), PrivatePort: 80, PublicPort: 8080, Type: "tcp"},
		{PrivatePort: 443, Type: "tcp"}, // exposed, not published
	}
	want := "0.0.0.0:8080->80/tcp, 0.0.0.0:9000-9002->8000-8002/tcp, [::]:8080->80/tcp, 127.0.0.1:5353->53/udp"
	if got := portsText(ports); got != want {
		t.Errorf("portsText = %q\nwant        %q", got, want)
	}
	if got := portsText(nil); got != "" {
		t.Errorf("no ports: %q", got)
	}
}
