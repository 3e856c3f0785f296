package container

import (
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// LogAttrs are the extra attributes json-file gives each log line, as
// Docker's: the container labels --log-opt labels= (comma-separated names)
// and labels-regex= pick, and the environment variables env= and
// env-regex= pick.
func (c *Container) LogAttrs() map[string]string {
	cfg := c.HostConfig.LogConfig.Config
	attrs := map[string]string{}
	env := map[string]string{}
	for _, kv := range c.Config.Env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	pick(attrs, c.Config.Labels, cfg["labels"], cfg["labels-regex"])
	pick(attrs, env, cfg["env"], cfg["env-regex"])
	return attrs
}

// pick copies from src the keys named in list (comma-separated) and those
// matching re.
func pick(dst, src map[string]string, list, re string) {
	if list != "" {
		for _, k := range strings.Split(list, ",") {
			if v, ok := src[k]; ok {
				dst[k] = v
			}
		}
	}
	if re == "" {
		return
	}
	if r, err := regexp.Compile(re); err == nil {
		for k, v := range src {
			if r.MatchString(k) {
				dst[k] = v
			}
		}
	}
}

// LogDetails is what `logs --details` puts before each line: the
// attributes (FormatLogAttrs) and a space, as Docker.
func (c *Container) LogDetails() string { return FormatLogAttrs(c.LogAttrs()) + " " }

// FormatLogAttrs is log attributes as Docker's --details shows them:
// k=v,k=v, sorted, query-escaped.
func FormatLogAttrs(attrs map[string]string) string {
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = url.QueryEscape(k) + "=" + url.QueryEscape(attrs[k])
	}
	return strings.Join(parts, ",")
}
