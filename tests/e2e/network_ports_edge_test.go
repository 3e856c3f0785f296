package e2e

// Published ports beyond the basics: the bytes of long streams in both
// directions and the half-close, many connections at once, IPv6 loopback,
// a container that exits on its own, restart and a restart policy.

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
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

// TestPortsTCPStreamIntegrity: 32 MiB of random bytes to a sha256sum in the
// container (the client's half-close ends its input, its answer comes
// back), 16 MiB echoed back whole by cat, and 32 connections at once.
func TestPortsTCPStreamIntegrity(t *testing.T) {
	parallel(t)
	harness.Requires(t, "slirp4netns")
	sumPort, echoPort := netPort(t), netPort(t)
	name := lcName("ports-stream")
	runDetached(t, name, []string{"-p", fmt.Sprintf("127.0.0.1:%d:7000", sumPort), "-p", fmt.Sprintf("127.0.0.1:%d:7001", echoPort)},
		"sh", "-c", "nc -ll -p 7000 -e sha256sum & nc -ll -p 7001 -e cat & trap 'exit 0' TERM; sleep 300 & wait")

	// Upload and half-close: the answer is the checksum of every byte.
	c := dialPublished(t, echoPort) // both servers are up once one answers
	c.Close()
	payload := make([]byte, 32<<20)
	_, _ = rand.Read(payload)
	want := sha256.Sum256(payload)
	start := time.Now()
	eventually(t, 20*time.Second, "sha256sum through the published port", func() (bool, string) {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", sumPort), 2*time.Second)
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
			t.Errorf("sha256 of 32 MiB through the published port: container saw %s, sent %x", got[0], want)
		}
		return true, ""
	})

	t.Logf("32 MiB to sha256sum: %s", time.Since(start).Round(time.Millisecond))

	// Echo: what comes back is what went, and EOF follows the half-close.
	start = time.Now()
	conn := dialPublished(t, echoPort)
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	echoed := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(conn)
		echoed <- b
	}()
	if _, err := conn.Write(payload[:16<<20]); err != nil {
		t.Fatalf("writing 16 MiB to the echo: %v", err)
	}
	_ = conn.(*net.TCPConn).CloseWrite()
	select {
	case b := <-echoed:
		if !bytes.Equal(b, payload[:16<<20]) {
			t.Errorf("echo of 16 MiB through the published port: got %d bytes back, equal: false", len(b))
		}
	case <-time.After(70 * time.Second):
		t.Errorf("echo: no EOF 70 s after the half-close")
	}
	t.Logf("16 MiB echoed by cat: %s", time.Since(start).Round(time.Millisecond))

	// 32 connections at once, each with its own message.
	var wg sync.WaitGroup
	errs := make(chan string, 32)
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", echoPort), 5*time.Second)
			if err != nil {
				errs <- err.Error()
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(20 * time.Second))
			msg := fmt.Sprintf("conn-%02d\n", i)
			if _, err := c.Write([]byte(msg)); err != nil {
				errs <- err.Error()
				return
			}
			buf := make([]byte, len(msg))
			if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
				errs <- fmt.Sprintf("connection %d: read %q, %v", i, buf, err)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	var failed []string
	for e := range errs {
		failed = append(failed, e)
	}
	if len(failed) > 0 {
		t.Errorf("%d of 32 concurrent connections failed: %s", len(failed), strings.Join(failed, "; "))
	}
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
