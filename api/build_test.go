package api

import (
	"fmt"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/skiff-project/skiff/engine"
)

// TestBuildLimits: the docker CLI's query parameters of `docker build -m
// 64m --memory-swap 128m -c 512 … --ulimit nofile=512:1024` reach the
// options run's flags give; its zeros and "null" are "not set".
func TestBuildLimits(t *testing.T) {
	q := url.Values{
		"memory": {"67108864"}, "memswap": {"134217728"}, "cpushares": {"512"}, "cpuperiod": {"50000"},
		"cpuquota": {"25000"}, "cpusetcpus": {"0"}, "cpusetmems": {"0"}, "cgroupparent": {"/batch"},
		"shmsize": {"10485760"}, "ulimits": {`[{"Name":"nofile","Hard":1024,"Soft":512}]`},
	}
	var o engine.BuildOptions
	if err := buildLimits(httptest.NewRequest("POST", "/build?"+q.Encode(), nil), &o); err != nil {
		t.Fatal(err)
	}
	r := o.Resources
	got := fmt.Sprintln(r.Memory, r.MemorySwap, r.CPUShares, r.CPUPeriod, r.CPUQuota, r.CpusetCpus, r.CpusetMems, r.CgroupParent, o.ShmSize, o.Ulimits)
	if want := "67108864 134217728 512 50000 25000 0 0 /batch 10485760 [nofile=512:1024]\n"; got != want {
		t.Errorf("buildLimits: %s, want %s", got, want)
	}
	var none engine.BuildOptions
	zeros := "/build?memory=0&memswap=0&cpushares=0&cpuperiod=0&cpuquota=0&shmsize=0&ulimits=null"
	if err := buildLimits(httptest.NewRequest("POST", zeros, nil), &none); err != nil || fmt.Sprint(none) != fmt.Sprint(engine.BuildOptions{}) {
		t.Errorf("the CLI's defaults: %+v (%v), want nothing set", none, err)
	}
	for _, bad := range []string{"memory=64m", "shmsize=-1", "ulimits=nofile"} {
		if err := buildLimits(httptest.NewRequest("POST", "/build?"+bad, nil), &none); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}
