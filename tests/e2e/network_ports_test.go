package e2e

// Published ports (-p, -P), as the unprivileged user, with Docker's
// behaviour as the contract: the port answers from the host, shows in ps,
// port and inspect, is released when the container stops or is removed, and
// a run that cannot publish fails with exit 125, one "Error: " line and
// nothing bound or running.
//
// Traffic stays on the loopback: servers in the containers are reached
// through 127.0.0.1 (127.0.0.2 only to check what a 127.0.0.1 binding is
// not bound to). Host ports are picked at random below the ephemeral range
// and checked free first.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/skiff-project/skiff/tests/harness"
)

// Host ports for the tests: random in [portLow, portHigh), below the
// kernel's ephemeral range (32768-60999) so that no outgoing connection
// takes one between the check and its use.
const (
	portLow  = 20000
	portHigh = 32000
)

var (
	portMu    sync.Mutex
	portsUsed = map[int]bool{} // handed out in this test binary
)

// portFree reports why port is not free for proto ("tcp" or "udp") on
// every address (as a wildcard bind sees it), or nil.
func portFree(port int, proto string) error {
	addr := ":" + strconv.Itoa(port)
	if proto == "udp" {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return err
		}
		return pc.Close()
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return l.Close()
}

// netPorts returns the first of n consecutive host ports that are free for
// TCP and UDP now and were not handed out to another test of this binary.
func netPorts(t testing.TB, n int) int {
	t.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	for try := 0; try < 500; try++ {
		base := portLow + rand.IntN(portHigh-portLow-n)
		ok := true
		for p := base; p < base+n && ok; p++ {
			ok = !portsUsed[p] && portFree(p, "tcp") == nil && portFree(p, "udp") == nil
		}
		if ok {
			for p := base; p < base+n; p++ {
				portsUsed[p] = true
			}
			return base
		}
	}
	t.Fatalf("no %d consecutive free ports in %d-%d", n, portLow, portHigh)
	return 0
}

// netPort is netPorts(t, 1).
func netPort(t testing.TB) int {
	t.Helper()
	return netPorts(t, 1)
}

// checkReleased reports an error unless port is free for proto right after
// the command that should have released it returned; when it is not, it
// also says whether it became free within a few seconds.
func checkReleased(t testing.TB, port int, proto, after string) {
	t.Helper()
	err := portFree(port, proto)
	if err == nil {
		return
	}
	start := time.Now()
	for time.Since(start) < 5*time.Second {
		time.Sleep(50 * time.Millisecond)
		if portFree(port, proto) == nil {
			t.Errorf("host port %d/%s was still bound when %s returned (%v); it was released about %s later", port, proto, after, err, time.Since(start).Round(50*time.Millisecond))
			return
		}
	}
	t.Errorf("host port %d/%s is still bound 5 s after %s returned: %v", port, proto, after, err)
}

// portHTTP talks to published ports: no keep-alive, so no connection
// outlives a request.
var portHTTP = &http.Client{
	Timeout:   5 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
}

// portGet fetches url and returns the body, or an error for anything but 200.
func portGet(url string) (string, error) {
	resp, err := portHTTP.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return string(body), fmt.Errorf("%s: %s", url, resp.Status)
	}
	return string(body), nil
}

// waitHTTP waits until GET url answers 200 with body want.
func waitHTTP(t testing.TB, url, want string) {
	t.Helper()
	eventually(t, 20*time.Second, "GET "+url+" answering "+strconv.Quote(want), func() (bool, string) {
		body, err := portGet(url)
		if err != nil {
			return false, err.Error()
		}
		return body == want, fmt.Sprintf("body %q", body)
	})
}

// httpdScript serves the text content from /www on each port with busybox
// httpd until SIGTERM. Content ends up as "<content>-<port>\n".
func httpdScript(content string, ports ...int) string {
	var b strings.Builder
	for _, p := range ports {
		fmt.Fprintf(&b, "mkdir -p /www%d && echo %s-%d > /www%d/index.html && httpd -p %d -h /www%d && ", p, content, p, p, p, p)
	}
	b.WriteString("trap 'exit 0' TERM; sleep 300 & wait")
	return b.String()
}

// served is what httpdScript serves on port.
func served(content string, port int) string { return fmt.Sprintf("%s-%d\n", content, port) }

// portBinding is one entry of Docker's PortBindings / NetworkSettings.Ports.
type portBinding struct {
	HostIp   string
	HostPort string
}

// netInspect is the network part of Docker's container inspect output.
type netInspect struct {
	Id     string
	Config struct {
		Hostname     string
		ExposedPorts map[string]struct{}
	}
	HostConfig struct {
		NetworkMode     string
		PortBindings    map[string][]portBinding
		PublishAllPorts bool
		Dns             []string
		DnsSearch       []string
		DnsOptions      []string
		ExtraHosts      []string
	}
	NetworkSettings struct {
		Ports map[string][]portBinding
	}
	State struct {
		Status  string
		Running bool
		Pid     int
	}
}

// inspectNet inspects a container of the e2e user and also returns the
// raw NetworkSettings.Ports JSON.
func inspectNet(t testing.TB, name string) (netInspect, string) {
	t.Helper()
	r := skiff(t, "inspect", name).OK(t)
	var out []netInspect
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil || len(out) != 1 {
		t.Fatalf("%s: want a one-element JSON array (%v)\n%s", r.Cmdline(), err, r.Output())
	}
	var raw []struct {
		NetworkSettings struct{ Ports json.RawMessage }
	}
	_ = json.Unmarshal([]byte(r.Stdout), &raw)
	return out[0], string(raw[0].NetworkSettings.Ports)
}

