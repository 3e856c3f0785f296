package e2e

// Published ports beyond the basics: the bytes of long streams in both
// directions and the half-close, many connections at once, IPv6 loopback,
// a container that exits on its own, restart and a restart policy.

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// dialPublished connects to 127.0.0.1:port and proves the far end is the
// container's echo by a round trip, retrying while it starts.
func dialPublished(t testing.TB, port int) net.Conn {
	t.Helper()
	var conn net.Conn
	eventually(t, 20*time.Second, fmt.Sprintf("an echo through 127.0.0.1:%d", port), func() (bool, string) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 2*time.Second)
		if err != nil {
			return false, err.Error()
		}
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 6)
		if _, err := c.Write([]byte("ready\n")); err != nil {
			c.Close()
			return false, err.Error()
		}
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ready\n" {
			c.Close()
			return false, fmt.Sprintf("read %q, %v", buf, err)
		}
		_ = c.SetDeadline(time.Time{})
		conn = c
		return true, ""
	})
	return conn
}

// TestPortsTCPStreamIntegrity, as the user with subordinate ids and as
// root: 32 MiB of random bytes to a sha256sum in the container (the
// client's half-close ends its input, its answer comes back), 64 MiB
// echoed back whole by cat (both directions at once, EOF after the
// half-close), 32 connections at once, each echoing 1 MiB of its own, and
// a server that resets the connection after its answer: the client gets
// the answer, then the reset, not a clean end.
func TestPortsTCPStreamIntegrity(t *testing.T) {
	parallel(t)
	dir := netEchoDir(t)
	asUserAndRoot(t, func(t *testing.T, u *harness.User) {
		base := netPorts(t, 4)
		sumPort, echoPort, manyPort, resetPort := base, base+1, base+2, base+3
		var flags []string
		for i := 0; i < 4; i++ {
			flags = append(flags, "-p", fmt.Sprintf("127.0.0.1:%d:%d", base+i, 7000+i))
		}
		name := lcName("ports-stream")
		runDetachedAs(t, u, pulled(t, u, "busybox"), name, append(flags, "-v", dir+":/h:ro"),
			"sh", "-c", "nc -ll -p 7000 -e sha256sum & /h/netecho 7002 tcp & /h/netecho 7003 reset & nc -ll -p 7001 -e cat & trap 'exit 0' TERM; sleep 300 & wait")
		dialPublished(t, manyPort).Close()
		dialPublished(t, echoPort).Close() // started last: the others are up
		payload := make([]byte, 64<<20)
		_, _ = rand.Read(payload)
		checkUpload(t, sumPort, payload[:32<<20])
		checkEcho(t, echoPort, payload)
		checkConcurrentEchoes(t, manyPort, 32, payload[:1<<20])
		checkResetPassed(t, resetPort)
	})
}

// asUserAndRoot runs test as the user with subordinate ids and as root,
// in parallel subtests.
func asUserAndRoot(t *testing.T, test func(t *testing.T, u *harness.User)) {
	asUsers(t, []*harness.User{harness.E2E, harness.Root}, test)
}

// asUsers runs test as each of users, in parallel subtests, skipping a
// rootless user this host cannot run or one without slirp4netns.
func asUsers(t *testing.T, users []*harness.User, test func(t *testing.T, u *harness.User)) {
	for _, u := range users {
		t.Run(u.Name, func(t *testing.T) {
			t.Parallel()
			needRootless(t, u)
			if !u.IsRoot() {
				harness.Requires(t, "slirp4netns")
			}
			test(t, u)
		})
	}
}

// checkUpload sends payload to the sha256sum on port, half-closes, and
// checks the checksum the container answers.
func checkUpload(t *testing.T, port int, payload []byte) {
	want := sha256.Sum256(payload)
	start := time.Now()
	eventually(t, 20*time.Second, "sha256sum through the published port", func() (bool, string) {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 2*time.Second)
		if err != nil {
			return false, err.Error()
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
		if _, err := conn.Write(payload); err != nil {
			return false, "write: " + err.Error()
		}
		if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
			return false, "close-write: " + err.Error()
		}
		answer, err := io.ReadAll(conn)
		if err != nil {
			return false, "read: " + err.Error()
		}
		got := strings.Fields(string(answer))
		if len(got) == 0 {
			return false, "empty answer (the half-close did not reach sha256sum, or the server was not up)"
		}
		if got[0] != hex.EncodeToString(want[:]) {
			t.Errorf("sha256 of %d MiB through the published port: container saw %s, sent %x", len(payload)>>20, got[0], want)
		}
		return true, ""
	})
	t.Logf("%d MiB to sha256sum: %s", len(payload)>>20, time.Since(start).Round(time.Millisecond))
}

