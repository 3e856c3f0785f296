package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// TestDockerfileGolden records Podman's build of every corpus case as the
// case's podman.json: `make dockerfile-golden`, which sets
// SKIFF_DOCKERFILE_GOLDEN=1 and runs this test alone. It resets the test
// user (Podman's state and skiff's store) before and after, so it never
// runs beside other tests. Podman runs rootless as the e2e user, with
// the configuration tests/bench uses, and builds with --format docker
// (the OCI format has no HEALTHCHECK, SHELL, ONBUILD or STOPSIGNAL).
func TestDockerfileGolden(t *testing.T) {
	if os.Getenv("SKIFF_DOCKERFILE_GOLDEN") != "1" {
		t.Skip("records the corpus's golden files with Podman: make dockerfile-golden")
	}
	harness.Need(t)
	u := harness.E2E
	must(t, harness.CleanPodman(u))
	must(t, harness.ConfigurePodman(u, "overlay"))
	t.Cleanup(func() {
		if err := harness.CleanPodman(u); err != nil {
			t.Error(err)
		}
	})
	bases := podmanBases(t)
	start := time.Now()
	for _, c := range loadCorpus(t) {
		if c.podmanSkip != "" {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			s := podmanBuildCase(t, c, bases)
			data, err := json.MarshalIndent(s, "", "  ")
			must(t, err)
			must(t, os.WriteFile(filepath.Join(c.dir, caseGolden), append(data, '\n'), 0o644))
		})
	}
	t.Logf("podman built and saved the corpus in %s", time.Since(start).Round(time.Millisecond))
}

// podman runs podman as the e2e user and fails the test unless it exits 0.
func podman(t *testing.T, stdin []byte, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := harness.PodmanCommand(ctx, harness.E2E, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(stdin), &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("podman %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// podmanBases gives Podman the corpus's base images under the names the
// Dockerfiles use.
func podmanBases(t *testing.T) corpusBases {
	t.Helper()
	ref := harness.Registry + "/busybox"
	podman(t, nil, "pull", "-q", ref)
	// Short names resolve to localhost/ first in Podman, docker.io in Docker.
	podman(t, nil, "tag", ref, "docker.io/library/busybox:latest", "localhost/busybox:latest")
	rootfs, err := harness.RootfsTar()
	must(t, err)
	podman(t, rootfs, "import", "-q", "-", "docker.io/library/bare:latest")
	podman(t, nil, "tag", "docker.io/library/bare:latest", "localhost/bare:latest")
	var b corpusBases
	for _, name := range []string{"docker.io/library/busybox:latest", "docker.io/library/bare:latest"} {
		var layers []string
		must(t, json.Unmarshal([]byte(podman(t, nil, "image", "inspect", "-f", "{{json .RootFS.Layers}}", name)), &layers))
		b.layers = append(b.layers, layers)
	}
	return b
}

func podmanBuildCase(t *testing.T, c corpusCase, b corpusBases) any {
	t.Helper()
	ctx := corpusContext(t, harness.E2E, c)
	tag := "localhost/conformance-" + strings.ToLower(c.name)
	args := append([]string{"build", "-q", "--format", "docker", "-t", tag}, c.buildArgs...)
	podman(t, nil, append(args, ctx)...)
	out := filepath.Join(harness.UserDir(t, harness.E2E), "image.tar")
	podman(t, nil, "save", "-q", "-o", out, tag)
	podman(t, nil, "rmi", tag)
	return summarize(t, out, b)
}
