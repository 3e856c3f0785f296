package engine

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	units "github.com/docker/go-units"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	ctypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	mstorage "github.com/moby/moby/api/types/storage"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/events"
	"github.com/skiff-project/skiff/internal/ondisk"
	"github.com/skiff-project/skiff/internal/trace"
	"github.com/skiff-project/skiff/registry"
	"github.com/skiff-project/skiff/registry/reference"
	"github.com/skiff-project/skiff/storage"
)

// PullProgress is told what a pull does; the CLI draws it, the API
// streams it as Docker's JSON messages.
type PullProgress = registry.Progress

// PullOptions are `pull`'s.
type PullOptions struct {
	Platform  string // os/arch[/variant]; "" for this host's
	TLSVerify *bool  // nil: verify, except loopback and insecure registries
	Progress  PullProgress
	// Auth, when set, replaces the user's stored credentials.
	Auth *Credentials
	// AllTags pulls every tag of the repository, which the reference
	// names without a tag or digest.
	AllTags bool
	// Pulled, when set, hears ImageEnsure's pull end with Docker's
	// closing line (PullReport.Status), as run and create print it.
	Pulled func(status string)
}

// Credentials are a registry user and password, or a token.
type Credentials = registry.Credentials

// PullReport is what a pull did.
type PullReport struct {
	// Ref is the full reference pulled; the repository with AllTags.
	Ref string
	// Status is Docker's closing line of a pull, after "Status: ":
	// "Downloaded newer image for busybox:latest" when an image or a tag
	// is new, else "Image is up to date for busybox:latest".
	Status string
}

// ImagePull downloads an image (every tag of a repository with AllTags).
func (e *Engine) ImagePull(ctx context.Context, ref string, o PullOptions) (PullReport, error) {
	n, err := reference.ParseNoTag(ref)
	if err != nil {
		return PullReport{}, err
	}
	refs := []string{n.String()}
	switch {
	case o.AllTags && (n.Tag != "" || n.Digest != ""):
		return PullReport{}, errdefs.Invalid("tag can't be used with --all-tags/-a")
	case o.AllTags:
		tags, err := registry.Tags(ctx, n.Repository(), e.registryPullOptions(o))
		if err != nil {
			return PullReport{}, err
		}
		slices.Sort(tags)
		refs = refs[:0]
		for _, t := range tags {
			refs = append(refs, n.WithTag(t).String())
		}
	case n.Digest == "" && n.Tag == "":
		n.Tag = "latest"
		refs = []string{n.String()}
	}
	newer := false
	err = e.withStore(func(st *storage.Store) error {
		for _, r := range refs {
			e.log.Debug("pulling", "ref", r, "platform", o.Platform)
			before, _ := st.LookupImage(r)
			img, err := registry.Pull(ctx, st, r, e.registryPullOptions(o))
			if err != nil {
				return err
			}
			refEvent("pull", r, img)
			newer = newer || before == nil || before.ID != img.ID
		}
		return nil
	})
	return PullReport{Ref: n.String(), Status: pullStatus(n, newer)}, err
}

// pullStatus is Docker's closing line of a pull of n, after "Status: ".
func pullStatus(n reference.Named, newer bool) string {
	if newer {
		return "Downloaded newer image for " + n.Familiar()
	}
	return "Image is up to date for " + n.Familiar()
}

// registryPullOptions are the registry's options for a pull.
func (e *Engine) registryPullOptions(o PullOptions) registry.PullOptions {
	return registry.PullOptions{Platform: o.Platform, TLSVerify: o.TLSVerify, Progress: o.Progress, Auth: o.Auth, Log: e.log}
}

// Pull policies of run, create and build.
const (
	PullMissing = "missing"
	PullAlways  = "always"
	PullNever   = "never"
)