// checkEcho writes payload to the echo on port while reading it back,
// half-closes, and checks that exactly payload came back before EOF.
func checkEcho(t *testing.T, port int, payload []byte) {
	start := time.Now()
	conn := dialPublished(t, port)
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	echoed := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(conn)
		echoed <- b
	}()
	if _, err := conn.Write(payload); err != nil {
		t.Fatalf("writing %d MiB to the echo: %v", len(payload)>>20, err)
	}
	_ = conn.(*net.TCPConn).CloseWrite()
	select {
	case b := <-echoed:
		if !bytes.Equal(b, payload) {
			t.Errorf("echo of %d bytes through the published port: got %d bytes back, equal: false", len(payload), len(b))
		}
	case <-time.After(70 * time.Second):
		t.Errorf("echo: no EOF 70 s after the half-close")
	}
	t.Logf("%d MiB echoed by cat: %s", len(payload)>>20, time.Since(start).Round(time.Millisecond))
}

// checkConcurrentEchoes opens n connections to the echo on port at once;
// each sends its own copy of payload with its number in front and must
// get exactly that back before EOF.
func checkConcurrentEchoes(t *testing.T, port, n int, payload []byte) {
	failed := inParallel(n, func(i int) error {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(60 * time.Second))
		msg := append([]byte(fmt.Sprintf("conn-%02d\n", i)), payload...)
		got := make(chan []byte, 1)
		go func() {
			b, _ := io.ReadAll(c)
			got <- b
		}()
		if _, err := c.Write(msg); err != nil {
			return fmt.Errorf("connection %d: write: %w", i, err)
		}
		_ = c.(*net.TCPConn).CloseWrite()
		if b := <-got; !bytes.Equal(b, msg) {
			return fmt.Errorf("connection %d: %d bytes back of %d, equal: false", i, len(b), len(msg))
		}
		return nil
	})
	if len(failed) > 0 {
		t.Errorf("%d of %d concurrent connections failed: %s", len(failed), n, strings.Join(failed, "; "))
	}
}

// inParallel runs f(0) to f(n-1) at once and returns their errors' texts.
func inParallel(n int, f func(i int) error) []string {
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if err := f(i); err != nil {
				errs <- err.Error()
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	var failed []string
	for e := range errs {
		failed = append(failed, e)
	}
	return failed
}

// TestPortsPublishIPv6Loopback: -p [::1]:H:8080 answers on ::1 only, and
// port shows the address in brackets (Docker: "8080/tcp -> [::1]:H").
func TestPortsPublishIPv6Loopback(t *testing.T) {
	parallel(t)
	harness.Requires(t, "slirp4netns")
	if l, err := net.Listen("tcp", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	} else {
		l.Close()
	}
	hp := netPort(t)
	name := lcName("ports-v6")
	runDetached(t, name, []string{"-p", fmt.Sprintf("[::1]:%d:8080", hp)}, "sh", "-c", httpdScript("v6", 8080))
	waitHTTP(t, fmt.Sprintf("http://[::1]:%d/", hp), served("v6", 8080))
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", hp), 2*time.Second); err == nil {
		c.Close()
		t.Errorf("-p [::1]:%d:8080 answers on 127.0.0.1 too", hp)
	}
	if got := portLines(t, name); !slices.Equal(got, []string{fmt.Sprintf("8080/tcp -> [::1]:%d", hp)}) {
		t.Errorf("port %s = %q, want [8080/tcp -> [::1]:%d]", name, got, hp)
	}
	if got := portLines(t, name, "8080"); !slices.Equal(got, []string{fmt.Sprintf("[::1]:%d", hp)}) {
		t.Errorf("port %s 8080 = %q, want [[::1]:%d]", name, got, hp)
	}
	skiff(t, "rm", "-f", name).OK(t)
	if l, err := net.Listen("tcp", fmt.Sprintf("[::1]:%d", hp)); err != nil {
		t.Errorf("[::1]:%d still bound after rm -f: %v", hp, err)
	} else {
		l.Close()
	}
}

