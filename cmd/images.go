package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/docker/go-units"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/netns"
	"github.com/skiff-project/skiff/registry/reference"
	"github.com/skiff-project/skiff/runtime"
	"github.com/skiff-project/skiff/storage"
)

func isNotFound(err error) bool { return errors.Is(err, errdefs.ErrNotFound) }

func humanBytes(n int64) string { return units.HumanSizeWithPrecision(float64(n), 3) }

// imageRow is one line of `images`, with Docker's field names.
type imageRow struct {
	Containers   string
	CreatedAt    string
	CreatedSince string
	Digest       string
	ID           string
	Repository   string
	SharedSize   string
	Size         string
	Tag          string
	UniqueSize   string
	VirtualSize  string
}

func imagesFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "show all images (the default hides a build's intermediate images)"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only show image IDs"},
		&cli.BoolFlag{Name: "digests", Usage: "show digests"},
		&cli.BoolFlag{Name: "no-trunc", Usage: "don't truncate output"},
		&cli.StringFlag{Name: "format", Usage: "`table`, json or a Go template, e.g. '{{.Repository}}:{{.Tag}}'"},
		&cli.StringSliceFlag{Name: "filter", Aliases: []string{"f"}, Usage: "filter: dangling=true|false, reference=PATTERN"},
	}
}

func imagesCommand() *cli.Command {
	return &cli.Command{
		Name:      "images",
		Usage:     "List images",
		UsageText: "skiff images [OPTIONS] [REPOSITORY[:TAG]]\n\nExample: skiff images --format '{{.Repository}}:{{.Tag}}'",
		Flags:     imagesFlags(),
		Action:    listImages,
	}
}

func imageCommand() *cli.Command {
	return &cli.Command{
		Name:  "image",
		Usage: "Manage images",
		Subcommands: []*cli.Command{
			{Name: "ls", Aliases: []string{"list"}, Usage: "List images", Flags: imagesFlags(), Action: listImages},
			{Name: "inspect", Usage: "Show details of images", ArgsUsage: "IMAGE [IMAGE...]", Flags: []cli.Flag{formatFlag()}, Action: func(c *cli.Context) error { return inspectObjects(c, "image") }},
			pullCommand(),
			pushCommand(),
			buildCommand(),
			tagCommand(),
			{Name: "rm", Aliases: []string{"remove"}, Usage: "Remove images", ArgsUsage: "IMAGE [IMAGE...]", Flags: rmiFlags(), Action: removeImages},
			{
				Name:  "prune",
				Usage: "Remove unused images",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "remove all images no container uses, not just dangling ones"},
					&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "do not ask for confirmation"},
				},
				Action: pruneImages,
			},
			importCommand(),
		},
	}
}

func formatFlag() cli.Flag {
	return &cli.StringFlag{Name: "format", Aliases: []string{"f"}, Usage: "Go template, e.g. '{{.Id}}'"}
}

func listImages(c *cli.Context) error {
	if err := exactArgs(c, 0, 1, "images [OPTIONS] [REPOSITORY[:TAG]]"); err != nil {
		return err
	}
	if f := c.String("format"); f != "" && f != "json" && !strings.HasPrefix(f, "table") {
		if _, err := parseTemplate(f); err != nil {
			return err
		}
	}
	dangling, refFilter, err := imageFilters(c.StringSlice("filter"))
	if err != nil {
		return err
	}
	if c.NArg() == 1 {
		refFilter = append(refFilter, c.Args().First())
	}
	return withStore(c, func(ctx context.Context, st *storage.Store) error {
		imgs, err := st.Images()
		if err != nil {
			return err
		}
		var rows []any
		seen := map[string]bool{}
		hidden := map[string]bool{}
		if !c.Bool("all") {
			hidden = storage.BuildIntermediates() // Docker shows them with -a only
		}
		for _, img := range imgs {
			if hidden[img.ID] && img.Dangling() {
				continue
			}
			if dangling != nil && *dangling != img.Dangling() {
				continue
			}
			for _, row := range imageRows(img, c.Bool("no-trunc")) {
				if len(refFilter) > 0 && !matchesRef(row, refFilter) {
					continue
				}
				if c.Bool("quiet") {
					if seen[row.ID] {
						continue
					}
					seen[row.ID] = true
					fmt.Fprintln(c.App.Writer, row.ID)
					continue
				}
				rows = append(rows, row)
			}
		}
		if c.Bool("quiet") {
			return nil
		}
		def := "{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
		if c.Bool("digests") {
			def = "{{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
		}
		lf := listFormat{format: c.String("format"), defTable: def, header: headerFor(imageRow{}, map[string]string{
			"ID": "IMAGE ID", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
		})}
		return lf.write(c.App.Writer, rows)
	})
}