// ImageEnsure makes an image available as a pull policy says (missing,
// the default; always; never) and returns its ID. missing, when set, is
// called before an image that is not in the store is pulled.
func (e *Engine) ImageEnsure(ctx context.Context, ref, policy string, o PullOptions, missing func()) (string, error) {
	switch policy {
	case "", PullMissing, PullAlways, PullNever, "newer":
	default:
		return "", errdefs.Invalid("invalid --pull %q: want missing, always or never", policy)
	}
	st, err := e.store()
	if err != nil {
		return "", err
	}
	end := trace.Begin("find the image")
	before, err := st.LookupImage(ref)
	end()
	if policy != PullAlways {
		if err == nil {
			return before.ID, nil
		}
		if policy == PullNever {
			return "", fmt.Errorf("%s: image not known and --pull=never: %w", ref, errdefs.ErrNotFound)
		}
		if !isNotFound(err) {
			return "", err
		}
	}
	n, err := reference.Parse(ref)
	if err != nil {
		return "", err
	}
	if missing != nil && policy != PullAlways { // always pulls without saying the image is missing, as Docker
		missing()
	}
	img, err := registry.Pull(ctx, st, ref, e.registryPullOptions(o))
	if err != nil {
		return "", err
	}
	refEvent("pull", ref, img)
	if o.Pulled != nil {
		o.Pulled(pullStatus(n, before == nil || before.ID != img.ID))
	}
	return img.ID, nil
}

// PushOptions are `push`'s.
type PushOptions = registry.PushOptions

// ImagePush uploads an image to its registry (or to dest), or every local
// tag of a repository with AllTags, and returns the (last) manifest
// digest.
func (e *Engine) ImagePush(ctx context.Context, ref, dest string, o PushOptions) (string, error) {
	var digest string
	err := e.withStore(func(st *storage.Store) (err error) {
		digest, err = registry.Push(ctx, st, ref, dest, o)
		if err == nil {
			refEvent("push", cmp.Or(dest, ref), nil)
		}
		return err
	})
	return digest, err
}

// ImageListOptions are `images`'s.
type ImageListOptions struct {
	All bool // a build's intermediate images too
	// Filters: dangling, reference, label, before, since.
	Filters Filters
	// Containers counts the containers (any state) of each image into
	// Summary.Containers; otherwise it is -1, as in Docker's list.
	Containers bool
}

// ImageList lists images, as Docker's API does: RepoTags in the familiar
// form (busybox:latest), only the matching ones under a reference filter.
func (e *Engine) ImageList(ctx context.Context, o ImageListOptions) ([]image.Summary, error) {
	f := o.Filters
	if err := f.check("dangling", "reference", "label", "before", "since"); err != nil {
		return nil, err
	}
	dangling, err := f.boolValue("dangling")
	if err != nil {
		return nil, err
	}
	out := []image.Summary{}
	used := map[string]int64{}
	if o.Containers {
		ctrs, err := container.List()
		if err != nil {
			return nil, err
		}
		for _, c := range ctrs {
			used[c.ImageID]++
		}
	}
	err = e.withStore(func(st *storage.Store) error {
		imgs, err := st.Images()
		if err != nil {
			return err
		}
		var before, since *storage.Image
		for key, dst := range map[string]**storage.Image{"before": &before, "since": &since} {
			for _, ref := range f[key] {
				if *dst, err = st.LookupImage(ref); err != nil {
					return fmt.Errorf("filter %s=%s: %w", key, ref, err)
				}
			}
		}
		hidden := map[string]bool{}
		if !o.All {
			hidden = storage.BuildIntermediates() // Docker shows them with -a only
		}
		for _, img := range imgs {
			if hidden[img.ID] && img.Dangling() ||
				dangling != nil && *dangling != img.Dangling() ||
				before != nil && !img.Created.Before(before.Created) ||
				since != nil && !img.Created.After(since.Created) ||
				!f.labels("label", img.Config.Config.Labels) {
				continue
			}
			sm := imageSummary(img)
			if o.Containers {
				sm.Containers = used[img.ID]
			}
			if refs := f["reference"]; len(refs) > 0 {
				sm.RepoTags = slices.DeleteFunc(sm.RepoTags, func(t string) bool { return !matchReference(refs, t) })
				// Digests of other repositories go too, as in Docker (the
				// CLI would list them as REPO <none>).
				sm.RepoDigests = slices.DeleteFunc(sm.RepoDigests, func(d string) bool {
					repo, _, _ := strings.Cut(d, "@")
					return !matchReference(refs, repo) && !slices.ContainsFunc(refs, func(p string) bool { return p == d })
				})
				if len(sm.RepoTags) == 0 && len(sm.RepoDigests) == 0 {
					continue
				}
			}
			out = append(out, sm)
		}
		return nil
	})
	return out, err
}

