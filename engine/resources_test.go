package engine

import (
	"errors"
	"fmt"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/runtime"
)

func i64(n int64) *int64 { return &n }

func TestResourceOptionsParse(t *testing.T) {
	ncpu := int64(goruntime.NumCPU())
	tests := []struct {
		name string
		o    ResourceOptions
		want string // a word of the error; "" for none
	}{
		{"nothing", ResourceOptions{}, ""},
		{"memory and swap", ResourceOptions{Memory: 64 << 20, MemorySwap: 128 << 20, MemoryReservation: 32 << 20}, ""},
		{"unlimited swap", ResourceOptions{Memory: 64 << 20, MemorySwap: -1}, ""},
		{"memory below 6MB", ResourceOptions{Memory: 4 << 20}, "6MB"},
		{"negative memory", ResourceOptions{Memory: -5}, "6MB"},
		{"swap below memory", ResourceOptions{Memory: 64 << 20, MemorySwap: 32 << 20}, "memoryswap"},
		{"swap without memory", ResourceOptions{MemorySwap: 64 << 20}, "--memory-swap needs --memory"},
		{"reservation above memory", ResourceOptions{Memory: 64 << 20, MemoryReservation: 128 << 20}, "reservation"},
		{"swappiness 101", ResourceOptions{MemorySwappiness: i64(101)}, "0-100"},
		{"swappiness -1 is the kernel's", ResourceOptions{MemorySwappiness: i64(-1)}, ""},
		{"cpus -1", ResourceOptions{NanoCPUs: -1e9}, "range of CPUs"},
		{"more cpus than the host", ResourceOptions{NanoCPUs: (ncpu + 1) * 1e9}, "range of CPUs"},
		{"cpus and a period", ResourceOptions{NanoCPUs: 1e9, CPUPeriod: 100000}, "conflicting options"},
		{"cpus and a quota", ResourceOptions{NanoCPUs: 1e9, CPUQuota: 50000}, "conflicting options"},
		{"period too short", ResourceOptions{CPUPeriod: 999}, "1ms"},
		{"quota too short", ResourceOptions{CPUQuota: 500}, "1ms"},
		{"quota -1 is none", ResourceOptions{CPUQuota: -1}, ""},
		{"negative shares", ResourceOptions{CPUShares: -1}, "positive"},
		{"one share", ResourceOptions{CPUShares: 1}, "2 to 262144"},
		{"cpuset beyond the host", ResourceOptions{CpusetCpus: "99"}, "not available"},
		{"cpuset garbage", ResourceOptions{CpusetCpus: "0-x"}, "invalid value"},
		{"cpuset of the host", ResourceOptions{CpusetCpus: "0", CpusetMems: "0"}, ""},
		{"mems beyond the host", ResourceOptions{CpusetMems: "0-63"}, "not available"},
		{"blkio weight 5", ResourceOptions{BlkioWeight: 5}, "10 to 1000"},
		{"blkio weight 500", ResourceOptions{BlkioWeight: 500}, ""},
		{"weight device 5", ResourceOptions{BlkioWeightDevice: []WeightDevice{{BlockDevice: BlockDevice{Path: "/dev/null"}, Weight: 5}}}, "10 to 1000"},
		{"throttle of a missing device", ResourceOptions{BlkioDeviceReadBps: []ThrottleDevice{{BlockDevice: BlockDevice{Path: "/dev/nosuch"}, Rate: 1}}}, "no such file"},
		{"throttle of a character device", ResourceOptions{BlkioDeviceWriteIOps: []ThrottleDevice{{BlockDevice: BlockDevice{Path: "/dev/null"}, Rate: 1}}}, "not a block device"},
		{"oom score 1001", ResourceOptions{OomScoreAdj: 1001}, "[-1000, 1000]"},
		{"cgroup parent with ..", ResourceOptions{CgroupParent: "/a/../b"}, ".."},
		{"rt runtime above its period", ResourceOptions{CPURealtimePeriod: 1000, CPURealtimeRuntime: 2000}, "cannot be higher"},
		{"rt runtime above the default period", ResourceOptions{CPURealtimeRuntime: 2000000}, "cannot be higher"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.o.parse(false)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("parse: %v", err)
			case tt.want != "" && (!errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("parse = %v, want an invalid argument saying %q", err, tt.want)
			}
		})
	}
	// An update may give a swap limit alone.
	if _, err := (ResourceOptions{MemorySwap: 64 << 20}).parse(true); err != nil {
		t.Errorf("update of the swap limit alone: %v", err)
	}
	// PidsLimit 0 and -1 are no limit (Docker's null).
	for _, n := range []int64{0, -1} {
		if r, _ := (ResourceOptions{PidsLimit: i64(n)}).parse(false); r.PidsLimit != nil {
			t.Errorf("PidsLimit %d: %v, want nil", n, *r.PidsLimit)
		}
	}
}

