package harness

// The Debian test image: a real distribution's root file system, with
// users, setuid binaries, file capabilities and hard links, which the
// busybox images do not have. debootstrap builds it from Debian's mirror
// once per host and the result is kept in a cache directory; each test
// binary that asks for it pushes it to its registry.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The debootstrap recipe. Changing any of it changes the cache key, so the
// next run builds a new root file system.
const (
	DebianSuite  = "bookworm"
	debianMirror = "http://deb.debian.org/debian"
	// debianRecipe names the steps below (variant, clean-up, tar options):
	// bump it when they change.
	debianRecipe = "minbase-1"
)

// debianInclude are the packages added to minbase for the tests: ping
// (iputils-ping, with a file capability), getcap/setcap, su and login,
// useradd and passwd, setpriv (util-linux).
var debianInclude = []string{"iputils-ping", "libcap2-bin", "login", "passwd", "util-linux"}

// DebianRepo and DebianTag name the image in the registry: Registry/debian:bookworm.
const (
	DebianRepo = "debian"
	DebianTag  = DebianSuite
)

// DebianOwners is how many files of the image's second layer, in
// /srv/owners, belong to uids 1, 2, ... (u0001, u0002, ...).
const DebianOwners = 2000

// DebianCacheDir is where the debootstrap result is kept between runs
// (SKIFF_TEST_CACHE, default /var/cache/skiff-tests).
func DebianCacheDir() string {
	if d := os.Getenv("SKIFF_TEST_CACHE"); d != "" {
		return d
	}
	return "/var/cache/skiff-tests"
}

// DebianImage is the pushed Debian image with the tar headers of its
// layers, bottom first, so tests can say what each file must look like.
type DebianImage struct {
	*Image
	// Layers holds each layer's entries in tar order; names are
	// absolute and clean ("/usr/bin/su"), a hard link's Linkname too.
	Layers [][]*tar.Header
}

var (
	debianOnce sync.Once
	debianImg  *DebianImage
	debianErr  error
)

// Debian builds (or takes from the cache) and pushes the Debian image once
// per test binary, and returns it; every caller fails alike if that failed.
func Debian(t testing.TB) *DebianImage {
	t.Helper()
	skipIfUnavailable(t)
	debianOnce.Do(func() { debianImg, debianErr = pushDebian() })
	if debianErr != nil {
		t.Fatalf("the Debian test image: %v", debianErr)
	}
	return debianImg
}

// Ref is Registry/debian:bookworm.
func (d *DebianImage) Ref() string { return Registry + "/" + DebianRepo + ":" + DebianTag }

func pushDebian() (*DebianImage, error) {
	start := time.Now()
	base, built, err := debianRootfs()
	if err != nil {
		return nil, err
	}
	if built {
		fmt.Fprintf(os.Stderr, "e2e: debootstrap built %s in %s\n", base, time.Since(start).Round(time.Second))
	}
	baseHeaders, err := gzipTarHeaders(base)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w (delete it to rebuild)", base, err)
	}
	extra, err := debianExtraLayer()
	if err != nil {
		return nil, err
	}
	extraHeaders, err := TarHeaders(bytes.NewReader(extra))
	if err != nil {
		return nil, err
	}
	img, err := debianImage(base, extra)
	if err != nil {
		return nil, err
	}
	pi, err := pushImage(DebianRepo, DebianTag, img)
	if err != nil {
		return nil, err
	}
	return &DebianImage{Image: pi, Layers: [][]*tar.Header{baseHeaders, extraHeaders}}, nil
}

// debianImage is the image: the debootstrap root file system as one layer
// and the extra files as a second.
func debianImage(base string, extra []byte) (v1.Image, error) {
	baseLayer, err := tarball.LayerFromFile(base)
	if err != nil {
		return nil, err
	}
	extraLayer, err := layerFromBytes(extra, types.DockerLayer)
	if err != nil {
		return nil, err
	}
	cf := &v1.ConfigFile{
		Architecture: runtime.GOARCH,
		OS:           "linux",
		Created:      v1.Time{Time: fixedTime},
		Config:       v1.Config{Cmd: []string{"bash"}, Env: []string{DefaultPath}},
		RootFS:       v1.RootFS{Type: "layers"},
	}
	img, err := mutate.ConfigFile(empty.Image, cf)
	if err != nil {
		return nil, err
	}
	return mutate.Append(img,
		mutate.Addendum{Layer: baseLayer, History: v1.History{Created: v1.Time{Time: fixedTime}, CreatedBy: "debootstrap --variant=minbase --include=" + strings.Join(debianInclude, ",") + " " + DebianSuite}},
		mutate.Addendum{Layer: extraLayer, History: v1.History{Created: v1.Time{Time: fixedTime}, CreatedBy: "skiff e2e harness: files of many owners, hard links, a file capability"}},
	)
}

