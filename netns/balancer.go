package netns

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/errdefs"
)

// Backend is one replica the balancer may send connections to.
type Backend struct {
	ID     string // the container ID, to tell backends apart
	NSPath string // its pinned network namespace file (container.NetNSPath())
	// Target is the address to dial inside that namespace, e.g.
	// "10.0.2.100"; "" is the namespace's own address, looked up when
	// dialing (see namespaceAddress).
	Target string
}

// BalancedPort is one published port of a service.
type BalancedPort struct {
	Protocol   string // "tcp" or "udp"
	HostIP     string // "" for all
	HostPort   int    // 0: any free port (the bound one is returned)
	TargetPort int
}

// Balancer publishes a service's ports on the host and spreads their
// clients over the replicas: TCP connections go round robin, each UDP
// client sticks to one replica. Like Forwarder (a balancer with one fixed
// backend) it listens in the host's network namespace and connects into
// the replicas' namespaces, splicing the bytes in the kernel.
type Balancer struct {
	timeout time.Duration // to connect to a backend before trying the next

	// setMu serializes SetBackends and Close, the only writers of
	// backends and closed (holding mu too), so they read them without mu.
	setMu sync.Mutex

	mu       sync.Mutex
	backends []*backend // the rotation, replaced as a whole
	next     int        // turn of the round robin
	closers  map[io.Closer]struct{}
	closed   bool
	firstCli func() // see Forwarder.OnFirstClient
}

type backend struct {
	Backend
	dialer *nsDialer
}

var errNoBackends = errors.New("no backend to connect to")

// Balance binds every port on the host and returns the ports as bound
// (HostPort filled in). Nothing stays bound when it fails; a port in use
// is an errdefs.ErrConflict, and one a rootless user cannot bind an
// errdefs.ErrInvalidArgument, as with Publish. Clients are closed until
// SetBackends gives the balancer backends.
func Balance(ports []BalancedPort, rootless bool) (*Balancer, []BalancedPort, error) {
	b := newBalancer(2 * time.Second)
	var bound []BalancedPort
	for _, p := range ports {
		key := fmt.Sprintf("%d/%s", p.TargetPort, p.Protocol)
		if p.Protocol != "tcp" && p.Protocol != "udp" {
			b.Close()
			return nil, nil, errdefs.Invalid("publishing %s: protocol must be tcp or udp", key)
		}
		port, err := b.bind(key, p.HostIP, []string{strconv.Itoa(p.HostPort)}, rootless)
		if err != nil {
			b.Close()
			return nil, nil, err
		}
		p.HostPort = port
		bound = append(bound, p)
	}
	return b, bound, nil
}

func newBalancer(timeout time.Duration) *Balancer {
	return &Balancer{timeout: timeout, closers: map[io.Closer]struct{}{}}
}

// SetBackends replaces the rotation at once; it is safe from any
// goroutine. Connections already made stay. Backends no longer listed
// have their dialers (threads in their namespace) closed and new ones get
// one; a backend whose namespace cannot be entered (a replica gone or not
// started yet) is left out.
func (b *Balancer) SetBackends(bs []Backend) {
	b.setMu.Lock()
	defer b.setMu.Unlock()
	if b.closed {
		return
	}
	have := map[Backend]*backend{}
	for _, be := range b.backends {
		have[be.Backend] = be
	}
	var next []*backend
	kept := map[*backend]bool{}
	for _, want := range bs {
		be := have[want]
		if be == nil {
			d, err := startDialer(want.NSPath)
			if err != nil {
				continue
			}
			be = &backend{want, d}
			have[want] = be
		}
		next = append(next, be)
		kept[be] = true
	}
	b.mu.Lock()
	old := b.backends
	b.backends = next
	b.mu.Unlock()
	for _, be := range old {
		if !kept[be] {
			be.dialer.close()
		}
	}
}

// Close stops listening, ends the UDP relays and the backends' dialers.
// TCP connections already made stay.
func (b *Balancer) Close() {
	if b == nil {
		return
	}
	b.setMu.Lock()
	defer b.setMu.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	for c := range b.closers {
		c.Close()
	}
	b.closers = nil
	for _, be := range b.backends {
		be.dialer.close()
	}
	b.backends = nil
}

