package bench

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// The Docker API benchmarks: the docker CLI against skiff's service and
// against `podman system service`, each service run as the test user.

const (
	// apiTargetRun and apiTargetPs are the targets for the ratios.
	apiTargetRun = 0.5
	apiTargetPs  = 0.3
	// activationRuns is how many socket-activated starts are timed.
	activationRuns = 5
)

// apiService is one engine's API service, for the docker CLI.
type apiService struct {
	name, socket string
	cmd          *exec.Cmd
}

// startAPIService runs `ENGINE system service --time 0 unix://SOCK` as the
// test user and waits for /_ping.
func startAPIService(b *testing.B, name string, binary, dir string) *apiService {
	b.Helper()
	u := harness.E2E
	s := &apiService{name: name, socket: filepath.Join(dir, name+".sock")}
	s.cmd = harness.UserCommandContext(context.Background(), u, binary, "system", "service", "--time", "0", "unix://"+s.socket)
	out, _ := os.CreateTemp("", "skiff-bench-svc-")
	defer out.Close()
	s.cmd.Stdout, s.cmd.Stderr = out, out
	if err := s.cmd.Start(); err != nil {
		b.Fatalf("starting %s's service: %v", name, err)
	}
	b.Cleanup(func() {
		_ = s.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
		}
		os.Remove(out.Name())
	})
	if _, err := pingUntil(s.socket, 20*time.Second); err != nil {
		log, _ := os.ReadFile(out.Name())
		b.Fatalf("%s's service did not answer /_ping: %v\n%s", name, err, log)
	}
	return s
}

// pingUntil asks GET /_ping until it answers 200 and returns how long the
// first answer took from the first try.
func pingUntil(socket string, limit time.Duration) (time.Duration, error) {
	start := time.Now()
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", socket)
	}}, Timeout: limit}
	defer c.CloseIdleConnections()
	var last error
	for time.Since(start) < limit {
		resp, err := c.Get("http://d/_ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(start), nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		last = err
		time.Sleep(20 * time.Millisecond)
	}
	return 0, fmt.Errorf("no answer within %s: %v", limit, last)
}

// dockerEngine is the docker CLI pointed at a service, as an engine of the
// interleaved loops.
func dockerEngine(b *testing.B, s *apiService, config string) *engine {
	docker, err := exec.LookPath("docker")
	if err != nil {
		b.Skipf("no docker CLI: %v", err)
	}
	return &engine{name: s.name, command: func(ctx context.Context, args ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, docker, args...)
		cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+s.socket, "DOCKER_CONFIG="+config, "DOCKER_BUILDKIT=0", "DOCKER_CLI_HINTS=false")
		return cmd
	}}
}

