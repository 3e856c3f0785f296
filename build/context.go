package build

import (
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// source is one file or directory a COPY or ADD takes: where it is on the
// host, resolved inside its root, and the name it is copied under.
type source struct {
	path string // resolved, inside the root
	name string // the last element as the Dockerfile matched it
}

// sources finds what a COPY/ADD source (which may hold globs) names
// inside root, the build context or a stage's files. Every element is
// resolved as if root were /: a symlink is followed only within root, so
// `ln -s / ctx/root` then `COPY root/etc/passwd` looks for the context's
// own etc/passwd, never the host's (as Docker and Buildah do).
func sources(root, pattern string) ([]source, error) {
	parts := strings.Split(strings.Trim(path.Clean("/"+pattern), "/"), "/")
	cur := []string{"/"}
	for _, p := range parts {
		if p == "" {
			continue
		}
		var next []string
		for _, c := range cur {
			if !hasMeta(p) {
				next = append(next, path.Join(c, p))
				continue
			}
			dir, err := securejoin.SecureJoin(root, c)
			if err != nil {
				return nil, err
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if ok, _ := path.Match(p, e.Name()); ok {
					next = append(next, path.Join(c, e.Name()))
				}
			}
		}
		cur = next
	}
	sort.Strings(cur)
	var out []source
	for _, c := range cur {
		full, err := securejoin.SecureJoin(root, c)
		if err != nil {
			return nil, err
		}
		if _, err := os.Lstat(full); err == nil {
			out = append(out, source{path: full, name: path.Base(c)})
		}
	}
	return out, nil
}

// inRoot resolves one path (no globs) inside root, as sources does.
func inRoot(root, p string) (string, error) {
	return securejoin.SecureJoin(root, filepath.Clean("/"+p))
}

func hasMeta(s string) bool { return strings.ContainsAny(s, `*?[\`) }
