// Package build turns a Dockerfile and its context into an image, with
// no daemon: RUN steps run as ordinary skiff containers (see runtime/)
// whose changes are committed; COPY and ADD add a layer made straight
// from the context; the other instructions change the image config.
// Parsing is buildkit's, so escapes, continuations and directives behave
// as in Docker. It does not yet cache steps.
package build

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/events"
	"github.com/skiff-project/skiff/registry/reference"
	"github.com/skiff-project/skiff/runtime"
	"github.com/skiff-project/skiff/storage"
	"github.com/skiff-project/skiff/supervisor"
)

// Options are `skiff build`'s.
type Options struct {
	ContextDir string
	Dockerfile io.Reader // the Dockerfile's text
	Tags       []string  // full references
	BuildArgs  map[string]string
	Target     string
	Labels     map[string]string
	// Network is the network of RUN steps and NetworkKind its kind
	// (netns.Mode*), parsed by the caller.
	Network     string
	NetworkKind string
	Quiet       bool
	Out         io.Writer // step lines and RUN output
	// NoCache rebuilds every step (the results are still remembered).
	NoCache bool
	// Running, when set, is told the ID of the RUN container in flight
	// ("" once it is gone), so an interrupted build can remove it.
	Running func(id string)
	// Secrets are the --secret files by id, for RUN --mount=type=secret.
	Secrets map[string]string
	// Pull makes FROM images available (pulling when missing).
	Pull func(ctx context.Context, ref string) (*storage.Image, error)
	// ExtraHosts (name:ip), SecurityOpt and Security (parsed), Isolation
	// and Resources are those of every RUN container, as for `run`.
	ExtraHosts  []string
	SecurityOpt []string
	Security    container.Security
	Isolation   container.Isolation
	Resources   container.Resources
	// CacheFrom are images whose layers stand in for steps that would
	// make the same layer on the same base (matched by history).
	CacheFrom []*storage.Image
	// SSH are the --ssh agent sockets by id, for RUN --mount=type=ssh.
	SSH map[string]string
	// Squash merges the layers the final stage adds into one.
	Squash bool
}

// stage is one FROM section being built.
type stage struct {
	name string
	img  *storage.Image // nil for scratch until its first layer
	cfg  v1.ConfigFile
	args map[string]string
	// global is the ARGs declared before the first FROM (and the platform
	// ones); a bare `ARG NAME` in the stage takes its value from there.
	global map[string]string
	// chain identifies everything the stage's steps so far depend on: the
	// base image and each instruction with its inputs.
	chain string
	// cmdSet is a CMD in this stage, which a later ENTRYPOINT keeps.
	cmdSet bool
	// base is the image the stage started from (nil for scratch).
	base *storage.Image
}

type builder struct {
	ctx    context.Context
	st     *storage.Store
	o      Options
	stages []*stage
	ignore *patternmatcher.PatternMatcher
	step   int
	steps  int
	// lex expands variables with the Dockerfile's escape character.
	lex    *shell.Lex
	escape rune
}