// BenchmarkAPI times the docker CLI through each engine's API service:
// `docker run --rm busybox true`, `docker ps -a` over 200 created
// containers, the services' idle memory, and how long a socket-activated
// service takes from the first connection to its first answer.
func BenchmarkAPI(b *testing.B) {
	f := setup(b)
	if f.podman == nil {
		b.Skipf("podman is unavailable (%s): the API benchmarks compare with its service", f.missing)
	}
	dir, err := os.MkdirTemp("", "skiff-bench-api-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chown(dir, harness.E2E.UID, harness.E2E.GID); err != nil {
		b.Fatal(err)
	}
	config := filepath.Join(dir, "docker-config")
	if err := os.Mkdir(config, 0o700); err != nil {
		b.Fatal(err)
	}
	podmanPath, _ := exec.LookPath("podman")
	services := []*apiService{startAPIService(b, "skiff", harness.Binary, dir), startAPIService(b, "podman", podmanPath, dir)}
	engines := []*engine{dockerEngine(b, services[0], config), dockerEngine(b, services[1], config)}

	res := map[string]*stats{"skiff": {}, "podman": {}}
	n := runs()
	for i := -warmups; i < n; i++ {
		for _, e := range inOrder(engines, i) {
			d, out, warn, err := timed(e, "run", "--rm", f.image, "true")
			if err != nil {
				b.Fatalf("docker → %s: run --rm, run %d: %v\n%s", e.name, i, err, out)
			}
			res[e.name].noteStderr(warn)
			if i >= 0 {
				res[e.name].samples = append(res[e.name].samples, d)
			}
		}
	}
	reportAs(b, "docker run --rm busybox true (API)", "_api_run", apiTargetRun, res)

	// ps -a over 200 containers, created with each engine's own CLI.
	ids := map[string][]string{}
	defer func() {
		for _, e := range f.engines() {
			list := ids[e.name]
			for len(list) > 0 {
				k := min(rmBatch, len(list))
				_, _ = runOnce(e, rmForce(e, list[:k]...)...)
				list = list[k:]
			}
		}
	}()
	for _, e := range f.engines() {
		created, err := createMany(e, f.image, psContainers)
		ids[e.name] = created
		if err != nil {
			b.Fatalf("%s create: %v", e.name, err)
		}
	}
	res = map[string]*stats{"skiff": {}, "podman": {}}
	for i := -warmups; i < n; i++ {
		for _, e := range inOrder(engines, i) {
			d, stdout, out, _, err := timedStdout(e, "ps", "-a", "-q")
			if err != nil {
				b.Fatalf("docker → %s: ps -a, run %d: %v\n%s", e.name, i, err, out)
			}
			if got := len(strings.Fields(stdout)); got != psContainers {
				b.Fatalf("docker → %s: ps -a -q lists %d containers, want %d", e.name, got, psContainers)
			}
			if i >= 0 {
				res[e.name].samples = append(res[e.name].samples, d)
			}
		}
	}
	reportAs(b, fmt.Sprintf("docker ps -a (%d containers, API)", psContainers), "_api_ps", apiTargetPs, res)

	// Idle memory of the services after that work.
	time.Sleep(monitorSettle)
	var rss [2]memInfo
	for i, s := range services {
		if rss[i], err = readMem(s.cmd.Process.Pid); err != nil {
			b.Fatalf("%s service memory: %v", s.name, err)
		}
	}
	fmt.Printf("API service idle memory: skiff RSS %6.2f MiB (Pss %6.2f, %d threads)   podman RSS %6.2f MiB (Pss %6.2f, %d threads)   ratio %.2f\n",
		mib(rss[0].rss), mib(rss[0].pss), rss[0].threads, mib(rss[1].rss), mib(rss[1].pss), rss[1].threads, float64(rss[0].rss)/float64(rss[1].rss))
	b.ReportMetric(float64(rss[0].rss), "skiff_api_rss_kib")
	b.ReportMetric(float64(rss[1].rss), "podman_api_rss_kib")

	// Socket activation: from the first connection to the first answer.
	act := map[string]*stats{"skiff": {}, "podman": {}}
	bins := map[string]string{"skiff": harness.Binary, "podman": podmanPath}
	for i := 0; i < activationRuns; i++ {
		for _, name := range inOrderNames([]string{"skiff", "podman"}, i) {
			d, err := activatedStart(dir, name, bins[name])
			if err != nil {
				b.Fatalf("%s socket-activated start: %v", name, err)
			}
			act[name].samples = append(act[name].samples, d)
		}
	}
	reportAs(b, "socket activation to first answer", "_api_activation", 0, act)
}

func inOrderNames(names []string, i int) []string {
	if i%2 != 0 {
		return []string{names[1], names[0]}
	}
	return names
}

// activatedStart starts the service under systemd-socket-activate (which
// listens and starts it on the first connection, as systemd does), times
// GET /_ping from the connection to the answer, and waits for the idle
// service to exit.
func activatedStart(dir, name, binary string) (time.Duration, error) {
	sock := filepath.Join(dir, name+"-act.sock")
	os.Remove(sock)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := harness.UserCommandContext(ctx, harness.E2E, "systemd-socket-activate", "-l", sock, binary, "system", "service", "--time", "1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	// It says "Listening on …" once the socket is there.
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "Listening on") {
			break
		}
	}
	go func() {
		for sc.Scan() {
		}
	}()
	return pingUntil(sock, 30*time.Second)
}
