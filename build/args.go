package build

import (
	"fmt"
	"sort"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/skiff-project/skiff/errdefs"
)

// Build args: Docker's predefined ones and the cache key of a stage's values.

func argsKey(args map[string]string) string {
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s;", k, args[k])
	}
	return b.String()
}

// proxyArgs are Docker's predefined build args.
var proxyArgs = []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"}

// platformArgs are buildkit's automatic platform args, usable in FROM and,
// after a bare `ARG TARGETARCH`, in a stage; skiff builds for the host.
func platformArgs() map[string]string {
	m := map[string]string{}
	for _, p := range []string{"TARGET", "BUILD"} {
		m[p+"PLATFORM"] = "linux/" + goarch()
		m[p+"OS"] = "linux"
		m[p+"ARCH"] = goarch()
		m[p+"VARIANT"] = ""
	}
	return m
}

func validArgName(k string) bool {
	if k == "" || (k[0] >= '0' && k[0] <= '9') {
		return false
	}
	for _, r := range k {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// argsEnv is args as KEY=VALUE, sorted by key.
func argsEnv(args map[string]string) []string {
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k+"="+args[k])
	}
	return out
}

// globalArg reads an ARG before the first FROM: its default is expanded
// with the ARGs before it; a --build-arg replaces it.
func (b *builder) globalArg(n *parser.Node, global map[string]string) error {
	cmd, err := instructions.ParseCommand(n)
	if err != nil {
		return errdefs.Invalid("%v", err)
	}
	for _, a := range cmd.(*instructions.ArgCommand).Args {
		if !validArgName(a.Key) {
			return errdefs.Invalid("ARG %q: a name is letters, digits and _, not starting with a digit", a.Key)
		}
		if v, ok := b.o.BuildArgs[a.Key]; ok {
			global[a.Key] = v
		} else if a.Value != nil {
			v, _, err := b.lex.ProcessWord(*a.Value, shell.EnvsFromSlice(argsEnv(global)))
			if err != nil {
				return errdefs.Invalid("ARG %s: %v", a.Key, err)
			}
			global[a.Key] = v
		}
	}
	return nil
}

// stageArg reads an ARG in a stage: a --build-arg, else the default
// expanded with the stage's variables, else (a bare ARG) the value of
// the ARG of that name before the first FROM; with none of them the
// variable stays unset.
func (b *builder) stageArg(s *stage, cmd *instructions.ArgCommand) error {
	for _, a := range cmd.Args {
		if !validArgName(a.Key) {
			return errdefs.Invalid("ARG %q: a name is letters, digits and _, not starting with a digit", a.Key)
		}
		v, ok := b.o.BuildArgs[a.Key]
		switch {
		case ok:
		case a.Value != nil:
			var err error
			if v, err = b.expand(s, *a.Value); err != nil {
				return err
			}
		default:
			if v, ok = s.global[a.Key]; !ok {
				continue // declared, but unset
			}
		}
		s.args[a.Key] = v
	}
	return nil
}
