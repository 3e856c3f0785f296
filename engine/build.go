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
	"github.com/skiff-project/skiff/container"
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
	// ExtraHosts (--add-host name:ip) and SecurityOpt (--security-opt)
	// are every RUN container's, as for `run`.
	ExtraHosts  []string
	SecurityOpt []string
	// Isolation is --isolation: only "default" (or "") on Linux.
	Isolation string
	// Resources (-m, --memory-swap, -c, --cpu-period, --cpu-quota,
	// --cpuset-cpus, --cpuset-mems, --cgroup-parent), ShmSize
	// (--shm-size, "" for 64m) and Ulimits (--ulimit NAME=SOFT[:HARD])
	// are every RUN container's, checked as run's.
	Resources ResourceOptions
	ShmSize   string
	Ulimits   []string
	// CacheFrom are images (pulled when missing) whose layers stand in
	// for steps with the same history: IMAGE or type=registry,ref=IMAGE.
	CacheFrom []string
	// SSH are --ssh's agents for RUN --mount=type=ssh: "default" (or an
	// ID) for $SSH_AUTH_SOCK, or ID=SOCKET.
	SSH []string
	// Squash merges the layers the final stage adds into one.
	Squash bool
	// Output, when set, receives the final stage's files (--output).
	Output *BuildOutput
	// Warn receives one-line warnings (a --cache-from image that cannot
	// be used).
	Warn func(string)
}

// BuildOutput is --output: the final stage's files, as a directory tree
// (Type local, Dest a directory) or a tar (Type tar, Dest a file, or "-"
// for Writer). The image is made and tagged as without it.
type BuildOutput struct {
	Type   string
	Dest   string
	Writer io.Writer
}

