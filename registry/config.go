package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/paths"
	"github.com/skiff-project/skiff/registry/reference"
)

// Config is the registry configuration in effect, merged from the files
// CI hosts already have:
//
//   - Docker's daemon.json: registry-mirrors (docker.io only) and
//     insecure-registries (hosts and CIDRs);
//   - containers-registries.conf v2 ([[registry]] with prefix, location,
//     insecure, blocked and [[registry.mirror]]), as Podman reads it,
//     then skiff's own registries.conf in the same format, whose tables
//     replace those of the same prefix;
//   - certs.d directories (HOST[:PORT]/*.crt, *.cert and *.key) as Docker
//     and Podman read them.
//
// It is read again for every operation, so a long-running API service
// sees edits at once.
type Config struct {
	// Registries are the [[registry]] tables, later files replacing
	// earlier tables of the same prefix.
	Registries []Registry
	// DockerMirrors are daemon.json's registry-mirrors, normalised to
	// scheme://host[/path]/ as Docker does.
	DockerMirrors []string
	// InsecureHosts and InsecureCIDRs are daemon.json's
	// insecure-registries; loopback is always insecure, as in Docker.
	InsecureHosts []string
	InsecureCIDRs []netip.Prefix
	// CertDirs are the certs.d directories, the first being where a
	// missing certificate should go.
	CertDirs []string
	// Files are the configuration files that were read.
	Files []string
}

// Registry is one [[registry]] table of a registries.conf.
type Registry struct {
	Prefix             string
	Location           string
	Insecure           bool
	Blocked            bool
	MirrorByDigestOnly bool     `toml:"mirror-by-digest-only"`
	Mirrors            []Mirror `toml:"mirror"`
	// File is where the table is.
	File string `toml:"-"`
}

// Mirror is one [[registry.mirror]] table.
type Mirror struct {
	Location       string
	Insecure       bool
	PullFromMirror string `toml:"pull-from-mirror"` // all (default), digest-only, tag-only
}

// loopback is what Docker treats as insecure without configuration.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// configHome is ${XDG_CONFIG_HOME:-~/.config} of the rootless user.
func configHome() string {
	if x := os.Getenv("XDG_CONFIG_HOME"); strings.HasPrefix(x, "/") {
		return x
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".config")
}

// configFiles are the files LoadConfig reads: daemon.json, then the
// registries.conf files in the order their tables apply.
func configFiles() (daemonJSON string, confs []string) {
	containers := "/etc/containers"
	daemonJSON = "/etc/docker/daemon.json"
	if paths.Rootless() {
		daemonJSON = filepath.Join(configHome(), "docker", "daemon.json")
		// Podman reads the user's registries.conf instead of the
		// system's when there is one.
		if _, err := os.Stat(filepath.Join(configHome(), "containers", "registries.conf")); err == nil {
			confs = append(confs, filepath.Join(configHome(), "containers", "registries.conf"))
		}
	}
	if len(confs) == 0 {
		confs = append(confs, filepath.Join(containers, "registries.conf"))
	}
	confs = append(confs, dropIns(filepath.Join(containers, "registries.conf.d"))...)
	if paths.Rootless() {
		confs = append(confs, dropIns(filepath.Join(configHome(), "containers", "registries.conf.d"))...)
	}
	return daemonJSON, append(confs, SkiffConfigPath())
}

// SkiffConfigPath is skiff's own registries.conf.
func SkiffConfigPath() string { return filepath.Join(paths.ConfigDir(), "registries.conf") }

// dropIns lists dir/*.conf in name order.
func dropIns(dir string) []string {
	files, _ := filepath.Glob(filepath.Join(dir, "*.conf"))
	sort.Strings(files)
	return files
}

// certDirs are the certs.d directories: the user's own first when
// rootless (Docker's rootless daemon reads ~/.config/docker/certs.d).
func certDirs() []string {
	system := []string{"/etc/docker/certs.d", "/etc/containers/certs.d"}
	if !paths.Rootless() {
		return system
	}
	return append([]string{filepath.Join(configHome(), "docker", "certs.d"), filepath.Join(configHome(), "containers", "certs.d")}, system...)
}

