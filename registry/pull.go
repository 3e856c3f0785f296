// Package registry moves images between skiff's store and registries:
// pulling (from mirrors first), pushing, searching, and credentials from
// ~/.docker/config.json, with the registry configuration CI hosts have
// (Docker's daemon.json, containers-registries.conf, certs.d; config.go).
// References are parsed by registry/reference; images are stored through
// storage/.
package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	kgzip "github.com/klauspost/compress/gzip"
	"go.podman.io/storage/pkg/archive"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/internal/trace"
	"github.com/skiff-project/skiff/registry/reference"
	"github.com/skiff-project/skiff/storage"
)

// PullOptions are the choices of one pull.
type PullOptions struct {
	// Platform is os/arch[/variant]; empty means this host's.
	Platform string
	// TLSVerify false allows plain HTTP and unverified TLS for this
	// registry; nil means the default (verify, except loopback and the
	// insecure registries in the configuration).
	TLSVerify *bool
	// Progress receives progress events; nil discards them.
	Progress Progress
	// Auth, when set, is used instead of the stored credentials (the
	// API's X-Registry-Auth).
	Auth *Credentials
	// Log gets one debug line per mirror that failed; nil discards.
	Log *slog.Logger
}

// Progress is told what a pull does; the CLI draws it.
type Progress interface {
	// Resolved gives the image's layers; have[i] is true for a layer the
	// store already has, which is not pulled.
	Resolved(ref string, layers []v1.Descriptor, have []bool)
	LayerBytes(digest string, done int64)
	// LayerDone is called once a pulled layer is in the store.
	LayerDone(digest string)
	Finished(digest string)
}

type noProgress struct{}

func (noProgress) Resolved(string, []v1.Descriptor, []bool) {}
func (noProgress) LayerBytes(string, int64)                 {}
func (noProgress) LayerDone(string)                         {}
func (noProgress) Finished(string)                          {}

// ParsePlatform parses os/arch[/variant]; empty gives the host's.
func ParsePlatform(s string) (v1.Platform, error) {
	if s == "" {
		p := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
		if runtime.GOARCH == "arm" {
			p.Variant = "v7"
		}
		return p, nil
	}
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return v1.Platform{}, errdefs.Invalid("invalid platform %q: want os/arch[/variant], e.g. linux/amd64", s)
	}
	p := v1.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

// remoteRef turns an endpoint into go-containerregistry's reference, with
// the host's transport (remoteOptions).
func (c *Config) remoteRef(ep endpoint, tlsVerify *bool, auth *Credentials) (name.Reference, []remote.Option, error) {
	reg, ropts, err := c.remoteOptions(ep.named.Domain, ep.insecure, tlsVerify, auth)
	if err != nil {
		return nil, nil, err
	}
	var nopts []name.Option
	if reg.Scheme() == "http" {
		nopts = append(nopts, name.Insecure)
	}
	ref, err := name.ParseReference(ep.named.String(), nopts...)
	if err != nil {
		return nil, nil, errdefs.Invalid("invalid reference %s: %v", ep.named.String(), err)
	}
	return ref, ropts, nil
}

// remoteOptions are go-containerregistry's registry and options for host:
// certs.d, plain HTTP or unverified TLS where allowed (an explicit
// tlsVerify decides over the configuration), and the credentials.
func (c *Config) remoteOptions(host string, insecure bool, tlsVerify *bool, auth *Credentials) (name.Registry, []remote.Option, error) {
	var nopts []name.Option
	if (tlsVerify == nil && insecure) || (tlsVerify != nil && !*tlsVerify) {
		nopts = append(nopts, name.Insecure)
	}
	reg, err := name.NewRegistry(host, nopts...)
	if err != nil {
		return reg, nil, errdefs.Invalid("invalid registry %q: %v", host, err)
	}
	tr, err := c.transport(host, insecure, tlsVerify)
	if err != nil {
		return reg, nil, err
	}
	ropts := []remote.Option{remote.WithUserAgent("skiff"), remote.WithTransport(tr)}
	if auth != nil {
		ropts = append(ropts, remote.WithAuth(auth.authenticator()))
	} else {
		ropts = append(ropts, remote.WithAuthFromKeychain(authn.DefaultKeychain))
	}
	return reg, ropts, nil
}

