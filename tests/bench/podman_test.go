package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// podmanDriver is the storage driver the reference runs with: native
// overlay like skiff's (without a storage.conf rootless Podman falls back
// to vfs, which copies the image's files for every container) unless
// SKIFF_BENCH_PODMAN_DRIVER says otherwise.
func podmanDriver() string {
	if d := os.Getenv("SKIFF_BENCH_PODMAN_DRIVER"); d != "" {
		return d
	}
	return "overlay"
}

// ensurePodman makes podman and runc available, installing Debian's packages
// when either is missing. It returns why Podman cannot be used, or "".
func ensurePodman() string {
	var missing []string
	for _, p := range []struct{ bin, pkg string }{{"podman", "podman"}, {"runc", "runc"}} {
		if _, err := exec.LookPath(p.bin); err != nil {
			missing = append(missing, p.pkg)
		}
	}
	if len(missing) == 0 {
		return ""
	}
	fmt.Printf("bench: installing the reference engine: apt-get install -y %s\n", strings.Join(missing, " "))
	out, err := aptGet(append([]string{"install", "-y"}, missing...)...)
	if err != nil && (strings.Contains(out, "Unable to locate package") || strings.Contains(out, "has no installation candidate") ||
		strings.Contains(out, "404") || strings.Contains(out, "Failed to fetch")) {
		// The package lists are missing or stale: refresh them once.
		if uout, uerr := aptGet("update"); uerr != nil {
			return fmt.Sprintf("apt-get update failed: %v: %s", uerr, lastLines(uout, 5))
		}
		out, err = aptGet(append([]string{"install", "-y"}, missing...)...)
	}
	if err != nil {
		return fmt.Sprintf("apt-get install %s failed: %v: %s", strings.Join(missing, " "), err, lastLines(out, 5))
	}
	for _, bin := range []string{"podman", "runc"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Sprintf("%s is still missing after apt-get install", bin)
		}
	}
	return ""
}

func aptGet(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "apt-get", args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// podmanOutput runs a short podman command as u and returns its stdout.
func podmanOutput(u *harness.User, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := harness.PodmanCommand(ctx, u, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("podman %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// podmanDescription is one line on the reference: version, OCI runtime,
// storage driver and cgroup setup as podman info reports them.
func podmanDescription(u *harness.User) string {
	out, err := podmanOutput(u, "info", "--format",
		"{{.Version.Version}} (runtime {{.Host.OCIRuntime.Name}}, storage {{.Store.GraphDriverName}}, cgroups {{.Host.CgroupsVersion}} {{.Host.CgroupManager}})")
	if err != nil {
		return "podman (podman info failed: " + lastLines(err.Error(), 3) + ")"
	}
	return "podman " + strings.TrimSpace(out)
}