// portLines runs `port NAME [ARGS]` and returns its lines, less the IPv6
// ones Docker adds next to the IPv4 ones ("[::]:P", ":::P").
func portLines(t testing.TB, name string, args ...string) []string {
	t.Helper()
	r := skiff(t, append([]string{"port", name}, args...)...).OK(t)
	var out []string
	for _, l := range r.Lines() {
		if strings.Contains(l, "[::]") || strings.Contains(l, ":::") {
			continue
		}
		out = append(out, l)
	}
	return out
}

// psPorts returns the PORTS cell of the container's row in `ps` (or
// `ps -a` with all), without the IPv6 entries Docker adds.
func psPorts(t testing.TB, name string, all bool) (string, bool) {
	t.Helper()
	args := []string{"ps", "--filter", "name=" + name}
	if all {
		args = append(args, "-a")
	}
	tb := parseTable(t, skiff(t, args...).OK(t).Stdout)
	if !slices.Contains(tb.header, "PORTS") {
		t.Errorf("ps has no PORTS column: %v", tb.header)
	}
	row := tb.rowWith("NAMES", name)
	if row == nil {
		return "", false
	}
	var keep []string
	for _, p := range strings.Split(row["PORTS"], ", ") {
		if p != "" && !strings.HasPrefix(p, ":::") && !strings.HasPrefix(p, "[::]") {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, ", "), true
}

// psRunning reports whether ps (running containers only) lists name.
func psRunning(t testing.TB, name string) bool {
	t.Helper()
	return slices.Contains(skiff(t, "ps", "--format", "{{.Names}}").OK(t).Lines(), name)
}

// psListed reports whether ps -a lists name.
func psListed(t testing.TB, name string) bool {
	t.Helper()
	return slices.Contains(skiff(t, "ps", "-a", "--format", "{{.Names}}").OK(t).Lines(), name)
}

// processesOf returns host processes whose command line names the
// container (its full ID, or the 20-hex prefix skiff's run directory uses,
// as slirp4netns's namespace path does), for cleanup checks.
func processesOf(id string) []string {
	var out []string
	for _, pid := range procByCmdline(func(args []string) bool {
		for _, a := range args {
			if strings.Contains(a, id) || strings.Contains(a, "/"+id[:20]) {
				return true
			}
		}
		return false
	}) {
		cl, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		out = append(out, fmt.Sprintf("%d: %s", pid, strings.ReplaceAll(strings.TrimRight(string(cl), "\x00"), "\x00", " ")))
	}
	return out
}

// waitNoProcessesOf waits until no host process names the container.
func waitNoProcessesOf(t testing.TB, id, after string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := processesOf(id)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("5 s after %s, processes of container %s remain:\n  %s", after, id[:12], strings.Join(left, "\n  "))
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------
// A static UDP echo server for the containers: busybox's nc has no UDP mode
// (Debian's busybox-static 1.35 builds the small nc: -l -p -e -w -i -f only),
// and no other applet serves UDP, so the test builds a tiny static Go
// program and bind-mounts it. "netecho PORT" is the UDP echo; "netecho PORT
// tcp" a TCP echo for many connections at once (busybox's nc -ll resets
// most of 32 connections that arrive together, forwarded or not);
// "netecho PORT reset" answers each TCP connection's first line with a
// line, then resets it.

const netEchoSource = `package main

import (
	"io"
	"net"
	"os"
)

// Answers every datagram with "echo:" and the datagram, to its sender.
func main() {
	if len(os.Args) > 2 {
		tcpServe(os.Args[1], os.Args[2])
	}
	pc, err := net.ListenPacket("udp", ":"+os.Args[1])
	if err != nil {
		println(err.Error())
		os.Exit(1)
	}
	buf := make([]byte, 65536)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			os.Exit(1)
		}
		_, _ = pc.WriteTo(append([]byte("echo:"), buf[:n]...), from)
	}
}

// Serves TCP: "tcp" sends every connection's bytes back until its
// half-close, then closes; "reset" reads a line, answers one, then resets.
func tcpServe(port, mode string) {
	l, err := net.Listen("tcp", ":"+port)
	if err != nil {
		println(err.Error())
		os.Exit(1)
	}
	for {
		c, err := l.Accept()
		if err != nil {
			os.Exit(1)
		}
		go func() {
			defer c.Close()
			if mode == "reset" {
				line := make([]byte, 1)
				for line[0] != '\n' {
					if _, err := c.Read(line); err != nil {
						return
					}
				}
				_, _ = c.Write([]byte("answer\n"))
				_ = c.(*net.TCPConn).SetLinger(0)
				return
			}
			_, _ = io.Copy(c, c)
			_ = c.(*net.TCPConn).CloseWrite()
		}()
	}
}
`

// goTool finds the go command that builds the helper.
func goTool() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/local/go/bin/go", "/usr/lib/go/bin/go"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no go command in PATH, /usr/local/go/bin or /usr/lib/go/bin")
}

// netEchoDir builds the echo server into a directory the e2e user can
// read, as "netecho", and returns the directory (mount it read-only).
func netEchoDir(t *testing.T) string {
	t.Helper()
	goBin, err := goTool()
	if err != nil {
		t.Skipf("cannot build the echo helper: %v", err)
	}
	src := t.TempDir()
	must(t, os.WriteFile(filepath.Join(src, "main.go"), []byte(netEchoSource), 0o644))
	dir := harness.UserDir(t, harness.E2E)
	out := filepath.Join(dir, "netecho")
	cmd := exec.Command(goBin, "build", "-trimpath", "-o", out, "main.go")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GOOS=linux", "GO111MODULE=on", "GOTOOLCHAIN=local")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the echo helper: %v\n%s", err, b)
	}
	must(t, os.Chmod(out, 0o755))
	return dir
}

