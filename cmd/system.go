package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	goruntime "runtime"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/netns/network"
	"github.com/skiff-project/skiff/paths"
	"github.com/skiff-project/skiff/runtime"
	"github.com/skiff-project/skiff/storage"
	"github.com/skiff-project/skiff/userns"
)

// APIVersion is the Docker Engine API version skiff's answers follow.
const APIVersion = "1.47"

func systemCommand() *cli.Command {
	return &cli.Command{
		Name:  "system",
		Usage: "Manage skiff",
		Subcommands: []*cli.Command{
			{
				Name:      "migrate",
				Usage:     "Reset the rootless user namespace (after changing /etc/subuid or /etc/subgid)",
				UsageText: "skiff system migrate\n\nThe next skiff command creates a fresh namespace with the current ranges.",
				Action: func(c *cli.Context) error {
					if err := exactArgs(c, 0, 0, "system migrate"); err != nil {
						return err
					}
					if !userns.Rootless() {
						return nil
					}
					return userns.Reset()
				},
			},
			{
				Name:  "df",
				Usage: "Show disk usage of images, containers and volumes",
				Flags: []cli.Flag{&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "per object"}},
				Action: func(c *cli.Context) error {
					return withStore(c, func(ctx context.Context, st *storage.Store) error { return systemDF(c, st) })
				},
			},
			{
				Name:  "prune",
				Usage: "Remove stopped containers, unused networks and dangling images",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "remove every image no container uses"},
					&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "do not ask for confirmation"},
					&cli.BoolFlag{Name: "volumes", Usage: "prune anonymous volumes no container uses too"},
				},
				Action: systemPrune,
			},
			infoCommand(),
		},
	}
}

func versionCommand(version string) *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "Show the skiff version",
		Flags: []cli.Flag{&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Usage: "json or a Go template, e.g. '{{.Client.Version}}'"}},
		Action: func(c *cli.Context) error {
			platform := map[string]string{"Name": "skiff"}
			v := map[string]any{
				"Client": map[string]any{
					"Platform": platform, "Version": version, "ApiVersion": APIVersion, "DefaultAPIVersion": APIVersion,
					"GoVersion": goruntime.Version(), "Os": goruntime.GOOS, "Arch": goruntime.GOARCH, "Context": "default",
				},
				// No daemon: the "server" is this same binary.
				"Server": map[string]any{
					"Platform": platform, "Version": version, "ApiVersion": APIVersion, "MinAPIVersion": "1.24",
					"GoVersion": goruntime.Version(), "Os": goruntime.GOOS, "Arch": goruntime.GOARCH,
					"KernelVersion": kernelVersion(),
					"Components":    []map[string]any{{"Name": "Engine", "Version": version, "Details": map[string]string{"ApiVersion": APIVersion}}},
				},
			}
			switch f := c.String("format"); f {
			case "":
				fmt.Fprintf(c.App.Writer, "Client:\n Version:     %s\n API version: %s\n Go version:  %s\n OS/Arch:     %s/%s\n\nServer: skiff (no daemon)\n Version:     %s\n Kernel:      %s\n",
					version, APIVersion, goruntime.Version(), goruntime.GOOS, goruntime.GOARCH, version, kernelVersion())
			case "json":
				return json.NewEncoder(c.App.Writer).Encode(v)
			default:
				return writeInspect(c.App.Writer, []any{v}, f)
			}
			return nil
		},
	}
}

func kernelVersion() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

func infoCommand() *cli.Command {
	return &cli.Command{
		Name:  "info",
		Usage: "Display system-wide information",
		Flags: []cli.Flag{&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Usage: "json or a Go template, e.g. '{{.Driver}}'"}},
		Action: func(c *cli.Context) error {
			return withStore(c, func(ctx context.Context, st *storage.Store) error {
				info, err := systemInfo(st)
				if err != nil {
					return err
				}
				switch f := c.String("format"); f {
				case "":
					w := tabwriter.NewWriter(c.App.Writer, 0, 1, 1, ' ', 0)
					for _, k := range []string{"Containers", "ContainersRunning", "ContainersPaused", "ContainersStopped", "Images", "Driver", "DockerRootDir", "Rootless", "CgroupVersion", "SecurityOptions", "KernelVersion", "OperatingSystem", "Architecture", "NCPU", "MemTotal", "Name"} {
						fmt.Fprintf(w, "%s:\t%v\n", k, info[k])
					}
					return w.Flush()
				case "json":
					return json.NewEncoder(c.App.Writer).Encode(info)
				default:
					return writeInspect(c.App.Writer, []any{info}, f)
				}
			})
		},
	}
}

