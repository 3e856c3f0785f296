// Package imagetree reads an image saved as a docker-archive (`skiff
// save`, `podman save`, `docker save`) into a summary by which two
// engines' builds of one Dockerfile can be compared: the config fields a
// Dockerfile sets, and the files its steps added, changed or removed on
// top of the base image. Times are left out; everything else a layer
// records about a file (type, mode, owner, link target, hard links,
// contents) is kept.
package imagetree

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"go.podman.io/storage/pkg/archive"
)

// Summary is what a build made.
type Summary struct {
	Config Config `json:"config"`
	// Files are the entries the build's layers added or changed, by path.
	Files []File `json:"files"`
	// Removed are the base image's paths the build deleted (a removed
	// directory stands for its contents).
	Removed []string `json:"removed,omitempty"`
}

// Config is the part of an image config a Dockerfile sets.
type Config struct {
	Env          []string          `json:"Env"`
	Cmd          []string          `json:"Cmd"`
	Entrypoint   []string          `json:"Entrypoint"`
	WorkingDir   string            `json:"WorkingDir"`
	User         string            `json:"User"`
	ExposedPorts []string          `json:"ExposedPorts"`
	Labels       map[string]string `json:"Labels"`
	Volumes      []string          `json:"Volumes"`
	Healthcheck  *Health           `json:"Healthcheck"`
	StopSignal   string            `json:"StopSignal"`
	Shell        []string          `json:"Shell"`
	OnBuild      []string          `json:"OnBuild"`
}

// Health is a HEALTHCHECK as the image config stores it (durations in ns).
type Health struct {
	Test        []string `json:"Test"`
	Interval    int64    `json:"Interval"`
	Timeout     int64    `json:"Timeout"`
	StartPeriod int64    `json:"StartPeriod"`
	Retries     int      `json:"Retries"`
}

// File is one entry of the image's file tree.
type File struct {
	Path string `json:"path"`
	Type string `json:"type"` // file, dir, symlink, fifo, char, block
	Mode string `json:"mode"` // octal permission, setuid, setgid and sticky bits
	UID  int    `json:"uid"`
	GID  int    `json:"gid"`
	// Target is a symlink's target.
	Target string `json:"target,omitempty"`
	// Links are the other paths of a hard-linked file, sorted.
	Links []string `json:"links,omitempty"`
	// Content is a short text file's text, else sha256:HEX and the size.
	Content string `json:"content,omitempty"`
}

// node is a path of the tree being assembled from the layers.
type node struct {
	File
	inode int
}

// tree is a root file system built up layer by layer.
type tree struct {
	nodes  map[string]*node
	inodes int
}

// Read summarises the image in a docker-archive (its first image). bases
// are the layer lists (diff IDs) of candidate base images: the longest one
// the image's layers start with is the base, whose files are not listed.
func Read(r io.Reader, bases ...[]string) (*Summary, error) {
	files, err := readArchive(r)
	if err != nil {
		return nil, err
	}
	var manifest []struct {
		Config string
		Layers []string
	}
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil || len(manifest) == 0 {
		return nil, fmt.Errorf("reading manifest.json: %v", err)
	}
	m := manifest[0]
	var cfg struct {
		Config imageConfig `json:"config"`
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(files[m.Config], &cfg); err != nil {
		return nil, fmt.Errorf("reading the image config %s: %v", m.Config, err)
	}
	baseLen := 0
	for _, b := range bases {
		if len(b) > baseLen && len(b) <= len(cfg.RootFS.DiffIDs) && slices.Equal(b, cfg.RootFS.DiffIDs[:len(b)]) {
			baseLen = len(b)
		}
	}
	t := &tree{nodes: map[string]*node{}}
	var base map[string]File
	touched := map[string]bool{}
	for i, l := range m.Layers {
		if i == baseLen {
			base = t.snapshot()
		}
		data, ok := files[l]
		if !ok {
			return nil, fmt.Errorf("layer %s is not in the archive", l)
		}
		changed, err := t.apply(data)
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", l, err)
		}
		if i >= baseLen {
			for p := range changed {
				touched[p] = true
			}
		}
	}
	if base == nil {
		base = t.snapshot()
	}
	s := &Summary{Config: cfg.Config.summary()}
	final := t.snapshot()
	for p, f := range final {
		if b, ok := base[p]; touched[p] && (!ok || !same(b, f)) {
			s.Files = append(s.Files, f)
		}
	}
	sort.Slice(s.Files, func(i, j int) bool { return s.Files[i].Path < s.Files[j].Path })
	for p := range base {
		if _, ok := final[p]; !ok {
			if _, parentKept := final[path.Dir(p)]; parentKept || path.Dir(p) == "/" {
				s.Removed = append(s.Removed, p)
			}
		}
	}
	sort.Strings(s.Removed)
	return s, nil
}

// imageConfig is the config as an image holds it: ports and volumes as
// sets.
type imageConfig struct {
	Config
	ExposedPorts map[string]struct{} `json:"ExposedPorts"`
	Volumes      map[string]struct{} `json:"Volumes"`
}

// summary is the config with empty lists and maps as absent (Podman
// writes [] where Docker writes null).
func (c imageConfig) summary() Config {
	out := c.Config
	out.ExposedPorts, out.Volumes = keys(c.ExposedPorts), keys(c.Volumes)
	for _, l := range []*[]string{&out.Env, &out.Cmd, &out.Entrypoint, &out.Shell, &out.OnBuild} {
		if len(*l) == 0 {
			*l = nil
		}
	}
	if len(out.Labels) == 0 {
		out.Labels = nil
	}
	return out
}

