package engine

import (
	"context"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/skiff-project/skiff/registry"
)

// Manifest lists need no engine: as with Docker's CLI, they are files of
// the user's own (under the data directory) and registries reached
// directly, so these verbs neither enter the user's namespace nor open
// the store. Docker's Engine API has no manifest endpoints.

// Options and reports of `manifest`'s subcommands.
type (
	ManifestCreateOptions   = registry.ManifestCreateOptions
	ManifestAnnotateOptions = registry.ManifestAnnotateOptions
	ManifestInspectOptions  = registry.ManifestInspectOptions
	ManifestPushOptions     = registry.ManifestPushOptions
	ManifestInspection      = registry.ManifestInspection
	ManifestPart            = registry.ManifestPart
)

// ManifestCreate makes a local manifest list of images that are in a
// registry and returns the list's full name.
func ManifestCreate(ctx context.Context, list string, images []string, o ManifestCreateOptions) (string, error) {
	return registry.ManifestCreate(ctx, list, images, o)
}

// ManifestAnnotate sets platform fields of one image of a local list.
func ManifestAnnotate(list, image string, o ManifestAnnotateOptions) error {
	return registry.ManifestAnnotate(list, image, o)
}

// ManifestInspect finds a local list, else a manifest (an image's or a
// list's) in the registry; with list set, one image of that local list.
func ManifestInspect(ctx context.Context, list, ref string, o ManifestInspectOptions) (ManifestInspection, error) {
	return registry.ManifestInspect(ctx, list, ref, o)
}

// ManifestListJSON is a list's JSON as Docker writes and pushes it.
func ManifestListJSON(parts []ManifestPart) ([]byte, types.MediaType, error) {
	return registry.ManifestListJSON(parts)
}

// ManifestPush pushes a local list to its registry and returns its digest.
func ManifestPush(ctx context.Context, list string, o ManifestPushOptions) (string, error) {
	return registry.ManifestPush(ctx, list, o)
}

// ManifestRemove deletes a local list.
func ManifestRemove(list string) error { return registry.ManifestRemove(list) }
