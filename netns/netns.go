// Package netns owns container networking: the network modes, the
// slirp4netns process that gives a private namespace outbound access, and
// the /etc/hosts, /etc/resolv.conf and /etc/hostname a container sees. It
// does not create containers (see runtime/).
package netns

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/internal/names"
)

// Network modes.
const (
	ModeNone      = "none"
	ModeHost      = "host"
	ModePrivate   = "private"
	ModeContainer = "container" // container:NAME shares another container's namespace
	ModeUser      = "network"   // a user-defined network by name (see netns/network)
)

// Addresses inside a slirp4netns network.
const (
	SlirpGateway = "10.0.2.2" // the host's loopback
	SlirpDNS     = "10.0.2.3"
	SlirpGuest   = "10.0.2.100"
)

// ParseMode checks a --network value; empty, bridge and slirp4netns mean
// private.
func ParseMode(s string) (string, error) {
	switch s {
	case "", ModePrivate, "bridge", "slirp4netns", "default":
		return ModePrivate, nil
	case ModeNone, ModeHost:
		return s, nil
	}
	if name, ok := strings.CutPrefix(s, "container:"); ok {
		if name == "" {
			return "", errdefs.Invalid("invalid --network %q: container: needs a container name or ID", s)
		}
		return ModeContainer, nil
	}
	if names.Valid(s) {
		return ModeUser, nil
	}
	return "", errdefs.Invalid("invalid --network %q: none, host, private, container:NAME or a network's name", s)
}

// Outbound reports whether a container in this mode gets its own
// slirp4netns: private always, a user network unless it is internal.
func Outbound(mode string, internal bool) bool {
	return mode == ModePrivate || mode == ModeUser && !internal
}

// OwnNamespace reports whether the mode gives the container a network
// namespace of its own, pinned by the supervisor.
func OwnNamespace(mode string) bool { return mode == ModePrivate || mode == ModeUser }

// Files are the choices behind a container's /etc/hosts and resolv.conf.
type Files struct {
	Mode       string
	Hostname   string
	DNS        []string // --dns
	DNSSearch  []string // --dns-search
	DNSOptions []string // --dns-option
	ExtraHosts []string // --add-host name:ip (ip may be host-gateway)
	// Gateway, as root on a bridge, is the host's address for the
	// container (instead of slirp4netns's 10.0.2.2); the host's name
	// servers are used then.
	Gateway string
}

// HostGateway is the address host-gateway stands for in --add-host.
func HostGateway(mode string) string {
	if mode == ModePrivate || mode == ModeUser {
		return SlirpGateway
	}
	return "127.0.0.1"
}

// ParseExtraHost checks one --add-host value (name:ip or name=ip).
func ParseExtraHost(s string) (name, ip string, err error) {
	name, ip, ok := strings.Cut(s, ":")
	if !ok || strings.Count(s, ":") > 1 && !strings.Contains(s, "=") {
		if n, i, ok2 := strings.Cut(s, "="); ok2 {
			name, ip, ok = n, i, true
		}
	}
	if !ok || name == "" || ip == "" {
		return "", "", errdefs.Invalid("invalid --add-host %q: want name:ip or name:host-gateway", s)
	}
	if ip != "host-gateway" && net.ParseIP(strings.Trim(ip, "[]")) == nil {
		return "", "", errdefs.Invalid("invalid --add-host %q: %q is not an IP address", s, ip)
	}
	return name, strings.Trim(ip, "[]"), nil
}

// WriteFiles writes hosts, resolv.conf and hostname for a container into
// dir and returns the bind mounts that put them at /etc.
func WriteFiles(dir, mode, hostname string) ([]specs.Mount, error) {
	return WriteFilesWith(dir, Files{Mode: mode, Hostname: hostname})
}

