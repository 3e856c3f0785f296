package cmd

import (
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
)

// parseResources runs resourceOptions on run's flags as given.
func parseResources(t *testing.T, args ...string) (engine.ResourceOptions, error) {
	t.Helper()
	var o engine.ResourceOptions
	var err error
	app := &cli.App{Commands: []*cli.Command{{Name: "run", Flags: resourceFlags(), Action: func(c *cli.Context) error {
		o, err = resourceOptions(c)
		return nil
	}}}}
	if runErr := app.Run(append([]string{"skiff", "run"}, args...)); runErr != nil {
		t.Fatalf("flags %q: %v", args, runErr)
	}
	return o, err
}

func TestResourceFlags(t *testing.T) {
	o, err := parseResources(t, "-m", "64m", "--memory-swap", "-1", "--cpus", "1.5", "-c", "512", "--pids-limit", "-1",
		"--memory-swappiness", "0", "--device-read-bps", "/dev/vda:1mb", "--device-write-iops", "/dev/vda:300",
		"--blkio-weight-device", "/dev/vda:200", "--oom-score-adj", "100")
	if err != nil {
		t.Fatal(err)
	}
	if o.Memory != 64<<20 || o.MemorySwap != -1 || o.NanoCPUs != 1500000000 || o.CPUShares != 512 || o.PidsLimit == nil || *o.PidsLimit != -1 ||
		o.MemorySwappiness == nil || *o.MemorySwappiness != 0 || len(o.BlkioDeviceReadBps) != 1 || o.BlkioDeviceReadBps[0].Rate != 1<<20 ||
		o.BlkioDeviceWriteIOps[0].Rate != 300 || o.BlkioWeightDevice[0].Weight != 200 || o.OomScoreAdj != 100 {
		t.Errorf("parsed %+v", o)
	}
	if o, _ = parseResources(t); o.PidsLimit != nil || o.MemorySwappiness != nil {
		t.Errorf("defaults: PidsLimit %v swappiness %v, want both unset", o.PidsLimit, o.MemorySwappiness)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-m", "1x"}, `"-m, --memory" flag`},
		{[]string{"--memory-swap", "-2"}, "--memory-swap"},
		{[]string{"--cpus", "x"}, "rational number"},
		{[]string{"--cpus", "0.0000000001"}, "too precise"},
		{[]string{"--blkio-weight", "70000"}, "--blkio-weight"},
		{[]string{"--device-read-bps", "/dev/vda"}, "bad format"},
		{[]string{"--device-read-bps", "vda:1"}, "device path"},
		{[]string{"--device-read-iops", "/dev/vda:1k"}, "invalid rate"},
		{[]string{"--blkio-weight-device", "/dev/vda:5"}, "invalid weight"},
		{[]string{"--cpu-percent", "50"}, "windows"},
		{[]string{"--kernel-memory", "lots"}, "--kernel-memory"},
	} {
		if _, err := parseResources(t, tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want an error saying %q", tt.args, err, tt.want)
		}
	}
}