// TestPortsReleasedOnExit: a container that exits by itself releases its
// ports and `port` shows nothing; restart publishes them again.
func TestPortsReleasedOnExit(t *testing.T) {
	parallel(t)
	harness.Requires(t, "slirp4netns")
	hp := netPort(t)
	name := lcName("ports-exit")
	runDetached(t, name, []string{"-p", fmt.Sprintf("%d:8080", hp)}, "sh", "-c", "httpd -p 8080 -h / ; sleep 1")
	waitStatus(t, harness.E2E, name, "exited", 20*time.Second)
	eventually(t, 5*time.Second, fmt.Sprintf("host port %d free after the container exited", hp), func() (bool, string) {
		err := portFree(hp, "tcp")
		return err == nil, fmt.Sprint(err)
	})
	if out := skiff(t, "port", name).OK(t).Stdout; out != "" {
		t.Errorf("port %s of the exited container = %q, want nothing", name, out)
	}

	// restart of a running container: the same host port, serving again.
	n2 := lcName("ports-restart-cmd")
	hp2 := netPort(t)
	runDetached(t, n2, []string{"-p", fmt.Sprintf("%d:8080", hp2)}, "sh", "-c", httpdScript("restart", 8080))
	url := fmt.Sprintf("http://127.0.0.1:%d/", hp2)
	waitHTTP(t, url, served("restart", 8080))
	skiff(t, "restart", "-t", "5", n2).OK(t)
	waitHTTP(t, url, served("restart", 8080))
	if got := portLines(t, n2); !slices.Equal(got, []string{fmt.Sprintf("8080/tcp -> 0.0.0.0:%d", hp2)}) {
		t.Errorf("port %s after restart = %q", n2, got)
	}
}