// matchReference reports whether a familiar name:tag matches one of the
// reference filters (a repository pattern, with an optional :tag).
func matchReference(pats []string, name string) bool {
	repo, tag := name, ""
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		repo, tag = name[:i], name[i+1:]
	}
	for _, p := range pats {
		prepo, ptag, hasTag := p, "", false
		if i := strings.LastIndex(p, ":"); i > strings.LastIndex(p, "/") {
			prepo, ptag, hasTag = p[:i], p[i+1:], true
		}
		if ok, _ := pathMatch(prepo, repo); ok && (!hasTag || ptag == tag) {
			return true
		}
	}
	return false
}

func imageSummary(img *storage.Image) image.Summary {
	return image.Summary{
		ID: "sha256:" + img.ID, RepoTags: familiar(img.RepoTags()), RepoDigests: familiar(img.RepoDigests()),
		Created: img.Created.Unix(), Size: img.Size, SharedSize: -1, Containers: -1,
		Labels: img.Config.Config.Labels,
	}
}

// familiar turns full references into Docker's short forms.
func familiar(names []string) []string {
	out := []string{}
	for _, n := range names {
		if r, err := reference.ParseNoTag(n); err == nil {
			out = append(out, r.Familiar())
		}
	}
	return out
}

// ImageInspect is Docker's inspect document of an image, as Docker sends
// it to clients of API 1.47: Parent, DockerVersion, Comment and Author
// always, and the config in the shape of a container's.
type ImageInspect struct {
	image.InspectResponse
	Parent        string       `json:"Parent"`
	DockerVersion string       `json:"DockerVersion"`
	Comment       string       `json:"Comment"`
	Author        string       `json:"Author"`
	Config        *ImageConfig `json:"Config"`
}

// ImageConfig is an image's config in ImageInspect: a container's Config
// with OnBuild always sent (null when empty), as Docker does below API
// 1.50, so `inspect -f '{{.Config.OnBuild}}'` never says <no value>.
type ImageConfig struct {
	*ctypes.Config
	OnBuild []string `json:"OnBuild"`
}

// ImageInspect returns Docker's inspect document of an image.
func (e *Engine) ImageInspect(ctx context.Context, ref string) (*ImageInspect, error) {
	var res *ImageInspect
	err := e.withStore(func(st *storage.Store) error {
		img, err := st.LookupImage(ref)
		if err != nil {
			return err
		}
		res, err = inspectImage(img)
		return err
	})
	return res, err
}

func inspectImage(img *storage.Image) (*ImageInspect, error) {
	cfg, err := dockerConfig(img.Config.Config)
	if err != nil {
		return nil, err
	}
	res := &ImageInspect{
		InspectResponse: image.InspectResponse{
			ID: "sha256:" + img.ID, RepoTags: familiar(img.RepoTags()), RepoDigests: familiar(img.RepoDigests()),
			Created:      img.Created.UTC().Format(time.RFC3339Nano),
			Architecture: img.Config.Architecture, Variant: img.Config.Variant, Os: img.Config.OS, Size: img.Size,
			GraphDriver: &mstorage.DriverData{Name: "overlay", Data: map[string]string{}},
			RootFS:      image.RootFS{Type: "layers"},
		},
		Author: img.Config.Author, Config: &ImageConfig{Config: cfg, OnBuild: cfg.OnBuild},
	}
	for _, h := range img.Config.History {
		if h.Comment != "" {
			res.Comment = h.Comment
		}
	}

	for _, d := range img.Config.RootFS.DiffIDs {
		res.RootFS.Layers = append(res.RootFS.Layers, d.String())
	}
	return res, nil
}

// dockerConfig is an image's config in Docker's type: the same JSON.
func dockerConfig(c v1.Config) (*ctypes.Config, error) {
	data, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	out := &ctypes.Config{}
	if err := json.Unmarshal(data, out); err != nil {
		return nil, fmt.Errorf("reading the image config: %w", err)
	}
	return out, nil
}