// udpExchange sends msg to 127.0.0.1:port from one socket until it gets an
// answer (the server may still be starting) and returns the answer.
func udpExchange(port int, msg string, within time.Duration) (string, error) {
	c, err := net.DialUDP("udp", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		return "", err
	}
	defer c.Close()
	deadline := time.Now().Add(within)
	buf := make([]byte, 65536)
	var last error
	for time.Now().Before(deadline) {
		if _, err := c.Write([]byte(msg)); err != nil {
			last = err // ECONNREFUSED from an earlier datagram: try again
			time.Sleep(200 * time.Millisecond)
			continue
		}
		_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, err := c.Read(buf)
		if err != nil {
			last = err
			continue
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("no answer from 127.0.0.1:%d/udp within %s (last: %v)", port, within, last)
}

// ---------------------------------------------------------------------------

// TestPortsPublishTCP: -p HOST:8080 answers from the host; ps, port and
// inspect show it; stop releases the port and empties `port`; start
// publishes it again; rm -f releases it.
func TestPortsPublishTCP(t *testing.T) {
	parallel(t)
	harness.Requires(t, "slirp4netns")
	hp := netPort(t)
	name := lcName("ports-tcp")
	id := runDetached(t, name, []string{"-p", fmt.Sprintf("%d:8080", hp)}, "sh", "-c", httpdScript("tcp", 8080))
	url := fmt.Sprintf("http://127.0.0.1:%d/", hp)
	waitHTTP(t, url, served("tcp", 8080))

	// ps: PORTS column.
	want := fmt.Sprintf("0.0.0.0:%d->8080/tcp", hp)
	if got, ok := psPorts(t, name, false); !ok || got != want {
		t.Errorf("ps PORTS of %s = %q (listed: %v), want %q", name, got, ok, want)
	}
	// ps --format {{.Ports}}.
	if got := skiff(t, "ps", "--filter", "name="+name, "--format", "{{.Ports}}").OK(t).Stdout; !strings.HasPrefix(got, want) {
		t.Errorf("ps --format {{.Ports}} = %q, want %q first", got, want)
	}
	// port, all and one by number, with and without the protocol.
	if got := portLines(t, name); !slices.Equal(got, []string{fmt.Sprintf("8080/tcp -> 0.0.0.0:%d", hp)}) {
		t.Errorf("port %s = %q, want [8080/tcp -> 0.0.0.0:%d]", name, got, hp)
	}
	for _, arg := range []string{"8080", "8080/tcp"} {
		if got := portLines(t, name, arg); !slices.Equal(got, []string{fmt.Sprintf("0.0.0.0:%d", hp)}) {
			t.Errorf("port %s %s = %q, want [0.0.0.0:%d]", name, arg, got, hp)
		}
	}
	// A port that is not published: an error (Docker: "No public port '9999/tcp' published for NAME").
	skiff(t, "port", name, "9999").ErrorLine(t, errExit, "9999")
	skiff(t, "port", name, "8080/udp").ErrorLine(t, errExit, "8080")

	// inspect: HostConfig.PortBindings as asked, NetworkSettings.Ports as bound.
	ins, _ := inspectNet(t, name)
	if ins.Id != id {
		t.Errorf("inspect Id %s, want %s", ins.Id, id)
	}
	wantAsked := map[string][]portBinding{"8080/tcp": {{HostIp: "", HostPort: strconv.Itoa(hp)}}}
	if !equalPortMap(ins.HostConfig.PortBindings, wantAsked) {
		t.Errorf("HostConfig.PortBindings = %v, want %v", ins.HostConfig.PortBindings, wantAsked)
	}
	wantBound := map[string][]portBinding{"8080/tcp": {{HostIp: "0.0.0.0", HostPort: strconv.Itoa(hp)}}}
	if !equalPortMap(v4Only(ins.NetworkSettings.Ports), wantBound) {
		t.Errorf("NetworkSettings.Ports = %v, want %v", ins.NetworkSettings.Ports, wantBound)
	}

	// stop: the port is free at once and gone from port / ps / NetworkSettings.
	skiff(t, "stop", "-t", "5", name).OK(t)
	checkReleased(t, hp, "tcp", "stop")
	if r := skiff(t, "port", name).OK(t); r.Stdout != "" {
		t.Errorf("port %s after stop = %q, want nothing", name, r.Stdout)
	}
	if got, ok := psPorts(t, name, true); !ok || got != "" {
		t.Errorf("ps -a PORTS of the stopped %s = %q (listed: %v), want empty", name, got, ok)
	}
	if ins, raw := inspectNet(t, name); len(ins.NetworkSettings.Ports) != 0 || !equalPortMap(ins.HostConfig.PortBindings, wantAsked) {
		t.Errorf("after stop: NetworkSettings.Ports = %s (want {}), HostConfig.PortBindings = %v (want kept %v)", raw, ins.HostConfig.PortBindings, wantAsked)
	}
	if _, err := portGet(url); err == nil {
		t.Errorf("GET %s still answers after stop", url)
	}

	// start: published again, same host port.
	skiff(t, "start", name).OK(t)
	waitHTTP(t, url, served("tcp", 8080))
	if got := portLines(t, name); !slices.Equal(got, []string{fmt.Sprintf("8080/tcp -> 0.0.0.0:%d", hp)}) {
		t.Errorf("port %s after start = %q, want [8080/tcp -> 0.0.0.0:%d]", name, got, hp)
	}

	// rm -f: free, and nothing of the container left running.
	skiff(t, "rm", "-f", name).OK(t)
	checkReleased(t, hp, "tcp", "rm -f")
	waitNoProcessesOf(t, id, "rm -f")
}

// v4Only drops the IPv6 bindings Docker lists next to the IPv4 ones.
func v4Only(pm map[string][]portBinding) map[string][]portBinding {
	out := map[string][]portBinding{}
	for k, bs := range pm {
		for _, b := range bs {
			if !strings.Contains(b.HostIp, ":") {
				out[k] = append(out[k], b)
			}
		}
		if bs == nil {
			out[k] = nil
		}
	}
	return out
}

func equalPortMap(a, b map[string][]portBinding) bool {
	if len(a) != len(b) {
		return false
	}
	for k, av := range a {
		bv, ok := b[k]
		if !ok || !slices.Equal(av, bv) {
			return false
		}
	}
	return true
}

// TestPortsPublishLoopbackAndRandom: -p 127.0.0.1::8080 picks a free host
// port bound on 127.0.0.1 only; -p 8080 picks one on every address.
func TestPortsPublishLoopbackAndRandom(t *testing.T) {
	parallel(t)
	harness.Requires(t, "slirp4netns")
	name := lcName("ports-random")
	runDetached(t, name, []string{"-p", "127.0.0.1::8080", "-p", "8081"}, "sh", "-c", httpdScript("rand", 8080, 8081))

	lines := portLines(t, name)
	re := regexp.MustCompile(`^(8080/tcp -> 127\.0\.0\.1|8081/tcp -> 0\.0\.0\.0):([1-9][0-9]*)$`)
	if len(lines) != 2 || !re.MatchString(lines[0]) || !re.MatchString(lines[1]) {
		t.Fatalf("port %s = %q, want 8080/tcp -> 127.0.0.1:N and 8081/tcp -> 0.0.0.0:M", name, lines)
	}
	got := map[string]int{}
	for _, l := range lines {
		m := re.FindStringSubmatch(l)
		p, _ := strconv.Atoi(m[2])
		got[strings.SplitN(m[1], "/", 2)[0]] = p
	}
	p80, p81 := got["8080"], got["8081"]
	if p80 == 0 || p81 == 0 || p80 == p81 || p80 > 65535 || p81 > 65535 {
		t.Fatalf("port %s = %q: bad host ports", name, lines)
	}
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", p80), served("rand", 8080))
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", p81), served("rand", 8081))
	// 127.0.0.1 only: another loopback address does not answer on p80,
	// while the wildcard binding answers there.
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.2:%d", p80), 2*time.Second); err == nil {
		c.Close()
		t.Errorf("-p 127.0.0.1::8080 published host port %d on 127.0.0.2 too", p80)
	}
	if _, err := portGet(fmt.Sprintf("http://127.0.0.2:%d/", p81)); err != nil {
		t.Errorf("-p 8081 (every address): 127.0.0.2:%d does not answer: %v", p81, err)
	}
	if got := portLines(t, name, "8080"); !slices.Equal(got, []string{fmt.Sprintf("127.0.0.1:%d", p80)}) {
		t.Errorf("port %s 8080 = %q, want [127.0.0.1:%d]", name, got, p80)
	}
	want := fmt.Sprintf("127.0.0.1:%d->8080/tcp, 0.0.0.0:%d->8081/tcp", p80, p81)
	if ps, _ := psPorts(t, name, false); ps != want && ps != fmt.Sprintf("0.0.0.0:%d->8081/tcp, 127.0.0.1:%d->8080/tcp", p81, p80) {
		t.Errorf("ps PORTS = %q, want %q", ps, want)
	}
	ins, _ := inspectNet(t, name)
	wantAsked := map[string][]portBinding{"8080/tcp": {{HostIp: "127.0.0.1", HostPort: ""}}, "8081/tcp": {{HostIp: "", HostPort: ""}}}
	if !equalPortMap(ins.HostConfig.PortBindings, wantAsked) {
		t.Errorf("HostConfig.PortBindings = %v, want %v", ins.HostConfig.PortBindings, wantAsked)
	}
	wantBound := map[string][]portBinding{"8080/tcp": {{HostIp: "127.0.0.1", HostPort: strconv.Itoa(p80)}}, "8081/tcp": {{HostIp: "0.0.0.0", HostPort: strconv.Itoa(p81)}}}
	if !equalPortMap(v4Only(ins.NetworkSettings.Ports), wantBound) {
		t.Errorf("NetworkSettings.Ports = %v, want %v", ins.NetworkSettings.Ports, wantBound)
	}
	skiff(t, "rm", "-f", name).OK(t)
	checkReleased(t, p80, "tcp", "rm -f")
	checkReleased(t, p81, "tcp", "rm -f")
}

// TestPortsPublishRange: -p A-(A+2):8000-8002 maps each port of the range.
func TestPortsPublishRange(t *testing.T) {
	parallel(t)
	harness.Requires(t, "slirp4netns")
	base := netPorts(t, 3)
	name := lcName("ports-range")
	runDetached(t, name, []string{"-p", fmt.Sprintf("%d-%d:8000-8002", base, base+2)}, "sh", "-c", httpdScript("range", 8000, 8001, 8002))
	var want []string
	for i := 0; i < 3; i++ {
		waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", base+i), served("range", 8000+i))
		want = append(want, fmt.Sprintf("%d/tcp -> 0.0.0.0:%d", 8000+i, base+i))
	}
	if got := portLines(t, name); !slices.Equal(got, want) {
		t.Errorf("port %s = %q, want %q", name, got, want)
	}
	if got := portLines(t, name, "8001"); !slices.Equal(got, []string{fmt.Sprintf("0.0.0.0:%d", base+1)}) {
		t.Errorf("port %s 8001 = %q, want [0.0.0.0:%d]", name, got, base+1)
	}
	// Docker's ps folds consecutive ports into one range.
	wantPs := fmt.Sprintf("0.0.0.0:%d-%d->8000-8002/tcp", base, base+2)
	if got, _ := psPorts(t, name, false); got != wantPs {
		t.Errorf("ps PORTS = %q, want Docker's folded range %q", got, wantPs)
	}
	ins, _ := inspectNet(t, name)
	if len(ins.HostConfig.PortBindings) != 3 || len(v4Only(ins.NetworkSettings.Ports)) != 3 {
		t.Errorf("inspect: PortBindings %v, NetworkSettings.Ports %v: want 8000-8002/tcp in each", ins.HostConfig.PortBindings, ins.NetworkSettings.Ports)
	}
	skiff(t, "rm", "-f", name).OK(t)
	for i := 0; i < 3; i++ {
		checkReleased(t, base+i, "tcp", "rm -f")
	}
}

// exposeImg pushes (once) a busybox image that EXPOSEs 8080/tcp and 8081/udp.
var (
	exposeOnce  sync.Once
	exposeImage *harness.Image
)

func exposeImg(t *testing.T) string {
	t.Helper()
	exposeOnce.Do(func() {
		exposeImage = harness.PushConfigured(t, "net-expose", "latest", func(c *v1.Config) {
			c.ExposedPorts = map[string]struct{}{"8080/tcp": {}, "8081/udp": {}}
		})
	})
	if exposeImage == nil {
		t.Fatal("pushing the EXPOSE image failed in another test")
	}
	return pulled(t, harness.E2E, "net-expose")
}

// TestPortsPublishAll: -P publishes every EXPOSEd port of the image on a
// free host port; the TCP one answers.
func TestPortsPublishAll(t *testing.T) {
	parallel(t)
	harness.Requires(t, "slirp4netns")
	img := exposeImg(t)
	name := lcName("ports-all")
	runDetachedAs(t, harness.E2E, img, name, []string{"-P"}, "sh", "-c", httpdScript("all", 8080))
	lines := portLines(t, name)
	re := regexp.MustCompile(`^(8080/tcp|8081/udp) -> 0\.0\.0\.0:([1-9][0-9]*)$`)
	hostOf := map[string]string{}
	for _, l := range lines {
		if m := re.FindStringSubmatch(l); m != nil {
			hostOf[m[1]] = m[2]
		}
	}
	if len(lines) != 2 || len(hostOf) != 2 {
		t.Fatalf("port %s (-P, EXPOSE 8080/tcp 8081/udp) = %q, want 8080/tcp -> 0.0.0.0:N and 8081/udp -> 0.0.0.0:M", name, lines)
	}
	waitHTTP(t, "http://127.0.0.1:"+hostOf["8080/tcp"]+"/", served("all", 8080))
	ins, _ := inspectNet(t, name)
	if !ins.HostConfig.PublishAllPorts {
		t.Errorf("HostConfig.PublishAllPorts = false with -P")
	}
	wantBound := map[string][]portBinding{
		"8080/tcp": {{HostIp: "0.0.0.0", HostPort: hostOf["8080/tcp"]}},
		"8081/udp": {{HostIp: "0.0.0.0", HostPort: hostOf["8081/udp"]}},
	}
	if !equalPortMap(v4Only(ins.NetworkSettings.Ports), wantBound) {
		t.Errorf("NetworkSettings.Ports = %v, want %v", ins.NetworkSettings.Ports, wantBound)
	}
	// Docker keeps HostConfig.PortBindings as given on the command line:
	// -P alone leaves it empty (the ports are picked at each start).
	if len(ins.HostConfig.PortBindings) != 0 {
		t.Errorf("HostConfig.PortBindings = %v with -P alone, want {} as Docker (the -P ports belong in NetworkSettings.Ports only)", ins.HostConfig.PortBindings)
	}

	// -P with -p for one of them: the explicit binding wins for that one.
	hp := netPort(t)
	n2 := lcName("ports-all-p")
	runDetachedAs(t, harness.E2E, img, n2, []string{"-P", "-p", fmt.Sprintf("127.0.0.1:%d:8080", hp)}, "sh", "-c", httpdScript("allp", 8080))
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", hp), served("allp", 8080))
	if got := portLines(t, n2, "8080"); !slices.Equal(got, []string{fmt.Sprintf("127.0.0.1:%d", hp)}) {
		t.Errorf("port %s 8080 (-P -p 127.0.0.1:%d:8080) = %q, want only [127.0.0.1:%d]", n2, hp, got, hp)
	}
	if got := portLines(t, n2, "8081/udp"); len(got) != 1 || !strings.HasPrefix(got[0], "0.0.0.0:") {
		t.Errorf("port %s 8081/udp (-P) = %q, want [0.0.0.0:N]", n2, got)
	}

	// Without -P nothing is published, EXPOSE or not.
	n3 := lcName("ports-none")
	runDetachedAs(t, harness.E2E, img, n3, nil, idleCmd...)
	if r := skiff(t, "port", n3).OK(t); r.Stdout != "" {
		t.Errorf("port %s (EXPOSE, no -p/-P) = %q, want nothing", n3, r.Stdout)
	}
}

// TestPortsInspectExposedUnpublished: Docker lists an EXPOSEd port that is
// not published in NetworkSettings.Ports with a null binding.
func TestPortsInspectExposedUnpublished(t *testing.T) {
	parallel(t)
	harness.Requires(t, "slirp4netns")
	img := exposeImg(t)
	hp := netPort(t)
	name := lcName("ports-exposed")
	runDetachedAs(t, harness.E2E, img, name, []string{"-p", fmt.Sprintf("127.0.0.1:%d:8080", hp)}, idleCmd...)
	ins, raw := inspectNet(t, name)
	if bs, ok := ins.NetworkSettings.Ports["8081/udp"]; !ok || bs != nil {
		t.Errorf("NetworkSettings.Ports = %s: want \"8081/udp\": null for the EXPOSEd, unpublished port (Docker)", raw)
	}
	if _, ok := ins.Config.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("Config.ExposedPorts = %v, want 8080/tcp (image EXPOSE and -p)", ins.Config.ExposedPorts)
	}
}

