package cmd

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/moby/moby/api/types/image"
	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

// treeImage is one image of `images --tree`: its names and, under them,
// its variants (one here: skiff keeps one platform per image).
type treeImage struct {
	names    []string
	id       string
	size     string
	inUse    bool
	platform string
	created  int64
}

// listImageTree is `images --tree`, Docker's view of images with their
// platform variants; without -a dangling images are left out, as in
// Docker.
func listImageTree(c *cli.Context, f engine.Filters) error {
	for _, flag := range []string{"quiet", "no-trunc", "digests", "format"} {
		if c.IsSet(flag) {
			return errdefs.Invalid("--%s is not supported with --tree: leave one of them out", flag)
		}
	}
	return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
		imgs, err := e.ImageList(ctx, engine.ImageListOptions{All: c.Bool("all"), Filters: f, Containers: true})
		if err != nil {
			return err
		}
		var tree []treeImage
		for _, img := range imgs {
			if !c.Bool("all") && len(img.RepoTags) == 0 {
				continue
			}
			ti, err := newTreeImage(ctx, e, img)
			if err != nil {
				return err
			}
			tree = append(tree, ti)
		}
		sort.SliceStable(tree, func(i, j int) bool { return tree[i].created > tree[j].created })
		printImageTree(c.App.Writer, tree)
		return nil
	})
}

func newTreeImage(ctx context.Context, e *engine.Engine, img image.Summary) (treeImage, error) {
	ti := treeImage{names: img.RepoTags, id: strings.TrimPrefix(img.ID, "sha256:")[:12], size: humanBytes(img.Size),
		inUse: img.Containers > 0, created: img.Created}
	if len(ti.names) == 0 {
		ti.names = []string{"<untagged>"}
	}
	in, err := e.ImageInspect(ctx, img.ID)
	if err != nil {
		return ti, err
	}
	ti.platform = in.Os + "/" + in.Architecture
	if in.Variant != "" {
		ti.platform += "/" + in.Variant
	}
	return ti, nil
}

// printImageTree writes the tree: the names of each image (the last one
// with the image's details), its platform under them, a blank line.
func printImageTree(w io.Writer, tree []treeImage) {
	width := len("IMAGE")
	for _, ti := range tree {
		for _, n := range append(ti.names, "└─ "+ti.platform) {
			width = max(width, len([]rune(n)))
		}
	}
	line := func(name string, ti *treeImage) {
		pad := strings.Repeat(" ", width-len([]rune(name)))
		if ti == nil {
			fmt.Fprintf(w, "%s\n", name)
			return
		}
		extra := " "
		if ti.inUse {
			extra = "U"
		}
		fmt.Fprintf(w, "%s%s   %-12s   %10s   %12s   %s\n", name, pad, ti.id, ti.size, ti.size, extra)
	}
	fmt.Fprintf(w, "%s%s   %-12s   %10s   %12s   %s\n", "IMAGE", strings.Repeat(" ", width-len("IMAGE")), "ID", "DISK USAGE", "CONTENT SIZE", "EXTRA")
	for i := range tree {
		ti := &tree[i]
		for j, n := range ti.names {
			if j < len(ti.names)-1 {
				line(n, nil)
			} else {
				line(n, ti)
			}
		}
		line("└─ "+ti.platform, ti)
		fmt.Fprintln(w)
	}
}
