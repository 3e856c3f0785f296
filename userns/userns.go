package userns

/*
extern int skiff_userns_joined;
extern int skiff_userns_uid;
*/
import "C"

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/paths"
)

const (
	pauseArg       = "__skiff_pause"
	envRootlessUID = paths.EnvRootlessUID
	envReexec      = "_SKIFF_USERNS_REEXEC"
)

// Warn receives one-line warnings (no subuid range, …); the CLI sets it.
var Warn = func(string) {}

func init() {
	// A process the C constructor moved into the namespace sees itself as
	// root: record the user at once, so that paths (and every package that
	// asks it) know the truth from the start.
	if joined() {
		_ = os.Setenv(envRootlessUID, strconv.Itoa(int(C.skiff_userns_uid)))
	}
}

// joined reports whether the C constructor moved this process into the
// user's namespace.
func joined() bool { return C.skiff_userns_joined == 1 }

func pidFile() string { return filepath.Join(paths.RuntimeDir(), "pause.pid") }

// Enter makes sure a rootless process runs inside the user's namespace.
// Root returns at once. A process the C constructor already moved into
// the namespace records that and returns. Otherwise the pause process is
// created and this program is executed again, so that the constructor
// joins it; Enter then does not return.
func Enter() error {
	if joined() {
		if singleMapped() {
			r := FreeRange()
			Warn(fmt.Sprintf("no subordinate uid/gid range for %s in /etc/subuid and /etc/subgid: running with a single uid; files of other owners in images will belong to root. Fix: sudo usermod --add-subuids %s --add-subgids %s %s, then skiff system migrate", userName(), r, r, userName()))
		}
		return markInside(paths.UID())
	}
	if os.Geteuid() == 0 && os.Getenv(envRootlessUID) != "" {
		return markInside(paths.UID()) // a child started inside the namespace
	}
	if os.Geteuid() == 0 {
		return nil // real root: no user namespace
	}
	if os.Getenv(envReexec) != "" {
		return fmt.Errorf("joining the user namespace of the pause process (%s) failed after creating it: run skiff system migrate", pidFile())
	}
	if err := ensurePause(); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding skiff's own binary: %w", err)
	}
	env := append(os.Environ(), envReexec+"=1")
	return syscall.Exec(self, os.Args, env)
}

// markInside records the user for the children started from here and
// tells the storage library that it runs rootless inside a namespace.
func markInside(uid int) error {
	for k, v := range map[string]string{
		envRootlessUID:                  strconv.Itoa(uid),
		"_CONTAINERS_USERNS_CONFIGURED": "done",
		"_CONTAINERS_ROOTLESS_UID":      strconv.Itoa(uid),
		envReexec:                       "",
	} {
		if v == "" {
			os.Unsetenv(k)
			continue
		}
		if err := os.Setenv(k, v); err != nil {
			return err
		}
	}
	return nil
}

// singleMapped reports whether this process's user namespace maps one uid.
func singleMapped() bool {
	data, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	f := strings.Fields(lines[0])
	return len(lines) == 1 && len(f) == 3 && f[2] == "1"
}

// SingleMapped reports whether the namespace skiff runs in maps only the
// user's own uid (no /etc/subuid range).
func SingleMapped() bool { return paths.Rootless() && singleMapped() }

// prepareRuntimeDir creates the runtime directory, owned by the user and
// not writable by anybody else.
func prepareRuntimeDir() error {
	dir := paths.RuntimeDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating runtime directory %s: %w", dir, err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return fmt.Errorf("checking runtime directory %s: %w", dir, err)
	}
	if int(st.Uid) != os.Getuid() || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("runtime directory %s is not a directory owned by uid %d: remove it or set XDG_RUNTIME_DIR", dir, os.Getuid())
	}
	if st.Mode&0o077 != 0 {
		return os.Chmod(dir, 0o700)
	}
	return nil
}

// ensurePause creates the pause process unless another invocation did so
// while this one waited for the lock.
func ensurePause() error {
	if err := preflight(); err != nil {
		return err
	}
	if err := prepareRuntimeDir(); err != nil {
		return err
	}
	lock, err := os.OpenFile(filepath.Join(paths.RuntimeDir(), "pause.lock"), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("opening pause lock: %w", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("locking pause lock: %w", err)
	}
	if PausePID() > 0 {
		return nil
	}
	return createPause()
}

// PausePID returns the pid of the user's live pause process, or 0.
func PausePID() int {
	data, err := os.ReadFile(pidFile())
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return 0
	}
	args := strings.Split(string(cmdline), "\x00")
	if len(args) < 2 || args[1] != pauseArg {
		return 0
	}
	return pid
}

