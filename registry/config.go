package registry

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"

	"github.com/skiff-project/skiff/storage"
)

// insecureConfigPath is the file listing registries reached over plain
// HTTP or without TLS verification:
//
//	[[registry]]
//	location = "myregistry.lan:5000"
//	insecure = true
func insecureConfigPath() string { return filepath.Join(storage.ConfigDir(), "registries.conf") }

var insecureOnce = sync.OnceValue(func() map[string]bool {
	var cfg struct {
		Registry []struct {
			Location string
			Insecure bool
		}
	}
	out := map[string]bool{}
	data, err := os.ReadFile(insecureConfigPath())
	if err != nil {
		return out
	}
	if _, err := toml.Decode(string(data), &cfg); err != nil {
		return out
	}
	for _, r := range cfg.Registry {
		if r.Insecure {
			out[r.Location] = true
		}
	}
	return out
})

// IsInsecure reports whether domain is on loopback (plain HTTP, as in
// Docker) or listed as insecure in the configuration.
func IsInsecure(domain string) bool {
	host := domain
	if h, _, err := net.SplitHostPort(domain); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return true
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return true
	}
	return insecureOnce()[domain]
}
