package e2e

// The Debian image (harness.Debian: debootstrap's bookworm minbase plus a
// layer of files owned by uids 1..2000, hard links and a file capability):
// a real distribution's files through pull, commit, export, cp and
// save/load; apt-get over skiff's networking, in a container and in a
// build; switching users with su and setpriv, setuid and setgid programs
// and ping's file capability for a user other than root. As the user with
// subordinate ids and as root; without subordinate ids, what one uid allows.

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/skiff-project/skiff/tests/harness"
)

// debianTimeout bounds the commands that move the whole image (pull,
// save, load, export, a tree listing).
var debianTimeout = harness.RunOptions{Timeout: 3 * time.Minute}

// forDebianUsers runs f as parallel subtests, as the user with
// subordinate ids and as root, with the Debian image pulled for each.
func forDebianUsers(t *testing.T, f func(t *testing.T, u *harness.User, img string)) {
	t.Helper()
	for _, u := range []*harness.User{harness.E2E, harness.Root} {
		t.Run(u.Name, func(t *testing.T) {
			t.Parallel()
			d := harness.Debian(t)
			f(t, u, pulledRef(t, u, d.Ref()))
		})
	}
}

// debianModScript changes files of every kind in a container: an owner,
// setuid and setgid bits, a new hard link, a removal, a user and files of
// its own, a file capability on a new file.
const debianModScript = `set -e
chown 4242:4343 /srv/owners/u0001
chmod 6711 /srv/owners/u0002
ln /srv/owners/u0003 /srv/owners/u0003.link
echo new >/srv/new
ln /srv/new /srv/new.link
rm /srv/owners/u0004
useradd -m -u 1500 -s /bin/sh carol
su carol -c 'mkdir /home/carol/d && echo hi >/home/carol/d/f && chmod 2750 /home/carol/d'
cp /usr/bin/ping /usr/local/bin/ping2
setcap cap_net_raw+ep /usr/local/bin/ping2
`

// TestDebianImageFiles follows the image's files (owners, modes with
// setuid/setgid/sticky bits, file types, hard links, file capabilities)
// through pull, a container's changes, commit, export, cp and save/load.
// It is not parallel: it removes each user's Debian image and loads it
// back, under the other Debian tests' feet otherwise.
func TestDebianImageFiles(t *testing.T) {
	harness.Need(t)
	forDebianUsers(t, func(t *testing.T, u *harness.User, img string) {
		d := harness.Debian(t)
		pulledTree := containerTree(t, u, "run", "--rm", img)
		compareTrees(t, "pull: the files in a container against the image's layers", pulledTree, layersTree(t, d.Layers), nil)

		mod := lcName("deb-mod")
		rmOnCleanup(t, u, mod)
		r := harness.RunAsWith(t, u, debianTimeout, "run", "--name", mod, img, "sh", "-c", debianModScript+treeScript).OK(t)
		modTree := parseTree(t, r.Cmdline(), r.Stdout)
		checkDebianMods(t, modTree)

		dir := harness.UserDir(t, u)
		exported := filepath.Join(dir, "export.tar")
		harness.RunAsWith(t, u, debianTimeout, "export", "-o", exported, mod).OK(t)
		f, err := os.Open(exported)
		must(t, err)
		exportTree := tarTree(t, exported, f)
		f.Close()
		// Rootless overlay (userxattr, no index) shows a file copied up
		// from a lower layer and a hard link made to it with different
		// inode numbers, though they are one file in the upper layer (as
		// for Docker and Podman rootless on this kernel): the export says
		// which names are one file, and the later trees must agree with it.
		if l := exportTree.files["/srv/owners/u0003.link"].link; l != "/srv/owners/u0003" {
			t.Errorf("export: /srv/owners/u0003.link is not a hard link of /srv/owners/u0003 (link %q)", l)
		}
		modTree.useLinksOf(exportTree)
		compareTrees(t, "export: its tar against the container", exportTree, modTree, nil)

		modImg := "deb-mod-" + harness.UniqueSuffix() + ":latest"
		harness.RunAs(t, u, "commit", mod, modImg).OK(t)
		compareTrees(t, "commit: a container of the committed image against the committed one", containerTree(t, u, "run", "--rm", modImg), modTree, nil)

		checkCopyOut(t, u, mod, modTree)
		checkCopyIn(t, u, img)

		saved := filepath.Join(dir, "saved.tar")
		harness.RunAsWith(t, u, debianTimeout, "save", "-o", saved, img, modImg).OK(t)
		compareTrees(t, "save: the Debian image's layers in the archive against the pushed ones", savedTree(t, saved, img), layersTree(t, d.Layers), nil)
		compareTrees(t, "save: the committed image's layers in the archive against the container", savedTree(t, saved, modImg), modTree, nil)

		// Nothing of the images stays in the store, so load unpacks every layer.
		harness.RunAs(t, u, "rm", "-f", mod).OK(t)
		harness.RunAs(t, u, "rmi", "-f", modImg, img).OK(t)
		if ids := imageIDs(t, u); contains(ids, d.ID) {
			t.Fatalf("the Debian image %s is still in the store after rmi -f: %v", d.ID, ids)
		}
		harness.RunAsWith(t, u, debianTimeout, "load", "-i", saved).OK(t)
		compareTrees(t, "load: a container of the loaded Debian image against the pulled one", containerTree(t, u, "run", "--rm", "--pull", "never", img), pulledTree, nil)
		compareTrees(t, "load: a container of the loaded committed image against the committed one", containerTree(t, u, "run", "--rm", "--pull", "never", modImg), modTree, nil)
	})
}