func createPause() error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding skiff's own binary: %w", err)
	}
	uidMap, gidMap, single, err := subIDRanges()
	if err != nil {
		return err
	}
	c := exec.Command(self, pauseArg)
	c.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		Setsid:     true,
	}
	if err := c.Start(); err != nil {
		return explainCloneError(err)
	}
	pid := c.Process.Pid
	fail := func(err error) error {
		_ = c.Process.Kill()
		_, _ = c.Process.Wait()
		return err
	}
	if single {
		if err := writeSingleMap(pid); err != nil {
			return fail(err)
		}
	} else {
		if err := runIDMap("newuidmap", pid, uidMap); err != nil {
			return fail(err)
		}
		if err := runIDMap("newgidmap", pid, gidMap); err != nil {
			return fail(err)
		}
	}
	// The pause process is never waited for; it outlives this process.
	_ = c.Process.Release()
	tmp := pidFile() + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)+"\n"), 0o600); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, pidFile()); err != nil {
		return fail(err)
	}
	return nil
}

func writeSingleMap(pid int) error {
	base := fmt.Sprintf("/proc/%d/", pid)
	for _, w := range []struct{ file, data string }{
		{"setgroups", "deny"},
		{"uid_map", fmt.Sprintf("0 %d 1\n", os.Getuid())},
		{"gid_map", fmt.Sprintf("0 %d 1\n", os.Getgid())},
	} {
		if err := os.WriteFile(base+w.file, []byte(w.data), 0); err != nil {
			return fmt.Errorf("writing %s of the pause process: %w", w.file, err)
		}
	}
	return nil
}

func runIDMap(tool string, pid int, ranges []string) error {
	path, err := exec.LookPath(tool)
	if err != nil {
		return fmt.Errorf("%s not found: install Debian's uidmap package (sudo apt-get install uidmap)", tool)
	}
	args := append([]string{strconv.Itoa(pid)}, ranges...)
	out, err := exec.Command(path, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %s: check /etc/subuid and /etc/subgid and that %s is setuid root", tool, strings.Join(args, " "), strings.TrimSpace(string(out)), path)
	}
	return nil
}

// subIDRanges returns newuidmap/newgidmap arguments: 0 → the user, then
// the subordinate ranges from 1 on. single is true when the user has none.
func subIDRanges() (uidMap, gidMap []string, single bool, err error) {
	name := userName()
	uids, err := readSubIDs("/etc/subuid", name, os.Getuid())
	if err != nil {
		return nil, nil, false, err
	}
	gids, err := readSubIDs("/etc/subgid", name, os.Getuid())
	if err != nil {
		return nil, nil, false, err
	}
	if len(uids) == 0 || len(gids) == 0 {
		return nil, nil, true, nil
	}
	build := func(self int, ranges [][2]int) []string {
		out := []string{"0", strconv.Itoa(self), "1"}
		next := 1
		for _, r := range ranges {
			out = append(out, strconv.Itoa(next), strconv.Itoa(r[0]), strconv.Itoa(r[1]))
			next += r[1]
		}
		return out
	}
	return build(os.Getuid(), uids), build(os.Getgid(), gids), false, nil
}

// readSubIDs returns the [start, count] ranges of name (or its uid) in a
// /etc/subuid-style file; a missing file means no ranges.
func readSubIDs(file, name string, uid int) ([][2]int, error) {
	f, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	defer f.Close()
	return parseSubIDs(f, name, uid), nil
}

func parseSubIDs(r io.Reader, name string, uid int) [][2]int {
	var out [][2]int
	s := bufio.NewScanner(r)
	for s.Scan() {
		parts := strings.Split(strings.TrimSpace(s.Text()), ":")
		if len(parts) != 3 || (parts[0] != name && parts[0] != strconv.Itoa(uid)) {
			continue
		}
		start, err1 := strconv.Atoi(parts[1])
		count, err2 := strconv.Atoi(parts[2])
		if err1 != nil || err2 != nil || count <= 0 {
			continue
		}
		out = append(out, [2]int{start, count})
	}
	return out
}

// SubUIDFile and SubGIDFile are the host's subordinate id files.
const (
	SubUIDFile = "/etc/subuid"
	SubGIDFile = "/etc/subgid"
)