func keys(m map[string]struct{}) []string {
	if len(m) == 0 {
		return nil
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func same(a, b File) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// readArchive reads every regular file of a tar (symlinks resolved to
// their targets' data, as podman save links layers).
func readArchive(r io.Reader) (map[string][]byte, error) {
	files := map[string][]byte{}
	links := map[string]string{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the archive: %w", err)
		}
		name := path.Clean(h.Name)
		switch h.Typeflag {
		case tar.TypeReg:
			b, err := io.ReadAll(tr)
			if err != nil {
				return nil, err
			}
			files[name] = b
		case tar.TypeSymlink:
			links[name] = path.Join(path.Dir(name), h.Linkname)
		}
	}
	for name, target := range links {
		if b, ok := files[target]; ok {
			files[name] = b
		}
	}
	return files, nil
}

// apply unpacks one layer (possibly compressed) onto the tree, with its
// whiteouts, and returns the paths it wrote or deleted.
func (t *tree) apply(layer []byte) (map[string]bool, error) {
	rd, err := archive.DecompressStream(bytes.NewReader(layer))
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	changed := map[string]bool{}
	tr := tar.NewReader(rd)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return changed, nil
		}
		if err != nil {
			return nil, err
		}
		p := path.Clean("/" + h.Name)
		dir, base := path.Split(p)
		switch {
		case base == ".wh..wh..opq":
			t.removeUnder(path.Clean(dir), false, changed)
			continue
		case strings.HasPrefix(base, ".wh."):
			t.removeUnder(path.Join(dir, strings.TrimPrefix(base, ".wh.")), true, changed)
			continue
		}
		if err := t.add(p, h, tr); err != nil {
			return nil, fmt.Errorf("%s: %w", h.Name, err)
		}
		changed[p] = true
	}
}

// removeUnder deletes p's descendants, and p itself when self.
func (t *tree) removeUnder(p string, self bool, changed map[string]bool) {
	for q := range t.nodes {
		if (self && q == p) || strings.HasPrefix(q, p+"/") || (p == "/" && q != "/") {
			delete(t.nodes, q)
			changed[q] = true
		}
	}
}

func (t *tree) add(p string, h *tar.Header, body io.Reader) error {
	if old, ok := t.nodes[p]; ok && old.Type == "dir" && h.Typeflag == tar.TypeDir {
		// A directory entry over a directory changes its metadata only.
		old.Mode, old.UID, old.GID = mode(h), h.Uid, h.Gid
		return nil
	}
	t.removeUnder(p, true, map[string]bool{})
	n := &node{File: File{Path: p, Mode: mode(h), UID: h.Uid, GID: h.Gid}}
	switch h.Typeflag {
	case tar.TypeReg:
		b, err := io.ReadAll(body)
		if err != nil {
			return err
		}
		n.Type, n.Content = "file", content(b)
		t.inodes++
		n.inode = t.inodes
	case tar.TypeLink:
		target, ok := t.nodes[path.Clean("/"+h.Linkname)]
		if !ok || target.Type != "file" {
			return fmt.Errorf("hard link to %s, which is not a file of the layers so far", h.Linkname)
		}
		cp := *target
		cp.Path, cp.Mode, cp.UID, cp.GID = p, mode(h), h.Uid, h.Gid
		if h.Mode == 0 && h.Uid == 0 && h.Gid == 0 {
			cp.Mode, cp.UID, cp.GID = target.Mode, target.UID, target.GID
		}
		n = &cp
	case tar.TypeDir:
		n.Type = "dir"
	case tar.TypeSymlink:
		n.Type, n.Target = "symlink", h.Linkname
	case tar.TypeFifo:
		n.Type = "fifo"
	case tar.TypeChar:
		n.Type = fmt.Sprintf("char %d:%d", h.Devmajor, h.Devminor)
	case tar.TypeBlock:
		n.Type = fmt.Sprintf("block %d:%d", h.Devmajor, h.Devminor)
	default:
		return fmt.Errorf("unexpected tar type %q", h.Typeflag)
	}
	t.nodes[p] = n
	return nil
}

// snapshot is the tree as files, with each hard-linked file's other names.
func (t *tree) snapshot() map[string]File {
	byInode := map[int][]string{}
	for p, n := range t.nodes {
		if n.inode != 0 {
			byInode[n.inode] = append(byInode[n.inode], p)
		}
	}
	out := map[string]File{}
	for p, n := range t.nodes {
		f := n.File
		f.Links = nil
		for _, q := range byInode[n.inode] {
			if q != p && n.inode != 0 {
				f.Links = append(f.Links, q)
			}
		}
		sort.Strings(f.Links)
		out[p] = f
	}
	return out
}

func mode(h *tar.Header) string {
	return fmt.Sprintf("%04o", h.Mode&0o7777)
}

func content(b []byte) string {
	if len(b) <= 256 && utf8.Valid(b) && !bytes.ContainsRune(b, 0) {
		return "text:" + string(b)
	}
	return fmt.Sprintf("sha256:%x (%d bytes)", sha256.Sum256(b), len(b))
}