// checkDebianMods checks that debianModScript did its work, so the
// comparisons after it compare something.
func checkDebianMods(t *testing.T, tr *fileTree) {
	t.Helper()
	f := tr.files
	checks := []struct {
		what string
		ok   bool
	}{
		{"/srv/owners/u0001 owned by 4242:4343", f["/srv/owners/u0001"].uid == 4242 && f["/srv/owners/u0001"].gid == 4343},
		{"/srv/owners/u0002 mode 6711", f["/srv/owners/u0002"].perm == 0o6711},
		{"/srv/new.link the same inode as /srv/new", f["/srv/new.link"].ino != 0 && f["/srv/new.link"].ino == f["/srv/new"].ino},
		{"/srv/owners/u0004 gone", f["/srv/owners/u0004"].typ == 0},
		{"/home/carol/d owned by 1500:1500 mode 2750", f["/home/carol/d"].uid == 1500 && f["/home/carol/d"].gid == 1500 && f["/home/carol/d"].perm == 0o2750},
		{"/home/carol/d/f owned by 1500:1500", f["/home/carol/d/f"].uid == 1500 && f["/home/carol/d/f"].gid == 1500},
		{"/usr/local/bin/ping2 with cap_net_raw=ep", contains(tr.caps, "/usr/local/bin/ping2 cap_net_raw=ep")},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("after the changes in the container, want %s", c.what)
		}
	}
}

// savedTree reads the layers of image ref from a docker-archive into a tree.
func savedTree(t *testing.T, file, ref string) *fileTree {
	t.Helper()
	tag, err := name.NewTag(ref, name.Insecure)
	must(t, err)
	img, err := tarball.ImageFromPath(file, &tag)
	must(t, err)
	layers, err := img.Layers()
	must(t, err)
	var all [][]*tar.Header
	for i, l := range layers {
		rc, err := l.Uncompressed()
		must(t, err)
		hdrs, err := harness.TarHeaders(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("layer %d of %s in %s: %v", i, ref, file, err)
		}
		all = append(all, hdrs)
	}
	return layersTree(t, all)
}