// debianCacheKey names the cached root file system after everything that
// shapes it.
func debianCacheKey() string {
	pkgs := append([]string(nil), debianInclude...)
	sort.Strings(pkgs)
	h := sha256.Sum256([]byte(strings.Join([]string{DebianSuite, debianMirror, debianRecipe, strings.Join(pkgs, ",")}, "\n")))
	return fmt.Sprintf("debian-%s-%s.tar.gz", DebianSuite, hex.EncodeToString(h[:])[:16])
}

// debianRootfs returns the cached root file system tarball, building it
// with debootstrap when it is missing; built says whether it did.
func debianRootfs() (file string, built bool, err error) {
	dir := DebianCacheDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", false, err
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", false, err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", false, err
	}
	file = filepath.Join(dir, debianCacheKey())
	if _, err := os.Stat(file); err == nil {
		return file, false, nil
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		if _, err := os.Stat("/usr/sbin/debootstrap"); err != nil {
			return "", false, fmt.Errorf("%s is missing and debootstrap is not installed: install the Debian package debootstrap (./install.sh --deps-only)", file)
		}
	}
	work, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", false, err
	}
	defer removeBuildDir(work)
	rootfs := filepath.Join(work, "rootfs")
	if err := debootstrap(rootfs, filepath.Join(work, "debootstrap.log")); err != nil {
		return "", false, err
	}
	if err := trimRootfs(rootfs); err != nil {
		return "", false, err
	}
	tmp := filepath.Join(work, "rootfs.tar.gz")
	// GNU tar keeps security.capability (ping's) as a PAX record, as
	// image layers carry it; atime and ctime stay out, as in Docker's.
	cmd := exec.Command("tar", "--numeric-owner", "--xattrs", "--xattrs-include=security.capability",
		"--pax-option=delete=atime,delete=ctime", "--sort=name", "-C", rootfs, "-czf", tmp, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", false, fmt.Errorf("tar of %s: %v: %s", rootfs, err, out)
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return "", false, err
	}
	return file, true, os.Rename(tmp, file)
}

// debootstrap installs Debian minbase into rootfs, its output in logFile.
func debootstrap(rootfs, logFile string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	log, err := os.Create(logFile)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.CommandContext(ctx, "debootstrap", "--variant=minbase", "--include="+strings.Join(debianInclude, ","),
		DebianSuite, rootfs, debianMirror)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		tail, _ := os.ReadFile(logFile)
		if len(tail) > 2000 {
			tail = tail[len(tail)-2000:]
		}
		return fmt.Errorf("debootstrap %s from %s: %v (is %s reachable?); end of its log:\n%s", DebianSuite, debianMirror, err, debianMirror, tail)
	}
	return nil
}

// trimRootfs clears what Debian's own images leave out: downloaded
// packages, package lists (apt-get update fetches them) and device nodes.
func trimRootfs(rootfs string) error {
	for _, pattern := range []string{"var/cache/apt/archives/*.deb", "var/cache/apt/*.bin", "var/lib/apt/lists/*", "dev/*"} {
		matches, err := filepath.Glob(filepath.Join(rootfs, pattern))
		if err != nil {
			return err
		}
		for _, m := range matches {
			if filepath.Base(m) == "partial" {
				continue
			}
			if err := os.RemoveAll(m); err != nil {
				return err
			}
		}
	}
	return nil
}

