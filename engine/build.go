package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"

	securejoin "github.com/cyphar/filepath-securejoin"
	"go.podman.io/storage/pkg/archive"

	"github.com/skiff-project/skiff/build"
	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/netns"
	"github.com/skiff-project/skiff/registry/reference"
	"github.com/skiff-project/skiff/runtime"
	"github.com/skiff-project/skiff/storage"
)

// BuildOptions are `build`'s.
type BuildOptions struct {
	// ContextDir is the build context; Context, when set instead, is the
	// context as a tar stream (`build -`).
	ContextDir string
	Context    io.Reader
	// Dockerfile is the Dockerfile's path ("" for ContextDir/Dockerfile);
	// DockerfileText, when set instead, is its text (`-f -`).
	Dockerfile     string
	DockerfileText io.Reader
	// DockerfileInContext, when set, is the Dockerfile's path inside the
	// context (the API's dockerfile parameter); it cannot leave it.
	DockerfileInContext string
	Tags                []string // names for the image
	BuildArgs           map[string]string
	Target              string
	Labels              map[string]string
	Network             string // for RUN steps: private (default), none, host
	NoCache             bool
	Pull                string // policy for FROM images: missing (default) or always
	Platform            string // only this host's
	// Secrets are --secret id=ID,src=FILE or id=ID,env=VAR.
	Secrets []string
	Quiet   bool
	// Out receives the step lines and RUN output.
	Out io.Writer
	// PullProgress and PullMissing report pulls of FROM images.
	PullProgress PullProgress
	PullMissing  func(ref string)
}

// Build builds an image from a Dockerfile and returns its ID. Cancelling
// ctx removes the RUN container in flight and anything the build made
// for itself (a context from a stream, secret files) before it returns.
func (e *Engine) Build(ctx context.Context, o BuildOptions) (string, error) {
	if p := o.Platform; p != "" && p != "linux/"+goruntime.GOARCH {
		return "", errdefs.Invalid("--platform %s: skiff builds for this host's platform only (linux/%s)", p, goruntime.GOARCH)
	}
	if o.Context != nil && o.DockerfileText != nil {
		return "", errdefs.Invalid("the context and the Dockerfile cannot both come from stdin")
	}
	var tags []string
	for _, t := range o.Tags {
		n, err := reference.Parse(t)
		if err != nil {
			return "", err
		}
		tags = append(tags, n.String())
	}
	kind, err := netns.ParseMode(o.Network)
	if err != nil {
		return "", err
	}
	if o.Pull != "" && o.Pull != PullMissing && o.Pull != PullAlways {
		return "", errdefs.Invalid("invalid --pull %q: want missing or always", o.Pull)
	}
	st, err := e.store()
	if err != nil {
		return "", err
	}
	secrets, cleanupSecrets, err := secretFiles(o.Secrets)
	if err != nil {
		return "", err
	}
	defer cleanupSecrets()
	dir := o.ContextDir
	if o.Context != nil {
		tmp, err := os.MkdirTemp("", "skiff-build-context-")
		if err != nil {
			return "", err
		}
		defer os.RemoveAll(tmp)
		if err := archive.Untar(o.Context, tmp, &archive.TarOptions{NoLchown: true}); err != nil {
			return "", errdefs.Invalid("reading the build context from stdin: %v", err)
		}
		dir = tmp
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return "", errdefs.Invalid("build context %s is not a directory", dir)
	}
	df := o.DockerfileText
	if df == nil {
		f := o.Dockerfile
		if f == "" {
			f = filepath.Join(dir, "Dockerfile")
		}
		if o.DockerfileInContext != "" {
			if f, err = securejoin.SecureJoin(dir, o.DockerfileInContext); err != nil {
				return "", err
			}
		}
		fh, err := os.Open(f)
		if err != nil {
			return "", errdefs.NotFound("Dockerfile %s: %v", f, err)
		}
		defer fh.Close()
		df = fh
	}
	// A cancelled build removes the RUN container in flight; the step
	// then fails and the build returns.
	var mu sync.Mutex
	running := ""
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if running != "" {
			_, _ = runtime.Remove(st, running, true, true)
		}
	})
	defer stop()
	pull := PullMissing
	if o.Pull != "" {
		pull = o.Pull
	}
	img, err := build.Build(ctx, st, build.Options{
		ContextDir: dir, Dockerfile: df, Tags: tags, BuildArgs: o.BuildArgs, Target: o.Target,
		Labels: o.Labels, Network: o.Network, NetworkKind: kind, Quiet: o.Quiet, Out: o.Out, NoCache: o.NoCache,
		Secrets: secrets,
		Running: func(id string) {
			mu.Lock()
			defer mu.Unlock()
			running = id
			if id != "" && ctx.Err() != nil {
				_, _ = runtime.Remove(st, id, true, true)
			}
		},
		Pull: func(ctx context.Context, ref string) (*storage.Image, error) {
			var missing func()
			if o.PullMissing != nil {
				missing = func() { o.PullMissing(ref) }
			}
			id, err := e.ImageEnsure(ctx, ref, pull, PullOptions{Progress: o.PullProgress}, missing)
			if err != nil {
				return nil, err
			}
			return st.LookupImage(id)
		},
	})
	if ctx.Err() != nil {
		return "", fmt.Errorf("build interrupted: %w", ctx.Err())
	}
	if err != nil {
		return "", err
	}
	for _, t := range tags {
		imageEvent("tag", "sha256:"+img.ID, familiarRef(t), img.Config.Config.Labels)
	}
	return "sha256:" + img.ID, nil
}

