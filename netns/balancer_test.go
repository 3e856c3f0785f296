package netns

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/errdefs"
)

// The tests' backends are servers on 127.0.0.1, .2 and .3 (Linux routes
// all of 127/8 to loopback) in this very namespace, one port for all as
// a service's replicas have.
const selfNS = "/proc/self/ns/net"

var replicas = []string{"a", "b", "c"}

func backends(ids ...string) []Backend {
	var bs []Backend
	for _, n := range ids {
		bs = append(bs, Backend{ID: n, NSPath: selfNS, Target: "127.0.0." + strconv.Itoa(int(n[0]-'a'+1))})
	}
	return bs
}

// tcpServers starts a server per name, answering its name, on one port.
func tcpServers(t *testing.T) (int, map[string]net.Listener) {
	t.Helper()
	for try := 0; try < 10; try++ {
		ls := map[string]net.Listener{}
		port := 0
		for _, b := range backends(replicas...) {
			l, err := net.Listen("tcp", net.JoinHostPort(b.Target, strconv.Itoa(port)))
			if err != nil {
				break
			}
			t.Cleanup(func() { l.Close() })
			port = l.Addr().(*net.TCPAddr).Port
			ls[b.ID] = l
			go func(name string) {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					_, _ = io.WriteString(c, name)
					c.Close()
				}
			}(b.ID)
		}
		if len(ls) == len(replicas) {
			return port, ls
		}
	}
	t.Fatal("no port free on 127.0.0.1-3")
	return 0, nil
}

func balance(t *testing.T, ports ...BalancedPort) (*Balancer, []BalancedPort) {
	t.Helper()
	b, bound, err := Balance(ports, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b, bound
}

// ask connects to the balanced port and returns what the backend said.
func ask(t *testing.T, port int) string {
	t.Helper()
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(got)
}

// tryAsk is ask that returns the error of the dial or the read.
func tryAsk(port int) (string, error) {
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c)
	return string(got), err
}

func askN(t *testing.T, port, n int) map[string]int {
	seen := map[string]int{}
	for i := 0; i < n; i++ {
		seen[ask(t, port)]++
	}
	return seen
}

func TestBalancerRoundRobin(t *testing.T) {
	target, _ := tcpServers(t)
	b, bound := balance(t, BalancedPort{Protocol: "tcp", HostIP: "127.0.0.1", TargetPort: target})
	port := bound[0].HostPort
	if port == 0 || bound[0].TargetPort != target || bound[0].Protocol != "tcp" {
		t.Fatalf("bound %+v", bound)
	}

	if got, err := tryAsk(port); got != "" || !errors.Is(err, unix.ECONNRESET) {
		t.Fatalf("with no backends a client got %q, %v; want it reset, as a refused connection", got, err)
	}

	b.SetBackends(backends(replicas...))
	if seen := askN(t, port, 6); seen["a"] != 2 || seen["b"] != 2 || seen["c"] != 2 {
		t.Errorf("6 connections went %v, want 2 to each", seen)
	}

	b.SetBackends(backends("a", "b"))
	if seen := askN(t, port, 4); seen["a"] != 2 || seen["b"] != 2 {
		t.Errorf("after removing c, 4 connections went %v, want 2 to a and b", seen)
	}
}

func TestBalancerSkipsDeadBackend(t *testing.T) {
	target, ls := tcpServers(t)
	b, bound := balance(t, BalancedPort{Protocol: "tcp", TargetPort: target})
	b.SetBackends(backends(replicas...))
	ls["b"].Close()
	// b's turns go to the next one, c.
	if seen := askN(t, bound[0].HostPort, 6); seen["a"] != 2 || seen["c"] != 4 {
		t.Errorf("with b down, 6 connections went %v, want 2 to a and 4 to c", seen)
	}
}

// A backend that accepts no more connections (its backlog full) is given
// up after the dial timeout.
func TestBalancerSkipsStuckBackend(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the dial timeout")
	}
	target, ls := tcpServers(t)
	ls["a"].Close()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: target, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Skip("port taken again:", err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // fill the queue; later connects hang
		if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(target)), 500*time.Millisecond); err == nil {
			defer c.Close()
		}
	}

	b, bound := balance(t, BalancedPort{Protocol: "tcp", TargetPort: target})
	b.SetBackends(backends("a", "b"))
	start := time.Now()
	if seen := askN(t, bound[0].HostPort, 2); seen["b"] != 2 {
		t.Errorf("with a stuck, 2 connections went %v, want both to b", seen)
	}
	if d := time.Since(start); d < 2*time.Second || d > 8*time.Second {
		t.Errorf("took %v, want about one dial timeout", d)
	}
}

func TestBalancerLeavesOutUnenterable(t *testing.T) {
	target, _ := tcpServers(t)
	b, bound := balance(t, BalancedPort{Protocol: "tcp", TargetPort: target})
	bs := backends("a", "b")
	bs[1].NSPath = "/nonexistent"
	b.SetBackends(bs)
	if seen := askN(t, bound[0].HostPort, 2); seen["a"] != 2 {
		t.Errorf("2 connections went %v, want both to a", seen)
	}
}

