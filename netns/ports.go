package netns

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

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
// container sees connections from its own address.
type Forwarder struct {
	nsPath  string
	mu      sync.Mutex
	closers []io.Closer
	dialer  chan dialReq
	done    chan struct{}
}

type dialReq struct {
	network, addr string
	reply         chan dialRes
}

type dialRes struct {
	conn net.Conn
	err  error
}

// Publish binds every port in pm on the host and returns the bindings
// actually made (a free port where none was asked for). Nothing stays
// bound when it fails.
// Ports are forwarded to target, the container's address inside its
// namespace (Docker forwards to the container's IP, so a server bound to
// that address or to all of them is reached).
func Publish(nsPath, target string, pm PortMap, rootless bool) (*Forwarder, PortMap, error) {
	f := &Forwarder{nsPath: nsPath, dialer: make(chan dialReq), done: make(chan struct{})}
	if err := f.startDialer(); err != nil {
		return nil, nil, err
	}
	actual := PortMap{}
	for _, key := range pm.Keys() {
		portStr, proto, _ := strings.Cut(key, "/")
		for _, b := range pm[key] {
			hp := b.HostPort
			if hp == "" {
				hp = "0"
			}
			candidates := []string{hp}
			if lo, hi, err := portRange(hp); err == nil && hi > lo {
				candidates = nil // a host range: the first free port of it
				for p := lo; p <= hi; p++ {
					candidates = append(candidates, strconv.Itoa(p))
				}
				hp = candidates[0]
			}
			if n, _ := strconv.Atoi(hp); rootless && n > 0 && n < unprivilegedPortStart() {
				f.Close()
				return nil, nil, fmt.Errorf("publishing %s: host port %d is below net.ipv4.ip_unprivileged_port_start (%d), which a rootless user cannot bind: pick a port ≥ %d or run sudo sysctl -w net.ipv4.ip_unprivileged_port_start=%d: %w", key, n, unprivilegedPortStart(), unprivilegedPortStart(), n, errdefs.ErrInvalidArgument)
			}
			dest := net.JoinHostPort(target, portStr)
			var bound, addr, shown string
			var err error
			for _, cand := range candidates {
				addr = net.JoinHostPort(b.HostIP, cand)
				shown = addr
				if b.HostIP == "" {
					shown = net.JoinHostPort("0.0.0.0", cand)
				}
				if proto == "udp" {
					bound, err = f.listenUDP(addr, dest)
				} else {
					bound, err = f.listenTCP(addr, dest)
				}
				if !errors.Is(err, unix.EADDRINUSE) {
					break
				}
			}
			if err != nil {
				f.Close()
				if errors.Is(err, unix.EADDRINUSE) {
					return nil, nil, fmt.Errorf("publishing %s: host port %s is already in use: stop what uses it or pick another host port: %w", key, shown, errdefs.ErrConflict)
				}
				return nil, nil, fmt.Errorf("publishing %s on %s: %w", key, shown, err)
			}
			_, port, _ := net.SplitHostPort(bound)
			hostIP := b.HostIP
			if hostIP == "" {
				hostIP = "0.0.0.0"
			}
			actual[key] = append(actual[key], PortBinding{HostIP: hostIP, HostPort: port})
		}
	}
	return f, actual, nil
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

// startDialer runs a goroutine on its own thread inside the container's
// network namespace; sockets it opens belong to that namespace for life.
func (f *Forwarder) startDialer() error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		ns, err := os.Open(f.nsPath)
		if err != nil {
			errc <- err
			return
		}
		err = unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET)
		ns.Close()
		if err != nil {
			errc <- fmt.Errorf("entering the container's network namespace: %w", err)
			return
		}
		errc <- nil
		for {
			select {
			case <-f.done:
				return
			case r := <-f.dialer:
				c, err := net.DialTimeout(r.network, r.addr, 5*time.Second)
				r.reply <- dialRes{c, err}
			}
		}
	}()
	return <-errc
}

func (f *Forwarder) dial(network, addr string) (net.Conn, error) {
	reply := make(chan dialRes, 1)
	select {
	case f.dialer <- dialReq{network, addr, reply}:
	case <-f.done:
		return nil, net.ErrClosed
	}
	r := <-reply
	return r.conn, r.err
}

func (f *Forwarder) track(c io.Closer) {
	f.mu.Lock()
	f.closers = append(f.closers, c)
	f.mu.Unlock()
}

func (f *Forwarder) listenTCP(addr, target string) (string, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	f.track(l)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go f.pipeTCP(c, target)
		}
	}()
	return l.Addr().String(), nil
}

// pipeTCP joins a client to the container's port; TCPConn.ReadFrom
// splices between the two sockets.
func (f *Forwarder) pipeTCP(client net.Conn, target string) {
	defer client.Close()
	up, err := f.dial("tcp", target)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(up, client)
		if tc, ok := up.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}()
	_, _ = io.Copy(client, up)
	if tc, ok := client.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	<-done
}

// listenUDP relays datagrams: one socket in the container's namespace per
// client address, dropped after a minute without traffic.
func (f *Forwarder) listenUDP(addr, target string) (string, error) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return "", err
	}
	f.track(pc)
	go func() {
		var mu sync.Mutex
		sessions := map[string]net.Conn{}
		buf := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			mu.Lock()
			up, ok := sessions[from.String()]
			mu.Unlock()
			if !ok {
				up, err = f.dial("udp", target)
				if err != nil {
					continue
				}
				mu.Lock()
				sessions[from.String()] = up
				mu.Unlock()
				f.track(up)
				go func(up net.Conn, from net.Addr) {
					b := make([]byte, 65536)
					for {
						_ = up.SetReadDeadline(time.Now().Add(time.Minute))
						n, err := up.Read(b)
						if err != nil {
							mu.Lock()
							delete(sessions, from.String())
							mu.Unlock()
							up.Close()
							return
						}
						_, _ = pc.WriteTo(b[:n], from)
					}
				}(up, from)
			}
			_, _ = up.Write(buf[:n])
		}
	}()
	return pc.LocalAddr().String(), nil
}

// Close stops listening and ends the relays.
func (f *Forwarder) Close() {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.done:
	default:
		close(f.done)
	}
	for _, c := range f.closers {
		c.Close()
	}
	f.closers = nil
}