// WriteFilesWith is WriteFiles with DNS settings and extra hosts.
func WriteFilesWith(dir string, o Files) ([]specs.Mount, error) {
	mode, hostname := o.Mode, o.Hostname
	var hosts, resolv strings.Builder
	hosts.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	if o.Gateway != "" {
		fmt.Fprintf(&hosts, "%s\thost.containers.internal host.docker.internal\n", o.Gateway)
		resolv.WriteString(hostResolvConf())
	} else {
		switch mode {
		case ModeHost:
			if data, err := os.ReadFile("/etc/hosts"); err == nil {
				hosts.Reset()
				hosts.Write(data)
			}
			resolv.WriteString(hostResolvConf())
		case ModePrivate, ModeUser:
			fmt.Fprintf(&hosts, "%s\t%s\n", SlirpGuest, hostname)
			fmt.Fprintf(&hosts, "%s\thost.containers.internal host.docker.internal\n", SlirpGateway)
			resolv.WriteString(searchLines())
			fmt.Fprintf(&resolv, "nameserver %s\n", SlirpDNS)
		default:
			fmt.Fprintf(&hosts, "127.0.1.1\t%s\n", hostname)
			resolv.WriteString(hostResolvConf())
		}
	}
	for _, h := range o.ExtraHosts {
		name, ip, err := ParseExtraHost(h)
		if err != nil {
			return nil, err
		}
		if ip == "host-gateway" {
			ip = HostGateway(mode)
			if o.Gateway != "" {
				ip = o.Gateway
			}
		}
		fmt.Fprintf(&hosts, "%s\t%s\n", ip, name)
	}
	if len(o.DNS) > 0 || len(o.DNSSearch) > 0 || len(o.DNSOptions) > 0 {
		resolv.Reset()
		if len(o.DNSSearch) > 0 {
			fmt.Fprintf(&resolv, "search %s\n", strings.Join(o.DNSSearch, " "))
		}
		servers := o.DNS
		if len(servers) == 0 {
			if (mode == ModePrivate || mode == ModeUser) && o.Gateway == "" {
				servers = []string{SlirpDNS}
			} else {
				for _, l := range strings.Split(hostResolvConf(), "\n") {
					if f := strings.Fields(l); len(f) >= 2 && f[0] == "nameserver" {
						servers = append(servers, f[1])
					}
				}
			}
		}
		for _, ns := range servers {
			fmt.Fprintf(&resolv, "nameserver %s\n", ns)
		}
		if len(o.DNSOptions) > 0 {
			fmt.Fprintf(&resolv, "options %s\n", strings.Join(o.DNSOptions, " "))
		}
	}
	files := []struct{ name, data, dest string }{
		{"hosts", hosts.String(), "/etc/hosts"},
		{"resolv.conf", resolv.String(), "/etc/resolv.conf"},
		{"hostname", hostname + "\n", "/etc/hostname"},
	}
	var mounts []specs.Mount
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, []byte(f.data), 0o644); err != nil {
			return nil, fmt.Errorf("writing %s for the container: %w", f.dest, err)
		}
		mounts = append(mounts, specs.Mount{Destination: f.dest, Type: "bind", Source: p, Options: []string{"rbind", "rprivate"}})
	}
	return mounts, nil
}

// hostResolvConf is the host's resolv.conf without loopback name servers,
// which a container cannot reach.
func hostResolvConf() string {
	data, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		return ""
	}
	var b strings.Builder
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == "nameserver" && (strings.HasPrefix(f[1], "127.") || f[1] == "::1") {
			continue
		}
		if strings.TrimSpace(l) != "" {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func searchLines() string {
	data, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		return ""
	}
	var b strings.Builder
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && (f[0] == "search" || f[0] == "domain" || f[0] == "options") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// NewPinned creates a network namespace and pins it at path (a bind
// mount of its nsfs file), so that slirp4netns can be set up on it while
// the container is still being created. Remove undoes it.
func NewPinned(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o600)
	if err != nil {
		return fmt.Errorf("creating network namespace file %s: %w", path, err)
	}
	f.Close()
	errc := make(chan error, 1)
	go func() {
		// The thread changes namespaces: it stays locked and ends with
		// this goroutine, so no other goroutine ever runs on it.
		runtime.LockOSThread()
		errc <- func() error {
			if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
				return fmt.Errorf("creating a network namespace: %w", err)
			}
			if err := unix.Mount("/proc/thread-self/ns/net", path, "", unix.MS_BIND, ""); err != nil {
				return fmt.Errorf("pinning the network namespace at %s: %w", path, err)
			}
			return nil
		}()
	}()
	if err := <-errc; err != nil {
		_ = os.Remove(path)
		return err
	}
	return nil
}

