package cmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/registry"
	"github.com/skiff-project/skiff/registry/reference"
	"github.com/skiff-project/skiff/storage"
)

func pullFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "platform", Usage: "pull for `os/arch[/variant]` instead of this host's"},
		&cli.BoolFlag{Name: "tls-verify", Value: true, Usage: "require HTTPS with a verified certificate (loopback registries always speak plain HTTP)"},
	}
}

func pullCommand() *cli.Command {
	return &cli.Command{
		Name:      "pull",
		Usage:     "Download an image from a registry",
		ArgsUsage: "NAME[:TAG|@DIGEST]",
		UsageText: "skiff pull [OPTIONS] NAME[:TAG|@DIGEST]\n\nExample: skiff pull 127.0.0.1:5000/busybox:latest",
		Flags: append(pullFlags(),
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only the image reference"},
		),
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, 1, "pull [OPTIONS] NAME[:TAG|@DIGEST]"); err != nil {
				return err
			}
			ref := c.Args().First()
			return withStore(c, func(ctx context.Context, st *storage.Store) error {
				n, err := reference.Parse(ref)
				if err != nil {
					return err
				}
				// Like Docker, pull's own progress goes to stdout.
				if _, err := pull(ctx, c, st, ref, c.Bool("quiet"), os.Stdout); err != nil {
					return err
				}
				fmt.Fprintln(c.App.Writer, n.String())
				return nil
			})
		},
	}
}

// pull runs a pull with the shared pull flags and progress on out.
func pull(ctx context.Context, c *cli.Context, st *storage.Store, ref string, quiet bool, out *os.File) (*storage.Image, error) {
	o := registry.PullOptions{Platform: c.String("platform")}
	if c.IsSet("tls-verify") {
		v := c.Bool("tls-verify")
		o.TLSVerify = &v
	}
	if !quiet {
		o.Progress = newProgress(out)
	}
	return registry.Pull(ctx, st, ref, o)
}

// ensureImage applies a --pull policy: missing, always or never.
func ensureImage(ctx context.Context, c *cli.Context, st *storage.Store, ref, policy string, quiet bool) (*storage.Image, error) {
	switch policy {
	case "", "missing", "always", "never", "newer":
	default:
		return nil, errdefs.Invalid("invalid --pull %q: want missing, always or never", policy)
	}
	if policy != "always" {
		img, err := st.LookupImage(ref)
		if err == nil {
			return img, nil
		}
		if policy == "never" {
			return nil, fmt.Errorf("%s: image not known and --pull=never: %w", ref, errdefs.ErrNotFound)
		}
		if !isNotFound(err) {
			return nil, err
		}
	}
	if _, err := reference.Parse(ref); err != nil {
		return nil, err
	}
	if !quiet {
		fmt.Fprintf(os.Stderr, "Unable to find image '%s' locally\n", ref)
	}
	return pull(ctx, c, st, ref, quiet, os.Stderr)
}

// progress prints Docker-like pull lines: one per layer on a plain
// stream, a redrawn line per layer on a terminal.
type progress struct {
	mu     sync.Mutex
	w      io.Writer
	tty    bool
	order  []string
	status map[string]string
	drawn  int
}

func newProgress(w *os.File) *progress {
	return &progress{w: w, tty: term.IsTerminal(int(w.Fd())), status: map[string]string{}}
}

func shortDigest(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 12 {
		return d[:12]
	}
	return d
}

func (p *progress) Resolved(ref string, layers []v1.Descriptor) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := reference.MustParse(ref)
	fmt.Fprintf(p.w, "%s: Pulling from %s\n", n.Tag, n.FamiliarRepository())
	for _, l := range layers {
		d := l.Digest.String()
		p.order = append(p.order, d)
		p.status[d] = "Pulling fs layer"
	}
	p.redraw()
}

func (p *progress) LayerBytes(d string, n int64) {
	if !p.tty {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status[d] = fmt.Sprintf("Downloading %s", humanBytes(n))
	p.redraw()
}

func (p *progress) LayerDone(d string, cached bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := "Pull complete"
	if cached {
		st = "Already exists"
	}
	p.status[d] = st
	if !p.tty {
		fmt.Fprintf(p.w, "%s: %s\n", shortDigest(d), st)
		return
	}
	p.redraw()
}

func (p *progress) Finished(d string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "Digest: %s\n", d)
}

// redraw rewrites the layer lines on a terminal.
func (p *progress) redraw() {
	if !p.tty {
		return
	}
	if p.drawn > 0 {
		fmt.Fprintf(p.w, "\x1b[%dA", p.drawn)
	}
	for _, d := range p.order {
		fmt.Fprintf(p.w, "\x1b[2K%s: %s\n", shortDigest(d), p.status[d])
	}
	p.drawn = len(p.order)
}