func systemInfo(st *storage.Store) (map[string]any, error) {
	ctrs, err := runtime.List()
	if err != nil {
		return nil, err
	}
	imgs, err := st.Images()
	if err != nil {
		return nil, err
	}
	var running, paused, stopped int
	for _, c := range ctrs {
		switch {
		case c.State.Paused:
			paused++
		case c.State.Running:
			running++
		default:
			stopped++
		}
	}
	host, _ := os.Hostname()
	cgroup := "1"
	var sfs unix.Statfs_t
	if unix.Statfs("/sys/fs/cgroup", &sfs) == nil && sfs.Type == unix.CGROUP2_SUPER_MAGIC {
		cgroup = "2"
	}
	sec := []string{"name=seccomp,profile=builtin"}
	if userns.Rootless() {
		sec = append(sec, "name=rootless")
	}
	var si unix.Sysinfo_t
	_ = unix.Sysinfo(&si)
	return map[string]any{
		"ID": "skiff", "Containers": len(ctrs), "ContainersRunning": running, "ContainersPaused": paused,
		"ContainersStopped": stopped, "Images": len(imgs), "Driver": "overlay",
		"DockerRootDir": paths.DataDir(), "Rootless": userns.Rootless(), "CgroupVersion": cgroup,
		"CgroupDriver": "cgroupfs", "SecurityOptions": sec, "KernelVersion": kernelVersion(),
		"OperatingSystem": osName(), "OSType": "linux", "Architecture": goruntime.GOARCH,
		"NCPU": goruntime.NumCPU(), "MemTotal": int64(si.Totalram) * int64(si.Unit), "Name": host,
		"ServerVersion": "skiff", "DefaultRuntime": "libcontainer", "LoggingDriver": "json-file",
	}, nil
}

func osName() string {
	data, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return "Linux"
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "Linux"
}

func systemDF(c *cli.Context, st *storage.Store) error {
	imgs, err := st.Images()
	if err != nil {
		return err
	}
	ctrs, err := runtime.List()
	if err != nil {
		return err
	}
	used := map[string]bool{}
	var ctrSize, ctrReclaim int64
	activeCtr := 0
	for _, ctr := range ctrs {
		used[ctr.ImageID] = true
		size, _ := st.Raw().ContainerSize(ctr.ID)
		ctrSize += size
		if ctr.State.Running {
			activeCtr++
		} else {
			ctrReclaim += size
		}
	}
	var imgSize, imgReclaim int64
	activeImg := 0
	for _, img := range imgs {
		imgSize += img.Size
		if used[img.ID] {
			activeImg++
		} else {
			imgReclaim += img.Size
		}
	}
	pct := func(part, whole int64) string {
		if whole == 0 {
			return humanBytes(part)
		}
		return fmt.Sprintf("%s (%d%%)", humanBytes(part), part*100/whole)
	}
	w := tabwriter.NewWriter(c.App.Writer, 10, 1, 3, ' ', 0)
	fmt.Fprintln(w, "TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE")
	fmt.Fprintf(w, "Images\t%d\t%d\t%s\t%s\n", len(imgs), activeImg, humanBytes(imgSize), pct(imgReclaim, imgSize))
	fmt.Fprintf(w, "Containers\t%d\t%d\t%s\t%s\n", len(ctrs), activeCtr, humanBytes(ctrSize), pct(ctrReclaim, ctrSize))
	vols, _ := storage.Volumes()
	var volSize, volReclaim int64
	activeVol := 0
	for _, v := range vols {
		n := storage.VolumeSize(v)
		volSize += n
		if len(volumeUsers(v.Name)) > 0 {
			activeVol++
		} else {
			volReclaim += n
		}
	}
	fmt.Fprintf(w, "Local Volumes\t%d\t%d\t%s\t%s\n", len(vols), activeVol, humanBytes(volSize), pct(volReclaim, volSize))
	fmt.Fprintf(w, "Build Cache\t0\t0\t0B\t0B\n")
	if err := w.Flush(); err != nil {
		return err
	}
	if !c.Bool("verbose") {
		return nil
	}
	fmt.Fprintln(c.App.Writer, "\nImages space usage:")
	rows := []any{}
	for _, img := range imgs {
		for _, r := range imageRows(img, false) {
			rows = append(rows, r)
		}
	}
	if err := (listFormat{defTable: "{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}", header: headerFor(imageRow{}, map[string]string{"ID": "IMAGE ID", "CreatedSince": "CREATED"})}).write(c.App.Writer, rows); err != nil {
		return err
	}
	fmt.Fprintln(c.App.Writer, "\nContainers space usage:")
	w = tabwriter.NewWriter(c.App.Writer, 10, 1, 3, ' ', 0)
	fmt.Fprintln(w, "CONTAINER ID\tIMAGE\tSIZE\tSTATUS\tNAMES")
	for _, ctr := range ctrs {
		size, _ := st.Raw().ContainerSize(ctr.ID)
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", ctr.ID[:12], ctr.Image, humanBytes(size), statusText(ctr), ctr.Name)
	}
	return w.Flush()
}

