package cmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

func pullFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "platform", Usage: "pull for `os/arch[/variant]` instead of this host's"},
		&cli.BoolFlag{Name: "tls-verify", Value: true, Usage: "require HTTPS with a verified certificate (loopback registries always speak plain HTTP)"},
		contentTrustFlag(),
	}
}

// contentTrustFlag is Docker's --disable-content-trust, true by default
// there too: skiff never verifies signatures, so only false is refused.
func contentTrustFlag() cli.Flag {
	return &cli.BoolFlag{Name: "disable-content-trust", Value: true, Usage: "skip image verification (always: content trust is not supported)"}
}

// checkContentTrust refuses --disable-content-trust=false.
func checkContentTrust(c *cli.Context) error {
	if !c.Bool("disable-content-trust") {
		return errdefs.Invalid("--disable-content-trust=false: content trust (image signing with Notary) is not supported by skiff; verify images by digest (NAME@sha256:...) instead")
	}
	return nil
}

func pullCommand() *cli.Command {
	return &cli.Command{
		Name:      "pull",
		Usage:     "Download an image from a registry",
		ArgsUsage: "NAME[:TAG|@DIGEST]",
		UsageText: "skiff pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Flags: append(pullFlags(),
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only the image reference"},
			&cli.BoolFlag{Name: "all-tags", Aliases: []string{"a"}, Usage: "download every tag of the repository"},
		),
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, 1, "pull [OPTIONS] NAME[:TAG|@DIGEST]"); err != nil {
				return err
			}
			if err := checkContentTrust(c); err != nil {
				return err
			}
			ref, quiet := c.Args().First(), c.Bool("quiet")
			o := pullOptions(c, quiet, os.Stdout)
			o.AllTags = c.Bool("all-tags")
			if !o.AllTags && !quiet && engine.NameOnly(ref) {
				fmt.Fprintln(c.App.Writer, "Using default tag: latest")
			}
			return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
				// Like Docker, pull's own progress goes to stdout.
				rep, err := e.ImagePull(ctx, ref, o)
				if err != nil {
					return err
				}
				if !quiet {
					fmt.Fprintf(c.App.Writer, "Status: %s\n", rep.Status)
				}
				fmt.Fprintln(c.App.Writer, rep.Ref)
				return nil
			})
		},
	}
}

// pullOptions are the shared pull flags, with progress drawn on out.
func pullOptions(c *cli.Context, quiet bool, out *os.File) engine.PullOptions {
	o := engine.PullOptions{Platform: c.String("platform"), TLSVerify: tlsVerify(c)}
	if !quiet {
		o.Progress = newProgress(out)
	}
	return o
}

// tlsVerify is --tls-verify when given.
func tlsVerify(c *cli.Context) *bool {
	if !c.IsSet("tls-verify") {
		return nil
	}
	v := c.Bool("tls-verify")
	return &v
}

// progress prints Docker-like pull lines: one per layer and step on a
// plain stream, a redrawn line per layer with Docker's bar and sizes on
// a terminal.
type progress struct {
	mu      sync.Mutex
	w       io.Writer
	tty     bool
	width   int // the terminal's columns
	order   []string
	status  map[string]string
	sizes   map[string]int64
	drawn   int
	drawnAt time.Time
}

func newProgress(w *os.File) *progress {
	p := &progress{w: w, tty: term.IsTerminal(int(w.Fd()))}
	if p.tty {
		p.width, _, _ = term.GetSize(int(w.Fd()))
	}
	return p
}

func (p *progress) Resolved(ref string, layers []v1.Descriptor, have []bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	repo, tag := engine.SplitReference(ref)
	fmt.Fprintf(p.w, "%s: Pulling from %s\n", tag, repo)
	// A new image (pull -a) starts its own lines.
	p.order, p.status, p.sizes, p.drawn = nil, map[string]string{}, map[string]int64{}, 0
	for i, l := range layers {
		d := l.Digest.String()
		p.order = append(p.order, d)
		p.sizes[d] = l.Size
		st := "Pulling fs layer"
		if have[i] {
			st = "Already exists"
		}
		p.set(d, st)
	}
	p.redraw()
}

func (p *progress) LayerBytes(d string, n int64) {
	if !p.tty {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	st := "Downloading " + engine.ProgressText(n, p.sizes[d], p.width)
	if n == p.sizes[d] {
		st = "Download complete"
	}
	// Redraw when the line changes: at once when a layer starts or ends
	// its download, else at most ten times a second (a byte count moves
	// with every read).
	if prev := p.status[d]; prev != st {
		p.status[d] = st
		if !strings.HasPrefix(prev, "Downloading") || st == "Download complete" || time.Since(p.drawnAt) >= 100*time.Millisecond {
			p.redraw()
		}
	}
}

func (p *progress) LayerDone(d string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.set(d, "Pull complete")
	p.redraw()
}

func (p *progress) Finished(d string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "Digest: %s\n", d)
}

// set records a layer's step; on a plain stream it prints it as a line.
func (p *progress) set(d, st string) {
	p.status[d] = st
	if !p.tty {
		fmt.Fprintf(p.w, "%s: %s\n", engine.ShortDigest(d), st)
	}
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
		fmt.Fprintf(p.w, "\x1b[2K%s: %s\n", engine.ShortDigest(d), p.status[d])
	}
	p.drawn, p.drawnAt = len(p.order), time.Now()
}