// fromSources runs get against each endpoint in turn until one answers:
// a failing mirror is logged at debug level and the next one tried; the
// registry's own failure is the error, naming the mirrors that failed.
func fromSources[T any](c *Config, n reference.Named, o PullOptions, get func(name.Reference, []remote.Option) (T, error)) (T, error) {
	var zero T
	eps, err := c.pullEndpoints(n)
	if err != nil {
		return zero, fmt.Errorf("pulling %s: %w", n.String(), err)
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	var failed []string
	for _, ep := range eps {
		rref, ropts, err := c.remoteRef(ep, o.TLSVerify, o.Auth)
		if err == nil {
			var v T
			if v, err = get(rref, ropts); err == nil {
				return v, nil
			}
		}
		if ep.mirror == "" {
			e := c.remoteError("pulling "+n.String(), ep.named.Domain, err)
			if len(failed) > 0 {
				e = withNote(e, "the mirrors failed too: "+strings.Join(failed, "; "))
			}
			return zero, e
		}
		log.Debug("mirror failed, trying the next source", "mirror", ep.mirror, "ref", ep.named.String(), "error", shortCause(err))
		failed = append(failed, ep.mirror+": "+shortCause(err))
	}
	return zero, fmt.Errorf("pulling %s: no source: %w", n.String(), errdefs.ErrUnavailable)
}

// Tags lists the tags of ref's repository, from a mirror or the registry.
func Tags(ctx context.Context, ref string, o PullOptions) ([]string, error) {
	n, err := reference.ParseNoTag(ref)
	if err != nil {
		return nil, err
	}
	cfg, err := LoadConfig()
	if err != nil {
		return nil, err
	}
	return fromSources(cfg, n.WithTag("latest"), o, func(r name.Reference, ro []remote.Option) ([]string, error) {
		return remote.List(r.Context(), append(ro, remote.WithContext(ctx))...)
	})
}

// Pull fetches ref into the store and returns the stored image.
func Pull(ctx context.Context, st *storage.Store, ref string, o PullOptions) (*storage.Image, error) {
	n, err := reference.Parse(ref)
	if err != nil {
		return nil, err
	}
	prog := o.Progress
	if prog == nil {
		prog = noProgress{}
	}
	platform, err := ParsePlatform(o.Platform)
	if err != nil {
		return nil, err
	}
	cfg, err := LoadConfig()
	if err != nil {
		return nil, err
	}
	endFetch := trace.Begin("fetch the manifest and the config")
	desc, err := fromSources(cfg, n, o, func(r name.Reference, ro []remote.Option) (*remote.Descriptor, error) {
		return remote.Get(r, append(ro, remote.WithContext(ctx), remote.WithPlatform(platform))...)
	})
	if err != nil {
		return nil, err
	}
	fail := func(err error) error { return cfg.remoteError("pulling "+n.String(), n.Domain, err) }
	img, err := desc.Image()
	if err != nil {
		return nil, fail(err)
	}
	rawConfig, err := img.RawConfigFile()
	endFetch()
	if err != nil {
		return nil, fail(err)
	}
	cfgFile, err := img.ConfigFile()
	if err != nil {
		return nil, fail(err)
	}
	if desc.MediaType.IsIndex() && (cfgFile.OS != platform.OS || cfgFile.Architecture != platform.Architecture) {
		return nil, errdefs.NotFound("pulling %s: no image for platform %s/%s in its manifest list", n.String(), platform.OS, platform.Architecture)
	}
	manifest, err := img.Manifest()
	if err != nil {
		return nil, fail(err)
	}
	rawManifest, err := img.RawManifest()
	if err != nil {
		return nil, fail(err)
	}
	imgDigest, err := img.Digest()
	if err != nil {
		return nil, fail(err)
	}
	if len(manifest.Layers) != len(cfgFile.RootFS.DiffIDs) {
		return nil, errdefs.Invalid("pulling %s: manifest has %d layers but config has %d diff IDs", n.String(), len(manifest.Layers), len(cfgFile.RootFS.DiffIDs))
	}

	diffIDs := make([]string, len(manifest.Layers))
	for i := range diffIDs {
		diffIDs[i] = cfgFile.RootFS.DiffIDs[i].String()
	}
	missing := st.MissingLayers(diffIDs)
	have := make([]bool, len(missing))
	for i := range missing {
		have[i] = !missing[i]
	}
	prog.Resolved(n.String(), manifest.Layers, have)
	layers := make([]storage.LayerSource, len(manifest.Layers))
	for i, ld := range manifest.Layers {
		layers[i] = storage.LayerSource{DiffID: diffIDs[i]}
		if missing[i] {
			// The store fetches the missing layers in parallel,
			// unpacking each straight from the network.
			layers[i].Open = streamLayer(img, ld, prog)
			layers[i].Stored = func() { prog.LayerDone(ld.Digest.String()) }
		}
	}
	digests := []string{desc.Digest.String()}
	if imgDigest != desc.Digest {
		digests = append(digests, imgDigest.String())
	}
	names := []string{n.String()}
	stored, err := st.PutImage(ctx, storage.NewImage{
		Layers:   layers,
		Config:   rawConfig,
		Manifest: rawManifest,
		Digests:  digests,
		Names:    names,
	})
	if err != nil {
		return nil, fmt.Errorf("pulling %s: %w", n.String(), err)
	}
	prog.Finished(desc.Digest.String())
	return stored, nil
}

// streamLayer returns an opener of the layer's uncompressed tar, read
// from the registry as the store unpacks it; go-containerregistry checks
// the blob's size and digest as it reaches its end, the store the diff ID.
func streamLayer(img v1.Image, ld v1.Descriptor, prog Progress) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) {
		l, err := img.LayerByDigest(ld.Digest)
		if err != nil {
			return nil, err
		}
		rc, err := l.Compressed()
		if err != nil {
			return nil, fmt.Errorf("fetching layer %s: %w", ld.Digest, err)
		}
		counted := readCloser{io.TeeReader(rc, &countingWriter{w: io.Discard, report: func(n int64) { prog.LayerBytes(ld.Digest.String(), n) }}), rc}
		ra := newReadAhead(counted)
		dr, err := decompress(ra)
		if err != nil {
			ra.Close()
			return nil, fmt.Errorf("decompressing layer %s: %w", ld.Digest, err)
		}
		return &closeBoth{ReadCloser: dr, c: ra}, nil
	}
}

