package netns

import (
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/skiff-project/skiff/errdefs"
)

// PortBinding is one published port, as Docker's HostConfig.PortBindings
// and NetworkSettings.Ports show it.
type PortBinding struct {
	HostIP   string `json:"HostIp"`
	HostPort string `json:"HostPort"`
}

// PortMap maps "80/tcp" to its host bindings.
type PortMap map[string][]PortBinding

// ParsePublish parses Docker's -p [ip:][hostPort:]containerPort[/proto],
// with ranges (8000-8010:80-90), into a PortMap.
func ParsePublish(specs []string) (PortMap, error) {
	pm := PortMap{}
	for _, s := range specs {
		bad := func(why string) error {
			return errdefs.Invalid("invalid -p %q: %s (want [ip:][hostPort:]containerPort[/tcp|/udp])", s, why)
		}
		rest, proto, _ := strings.Cut(s, "/")
		if proto == "" {
			proto = "tcp"
		}
		if proto != "tcp" && proto != "udp" {
			return nil, bad("protocol must be tcp or udp")
		}
		var ip, host, ctr string
		if strings.HasPrefix(rest, "[") { // [::1]:8080:80
			end := strings.Index(rest, "]")
			if end < 0 {
				return nil, bad("unclosed [")
			}
			ip, rest = rest[1:end], strings.TrimPrefix(rest[end+1:], ":")
		}
		parts := strings.Split(rest, ":")
		switch {
		case len(parts) == 1:
			ctr = parts[0]
		case len(parts) == 2:
			host, ctr = parts[0], parts[1]
		case len(parts) == 3 && ip == "":
			ip, host, ctr = parts[0], parts[1], parts[2]
		default:
			return nil, bad("too many colons")
		}
		if ip != "" && net.ParseIP(ip) == nil {
			return nil, bad("bad host IP " + ip)
		}
		cLo, cHi, err := portRange(ctr)
		if err != nil {
			return nil, bad(err.Error())
		}
		hLo, hHi := 0, 0
		if host == "0" {
			host = "" // Docker: host port 0 is any free port
		}
		if host != "" {
			if hLo, hHi, err = portRange(host); err != nil {
				return nil, bad(err.Error())
			}
			// Docker: equal ranges map one to one; a host range for one
			// container port means any free port of it.
			if hHi-hLo != cHi-cLo && cLo != cHi {
				return nil, bad("invalid ranges specified for container and host ports")
			}
		}
		for i := 0; i <= cHi-cLo; i++ {
			key := fmt.Sprintf("%d/%s", cLo+i, proto)
			hp := ""
			switch {
			case host == "":
			case cLo == cHi && hLo != hHi:
				hp = fmt.Sprintf("%d-%d", hLo, hHi)
			default:
				hp = strconv.Itoa(hLo + i)
			}
			pm[key] = append(pm[key], PortBinding{HostIP: ip, HostPort: hp})
		}
	}
	return pm, nil
}

// ParseExpose parses --expose values (PORT, PORT/PROTO or a range
// START-END[/PROTO]) into Docker's "80/tcp" keys.
func ParseExpose(specs []string) ([]string, error) {
	var out []string
	for _, spec := range specs {
		ports, proto, _ := strings.Cut(spec, "/")
		switch proto {
		case "":
			proto = "tcp"
		case "tcp", "udp", "sctp":
		default:
			return nil, errdefs.Invalid("invalid --expose %q: protocol must be tcp, udp or sctp", spec)
		}
		lo, hi, err := portRange(ports)
		if err != nil || lo == 0 {
			return nil, errdefs.Invalid("invalid --expose %q: want PORT[/PROTO] or START-END[/PROTO], ports 1-65535", spec)
		}
		for p := lo; p <= hi; p++ {
			out = append(out, strconv.Itoa(p)+"/"+proto)
		}
	}
	return out, nil
}

func portRange(s string) (int, int, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := strconv.Atoi(lo)
	if err != nil || a < 1 || a > 65535 {
		return 0, 0, fmt.Errorf("bad port %q", s)
	}
	if !isRange {
		return a, a, nil
	}
	b, err := strconv.Atoi(hi)
	if err != nil || b < a || b > 65535 {
		return 0, 0, fmt.Errorf("bad port range %q", s)
	}
	return a, b, nil
}

// Keys returns the container ports in a stable order.
func (pm PortMap) Keys() []string {
	keys := make([]string, 0, len(pm))
	for k := range pm {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		pi, _ := strconv.Atoi(strings.Split(keys[i], "/")[0])
		pj, _ := strconv.Atoi(strings.Split(keys[j], "/")[0])
		if pi != pj {
			return pi < pj
		}
		return keys[i] < keys[j]
	})
	return keys
}

// Forwarder publishes container ports on the host: it listens in the
// host's network namespace and connects each client to the port inside
// the container's namespace, splicing the bytes in the kernel. The
// container sees connections from its own address. It is a Balancer with
// the container as its one backend.
type Forwarder struct{ b *Balancer }

// Publish binds every port in pm on the host and returns the bindings
// actually made (a free port where none was asked for). Nothing stays
// bound when it fails.
// Ports are forwarded to target, the container's address inside its
// namespace (Docker forwards to the container's IP, so a server bound to
// that address or to all of them is reached).
func Publish(nsPath, target string, pm PortMap, rootless bool) (*Forwarder, PortMap, error) {
	d, err := startDialer(nsPath)
	if err != nil {
		return nil, nil, err
	}
	b := newBalancer(5 * time.Second)
	b.backends = []*backend{{Backend{NSPath: nsPath, Target: target}, d}}
	actual := PortMap{}
	for _, key := range pm.Keys() {
		for _, pb := range pm[key] {
			hp := pb.HostPort
			if hp == "" {
				hp = "0"
			}
			candidates := []string{hp}
			if lo, hi, err := portRange(hp); err == nil && hi > lo {
				candidates = nil // a host range: the first free port of it
				for p := lo; p <= hi; p++ {
					candidates = append(candidates, strconv.Itoa(p))
				}
			}
			port, err := b.bind(key, pb.HostIP, candidates, rootless)
			if err != nil {
				b.Close()
				return nil, nil, err
			}
			hostIP := pb.HostIP
			if hostIP == "" {
				hostIP = "0.0.0.0"
			}
			actual[key] = append(actual[key], PortBinding{HostIP: hostIP, HostPort: strconv.Itoa(port)})
		}
	}
	return &Forwarder{b}, actual, nil
}

func unprivilegedPortStart() int {
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	if err != nil {
		return 1024
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 1024
	}
	return n
}

// OnFirstClient has fn called once, when the first client is connected
// to the container (the supervisor readies its runtime for forwarding
// then, not for ports nobody uses).
func (f *Forwarder) OnFirstClient(fn func()) {
	f.b.mu.Lock()
	f.b.firstCli = fn
	f.b.mu.Unlock()
}

// Close stops listening and ends the relays.
func (f *Forwarder) Close() {
	if f != nil {
		f.b.Close()
	}
}