// ImageHistory returns an image's history, newest first.
func (e *Engine) ImageHistory(ctx context.Context, ref string) ([]image.HistoryResponseItem, error) {
	var out []image.HistoryResponseItem
	err := e.withStore(func(st *storage.Store) error {
		hist, err := st.History(ref)
		for _, h := range hist {
			out = append(out, historyItem(h))
		}
		return err
	})
	return out, err
}

// historyItem is one line of an image's history in Docker's type.
func historyItem(h storage.HistoryEntry) image.HistoryResponseItem {
	item := image.HistoryResponseItem{ID: "<missing>", Created: h.Created.Unix(), CreatedBy: h.CreatedBy, Size: h.Size, Comment: h.Comment, Tags: []string{}}
	if h.ID != "" {
		item.ID = "sha256:" + h.ID
	}
	return item
}

// ImageTag gives an image another name.
func (e *Engine) ImageTag(ctx context.Context, source, target string) error {
	if _, err := reference.Parse(target); err != nil {
		return err
	}
	return e.withStore(func(st *storage.Store) error {
		if err := st.Tag(source, target); err != nil {
			return err
		}
		if img, err := st.LookupImage(target); err == nil {
			imageEvent("tag", "sha256:"+img.ID, familiarRef(target), img.Config.Config.Labels)
		}
		return nil
	})
}

// ImageRemove untags an image by name, or removes it by ID (with force,
// one with several names or in use by a stopped container too).
func (e *Engine) ImageRemove(ctx context.Context, ref string, force bool) ([]image.DeleteResponse, error) {
	var out []image.DeleteResponse
	err := e.withStore(func(st *storage.Store) error {
		img, _ := st.LookupImage(ref)
		res, err := st.RemoveImage(ref, force)
		if errors.Is(err, errdefs.ErrNotFound) && img == nil {
			return noSuchImage(ref)
		}
		if err != nil {
			return err
		}
		removedEvents(img, res.Untagged, res.Deleted)
		for _, u := range res.Untagged {
			out = append(out, image.DeleteResponse{Untagged: u})
		}
		for _, d := range res.Deleted {
			out = append(out, image.DeleteResponse{Deleted: d})
		}
		return nil
	})
	return out, err
}

// noSuchImage is Docker's error for removing an image that is not
// there: the name with its default tag, and no advice to pull it.
func noSuchImage(ref string) error {
	if n, err := reference.ParseNoTag(ref); err == nil && !reference.IsID(strings.TrimPrefix(ref, "sha256:")) {
		if n.Tag == "" && n.Digest == "" {
			n.Tag = "latest"
		}
		ref = n.Familiar()
	}
	return errdefs.NotFound("No such image: %s", ref)
}

// ImagePrune removes dangling images (with all, every image no container
// uses) and reports them. Filters (Docker's): dangling=false (all),
// until=, label=, label!=.
func (e *Engine) ImagePrune(ctx context.Context, all bool, f Filters) (image.PruneReport, error) {
	var rep image.PruneReport
	if err := f.check("dangling", "until", "label", "label!"); err != nil {
		return rep, err
	}
	if d, err := f.boolValue("dangling"); err != nil {
		return rep, err
	} else if d != nil && !*d {
		all = true
	}
	until, err := untilFilter(f)
	if err != nil {
		return rep, err
	}
	take := func(img *storage.Image) bool {
		labels := img.Config.Config.Labels
		return f.labels("label", labels) && !labelsMatchAny(f["label!"], labels) && (until.IsZero() || img.Created.Before(until))
	}
	err = e.withStore(func(st *storage.Store) error {
		removed, err := st.PruneImages(all, take)
		for _, id := range removed {
			rep.ImagesDeleted = append(rep.ImagesDeleted, image.DeleteResponse{Deleted: id})
		}
		removedEvents(nil, nil, removed)
		return err
	})
	if err == nil {
		pruneEvent(events.ImageEventType, nil)
	}
	return rep, err
}

