package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/skiff-project/skiff/errdefs"
)

// A route is a method and a path pattern. Segments in braces are
// parameters; one of them may end in "*" and then takes one or more
// segments (image names have slashes: /images/{name*}/json).
type route struct {
	method  string
	pattern []string
	greedy  int // index of the greedy parameter, or -1
	h       handler
}

// handler serves one route; an error it returns becomes Docker's error
// reply (unless it has written a reply already).
type handler func(w http.ResponseWriter, r *http.Request, p params) error

type params map[string]string

type router struct{ routes []route }

func (rt *router) add(method, pattern string, h handler) {
	segs := strings.Split(strings.Trim(pattern, "/"), "/")
	r := route{method: method, pattern: segs, greedy: -1, h: h}
	for i, s := range segs {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "*}") {
			r.greedy = i
		}
	}
	rt.routes = append(rt.routes, r)
}

// match finds the route for a method and path; found reports whether
// the path exists with another method (405 then, not 404).
func (rt *router) match(method string, segs []string) (h handler, p params, found bool) {
	for _, r := range rt.routes {
		p, ok := r.match(segs)
		if !ok {
			continue
		}
		found = true
		if r.method == method || method == http.MethodHead && r.method == http.MethodGet {
			return r.h, p, true
		}
	}
	return nil, nil, found
}

func (r route) match(segs []string) (params, bool) {
	p := params{}
	one := func(pat, seg string) bool {
		if strings.HasPrefix(pat, "{") {
			if seg == "" {
				return false
			}
			p[strings.Trim(pat, "{}*")] = seg
			return true
		}
		return pat == seg
	}
	if r.greedy < 0 {
		if len(segs) != len(r.pattern) {
			return nil, false
		}
		for i, pat := range r.pattern {
			if !one(pat, segs[i]) {
				return nil, false
			}
		}
		return p, true
	}
	before, after := r.pattern[:r.greedy], r.pattern[r.greedy+1:]
	if len(segs) < len(r.pattern) {
		return nil, false
	}
	for i, pat := range before {
		if !one(pat, segs[i]) {
			return nil, false
		}
	}
	tail := segs[len(segs)-len(after):]
	for i, pat := range after {
		if !one(pat, tail[i]) {
			return nil, false
		}
	}
	mid := segs[len(before) : len(segs)-len(after)]
	name := strings.Join(mid, "/")
	if name == "" {
		return nil, false
	}
	p[strings.Trim(r.pattern[r.greedy], "{}*")] = name
	return p, true
}

type versionKey struct{}

// apiVersion is the version the request asked for (its /vX.Y prefix),
// or the newest.
func apiVersion(r *http.Request) string {
	if v, ok := r.Context().Value(versionKey{}).(string); ok {
		return v
	}
	return MaxVersion
}

// versionAtLeast reports whether the request's API version is v or newer.
func versionAtLeast(r *http.Request, v string) bool { return compareVersions(apiVersion(r), v) >= 0 }

// compareVersions compares two "1.41"-style versions.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// serve checks the path (no "." or ".." segments: nothing here is a file
// path, and a cleaned path could name another object) and the version
// prefix, then runs the route.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if !strings.HasPrefix(path, "/") {
		writeError(w, r, errdefs.Invalid("invalid path %q", path))
		return
	}
	segs := strings.Split(path[1:], "/")
	for _, seg := range segs {
		if seg == "." || seg == ".." {
			writeError(w, r, errdefs.Invalid("invalid path %q: it has a %q segment", path, seg))
			return
		}
	}
	if len(segs) > 0 && isVersion(segs[0]) {
		v := segs[0][1:]
		switch {
		case compareVersions(v, MaxVersion) > 0:
			writeError(w, r, errdefs.Invalid("client version %s is too new. Maximum supported API version is %s", v, MaxVersion))
			return
		case compareVersions(v, MinVersion) < 0:
			writeError(w, r, errdefs.Invalid("client version %s is too old. Minimum supported API version is %s, please upgrade your client to a newer version", v, MinVersion))
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), versionKey{}, v))
		segs = segs[1:]
	}
	// A trailing slash names the same thing (/containers/json/).
	if n := len(segs); n > 1 && segs[n-1] == "" {
		segs = segs[:n-1]
	}
	// Parameters come from the query only: bodies are JSON or archives,
	// never forms to be read here.
	r.Form, r.PostForm = r.URL.Query(), url.Values{}
	h, p, found := s.mux.match(r.Method, segs)
	if h == nil {
		if found {
			writeError(w, r, fmt.Errorf("%s %s: method not allowed: %w", r.Method, path, errMethod))
			return
		}
		writeError(w, r, fmt.Errorf("page not found: %s %s is not an endpoint of the Docker API skiff serves: %w", r.Method, path, errdefs.ErrNotFound))
		return
	}
	if err := h(w, r, p); err != nil {
		writeError(w, r, err)
	}
}

func isVersion(s string) bool {
	if len(s) < 2 || s[0] != 'v' {
		return false
	}
	major, minor, ok := strings.Cut(s[1:], ".")
	if !ok {
		return false
	}
	_, err1 := strconv.Atoi(major)
	_, err2 := strconv.Atoi(minor)
	return err1 == nil && err2 == nil
}
