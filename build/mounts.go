package build

import (
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/storage"
)

// runMounts are the mounts of one RUN step (RUN --mount=...), in the
// runtime's --mount syntax, with what to release once the step is done.
type runMounts struct {
	mounts  []container.Mount
	targets []string // left out of the committed layer
	env     []string // secrets given as env=VAR, SSH_AUTH_SOCK
	key     string   // what the mounts add to the step's cache key
	release []func()
	ssh     int // ssh mounts so far
}

func (m *runMounts) add(mt container.Mount) {
	mt.Destination = path.Clean(mt.Destination)
	m.mounts = append(m.mounts, mt)
	m.targets = append(m.targets, mt.Destination)
}

func (m *runMounts) done() {
	for _, r := range m.release {
		r()
	}
}

// mounts reads a RUN's --mount flags as buildkit does:
//
//	type=bind   (default) source= from the context, or from=stage|image; read-only
//	type=cache  target=, id= (default the target): a directory kept between builds
//	type=secret id=, target= (default /run/secrets/ID), env=VAR, required: a --secret
//	type=ssh    id= (default "default"), target= (default
//	            /run/buildkit/ssh_agent.N), required: an --ssh agent socket;
//	            SSH_AUTH_SOCK names the first
//	type=tmpfs  target=, size=
//
// A bind's contents go into the step's cache key; a cache's and a
// secret's do not, as in Docker.
func (b *builder) mounts(s *stage, n *parser.Node) (*runMounts, error) {
	out := &runMounts{}
	for _, f := range n.Flags {
		k, v, _ := strings.Cut(strings.TrimPrefix(f, "--"), "=")
		switch k {
		case "mount":
		case "network":
			if v != "default" && v != b.o.Network && !(v == "none" && b.o.Network == "") {
				out.done()
				return nil, errdefs.Invalid("RUN --network=%s: only the build's --network is available", v)
			}
			continue
		default:
			out.done()
			return nil, errdefs.Invalid("RUN: unknown flag --%s (want --mount=type=bind|cache|secret|ssh|tmpfs,...)", k)
		}
		spec, err := b.expand(s, v)
		if err == nil {
			err = b.mount(s, spec, out)
		}
		if err != nil {
			out.done()
			return nil, fmt.Errorf("RUN --mount=%s: %w", v, err)
		}
	}
	return out, nil
}

func (b *builder) mount(s *stage, spec string, out *runMounts) error {
	kv := map[string]string{}
	for _, f := range strings.Split(spec, ",") {
		k, v, hasV := strings.Cut(f, "=")
		if !hasV {
			v = "true" // ro, rw, required
		}
		switch k {
		case "src":
			k = "source"
		case "dst", "destination":
			k = "target"
		}
		kv[k] = v
	}
	target := kv["target"]
	if target != "" && !path.IsAbs(target) {
		target = path.Join(firstNonEmpty(s.cfg.Config.WorkingDir, "/"), target)
	}
	switch typ := firstNonEmpty(kv["type"], "bind"); typ {
	case "bind":
		if target == "" {
			return errdefs.Invalid("type=bind needs target=/path")
		}
		if kv["rw"] == "true" || kv["readwrite"] == "true" {
			return errdefs.Invalid("rw bind mounts are not supported by skiff build; copy the files with COPY instead")
		}
		root := b.o.ContextDir
		if from := kv["from"]; from != "" {
			r, release, err := b.fromRoot(from)
			if err != nil {
				return err
			}
			root = r
			out.release = append(out.release, release)
		}
		src, err := inRoot(root, kv["source"])
		if err != nil {
			return err
		}
		if _, err := os.Stat(src); err != nil {
			return errdefs.NotFound("source %s: no such file or directory", firstNonEmpty(kv["source"], "."))
		}
		sum, err := b.treeSum(root, src, kv["from"] == "")
		if err != nil {
			return err
		}
		out.key += "\x00bind " + target + " " + sum
		out.add(container.Mount{Type: container.MountBind, Source: src, Destination: target, ReadOnly: true})
	case "cache":
		if target == "" {
			return errdefs.Invalid("type=cache needs target=/path")
		}
		dir, err := storage.BuildMountDir(firstNonEmpty(kv["id"], target))
		if err != nil {
			return err
		}
		ro := kv["ro"] == "true" || kv["readonly"] == "true"
		out.add(container.Mount{Type: container.MountBind, Source: dir, Destination: target, ReadOnly: ro})
	case "secret":
		id := firstNonEmpty(kv["id"], path.Base(target))
		if id == "" || id == "." || id == "/" {
			return errdefs.Invalid("type=secret needs id=NAME (given to skiff build with --secret id=NAME,src=FILE)")
		}
		file, ok := b.o.Secrets[id]
		if !ok {
			if kv["required"] == "true" {
				return errdefs.NotFound("secret %s is required: pass it with --secret id=%s,src=FILE", id, id)
			}
			return nil // Docker skips a missing optional secret
		}
		if env := kv["env"]; env != "" {
			// env=VAR: the secret is that variable in the RUN, and a file
			// only when target= asks for one too.
			data, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			out.env = append(out.env, env+"="+string(data))
			if target == "" {
				return nil
			}
		}
		if target == "" {
			target = "/run/secrets/" + id
		}
		out.add(container.Mount{Type: container.MountBind, Source: file, Destination: target, ReadOnly: true})
	case "ssh":
		id := firstNonEmpty(kv["id"], "default")
		sock, ok := b.o.SSH[id]
		if !ok {
			if kv["required"] == "true" {
				return errdefs.NotFound("ssh %s is required: forward an agent with --ssh %s (default is $SSH_AUTH_SOCK)", id, id)
			}
			return nil // Docker skips a missing optional ssh mount
		}
		if target == "" {
			target = fmt.Sprintf("/run/buildkit/ssh_agent.%d", out.ssh)
		}
		if out.ssh == 0 {
			out.env = append(out.env, "SSH_AUTH_SOCK="+target)
		}
		out.ssh++
		out.add(container.Mount{Type: container.MountBind, Source: sock, Destination: target})
	case "tmpfs":
		if target == "" {
			return errdefs.Invalid("type=tmpfs needs target=/path")
		}
		m := container.Mount{Type: container.MountTmpfs, Destination: target, Options: []string{"nosuid", "nodev"}}
		if sz := kv["size"]; sz != "" {
			m.Options = append(m.Options, "size="+sz)
		}
		out.add(m)
	default:
		return errdefs.Invalid("unknown mount type %q (want bind, cache, secret, ssh or tmpfs)", typ)
	}
	return nil
}

// treeSum is the names, modes, owners and contents under src, as a COPY
// of it would key them.
func (b *builder) treeSum(root, src string, fromContext bool) (string, error) {
	w := copyWriter{b: b, root: root, fromContext: fromContext}
	return w.layer(io.Discard, &destView{}, []copySource{{source: source{path: src, name: "m"}}}, "/m")
}

// stubs are what a RUN's commit leaves out for its mounts: each target,
// and the directories above it the image did not have (made only to
// mount on, as /run/secrets for a secret).
func (b *builder) stubs(s *stage, targets []string) ([]string, error) {
	if len(targets) == 0 {
		return nil, nil
	}
	view, done, err := b.view(s)
	if err != nil {
		return nil, err
	}
	defer done()
	out := append([]string(nil), targets...)
	for _, t := range targets {
		for d := path.Dir(t); d != "/"; d = path.Dir(d) {
			if exists, _ := view.stat(view.resolve(d)); exists {
				break
			}
			out = append(out, d)
		}
	}
	return out, nil
}
