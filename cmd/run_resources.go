package cmd

import (
	"errors"
	"math/big"
	"strconv"
	"strings"

	units "github.com/docker/go-units"
	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

// resourceFlags are run/create's cgroup limit flags (-m, --cpus, …), with
// Docker's names, units and defaults.
func resourceFlags() []cli.Flag {
	return append(updateResourceFlags(),
		&cli.Int64Flag{Name: "memory-swappiness", Value: -1, Usage: "tune the container's memory swappiness (0 to 100; -1: the kernel's)"},
		&cli.BoolFlag{Name: "oom-kill-disable", Usage: "disable the OOM killer for the container (give it a --memory limit too)"},
		&cli.IntFlag{Name: "oom-score-adj", Usage: "tune the host's OOM preferences (-1000 to 1000; rootless, only upwards of the current value)"},
		&cli.StringSliceFlag{Name: "blkio-weight-device", Usage: "block IO weight of a device: DEVICE:WEIGHT (10 to 1000)"},
		&cli.StringSliceFlag{Name: "device-read-bps", Usage: "limit the read rate from a device: DEVICE:RATE[b|k|m|g] (bytes per second)"},
		&cli.StringSliceFlag{Name: "device-write-bps", Usage: "limit the write rate to a device: DEVICE:RATE[b|k|m|g] (bytes per second)"},
		&cli.StringSliceFlag{Name: "device-read-iops", Usage: "limit the read rate from a device: DEVICE:N (IO per second)"},
		&cli.StringSliceFlag{Name: "device-write-iops", Usage: "limit the write rate to a device: DEVICE:N (IO per second)"},
		&cli.StringFlag{Name: "cgroup-parent", Usage: "cgroup to make the container's cgroup under (root; default /skiff)"},
		&cli.Int64Flag{Name: "cpu-count", Usage: "CPU count (Windows only: refused)"},
		&cli.Int64Flag{Name: "cpu-percent", Usage: "CPU percent (Windows only: refused)"},
		&cli.StringFlag{Name: "io-maxbandwidth", Usage: "maximum IO bandwidth of the system drive (Windows only: refused; see --device-read-bps)"},
		&cli.Uint64Flag{Name: "io-maxiops", Usage: "maximum IOps of the system drive (Windows only: refused; see --device-read-iops)"},
	)
}

// updateResourceFlags are the limits `update` changes too (Docker's
// update flags), run/create's as well.
func updateResourceFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "memory", Aliases: []string{"m"}, Usage: "memory limit: a size such as 64m or 1g (at least 6m)"},
		&cli.StringFlag{Name: "memory-reservation", Usage: "memory soft limit: a size"},
		&cli.StringFlag{Name: "memory-swap", Usage: "swap limit equal to memory plus swap: a size, or -1 for unlimited swap (run: twice --memory by default)"},
		&cli.StringFlag{Name: "kernel-memory", Usage: "kernel memory limit (deprecated and ignored by the kernel: a warning)"},
		&cli.StringFlag{Name: "cpus", Usage: "number of CPUs, a decimal such as 1.5"},
		&cli.Int64Flag{Name: "cpu-shares", Aliases: []string{"c"}, Usage: "CPU shares (relative weight; 1024 is one CPU's)"},
		&cli.Int64Flag{Name: "cpu-period", Usage: "limit the CPU CFS (Completely Fair Scheduler) period, µs"},
		&cli.Int64Flag{Name: "cpu-quota", Usage: "limit the CPU CFS (Completely Fair Scheduler) quota, µs"},
		&cli.Int64Flag{Name: "cpu-rt-period", Usage: "limit the CPU real-time period in microseconds (root)"},
		&cli.Int64Flag{Name: "cpu-rt-runtime", Usage: "limit the CPU real-time runtime in microseconds (root)"},
		&cli.StringFlag{Name: "cpuset-cpus", Usage: "CPUs in which to allow execution (0-3, 0,1)"},
		&cli.StringFlag{Name: "cpuset-mems", Usage: "memory nodes in which to allow execution (0-3, 0,1)"},
		&cli.Int64Flag{Name: "pids-limit", Usage: "tune the container's pids limit (-1 for unlimited)"},
		&cli.Int64Flag{Name: "blkio-weight", Usage: "block IO (relative weight), between 10 and 1000, or 0 to disable"},
	}
}