// checkCopyOut copies /srv/owners out of a container with cp -a: as with
// Docker's CLI, the host files belong to the user who ran cp, with the
// container's modes (setuid, setgid, sticky) and hard links.
func checkCopyOut(t *testing.T, u *harness.User, ctr string, tr *fileTree) {
	t.Helper()
	dir := harness.UserDir(t, u)
	harness.RunAs(t, u, "cp", "-a", ctr+":/srv/owners", dir).OK(t)
	host := filepath.Join(dir, "owners")
	inodes := map[string]uint64{}
	n := 0
	var diffs []string
	for p, want := range tr.files {
		rel, ok := strings.CutPrefix(p, "/srv/owners/")
		if !ok {
			continue
		}
		n++
		var st syscall.Stat_t
		if err := syscall.Lstat(filepath.Join(host, rel), &st); err != nil {
			diffs = append(diffs, err.Error())
			continue
		}
		inodes[rel] = st.Ino
		if int(st.Uid) != u.UID || int(st.Gid) != u.GID || int64(st.Mode&0o7777) != want.perm || st.Mode&syscall.S_IFMT != want.typ {
			diffs = append(diffs, fmt.Sprintf("%s: %d:%d %o type %o, want %d:%d %o type %o", rel, st.Uid, st.Gid, st.Mode&0o7777, st.Mode&syscall.S_IFMT, u.UID, u.GID, want.perm, want.typ))
		}
	}
	entries, err := os.ReadDir(host)
	must(t, err)
	if len(entries) != n || n < harness.DebianOwners {
		diffs = append(diffs, fmt.Sprintf("%d files copied, want the container's %d", len(entries), n))
	}
	if inodes["u0003"] == 0 || inodes["u0003"] != inodes["u0003.link"] {
		diffs = append(diffs, "u0003.link is not a hard link of u0003")
	}
	sort.Strings(diffs)
	if len(diffs) > 10 {
		diffs = append(diffs[:10], "…")
	}
	if len(diffs) > 0 {
		t.Errorf("cp -a %s:/srv/owners %s as %s:\n  %s", ctr, dir, u.Name, strings.Join(diffs, "\n  "))
	}
}

// copyInTar is a tar stream of the directory many/ with files owned by
// uids 1..300 (setuid and setgid among them) and a hard link; it returns
// the stream and its headers.
func copyInTar(t *testing.T) ([]byte, []*tar.Header) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	must(t, tw.WriteHeader(&tar.Header{Name: "many/", Typeflag: tar.TypeDir, Mode: 0o1777, Uid: 7, Gid: 8, ModTime: time.Now()}))
	for i := 1; i <= 300; i++ {
		mode := int64(0o600 | i%0o100)
		if i%5 == 0 {
			mode |= 0o4000
		}
		if i%9 == 0 {
			mode |= 0o2000
		}
		body := fmt.Sprintf("%d\n", i)
		must(t, tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("many/f%03d", i), Typeflag: tar.TypeReg, Mode: mode, Uid: i, Gid: i + 1, Size: int64(len(body)), ModTime: time.Now()}))
		_, err := tw.Write([]byte(body))
		must(t, err)
	}
	must(t, tw.WriteHeader(&tar.Header{Name: "many/link", Typeflag: tar.TypeLink, Linkname: "many/f007", Mode: 0o607, Uid: 7, Gid: 8, ModTime: time.Now()}))
	must(t, tw.Close())
	hdrs, err := harness.TarHeaders(bytes.NewReader(buf.Bytes()))
	must(t, err)
	return buf.Bytes(), hdrs
}

// checkCopyIn copies a tar stream of many owners into a running container:
// with -a the owners are kept, without it the files are root's; modes and
// the hard link are kept either way.
func checkCopyIn(t *testing.T, u *harness.User, img string) {
	t.Helper()
	ctr := lcName("deb-cpin")
	runDetachedAs(t, u, img, ctr, nil, "sleep", "infinity")
	defer harness.RunAs(t, u, "rm", "-f", ctr) // before the Debian image is removed
	data, hdrs := copyInTar(t)
	harness.RunAsWith(t, u, harness.RunOptions{Stdin: bytes.NewReader(data)}, "cp", "-a", "-", ctr+":/tmp").OK(t)
	harness.RunAsWith(t, u, harness.RunOptions{Stdin: bytes.NewReader(data)}, "cp", "-", ctr+":/var/tmp").OK(t)
	r := harness.RunAs(t, u, "exec", ctr, "sh", "-c", "echo ===; find /tmp/many /var/tmp/many -exec stat -c '%u %g %a %f %i %n' {} +; echo ===").OK(t)
	got := parseTree(t, r.Cmdline(), r.Stdout)
	for _, c := range []struct {
		dir   string
		owner func(int, int) (int, int)
	}{{"/tmp", nil}, {"/var/tmp", func(int, int) (int, int) { return 0, 0 }}} {
		var moved []*tar.Header
		for _, h := range hdrs {
			h2 := *h
			h2.Name = c.dir + h.Name
			if h.Typeflag == tar.TypeLink {
				h2.Linkname = c.dir + h.Linkname
			}
			moved = append(moved, &h2)
		}
		sub := &fileTree{files: map[string]fileStat{}, mounts: map[string]bool{}}
		for p, fs := range got.files {
			if strings.HasPrefix(p, c.dir+"/many") {
				sub.files[p] = fs
			}
		}
		args := "cp -a -"
		if c.owner != nil {
			args = "cp -"
		}
		compareTrees(t, fmt.Sprintf("%s %s:%s: the container's files against the tar", args, ctr, c.dir), sub, layersTree(t, [][]*tar.Header{moved}), c.owner)
	}
}