// TestPortsRestartPolicy: with --restart always, the published port keeps
// reaching the container across its restarts (each one a new run of the
// command), and the port stays listed.
func TestPortsRestartPolicy(t *testing.T) {
	parallel(t)
	harness.Requires(t, "slirp4netns")
	hp := netPort(t)
	name := lcName("ports-policy")
	// Each run serves its own start time for 2 s, then exits 1.
	runDetached(t, name, []string{"--restart", "always", "-p", fmt.Sprintf("127.0.0.1:%d:8080", hp)},
		"sh", "-c", "mkdir -p /www && date +%s%N > /www/index.html && httpd -p 8080 -h /www && sleep 2; exit 1")
	url := fmt.Sprintf("http://127.0.0.1:%d/", hp)
	seen := map[string]bool{}
	deadline := time.Now().Add(30 * time.Second)
	var lastErr error
	for time.Now().Before(deadline) && len(seen) < 2 {
		if body, err := portGet(url); err == nil {
			seen[body] = true
		} else {
			lastErr = err
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(seen) < 2 {
		n, st := restartCount(t, name)
		t.Errorf("--restart always: %d distinct runs answered through the published port in 30 s (want 2; RestartCount %d, status %s, last error %v)", len(seen), n, st, lastErr)
	}
	if got := portLines(t, name); !slices.Equal(got, []string{fmt.Sprintf("8080/tcp -> 127.0.0.1:%d", hp)}) {
		t.Errorf("port %s across restarts = %q", name, got)
	}
	skiff(t, "rm", "-f", name).OK(t)
	checkReleased(t, hp, "tcp", "rm -f")
}

// TestPortsHostRangeForOnePort: -p A-B:8080, a host range for one container
// port, publishes 8080 on one free port of the range (Docker: "use the host
// port range as the dynamic host port range to allocate into").
func TestPortsHostRangeForOnePort(t *testing.T) {
	parallel(t)
	harness.Requires(t, "slirp4netns")
	base := netPorts(t, 5)
	// The first two ports of the range are taken: the pick must skip them.
	for _, p := range []int{base, base + 1} {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		must(t, err)
		defer l.Close()
	}
	name := lcName("ports-hostrange")
	rmOnCleanup(t, harness.E2E, name)
	r := skiff(t, "run", "-d", "--name", name, "-p", fmt.Sprintf("%d-%d:8080", base, base+4), busybox(t), "sh", "-c", httpdScript("hr", 8080))
	if r.ExitCode != 0 {
		t.Fatalf("-p %d-%d:8080 (a host range for one container port, valid in Docker):\n%s", base, base+4, r.Output())
	}
	lines := portLines(t, name, "8080")
	if len(lines) != 1 {
		t.Fatalf("port %s 8080 = %q, want one binding", name, lines)
	}
	var hp int
	if _, err := fmt.Sscanf(lines[0], "0.0.0.0:%d", &hp); err != nil || hp < base+2 || hp > base+4 {
		t.Fatalf("port %s 8080 = %q, want 0.0.0.0:P with P free in %d-%d", name, lines, base+2, base+4)
	}
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", hp), served("hr", 8080))
}

// TestPortsUDPManyClients, as the user with subordinate ids and as root:
// a UDP echo published as -p H:53/udp answers 16 clients at once, 100
// datagrams each, and every answer reaches the client that asked (the
// forwarder keeps one session per client address) and no other.
func TestPortsUDPManyClients(t *testing.T) {
	parallel(t)
	dir := netEchoDir(t)
	asUserAndRoot(t, func(t *testing.T, u *harness.User) {
		hp := netPort(t)
		name := lcName("ports-udp-many")
		runDetachedAs(t, u, pulled(t, u, "busybox"), name, []string{"-v", dir + ":/h:ro", "-p", fmt.Sprintf("127.0.0.1:%d:53/udp", hp)}, "/h/netecho", "53")
		if _, err := udpExchange(hp, "ready", 20*time.Second); err != nil {
			t.Fatalf("UDP through -p %d:53/udp: %v", hp, err)
		}
		const clients, each = 16, 100
		failed := inParallel(clients, func(i int) error { return udpClientExchanges(hp, i, each) })
		if len(failed) > 0 {
			t.Errorf("%d of %d UDP clients failed: %s", len(failed), clients, strings.Join(failed, "; "))
		}
	})
}

// udpClientExchanges sends n datagrams from one socket to 127.0.0.1:port,
// each waiting for its answer (sent again after a silence, as a UDP client
// does); an answer meant for another client or another datagram is an
// error, and so is a datagram never answered after 5 tries.
func udpClientExchanges(port, client, n int) error {
	c, err := net.DialUDP("udp", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		return err
	}
	defer c.Close()
	buf := make([]byte, 2048)
	for seq := 0; seq < n; seq++ {
		msg := fmt.Sprintf("client-%02d-seq-%03d", client, seq)
		answered := false
		for try := 0; try < 5 && !answered; try++ {
			if _, err := c.Write([]byte(msg)); err != nil {
				return fmt.Errorf("client %d: %w", client, err)
			}
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			for {
				m, err := c.Read(buf)
				if err != nil {
					break // silence: send again
				}
				got := string(buf[:m])
				if got == "echo:"+msg {
					answered = true
					break
				}
				if !strings.HasPrefix(got, fmt.Sprintf("echo:client-%02d-", client)) {
					return fmt.Errorf("client %d got %q, another client's answer", client, got)
				}
				// A late answer to a datagram of ours sent again: skip it.
			}
		}
		if !answered {
			return fmt.Errorf("client %d: no answer to %q after 5 tries", client, msg)
		}
	}
	return nil
}

// checkResetPassed asks a server on port a line; it answers a line and
// resets the connection: the client must read the line, then the reset
// (ECONNRESET), not a clean EOF that would make a cut stream look complete.
func checkResetPassed(t *testing.T, port int) {
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		t.Fatalf("connecting to the resetting server: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := conn.Write([]byte("question\n")); err != nil {
		t.Fatalf("writing to the resetting server: %v", err)
	}
	got, err := io.ReadAll(conn)
	if string(got) != "answer\n" {
		t.Errorf("the resetting server's answer through the published port: %q, want %q", got, "answer\n")
	}
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("after the server's answer the client read %v, want the server's reset (ECONNRESET)", err)
	}
}