// Build runs the Dockerfile and returns the final image.
func Build(ctx context.Context, st *storage.Store, o Options) (*storage.Image, error) {
	res, err := parser.Parse(o.Dockerfile)
	if err != nil {
		var le *parser.LocationError
		if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
			return nil, errdefs.Invalid("Dockerfile line %d: %v", le.Locations[0][0].Start.Line, le.Unwrap())
		}
		return nil, errdefs.Invalid("parsing the Dockerfile: %v", err)
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if abs, err := filepath.Abs(o.ContextDir); err == nil {
		o.ContextDir = abs // RUN --mount=type=bind hands it to the runtime
	}
	b := &builder{ctx: ctx, st: st, o: o, lex: shell.NewLex(res.EscapeToken), escape: res.EscapeToken}
	if err := b.loadIgnore(); err != nil {
		return nil, err
	}
	nodes := res.AST.Children
	b.steps = len(nodes)
	if o.Target != "" {
		found := false
		for _, n := range nodes {
			if strings.EqualFold(n.Value, "from") && stageName(n) == o.Target {
				found = true
			}
		}
		if !found {
			return nil, errdefs.NotFound("target stage %q not found in the Dockerfile", o.Target)
		}
	}
	globalArgs := platformArgs()
	var cur *stage
	for _, n := range nodes {
		b.step++
		instr := strings.ToUpper(n.Value)
		if !o.Quiet {
			fmt.Fprintf(o.Out, "STEP %d/%d: %s\n", b.step, b.steps, strings.TrimSpace(n.Original))
		}
		if instr == "FROM" {
			if cur != nil && o.Target != "" && cur.name == o.Target {
				break
			}
			s, err := b.from(n, globalArgs)
			if err != nil {
				return nil, b.fail(n, err)
			}
			cur = s
			b.stages = append(b.stages, s)
			if err := b.runTriggers(s); err != nil {
				return nil, b.fail(n, err)
			}
			continue
		}
		if cur == nil {
			if instr == "ARG" {
				if err := b.globalArg(n, globalArgs); err != nil {
					return nil, b.fail(n, err)
				}
				continue
			}
			return nil, b.fail(n, errdefs.Invalid("the first instruction must be FROM (or ARG)"))
		}
		if err := b.exec(cur, n); err != nil {
			return nil, b.fail(n, err)
		}
	}
	if cur == nil {
		return nil, errdefs.Invalid("the Dockerfile has no FROM instruction")
	}
	final := cur
	if o.Target != "" {
		for _, s := range b.stages {
			if s.name == o.Target {
				final = s
			}
		}
	}
	for k, v := range o.Labels {
		if final.cfg.Config.Labels == nil {
			final.cfg.Config.Labels = map[string]string{}
		}
		final.cfg.Config.Labels[k] = v
	}
	// The final image is cached too, so an unchanged rebuild gives the
	// same image ID.
	final.chain += "\nFINAL\x00" + argsKey(o.Labels)
	img, ok := (*storage.Image)(nil), false
	if !o.NoCache {
		img, ok = st.CachedStep(final.chain)
	}
	if !ok {
		var err error
		if img, err = b.store(final, nil, ""); err != nil {
			return nil, err
		}
		st.RememberStep(final.chain, img.ID)
	}
	if o.Squash {
		var err error
		if img, err = b.squash(final, img); err != nil {
			return nil, err
		}
	}
	for _, t := range o.Tags {
		if err := st.Tag(img.ID, t); err != nil {
			return nil, err
		}
	}
	if !o.Quiet {
		for _, t := range o.Tags {
			fmt.Fprintf(o.Out, "COMMIT %s\n", reference.MustParse(t).Familiar())
		}
		fmt.Fprintf(o.Out, "--> %s\n", img.ID[:12])
	}
	return img, nil
}

func (b *builder) fail(n *parser.Node, err error) error {
	return fmt.Errorf("STEP %d/%d (line %d): %s: %w", b.step, b.steps, n.StartLine, strings.TrimSpace(n.Original), err)
}

func (b *builder) loadIgnore() error {
	f, err := os.Open(filepath.Join(b.o.ContextDir, ".dockerignore"))
	if err != nil {
		return nil
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return errdefs.Invalid(".dockerignore: %v", err)
	}
	b.ignore, err = patternmatcher.New(patterns)
	if err != nil {
		return errdefs.Invalid(".dockerignore: %v", err)
	}
	return nil
}

func stageName(n *parser.Node) string {
	ws := words(n)
	if len(ws) == 3 && strings.EqualFold(ws[1], "as") {
		return strings.ToLower(ws[2])
	}
	return ""
}

// words are an instruction's arguments.
func words(n *parser.Node) []string {
	var out []string
	for w := n.Next; w != nil; w = w.Next {
		out = append(out, w.Value)
	}
	return out
}