// resourceOptions reads resourceFlags (and update's share of them).
func resourceOptions(c *cli.Context) (engine.ResourceOptions, error) {
	var o engine.ResourceOptions
	for _, f := range []struct{ name, instead string }{
		{"cpu-count", "--cpus"}, {"cpu-percent", "--cpus"},
		{"io-maxbandwidth", "--device-read-bps/--device-write-bps"}, {"io-maxiops", "--device-read-iops/--device-write-iops"},
	} {
		if c.IsSet(f.name) {
			return o, errdefs.Invalid("\"--%s\" is only supported on a Docker daemon running on windows, but skiff runs linux containers: leave it out (%s limits Linux containers)", f.name, f.instead)
		}
	}
	if c.IsSet("kernel-memory") {
		if _, err := sizeFlag(c, "kernel-memory"); err != nil {
			return o, err
		}
		warn("Flag --kernel-memory has been deprecated, and no longer supported by the kernel: the value is ignored")
	}
	var err error
	for _, s := range []struct {
		name string
		dst  *int64
	}{{"memory", &o.Memory}, {"memory-reservation", &o.MemoryReservation}, {"memory-swap", &o.MemorySwap}} {
		if *s.dst, err = sizeFlag(c, s.name); err != nil {
			return o, err
		}
	}
	if o.NanoCPUs, err = cpusFlag(c); err != nil {
		return o, err
	}
	o.CPUShares, o.CPUPeriod, o.CPUQuota = c.Int64("cpu-shares"), c.Int64("cpu-period"), c.Int64("cpu-quota")
	o.CPURealtimePeriod, o.CPURealtimeRuntime = c.Int64("cpu-rt-period"), c.Int64("cpu-rt-runtime")
	o.CpusetCpus, o.CpusetMems = c.String("cpuset-cpus"), c.String("cpuset-mems")
	if c.IsSet("pids-limit") {
		n := c.Int64("pids-limit")
		o.PidsLimit = &n
	}
	if w := c.Int64("blkio-weight"); w < 0 || w > 65535 {
		return o, errdefs.Invalid("invalid argument \"%d\" for \"--blkio-weight\" flag: the range of blkio weight is from 10 to 1000 (or 0 for none)", w)
	}
	o.BlkioWeight = uint16(c.Int64("blkio-weight"))
	if c.IsSet("memory-swappiness") {
		n := c.Int64("memory-swappiness")
		o.MemorySwappiness = &n
	}
	o.OomKillDisable, o.OomScoreAdj, o.CgroupParent = c.Bool("oom-kill-disable"), c.Int("oom-score-adj"), c.String("cgroup-parent")
	if err := deviceFlags(c, &o); err != nil {
		return o, err
	}
	return o, nil
}

// sizeFlag reads a size flag (64m, 1g, 1024); memory-swap also takes -1.
func sizeFlag(c *cli.Context, name string) (int64, error) {
	v := c.String(name)
	switch {
	case v == "":
		return 0, nil
	case v == "-1" && name == "memory-swap":
		return -1, nil
	}
	n, err := units.RAMInBytes(v)
	if err != nil {
		return 0, errdefs.Invalid("invalid argument %q for %q flag: %v: give bytes or a size such as 512k, 64m, 1g", v, dockerFlagName(c, name), err)
	}
	return n, nil
}

