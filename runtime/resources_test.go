package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/libcontainer/configs"

	"github.com/skiff-project/skiff/container"
)

// fakeTree writes files (path → content) under a temporary cgroup root.
func fakeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, data := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestCgroupSupport(t *testing.T) {
	v1 := fakeTree(t, map[string]string{
		"memory/memory.limit_in_bytes": "", "memory/memory.memsw.limit_in_bytes": "", "memory/memory.soft_limit_in_bytes": "",
		"memory/memory.swappiness": "", "memory/memory.oom_control": "", "pids/cgroup.procs": "", "cpu/cpu.shares": "",
		"cpu/cpu.cfs_quota_us": "", "cpu/cpu.rt_runtime_us": "", "cpuset/cpuset.cpus": "",
		"blkio/blkio.throttle.read_bps_device": "", "blkio/blkio.throttle.write_iops_device": "",
	})
	delegated := fakeTree(t, map[string]string{
		"cgroup.controllers": "cpuset cpu io memory hugetlb pids rdma misc",
		"user.slice/user-1000.slice/user@1000.service/cgroup.controllers": "memory pids",
	})
	tests := []struct {
		name string
		h    cgroupHost
		want CgroupSupport
	}{
		{"v1 root: what the files say (no blkio weight here)", cgroupHost{root: v1},
			CgroupSupport{Memory: true, Swap: true, MemoryReservation: true, Swappiness: true, OomKillDisable: true,
				Pids: true, CPUShares: true, CPUCfs: true, CPURealtime: true, Cpuset: true, BlkioReadBps: true, BlkioWriteIOps: true}},
		{"v1 rootless: nothing, and why", cgroupHost{root: v1, rootless: true, uid: 1000},
			CgroupSupport{Unavailable: unavailableV1}},
		{"v2 root: the root's controllers, never swappiness, the OOM switch or real-time", cgroupHost{root: delegated, v2: true},
			CgroupSupport{V2: true, Memory: true, Swap: true, MemoryReservation: true, Pids: true, CPUShares: true, CPUCfs: true,
				Cpuset: true, BlkioWeight: true, BlkioWeightDevice: true, BlkioReadBps: true, BlkioWriteBps: true, BlkioReadIOps: true, BlkioWriteIOps: true}},
		{"v2 rootless, delegated memory and pids, a bus: through systemd", cgroupHost{root: delegated, v2: true, rootless: true, uid: 1000, bus: "/run/user/1000/bus"},
			CgroupSupport{V2: true, Systemd: true, Memory: true, Swap: true, MemoryReservation: true, Pids: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.h.support(); got != tt.want {
				t.Errorf("support() =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
	for _, h := range []cgroupHost{
		{root: delegated, v2: true, rootless: true, uid: 1000},                            // no bus
		{root: delegated, v2: true, rootless: true, uid: 1001, bus: "/run/user/1001/bus"}, // no user manager
	} {
		s := h.support()
		if s.Unavailable == "" || !strings.Contains(s.Unavailable, "enable-linger") || s.Memory {
			t.Errorf("rootless v2 without a user manager and its bus (%+v): %+v, want unavailable with the fix", h, s)
		}
	}
}

func TestPlaceCgroup(t *testing.T) {
	pids := int64(50)
	c := &container.Container{ID: "abc123", HostConfig: container.HostConfig{Resources: container.Resources{
		Memory: 64 << 20, MemorySwap: 128 << 20, NanoCPUs: 1500000000, CPUShares: 512, PidsLimit: &pids, OomScoreAdj: 300,
		BlkioDeviceReadBps: []container.ThrottleDevice{{BlockDevice: container.BlockDevice{Path: "/dev/vda", Major: 254, Minor: 0}, Rate: 1 << 20}},
	}}}
	config := func() *configs.Config {
		return &configs.Config{Cgroups: &cgroups.Cgroup{Name: "abc123", Resources: &cgroups.Resources{}}}
	}
	root := config()
	if !placeCgroup(root, c, false, CgroupSupport{Swap: true}) {
		t.Fatal("root: no cgroup placed")
	}
	cg := root.Cgroups
	if cg.Path != "/skiff/abc123" || cg.Name != "" || cg.Systemd {
		t.Errorf("root cgroup %+v, want /skiff/ID with cgroupfs", cg)
	}
	r := cg.Resources
	if r.Memory != 64<<20 || r.MemorySwap != 128<<20 || r.CpuShares != 512 || r.CpuPeriod != 100000 || r.CpuQuota != 150000 ||
		r.PidsLimit == nil || *r.PidsLimit != 50 || len(r.BlkioThrottleReadBpsDevice) != 1 || r.BlkioThrottleReadBpsDevice[0].String() != "254:0 1048576" {
		t.Errorf("root resources %+v", r)
	}
	if root.OomScoreAdj == nil || *root.OomScoreAdj != 300 {
		t.Errorf("OomScoreAdj %v, want 300", root.OomScoreAdj)
	}

	v2 := config()
	if !placeCgroup(v2, c, true, CgroupSupport{V2: true, Systemd: true, Memory: true}) {
		t.Fatal("rootless v2 with delegation: no cgroup placed")
	}
	if cg := v2.Cgroups; !cg.Systemd || !cg.Rootless || cg.Parent != "user.slice" || cg.ScopePrefix != "skiff" || cg.Name != "abc123" || cg.Path != "" {
		t.Errorf("rootless v2 cgroup %+v, want the scope skiff-ID in the user's user.slice", cg)
	}
	if v2.Cgroups.Resources.Memory != 64<<20 {
		t.Errorf("rootless v2: limits not set: %+v", v2.Cgroups.Resources)
	}

	// Without limits a rootless container stays as it was (no scope).
	bare := &container.Container{ID: "abc123"}
	if plain := config(); placeCgroup(plain, bare, true, CgroupSupport{V2: true, Systemd: true, Memory: true}) || plain.Cgroups.Systemd {
		t.Errorf("rootless v2, no limits: %+v, want no scope of its own", plain.Cgroups)
	}

	v1 := config()
	if placeCgroup(v1, c, true, CgroupSupport{Unavailable: unavailableV1}) {
		t.Error("rootless v1: a cgroup placed")
	}
	if v1.Cgroups.Resources.Memory != 0 || v1.Cgroups.Name != "abc123" {
		t.Errorf("rootless v1: the config changed: %+v", v1.Cgroups)
	}
	if v1.OomScoreAdj == nil || *v1.OomScoreAdj != 300 {
		t.Error("rootless v1: the OOM score adjustment is not a cgroup's and must apply")
	}
}

func TestSetResourcesSwap(t *testing.T) {
	for _, tt := range []struct {
		swap   int64
		s      CgroupSupport
		wanted int64
	}{
		{-1, CgroupSupport{Swap: true}, -1}, // unlimited where swap is limited at all
		{-1, CgroupSupport{}, 0},            // left alone where it is not
		{128 << 20, CgroupSupport{Swap: true}, 128 << 20},
	} {
		var out cgroups.Resources
		setResources(&out, container.Resources{Memory: 64 << 20, MemorySwap: tt.swap}, tt.s)
		if out.MemorySwap != tt.wanted {
			t.Errorf("MemorySwap %d with %+v: %d, want %d", tt.swap, tt.s, out.MemorySwap, tt.wanted)
		}
	}
}

func TestEnsureRealtimeBudget(t *testing.T) {
	mnt := fakeTree(t, map[string]string{
		"skiff/cpu.rt_runtime_us": "0", "skiff/cpu.rt_period_us": "1000000",
		"skiff/other/cpu.rt_runtime_us": "10000", "skiff/other/cpu.rt_period_us": "100000", // holds 100000 of the parent's period
		"skiff/me/cpu.rt_runtime_us": "50000", "skiff/me/cpu.rt_period_us": "1000000",
	})
	// A new container of 5000/100000 needs 50000 more of the parent's period.
	if err := ensureRealtimeBudget(mnt, "/skiff", "new", 100000, 5000); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(mnt, "skiff/cpu.rt_runtime_us"))
	if string(got) != "200000" { // other 100000 + me 50000 + new 50000
		t.Errorf("parent's cpu.rt_runtime_us = %s, want 200000", got)
	}
	// An update of "me" replaces its own share instead of adding to it.
	if err := ensureRealtimeBudget(mnt, "/skiff", "me", 0, 80000); err != nil {
		t.Fatal(err)
	}
	if got, _ = os.ReadFile(filepath.Join(mnt, "skiff/cpu.rt_runtime_us")); string(got) != "200000" { // 100000+80000 < 200000: kept
		t.Errorf("after the update: %s, want 200000 kept", got)
	}
	// A nested parent is made, and given the share too.
	if err := ensureRealtimeBudget(mnt, "/batch/rt", "x", 1000000, 30000); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"batch/cpu.rt_runtime_us", "batch/rt/cpu.rt_runtime_us"} {
		if got, _ := os.ReadFile(filepath.Join(mnt, p)); string(got) != "30000" {
			t.Errorf("%s = %q, want 30000", p, got)
		}
	}
}
