package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Podman, the reference engine of the benchmarks and of the Dockerfile
// corpus's golden files: Debian's podman (4.3.1 on bookworm) with runc,
// rootless as a test user, configured below. crun fails on this host's
// hybrid cgroups, and there is no systemd user session, hence runc,
// cgroupfs and the file events logger.
const podmanContainersConf = `# Written by skiff's tests (tests/harness); removed when they end.
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
`

// podmanStorageConf picks Podman's storage driver. Without a storage.conf
// (Debian ships none) rootless Podman falls back to vfs.
const podmanStorageConf = `# Written by skiff's tests (tests/harness); removed when they end.
[storage]
driver = %q
`

// podmanRegistriesConf marks the harness's plain-HTTP loopback registry insecure.
const podmanRegistriesConf = `# Written by skiff's tests (tests/harness); removed when they end.
[[registry]]
location = %q
insecure = true
`

// PodmanDirs are the places rootless Podman keeps state for u (without
// XDG_RUNTIME_DIR, as the harness runs everything): store, configuration,
// cache, and the runtime directories of its fallbacks.
func PodmanDirs(u *User) []string {
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

// CleanPodman removes Podman's state for u: it ends every process of the
// user (Podman's pause process, conmon, containers) and deletes its
// directories as root (the store holds files of subordinate uids).
func CleanPodman(u *User) error {
	present := false
	for _, d := range PodmanDirs(u) {
		if _, err := os.Lstat(d); err == nil {
			present = true
		}
	}
	if !present {
		return nil
	}
	// Kills the user's processes (Podman's included) and removes skiff's store.
	if err := CleanUser(u); err != nil {
		return err
	}
	var errs []error
	for _, d := range PodmanDirs(u) {
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, fmt.Errorf("removing podman state %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}

// ConfigurePodman writes u's Podman configuration, with the given
// storage driver, and the harness's registry as insecure.
func ConfigurePodman(u *User, driver string) error {
	files := map[string]string{
		"containers.conf": podmanContainersConf,
		"registries.conf": fmt.Sprintf(podmanRegistriesConf, Registry),
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

// PodmanCommand runs podman as u with the environment skiff gets.
func PodmanCommand(ctx context.Context, u *User, args ...string) *exec.Cmd {
	path, err := exec.LookPath("podman")
	if err != nil {
		path = "/usr/bin/podman"
	}
	return UserCommandContext(ctx, u, path, args...)
}

// UserCommandContext is UserCommand killed when ctx ends.
func UserCommandContext(ctx context.Context, u *User, path string, args ...string) *exec.Cmd {
	tmpl := Command(u)
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env, cmd.Dir, cmd.SysProcAttr = tmpl.Env, tmpl.Dir, tmpl.SysProcAttr
	return cmd
}