// bind listens on hostIP at the first free port of candidates, relaying to
// the backends' container port of key ("80/tcp"), and returns the port
// bound.
func (b *Balancer) bind(key, hostIP string, candidates []string, rootless bool) (int, error) {
	portStr, proto, _ := strings.Cut(key, "/")
	port, _ := strconv.Atoi(portStr)
	if n, _ := strconv.Atoi(candidates[0]); rootless && n > 0 {
		if start := unprivilegedPortStart(); n < start {
			return 0, fmt.Errorf("publishing %s: host port %d is below net.ipv4.ip_unprivileged_port_start (%d), which a rootless user cannot bind: pick a port ≥ %d or run sudo sysctl -w net.ipv4.ip_unprivileged_port_start=%d: %w", key, n, start, start, n, errdefs.ErrInvalidArgument)
		}
	}
	var shown string
	var err error
	for _, cand := range candidates {
		addr := net.JoinHostPort(hostIP, cand)
		shown = addr
		if hostIP == "" {
			shown = net.JoinHostPort("0.0.0.0", cand)
		}
		var bound net.Addr
		if proto == "udp" {
			bound, err = b.listenUDP(addr, port)
		} else {
			bound, err = b.listenTCP(addr, port)
		}
		if err == nil {
			_, p, _ := net.SplitHostPort(bound.String())
			return strconv.Atoi(p)
		}
		if !errors.Is(err, unix.EADDRINUSE) {
			break
		}
	}
	if errors.Is(err, unix.EADDRINUSE) {
		return 0, fmt.Errorf("publishing %s: host port %s is already in use: stop what uses it or pick another host port: %w", key, shown, errdefs.ErrConflict)
	}
	return 0, fmt.Errorf("publishing %s on %s: %w", key, shown, err)
}

// track keeps c to close with the balancer; it closes c and says false if
// the balancer is closed already.
func (b *Balancer) track(c io.Closer) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		c.Close()
		return false
	}
	b.closers[c] = struct{}{}
	return true
}

func (b *Balancer) untrack(c io.Closer) {
	b.mu.Lock()
	delete(b.closers, c)
	b.mu.Unlock()
	c.Close()
}

// dial connects to port on the backend whose turn it is, or when that
// fails on each of the others in turn.
func (b *Balancer) dial(network string, port int) (net.Conn, error) {
	b.mu.Lock()
	rot := b.backends
	first := 0
	if len(rot) > 0 {
		first = b.next % len(rot)
		b.next = first + 1
	}
	firstCli := b.firstCli
	b.firstCli = nil
	b.mu.Unlock()
	if firstCli != nil {
		firstCli()
	}
	err := errNoBackends
	for i := range rot {
		be := rot[(first+i)%len(rot)]
		var c net.Conn
		if c, err = be.dialer.dial(network, be.Target, port, b.timeout); err == nil {
			return c, nil
		}
	}
	return nil, err
}

func (b *Balancer) listenTCP(addr string, port int) (net.Addr, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if !b.track(l) {
		return nil, net.ErrClosed
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go b.pipeTCP(c, port)
		}
	}()
	return l.Addr(), nil
}

// pipeTCP joins a client to port on a backend. io.Copy between two
// *net.TCPConn is TCPConn.ReadFrom, which splices in the kernel: socket to
// a pipe of 1 MiB (F_SETPIPE_SZ) to socket, no byte copied to user space,
// waiting in the runtime's poller (no thread per connection). Measured
// under a 1 GiB stream, the forwarder spends ~95% of its CPU in splice(2),
// nearly all of it the second connection's TCP send and its loopback
// receive: a loop of blocking splices on a thread per direction was no
// faster, nor were 4 MiB socket buffers (docs/performance.md).
//
// An end's half-close is passed on as a half-close; an error (a reset, a
// failed write) aborts both connections with a reset once what was read
// before it has reached the other end, so a stream cut short never looks
// complete to the other end, and a client whose container port refuses
// it is reset, as a refused connection.
func (b *Balancer) pipeTCP(client net.Conn, port int) {
	defer client.Close()
	up, err := b.dial("tcp", port)
	if err != nil {
		abortTCP(client)
		return
	}
	defer up.Close()
	done := make(chan struct{}, 1)
	go func() {
		relayTCP(up, client)
		done <- struct{}{}
	}()
	relayTCP(client, up)
	<-done
}