func (b *builder) from(n *parser.Node, globalArgs map[string]string) (*stage, error) {
	ws := words(n)
	if len(ws) != 1 && !(len(ws) == 3 && strings.EqualFold(ws[1], "as")) {
		return nil, errdefs.Invalid("FROM wants IMAGE [AS NAME]")
	}
	for _, f := range n.Flags {
		if p, ok := strings.CutPrefix(f, "--platform="); ok && p != "linux/"+goarch() && p != "$BUILDPLATFORM" && p != "$TARGETPLATFORM" {
			return nil, errdefs.Invalid("--platform %s: only this host's platform (linux/%s) can be built", p, goarch())
		}
	}
	s := &stage{name: stageName(n), args: map[string]string{}, global: globalArgs}
	base, _, err := b.lex.ProcessWord(ws[0], shell.EnvsFromSlice(argsEnv(globalArgs)))
	if err != nil {
		return nil, errdefs.Invalid("FROM %s: %v", ws[0], err)
	}
	switch prev := b.stage(base); {
	case base == "scratch":
		s.cfg = v1.ConfigFile{OS: "linux", Architecture: goarch(), RootFS: v1.RootFS{Type: "layers"}}
		s.chain = "FROM scratch"
	case prev != nil:
		s.img, s.cfg = prev.img, *prev.cfg.DeepCopy()
		// The stage's config may have changed after its last layer.
		s.chain = prev.chain + "\nFROM stage"
	default:
		img, err := b.o.Pull(b.ctx, base)
		if err != nil {
			return nil, err
		}
		s.img, s.cfg = img, *img.Config.DeepCopy()
		s.chain = "FROM " + img.ID
	}
	s.base = s.img
	// Docker's builder gives every stage a PATH when its base has none.
	if _, ok := shell.EnvsFromSlice(s.cfg.Config.Env).Get("PATH"); !ok {
		s.cfg.Config.Env = append(s.cfg.Config.Env, "PATH="+defaultPath)
	}
	return s, nil
}

// defaultPath is the PATH Docker's builder sets when the base image has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// stage is the earlier stage named name (case-insensitively), or nil.
func (b *builder) stage(name string) *stage {
	for _, s := range b.stages {
		if s.name != "" && s.name == strings.ToLower(name) {
			return s
		}
	}
	return nil
}

// cached takes the image a step with the stage's chain made before, or,
// for a step that writes the history entry createdBy (not ""), the layer
// a --cache-from image has for it; unless --no-cache. It says whether it
// did.
func (b *builder) cached(s *stage, createdBy string) bool {
	if b.o.NoCache {
		return false
	}
	img, ok := b.st.CachedStep(s.chain)
	if !ok && createdBy != "" {
		img, ok = b.fromCacheImages(s, createdBy)
	}
	if !ok {
		return false
	}
	s.img, s.cfg = img, *img.Config.DeepCopy()
	if !b.o.Quiet {
		fmt.Fprintf(b.o.Out, "--> Using cache %s\n", img.ID[:12])
	}
	return true
}

// runStep runs a RUN instruction, or takes its result from the cache: it
// depends on everything before it, its mounts' contents and the build
// args' values.
func (b *builder) runStep(s *stage, n *parser.Node) error {
	m, err := b.mounts(s, n)
	if err != nil {
		return err
	}
	defer m.done()
	s.chain += "\n" + strings.TrimSpace(n.Original) + heredocKey(n) + m.key + "\x00" + argsKey(s.args)
	args := b.runArgs(s, n)
	createdBy := runCreatedBy(args, s.args)
	if m.key != "" {
		createdBy = "" // what a bind mount holds is not in the history
	}
	if b.cached(s, createdBy) {
		return nil
	}
	if err := b.run(s, args, createdBy, m); err != nil {
		return err
	}
	b.st.RememberStep(s.chain, s.img.ID)
	return nil
}

// command is an instruction's exec form, or its shell form run by the
// stage's SHELL.
func command(n *parser.Node) []string {
	ws := words(n)
	if n.Attributes["json"] {
		return ws
	}
	return []string{"/bin/sh", "-c", strings.Join(ws, " ")}
}

// runArgs is a RUN's command: its exec form, or its script run by the
// stage's SHELL.
func (b *builder) runArgs(s *stage, n *parser.Node) []string {
	args := command(n)
	if !n.Attributes["json"] {
		shell := []string{"/bin/sh", "-c"}
		if len(s.cfg.Config.Shell) > 0 {
			shell = s.cfg.Config.Shell
		}
		args = append(append([]string(nil), shell...), runScript(n))
	}
	return args
}

// runCreatedBy is a RUN's history entry as Docker's builder writes it:
// the build args in force first ("|2 A=1 B=2 /bin/sh -c make").
func runCreatedBy(args []string, buildArgs map[string]string) string {
	cmd := strings.Join(args, " ")
	if len(buildArgs) == 0 {
		return cmd
	}
	return fmt.Sprintf("|%d %s %s", len(buildArgs), strings.Join(argsEnv(buildArgs), " "), cmd)
}