func imageFilters(fs []string) (dangling *bool, refs []string, err error) {
	for _, f := range fs {
		k, v, ok := strings.Cut(f, "=")
		switch {
		case ok && k == "dangling" && (v == "true" || v == "false"):
			b := v == "true"
			dangling = &b
		case ok && k == "reference":
			refs = append(refs, v)
		default:
			return nil, nil, errdefs.Invalid("invalid --filter %q: want dangling=true|false or reference=PATTERN", f)
		}
	}
	return dangling, refs, nil
}

func matchesRef(r imageRow, pats []string) bool {
	for _, p := range pats {
		repo, tag, hasTag := p, "", false
		if i := strings.LastIndex(p, ":"); i > strings.LastIndex(p, "/") {
			repo, tag, hasTag = p[:i], p[i+1:], true
		}
		if ok, _ := pathMatch(repo, r.Repository); ok && (!hasTag || tag == r.Tag) {
			return true
		}
	}
	return false
}

func imageRows(img *storage.Image, noTrunc bool) []imageRow {
	id := "sha256:" + img.ID
	if !noTrunc {
		id = img.ID[:12]
	}
	base := imageRow{
		Containers:   "N/A",
		CreatedAt:    img.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"),
		CreatedSince: units.HumanDuration(time.Since(img.Created)) + " ago",
		ID:           id,
		Size:         humanBytes(img.Size),
		VirtualSize:  humanBytes(img.Size),
		SharedSize:   "N/A",
		UniqueSize:   "N/A",
		Digest:       "<none>",
		Repository:   "<none>",
		Tag:          "<none>",
	}
	if len(img.Digests) > 0 {
		base.Digest = img.Digests[0]
	}
	if len(img.Names) == 0 {
		return []imageRow{base}
	}
	var rows []imageRow
	for _, name := range img.Names {
		n, err := reference.ParseNoTag(name)
		if err != nil {
			continue
		}
		r := base
		r.Repository = n.FamiliarRepository()
		if n.Tag != "" {
			r.Tag = n.Tag
		}
		rows = append(rows, r)
	}
	return rows
}

// imageInspectJSON is Docker's image inspect shape.
type imageInspectJSON struct {
	ID            string            `json:"Id"`
	RepoTags      []string          `json:"RepoTags"`
	RepoDigests   []string          `json:"RepoDigests"`
	Parent        string            `json:"Parent"`
	Comment       string            `json:"Comment"`
	Created       string            `json:"Created"`
	DockerVersion string            `json:"DockerVersion"`
	Author        string            `json:"Author"`
	Config        any               `json:"Config"`
	Architecture  string            `json:"Architecture"`
	Variant       string            `json:"Variant,omitempty"`
	Os            string            `json:"Os"`
	Size          int64             `json:"Size"`
	GraphDriver   graphDriver       `json:"GraphDriver"`
	RootFS        rootFS            `json:"RootFS"`
	Metadata      map[string]string `json:"Metadata"`
}

type graphDriver struct {
	Name string            `json:"Name"`
	Data map[string]string `json:"Data"`
}

type rootFS struct {
	Type   string   `json:"Type"`
	Layers []string `json:"Layers"`
}