// BuildPruneOptions are `builder prune`'s: --filter until= (or
// unused-for=): only cache older than that; --keep-storage: keep the
// newest cache up to that many bytes.
type BuildPruneOptions struct {
	Filters     Filters
	KeepStorage int64
}

// BuildPrune empties the build cache, or the part of it o selects:
// intermediate images, cached steps and RUN cache mounts. It reports the
// images it removed.
func (e *Engine) BuildPrune(ctx context.Context, o BuildPruneOptions) ([]string, error) {
	f := Filters{"until": append(o.Filters["until"], o.Filters["unused-for"]...)}
	if err := o.Filters.check("until", "unused-for"); err != nil {
		return nil, err
	}
	until, err := untilFilter(f)
	if err != nil {
		return nil, err
	}
	if o.KeepStorage < 0 {
		return nil, errdefs.Invalid("invalid --keep-storage %d: want a size of 0 or more", o.KeepStorage)
	}
	var removed []string
	err = e.withStore(func(st *storage.Store) (err error) {
		removed, err = st.PruneBuildWith(storage.BuildPruneOptions{Until: until, KeepStorage: o.KeepStorage})
		return err
	})
	if err == nil {
		pruneEvent(events.BuilderEventType, nil)
	}
	return removed, err
}

// newImage checks what commit and import make a new image with, before
// anything is stored: the --change instructions, and the optional
// REPOSITORY[:TAG] it is named, which it returns as a full reference.
func newImage(ref string, changes []string) (string, error) {
	for _, ch := range changes {
		var probe v1.Config
		if err := storage.ApplyChange(&probe, ch); err != nil {
			return "", err
		}
	}
	if ref == "" {
		return "", nil
	}
	n, err := reference.Parse(ref)
	if err != nil {
		return "", err
	}
	if n.Digest != "" {
		return "", errdefs.Invalid("%s has a digest: give a tag to name the new image", ref)
	}
	return n.String(), nil
}

// ImageImportOptions are `import`'s.
type ImageImportOptions struct {
	Changes []string // Dockerfile instructions: CMD, ENTRYPOINT, ENV, …
	Message string
	Name    string // REPOSITORY[:TAG] or ""
	// Platform, os[/arch[/variant]], is recorded as the image's; "" is
	// this host's.
	Platform string
}

// ImageImport makes a one-layer image from a root file system tarball
// (plain or compressed) and returns its ID.
func (e *Engine) ImageImport(ctx context.Context, r io.Reader, o ImageImportOptions) (string, error) {
	name, err := newImage(o.Name, o.Changes)
	if err != nil {
		return "", err
	}
	io := storage.ImportOptions{Changes: o.Changes, Message: o.Message, Name: name}
	if o.Platform != "" {
		p, err := ParsePlatform(o.Platform)
		if err != nil {
			return "", err
		}
		io.Platform = &p
	}
	var id string
	err = e.withStore(func(st *storage.Store) error {
		img, err := st.Import(ctx, r, io)
		if err == nil {
			id = img.ID
			if name != "" {
				imageEvent("tag", "sha256:"+id, familiarRef(name), img.Config.Config.Labels)
			}
			imageEvent("import", "sha256:"+id, "sha256:"+id, img.Config.Config.Labels)
		}
		return err
	})
	return "sha256:" + id, err
}

// LoadedImage is an image ImageLoad stored: its ID and familiar names.
type LoadedImage struct {
	ID    string
	Names []string
}

// ImageLoad stores every image of a docker-archive or oci-archive read
// from r, or of the OCI layout in dir; all or nothing. With platform
// (os[/arch[/variant]]) only the images of that platform are stored.
func (e *Engine) ImageLoad(ctx context.Context, r io.Reader, dir, platform string) ([]LoadedImage, error) {
	var out []LoadedImage
	lo := storage.LoadOptions{Reader: r, Dir: dir}
	if platform != "" {
		p, err := ParsePlatform(platform)
		if err != nil {
			return nil, err
		}
		lo.Platform = &p
	}
	err := e.withStore(func(st *storage.Store) error {
		imgs, err := st.Load(ctx, lo)
		for _, img := range imgs {
			out = append(out, LoadedImage{ID: "sha256:" + img.ID, Names: familiar(img.Names)})
			if err == nil {
				imageEvent("load", "sha256:"+img.ID, "sha256:"+img.ID, nil)
			}
		}
		return err
	})
	return out, err
}

