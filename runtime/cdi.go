package runtime

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"tags.cncf.io/container-device-interface/pkg/cdi"
	"tags.cncf.io/container-device-interface/pkg/parser"

	"github.com/skiff-project/skiff/errdefs"
)

// gpuKind is the CDI kind --gpus asks for, as NVIDIA's CDI specs name
// their GPUs (nvidia-ctk cdi generate).
const gpuKind = "nvidia.com/gpu"

// IsCDIName reports whether a --device value is a CDI device name
// (vendor.com/class=name) rather than a host path.
func IsCDIName(v string) bool { return parser.IsQualifiedName(v) }

// cdiCache reads the CDI specs in /etc/cdi and /var/run/cdi afresh.
func cdiCache() (*cdi.Cache, error) {
	c, err := cdi.NewCache(cdi.WithAutoRefresh(false), cdi.WithSpecDirs(cdi.DefaultSpecDirs...))
	if err != nil {
		return nil, fmt.Errorf("reading the CDI specs in %s: %w", strings.Join(cdi.DefaultSpecDirs, " and "), err)
	}
	return c, nil
}

// GPUDevices turns Docker's --gpus value (all, a count, device=ID[,ID],
// with optional driver= and capabilities=) into CDI device names of the
// nvidia.com/gpu kind.
func GPUDevices(v string) ([]string, error) {
	bad := func(why string) error {
		return errdefs.Invalid("invalid --gpus %q: %s (want all, a count, or device=ID[,ID])", v, why)
	}
	count, ids := 0, []string(nil)
	for _, f := range splitGPUFields(v) {
		k, val, hasV := strings.Cut(f, "=")
		switch {
		case !hasV && k == "all", k == "count" && val == "all":
			count = -1
		case !hasV:
			n, err := strconv.Atoi(k)
			if err != nil || n <= 0 {
				return nil, bad("unknown field " + f)
			}
			count = n
		case k == "count":
			n, err := strconv.Atoi(val)
			if err != nil || n <= 0 {
				return nil, bad("count is a number or all")
			}
			count = n
		case k == "device":
			ids = append(ids, strings.Split(val, ",")...)
		case k == "driver" && (val == "nvidia" || val == "cdi"), k == "capabilities", k == "options":
		default:
			return nil, bad("unknown field " + f)
		}
	}
	if count != 0 && len(ids) > 0 {
		return nil, bad("count and device cannot be given together")
	}
	switch {
	case len(ids) > 0:
		var out []string
		for _, id := range ids {
			out = append(out, gpuKind+"="+id)
		}
		return out, nil
	case count == -1:
		return []string{gpuKind + "=all"}, nil
	case count > 0:
		return firstGPUs(v, count)
	}
	return nil, bad("no GPU named")
}

// splitGPUFields splits on commas outside quotes: device="0,1",driver=nvidia.
func splitGPUFields(v string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for _, r := range v {
		switch {
		case r == '"':
			quoted = !quoted
		case r == ',' && !quoted:
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteRune(r)
		}
	}
	return append(out, cur.String())
}

// firstGPUs are the first n GPUs the CDI specs describe.
func firstGPUs(v string, n int) ([]string, error) {
	c, err := cdiCache()
	if err != nil {
		return nil, err
	}
	var gpus []string
	for _, d := range c.ListDevices() {
		if strings.HasPrefix(d, gpuKind+"=") && d != gpuKind+"=all" {
			gpus = append(gpus, d)
		}
	}
	slices.Sort(gpus)
	if len(gpus) < n {
		return nil, fmt.Errorf("--gpus %s: the CDI specs in %s describe %d GPUs (%s): %s: %w", v, strings.Join(cdi.DefaultSpecDirs, " and "), len(gpus), gpuKind, cdiFix, errdefs.ErrInvalidArgument)
	}
	return gpus[:n], nil
}

const cdiFix = "ask for fewer, or generate a CDI spec of the GPUs (nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml)"

func noCDI(what, missing string) error {
	return fmt.Errorf("%s: no CDI spec in %s describes %s: generate one (for NVIDIA GPUs: nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml): %w",
		what, strings.Join(cdi.DefaultSpecDirs, " or "), missing, errdefs.ErrInvalidArgument)
}

// CheckCDIDevices checks that a CDI spec describes every device named.
func CheckCDIDevices(names []string) error {
	if len(names) == 0 {
		return nil
	}
	c, err := cdiCache()
	if err != nil {
		return err
	}
	for _, n := range names {
		if c.GetDevice(n) == nil {
			return noCDI("device "+n, n)
		}
	}
	return nil
}

// withCDIDevices injects the CDI devices' edits (device nodes, mounts,
// variables, hooks) into the spec. Rootless, device nodes cannot be
// made: they are bound from their host paths instead.
func withCDIDevices(names []string, rootless bool) SpecOpt {
	return func(s *specs.Spec) error {
		c, err := cdiCache()
		if err != nil {
			return err
		}
		if _, err := c.InjectDevices(s, names...); err != nil {
			return fmt.Errorf("injecting CDI devices: %w", err)
		}
		if rootless {
			bindCDINodes(s, c, names)
		}
		return nil
	}
}

// bindCDINodes turns the device nodes the CDI devices added into binds.
func bindCDINodes(s *specs.Spec, c *cdi.Cache, names []string) {
	for _, n := range names {
		d := c.GetDevice(n)
		if d == nil {
			continue
		}
		for _, node := range append(slices.Clone(d.ContainerEdits.DeviceNodes), d.GetSpec().ContainerEdits.DeviceNodes...) {
			s.Linux.Devices = slices.DeleteFunc(s.Linux.Devices, func(ld specs.LinuxDevice) bool { return ld.Path == node.Path })
			setMount(s, node.Path, nil)
			s.Mounts = append(s.Mounts, *bindMount(node.Path, firstNonEmpty(node.HostPath, node.Path), "nosuid", "noexec"))
		}
	}
}