// drainLimit bounds the wait for what was sent to reach an end before a
// reset.
const drainLimit = 10 * time.Second

// relayTCP copies src to dst until src's half-close, which it passes on;
// on an error it resets both, once what each was sent has reached it (a
// client reading the end of an answer when the server has already gone
// gets all of it).
func relayTCP(dst, src net.Conn) {
	if _, err := io.Copy(dst, src); err != nil {
		waitSent(dst, drainLimit)
		waitSent(src, drainLimit)
		abortTCP(dst)
		abortTCP(src)
		return
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}

// tcpClose is TCP_CLOSE of the kernel's TCP states (tcpi_state).
const tcpClose = 7

// waitSent waits, at most limit, until c's peer has acknowledged all that
// was written to c, unless c is closed or reset.
func waitSent(c net.Conn, limit time.Duration) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		sent := true
		err := rc.Control(func(fd uintptr) {
			info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
			if err != nil || info.State == tcpClose {
				return
			}
			n, err := unix.IoctlGetInt(int(fd), unix.SIOCOUTQ)
			sent = err != nil || n == 0
		})
		if err != nil || sent {
			return
		}
	}
}

// abortTCP closes c with a reset (SO_LINGER 0) rather than a FIN.
func abortTCP(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// listenUDP relays datagrams: one socket in a backend's namespace per
// client address (so each client's replies go back to it alone), dropped
// after udpIdle without a reply. Sessions are keyed by the client's
// address as a value, so a datagram costs no allocation.
func (b *Balancer) listenUDP(addr string, port int) (net.Addr, error) {
	lc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, err
	}
	pc := lc.(*net.UDPConn)
	if !b.track(pc) {
		return nil, net.ErrClosed
	}
	go b.relayUDP(pc, port)
	return pc.LocalAddr(), nil
}

// udpIdle is how long a UDP client's session lives without a reply.
const udpIdle = time.Minute

func (b *Balancer) relayUDP(pc *net.UDPConn, port int) {
	var mu sync.Mutex
	sessions := map[netip.AddrPort]net.Conn{}
	buf := make([]byte, 65536)
	for {
		n, from, err := pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		mu.Lock()
		up, ok := sessions[from]
		mu.Unlock()
		if !ok {
			if up, err = b.dial("udp", port); err != nil || !b.track(up) {
				continue
			}
			mu.Lock()
			sessions[from] = up
			mu.Unlock()
			go func() {
				replyUDP(pc, up, from)
				mu.Lock()
				delete(sessions, from)
				mu.Unlock()
				b.untrack(up)
			}()
		}
		_, _ = up.Write(buf[:n])
	}
}

// replyUDP sends what the backend answers on up back to the client at
// from, until up is closed or idle for udpIdle.
func replyUDP(pc *net.UDPConn, up net.Conn, from netip.AddrPort) {
	buf := make([]byte, 65536)
	for {
		_ = up.SetReadDeadline(time.Now().Add(udpIdle))
		n, err := up.Read(buf)
		if err != nil {
			return
		}
		_, _ = pc.WriteToUDPAddrPort(buf[:n], from)
	}
}

// nsDialer connects to addresses inside a network namespace. Its sockets
// are made by a goroutine locked on a thread that entered the namespace (a
// socket belongs to the namespace it was made in for life) and connected
// by the caller, so a backend slow to answer holds up no other dial.
type nsDialer struct {
	reqs chan func() // run on the thread in the namespace
	done chan struct{}
	once sync.Once

	mu  sync.Mutex
	own netip.Addr // the namespace's own address once found, for Target ""
}

// startDialer starts a dialer in the namespace pinned at nsPath.
func startDialer(nsPath string) (*nsDialer, error) {
	d := &nsDialer{reqs: make(chan func()), done: make(chan struct{})}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		ns, err := os.Open(nsPath)
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
			case <-d.done:
				return
			case f := <-d.reqs:
				f()
			}
		}
	}()
	if err := <-errc; err != nil {
		return nil, err
	}
	return d, nil
}

// inNS runs f on the dialer's thread, inside the namespace.
func (d *nsDialer) inNS(f func()) error {
	ran := make(chan struct{})
	select {
	case d.reqs <- func() { f(); close(ran) }:
	case <-d.done:
		return net.ErrClosed
	}
	<-ran
	return nil
}

