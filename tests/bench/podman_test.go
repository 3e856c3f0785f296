package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// Podman is the reference engine: Debian's podman (4.3.1 on bookworm) with
// runc, rootless as the same test user, configured below. crun fails on this
// host's hybrid cgroups, and there is no systemd user session, hence runc,
// cgroupfs and the file events logger.
const podmanContainersConf = `# Written by skiff's benchmarks (tests/bench); removed when they end.
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
`

// podmanStorageConf picks Podman's storage driver. Without a storage.conf
// (Debian ships none) rootless Podman falls back to vfs, which copies the
// image's files for every container; skiff uses native overlay, so the
// reference does too unless SKIFF_BENCH_PODMAN_DRIVER says otherwise.
const podmanStorageConf = `# Written by skiff's benchmarks (tests/bench); removed when they end.
[storage]
driver = %q
`

// podmanDriver is the storage driver the reference runs with.
func podmanDriver() string {
	if d := os.Getenv("SKIFF_BENCH_PODMAN_DRIVER"); d != "" {
		return d
	}
	return "overlay"
}

// podmanRegistriesConf marks the harness's plain-HTTP loopback registry insecure.
const podmanRegistriesConf = `# Written by skiff's benchmarks (tests/bench); removed when they end.
[[registry]]
location = %q
insecure = true
`

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

// podmanDirs are the places rootless Podman keeps state for u (without
// XDG_RUNTIME_DIR, as the harness runs everything): store, configuration,
// cache, and the runtime directories of its fallbacks.
func podmanDirs(u *harness.User) []string {
	return []string{
		filepath.Join(u.Home, ".local", "share", "containers"),
		filepath.Join(u.Home, ".config", "containers"),
		filepath.Join(u.Home, ".config", "cni"),
		filepath.Join(u.Home, ".cache", "containers"),
		fmt.Sprintf("/tmp/podman-run-%d", u.UID),
		fmt.Sprintf("/tmp/containers-user-%d", u.UID),
		fmt.Sprintf("/tmp/storage-run-%d", u.UID),
		fmt.Sprintf("/tmp/run-%d", u.UID),
		fmt.Sprintf("/run/user/%d/containers", u.UID),
		fmt.Sprintf("/run/user/%d/libpod", u.UID),
	}
}

// cleanPodman removes Podman's state for u: it ends every process of the
// user (Podman's pause process, conmon, containers) and deletes its
// directories as root (the store holds files of subordinate uids).
func cleanPodman(u *harness.User) error {
	present := false
	for _, d := range podmanDirs(u) {
		if _, err := os.Lstat(d); err == nil {
			present = true
		}
	}
	if !present {
		return nil
	}
	// Kills the user's processes (Podman's included) and removes skiff's store.
	if err := harness.CleanUser(u); err != nil {
		return err
	}
	var errs []error
	for _, d := range podmanDirs(u) {
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, fmt.Errorf("removing podman state %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}

// configurePodman writes u's Podman configuration for the benchmarks, with
// the given storage driver.
func configurePodman(u *harness.User, driver string) error {
	files := map[string]string{
		"containers.conf": podmanContainersConf,
		"registries.conf": fmt.Sprintf(podmanRegistriesConf, harness.Registry),
		"storage.conf":    fmt.Sprintf(podmanStorageConf, driver),
	}
	dirs := []string{filepath.Join(u.Home, ".config"), filepath.Join(u.Home, ".config", "containers")}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
		if err := os.Chown(d, u.UID, u.GID); err != nil {
			return err
		}
	}
	for name, content := range files {
		p := filepath.Join(dirs[1], name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
		if err := os.Chown(p, u.UID, u.GID); err != nil {
			return err
		}
	}
	return nil
}

// podmanCommand runs podman as u with the environment skiff gets.
func podmanCommand(ctx context.Context, u *harness.User, args ...string) *exec.Cmd {
	path, err := exec.LookPath("podman")
	if err != nil {
		path = "/usr/bin/podman"
	}
	return userCommand(ctx, u, path, args...)
}

// userCommand runs path as u the way the harness runs skiff (same
// credentials, environment and working directory), killed when ctx ends.
func userCommand(ctx context.Context, u *harness.User, path string, args ...string) *exec.Cmd {
	tmpl := harness.Command(u)
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env, cmd.Dir, cmd.SysProcAttr = tmpl.Env, tmpl.Dir, tmpl.SysProcAttr
	return cmd
}

// podmanOutput runs a short podman command as u and returns its stdout.
func podmanOutput(u *harness.User, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := podmanCommand(ctx, u, args...)
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
