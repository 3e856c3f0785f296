// Package judges runs testcontainers-go, a client of the Docker Engine API
// that nobody here wrote, against skiff's service (`skiff system service`,
// started by the harness as the unprivileged test user). It is its own Go
// module so that skiff's go.mod does not carry testcontainers' dependencies.
//
// Run as root (the harness creates the test users):
//
//	make build && cd tests/judges && go test ./...
package judges

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/skiff-project/skiff/tests/harness"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

// useService points testcontainers at the e2e user's service. The test
// process (root) connects to the user's socket; the containers are the
// user's, rootless. There is no Docker Hub here, so no Ryuk reaper: each
// test terminates its containers itself.
func useService(t *testing.T) *harness.Service {
	t.Helper()
	harness.Need(t)
	harness.Requires(t, "unprivileged-userns")
	harness.Requires(t, "newuidmap")
	s := harness.StartService(t, harness.E2E)
	t.Setenv("DOCKER_HOST", s.Host)
	t.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	// This machine is itself a container (/.dockerenv): testcontainers
	// would then reach published ports through the default network's
	// gateway, as from a sibling container. They are on this host's
	// loopback, where they are on any host that is not a container.
	t.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "localhost")
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // no credentials of root's
	return s
}

// gone checks through skiff's own CLI that the container no longer exists.
func gone(t *testing.T, id string) {
	t.Helper()
	r := harness.RunAs(t, harness.E2E, "ps", "-a", "-q", "--no-trunc", "--filter", "id="+id).OK(t)
	if r.Stdout != "" {
		t.Errorf("after Terminate, skiff ps -a still lists %s", id)
	}
}

func TestTestcontainersWaitForLogAndPort(t *testing.T) {
	useService(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	image := harness.Registry + "/busybox:latest"
	c, err := testcontainers.Run(ctx, image,
		testcontainers.WithCmd("sh", "-c", "mkdir -p /www && echo tc-hello > /www/index.html && echo serving now; trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait"),
		testcontainers.WithExposedPorts("8080/tcp"),
		testcontainers.WithWaitStrategyAndDeadline(90*time.Second,
			wait.ForLog("serving now"),
			wait.ForListeningPort("8080/tcp"),
		),
	)
	if c != nil {
		defer func() {
			if err := c.Terminate(context.Background()); err != nil {
				t.Errorf("Terminate: %v", err)
			}
			gone(t, c.GetContainerID())
		}()
	}
	if err != nil {
		t.Fatalf("testcontainers.Run %s with wait.ForLog and wait.ForListeningPort: %v", image, err)
	}
	endpoint, err := c.PortEndpoint(ctx, "8080/tcp", "http")
	if err != nil {
		t.Fatalf("PortEndpoint: %v", err)
	}
	client := http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(endpoint + "/")
	if err != nil {
		t.Fatalf("GET %s: %v", endpoint, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "tc-hello\n" {
		t.Errorf("GET %s: %s %q, want 200 tc-hello", endpoint, resp.Status, body)
	}
	// Logs and Exec through the library.
	rc, err := c.Logs(ctx)
	if err != nil {
		t.Fatalf("Logs: %v", err)
	}
	logs, _ := io.ReadAll(rc)
	rc.Close()
	if !strings.Contains(string(logs), "serving now") {
		t.Errorf("Logs: %q", logs)
	}
	code, out, err := c.Exec(ctx, []string{"sh", "-c", "cat /www/index.html; exit 2"})
	if err != nil {
		t.Fatalf("Exec: %v", err)
	}
	outb, _ := io.ReadAll(out)
	if code != 2 || !strings.Contains(string(outb), "tc-hello") {
		t.Errorf("Exec: exit %d output %q, want 2 and tc-hello", code, outb)
	}
	st, err := c.State(ctx)
	if err != nil || !st.Running {
		t.Errorf("State: %+v %v, want running", st, err)
	}
}

func TestTestcontainersWaitForExit(t *testing.T) {
	useService(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := testcontainers.Run(ctx, harness.Registry+"/busybox:latest",
		testcontainers.WithCmd("sh", "-c", "echo finishing; exit 3"),
		testcontainers.WithWaitStrategyAndDeadline(60*time.Second, wait.ForExit()),
	)
	if c != nil {
		defer func() {
			if err := c.Terminate(context.Background()); err != nil {
				t.Errorf("Terminate: %v", err)
			}
			gone(t, c.GetContainerID())
		}()
	}
	if err != nil {
		t.Fatalf("testcontainers.Run with wait.ForExit: %v", err)
	}
	st, err := c.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Running || st.ExitCode != 3 {
		t.Errorf("State after wait.ForExit: %s", fmt.Sprintf("%+v", *st))
	}
}
