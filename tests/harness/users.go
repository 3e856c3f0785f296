package harness

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// User is a host account the tests run skiff as.
type User struct {
	Name   string
	UID    int
	GID    int
	Groups []uint32 // supplementary groups
	Home   string
	// SubUID and SubGID are the user's first /etc/subuid and /etc/subgid
	// ranges; Count is 0 when the user has none.
	SubUID, SubGID IDRange
}

// IDRange is one subordinate id range: Start..Start+Count-1.
type IDRange struct {
	Start, Count int
}

// Contains reports whether id falls in the range.
func (r IDRange) Contains(id int) bool {
	return r.Count > 0 && id >= r.Start && id < r.Start+r.Count
}

// IsRoot reports whether u is root.
func (u *User) IsRoot() bool { return u.UID == 0 }

// DataDir is where skiff keeps the user's images and containers:
// ~/.local/share/skiff rootless (XDG_DATA_HOME unset), /var/lib/skiff as root.
func (u *User) DataDir() string {
	if u.IsRoot() {
		return "/var/lib/skiff"
	}
	return filepath.Join(u.Home, ".local", "share", "skiff")
}

// RuntimeDir is skiff's runtime directory for the user: /tmp/skiff-UID
// rootless (the tests never set XDG_RUNTIME_DIR), /run/skiff as root.
func (u *User) RuntimeDir() string {
	if u.IsRoot() {
		return "/run/skiff"
	}
	return fmt.Sprintf("/tmp/skiff-%d", u.UID)
}

// ConfigDir is skiff's configuration directory for the user.
func (u *User) ConfigDir() string {
	if u.IsRoot() {
		return "/etc/skiff"
	}
	return filepath.Join(u.Home, ".config", "skiff")
}

// defaultSubRange is the range given to the e2e user when useradd added none.
const defaultSubRange = "200000-265535"

// ensureUser creates the user if needed (idempotent) and makes its
// subordinate id ranges match withSub: present, or absent altogether.
func ensureUser(name string, withSub bool) (*User, error) {
	// usermod refuses --add-subuids when the files do not exist yet.
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		if _, err := os.Stat(f); errors.Is(err, os.ErrNotExist) {
			if err := os.WriteFile(f, nil, 0o644); err != nil {
				return nil, err
			}
		}
	}
	if _, err := user.Lookup(name); err != nil {
		var unknown user.UnknownUserError
		if !errors.As(err, &unknown) {
			return nil, fmt.Errorf("looking up user %s: %w", name, err)
		}
		args := []string{"-m", "-s", "/bin/sh"}
		if !withSub {
			args = append(args, "-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0")
		}
		args = append(args, name)
		if out, err := exec.Command("/usr/sbin/useradd", args...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("useradd %s: %v: %s", name, err, strings.TrimSpace(string(out)))
		}
	}
	for _, f := range []struct{ file, add, del string }{
		{"/etc/subuid", "--add-subuids", "--del-subuids"},
		{"/etc/subgid", "--add-subgids", "--del-subgids"},
	} {
		ranges, err := readSubIDs(f.file, name)
		if err != nil {
			return nil, err
		}
		switch {
		case withSub && len(ranges) == 0:
			if out, err := exec.Command("/usr/sbin/usermod", f.add, defaultSubRange, name).CombinedOutput(); err != nil {
				return nil, fmt.Errorf("usermod %s %s %s: %v: %s", f.add, defaultSubRange, name, err, strings.TrimSpace(string(out)))
			}
		case !withSub:
			for _, r := range ranges {
				spec := fmt.Sprintf("%d-%d", r.Start, r.Start+r.Count-1)
				if out, err := exec.Command("/usr/sbin/usermod", f.del, spec, name).CombinedOutput(); err != nil {
					return nil, fmt.Errorf("usermod %s %s %s: %v: %s", f.del, spec, name, err, strings.TrimSpace(string(out)))
				}
			}
		}
	}
	u, err := lookupUser(name)
	if err != nil {
		return nil, err
	}
	if withSub && (u.SubUID.Count < 65536 || u.SubGID.Count < 65536) {
		return nil, fmt.Errorf("user %s needs 65536 subordinate ids in /etc/subuid and /etc/subgid, has %d and %d", name, u.SubUID.Count, u.SubGID.Count)
	}
	if !withSub && (u.SubUID.Count != 0 || u.SubGID.Count != 0) {
		return nil, fmt.Errorf("user %s still has /etc/subuid or /etc/subgid entries", name)
	}
	// The home must be the user's own: skiff keeps its store there.
	if err := os.Chown(u.Home, u.UID, u.GID); err != nil {
		return nil, err
	}
	return u, nil
}

// lookupUser reads a user's ids, groups, home and subordinate ranges.
func lookupUser(name string) (*User, error) {
	pw, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("looking up user %s: %w", name, err)
	}
	u := &User{Name: name, Home: pw.HomeDir}
	if u.UID, err = strconv.Atoi(pw.Uid); err != nil {
		return nil, err
	}
	if u.GID, err = strconv.Atoi(pw.Gid); err != nil {
		return nil, err
	}
	gids, err := pw.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("groups of %s: %w", name, err)
	}
	for _, g := range gids {
		n, err := strconv.Atoi(g)
		if err != nil {
			return nil, err
		}
		u.Groups = append(u.Groups, uint32(n))
	}
	if u.UID == 0 {
		return u, nil
	}
	for _, f := range []struct {
		file string
		dst  *IDRange
	}{{"/etc/subuid", &u.SubUID}, {"/etc/subgid", &u.SubGID}} {
		ranges, err := readSubIDs(f.file, name)
		if err != nil {
			return nil, err
		}
		if len(ranges) > 0 {
			*f.dst = ranges[0]
		}
	}
	return u, nil
}

// readSubIDs returns the ranges of name (or its uid) in an /etc/subuid-style file.
func readSubIDs(file, name string) ([]IDRange, error) {
	f, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	uid := ""
	if pw, err := user.Lookup(name); err == nil {
		uid = pw.Uid
	}
	var out []IDRange
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(strings.TrimSpace(sc.Text()), ":")
		if len(fields) != 3 || (fields[0] != name && fields[0] != uid) {
			continue
		}
		start, err1 := strconv.Atoi(fields[1])
		count, err2 := strconv.Atoi(fields[2])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%s: bad line %q", file, sc.Text())
		}
		out = append(out, IDRange{Start: start, Count: count})
	}
	return out, sc.Err()
}