func systemPrune(c *cli.Context) error {
	if !c.Bool("force") {
		what := "  - all stopped containers\n  - all networks not used by at least one container\n  - all dangling images\n"
		if c.Bool("all") {
			what = "  - all stopped containers\n  - all networks not used by at least one container\n  - all images without at least one container associated to them\n"
		}
		if !confirm("WARNING! This will remove:\n" + strings.TrimRight(what, "\n")) {
			return nil
		}
	}
	return withStore(c, func(ctx context.Context, st *storage.Store) error {
		ctrs, err := runtime.List()
		if err != nil {
			return err
		}
		var removedCtrs []string
		for _, ctr := range ctrs {
			switch ctr.State.Status {
			case runtime.StatusExited, runtime.StatusCreated, runtime.StatusDead:
			default:
				continue
			}
			if ctr.State.Status == runtime.StatusCreated && ctr.State.SupervisorPid != 0 {
				continue
			}
			if _, err := runtime.Remove(st, ctr.ID, ctr.State.Status == runtime.StatusDead, false); err == nil {
				removedCtrs = append(removedCtrs, ctr.ID)
			}
		}
		if len(removedCtrs) > 0 {
			fmt.Fprintln(c.App.Writer, "Deleted Containers:")
			for _, id := range removedCtrs {
				fmt.Fprintln(c.App.Writer, id)
			}
			fmt.Fprintln(c.App.Writer)
		}
		nets, _ := network.List()
		var removedNets []string
		for _, n := range nets {
			if len(n.Containers) == 0 && !usedByContainers(n.Name) && n.Name != network.DefaultName {
				if _, err := network.Remove(n.Name); err == nil {
					removedNets = append(removedNets, n.Name)
				}
			}
		}
		if len(removedNets) > 0 {
			fmt.Fprintln(c.App.Writer, "Deleted Networks:")
			for _, n := range removedNets {
				fmt.Fprintln(c.App.Writer, n)
			}
			fmt.Fprintln(c.App.Writer)
		}
		removed, err := st.PruneImages(c.Bool("all"))
		if err != nil {
			return err
		}
		// Docker's system prune takes the build cache too.
		cache, err := st.PruneBuild()
		if err != nil {
			return err
		}
		removed = append(removed, cache...)
		if len(removed) > 0 {
			fmt.Fprintln(c.App.Writer, "Deleted Images:")
			for _, r := range removed {
				fmt.Fprintf(c.App.Writer, "deleted: %s\n", r)
			}
			fmt.Fprintln(c.App.Writer)
		}
		var removedVols []string
		if c.Bool("volumes") {
			removedVols, _, _ = pruneVolumes(false)
			if len(removedVols) > 0 {
				fmt.Fprintln(c.App.Writer, "Deleted Volumes:")
				for _, n := range removedVols {
					fmt.Fprintln(c.App.Writer, n)
				}
				fmt.Fprintln(c.App.Writer)
			}
		}
		fmt.Fprintf(c.App.Writer, "Total reclaimed space: %d containers, %d networks, %d images, %d volumes\n", len(removedCtrs), len(removedNets), len(removed), len(removedVols))
		return nil
	})
}
