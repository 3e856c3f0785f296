package runtime

// Unit tests of the netns package's pure parts (modes and the /etc files).
// They live here because ring-1 tests are kept to runtime/ and cmd/; they
// use only netns's exported API, so they can move to netns/ unchanged but
// for the package clause and the netns. qualifiers.

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/netns"
)

func TestNetnsParseMode(t *testing.T) {
	builtin := map[string]bool{netns.ModePrivate: true, netns.ModeNone: true, netns.ModeHost: true, netns.ModeContainer: true}
	tests := []struct {
		in      string
		want    string // "" with wantErr false: a network's name, not a built-in mode
		wantErr bool
	}{
		{in: "", want: netns.ModePrivate},
		{in: "private", want: netns.ModePrivate},
		{in: "bridge", want: netns.ModePrivate},
		{in: "slirp4netns", want: netns.ModePrivate},
		{in: "default", want: netns.ModePrivate},
		{in: "none", want: netns.ModeNone},
		{in: "host", want: netns.ModeHost},
		{in: "container:web", want: netns.ModeContainer},
		{in: "container:", wantErr: true},
		{in: "-net", wantErr: true},
		{in: "my net", wantErr: true},
		{in: "net/work", wantErr: true},
		{in: "mynet"},
		{in: "Host"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := netns.ParseMode(tt.in)
			switch {
			case tt.wantErr:
				if err == nil {
					t.Fatalf("ParseMode(%q) = %q, want an error", tt.in, got)
				}
				if !errors.Is(err, errdefs.ErrInvalidArgument) && !errors.Is(err, errdefs.ErrNotFound) {
					t.Errorf("err = %v, want an invalid argument or not found", err)
				}
			case tt.want != "":
				if err != nil || got != tt.want {
					t.Errorf("ParseMode(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
				}
			default:
				// Any other name is a user-defined network (or, without
				// them, not found): never one of the built-in modes.
				if err == nil && builtin[got] {
					t.Errorf("ParseMode(%q) = built-in mode %q", tt.in, got)
				}
			}
		})
	}
}

// nameservers returns the addresses of a resolv.conf's nameserver lines.
func nameservers(resolv string) []string {
	var out []string
	for _, l := range strings.Split(resolv, "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "nameserver" {
			out = append(out, f[1])
		}
	}
	return out
}

func TestNetnsWriteFiles(t *testing.T) {
	hostHosts, hostHostsErr := os.ReadFile("/etc/hosts")
	tests := []struct {
		mode  string
		check func(t *testing.T, hosts, resolv string)
	}{
		{
			mode: netns.ModePrivate,
			check: func(t *testing.T, hosts, resolv string) {
				for _, want := range []string{"127.0.0.1\tlocalhost\n", "10.0.2.100\tweb\n", "10.0.2.2\thost.containers.internal host.docker.internal\n"} {
					if !strings.Contains(hosts, want) {
						t.Errorf("hosts misses %q:\n%s", want, hosts)
					}
				}
				if ns := nameservers(resolv); len(ns) != 1 || ns[0] != "10.0.2.3" {
					t.Errorf("nameservers = %v, want only slirp4netns's 10.0.2.3:\n%s", ns, resolv)
				}
			},
		},
		{
			mode: netns.ModeNone,
			check: func(t *testing.T, hosts, resolv string) {
				for _, want := range []string{"127.0.0.1\tlocalhost\n", "127.0.1.1\tweb\n"} {
					if !strings.Contains(hosts, want) {
						t.Errorf("hosts misses %q:\n%s", want, hosts)
					}
				}
				if strings.Contains(hosts, "host.containers.internal") || strings.Contains(hosts, "10.0.2.") {
					t.Errorf("hosts of a container without network names the slirp4netns host:\n%s", hosts)
				}
				assertNoLoopbackDNS(t, resolv)
			},
		},
		{
			mode: netns.ModeHost,
			check: func(t *testing.T, hosts, resolv string) {
				if hostHostsErr == nil && hosts != string(hostHosts) {
					t.Errorf("hosts = %q, want the host's /etc/hosts %q", hosts, hostHosts)
				}
				if strings.Contains(hosts, "10.0.2.100") {
					t.Errorf("host network got the slirp4netns address:\n%s", hosts)
				}
				assertNoLoopbackDNS(t, resolv)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			dir := t.TempDir()
			mounts, err := netns.WriteFiles(dir, tt.mode, "web")
			if err != nil {
				t.Fatalf("WriteFiles: %v", err)
			}
			wantDest := map[string]string{"/etc/hosts": "hosts", "/etc/resolv.conf": "resolv.conf", "/etc/hostname": "hostname"}
			if len(mounts) != len(wantDest) {
				t.Fatalf("got %d mounts, want %d: %+v", len(mounts), len(wantDest), mounts)
			}
			for _, m := range mounts {
				name, ok := wantDest[m.Destination]
				if !ok {
					t.Errorf("unexpected mount at %s", m.Destination)
					continue
				}
				if m.Source != filepath.Join(dir, name) || m.Type != "bind" {
					t.Errorf("mount %s = %s from %s, want a bind from %s", m.Destination, m.Type, m.Source, filepath.Join(dir, name))
				}
			}
			read := func(name string) string {
				data, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				return string(data)
			}
			if got := read("hostname"); got != "web\n" {
				t.Errorf("hostname = %q, want %q", got, "web\n")
			}
			tt.check(t, read("hosts"), read("resolv.conf"))
		})
	}

	t.Run("files are rewritten", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := netns.WriteFiles(dir, netns.ModeNone, "first-name"); err != nil {
			t.Fatal(err)
		}
		if _, err := netns.WriteFiles(dir, netns.ModePrivate, "web"); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(filepath.Join(dir, "hosts"))
		if strings.Contains(string(data), "first-name") {
			t.Errorf("hosts kept the old content:\n%s", data)
		}
	})

	t.Run("missing directory", func(t *testing.T) {
		if _, err := netns.WriteFiles(filepath.Join(t.TempDir(), "nope"), netns.ModeNone, "web"); err == nil {
			t.Errorf("WriteFiles into a missing directory succeeded")
		}
	})
}

func assertNoLoopbackDNS(t *testing.T, resolv string) {
	t.Helper()
	for _, ns := range nameservers(resolv) {
		if strings.HasPrefix(ns, "127.") || ns == "::1" {
			t.Errorf("resolv.conf keeps the loopback name server %s, which a container cannot reach:\n%s", ns, resolv)
		}
	}
}