// TestPortsPublishUDP: -p HOST:8081/udp relays datagrams both ways, each
// client separately; the same host port number serves TCP at the same time.
func TestPortsPublishUDP(t *testing.T) {
	parallel(t)
	harness.Requires(t, "slirp4netns")
	dir := netEchoDir(t)
	hp := netPort(t)
	name := lcName("ports-udp")
	id := runDetached(t, name, []string{"-v", dir + ":/h:ro", "-p", fmt.Sprintf("%d:8081/udp", hp), "-p", fmt.Sprintf("%d:8080/tcp", hp)},
		"sh", "-c", "mkdir -p /www && echo udp-tcp > /www/index.html && httpd -p 8080 -h /www && exec /h/netecho 8081")
	got, err := udpExchange(hp, "ping-1", 20*time.Second)
	if err != nil {
		t.Fatalf("UDP through -p %d:8081/udp: %v\nlogs:\n%s", hp, err, skiff(t, "logs", name).Stdout+skiff(t, "logs", name).Stderr)
	}
	if got != "echo:ping-1" {
		t.Errorf("UDP answer %q, want %q", got, "echo:ping-1")
	}
	// A second client (another source port) gets its own answers.
	got2, err := udpExchange(hp, "ping-2", 5*time.Second)
	if err != nil || got2 != "echo:ping-2" {
		t.Errorf("second UDP client: %q, %v; want echo:ping-2", got2, err)
	}
	// A big datagram arrives whole.
	big := strings.Repeat("x", 8000)
	if got3, err := udpExchange(hp, big, 5*time.Second); err != nil || got3 != "echo:"+big {
		t.Errorf("8000-byte datagram: answer of %d bytes, %v; want %d", len(got3), err, len(big)+5)
	}
	// TCP on the same host port number.
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", hp), "udp-tcp\n")

	want := []string{fmt.Sprintf("8080/tcp -> 0.0.0.0:%d", hp), fmt.Sprintf("8081/udp -> 0.0.0.0:%d", hp)}
	if lines := portLines(t, name); !slices.Equal(lines, want) {
		t.Errorf("port %s = %q, want %q", name, lines, want)
	}
	if lines := portLines(t, name, "8081/udp"); !slices.Equal(lines, []string{fmt.Sprintf("0.0.0.0:%d", hp)}) {
		t.Errorf("port %s 8081/udp = %q, want [0.0.0.0:%d]", name, lines, hp)
	}
	if r := skiff(t, "port", name, "8081"); r.ExitCode == 0 {
		t.Errorf("port %s 8081 (that is 8081/tcp, not published) = %q, want an error", name, r.Stdout)
	}
	wantPs := fmt.Sprintf("0.0.0.0:%d->8080/tcp, 0.0.0.0:%d->8081/udp", hp, hp)
	if ps, _ := psPorts(t, name, false); ps != wantPs {
		t.Errorf("ps PORTS = %q, want %q", ps, wantPs)
	}
	skiff(t, "rm", "-f", name).OK(t)
	checkReleased(t, hp, "udp", "rm -f")
	checkReleased(t, hp, "tcp", "rm -f")
	waitNoProcessesOf(t, id, "rm -f")
}