// TestDebianApt installs a package with apt-get from Debian's mirror,
// through skiff's default networking, in a container and in a build whose
// image then runs the installed program.
func TestDebianApt(t *testing.T) {
	parallel(t)
	forDebianUsers(t, func(t *testing.T, u *harness.User, img string) {
		if !u.IsRoot() {
			harness.Requires(t, "slirp4netns")
		}
		harness.RunAs(t, u, "run", "--rm", img, "sh", "-c", "command -v hello || echo none").OK(t).StdoutIs(t, "none\n")
		r := harness.RunAsWith(t, u, debianTimeout, "run", "--rm", "-e", "DEBIAN_FRONTEND=noninteractive", img, "sh", "-c",
			"apt-get update -qq && apt-get install -y -qq --no-install-recommends hello >/dev/null && hello").OK(t)
		if !strings.HasSuffix(r.Stdout, "Hello, world!\n") {
			t.Errorf("%s: want the installed hello's greeting last\n%s", r.Cmdline(), r.Output())
		}

		dir := harness.UserDir(t, u)
		dockerfile := fmt.Sprintf("FROM %s\nRUN apt-get update && apt-get install -y --no-install-recommends hello && rm -rf /var/lib/apt/lists/*\nCMD [\"hello\"]\n", img)
		harness.WriteUserFile(t, u, filepath.Join(dir, "Dockerfile"), []byte(dockerfile))
		tag := "deb-hello-" + harness.UniqueSuffix()
		harness.RunAsWith(t, u, debianTimeout, "build", "-q", "-t", tag, dir).OK(t)
		t.Cleanup(func() { harness.RunAs(t, u, "rmi", "-f", tag) })
		harness.RunAs(t, u, "run", "--rm", tag).OK(t).StdoutIs(t, "Hello, world!\n")
	})
}

// debianUsersScript switches users as root does (su, setpriv), adds users,
// and runs setuid su, setgid chage and ping (a file capability) as a user
// other than root.
const debianUsersScript = `set -e
su -s /bin/sh nobody -c id
setpriv --reuid 1000 --regid 1000 --clear-groups id
useradd -m -u 1500 -s /bin/sh carol
useradd -m -u 1600 -s /bin/sh dave
passwd -d dave >/dev/null
su carol -c 'touch /home/carol/by-carol; id'
stat -c '%u %g %U %G %a %n' /home/carol /home/carol/by-carol
su carol -c 'su -s /bin/sh dave -c id'
su carol -c 'chage -l carol' | head -1 | sed 's/[[:space:]]*:.*//'
setpriv --reuid 1500 --regid 1500 --clear-groups ping -c1 -W10 127.0.0.1 | grep -o '1 packets transmitted, 1 received'
getcap /usr/bin/ping
`

// debianUsersOutput is what debianUsersScript prints.
const debianUsersOutput = `uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)
uid=1000 gid=1000 groups=1000
uid=1500(carol) gid=1500(carol) groups=1500(carol)
1500 1500 carol carol 755 /home/carol
1500 1500 carol carol 644 /home/carol/by-carol
uid=1600(dave) gid=1600(dave) groups=1600(dave)
Last password change
1 packets transmitted, 1 received
/usr/bin/ping cap_net_raw=ep
`

