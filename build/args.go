package build

import (
	"fmt"
	"sort"
	"strings"
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