// LoadConfig reads the registry configuration in effect. A file that
// exists but cannot be parsed is an error naming it.
func LoadConfig() (*Config, error) {
	c := &Config{CertDirs: certDirs()}
	daemonJSON, confs := configFiles()
	if err := c.readDaemonJSON(daemonJSON); err != nil {
		return nil, err
	}
	for _, f := range confs {
		if err := c.readRegistriesConf(f); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// readIfExists reads a file; nil data and no error when it is missing.
func readIfExists(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err == nil && data == nil {
		data = []byte{}
	}
	return data, err
}

// readDaemonJSON reads Docker's registry-mirrors and insecure-registries.
func (c *Config) readDaemonJSON(path string) error {
	data, err := readIfExists(path)
	if data == nil {
		return err
	}
	var d struct {
		Mirrors  []string `json:"registry-mirrors"`
		Insecure []string `json:"insecure-registries"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return errdefs.Invalid("reading %s: %v: fix the file's JSON", path, err)
	}
	c.Files = append(c.Files, path)
	for _, m := range d.Mirrors {
		u, err := normalizeMirror(m)
		if err != nil {
			return errdefs.Invalid("reading %s: registry-mirrors: %v", path, err)
		}
		c.DockerMirrors = append(c.DockerMirrors, u)
	}
	for _, s := range d.Insecure {
		if p, err := netip.ParsePrefix(s); err == nil {
			c.InsecureCIDRs = append(c.InsecureCIDRs, p.Masked())
			continue
		}
		c.InsecureHosts = append(c.InsecureHosts, strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(s, "http://"), "https://"), "/"))
	}
	return nil
}

// normalizeMirror checks a registry-mirrors URL as Docker does and gives
// it as scheme://host[/path]/.
func normalizeMirror(s string) (string, error) {
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("invalid mirror %q: want http(s)://HOST[:PORT]", s)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("invalid mirror %q: no query, fragment or credentials allowed", s)
	}
	return strings.TrimSuffix(u.Scheme+"://"+u.Host+u.Path, "/") + "/", nil
}

// readRegistriesConf reads the [[registry]] tables of one file.
func (c *Config) readRegistriesConf(path string) error {
	data, err := readIfExists(path)
	if data == nil {
		return err
	}
	var f struct {
		Registry []Registry
	}
	if _, err := toml.Decode(string(data), &f); err != nil {
		return errdefs.Invalid("reading %s: %v: fix the file (containers-registries.conf(5) format)", path, err)
	}
	c.Files = append(c.Files, path)
	for _, r := range f.Registry {
		if r.Prefix == "" {
			r.Prefix = r.Location
		}
		if r.Prefix == "" {
			return errdefs.Invalid("reading %s: a [[registry]] table has neither prefix nor location", path)
		}
		r.File = path
		c.Registries = slices.DeleteFunc(c.Registries, func(o Registry) bool { return o.Prefix == r.Prefix })
		c.Registries = append(c.Registries, r)
	}
	return nil
}

// lookup returns the table whose prefix matches repo (host/path) most
// closely, and the part of repo after that prefix.
func (c *Config) lookup(repo string) (*Registry, string) {
	var best *Registry
	var rest string
	for i := range c.Registries {
		r := &c.Registries[i]
		tail, ok := matchPrefix(r.Prefix, repo)
		if ok && (best == nil || len(r.Prefix) > len(best.Prefix)) {
			best, rest = r, tail
		}
	}
	return best, rest
}

// matchPrefix matches host[/path] or *.domain prefixes at a path
// boundary and returns what follows.
func matchPrefix(prefix, repo string) (string, bool) {
	if wild, ok := strings.CutPrefix(prefix, "*."); ok {
		host, tail, _ := strings.Cut(repo, "/")
		if strings.HasSuffix(host, "."+wild) {
			return "/" + tail, true
		}
		return "", false
	}
	if repo == prefix {
		return "", true
	}
	if tail, ok := strings.CutPrefix(repo, prefix); ok && strings.HasPrefix(tail, "/") {
		return tail, true
	}
	return "", false
}

// Insecure reports whether a registry host may be reached over plain HTTP
// or unverified TLS: loopback (as in Docker), daemon.json's
// insecure-registries, or insecure = true in a registries.conf.
func (c *Config) Insecure(host string) bool {
	if slices.Contains(c.InsecureHosts, host) {
		return true
	}
	if r, _ := c.lookup(host); r != nil && r.Insecure {
		return true
	}
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.Trim(h, "[]")
	if h == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(h)
	if err != nil {
		return false
	}
	for _, p := range append(slices.Clone(loopback), c.InsecureCIDRs...) {
		if p.Contains(ip.Unmap()) {
			return true
		}
	}
	return false
}

// endpoint is one place to pull a repository from: a mirror, or the
// registry itself (maybe at another location).
type endpoint struct {
	named    reference.Named // the reference there
	insecure bool            // plain HTTP or unverified TLS allowed
	mirror   string          // the mirror as configured; "" for the registry
}

// blocked refuses a registry that a registries.conf blocks.
func (c *Config) blocked(n reference.Named) error {
	if r, _ := c.lookup(n.Repository()); r != nil && r.Blocked {
		return fmt.Errorf("%s is blocked in %s: remove blocked = true there to use it: %w", r.Prefix, r.File, errdefs.ErrInvalidArgument)
	}
	return nil
}

// pullEndpoints are the places to pull n from, in order: the mirrors of
// its registries.conf table, daemon.json's mirrors for docker.io, then
// the registry at its configured location.
func (c *Config) pullEndpoints(n reference.Named) ([]endpoint, error) {
	if err := c.blocked(n); err != nil {
		return nil, err
	}
	var eps []endpoint
	r, tail := c.lookup(n.Repository())
	suffix := tail + strings.TrimPrefix(n.String(), n.Repository())
	if r != nil {
		for _, m := range r.Mirrors {
			if !mirrorApplies(r, m, n) {
				continue
			}
			mn, err := relocate(m.Location, suffix)
			if err != nil {
				return nil, fmt.Errorf("mirror %q in %s: %w", m.Location, r.File, err)
			}
			eps = append(eps, endpoint{named: mn, insecure: m.Insecure || c.Insecure(mn.Domain), mirror: m.Location})
		}
	}
	if n.Domain == reference.DefaultDomain {
		for _, m := range c.DockerMirrors {
			u, _ := url.Parse(m)
			loc := u.Host + strings.TrimSuffix(u.Path, "/")
			mn, err := relocate(loc, "/"+strings.TrimPrefix(n.String(), n.Domain+"/"))
			if err != nil {
				return nil, fmt.Errorf("registry-mirrors %q: %w", m, err)
			}
			eps = append(eps, endpoint{named: mn, insecure: u.Scheme == "http" || c.Insecure(mn.Domain), mirror: m})
		}
	}
	primary := n
	if r != nil && r.Location != "" && r.Location != r.Prefix && !strings.HasPrefix(r.Prefix, "*.") {
		var err error
		if primary, err = relocate(r.Location, suffix); err != nil {
			return nil, fmt.Errorf("location %q in %s: %w", r.Location, r.File, err)
		}
	}
	insecure := c.Insecure(primary.Domain) || (r != nil && r.Insecure)
	return append(eps, endpoint{named: primary, insecure: insecure}), nil
}

// mirrorApplies says whether a mirror serves this reference (by digest,
// by tag, or both).
func mirrorApplies(r *Registry, m Mirror, n reference.Named) bool {
	byDigest := n.Digest != ""
	switch {
	case r.MirrorByDigestOnly || m.PullFromMirror == "digest-only":
		return byDigest
	case m.PullFromMirror == "tag-only":
		return !byDigest
	}
	return true
}

// relocate is location followed by the rest of a reference.
func relocate(location, rest string) (reference.Named, error) {
	n, err := reference.ParseNoTag(strings.TrimSuffix(location, "/") + rest)
	if err != nil {
		return n, err
	}
	if n.Domain == reference.DefaultDomain && !strings.HasPrefix(location, reference.DefaultDomain) {
		return n, fmt.Errorf("%s has no registry host", location)
	}
	return n, nil
}

// DockerIOMirrors are the mirrors pulls from docker.io try first, as
// docker info lists them: daemon.json's URLs, then registries.conf's
// locations.
func (c *Config) DockerIOMirrors() []string {
	out := slices.Clone(c.DockerMirrors)
	if r, _ := c.lookup(reference.DefaultDomain); r != nil {
		for _, m := range r.Mirrors {
			out = append(out, m.Location)
		}
	}
	return out
}

// InsecureRegistries are the registries configured as insecure (hosts and
// CIDRs), loopback first, as docker info lists them.
func (c *Config) InsecureRegistries() (hosts []string, cidrs []netip.Prefix) {
	hosts = slices.Clone(c.InsecureHosts)
	for _, r := range c.Registries {
		if r.Insecure && !slices.Contains(hosts, r.Prefix) {
			hosts = append(hosts, r.Prefix)
		}
		for _, m := range r.Mirrors {
			if m.Insecure && !slices.Contains(hosts, m.Location) {
				hosts = append(hosts, m.Location)
			}
		}
	}
	return hosts, append(slices.Clone(loopback), c.InsecureCIDRs...)
}

// MirrorsOf are the registries.conf mirrors of a registry other than
// docker.io, by prefix.
func (c *Config) MirrorsOf() map[string][]string {
	out := map[string][]string{}
	for _, r := range c.Registries {
		for _, m := range r.Mirrors {
			out[r.Prefix] = append(out[r.Prefix], m.Location)
		}
	}
	return out
}