// decompress is archive.DecompressStream, except that gzip (what
// registries serve almost always) is read by klauspost/compress's gzip
// in the caller's goroutine: DecompressStream's pgzip inflates 1 MiB
// blocks ahead in another goroutine and copies each block out again,
// while the layers pulled in parallel already keep the cores busy.
// Both check the gzip trailer's CRC-32 and size. Either way the output
// comes in reads as large as the caller asks for (filling).
func decompress(r peekReader) (io.ReadCloser, error) {
	var zr io.ReadCloser
	magic, err := r.Peek(3)
	if err != nil || !bytes.Equal(magic, []byte{0x1f, 0x8b, 0x08}) {
		zr, err = archive.DecompressStream(r)
	} else {
		zr, err = kgzip.NewReader(r)
	}
	if err != nil {
		return nil, err
	}
	return &filling{ReadCloser: zr}, nil
}

// filling reads until the caller's buffer is full: the inflater returns
// each deflate block (up to 64 KiB) on its own, and every read the store
// makes of the layer is a hand-over between its stages, which it makes
// in reads of 1 MiB.
type filling struct {
	io.ReadCloser
	err error // kept for the next read, after the bytes before it
}

func (f *filling) Read(p []byte) (int, error) {
	n := 0
	if f.err == nil {
		n, f.err = readFull(f.ReadCloser, p)
	}
	if n > 0 {
		return n, nil
	}
	return 0, f.err
}

// peekReader is a bufio.Reader or a readAhead: decompress looks at the
// first bytes, and the inflater reads bytes one at a time from it.
type peekReader interface {
	io.Reader
	io.ByteReader
	Peek(n int) ([]byte, error)
}

type readCloser struct {
	io.Reader
	io.Closer
}

type closeBoth struct {
	io.ReadCloser
	c io.Closer // the network stream under the decompressor
}

func (c *closeBoth) Close() error {
	err := c.ReadCloser.Close()
	c.c.Close()
	return err
}

type countingWriter struct {
	w      io.Writer
	n      int64
	report func(int64)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.report(c.n)
	return n, err
}

// remoteError turns a registry or network error met while doing what
// (pulling REF) at host into one line with its class and, where it can, the fix.
func (c *Config) remoteError(what string, host string, err error) error {
	if errors.Is(err, errdefs.ErrInvalidArgument) || errors.Is(err, errdefs.ErrNotFound) {
		return fmt.Errorf("%s: %w", what, err)
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		for _, e := range terr.Errors {
			switch e.Code {
			case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode:
				return errdefs.NotFound("%s: manifest unknown: the registry has no such repository or tag", what)
			case transport.UnauthorizedErrorCode, transport.DeniedErrorCode:
				return fmt.Errorf("%s: access denied: log in with skiff login %s: %w", what, host, errdefs.ErrUnavailable)
			}
		}
		switch terr.StatusCode {
		case http.StatusNotFound:
			return errdefs.NotFound("%s: manifest unknown: the registry has no such repository or tag", what)
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("%s: access denied: log in with skiff login %s: %w", what, host, errdefs.ErrUnavailable)
		}
	}
	if hint := c.certHint(host, err); hint != "" {
		return fmt.Errorf("%s: %s: %w", what, hint, errdefs.ErrUnavailable)
	}
	if strings.Contains(err.Error(), "http: server gave HTTP response to HTTPS client") {
		return fmt.Errorf("%s: registry %s speaks plain HTTP: use --tls-verify=false or list it as insecure in %s: %w", what, host, SkiffConfigPath(), errdefs.ErrUnavailable)
	}
	var nerr net.Error
	if errors.As(err, &nerr) {
		return fmt.Errorf("%s: registry %s unreachable: %v: %w", what, host, shortCause(err), errdefs.ErrUnavailable)
	}
	return fmt.Errorf("%s: %s: %w", what, strings.ReplaceAll(err.Error(), "\n", " "), errdefs.ErrUnavailable)
}

// shortCause is the innermost error of a network failure, else the
// first line of err.
func shortCause(err error) string {
	var oerr *net.OpError
	if errors.As(err, &oerr) {
		return oerr.Error()
	}
	var nerr net.Error
	if errors.As(err, &nerr) {
		return rootCause(err).Error()
	}
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return msg
}

// withNote adds a note to err's message, keeping its class.
func withNote(err error, note string) error {
	for _, class := range []error{errdefs.ErrNotFound, errdefs.ErrInvalidArgument, errdefs.ErrUnavailable} {
		if errors.Is(err, class) {
			return fmt.Errorf("%s (%s): %w", errdefs.Message(err), note, class)
		}
	}
	return fmt.Errorf("%w (%s)", err, note)
}

func rootCause(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}