// Archive formats of ImageSave.
const (
	FormatDockerArchive = storage.FormatDockerArchive
	FormatOCIArchive    = storage.FormatOCIArchive
	FormatOCIDir        = storage.FormatOCIDir
)

// ImageSaveOptions are `save`'s: the images, the format, and where:
// Writer, or Path (a file written atomically, or the oci-dir directory).
type ImageSaveOptions struct {
	Refs   []string
	Format string
	Writer io.Writer
	Path   string
}

// ImageSave writes images to an archive.
func (e *Engine) ImageSave(ctx context.Context, o ImageSaveOptions) error {
	so := storage.SaveOptions{Format: o.Format, Refs: o.Refs, Writer: o.Writer}
	switch o.Format {
	case "", FormatDockerArchive, FormatOCIArchive:
	case FormatOCIDir:
		if o.Path == "" {
			return errdefs.Invalid("save --format oci-dir needs -o DIRECTORY")
		}
		so.Dir, o.Path = o.Path, ""
	default:
		return errdefs.Invalid("invalid --format %q: want docker-archive, oci-archive or oci-dir", o.Format)
	}
	return e.withStore(func(st *storage.Store) error {
		var err error
		if o.Path == "" {
			err = st.Save(ctx, so)
		} else {
			err = ondisk.WriteStream(o.Path, 0o644, func(f *os.File) error {
				so.Writer = f
				return st.Save(ctx, so)
			})
		}
		if err == nil {
			for _, ref := range o.Refs {
				if img, err := st.LookupImage(ref); err == nil {
					imageEvent("save", "sha256:"+img.ID, "sha256:"+img.ID, img.Config.Config.Labels)
				}
			}
		}
		return err
	})
}

// pathMatch matches a repository against a shell pattern, as Docker's
// reference filter does.
func pathMatch(pattern, name string) (bool, error) { return path.Match(pattern, name) }

// ShortDigest is a layer or image digest as Docker's progress shows it:
// 12 hex characters, without sha256:.
func ShortDigest(d string) string { return container.ShortID(strings.TrimPrefix(d, "sha256:")) }

// NameOnly reports whether ref names a repository without a tag or
// digest.
func NameOnly(ref string) bool {
	n, err := reference.ParseNoTag(ref)
	return err == nil && n.Tag == "" && n.Digest == ""
}

// ProgressText is Docker's progress of a transfer on a terminal width
// columns wide: "[=====>     ]  86MB/420MB", the bar only on terminals
// wider than 110 columns, as docker's jsonmessage draws it.
func ProgressText(done, total int64, width int) string {
	if done <= 0 && total <= 0 {
		return ""
	}
	current := units.HumanSize(float64(done))
	if total <= 0 {
		return fmt.Sprintf("%8v", current)
	}
	pct := min(int(float64(done)/float64(total)*100)/2, 50)
	bar := ""
	if width > 110 {
		bar = fmt.Sprintf("[%s>%s] ", strings.Repeat("=", pct), strings.Repeat(" ", 50-pct))
	}
	if done > total {
		return bar + fmt.Sprintf("%8v", current)
	}
	return bar + fmt.Sprintf("%8v/%v", current, units.HumanSize(float64(total)))
}

// SplitReference returns a reference's repository path in its registry
// and its tag ("latest" when it names none), as pull's progress shows
// them: "latest: Pulling from library/busybox", as Docker.
func SplitReference(ref string) (path, tag string) {
	n, err := reference.Parse(ref)
	if err != nil {
		return ref, ""
	}
	return n.Path, n.Tag
}

// FamiliarImage is an image name as Docker's ps shows it: the short form,
// without :latest unless the name had it.
func FamiliarImage(name string) string {
	n, err := reference.ParseNoTag(name)
	if err != nil {
		return name
	}
	if n.Tag == "latest" && !strings.HasSuffix(name, ":latest") {
		return n.FamiliarRepository()
	}
	return n.Familiar()
}
