package netns

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/skiff-project/skiff/errdefs"
)

// FuzzParsePublish: -p never panics, and what it accepts are container
// ports 1-65535 with a protocol, bound to host ports (or ranges) in 0-65535.
func FuzzParsePublish(f *testing.F) {
	for _, s := range []string{"8080:80", "127.0.0.1:8080:80/udp", "80", "8000-8002:80-82", "[::1]:53:53/udp", "::", "99999:1", "1-2:3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pm, err := ParsePublish([]string{s})
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("ParsePublish(%q): %v is not an invalid argument", s, err)
			}
			return
		}
		for k, bs := range pm {
			port, proto, ok := strings.Cut(k, "/")
			n, err := strconv.Atoi(port)
			if !ok || err != nil || n < 1 || n > 65535 || (proto != "tcp" && proto != "udp") {
				t.Fatalf("ParsePublish(%q): key %q", s, k)
			}
			for _, b := range bs {
				if b.HostPort == "" {
					continue
				}
				// A port, or a range to pick a free one from.
				lo, hi, isRange := strings.Cut(b.HostPort, "-")
				l, err1 := strconv.Atoi(lo)
				h, err2 := strconv.Atoi(hi)
				if err1 != nil || l < 0 || l > 65535 || isRange && (err2 != nil || h < l || h > 65535) {
					t.Fatalf("ParsePublish(%q): host port %q", s, b.HostPort)
				}
			}
		}
	})
}

// Host port 0 is any free port, as in Docker (testcontainers sends it).
func TestPublishHostPortZero(t *testing.T) {
	for _, s := range []string{"0:8080", "127.0.0.1:0:8080/tcp"} {
		pm, err := ParsePublish([]string{s})
		if err != nil {
			t.Fatalf("ParsePublish(%q): %v", s, err)
		}
		if b := pm["8080/tcp"]; len(b) != 1 || b[0].HostPort != "" {
			t.Errorf("ParsePublish(%q) = %+v, want one binding to any host port", s, pm)
		}
	}
}