func imageInspect(img *storage.Image) imageInspectJSON {
	j := imageInspectJSON{
		ID:           "sha256:" + img.ID,
		RepoTags:     familiarList(img.RepoTags()),
		RepoDigests:  familiarList(img.RepoDigests()),
		Created:      img.Created.UTC().Format(time.RFC3339Nano),
		Author:       img.Config.Author,
		Config:       img.Config.Config,
		Architecture: img.Config.Architecture,
		Variant:      img.Config.Variant,
		Os:           img.Config.OS,
		Size:         img.Size,
		GraphDriver:  graphDriver{Name: "overlay", Data: map[string]string{}},
		RootFS:       rootFS{Type: "layers"},
		Metadata:     map[string]string{"LastTagTime": "0001-01-01T00:00:00Z"},
	}
	if j.RepoTags == nil {
		j.RepoTags = []string{}
	}
	if j.RepoDigests == nil {
		j.RepoDigests = []string{}
	}
	for _, h := range img.Config.History {
		if h.Comment != "" {
			j.Comment = h.Comment
		}
	}
	for _, d := range img.Config.RootFS.DiffIDs {
		j.RootFS.Layers = append(j.RootFS.Layers, d.String())
	}
	return j
}

func familiarList(names []string) []string {
	var out []string
	for _, n := range names {
		if r, err := reference.ParseNoTag(n); err == nil {
			out = append(out, r.Familiar())
		}
	}
	return out
}

func tagCommand() *cli.Command {
	return &cli.Command{
		Name:      "tag",
		Usage:     "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		ArgsUsage: "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		UsageText: "skiff tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]\n\nExample: skiff tag 127.0.0.1:5000/busybox mybox:1",
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 2, 2, "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]"); err != nil {
				return err
			}
			if _, err := reference.Parse(c.Args().Get(1)); err != nil {
				return err
			}
			return withStore(c, func(ctx context.Context, st *storage.Store) error {
				return st.Tag(c.Args().Get(0), c.Args().Get(1))
			})
		},
	}
}

func rmiFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "remove an image with several names, or untag one in use"},
	}
}

func rmiCommand() *cli.Command {
	return &cli.Command{
		Name:      "rmi",
		Usage:     "Remove one or more images",
		ArgsUsage: "IMAGE [IMAGE...]",
		UsageText: "skiff rmi [OPTIONS] IMAGE [IMAGE...]\n\nExample: skiff rmi busybox",
		Flags:     rmiFlags(),
		Action:    removeImages,
	}
}

func removeImages(c *cli.Context) error {
	if err := exactArgs(c, 1, -1, "rmi [OPTIONS] IMAGE [IMAGE...]"); err != nil {
		return err
	}
	return withStore(c, func(ctx context.Context, st *storage.Store) error {
		var firstErr error
		for _, ref := range c.Args().Slice() {
			res, err := st.RemoveImage(ref, c.Bool("force"))
			if err != nil {
				fmt.Fprintf(os.Stderr, "Error: %s\n", oneLine(err))
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			for _, u := range res.Untagged {
				fmt.Fprintf(c.App.Writer, "Untagged: %s\n", u)
			}
			for _, d := range res.Deleted {
				fmt.Fprintf(c.App.Writer, "Deleted: %s\n", d)
			}
		}
		if firstErr != nil {
			return &errdefs.ExitStatus{Code: errdefs.ExitCode(firstErr)}
		}
		return nil
	})
}

func pruneImages(c *cli.Context) error {
	if !c.Bool("force") {
		what := "all dangling images"
		if c.Bool("all") {
			what = "all images without at least one container associated to them"
		}
		if !confirm("WARNING! This will remove " + what + ".") {
			return nil
		}
	}
	return withStore(c, func(ctx context.Context, st *storage.Store) error {
		removed, err := st.PruneImages(c.Bool("all"))
		if err != nil {
			return err
		}
		if len(removed) > 0 {
			fmt.Fprintln(c.App.Writer, "Deleted Images:")
			for _, r := range removed {
				fmt.Fprintf(c.App.Writer, "deleted: %s\n", r)
			}
		}
		fmt.Fprintf(c.App.Writer, "Total reclaimed space: %d images\n", len(removed))
		return nil
	})
}

func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "Return low-level information on containers and images",
		ArgsUsage: "NAME|ID [NAME|ID...]",
		UsageText: "skiff inspect [OPTIONS] NAME|ID [NAME|ID...]\n\nExample: skiff inspect --format '{{.State.Status}}' web",
		Flags: []cli.Flag{
			formatFlag(),
			&cli.StringFlag{Name: "type", Usage: "only inspect objects of this type: container or image"},
		},
		Action: func(c *cli.Context) error {
			t := c.String("type")
			if t != "" && t != "image" && t != "container" {
				return errdefs.Invalid("invalid --type %q: want container or image", t)
			}
			return inspectObjects(c, t)
		},
	}
}

