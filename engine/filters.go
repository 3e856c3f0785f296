package engine

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/skiff-project/skiff/errdefs"
)

// Filters are Docker's list filters (`--filter KEY=VALUE`, the API's
// `filters` parameter): values of one key are alternatives, different
// keys must all match, and every label filter must match.
type Filters map[string][]string

// ParseFilters reads `--filter` values of the form KEY=VALUE.
func ParseFilters(args []string) (Filters, error) {
	f := Filters{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return nil, errdefs.Invalid("invalid filter %q: want KEY=VALUE", a)
		}
		f[k] = append(f[k], v)
	}
	return f, nil
}

// ParseFiltersJSON reads the API's filters parameter: {"KEY":["V"]} or
// the older {"KEY":{"V":true}}.
func ParseFiltersJSON(s string) (Filters, error) {
	f := Filters{}
	if s == "" {
		return f, nil
	}
	var lists map[string][]string
	if err := json.Unmarshal([]byte(s), &lists); err == nil {
		for k, vs := range lists {
			f[k] = vs
		}
		return f, nil
	}
	var sets map[string]map[string]bool
	if err := json.Unmarshal([]byte(s), &sets); err != nil {
		return nil, errdefs.Invalid("invalid filters %q: %v", s, err)
	}
	for k, vs := range sets {
		for v, on := range vs {
			if on {
				f[k] = append(f[k], v)
			}
		}
		sort.Strings(f[k])
	}
	return f, nil
}

// check refuses keys outside allowed, naming the ones there are.
func (f Filters) check(allowed ...string) error {
	for k := range f {
		if !slices.Contains(allowed, k) {
			return errdefs.Invalid("invalid filter %q: the filters here are %s", k, strings.Join(allowed, ", "))
		}
	}
	return nil
}

// any reports whether some value of key satisfies fn; with no value for
// key there is nothing to match and it reports true.
func (f Filters) any(key string, fn func(v string) bool) bool {
	vs := f[key]
	if len(vs) == 0 {
		return true
	}
	return slices.ContainsFunc(vs, fn)
}

// labels reports whether labels satisfy every label filter (KEY or
// KEY=VALUE) under key ("label", or "label!" for the negated form).
func (f Filters) labels(key string, labels map[string]string) bool {
	for _, spec := range f[key] {
		if !hasLabel(labels, spec) {
			return false
		}
	}
	return true
}

func hasLabel(labels map[string]string, spec string) bool {
	k, v, hasV := strings.Cut(spec, "=")
	got, ok := labels[k]
	return ok && (!hasV || got == v)
}

// boolValue reads a filter's true/false value (dangling=true).
func (f Filters) boolValue(key string) (*bool, error) {
	vs := f[key]
	if len(vs) == 0 {
		return nil, nil
	}
	var out *bool
	for _, v := range vs {
		var b bool
		switch strings.ToLower(v) {
		case "true", "1":
			b = true
		case "false", "0":
		default:
			return nil, errdefs.Invalid("invalid filter %s=%s: want %s=true or %s=false", key, v, key, key)
		}
		if out != nil && *out != b {
			return nil, errdefs.Invalid("invalid filter %s: both true and false given", key)
		}
		out = &b
	}
	return out, nil
}

func (f Filters) String() string {
	var parts []string
	for k, vs := range f {
		for _, v := range vs {
			parts = append(parts, fmt.Sprintf("%s=%s", k, v))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}