// ownAddress is the namespace's own address (namespaceAddress), kept
// once it is one other than loopback.
func (d *nsDialer) ownAddress() (netip.Addr, error) {
	d.mu.Lock()
	own := d.own
	d.mu.Unlock()
	if own.IsValid() {
		return own, nil
	}
	var err error
	if e := d.inNS(func() { own, err = namespaceAddress() }); e != nil {
		return own, e
	}
	if err == nil && !own.IsLoopback() {
		d.mu.Lock()
		d.own = own
		d.mu.Unlock()
	}
	return own, err
}

// forgetOwn drops the kept address, after a dial to it failed (the
// container may have left its network for another).
func (d *nsDialer) forgetOwn() {
	d.mu.Lock()
	d.own = netip.Addr{}
	d.mu.Unlock()
}

// namespaceAddress is the calling thread's network namespace's own
// address, where Docker forwards published ports (so a server bound to
// the container's 127.0.0.1 stays private): its first IPv4 address other
// than loopback and link-local, else such an IPv6 one, else 127.0.0.1
// while it has no other (a network not joined yet).
func namespaceAddress() (netip.Addr, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("listing the container's addresses: %w", err)
	}
	var v6 netip.Addr
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(n.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		switch {
		case ip.IsLoopback() || ip.IsLinkLocalUnicast():
		case ip.Is4():
			return ip, nil
		case !v6.IsValid():
			v6 = ip
		}
	}
	if v6.IsValid() {
		return v6, nil
	}
	return netip.AddrFrom4([4]byte{127, 0, 0, 1}), nil
}

// close ends the dialer's thread; connections it made stay.
func (d *nsDialer) close() {
	d.once.Do(func() { close(d.done) })
}

// dial connects to port at target, an IP address ("" for the
// namespace's own), over network ("tcp" or "udp"), giving up after
// timeout.
func (d *nsDialer) dial(network, target string, port int, timeout time.Duration) (net.Conn, error) {
	var ip netip.Addr
	var err error
	if target == "" {
		ip, err = d.ownAddress()
	} else {
		ip, err = netip.ParseAddr(target)
	}
	if err != nil {
		return nil, err
	}
	c, err := d.connect(network, netip.AddrPortFrom(ip.Unmap(), uint16(port)), timeout)
	if err != nil && target == "" {
		d.forgetOwn()
	}
	return c, err
}

// connect makes a socket in the namespace and connects it to ap.
func (d *nsDialer) connect(network string, ap netip.AddrPort, timeout time.Duration) (net.Conn, error) {
	typ := unix.SOCK_STREAM
	if network == "udp" {
		typ = unix.SOCK_DGRAM
	}
	ip := ap.Addr()
	domain, sa := unix.AF_INET6, unix.Sockaddr(&unix.SockaddrInet6{Port: int(ap.Port()), Addr: ip.As16()})
	if ip.Is4() {
		domain, sa = unix.AF_INET, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ip.As4()}
	}
	fd, serr := -1, error(nil)
	if err := d.inNS(func() { fd, serr = unix.Socket(domain, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0) }); err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, fmt.Errorf("dial %s %s: %w", network, ap, serr)
	}
	err := unix.Connect(fd, sa)
	f := os.NewFile(uintptr(fd), ap.String()) // non-blocking, so deadlines work
	defer f.Close()
	if errors.Is(err, unix.EINPROGRESS) {
		err = waitConnect(f, timeout)
	}
	if err != nil {
		return nil, fmt.Errorf("dial %s %s: %w", network, ap, err)
	}
	return net.FileConn(f)
}

// waitConnect waits for f's connect in progress to end, as net.Dial does.
func waitConnect(f *os.File, timeout time.Duration) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	if err := f.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	var cerr error
	err = rc.Write(func(fd uintptr) bool {
		n, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
		switch {
		case err != nil:
			cerr = err
		case n == 0: // connected, unless the poller woke us for nothing
			_, err := unix.Getpeername(int(fd))
			return err == nil
		case unix.Errno(n) == unix.EINPROGRESS || unix.Errno(n) == unix.EALREADY:
			return false
		default:
			cerr = unix.Errno(n)
		}
		return true
	})
	if err != nil {
		return err
	}
	return cerr
}