// RemovePinned unpins and deletes a namespace made by NewPinned.
func RemovePinned(path string) {
	_ = unix.Unmount(path, unix.MNT_DETACH)
	_ = os.Remove(path)
}

// Slirp is a slirp4netns process serving one container's namespace.
type Slirp struct {
	cmd   *exec.Cmd
	exitW *os.File
	ready chan error
}

// StartSlirp connects the pinned network namespace at nsPath to the
// outside with slirp4netns (tap0, 10.0.2.100/24, MTU 65520, DNS at
// 10.0.2.3, the host's loopback at 10.0.2.2). It returns at once; Wait
// tells when the interface is configured.
func StartSlirp(nsPath, mac string) (*Slirp, error) {
	bin, err := exec.LookPath("slirp4netns")
	if err != nil {
		return nil, fmt.Errorf("the private network needs slirp4netns: install Debian's slirp4netns package, or use --network none or host: %w", errdefs.ErrUnavailable)
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	exitR, exitW, err := os.Pipe()
	if err != nil {
		readyR.Close()
		readyW.Close()
		return nil, err
	}
	args := []string{"--configure", "--mtu=65520", "--enable-sandbox", "--enable-seccomp", "--ready-fd=3", "--exit-fd=4"}
	if mac != "" {
		args = append(args, "--macaddress="+mac)
	}
	cmd := exec.Command(bin, append(args, "--netns-type=path", nsPath, "tap0")...)
	cmd.ExtraFiles = []*os.File{readyW, exitR}
	cmd.SysProcAttr = &unix.SysProcAttr{Setsid: true}
	// Its stderr goes to a memory file, read only if it fails: a Go
	// writer would keep a copying goroutine with a 32 KiB buffer in the
	// (resident) supervisor for slirp4netns's whole life.
	stderr, err := memFile("slirp4netns-stderr")
	if err == nil {
		cmd.Stderr = stderr
		err = cmd.Start()
	}
	if err != nil {
		readyR.Close()
		readyW.Close()
		exitR.Close()
		exitW.Close()
		if stderr != nil {
			stderr.Close()
		}
		return nil, fmt.Errorf("starting slirp4netns: %w", err)
	}
	readyW.Close()
	exitR.Close()
	s := &Slirp{cmd: cmd, exitW: exitW, ready: make(chan error, 1)}
	go func() {
		defer readyR.Close()
		defer stderr.Close()
		buf := make([]byte, 1)
		if _, err := readyR.Read(buf); err != nil {
			said, _ := io.ReadAll(io.NewSectionReader(stderr, 0, 64<<10))
			s.ready <- fmt.Errorf("slirp4netns did not come up: %s: %w", strings.TrimSpace(string(said)), errdefs.ErrUnavailable)
			return
		}
		s.ready <- nil
	}()
	return s, nil
}

// memFile is an anonymous file in memory (memfd_create(2)).
func memFile(name string) (*os.File, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	return os.NewFile(uintptr(fd), name), nil
}

// Pid is slirp4netns's process ID.
func (s *Slirp) Pid() int { return s.cmd.Process.Pid }

// Wait blocks until slirp4netns has configured the interface.
func (s *Slirp) Wait() error {
	select {
	case err := <-s.ready:
		return err
	case <-time.After(10 * time.Second):
		return fmt.Errorf("slirp4netns did not come up within 10s: %w", errdefs.ErrUnavailable)
	}
}

// Stop ends slirp4netns.
func (s *Slirp) Stop() {
	if s == nil {
		return
	}
	// slirp4netns keeps no state worth a graceful exit. Its exit takes
	// ~20 ms (the kernel tears down its sandbox's mount namespace), which
	// nothing needs to wait for: kill it and reap it aside.
	s.exitW.Close()
	_ = s.cmd.Process.Kill()
	go func() { _ = s.cmd.Wait() }()
}
