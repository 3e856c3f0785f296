// Package paths says where skiff keeps things for the user it works for:
// data, runtime state and configuration, rootless or as root. It has no
// dependencies beyond the standard library, so the small supervisor
// binary can use it too.
package paths

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// EnvRootlessUID carries the user's real uid to every process skiff
// starts inside the user namespace, which all see themselves as uid 0.
const EnvRootlessUID = "_SKIFF_ROOTLESS_UID"

// Rootless reports whether this process serves an unprivileged user. In
// a process that joined the namespace from C before main, userns knows
// better; every process skiff starts carries EnvRootlessUID.
func Rootless() bool {
	return os.Geteuid() != 0 || os.Getenv(EnvRootlessUID) != ""
}

// UID is the uid of the user skiff works for.
func UID() int {
	if v := os.Getenv(EnvRootlessUID); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return os.Getuid()
}

// RuntimeDir holds pid files, locks and sockets: ${XDG_RUNTIME_DIR}/skiff
// or /tmp/skiff-UID rootless, /run/skiff as root. userns/join.c computes
// the same path.
func RuntimeDir() string { return runtimeDir(Rootless(), UID()) }

// RuntimeDirFor is RuntimeDir for a known rootless state and uid.
func RuntimeDirFor(rootless bool, uid int) string { return runtimeDir(rootless, uid) }

func runtimeDir(rootless bool, uid int) string {
	if !rootless {
		return "/run/skiff"
	}
	if x := os.Getenv("XDG_RUNTIME_DIR"); strings.HasPrefix(x, "/") {
		return filepath.Join(x, "skiff")
	}
	return fmt.Sprintf("/tmp/skiff-%d", uid)
}

// DataDir holds images, containers and volumes:
// ${XDG_DATA_HOME:-~/.local/share}/skiff rootless, /var/lib/skiff as root.
func DataDir() string {
	if !Rootless() {
		return "/var/lib/skiff"
	}
	if x := os.Getenv("XDG_DATA_HOME"); strings.HasPrefix(x, "/") {
		return filepath.Join(x, "skiff")
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		home = fmt.Sprintf("/tmp/skiff-home-%d", UID())
	}
	return filepath.Join(home, ".local", "share", "skiff")
}

// ConfigDir is ${XDG_CONFIG_HOME:-~/.config}/skiff rootless, /etc/skiff as root.
func ConfigDir() string {
	if !Rootless() {
		return "/etc/skiff"
	}
	if x := os.Getenv("XDG_CONFIG_HOME"); strings.HasPrefix(x, "/") {
		return filepath.Join(x, "skiff")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".config", "skiff")
}

// ContainersDir holds one directory per container.
func ContainersDir() string { return filepath.Join(DataDir(), "containers") }

// LibcontainerRoot is libcontainer's state directory.
func LibcontainerRoot() string { return filepath.Join(RuntimeDir(), "libcontainer") }
