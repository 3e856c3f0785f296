package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"io"
	"os"
	"runtime"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"go.podman.io/storage/pkg/archive"

	"github.com/skiff-project/skiff/errdefs"
)

// ImportOptions describe `skiff import`.
type ImportOptions struct {
	Changes []string // Dockerfile instructions: CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, LABEL
	Message string
	Name    string // full reference, or empty
	// Platform is recorded as the image's (import --platform); nil is
	// this host's.
	Platform *v1.Platform
}

// Import makes a one-layer image from a root file system tarball
// (optionally compressed).
func (s *Store) Import(ctx context.Context, r io.Reader, o ImportOptions) (*Image, error) {
	cfg := v1.ConfigFile{
		Architecture: runtime.GOARCH,
		OS:           "linux",
		Created:      v1.Time{Time: time.Now().UTC()},
		RootFS:       v1.RootFS{Type: "layers"},
	}
	if p := o.Platform; p != nil {
		cfg.OS, cfg.Architecture, cfg.Variant = p.OS, p.Architecture, p.Variant
	}
	for _, ch := range o.Changes {
		if err := ApplyChange(&cfg.Config, ch); err != nil {
			return nil, err
		}
	}
	dr, err := archive.DecompressStream(r)
	if err != nil {
		return nil, errdefs.Invalid("import: reading the archive: %v", err)
	}
	defer dr.Close()
	f, err := os.CreateTemp(s.TempDir(), "import-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), dr); err != nil {
		return nil, errdefs.Invalid("import: reading the archive: %v", err)
	}
	diffID := "sha256:" + hex.EncodeToString(h.Sum(nil))
	hash, err := v1.NewHash(diffID)
	if err != nil {
		return nil, err
	}
	cfg.RootFS.DiffIDs = []v1.Hash{hash}
	cfg.History = []v1.History{{Created: cfg.Created, CreatedBy: "skiff import", Comment: o.Message}}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	ni := NewImage{
		Config: raw,
		Layers: []LayerSource{{DiffID: diffID, Open: func() (io.ReadCloser, error) { return os.Open(f.Name()) }}},
	}
	if o.Name != "" {
		ni.Names = []string{o.Name}
	}
	return s.PutImage(ctx, ni)
}

// ApplyChange applies one Dockerfile instruction to an image config, as
// `import --change` and `commit --change` do.
func ApplyChange(c *v1.Config, change string) error {
	instr, rest, _ := strings.Cut(strings.TrimSpace(change), " ")
	rest = strings.TrimSpace(rest)
	bad := func(why string) error { return errdefs.Invalid("invalid --change %q: %s", change, why) }
	if rest == "" {
		return bad("missing value")
	}
	switch strings.ToUpper(instr) {
	case "CMD":
		c.Cmd = execOrShell(rest)
	case "ENTRYPOINT":
		c.Entrypoint = execOrShell(rest)
	case "ENV":
		for _, kv := range splitKV(rest) {
			c.Env = setEnv(c.Env, kv)
		}
	case "WORKDIR":
		c.WorkingDir = rest
	case "USER":
		c.User = rest
	case "EXPOSE":
		if c.ExposedPorts == nil {
			c.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range strings.Fields(rest) {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			c.ExposedPorts[p] = struct{}{}
		}
	case "LABEL":
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		for _, kv := range splitKV(rest) {
			k, v, _ := strings.Cut(kv, "=")
			c.Labels[k] = v
		}
	case "VOLUME":
		if c.Volumes == nil {
			c.Volumes = map[string]struct{}{}
		}
		for _, v := range execOrShellList(rest) {
			c.Volumes[v] = struct{}{}
		}
	case "STOPSIGNAL":
		c.StopSignal = rest
	default:
		return bad("only CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, LABEL, VOLUME and STOPSIGNAL can be changed")
	}
	return nil
}

func execOrShell(s string) []string {
	var list []string
	if strings.HasPrefix(s, "[") && json.Unmarshal([]byte(s), &list) == nil {
		return list
	}
	return []string{"/bin/sh", "-c", s}
}

func execOrShellList(s string) []string {
	var list []string
	if strings.HasPrefix(s, "[") && json.Unmarshal([]byte(s), &list) == nil {
		return list
	}
	return strings.Fields(s)
}

// splitKV splits `K=V K2="V 2"` (or the old `K V` form) into K=V items.
func splitKV(s string) []string {
	if !strings.Contains(s, "=") {
		k, v, _ := strings.Cut(s, " ")
		return []string{k + "=" + strings.TrimSpace(v)}
	}
	var out []string
	var cur strings.Builder
	quote := byte(0)
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case quote != 0 && ch == quote:
			quote = 0
		case quote == 0 && (ch == '"' || ch == '\''):
			quote = ch
		case quote == 0 && ch == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case quote == 0 && (ch == ' ' || ch == '\t'):
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteByte(ch)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

func setEnv(env []string, kv string) []string {
	k, _, _ := strings.Cut(kv, "=")
	for i, e := range env {
		if ek, _, _ := strings.Cut(e, "="); ek == k {
			env[i] = kv
			return env
		}
	}
	return append(env, kv)
}