// IsRunFailure reports whether err is a RUN step that exited non-zero.
func IsRunFailure(err error) bool {
	var re *build.RunError
	return errors.As(err, &re)
}

// secretFiles reads --secret id=ID,src=FILE (or env=VAR, whose value is
// put in a private temporary file) into files by id; cleanup removes the
// temporary files.
func secretFiles(specs []string) (_ map[string]string, cleanup func(), err error) {
	out := map[string]string{}
	var temps []string
	cleanup = func() {
		for _, t := range temps {
			_ = os.Remove(t)
		}
	}
	defer func() {
		if err != nil {
			cleanup() // nothing half-made is left on an error
		}
	}()
	for _, spec := range specs {
		kv := map[string]string{}
		for _, f := range strings.Split(spec, ",") {
			k, v, _ := strings.Cut(f, "=")
			kv[k] = v
		}
		id := kv["id"]
		src := firstNonEmpty(kv["src"], kv["source"])
		env := kv["env"]
		if id == "" {
			return nil, cleanup, errdefs.Invalid("--secret %q: want id=NAME,src=FILE or id=NAME,env=VAR", spec)
		}
		if typ := kv["type"]; typ != "" && typ != "file" && typ != "env" {
			return nil, cleanup, errdefs.Invalid("--secret %q: unknown type %q (want file or env)", spec, typ)
		}
		switch {
		case src != "":
			abs, err := filepath.Abs(src)
			if err == nil {
				_, err = os.Stat(abs)
			}
			if err != nil {
				return nil, cleanup, errdefs.NotFound("--secret id=%s: source file %s: %v", id, src, err)
			}
			out[id] = abs
		default:
			if env == "" {
				env = id
			}
			v, ok := os.LookupEnv(env)
			if !ok {
				return nil, cleanup, errdefs.NotFound("--secret id=%s: environment variable %s is not set; give src=FILE or env=VAR", id, env)
			}
			f, err := os.CreateTemp("", "skiff-secret-")
			if err != nil {
				return nil, cleanup, err
			}
			temps = append(temps, f.Name())
			_, err = f.WriteString(v)
			f.Close()
			if err != nil {
				return nil, cleanup, err
			}
			out[id] = f.Name()
		}
	}
	return out, cleanup, nil
}
