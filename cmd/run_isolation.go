package cmd

import (
	"bufio"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

// isolationFlags are run/create's namespace, device, sysctl and ulimit
// flags (--pid, --ipc, --device, …), and the rest of Docker's.
// linkLocalFlag is Docker's --link-local-ip, on run, create and network
// connect.
func linkLocalFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "link-local-ip", Usage: "link-local addresses of the container (refused: skiff's networks have none to give)"}
}

func isolationFlags() []cli.Flag {
	return []cli.Flag{
		linkLocalFlag(),
		&cli.StringFlag{Name: "pid", Usage: "PID namespace: host or container:NAME"},
		&cli.StringFlag{Name: "ipc", Usage: "IPC namespace: private (default), shareable, host, none or container:NAME"},
		&cli.StringFlag{Name: "uts", Usage: "UTS namespace: host"},
		&cli.StringFlag{Name: "userns", Usage: "user namespace: host, or keep-id (rootless: your uid and gid inside)"},
		&cli.StringFlag{Name: "cgroupns", Usage: "cgroup namespace: host (default here) or private"},
		&cli.StringSliceFlag{Name: "group-add", Usage: "add supplementary groups (names from the image's /etc/group, or numbers)"},
		&cli.StringSliceFlag{Name: "sysctl", Usage: "namespaced kernel parameter KEY=VALUE (net.*, fs.mqueue.*, kernel.msg*, kernel.sem, kernel.shm*)"},
		&cli.StringSliceFlag{Name: "ulimit", Usage: "ulimit NAME=SOFT[:HARD], like nofile=1024:2048"},
		&cli.StringFlag{Name: "shm-size", Usage: "size of /dev/shm (default 64m)"},
		&cli.StringSliceFlag{Name: "device", Usage: "add a host device /dev/x[:/dev/y][:rwm], or a CDI device vendor.com/class=name"},
		&cli.StringSliceFlag{Name: "device-cgroup-rule", Usage: "add a rule to the devices cgroup, like 'c 1:3 rwm' (root)"},
		&cli.StringFlag{Name: "gpus", Usage: "GPUs to add through CDI: all, a count, or device=ID[,ID]"},
		&cli.StringFlag{Name: "ip", Usage: "IPv4 address on the user-defined network"},
		&cli.StringFlag{Name: "ip6", Usage: "IPv6 address on the user-defined network"},
		&cli.StringSliceFlag{Name: "link", Usage: "reach another container as NAME[:ALIAS]"},
		&cli.StringSliceFlag{Name: "label-file", Usage: "read labels from a file of KEY=VALUE lines"},
		&cli.StringSliceFlag{Name: "annotation", Usage: "add an annotation KEY=VALUE to the container"},
		&cli.StringFlag{Name: "domainname", Usage: "container NIS domain name"},
		&cli.DurationFlag{Name: "health-start-interval", Usage: "time between health checks during the start period"},
		&cli.BoolFlag{Name: "use-api-socket", Usage: "bind this user's skiff API socket at /var/run/docker.sock inside"},
		&cli.StringFlag{Name: "runtime", Usage: "runtime to use: runc"},
		&cli.StringFlag{Name: "isolation", Usage: "isolation technology: default"},
		&cli.StringFlag{Name: "volume-driver", Usage: "volume driver: local"},
		&cli.StringSliceFlag{Name: "storage-opt", Usage: "storage options (none exist with overlay here)"},
	}
}

// isolationOptions reads isolationFlags.
func isolationOptions(c *cli.Context) (engine.IsolationOptions, error) {
	return engine.IsolationOptions{
		PidMode: c.String("pid"), IpcMode: c.String("ipc"), UTSMode: c.String("uts"),
		UsernsMode: c.String("userns"), CgroupnsMode: c.String("cgroupns"),
		GroupAdd: c.StringSlice("group-add"), Sysctls: c.StringSlice("sysctl"), Ulimits: c.StringSlice("ulimit"),
		ShmSize: c.String("shm-size"), Devices: c.StringSlice("device"),
		DeviceCgroupRules: c.StringSlice("device-cgroup-rule"), GPUs: c.String("gpus"),
		IP: c.String("ip"), IP6: c.String("ip6"), LinkLocalIPs: c.StringSlice("link-local-ip"), Links: c.StringSlice("link"),
		Annotations: c.StringSlice("annotation"), Domainname: c.String("domainname"),
		UseAPISocket: c.Bool("use-api-socket"), Runtime: c.String("runtime"), Isolation: c.String("isolation"),
		VolumeDriver: c.String("volume-driver"), StorageOpts: c.StringSlice("storage-opt"),
		Platform: c.String("platform"),
	}, nil
}

// readLabels reads --label-file files, then --label values, which win.
func readLabels(c *cli.Context) (map[string]string, error) {
	var lines []string
	for _, f := range c.StringSlice("label-file") {
		fh, err := os.Open(f)
		if err != nil {
			return nil, errdefs.Invalid("--label-file %s: %v", f, err)
		}
		s := bufio.NewScanner(fh)
		for s.Scan() {
			if l := strings.TrimSpace(s.Text()); l != "" && !strings.HasPrefix(l, "#") {
				lines = append(lines, l)
			}
		}
		fh.Close()
	}
	return parseLabels(append(lines, c.StringSlice("label")...))
}

// attachOnly reads run's -a/--attach: the streams to attach, lower case;
// nil attaches all.
func attachOnly(c *cli.Context) ([]string, error) {
	var out []string
	for _, s := range c.StringSlice("attach") {
		s = strings.ToLower(s)
		if !slices.Contains([]string{"stdin", "stdout", "stderr"}, s) {
			return nil, errdefs.Invalid("invalid argument %q for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR", s)
		}
		out = append(out, s)
	}
	if len(out) > 0 && c.Bool("detach") {
		return nil, errdefs.Invalid("conflicting options: cannot specify both --attach and --detach")
	}
	return out, nil
}

// keepStreams drops the streams -a did not name.
func keepStreams(s *engine.AttachStreams, only []string) {
	if len(only) == 0 {
		return
	}
	if !slices.Contains(only, "stdin") {
		s.Stdin = nil
	}
	if !slices.Contains(only, "stdout") {
		s.Stdout = nil
	}
	if !slices.Contains(only, "stderr") {
		s.Stderr = nil
	}
}

// attachFlag is run's -a/--attach.
func attachFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "attach", Aliases: []string{"a"}, Usage: "attach only these streams: stdin, stdout, stderr"}
}