// TestDebianUsers switches users inside a container and runs setuid,
// setgid and file-capability programs as a user other than root, as in
// Docker (rootless too); the new user's files belong, on the host, to the
// subordinate uid that is theirs inside.
func TestDebianUsers(t *testing.T) {
	parallel(t)
	forDebianUsers(t, func(t *testing.T, u *harness.User, img string) {
		name := lcName("deb-users")
		rmOnCleanup(t, u, name)
		harness.RunAs(t, u, "run", "--name", name, img, "sh", "-c", debianUsersScript).OK(t).StdoutIs(t, debianUsersOutput)
		// Docker's -u: ping as uid 1000, which the image does not name.
		r := harness.RunAs(t, u, "run", "--rm", "-u", "1000:1000", img, "sh", "-c", "id -u; ping -c1 -W10 127.0.0.1").OK(t)
		if !strings.HasPrefix(r.Stdout, "1000\n") || !strings.Contains(r.Stdout, "1 packets transmitted, 1 received") {
			t.Errorf("%s: want uid 1000 and one ping answered\n%s", r.Cmdline(), r.Output())
		}
		if u.IsRoot() {
			return
		}
		paths := findInStore(u.DataDir(), "/home/carol/by-carol")
		if len(paths) == 0 {
			t.Fatalf("no home/carol/by-carol under %s", u.DataDir())
		}
		for _, p := range paths {
			var st syscall.Stat_t
			must(t, syscall.Lstat(p, &st))
			if int(st.Uid) != u.SubUID.Start+1499 || int(st.Gid) != u.SubGID.Start+1499 {
				t.Errorf("%s (1500:1500 inside) is owned by %d:%d on the host, want %d:%d", p, st.Uid, st.Gid, u.SubUID.Start+1499, u.SubGID.Start+1499)
			}
		}
	})
}

// debianOneUIDScript tries, in a container of a user without subordinate
// ids, what needs other ids than root's.
const debianOneUIDScript = `su -s /bin/sh nobody -c id 2>&1; echo "su $?"
setpriv --reuid 1000 --regid 1000 --clear-groups id 2>&1; echo "setpriv $?"
chown 5:5 /tmp 2>&1; echo "chown $?"
apt-get update >/dev/null 2>&1; echo "apt-get $?"
ping -c1 -W10 127.0.0.1 >/dev/null; echo "ping $?"
`

// debianOneUIDOutput is what debianOneUIDScript prints: the kernel
// refuses ids outside the namespace (apt-get drops to its _apt user).
const debianOneUIDOutput = `su: cannot set groups: Operation not permitted
su 1
setpriv: setresuid failed: Invalid argument
setpriv 127
chown: changing ownership of '/tmp': Invalid argument
chown 1
apt-get 100
ping 0
`

// TestDebianNoSubordinateIDs: without subordinate ids the user's
// namespace has one uid (Docker rootless refuses to run at all; skiff
// runs, as Podman with ignore_chown_errors does). Pulling the image works,
// with the warning every command gives; files of other owners belong to
// root inside and every mode, setuid bit, hard link and file capability is
// kept; whatever needs another uid or gid fails as the kernel says.
func TestDebianNoSubordinateIDs(t *testing.T) {
	parallel(t)
	u := harness.NoSub
	needRootless(t, u)
	d := harness.Debian(t)
	r := harness.RunAsWith(t, u, debianTimeout, "pull", d.Ref()).OK(t)
	if !strings.Contains(r.Stderr, "/etc/subuid") || !strings.Contains(r.Stderr, "will belong to root") {
		t.Errorf("%s: want the warning that files of other owners belong to root\n%s", r.Cmdline(), r.Output())
	}
	root := func(int, int) (int, int) { return 0, 0 }
	name := lcName("deb-oneuid")
	rmOnCleanup(t, u, name)
	r = harness.RunAsWith(t, u, debianTimeout, "run", "--name", name, d.Ref(), "sh", "-c", treeScript).OK(t)
	tree := parseTree(t, r.Cmdline(), r.Stdout)
	compareTrees(t, "pull with one uid: the files in a container against the image's layers, owners root", tree, layersTree(t, d.Layers), root)
	harness.RunAs(t, u, "run", "--rm", d.Ref(), "sh", "-c", debianOneUIDScript).OK(t).StdoutIs(t, debianOneUIDOutput)

	// save gives the pulled layers back as they came (the store keeps
	// their tar headers); export writes the files as they are here.
	dir := harness.UserDir(t, u)
	saved, exported := filepath.Join(dir, "saved.tar"), filepath.Join(dir, "export.tar")
	harness.RunAsWith(t, u, debianTimeout, "save", "-o", saved, d.Ref()).OK(t)
	compareTrees(t, "save with one uid: the layers in the archive against the pushed ones", savedTree(t, saved, d.Ref()), layersTree(t, d.Layers), nil)
	harness.RunAsWith(t, u, debianTimeout, "export", "-o", exported, name).OK(t)
	f, err := os.Open(exported)
	must(t, err)
	defer f.Close()
	compareTrees(t, "export with one uid: its tar against the container", tarTree(t, exported, f), tree, nil)
}
