package engine

import (
	"context"
	goruntime "runtime"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/storage"
)

// The --platform of image commands (history, image inspect, rmi, save,
// load, import): Docker's os[/arch[/variant]]. skiff keeps one platform
// per image, so an image has exactly one variant: its own.

// ParsePlatform reads os[/arch[/variant]]; a missing arch is this host's,
// as Docker's platform parser fills it in.
func ParsePlatform(s string) (v1.Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) > 3 || slices.Contains(parts, "") {
		return v1.Platform{}, errdefs.Invalid("invalid --platform %q: want os[/arch[/variant]], e.g. linux/amd64", s)
	}
	p := v1.Platform{OS: parts[0], Architecture: goruntime.GOARCH}
	if len(parts) > 1 {
		p.Architecture = parts[1]
	}
	if len(parts) > 2 {
		p.Variant = parts[2]
	}
	return p, nil
}

// platformOf is an image's own platform, from its config.
func platformOf(cfg v1.ConfigFile) v1.Platform {
	return v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}
}

// ImageCheckPlatform refuses a --platform that image ref does not have
// ("" is no check), before history, inspect, rmi or save act on it.
func (e *Engine) ImageCheckPlatform(ctx context.Context, ref, platform string) error {
	if platform == "" {
		return nil
	}
	want, err := ParsePlatform(platform)
	if err != nil {
		return err
	}
	return e.withStore(func(st *storage.Store) error {
		img, err := st.LookupImage(ref)
		if err != nil {
			return err
		}
		if have := platformOf(img.Config); !storage.PlatformMatches(want, have) {
			return errdefs.NotFound("image %s has no %s variant: it is %s (skiff keeps one platform per image; pull --platform %s for another)",
				ref, storage.PlatformString(want), storage.PlatformString(have), storage.PlatformString(want))
		}
		return nil
	})
}