func TestResourceOptionsAdapt(t *testing.T) {
	all := runtime.CgroupSupport{Memory: true, Swap: true, MemoryReservation: true, Swappiness: true, OomKillDisable: true,
		Pids: true, CPUShares: true, CPUCfs: true, Cpuset: true, BlkioWeight: true, BlkioWeightDevice: true,
		BlkioReadBps: true, BlkioWriteBps: true, BlkioReadIOps: true, BlkioWriteIOps: true}
	adapt := func(o ResourceOptions, r container.Resources, s runtime.CgroupSupport) (container.Resources, []string) {
		var ws []string
		o.adapt(&r, s, func(w string) { ws = append(ws, w) })
		return r, ws
	}
	// Memory alone gets twice its size of memory plus swap, as in Docker.
	r, ws := adapt(ResourceOptions{}, container.Resources{Memory: 64 << 20}, all)
	if r.MemorySwap != 128<<20 || len(ws) != 0 {
		t.Errorf("memory alone: swap %d, warnings %q", r.MemorySwap, ws)
	}
	// What the host lacks is dropped with Docker's warning.
	noWeight := all
	noWeight.BlkioWeight, noWeight.Swap = false, false
	r, ws = adapt(ResourceOptions{}, container.Resources{Memory: 64 << 20, BlkioWeight: 300}, noWeight)
	if r.BlkioWeight != 0 || r.MemorySwap != -1 || len(ws) != 2 || !strings.Contains(ws[0], "swap limit") || !strings.Contains(ws[1], "Block I/O weight") {
		t.Errorf("unsupported weight and swap: %+v, warnings %q", r, ws)
	}
	// Rootless without a cgroup: one line, the values kept.
	r, ws = adapt(ResourceOptions{}, container.Resources{Memory: 64 << 20, NanoCPUs: 1e9, PidsLimit: i64(5)}, runtime.CgroupSupport{Unavailable: "no cgroup here"})
	if len(ws) != 1 || !strings.Contains(ws[0], "no cgroup here") || r.Memory != 64<<20 || r.NanoCPUs != 1e9 || r.PidsLimit == nil {
		t.Errorf("rootless v1: %+v, warnings %q", r, ws)
	}
	// ... and none for the OOM score, which is no cgroup's.
	if _, ws = adapt(ResourceOptions{}, container.Resources{OomScoreAdj: 100}, runtime.CgroupSupport{Unavailable: "no cgroup here"}); len(ws) != 0 {
		t.Errorf("--oom-score-adj rootless: warnings %q", ws)
	}
	// Windows settings of the API are dropped with Docker's warnings.
	if _, ws = adapt(ResourceOptions{CPUCount: 2, CPUPercent: 50}, container.Resources{}, all); len(ws) != 2 || !strings.Contains(ws[1], "CPU percent") {
		t.Errorf("CpuCount and CpuPercent: warnings %q", ws)
	}
	// Rootless v2: an undelegated controller says so.
	delegated := runtime.CgroupSupport{V2: true, Systemd: true, Memory: true, Swap: true, Pids: true}
	if r, ws = adapt(ResourceOptions{}, container.Resources{NanoCPUs: 1e9}, delegated); r.NanoCPUs != 0 || len(ws) != 1 || !strings.Contains(ws[0], "not delegated") {
		t.Errorf("rootless v2 without the cpu controller: %+v, warnings %q", r, ws)
	}
}

func TestMergeUpdate(t *testing.T) {
	cur := container.Resources{Memory: 64 << 20, MemorySwap: 128 << 20, NanoCPUs: 5e8, PidsLimit: i64(10)}
	merge := func(o ResourceOptions) (container.Resources, error) {
		u, err := o.parse(true)
		if err != nil {
			return u, err
		}
		return mergeUpdate(cur, o, u)
	}
	tests := []struct {
		o    ResourceOptions
		want string
	}{
		{ResourceOptions{Memory: 256 << 20}, "memoryswap"},                  // above the swap limit, no new swap limit
		{ResourceOptions{CPUQuota: 50000}, "NanoCPUs has already been set"}, // --cpus was set
		{ResourceOptions{CPUPeriod: 50000}, "NanoCPUs has already been set"},
		{ResourceOptions{MemoryReservation: 100 << 20}, "reservation"}, // the result must hold
	}
	for _, tt := range tests {
		if _, err := merge(tt.o); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("update %+v: %v, want %q", tt.o, err, tt.want)
		}
	}
	m, err := merge(ResourceOptions{Memory: 256 << 20, MemorySwap: 512 << 20, NanoCPUs: 15e8, CPUShares: 256})
	if err != nil {
		t.Fatal(err)
	}
	want := container.Resources{Memory: 256 << 20, MemorySwap: 512 << 20, NanoCPUs: 15e8, CPUShares: 256}
	if m.PidsLimit == nil || *m.PidsLimit != 10 {
		t.Errorf("merged PidsLimit %v, want 10 kept", m.PidsLimit)
	}
	if m.PidsLimit = nil; fmt.Sprintf("%+v", m) != fmt.Sprintf("%+v", want) {
		t.Errorf("merged %+v, want %+v", m, want)
	}
	if m, _ = merge(ResourceOptions{PidsLimit: i64(-1)}); m.PidsLimit != nil {
		t.Errorf("--pids-limit -1 kept %d, want no limit", *m.PidsLimit)
	}
	if m, _ = merge(ResourceOptions{CpusetCpus: "0"}); m.PidsLimit == nil || m.CpusetCpus != "0" || m.Memory != 64<<20 {
		t.Errorf("an update of the cpuset changed more: %+v", m)
	}
	if err := (ResourceOptions{OomKillDisable: true}).updatable(); err == nil {
		t.Error("OomKillDisable updated; Docker keeps it for the container's life")
	}
	if !(ResourceOptions{PidsLimit: i64(0)}).any() {
		t.Error("--pids-limit 0 is an update (to no limit)")
	}
}