// cpusFlag reads --cpus as Docker's CLI does: a decimal, exact to 1e-9.
func cpusFlag(c *cli.Context) (int64, error) {
	v := c.String("cpus")
	if v == "" {
		return 0, nil
	}
	bad := func(why string) (int64, error) {
		return 0, errdefs.Invalid("invalid argument %q for \"--cpus\" flag: %s: give a number of CPUs such as 1.5", v, why)
	}
	r, ok := new(big.Rat).SetString(v)
	if !ok {
		return bad("failed to parse " + v + " as a rational number")
	}
	nano := r.Mul(r, big.NewRat(1e9, 1))
	if !nano.IsInt() || !nano.Num().IsInt64() {
		return bad("value is too precise")
	}
	return nano.Num().Int64(), nil
}

// deviceFlags reads --blkio-weight-device and --device-*-bps/iops.
func deviceFlags(c *cli.Context, o *engine.ResourceOptions) error {
	for _, v := range c.StringSlice("blkio-weight-device") {
		path, w, err := deviceValue(v, "blkio-weight-device")
		if err != nil {
			return err
		}
		n, err := strconv.ParseUint(w, 10, 16)
		if err != nil || n > 0 && (n < 10 || n > 1000) {
			return errdefs.Invalid("invalid argument %q for \"--blkio-weight-device\" flag: invalid weight for device: give DEVICE:WEIGHT with a weight from 10 to 1000", v)
		}
		o.BlkioWeightDevice = append(o.BlkioWeightDevice, engine.WeightDevice{BlockDevice: deviceOf(path), Weight: uint16(n)})
	}
	for _, f := range []struct {
		name  string
		bytes bool
		dst   *[]engine.ThrottleDevice
	}{
		{"device-read-bps", true, &o.BlkioDeviceReadBps}, {"device-write-bps", true, &o.BlkioDeviceWriteBps},
		{"device-read-iops", false, &o.BlkioDeviceReadIOps}, {"device-write-iops", false, &o.BlkioDeviceWriteIOps},
	} {
		for _, v := range c.StringSlice(f.name) {
			path, rate, err := deviceValue(v, f.name)
			if err != nil {
				return err
			}
			n, err := throttleRate(rate, f.bytes)
			if err != nil {
				unit := "<number>[<unit>], the unit b, k, m or g"
				if !f.bytes {
					unit = "<number>"
				}
				return errdefs.Invalid("invalid argument %q for \"--%s\" flag: invalid rate for device: the format is <device-path>:%s", v, f.name, unit)
			}
			*f.dst = append(*f.dst, engine.ThrottleDevice{BlockDevice: deviceOf(path), Rate: n})
		}
	}
	return nil
}

func deviceOf(path string) engine.BlockDevice { return engine.BlockDevice{Path: path} }

// deviceValue splits DEVICE:VALUE; the device is a path under /dev/.
func deviceValue(v, flag string) (string, string, error) {
	path, val, ok := strings.Cut(v, ":")
	if !ok || path == "" {
		return "", "", errdefs.Invalid("invalid argument %q for \"--%s\" flag: bad format: give DEVICE:VALUE such as /dev/sda:10", v, flag)
	}
	if !strings.HasPrefix(path, "/dev/") {
		return "", "", errdefs.Invalid("invalid argument %q for \"--%s\" flag: bad format for device path: give a device under /dev/", v, flag)
	}
	return path, val, nil
}

func throttleRate(v string, bytes bool) (uint64, error) {
	if !bytes {
		return strconv.ParseUint(v, 10, 64)
	}
	n, err := units.RAMInBytes(v)
	if err == nil && n < 0 {
		err = errors.New("negative")
	}
	return uint64(n), err
}

// dockerFlagName is how Docker names a flag in its messages: "-m, --memory".
func dockerFlagName(c *cli.Context, name string) string {
	for _, f := range c.Command.Flags {
		names := f.Names()
		if names[0] != name {
			continue
		}
		var out []string
		for _, n := range names[1:] {
			out = append(out, "-"+n)
		}
		return strings.Join(append(out, "--"+name), ", ")
	}
	return "--" + name
}
