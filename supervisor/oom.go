package supervisor

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/skiff-project/skiff/paths"
)

// oomKilled reports whether the kernel's OOM killer killed a process of
// container id during its run: the oom_kill counter of its memory
// cgroup (cgroup v1's memory.oom_control, v2's memory.events), found in
// libcontainer's state, read before the clean-up removes the cgroup. A
// container without a cgroup of its own (rootless on cgroup v1) never
// reads as OOM-killed.
func oomKilled(id string) bool {
	data, err := os.ReadFile(filepath.Join(paths.LibcontainerRoot(), id, "state.json"))
	if err != nil {
		return false
	}
	var st struct {
		CgroupPaths map[string]string `json:"cgroup_paths"`
	}
	if json.Unmarshal(data, &st) != nil {
		return false
	}
	if dir := st.CgroupPaths["memory"]; dir != "" {
		return counter(filepath.Join(dir, "memory.oom_control"), "oom_kill") > 0
	}
	if dir := st.CgroupPaths[""]; dir != "" {
		return counter(filepath.Join(dir, "memory.events"), "oom_kill") > 0
	}
	return false
}

// counter reads "KEY N" from a cgroup file of such lines; 0 when absent.
func counter(path, key string) uint64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), " "); ok && k == key {
			n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}
