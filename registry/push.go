package registry

import (
	"context"
	"errors"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/registry/reference"
	"github.com/skiff-project/skiff/storage"
)

// PushOptions are the choices of one push.
type PushOptions struct {
	TLSVerify *bool
	// Progress receives the lines Docker prints; nil is quiet.
	Progress func(string)
	// Bytes, when set, is told how much of the upload is done.
	Bytes func(done, total int64)
	// Auth, when set, is used instead of the stored credentials.
	Auth *Credentials
}

// Push uploads the image named ref to its registry (or to dest when
// given) and returns the manifest digest. The config is sent byte for
// byte, so the image keeps its ID; layers are gzip-compressed from the
// store, and blobs the registry already has are not sent again.
func Push(ctx context.Context, st *storage.Store, ref, dest string, o PushOptions) (string, error) {
	img, err := st.LookupImage(ref)
	if err != nil {
		if errors.Is(err, errdefs.ErrNotFound) {
			return "", errdefs.NotFound("pushing %s: no such image in the local store: tag one with that name first (skiff tag IMAGE %s)", ref, ref)
		}
		return "", err
	}
	target := ref
	if dest != "" {
		target = dest
	}
	n, err := reference.Parse(target)
	if err != nil {
		return "", err
	}
	if n.Digest != "" {
		return "", errdefs.Invalid("pushing %s: push a tag, not a digest", target)
	}
	say := o.Progress
	if say == nil {
		say = func(string) {}
	}
	layers, err := st.LayerStack(img)
	if err != nil {
		return "", err
	}
	if len(layers) != len(img.Config.RootFS.DiffIDs) {
		return "", fmt.Errorf("pushing %s: the store has %d layers for %d diff IDs in its config: %w", target, len(layers), len(img.Config.RootFS.DiffIDs), errdefs.ErrConflict)
	}
	byDiff := map[v1.Hash]string{}
	for i, d := range img.Config.RootFS.DiffIDs {
		byDiff[d] = layers[i]
	}
	vimg, err := partial.UncompressedToImage(&storeImage{st: st, config: img.RawConfig, layers: byDiff})
	if err != nil {
		return "", err
	}
	rref, ropts, err := remoteRef(n, o.TLSVerify, o.Auth)
	if err != nil {
		return "", err
	}
	updates := make(chan v1.Update, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for u := range updates {
			if o.Bytes != nil && u.Error == nil {
				o.Bytes(u.Complete, u.Total)
			}
		}
	}()
	say(fmt.Sprintf("The push refers to repository [%s]", n.Repository()))
	ropts = append(ropts, remote.WithContext(ctx), remote.WithProgress(updates))
	err = remote.Write(rref, vimg, ropts...)
	<-done
	if err != nil {
		return "", pushError(n, err)
	}
	d, err := vimg.Digest()
	if err != nil {
		return "", err
	}
	m, _ := vimg.RawManifest()
	say(fmt.Sprintf("%s: digest: %s size: %d", n.Tag, d, len(m)))
	// The image is now known as repository@digest there, as Docker
	// records it.
	_ = st.AddRepoDigests(img.ID, n.Repository()+"@"+d.String())
	return d.String(), nil
}

func pushError(n reference.Named, err error) error {
	e := pullError(n, err)
	return fmt.Errorf("pushing%s", trimPrefix(e.Error(), "pulling"))
}

func trimPrefix(s, p string) string {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

// storeImage is an image in skiff's store, seen by go-containerregistry.
type storeImage struct {
	st     *storage.Store
	config []byte
	layers map[v1.Hash]string // diff ID -> storage layer ID
}

func (s *storeImage) RawConfigFile() ([]byte, error) { return s.config, nil }

func (s *storeImage) MediaType() (types.MediaType, error) { return types.DockerManifestSchema2, nil }

func (s *storeImage) LayerByDiffID(h v1.Hash) (partial.UncompressedLayer, error) {
	id, ok := s.layers[h]
	if !ok {
		return nil, fmt.Errorf("layer %s not in the store", h)
	}
	return &storeLayer{st: s.st, id: id, diffID: h}, nil
}

type storeLayer struct {
	st     *storage.Store
	id     string
	diffID v1.Hash
}

func (l *storeLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }

func (l *storeLayer) Uncompressed() (io.ReadCloser, error) { return l.st.LayerDiff(l.id) }

func (l *storeLayer) MediaType() (types.MediaType, error) { return types.DockerLayer, nil }