// ParseBuildOutput reads --output as buildx does: type=local,dest=DIR,
// type=tar,dest=FILE, "-" (a tar on standard output), or a bare DIR.
func ParseBuildOutput(spec string) (BuildOutput, error) {
	switch {
	case spec == "-":
		return BuildOutput{Type: "tar", Dest: "-"}, nil
	case !strings.Contains(spec, "="):
		return BuildOutput{Type: "local", Dest: spec}, nil
	}
	var out BuildOutput
	for _, f := range strings.Split(spec, ",") {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "type":
			out.Type = v
		case "dest":
			out.Dest = v
		default:
			return out, errdefs.Invalid("invalid --output %q: unknown key %q (want type=local,dest=DIR or type=tar,dest=FILE)", spec, k)
		}
	}
	switch {
	case out.Type != "local" && out.Type != "tar":
		return out, errdefs.Invalid("invalid --output %q: type %q is not supported: want local or tar (the image itself is stored as without --output)", spec, out.Type)
	case out.Dest == "":
		return out, errdefs.Invalid("invalid --output %q: dest= is missing", spec)
	case out.Type == "local" && out.Dest == "-":
		return out, errdefs.Invalid("invalid --output %q: a local output needs a directory; use type=tar for standard output", spec)
	}
	return out, nil
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
	if o.Isolation != "" && o.Isolation != "default" {
		return "", errdefs.Invalid("invalid --isolation %q: only default is supported on Linux", o.Isolation)
	}
	for _, h := range o.ExtraHosts {
		if _, _, err := netns.ParseExtraHost(h); err != nil {
			return "", err
		}
	}
	security, err := runtime.ParseSecurityOpts(o.SecurityOpt)
	if err != nil {
		return "", err
	}
	resources, isolation, err := o.runLimits()
	if err != nil {
		return "", err
	}
	sshSockets, err := sshAgents(o.SSH)
	if err != nil {
		return "", err
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
	// Once for the build, not per RUN: what the host cannot limit.
	o.Resources.adapt(&resources, runtime.HostCgroupSupport(), func(s string) { warn(o.Warn, s) })
	img, err := build.Build(ctx, st, build.Options{
		ContextDir: dir, Dockerfile: df, Tags: tags, BuildArgs: o.BuildArgs, Target: o.Target,
		Labels: o.Labels, Network: o.Network, NetworkKind: kind, Quiet: o.Quiet, Out: o.Out, NoCache: o.NoCache,
		Secrets: secrets, ExtraHosts: o.ExtraHosts, SecurityOpt: o.SecurityOpt, Security: security,
		CacheFrom: e.cacheFrom(ctx, st, o), SSH: sshSockets, Squash: o.Squash,
		Resources: resources, Isolation: isolation,
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
	if out := o.Output; out != nil {
		if err := exportBuild(st, img.ID, *out); err != nil {
			return "", fmt.Errorf("--output type=%s,dest=%s: %w", out.Type, out.Dest, err)
		}
	}
	return "sha256:" + img.ID, nil
}

// CheckLimits refuses a /dev/shm size or ulimits that do not parse,
// before anything is built (Docker's CLI parses both as flags).
func (o BuildOptions) CheckLimits() error {
	if _, err := parseShmSize(o.ShmSize); err != nil {
		return err
	}
	_, err := parseUlimits(o.Ulimits)
	return err
}

// runLimits parses the RUN containers' limits, /dev/shm size and ulimits
// with run's parsers and rules.
func (o BuildOptions) runLimits() (container.Resources, container.Isolation, error) {
	var iso container.Isolation
	res, err := o.Resources.parse(false)
	if err != nil {
		return res, iso, err
	}
	if iso.ShmSize, err = parseShmSize(o.ShmSize); err != nil {
		return res, iso, err
	}
	iso.Ulimits, err = parseUlimits(o.Ulimits)
	return res, iso, err
}

// exportBuild writes a built image's files where --output says.
func exportBuild(st *storage.Store, id string, out BuildOutput) error {
	switch {
	case out.Type == "local":
		return build.Export(st, id, out.Dest, nil)
	case out.Dest == "-":
		return build.Export(st, id, "", out.Writer)
	}
	f, err := os.OpenFile(out.Dest, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if err := build.Export(st, id, "", f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// cacheFrom finds the --cache-from images, pulling the missing ones; one
// that cannot be had is left out with a warning, as Docker does.
func (e *Engine) cacheFrom(ctx context.Context, st *storage.Store, o BuildOptions) []*storage.Image {
	var out []*storage.Image
	for _, spec := range o.CacheFrom {
		ref := spec
		if strings.Contains(spec, "=") {
			kv := map[string]string{}
			for _, f := range strings.Split(spec, ",") {
				k, v, _ := strings.Cut(f, "=")
				kv[k] = v
			}
			if t := kv["type"]; t != "" && t != "registry" {
				warn(o.Warn, fmt.Sprintf("--cache-from %s: type %s is not supported (want an image, or type=registry,ref=IMAGE); not used", spec, t))
				continue
			}
			ref = kv["ref"]
		}
		id, err := e.ImageEnsure(ctx, ref, PullMissing, PullOptions{Progress: o.PullProgress}, nil)
		if err == nil {
			var img *storage.Image
			if img, err = st.LookupImage(id); err == nil {
				out = append(out, img)
				continue
			}
		}
		warn(o.Warn, fmt.Sprintf("--cache-from %s: %v; not used", spec, oneLineErr(err)))
	}
	return out
}

func warn(f func(string), msg string) {
	if f != nil {
		f(msg)
	}
}

func oneLineErr(err error) string {
	return strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", " ")
}

// sshAgents reads --ssh: ID (default is the usual one) for the agent at
// $SSH_AUTH_SOCK, or ID=SOCKET. Key files, which buildx loads into an
// agent of its own, are refused: skiff forwards agent sockets.
func sshAgents(specs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, spec := range specs {
		id, sock, given := strings.Cut(spec, "=")
		if id == "" {
			return nil, errdefs.Invalid("invalid --ssh %q: want default, ID or ID=SOCKET", spec)
		}
		if !given {
			if sock = os.Getenv("SSH_AUTH_SOCK"); sock == "" {
				return nil, errdefs.Invalid("--ssh %s: SSH_AUTH_SOCK is not set: start ssh-agent (eval $(ssh-agent); ssh-add) or give --ssh %s=SOCKET", spec, id)
			}
		}
		if strings.Contains(sock, ",") {
			return nil, errdefs.Invalid("--ssh %s: several paths: skiff forwards one agent socket per ID", spec)
		}
		abs, err := filepath.Abs(sock)
		if err != nil {
			return nil, err
		}
		fi, err := os.Stat(abs)
		switch {
		case err != nil:
			return nil, errdefs.NotFound("--ssh %s: %v", spec, err)
		case fi.Mode()&os.ModeSocket == 0:
			return nil, errdefs.Invalid("--ssh %s: %s is not an agent socket (key files are not forwarded: load the key with ssh-add and give the agent's socket)", spec, sock)
		}
		out[id] = abs
	}
	return out, nil
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