func (b *builder) run(s *stage, args []string, createdBy string, m *runMounts) error {
	if s.img == nil {
		return errdefs.Invalid("RUN needs a base image with a shell (this stage is FROM scratch with nothing in it)")
	}
	// The image so far, with the config built so far, is what RUN runs
	// in; it is remembered too, which also hides it from `images`.
	// With --no-cache the steps before may have made something new under
	// the same chain, so the base is always stored afresh.
	baseKey := s.chain + "\x00base"
	img, ok := (*storage.Image)(nil), false
	if !b.o.NoCache {
		img, ok = b.st.CachedStep(baseKey)
	}
	if !ok {
		// Without the VOLUMEs: a RUN writes into those paths of the image
		// (BuildKit keeps such changes), not into anonymous volumes.
		base := *s
		base.cfg = *s.cfg.DeepCopy()
		base.cfg.Config.Volumes = nil
		var err error
		if img, err = b.store(&base, nil, ""); err != nil {
			return err
		}
		b.st.RememberStep(baseKey, img.ID)
	}
	// The ARGs are in the RUN's environment, under its ENV.
	env := append([]string(nil), s.cfg.Config.Env...)
	for _, kv := range argsEnv(s.args) {
		if k, _, _ := strings.Cut(kv, "="); !hasEnv(env, k) {
			env = append(env, kv)
		}
	}
	// Docker's predefined proxy args reach RUN without an ARG line, and,
	// like Docker, stay out of the cache key and the image.
	for _, k := range proxyArgs {
		if v, ok := b.o.BuildArgs[k]; ok {
			if _, declared := s.args[k]; !declared {
				env = append(env, k+"="+v)
			}
		}
	}
	env = append(env, m.env...) // secrets as env=VAR: in the RUN only, never the image
	spec := runtime.Spec{
		Image: img.ID, Cmd: args, EntrypointSet: true, Env: env,
		Workdir: s.cfg.Config.WorkingDir, User: s.cfg.Config.User, Network: b.o.Network, NetworkKind: b.o.NetworkKind, Mounts: m.mounts,
		Name:       "skiff-build-" + img.ID[:8] + "-" + strconv.FormatInt(time.Now().UnixNano(), 36),
		ExtraHosts: b.o.ExtraHosts, SecurityOpt: b.o.SecurityOpt, Security: b.o.Security,
		Isolation: b.o.Isolation, Resources: b.o.Resources,
	}
	c, err := runtime.Create(b.st, img, spec)
	if err != nil {
		return err
	}
	containerEvent(c, "create")
	if b.o.Running != nil {
		b.o.Running(c.ID)
		defer b.o.Running("")
	}
	defer func() {
		if removed, err := runtime.Remove(b.st, c.ID, true, true); err == nil && removed != nil {
			containerEvent(removed, "destroy")
		}
	}()
	out := b.o.Out
	if b.o.Quiet {
		out = io.Discard
	}
	streams := supervisor.AttachStreams{Stdout: out, Stderr: out}
	a, err := runtime.StartAttached(c, streams)
	if err != nil {
		return err
	}
	code, err := a.Stream(streams)
	if err != nil {
		return err
	}
	if code != 0 {
		return &RunError{Cmd: strings.Join(args, " "), Code: code}
	}
	stubs, err := b.stubs(s, m.targets)
	if err != nil {
		return err
	}
	committed, err := b.st.Commit(b.ctx, c.ID, storage.CommitOptions{
		Config: s.cfg.Config, CreatedBy: firstNonEmpty(createdBy, runCreatedBy(args, s.args)), Stubs: stubs, Author: s.cfg.Author,
	})
	if err != nil {
		return err
	}
	s.img = committed
	s.cfg = *committed.Config.DeepCopy()
	return nil
}

// RunError is a RUN step that exited with a status.
type RunError struct {
	Cmd  string
	Code int
}

func (e *RunError) Error() string {
	return fmt.Sprintf("the command %q exited with status %d", e.Cmd, e.Code)
}