// removeBuildDir deletes a debootstrap work directory, first unmounting
// what a failed debootstrap may have left mounted in it (proc, sys), so
// nothing outside it is touched.
func removeBuildDir(dir string) {
	data, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return
	}
	var under []string
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) > 1 && strings.HasPrefix(f[1], dir+"/") {
			under = append(under, f[1])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(under)))
	for _, m := range under {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: unmounting %s: %v; leaving %s\n", m, err, dir)
			return
		}
	}
	_ = os.RemoveAll(dir)
}

// debianExtraLayer is the second layer: files owned by uids 1..2000 with
// varied modes (setuid, setgid and sticky among them), directories of
// other owners, files in /var/mail and /var/log of their groups, a file
// with two hard links, and a file with a file capability.
func debianExtraLayer() ([]byte, error) {
	// Parent directories come first with the attributes they have in the
	// first layer, as in any real layer (one left out would be made 0755
	// root's in this layer and hide the first layer's).
	entries := []tarEntry{
		dir("srv", 0o755, 0, 0), dir("var", 0o755, 0, 0), dir("var/log", 0o755, 0, 0), dir("var/mail", 0o2775, 0, 8),
		dir("srv/owners", 0o755, 0, 0),
	}
	for i := 1; i <= DebianOwners; i++ {
		mode := int64(0o400 | i%0o400)
		if i%7 == 0 {
			mode |= 0o4000
		}
		if i%11 == 0 {
			mode |= 0o2000
		}
		if i%13 == 0 {
			mode |= 0o1000
		}
		entries = append(entries, file(fmt.Sprintf("srv/owners/u%04d", i), mode, i, (i*7)%DebianOwners+1, fmt.Sprintf("%d\n", i)))
	}
	entries = append(entries,
		dir("srv/dirs", 0o755, 0, 0),
		dir("srv/dirs/shared", 0o2770, 1000, 100),
		dir("srv/dirs/private", 0o700, 1999, 1999),
		dir("srv/dirs/sticky", 0o1777, 0, 0),
		file("srv/dirs/private/secret", 0o600, 1999, 1999, "secret\n"),
		file("srv/suid-root", 0o4755, 0, 0, "#!/bin/sh\nid\n"),
		file("srv/sgid-mail", 0o2755, 0, 8, "#!/bin/sh\nid\n"),
		file("var/mail/app", 0o660, 1000, 8, ""),
		file("var/log/app.log", 0o640, 1000, 4, "log\n"),
		dir("srv/links", 0o755, 0, 0),
		file("srv/links/data", 0o640, 1000, 1000, "linked\n"),
		// A hard link's header carries its file's owner and mode, as tar
		// writes it: extractors apply them to the file.
		tarEntry{name: "srv/links/data.1", typ: tar.TypeLink, mode: 0o640, uid: 1000, gid: 1000, link: "srv/links/data"},
		tarEntry{name: "srv/links/data.2", typ: tar.TypeLink, mode: 0o640, uid: 1000, gid: 1000, link: "srv/links/data"},
		dir("srv/caps", 0o755, 0, 0),
		// A script, not a program: only the capability's survival matters.
		tarEntry{name: "srv/caps/netraw", typ: tar.TypeReg, mode: 0o755, body: []byte("#!/bin/sh\necho netraw\n"),
			pax: map[string]string{"SCHILY.xattr.security.capability": NetRawCapability}},
	)
	return writeTar(entries)
}

// NetRawCapability is security.capability for cap_net_raw=ep as setcap
// writes it outside a user namespace and Debian's ping carries it
// (VFS_CAP_REVISION_2, effective bit, permitted bit 13): a layer must carry
// revision 2, never revision 3, whose root uid ties it to one namespace.
const NetRawCapability = "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"

// gzipTarHeaders reads the headers of a gzip-compressed tar file.
func gzipTarHeaders(file string) ([]*tar.Header, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	return TarHeaders(zr)
}

// TarHeaders lists a tar stream's headers with clean absolute names
// ("/usr/bin/su"; a hard link's Linkname too), in order.
func TarHeaders(r io.Reader) ([]*tar.Header, error) {
	var out []*tar.Header
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		h.Name = path.Clean("/" + h.Name)
		if h.Typeflag == tar.TypeLink {
			h.Linkname = path.Clean("/" + h.Linkname)
		}
		out = append(out, h)
	}
}