// TestPortsContainerLoopbackNotExposed: Docker forwards a published port to
// the container's network address, so a server listening on the container's
// own 127.0.0.1 stays private, and one on its interface address answers;
// the connection does not appear to come from the container's loopback
// (compare Podman's CVE-2021-20199).
func TestPortsContainerLoopbackNotExposed(t *testing.T) {
	parallel(t)
	asUserAndRoot(t, loopbackNotExposed)
}

func loopbackNotExposed(t *testing.T, u *harness.User) {
	lo, ifc := netPort(t), netPort(t)
	name := lcName("ports-lo")
	// 8080 on 127.0.0.1 only; 8081 on the interface address only, with a
	// CGI that prints the client's address.
	script := `set -e
ip=$(ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -n1)
mkdir -p /lo /if/cgi-bin
echo private > /lo/index.html
echo public > /if/index.html
printf '#!/bin/sh\necho "Content-Type: text/plain"\necho\necho "$REMOTE_ADDR"\n' > /if/cgi-bin/addr
chmod +x /if/cgi-bin/addr
httpd -p 127.0.0.1:8080 -h /lo
httpd -p "$ip":8081 -h /if
echo "listening on $ip"
trap 'exit 0' TERM; sleep 300 & wait`
	runDetachedAs(t, u, pulled(t, u, "busybox"), name, []string{"-p", fmt.Sprintf("127.0.0.1:%d:8080", lo), "-p", fmt.Sprintf("127.0.0.1:%d:8081", ifc)}, "sh", "-c", script)
	logs := waitLogsAs(t, u, name, "listening on", 20*time.Second)
	t.Logf("container: %s", strings.TrimSpace(logs))

	// The interface-bound server answers through the published port.
	ifURL := fmt.Sprintf("http://127.0.0.1:%d/", ifc)
	deadline := time.Now().Add(10 * time.Second)
	var body string
	var err error
	for time.Now().Before(deadline) {
		if body, err = portGet(ifURL); err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil || body != "public\n" {
		t.Errorf("server on the container's interface address, published on 127.0.0.1:%d: GET = %q, %v; want %q (Docker forwards to the container's address)", ifc, body, err, "public\n")
	} else if addr, err := portGet(ifURL + "cgi-bin/addr"); err != nil {
		t.Errorf("GET %scgi-bin/addr: %v", ifURL, err)
	} else if a := strings.TrimSpace(addr); a == "127.0.0.1" || a == "::1" || a == "::ffff:127.0.0.1" {
		t.Errorf("the container sees the published connection from %s, its own loopback", a)
	}
	// The loopback-only server stays private.
	if body, err := portGet(fmt.Sprintf("http://127.0.0.1:%d/", lo)); err == nil {
		t.Errorf("a server bound to the container's 127.0.0.1 answers on published port %d (GET = %q): services private to the container are exposed (Docker: connection reset)", lo, body)
	}
}

// TestPortsErrors: a run that cannot publish exits 125 with one "Error: "
// line, starts nothing and binds nothing.
func TestPortsErrors(t *testing.T) {
	parallel(t)
	harness.Requires(t, "slirp4netns")
	img := busybox(t)

	t.Run("in-use", func(t *testing.T) {
		t.Parallel()
		busy, other := netPort(t), netPort(t)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", busy))
		must(t, err)
		defer l.Close()
		for _, spec := range []string{strconv.Itoa(busy) + ":8081", fmt.Sprintf("127.0.0.1:%d:8081", busy)} {
			name := lcName("ports-inuse")
			rmOnCleanup(t, harness.E2E, name)
			r := skiff(t, "run", "-d", "--name", name, "-p", fmt.Sprintf("%d:8080", other), "-p", spec, img, "sleep", "300")
			line := r.ErrorLine(t, runExit, strconv.Itoa(busy), "in use|already allocated")
			t.Logf("-p %s: %s", spec, line)
			if psRunning(t, name) {
				t.Errorf("-p %s with the host port in use: container %s is running", spec, name)
			}
			// The other port of the same run was bound and released, or never bound.
			checkReleased(t, other, "tcp", "the failed run")
			// Our listener still has the port.
			c, err := net.DialTimeout("tcp", l.Addr().String(), 2*time.Second)
			if err != nil {
				t.Errorf("the test's listener on %s stopped accepting: %v", l.Addr(), err)
			} else {
				c.Close()
			}
		}
	})

	t.Run("in-use-by-container", func(t *testing.T) {
		t.Parallel()
		hp := netPort(t)
		first := lcName("ports-first")
		runDetached(t, first, []string{"-p", fmt.Sprintf("%d:8080", hp)}, "sh", "-c", httpdScript("first", 8080))
		url := fmt.Sprintf("http://127.0.0.1:%d/", hp)
		waitHTTP(t, url, served("first", 8080))
		second := lcName("ports-second")
		rmOnCleanup(t, harness.E2E, second)
		r := skiff(t, "run", "-d", "--name", second, "-p", fmt.Sprintf("%d:8080", hp), img, "sleep", "300")
		r.ErrorLine(t, runExit, strconv.Itoa(hp), "in use|already allocated")
		if psRunning(t, second) {
			t.Errorf("second container %s with the same host port is running", second)
		}
		if body, err := portGet(url); err != nil || body != served("first", 8080) {
			t.Errorf("after the failed second run, the first container's port answers %q, %v", body, err)
		}
	})

	t.Run("start-in-use", func(t *testing.T) {
		t.Parallel()
		hp := netPort(t)
		name := lcName("ports-restart")
		runDetached(t, name, []string{"-p", fmt.Sprintf("%d:8080", hp)}, "sh", "-c", httpdScript("again", 8080))
		skiff(t, "stop", "-t", "5", name).OK(t)
		checkReleased(t, hp, "tcp", "stop")
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", hp))
		if err != nil {
			t.Fatalf("binding the released port: %v", err)
		}
		skiff(t, "start", name).ErrorLine(t, errExit, strconv.Itoa(hp), "in use|already allocated")
		if st := stateOf(t, harness.E2E, name); st == "running" {
			t.Errorf("start with its host port taken: container is %s", st)
		}
		l.Close()
		skiff(t, "start", name).OK(t)
		waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", hp), served("again", 8080))
	})

	t.Run("privileged-port", func(t *testing.T) {
		t.Parallel()
		data, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
		must(t, err)
		start, _ := strconv.Atoi(strings.TrimSpace(string(data)))
		if start <= 80 {
			t.Skipf("net.ipv4.ip_unprivileged_port_start is %d: port 80 is not privileged here", start)
		}
		if err := portFree(80, "tcp"); err != nil {
			t.Logf("note: host port 80 is in use here (%v)", err)
		}
		other := netPort(t)
		for _, spec := range []string{"80:80", fmt.Sprintf("127.0.0.1:%d:80", start-1)} {
			name := lcName("ports-priv")
			rmOnCleanup(t, harness.E2E, name)
			r := skiff(t, "run", "-d", "--name", name, "-p", fmt.Sprintf("%d:8080", other), "-p", spec, img, "sleep", "300")
			line := r.ErrorLine(t, runExit, "ip_unprivileged_port_start")
			t.Logf("-p %s: %s", spec, line)
			if psRunning(t, name) {
				t.Errorf("-p %s rootless: container %s is running", spec, name)
			}
			checkReleased(t, other, "tcp", "the failed run")
		}
	})

	// Malformed values: refused before anything is created.
	for _, tc := range []struct{ spec, word string }{
		{"abc", "abc"},
		{"1:2:3:4", "1:2:3:4"},
		{"70000:80", "70000"},
		{"8080:70000", "70000"},
		{"80/sctp", "sctp"},
		{"8080/tcpx", "tcpx"},
		{"999.1.1.1:8080:80", "999.1.1.1"},
		{"8000-8002:80-81", "8000-8002|80-81|range"},
		{"8002-8000:80-82", "8002-8000|range"},
		{"8080:", "8080:"},
		// One host port for two container ports (Docker: "invalid ranges
		// specified for container and host Ports").
		{"28080:80-81", "28080:80-81|80-81|range"},
	} {
		t.Run("malformed "+tc.spec, func(t *testing.T) {
			t.Parallel()
			for _, cmd := range []string{"run", "create"} {
				name := lcName("ports-bad")
				rmOnCleanup(t, harness.E2E, name)
				args := []string{cmd, "--name", name, "-p", tc.spec, img, "true"}
				if cmd == "run" {
					args = append([]string{"run", "-d"}, args[1:]...)
				}
				line := skiff(t, args...).ErrorLine(t, runExit, tc.word)
				t.Logf("%s -p %s: %s", cmd, tc.spec, line)
				if psListed(t, name) {
					t.Errorf("%s -p %s: container %s was created", cmd, tc.spec, name)
				}
			}
		})
	}
}

// TestPortsCleanupAfterRmF: rm -f of a running container with published
// ports, with a client connected through one, leaves no process of the
// container and frees every port; a foreground run --rm frees its ports
// when it exits.
func TestPortsCleanupAfterRmF(t *testing.T) {
	parallel(t)
	harness.Requires(t, "slirp4netns")
	dir := netEchoDir(t)
	tp, up := netPort(t), netPort(t)
	name := lcName("ports-rmf")
	marker := markerSleep()
	id := runDetached(t, name, []string{"-v", dir + ":/h:ro", "-p", fmt.Sprintf("%d:8080", tp), "-p", fmt.Sprintf("%d:8081/udp", up)},
		"sh", "-c", "/h/netecho 8081 & nc -ll -p 8080 -e cat & exec sleep "+marker)
	if _, err := udpExchange(up, "hello", 20*time.Second); err != nil {
		t.Fatalf("UDP before rm -f: %v", err)
	}
	// An open TCP connection through the forwarder to nc's cat.
	var conn net.Conn
	eventually(t, 20*time.Second, "echo through published TCP port", func() (bool, string) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", tp), 2*time.Second)
		if err != nil {
			return false, err.Error()
		}
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte("abc\n")); err != nil {
			c.Close()
			return false, err.Error()
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "abc\n" {
			c.Close()
			return false, fmt.Sprintf("read %q, %v", buf, err)
		}
		conn = c
		return true, ""
	})
	defer conn.Close()
	if len(sleepPIDs(marker)) == 0 {
		t.Errorf("cannot find the container's sleep %s on the host", marker)
	}
	if len(processesOf(id)) == 0 {
		t.Logf("note: no host process names container %s before rm -f", id[:12])
	}
	skiff(t, "rm", "-f", name).OK(t)
	checkReleased(t, tp, "tcp", "rm -f")
	checkReleased(t, up, "udp", "rm -f")
	waitNoProcessesOf(t, id, "rm -f")
	if pids := sleepPIDs(marker); len(pids) != 0 {
		t.Errorf("after rm -f the container's process (sleep %s) lives on: pids %v", marker, pids)
	}
	// The client's connection is closed, not left hanging.
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if n, err := conn.Read(make([]byte, 16)); err == nil {
		t.Errorf("the connection through the removed container's port still reads (%d bytes)", n)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Errorf("the connection through the removed container's port is left open (read timed out, no EOF or reset)")
	}
	if psListed(t, name) {
		t.Errorf("ps -a still lists %s after rm -f", name)
	}

	// Foreground run --rm: the port is free once it exits.
	fp := netPort(t)
	skiff(t, "run", "--rm", "-p", fmt.Sprintf("%d:8080", fp), busybox(t), "true").OK(t)
	checkReleased(t, fp, "tcp", "run --rm")
}