// fromRoot mounts a previous stage's (or an image's) files for COPY --from.
func (b *builder) fromRoot(from string) (string, func(), error) {
	var img *storage.Image
	for _, s := range b.stages {
		if s.name == strings.ToLower(from) || strconv.Itoa(indexOf(b.stages, s)) == from {
			var err error
			if img, err = b.store(s, nil, ""); err != nil {
				return "", nil, err
			}
		}
	}
	if img == nil {
		var err error
		if img, err = b.o.Pull(b.ctx, from); err != nil {
			return "", nil, fmt.Errorf("COPY --from=%s: no such stage or image: %w", from, err)
		}
	}
	return b.st.MountImage(img.ID)
}

func indexOf(ss []*stage, s *stage) int {
	for i, x := range ss {
		if x == s {
			return i
		}
	}
	return -1
}

// store writes the stage's image: its layers, plus layer when given (a
// tar), with the stage's config.
func (b *builder) store(s *stage, layer []byte, createdBy string) (*storage.Image, error) {
	if layer == nil {
		return b.storeLayer(s, nil, v1.History{})
	}
	d, _, err := v1.SHA256(bytes.NewReader(layer))
	if err != nil {
		return nil, err
	}
	return b.storeLayer(s, &storage.LayerSource{DiffID: d.String(), Open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layer)), nil
	}}, v1.History{CreatedBy: createdBy})
}

// storeLayer writes the stage's image with one more layer, and its
// history entry h, when given (its Open nil when the store has it on the
// same parents already).
func (b *builder) storeLayer(s *stage, layer *storage.LayerSource, h v1.History) (*storage.Image, error) {
	cfg := *s.cfg.DeepCopy()
	cfg.Created = v1.Time{Time: time.Now().UTC()}
	var ni storage.NewImage
	if s.img != nil {
		for _, d := range s.img.Config.RootFS.DiffIDs {
			ni.Layers = append(ni.Layers, storage.LayerSource{DiffID: d.String()})
		}
	}
	cfg.RootFS.Type = "layers"
	cfg.RootFS.DiffIDs = nil
	for _, l := range ni.Layers {
		h, _ := v1.NewHash(l.DiffID)
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, h)
	}
	if layer != nil {
		d, err := v1.NewHash(layer.DiffID)
		if err != nil {
			return nil, err
		}
		ni.Layers = append(ni.Layers, *layer)
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, d)
		h.Created = cfg.Created
		cfg.History = append(cfg.History, h)
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	ni.Config = raw
	return b.st.PutImage(b.ctx, ni)
}

func hasEnv(env []string, k string) bool {
	for _, e := range env {
		if ek, _, _ := strings.Cut(e, "="); ek == k {
			return true
		}
	}
	return false
}

func setEnv(env []string, kv string) []string {
	k, _, _ := strings.Cut(kv, "=")
	for i, e := range env {
		if ek, _, _ := strings.Cut(e, "="); ek == k {
			env[i] = kv
			return env
		}
	}
	return append(env, kv)
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// owner resolves --chown's user[:group] (names from the stage's
// /etc/passwd and /etc/group, as Docker does); a user alone also gives
// its group as the group, numbers stay numbers.
func (b *builder) owner(s *stage, spec string) (int, int, error) {
	u, g, hasG := strings.Cut(spec, ":")
	uid, errU := strconv.Atoi(u)
	gid, errG := strconv.Atoi(g)
	if errU == nil && (!hasG || errG == nil) {
		if !hasG {
			gid = uid
		}
		return uid, gid, nil
	}
	if s.img == nil {
		return 0, 0, errdefs.Invalid("--chown=%s: names need a base image with /etc/passwd", spec)
	}
	root, done, err := b.st.MountImage(s.img.ID)
	if err != nil {
		return 0, 0, err
	}
	defer done()
	eu, err := runtime.ResolveUser(root, spec)
	if err != nil {
		return 0, 0, fmt.Errorf("--chown=%s: %w", spec, err)
	}
	if !hasG {
		return eu.UID, eu.UID, nil
	}
	return eu.UID, eu.GID, nil
}

// containerEvent records a RUN container's create or destroy, as Docker's
// classic builder's containers show in its events (the supervisor
// records their start and die).
func containerEvent(c *container.Container, action events.Action) {
	events.Record(events.Message{Type: events.ContainerEventType, Action: action,
		Actor: events.ContainerActor(c.ID, c.Name, c.Image, c.Config.Labels, nil)})
}
