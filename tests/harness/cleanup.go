package harness

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// CleanUser returns u to a fresh state: it kills the user's skiff processes
// and containers, lazily unmounts whatever is mounted under the user's home
// and runtime directory (root: skiff's directories), and removes skiff's
// data, runtime and config directories. Rootless data belongs to subordinate
// ids, so this runs as root. It also ends whatever a developer runs by hand
// as the test users.
func CleanUser(u *User) error {
	killUserProcesses(u)
	dirs := []string{u.DataDir(), u.RuntimeDir(), u.ConfigDir()}
	if u.IsRoot() {
		unmountUnder(dirs)
		removeRootBridges()
	} else {
		unmountUnder([]string{u.Home, u.RuntimeDir()})
	}
	var errs []error
	for _, d := range dirs {
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, fmt.Errorf("cleaning %s's %s: %w", u.Name, d, err))
		}
	}
	return errors.Join(errs...)
}

// removeRootBridges deletes the bridges root skiff made in the host's
// namespace (skb-*) and the iptables rules naming them. Their networks'
// records go with /var/lib/skiff, and a stale bridge of the default
// network keeps a route to 10.88.0.0/16 that would catch the replies
// meant for the next run's containers.
func removeRootBridges() {
	for _, table := range []string{"filter", "nat"} {
		out, err := exec.Command("/usr/sbin/iptables", "-w", "-t", table, "-S").Output()
		if err != nil {
			continue // no iptables: root never made a bridge's rules
		}
		for _, rule := range strings.Split(string(out), "\n") {
			args := strings.Fields(rule)
			if len(args) < 2 || args[0] != "-A" || !strings.Contains(rule, "skb-") {
				continue
			}
			args[0] = "-D"
			for i, a := range args { // -S quotes comments ("skiff:ID"); none has a space
				args[i] = strings.Trim(a, `"`)
			}
			_ = exec.Command("/usr/sbin/iptables", append([]string{"-w", "-t", table}, args...)...).Run()
		}
	}
	links, _ := net.Interfaces()
	for _, l := range links {
		if strings.HasPrefix(l.Name, "skb-") {
			_ = exec.Command("/usr/sbin/ip", "link", "del", l.Name).Run()
		}
	}
}

// proc is one process of the host as /proc shows it.
type proc struct {
	pid, ppid, uid int
	exe            string
}

func listProcs() []proc {
	entries, _ := os.ReadDir("/proc")
	var out []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		p := proc{pid: pid, uid: -1, ppid: -1}
		for _, l := range strings.Split(string(status), "\n") {
			f := strings.Fields(l)
			if len(f) < 2 {
				continue
			}
			switch f[0] {
			case "Uid:":
				p.uid, _ = strconv.Atoi(f[1])
			case "PPid:":
				p.ppid, _ = strconv.Atoi(f[1])
			}
		}
		p.exe, _ = os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		out = append(out, p)
	}
	return out
}

// killUserProcesses SIGKILLs the processes skiff started for u: rootless,
// those running as the user or one of its subordinate uids (containers run
// as those); in every mode, the installed skiff binary's processes and all
// their descendants. It never touches its own process.
func killUserProcesses(u *User) {
	self := os.Getpid()
	for round := 0; round < 10; round++ {
		procs := listProcs()
		children := map[int][]int{}
		for _, p := range procs {
			children[p.ppid] = append(children[p.ppid], p.pid)
		}
		victims := map[int]bool{}
		var mark func(int)
		mark = func(pid int) {
			if pid == self || pid <= 1 || victims[pid] {
				return
			}
			victims[pid] = true
			for _, c := range children[pid] {
				mark(c)
			}
		}
		for _, p := range procs {
			ours := Binary != "" && strings.TrimSuffix(p.exe, " (deleted)") == Binary
			if ours && (u.IsRoot() || p.uid == u.UID || u.SubUID.Contains(p.uid)) {
				mark(p.pid)
			}
			if !u.IsRoot() && (p.uid == u.UID || u.SubUID.Contains(p.uid)) {
				mark(p.pid)
			}
		}
		if len(victims) == 0 {
			return
		}
		for pid := range victims {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// unmountUnder lazily unmounts every mount in the host mount namespace whose
// mount point is inside one of dirs, deepest first.
func unmountUnder(dirs []string) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return
	}
	defer f.Close()
	var points []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMountPath(fields[4])
		for _, d := range dirs {
			if mp == d || strings.HasPrefix(mp, d+"/") {
				points = append(points, mp)
				break
			}
		}
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	for _, p := range points {
		_ = syscall.Unmount(p, syscall.MNT_DETACH)
	}
}

// unescapeMountPath undoes mountinfo's octal escapes (\040 for space...).
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// MountsUnder returns the mount points of pid's mount namespace that lie
// under dir, with their filesystem types ("overlay /home/x/...").
func MountsUnder(pid int, dir string) ([]string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		fields := strings.Fields(l)
		if len(fields) < 10 {
			continue
		}
		mp := unescapeMountPath(fields[4])
		if mp != dir && !strings.HasPrefix(mp, dir+"/") {
			continue
		}
		fstype := ""
		for i, f := range fields {
			if f == "-" && i+1 < len(fields) {
				fstype = fields[i+1]
				break
			}
		}
		out = append(out, fstype+" "+mp)
	}
	return out, nil
}

// PausePID finds the pid of u's pause process (the keeper of the shared user
// namespace) from its pid file in the runtime directory.
func PausePID(u *User) (int, error) {
	rt := u.RuntimeDir()
	var candidates []string
	_ = filepath.WalkDir(rt, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && strings.Count(strings.TrimPrefix(path, rt), "/") >= 2 {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.Contains(d.Name(), "pause") && strings.HasSuffix(d.Name(), ".pid") {
			candidates = append(candidates, path)
		}
		return nil
	})
	if len(candidates) == 0 {
		var names []string
		_ = filepath.WalkDir(rt, func(path string, d os.DirEntry, err error) error {
			if err == nil {
				names = append(names, path)
			}
			return nil
		})
		return 0, fmt.Errorf("no pause pid file (*pause*.pid) in %s; it holds: %s", rt, strings.Join(names, " "))
	}
	data, err := os.ReadFile(candidates[0])
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 0, fmt.Errorf("pid file %s: %q is not a pid", candidates[0], data)
	}
	return pid, nil
}

// ProcessAlive reports whether pid exists and is not a zombie.
func ProcessAlive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
