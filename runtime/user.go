package runtime

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/skiff-project/skiff/errdefs"
)

// ExecUser is who a container process runs as.
type ExecUser struct {
	UID, GID int
	Groups   []int
	Home     string
}

// resolveUser resolves `user[:group]` (names or numbers) against the
// rootfs's /etc/passwd and /etc/group, as Docker does. An empty spec is root.
func resolveUser(rootfs, spec string) (ExecUser, error) {
	u := ExecUser{Home: "/"}
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	if spec == "" {
		userPart = "0"
	}
	if userPart == "" || (hasGroup && groupPart == "") {
		return u, errdefs.Invalid("invalid user %q: want user[:group]", spec)
	}
	passwd := readColonFile(rootfs, "/etc/passwd")
	groups := readColonFile(rootfs, "/etc/group")
	name := ""
	if n, err := strconv.Atoi(userPart); err == nil {
		if n < 0 {
			return u, errdefs.Invalid("invalid user %q: negative uid", spec)
		}
		u.UID, u.GID = n, n
		u.GID = 0
		for _, p := range passwd {
			if len(p) >= 6 && p[2] == userPart {
				name = p[0]
				u.GID, _ = strconv.Atoi(p[3])
				u.Home = p[5]
				break
			}
		}
	} else {
		found := false
		for _, p := range passwd {
			if len(p) >= 6 && p[0] == userPart {
				found = true
				name = p[0]
				u.UID, _ = strconv.Atoi(p[2])
				u.GID, _ = strconv.Atoi(p[3])
				u.Home = p[5]
				break
			}
		}
		if !found {
			return u, errdefs.NotFound("unable to find user %s: no matching entries in the image's /etc/passwd", userPart)
		}
	}
	if spec == "" && u.Home == "/" {
		u.Home = "/root"
	}
	if hasGroup {
		if n, err := strconv.Atoi(groupPart); err == nil {
			u.GID = n
		} else {
			found := false
			for _, g := range groups {
				if len(g) >= 3 && g[0] == groupPart {
					u.GID, _ = strconv.Atoi(g[2])
					found = true
					break
				}
			}
			if !found {
				return u, errdefs.NotFound("unable to find group %s: no matching entries in the image's /etc/group", groupPart)
			}
		}
	} else if name != "" {
		// Supplementary groups: the ones listing the user by name.
		for _, g := range groups {
			if len(g) < 4 {
				continue
			}
			for _, m := range strings.Split(g[3], ",") {
				if m == name {
					if gid, err := strconv.Atoi(g[2]); err == nil && gid != u.GID {
						u.Groups = append(u.Groups, gid)
					}
				}
			}
		}
	}
	return u, nil
}

// readColonFile reads a passwd-style file inside rootfs without following
// symlinks out of it. A missing file reads as empty.
func readColonFile(rootfs, file string) [][]string {
	p, err := securejoin.SecureJoin(rootfs, file)
	if err != nil {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out [][]string
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, strings.Split(line, ":"))
	}
	return out
}

func (u ExecUser) String() string { return fmt.Sprintf("%d:%d", u.UID, u.GID) }

// ResolveUser is resolveUser for other packages (the builder's --chown).
func ResolveUser(rootfs, spec string) (ExecUser, error) { return resolveUser(rootfs, spec) }
