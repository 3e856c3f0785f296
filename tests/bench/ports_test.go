package bench

import (
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Throughput of one TCP stream through a published port: the test process
// writes N MiB to 127.0.0.1:HOSTPORT, which the engine forwards into the
// container, where a sink reads and discards them. Compared with the same
// client writing to the same sink over the host's loopback, without
// forwarding, and with Podman's rootless published port.
//
// Like with like: the ratio is the forwarder's cost, so the sink
// must be the same on both sides. The container's sink is busybox's
// nc -ll -e dd. The reference, "loopback", is that same sink in a skiff
// container on --network host, reached over the host's loopback without
// forwarding: the same program, the same kernel path minus the forwarder.
// A Go listener in the test process that reads the same 1 MiB blocks
// ("go-sink") was the reference before; measured here, the busybox sink
// on the host network ran at 0.67 to 1.13 of its speed (five bench runs):
// close on average, but a different program with its own cost and noise,
// which a ratio to it counted as the forwarder's. It is still timed and
// printed, as the ceiling.

const (
	// defaultStreamMiB is the size of one timed stream.
	defaultStreamMiB = 1024
	// slowStreamMiB replaces it when the warm-up says the loop would take
	// more than streamBudget.
	slowStreamMiB = 512
	streamBudget  = 100 * time.Second
	// warmupStreamMiB is the untimed first stream to every sink.
	warmupStreamMiB = 128
	// defaultStreamRuns is how many timed streams each sink gets.
	defaultStreamRuns = 3
	// sinkPort is the container port the sink listens on.
	sinkPort = 5000
	// streamTimeout bounds one stream, from connect to the sink's answer.
	streamTimeout = 3 * time.Minute
	// hostNet names the reference: the busybox sink on the host network.
	hostNet = "loopback"
	// goSinkName names the Go sink in the test process.
	goSinkName = "go-sink"
	// Targets of the issue: skiff at least 0.80 of the loopback, twice
	// Podman.
	targetVsLoopback = 0.80
	targetVsPodman   = 2.0
)

// sinkScript runs in the container for each connection, with the socket as
// its stdin and stdout (busybox nc -ll -e: nc forks and execs it, so no
// relay sits between the socket and dd). dd reads 1 MiB blocks until the
// client's half-close and answers with its counts, "N+M records in", which
// tells the client that every byte arrived (N full MiB, M partial blocks).
const sinkScript = "dd bs=1M iflag=fullblock of=/dev/null 2>&1"

// sinkCommand is the container's command: a persistent nc (-ll) on port
// that runs sinkScript per connection.
func sinkCommand(port int) []string {
	return []string{"nc", "-ll", "-p", strconv.Itoa(port), "-e", "sh", "-c", sinkScript}
}

var recordsIn = regexp.MustCompile(`(\d+)\+(\d+) records in`)

func envInt(name string, def int) (int, bool) {
	if s := os.Getenv(name); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n, true
		}
	}
	return def, false
}

// goSink is the ceiling: a listener on 127.0.0.1 in the test
// process that does what sinkScript does (1 MiB reads, same answer).
type goSink struct {
	l net.Listener
}

func startGoSink() (*goSink, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				buf := make([]byte, 1<<20)
				full, partial := 0, 0
				for {
					n, err := io.ReadFull(c, buf)
					if n == len(buf) {
						full++
					} else if n > 0 {
						partial++
					}
					if err != nil {
						break
					}
				}
				fmt.Fprintf(c, "%d+%d records in\n%d+%d records out\n", full, partial, full, partial)
			}(c)
		}
	}()
	return &goSink{l: l}, nil
}

func (s *goSink) addr() string { return s.l.Addr().String() }
func (s *goSink) Close()       { s.l.Close() }

// streamTo connects to addr, writes mib MiB, half-closes and waits for the
// sink's count. It returns the time from connect to the answer.
func streamTo(addr string, mib int, buf []byte) (time.Duration, error) {
	start := time.Now()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(streamTimeout))
	for i := 0; i < mib; i++ {
		if _, err := c.Write(buf); err != nil {
			return 0, fmt.Errorf("after %d MiB: %w", i, err)
		}
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return 0, err
	}
	answer, err := io.ReadAll(c)
	d := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("reading the sink's answer: %w", err)
	}
	m := recordsIn.FindStringSubmatch(string(answer))
	if m == nil {
		return 0, fmt.Errorf("sink answered %q, want \"N+M records in\"", answer)
	}
	if m[1] != strconv.Itoa(mib) || m[2] != "0" {
		return 0, fmt.Errorf("sink counted %s+%s MiB blocks, want %d+0: bytes were lost", m[1], m[2], mib)
	}
	return d, nil
}

