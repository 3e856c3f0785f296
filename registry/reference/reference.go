// Package reference parses image references the way Docker does:
// `busybox` is docker.io/library/busybox:latest, a first component with a
// dot, a colon or `localhost` is a registry host. It only parses; it does
// not resolve names against a store or a registry.
package reference

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/skiff-project/skiff/errdefs"
)

// DefaultDomain is the registry of names without a host, as in Docker.
const DefaultDomain = "docker.io"

// domainRe is compiled at its first use, not at every start of skiff.
var domainRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?$|^\[[a-fA-F0-9:]+\](?::[0-9]+)?$`)
})

// The path, tag, digest and ID checks are plain loops, not regular expressions:
// `{0,127}` compiles to 128 copies of its class, and every skiff process
// paid ~0.5 ms at start-up to compile it.

// validTag matches `^[\w][\w.-]{0,127}$`.
func validTag(t string) bool {
	if t == "" || len(t) > 128 || !wordByte(t[0]) {
		return false
	}
	for i := 1; i < len(t); i++ {
		if c := t[i]; !wordByte(c) && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// validDigest matches `^sha256:[a-f0-9]{64}$`.
func validDigest(d string) bool {
	hex, ok := strings.CutPrefix(d, "sha256:")
	return ok && IsID(hex)
}

// IsID reports whether s looks like a full image or container ID: 64
// lower-case hex digits.
func IsID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// validPathComponent matches `^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$`:
// runs of lower-case letters and digits joined by ".", "_", "__" or dashes.
func validPathComponent(p string) bool {
	i := 0
	for {
		start := i
		for i < len(p) && (('a' <= p[i] && p[i] <= 'z') || ('0' <= p[i] && p[i] <= '9')) {
			i++
		}
		if i == start {
			return false
		}
		if i == len(p) {
			return true
		}
		switch {
		case p[i] == '.':
			i++
		case strings.HasPrefix(p[i:], "__"):
			i += 2
		case p[i] == '_':
			i++
		case p[i] == '-':
			for i < len(p) && p[i] == '-' {
				i++
			}
		default:
			return false
		}
	}
}

func wordByte(c byte) bool {
	return c == '_' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

// Named is a parsed, normalised reference.
type Named struct {
	Domain string // registry host[:port], e.g. docker.io
	Path   string // repository path, e.g. library/busybox
	Tag    string // empty when only a digest was given
	Digest string // sha256:…, or empty
}

// Parse parses s and fills Docker's defaults: docker.io, library/, and the
// tag latest when neither tag nor digest is given.
func Parse(s string) (Named, error) {
	n, err := ParseNoTag(s)
	if err == nil && n.Tag == "" && n.Digest == "" {
		n.Tag = "latest"
	}
	return n, err
}

// ParseNoTag parses s like Parse but leaves Tag empty when none is given.
func ParseNoTag(s string) (Named, error) {
	bad := func(why string) (Named, error) {
		return Named{}, errdefs.Invalid("invalid reference format %q: %s", s, why)
	}
	if s == "" {
		return bad("empty")
	}
	if IsID(s) {
		return bad("a 64-character hex string is an image ID, not a repository name")
	}
	var n Named
	rest := s
	if i := strings.Index(rest, "@"); i >= 0 {
		n.Digest = rest[i+1:]
		rest = rest[:i]
		if !validDigest(n.Digest) {
			return bad("digest must be sha256: followed by 64 lower-case hex digits")
		}
	}
	if i := strings.LastIndex(rest, ":"); i >= 0 && !strings.Contains(rest[i:], "/") {
		n.Tag = rest[i+1:]
		rest = rest[:i]
		if !validTag(n.Tag) {
			return bad("tag must be letters, digits, _, . or - (at most 128)")
		}
	}
	parts := strings.Split(rest, "/")
	if len(parts) > 1 && (strings.ContainsAny(parts[0], ".:") || parts[0] == "localhost") {
		n.Domain = parts[0]
		parts = parts[1:]
		if !domainRe().MatchString(n.Domain) {
			return bad("bad registry host " + n.Domain)
		}
	} else {
		n.Domain = DefaultDomain
	}
	for _, p := range parts {
		if !validPathComponent(p) {
			return bad("repository name must be lower-case letters, digits and separators")
		}
	}
	n.Path = strings.Join(parts, "/")
	if n.Domain == DefaultDomain && len(parts) == 1 {
		n.Path = "library/" + n.Path
	}
	if len(n.Domain)+1+len(n.Path) > 255 {
		return bad("repository name longer than 255 characters")
	}
	return n, nil
}

// Repository returns domain/path.
func (n Named) Repository() string { return n.Domain + "/" + n.Path }

// String returns the full reference: domain/path[:tag][@digest].
func (n Named) String() string {
	s := n.Repository()
	if n.Tag != "" {
		s += ":" + n.Tag
	}
	if n.Digest != "" {
		s += "@" + n.Digest
	}
	return s
}

// FamiliarRepository returns the repository as Docker shows it: without
// docker.io/ and library/.
func (n Named) FamiliarRepository() string {
	if n.Domain != DefaultDomain {
		return n.Repository()
	}
	p := n.Path
	if rest, ok := strings.CutPrefix(p, "library/"); ok && !strings.Contains(rest, "/") {
		p = rest // official images only: library/a/b stays as it is
	}
	// docker.io/0.0/app shown as 0.0/app would name the registry 0.0.
	if first, _, more := strings.Cut(p, "/"); more && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return n.Repository()
	}
	return p
}

// Familiar returns the reference as Docker shows it.
func (n Named) Familiar() string {
	s := n.FamiliarRepository()
	if n.Tag != "" {
		s += ":" + n.Tag
	}
	if n.Digest != "" {
		s += "@" + n.Digest
	}
	return s
}

// WithTag returns a copy with tag t and no digest.
func (n Named) WithTag(t string) Named { n.Tag, n.Digest = t, ""; return n }

// WithDigest returns a copy with digest d and no tag.
func (n Named) WithDigest(d string) Named { n.Tag, n.Digest = "", d; return n }

// MustParse is Parse for names known to be valid (stored names).
func MustParse(s string) Named {
	n, err := ParseNoTag(s)
	if err != nil {
		panic(fmt.Sprintf("reference %q: %v", s, err))
	}
	return n
}