// inspectObjects prints containers and images by name or ID; containers
// win when a name could be both, as in Docker.
func inspectObjects(c *cli.Context, kind string) error {
	if err := exactArgs(c, 1, -1, "inspect [OPTIONS] NAME|ID [NAME|ID...]"); err != nil {
		return err
	}
	if f := c.String("format"); f != "" && f != "json" {
		if _, err := parseTemplate(f); err != nil {
			return err
		}
	}
	return withStore(c, func(ctx context.Context, st *storage.Store) error {
		var out []any
		var firstErr error
		for _, ref := range c.Args().Slice() {
			if kind != "image" {
				if ctr, err := runtime.Lookup(ref); err == nil {
					out = append(out, containerInspect(ctr))
					continue
				} else if kind == "container" || !isNotFound(err) {
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
			}
			img, err := st.LookupImage(ref)
			if err != nil {
				if firstErr == nil {
					firstErr = err
					if kind == "" && isNotFound(err) {
						firstErr = errdefs.NotFound("no such object: %s", ref)
					}
				}
				continue
			}
			out = append(out, imageInspect(img))
		}
		if len(out) > 0 {
			if err := writeInspect(c.App.Writer, out, c.String("format")); err != nil {
				return err
			}
		} else if c.String("format") == "" {
			fmt.Fprintln(c.App.Writer, "[]")
		}
		return firstErr
	})
}

// containerInspect is Docker's container inspect shape.
func containerInspect(ctr *runtime.Container) map[string]any {
	state := map[string]any{
		"Status": ctr.State.Status, "Running": ctr.State.Running, "Paused": ctr.State.Paused,
		"Restarting": ctr.State.Restarting, "OOMKilled": ctr.State.OOMKilled, "Dead": ctr.State.Dead,
		"Pid": ctr.State.Pid, "ExitCode": ctr.State.ExitCode, "Error": ctr.State.Error,
		"StartedAt": zeroTime(ctr.State.StartedAt), "FinishedAt": zeroTime(ctr.State.FinishedAt),
	}
	if ctr.State.Health != nil {
		state["Health"] = ctr.State.Health
	}
	cfg := map[string]any{
		"Hostname": firstNonEmpty(ctr.Config.Hostname, ctr.ID[:12]), "User": ctr.Config.User,
		"Env": ctr.Config.Env, "Cmd": ctr.Config.Cmd, "Entrypoint": ctr.Config.Entrypoint,
		"WorkingDir": ctr.Config.WorkingDir, "Labels": ctr.Config.Labels, "Image": ctr.Image,
		"Tty": ctr.Config.Tty, "OpenStdin": ctr.Config.OpenStdin, "AttachStdin": ctr.Config.OpenStdin,
		"StopSignal": ctr.Config.StopSignal, "ExposedPorts": ctr.Config.ExposedPorts,
	}
	if ctr.Config.StopTimeout != nil {
		cfg["StopTimeout"] = *ctr.Config.StopTimeout
	}
	if ctr.Config.Healthcheck != nil {
		cfg["Healthcheck"] = ctr.Config.Healthcheck
	}
	hc := ctr.HostConfig
	var mounts []map[string]any
	addMount := func(m specs.Mount) {
		ro := slices.Contains(m.Options, "ro")
		e := map[string]any{"Type": m.Type, "Source": m.Source, "Destination": m.Destination, "Mode": "", "RW": !ro, "Propagation": "rprivate"}
		if m.Type == "volume" {
			e["Name"], e["Driver"] = m.Source, "local"
			if v, err := storage.GetVolume(m.Source); err == nil {
				e["Source"] = v.Mountpoint
			}
		}
		if ro {
			e["Mode"] = "ro"
		}
		mounts = append(mounts, e)
	}
	for _, b := range hc.Binds {
		if m, err := runtime.ParseVolume(b); err == nil {
			addMount(m)
		}
	}
	for _, spec := range hc.Mounts {
		if m, err := runtime.ParseMount(spec); err == nil && m.Type != "tmpfs" {
			addMount(m)
		}
	}
	if mounts == nil {
		mounts = []map[string]any{}
	}
	return map[string]any{
		"Id": ctr.ID, "Name": "/" + ctr.Name, "Created": ctr.Created.Format(time.RFC3339Nano),
		"Path": ctr.Path, "Args": nonNil(ctr.Args), "State": state, "Image": "sha256:" + ctr.ImageID,
		"RestartCount": ctr.RestartCount, "LogPath": ctr.LogPath, "Driver": "overlay", "Platform": "linux",
		"Config": cfg,
		"HostConfig": map[string]any{
			"Binds": hc.Binds, "NetworkMode": hc.NetworkMode, "RestartPolicy": hc.RestartPolicy,
			"AutoRemove": hc.AutoRemove, "CapAdd": hc.CapAdd, "CapDrop": hc.CapDrop,
			"Privileged": hc.Privileged, "SecurityOpt": hc.SecurityOpt, "ReadonlyRootfs": hc.ReadonlyRootfs,
			"Init": hc.Init, "LogConfig": hc.LogConfig, "Tmpfs": tmpfsMap(hc.Tmpfs),
			"PortBindings": nonNilPorts(hc.PortBindings), "PublishAllPorts": hc.PublishAllPorts,
			"Dns": nonNil(hc.DNS), "DnsSearch": nonNil(hc.DNSSearch), "DnsOptions": nonNil(hc.DNSOptions),
			"ExtraHosts": hc.ExtraHosts,
		},
		"Mounts": mounts,
		"NetworkSettings": map[string]any{
			"Ports": inspectPorts(ctr), "Networks": inspectNetworks(ctr),
		},
	}
}

func tmpfsMap(specs []string) map[string]string {
	m := map[string]string{}
	for _, t := range specs {
		k, v, _ := strings.Cut(t, ":")
		m[k] = v
	}
	return m
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func zeroTime(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return t.Format(time.RFC3339Nano)
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func nonNilPorts(pm netns.PortMap) netns.PortMap {
	if pm == nil {
		return netns.PortMap{}
	}
	return pm
}

// inspectNetworks is NetworkSettings.Networks: the user-defined networks
// with their addresses, or the mode.
func inspectNetworks(ctr *runtime.Container) map[string]any {
	out := map[string]any{}
	for name, e := range ctr.NetworkSettings.Networks {
		out[name] = e
	}
	if len(out) == 0 {
		out[ctr.HostConfig.NetworkMode] = map[string]any{}
	}
	return out
}

// inspectPorts is NetworkSettings.Ports: while running, the published
// ports with their host bindings and the exposed ones with null.
func inspectPorts(ctr *runtime.Container) map[string][]netns.PortBinding {
	out := map[string][]netns.PortBinding{}
	if !ctr.State.Running {
		return out
	}
	for k := range ctr.Config.ExposedPorts {
		if !strings.Contains(k, "/") {
			k += "/tcp"
		}
		out[k] = nil
	}
	for k, v := range ctr.NetworkSettings.Ports {
		out[k] = v
	}
	return out
}