// waitSink probes addr with empty streams until the sink answers "0+0".
func waitSink(addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	var last error
	for time.Now().Before(deadline) {
		if _, last = streamTo(addr, 0, nil); last == nil {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("no sink answering on %s within %s: %v", addr, within, last)
}

// freeLoopbackPort returns a TCP port free on 127.0.0.1 now.
func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func mibPerSec(mib int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(mib) / d.Seconds()
}

func medianRate(rates []float64) float64 {
	v := append([]float64(nil), rates...)
	sort.Float64s(v)
	n := len(v)
	switch {
	case n == 0:
		return 0
	case n%2 == 1:
		return v[n/2]
	default:
		return (v[n/2-1] + v[n/2]) / 2
	}
}

// BenchmarkPortThroughput times one TCP stream of 1 GiB (512 MiB when the
// warm-up shows that would be slow) from the test process into a container
// through its published port (-p 127.0.0.1:H:5000), for skiff and Podman,
// into the same busybox sink in a container on --network host (loopback:
// the reference, no forwarding) and into a Go sink in the test process
// (go-sink, the ceiling). One interleaved loop: an untimed warm-up stream
// to each sink, then SKIFF_BENCH_STREAM_RUNS (default 3) rounds whose
// order rotates; it reports the median MiB/s of each and the ratios
// skiff/loopback, skiff/podman and skiff/go-sink.
func BenchmarkPortThroughput(b *testing.B) {
	f := setup(b)
	runsN, _ := envInt("SKIFF_BENCH_STREAM_RUNS", defaultStreamRuns)
	size, sizeSet := envInt("SKIFF_BENCH_STREAM_MIB", defaultStreamMiB)

	type target struct {
		name, addr string
		rates      []float64
		stderr     stats // warnings of run -d
	}
	lb, err := startGoSink()
	if err != nil {
		b.Fatal(err)
	}
	defer lb.Close()
	targets := []*target{{name: goSinkName, addr: lb.addr()}}

	ids := map[string]*engine{} // container ID -> its engine
	defer func() {
		for id, e := range ids {
			if out, err := runOnce(e, rmForce(e, id)...); err != nil {
				b.Errorf("%s rm -f %s: %v\n%s", e.name, id, err, out)
			}
		}
	}()
	for _, e := range f.engines() {
		port, err := freeLoopbackPort()
		if err != nil {
			b.Fatal(err)
		}
		args := append([]string{"run", "-d", "-p", fmt.Sprintf("127.0.0.1:%d:%d", port, sinkPort), f.image}, sinkCommand(sinkPort)...)
		_, stdout, out, warn, err := timedStdout(e, args...)
		if err != nil {
			b.Fatalf("%s run -d (the sink): %v\n%s", e.name, err, out)
		}
		id := lastLine(stdout)
		if !isHexID(id) {
			b.Fatalf("%s run -d (the sink): no container ID on the last line of stdout %q\nstderr:\n%s", e.name, stdout, warn)
		}
		ids[id] = e
		tg := &target{name: e.name, addr: fmt.Sprintf("127.0.0.1:%d", port)}
		tg.stderr.noteStderr(warn)
		targets = append(targets, tg)
	}
	// The same sink in a skiff container on the host's network, without
	// a published port: what the forwarding costs, apart from the sink.
	{
		port, err := freeLoopbackPort()
		if err != nil {
			b.Fatal(err)
		}
		args := append([]string{"run", "-d", "--network", "host", f.image}, sinkCommand(port)...)
		_, stdout, out, warn, err := timedStdout(f.skiff, args...)
		if err != nil {
			b.Fatalf("skiff run -d --network host (the sink): %v\n%s", err, out)
		}
		id := lastLine(stdout)
		if !isHexID(id) {
			b.Fatalf("skiff run -d --network host (the sink): no container ID in %q\nstderr:\n%s", stdout, warn)
		}
		ids[id] = f.skiff
		tg := &target{name: hostNet, addr: fmt.Sprintf("127.0.0.1:%d", port)}
		tg.stderr.noteStderr(warn)
		targets = append(targets, tg)
	}
	for _, tg := range targets {
		if err := waitSink(tg.addr, 30*time.Second); err != nil {
			b.Fatalf("%s: %v", tg.name, err)
		}
	}

	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i*7 + i>>8)
	}
	// Warm-up, untimed; it also sizes the timed streams.
	var estimate time.Duration
	warm := make([]string, 0, len(targets))
	for _, tg := range targets {
		d, err := streamTo(tg.addr, warmupStreamMiB, buf)
		if err != nil {
			b.Fatalf("%s: warm-up stream of %d MiB: %v", tg.name, warmupStreamMiB, err)
		}
		warm = append(warm, fmt.Sprintf("%s %.0f MiB/s", tg.name, mibPerSec(warmupStreamMiB, d)))
		estimate += time.Duration(float64(d) * float64(size) / warmupStreamMiB)
	}
	estimate *= time.Duration(runsN)
	if !sizeSet && estimate > streamBudget {
		fmt.Printf("    the warm-up (%s) puts %d x %d MiB per sink at about %s: streaming %d MiB instead\n",
			strings.Join(warm, ", "), runsN, size, estimate.Round(time.Second), slowStreamMiB)
		size = slowStreamMiB
	}

	start := time.Now()
	for i := 0; i < runsN; i++ {
		for k := range targets {
			tg := targets[(i+k)%len(targets)]
			d, err := streamTo(tg.addr, size, buf)
			if err != nil {
				b.Fatalf("%s: stream %d of %d MiB: %v", tg.name, i, size, err)
			}
			tg.rates = append(tg.rates, mibPerSec(size, d))
		}
	}
	loopTime := time.Since(start)

	b.ReportMetric(0, "ns/op")
	med := map[string]float64{}
	for _, tg := range targets {
		med[tg.name] = medianRate(tg.rates)
		b.ReportMetric(med[tg.name], strings.ReplaceAll(tg.name, "-", "_")+"_MiB/s")
	}
	line := fmt.Sprintf("TCP stream into a published port (%d MiB, %d runs, median):", size, runsN)
	for _, name := range []string{hostNet, "skiff", "podman"} {
		if v, ok := med[name]; ok {
			line += fmt.Sprintf("  %s %5.0f MiB/s", name, v)
		}
	}
	if f.podman == nil {
		line += "  podman n/a"
	}
	if s := med["skiff"]; s > 0 {
		r := s / med[hostNet]
		line += fmt.Sprintf("   skiff/loopback %.2f (target >= %.2f)", r, targetVsLoopback)
		b.ReportMetric(r, "ratio_loopback")
		if p, ok := med["podman"]; ok && p > 0 {
			r := s / p
			line += fmt.Sprintf("  skiff/podman %.2f (target >= %.2f)", r, targetVsPodman)
			b.ReportMetric(r, "ratio_podman")
		}
	}
	fmt.Println(line)
	if g, h := med[goSinkName], med[hostNet]; g > 0 && h > 0 {
		b.ReportMetric(med["skiff"]/g, "ratio_go_sink")
		fmt.Printf("    loopback is the same busybox sink in a skiff container on the host network (no forwarding); a Go sink in this process reads %.0f MiB/s (the busybox one %.2f of it), skiff %.2f of it\n", g, h/g, med["skiff"]/g)
	}
	var each []string
	for _, tg := range targets {
		var r []string
		for _, v := range tg.rates {
			r = append(r, fmt.Sprintf("%.0f", v))
		}
		each = append(each, tg.name+" "+strings.Join(r, "/"))
	}
	fmt.Printf("    each run, MiB/s: %s   (timed loop %.1f s; warm-up %d MiB: %s)\n", strings.Join(each, "   "), loopTime.Seconds(), warmupStreamMiB, strings.Join(warm, ", "))
	for _, tg := range targets {
		for _, l := range tg.stderr.stderr {
			fmt.Printf("    %s stderr (run -d): %s\n", tg.name, l)
		}
	}
}