// TestPortsDiscardedWithHostNetwork: -p with --network host is discarded
// with a warning (Docker), and the container's own server answers directly
// on the host's loopback; rm -f frees its port.
func TestPortsDiscardedWithHostNetwork(t *testing.T) {
	parallel(t)
	hp, pp := netPort(t), netPort(t)
	name := lcName("ports-host")
	rmOnCleanup(t, harness.E2E, name)
	r := skiff(t, "run", "-d", "--name", name, "--network", "host", "-p", fmt.Sprintf("%d:8080", pp), busybox(t),
		"sh", "-c", fmt.Sprintf("mkdir -p /www && echo hostnet > /www/index.html && httpd -p 127.0.0.1:%d -h /www && trap 'exit 0' TERM; sleep 300 & wait", hp)).OK(t)
	if !strings.Contains(strings.ToLower(r.Stderr), "discarded") && !strings.Contains(strings.ToLower(r.Stderr), "ignored") {
		t.Errorf("-p with --network host: no warning that the ports are discarded; stderr %q", r.Stderr)
	}
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", hp), "hostnet\n")
	if err := portFree(pp, "tcp"); err != nil {
		t.Errorf("--network host -p %d:8080: host port %d is bound (%v), want discarded", pp, pp, err)
	}
	if out := skiff(t, "port", name).OK(t).Stdout; out != "" {
		t.Errorf("port %s (--network host) = %q, want nothing", name, out)
	}
	skiff(t, "rm", "-f", name).OK(t)
	checkReleased(t, hp, "tcp", "rm -f")
}