// SubIDEntry is one OWNER:START:COUNT line of /etc/subuid or /etc/subgid.
type SubIDEntry struct {
	Owner        string
	Start, Count int
}

// End is the first id after the range.
func (e SubIDEntry) End() int { return e.Start + e.Count }

// ReadSubIDFile returns every entry of a /etc/subuid-style file; a missing
// file has none.
func ReadSubIDFile(file string) ([]SubIDEntry, error) {
	f, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	defer f.Close()
	return ParseSubIDFile(f), nil
}

// ParseSubIDFile parses the lines with numeric START and COUNT fields, as
// install.sh's free_range reads them.
func ParseSubIDFile(r io.Reader) []SubIDEntry {
	var out []SubIDEntry
	s := bufio.NewScanner(r)
	for s.Scan() {
		parts := strings.Split(strings.TrimSpace(s.Text()), ":")
		if len(parts) < 3 {
			continue
		}
		start, err1 := strconv.Atoi(parts[1])
		count, err2 := strconv.Atoi(parts[2])
		if err1 != nil || err2 != nil || start < 0 || count < 0 {
			continue
		}
		out = append(out, SubIDEntry{Owner: parts[0], Start: start, Count: count})
	}
	return out
}

// IDRange is a range of ids to suggest: Start..Start+Count-1.
type IDRange struct{ Start, Count int }

// String is usermod's --add-subuids form: FIRST-LAST.
func (r IDRange) String() string { return fmt.Sprintf("%d-%d", r.Start, r.Start+r.Count-1) }

// FreeRangeSize is the size of a suggested range: a full 16-bit uid space.
const FreeRangeSize = 65536

// FreeRangeIn is the first range of FreeRangeSize ids starting at 100000
// or later that overlaps none of entries (install.sh's free_range computes
// the same).
func FreeRangeIn(entries []SubIDEntry) IDRange {
	start := 100000
	for moved := true; moved; {
		moved = false
		for _, e := range entries {
			if start < e.End() && start+FreeRangeSize > e.Start {
				start, moved = e.End(), true
			}
		}
	}
	return IDRange{Start: start, Count: FreeRangeSize}
}

// FreeRange is FreeRangeIn over /etc/subuid and /etc/subgid together, so
// that one range fits both --add-subuids and --add-subgids. It is the
// range the warning, skiff system doctor and install.sh suggest.
func FreeRange() IDRange {
	var all []SubIDEntry
	for _, f := range []string{SubUIDFile, SubGIDFile} {
		e, _ := ReadSubIDFile(f)
		all = append(all, e...)
	}
	return FreeRangeIn(all)
}

func userName() string {
	if u, err := user.LookupId(strconv.Itoa(paths.UID())); err == nil {
		return u.Username
	}
	if n := os.Getenv("USER"); n != "" {
		return n
	}
	return strconv.Itoa(paths.UID())
}

// preflight names the host setting that stops unprivileged user
// namespaces before trying to create one.
func preflight() error {
	if data, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err == nil && strings.TrimSpace(string(data)) == "0" {
		return errors.New("user namespaces are disabled (user.max_user_namespaces = 0): run sudo sysctl -w user.max_user_namespaces=28633")
	}
	if data, err := os.ReadFile("/proc/sys/kernel/unprivileged_userns_clone"); err == nil && strings.TrimSpace(string(data)) == "0" {
		return errors.New("unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0): run sudo sysctl -w kernel.unprivileged_userns_clone=1")
	}
	return nil
}

func explainCloneError(err error) error {
	if data, rerr := os.ReadFile("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"); rerr == nil && strings.TrimSpace(string(data)) == "1" {
		return fmt.Errorf("creating a user namespace: %w: AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1): allow skiff with an AppArmor profile or run sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0", err)
	}
	return fmt.Errorf("creating a user namespace: %w: check that unprivileged user namespaces are allowed on this host", err)
}

// Reset ends the user's pause process so that the next invocation creates
// a fresh namespace (skiff system migrate). It must be called outside the
// namespace or by a process that is about to exit.
func Reset() error {
	pid := PausePID()
	if pid == 0 {
		_ = os.Remove(pidFile())
		return nil
	}
	if err := unix.Kill(pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("stopping pause process %d: %w", pid, err)
	}
	for i := 0; i < 100; i++ {
		if unix.Kill(pid, 0) != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = os.Remove(pidFile())
	return nil
}