func TestBalanceConflict(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	free := freePort(t)
	inUse := taken.Addr().(*net.TCPAddr).Port
	_, _, err = Balance([]BalancedPort{
		{Protocol: "tcp", HostIP: "127.0.0.1", HostPort: free, TargetPort: 80},
		{Protocol: "tcp", HostIP: "127.0.0.1", HostPort: inUse, TargetPort: 81},
	}, false)
	want := fmt.Sprintf("publishing 81/tcp: host port 127.0.0.1:%d is already in use", inUse)
	if !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), want) {
		t.Fatalf("Balance on a port in use: %v, want a conflict %q", err, want)
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(free)))
	if err != nil {
		t.Fatalf("port %d stayed bound after the failure: %v", free, err)
	}
	l.Close()
}

func TestBalanceRootlessLowPort(t *testing.T) {
	if unprivilegedPortStart() <= 80 {
		t.Skip("port 80 is unprivileged here")
	}
	_, _, err := Balance([]BalancedPort{{Protocol: "tcp", HostPort: 80, TargetPort: 80}}, true)
	if !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("rootless host port 80: %v, want an invalid argument", err)
	}
}

func TestBalancerClose(t *testing.T) {
	b, bound := balance(t, BalancedPort{Protocol: "tcp", HostIP: "127.0.0.1", TargetPort: 80}, BalancedPort{Protocol: "udp", HostIP: "127.0.0.1", TargetPort: 53})
	b.SetBackends(backends("a"))
	b.Close()
	b.SetBackends(backends("a")) // no effect once closed
	for _, p := range bound {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p.HostPort))
		var c io.Closer
		var err error
		if p.Protocol == "udp" {
			c, err = net.ListenPacket("udp", addr)
		} else {
			c, err = net.Listen("tcp", addr)
		}
		if err != nil {
			t.Fatalf("%s port %d stayed bound after Close: %v", p.Protocol, p.HostPort, err)
		}
		c.Close()
	}
}

func TestBalancerUDP(t *testing.T) {
	var target int
	for _, b := range backends(replicas...) {
		pc, err := net.ListenPacket("udp", net.JoinHostPort(b.Target, strconv.Itoa(target)))
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		target = pc.LocalAddr().(*net.UDPAddr).Port
		go func(name string) {
			buf := make([]byte, 100)
			for {
				_, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				_, _ = pc.WriteTo([]byte(name), from)
			}
		}(b.ID)
	}
	b, bound := balance(t, BalancedPort{Protocol: "udp", HostIP: "127.0.0.1", TargetPort: target})
	b.SetBackends(backends(replicas...))

	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		c, err := net.Dial("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(bound[0].HostPort)))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		first := ""
		for j := 0; j < 3; j++ {
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Write([]byte("hi")); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 100)
			n, err := c.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(buf[:n]); first == "" {
				first = got
			} else if got != first {
				t.Errorf("client %d got %q then %q, want one backend per client", i, first, got)
			}
		}
		seen[first] = true
	}
	if len(seen) != 3 {
		t.Errorf("3 clients went to %v, want one to each backend", seen)
	}
}

// Publish is a balancer with the container as its one backend.
func TestPublish(t *testing.T) {
	target, _ := tcpServers(t)
	pm := PortMap{strconv.Itoa(target) + "/tcp": {{HostIP: "127.0.0.1"}}}
	f, bound, err := Publish(selfNS, "127.0.0.2", pm, false)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := bound[strconv.Itoa(target)+"/tcp"]
	if len(b) != 1 || b[0].HostIP != "127.0.0.1" || b[0].HostPort == "" || b[0].HostPort == "0" {
		t.Fatalf("Publish bound %v", bound)
	}
	port, _ := strconv.Atoi(b[0].HostPort)
	if got := ask(t, port); got != "b" {
		t.Errorf("published port answered %q, want b", got)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestBalancerOwnAddress: a backend with Target "" is dialed at its
// namespace's own address, not its loopback: a server on 0.0.0.0 answers
// and sees the connection come from that address; one on 127.0.0.1 only
// is not reached.
func TestBalancerOwnAddress(t *testing.T) {
	own, err := namespaceAddress()
	if err != nil {
		t.Fatal(err)
	}
	if own.IsLoopback() {
		t.Skip("this namespace has no address but loopback")
	}
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			_, _ = io.WriteString(c, host)
			c.Close()
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	b, bound := balance(t, BalancedPort{Protocol: "tcp", HostIP: "127.0.0.1", TargetPort: port})
	b.SetBackends([]Backend{{ID: "own", NSPath: selfNS}})
	if got := ask(t, bound[0].HostPort); got != own.String() {
		t.Errorf("the server saw the forwarded connection from %q, want the namespace's own address %s", got, own)
	}

	lo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lo.Close()
	b2, bound2 := balance(t, BalancedPort{Protocol: "tcp", HostIP: "127.0.0.1", TargetPort: lo.Addr().(*net.TCPAddr).Port})
	b2.SetBackends([]Backend{{ID: "own", NSPath: selfNS}})
	if got, err := tryAsk(bound2[0].HostPort); got != "" || !errors.Is(err, unix.ECONNRESET) {
		t.Errorf("a server on 127.0.0.1 only, forwarded to the own address: got %q, %v; want a reset", got, err)
	}
}
