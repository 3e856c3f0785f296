package cmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/skiff-project/skiff/engine"
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
		UsageText: "skiff pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Flags: append(pullFlags(),
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only the image reference"},
		),
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1, 1, "pull [OPTIONS] NAME[:TAG|@DIGEST]"); err != nil {
				return err
			}
			return withEngine(c, func(ctx context.Context, e *engine.Engine) error {
				// Like Docker, pull's own progress goes to stdout.
				name, err := e.ImagePull(ctx, c.Args().First(), pullOptions(c, c.Bool("quiet"), os.Stdout))
				if err != nil {
					return err
				}
				fmt.Fprintln(c.App.Writer, name)
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

func (p *progress) Resolved(ref string, layers []v1.Descriptor) {
	p.mu.Lock()
	defer p.mu.Unlock()
	repo, tag := engine.SplitReference(ref)
	fmt.Fprintf(p.w, "%s: Pulling from %s\n", tag, repo)
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
		fmt.Fprintf(p.w, "%s: %s\n", engine.ShortDigest(d), st)
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
		fmt.Fprintf(p.w, "\x1b[2K%s: %s\n", engine.ShortDigest(d), p.status[d])
	}
	p.drawn = len(p.order)
}
