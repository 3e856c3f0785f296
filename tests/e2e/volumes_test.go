package e2e

// Volumes: `volume create|ls|inspect|rm|prune`, named and anonymous volumes in
// `run` (-v, --mount, the image's VOLUME, --volumes-from, :ro, :U, nocopy,
// the copy-up of the image's content), `rm -v`, `run --rm`, and the volume
// lines of `system df` and `system prune --volumes`. Docker's CLI is the
// contract; failed commands exit 1 (errExit).
//
// Every test names its volumes and containers uniquely (volName, lcName) and
// removes them when it ends. The prune tests are not parallel: a prune sees
// every volume of the user, so they run before the parallel tests start.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/skiff-project/skiff/tests/harness"
)

// volName returns a volume name unique to this run: vol-<what>-<hex>.
func volName(what string) string { return "vol-" + what + "-" + harness.UniqueSuffix() }

var volHex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// volRmOnCleanup removes the volumes (volume rm -f) when the test ends.
// Cleanups run last-registered first: register it before the containers
// that use the volumes (or use volAnonOnCleanup).
func volRmOnCleanup(t *testing.T, names ...string) {
	t.Helper()
	t.Cleanup(func() {
		args := append([]string{"volume", "rm", "-f"}, names...)
		r := harness.RunAsWith(t, harness.E2E, harness.RunOptions{Timeout: 30 * time.Second}, args...)
		if r.ExitCode != 0 {
			t.Logf("cleanup: %s\n%s", r.Cmdline(), r.Output())
		}
	})
}

// volAnonOnCleanup removes the container ctr (rm -f -v) and then its
// anonymous volume anon when the test ends: registered after the container's
// own cleanup, it runs before it.
func volAnonOnCleanup(t *testing.T, ctr, anon string) {
	t.Helper()
	t.Cleanup(func() {
		for _, args := range [][]string{{"rm", "-f", "-v", ctr}, {"volume", "rm", "-f", anon}} {
			r := harness.RunAsWith(t, harness.E2E, harness.RunOptions{Timeout: 30 * time.Second}, args...)
			if r.ExitCode != 0 && !strings.Contains(strings.ToLower(r.Stderr), "no such") {
				t.Logf("cleanup: %s\n%s", r.Cmdline(), r.Output())
			}
		}
	})
}

// volCreate runs `volume create ARGS... NAME`, checks it printed the name and
// registers its removal.
func volCreate(t *testing.T, name string, args ...string) {
	t.Helper()
	volRmOnCleanup(t, name)
	a := append(append([]string{"volume", "create"}, args...), name)
	skiff(t, a...).OK(t).StdoutIs(t, name+"\n")
}

// volJSON is Docker's `volume inspect` object.
type volJSON struct {
	Name       string
	Driver     string
	Mountpoint string
	Labels     map[string]string
	Options    map[string]string
	Scope      string
	CreatedAt  string
}

// volInspect runs `volume inspect NAME...` and decodes the array.
func volInspect(t testing.TB, names ...string) []volJSON {
	t.Helper()
	r := skiff(t, append([]string{"volume", "inspect"}, names...)...).OK(t)
	var out []volJSON
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
		t.Fatalf("%s: output is not a JSON array: %v\n%s", r.Cmdline(), err, r.Output())
	}
	if len(out) != len(names) {
		t.Fatalf("%s: want %d elements, got %d\n%s", r.Cmdline(), len(names), len(out), r.Output())
	}
	return out
}

// volMountpoint is where skiff keeps the data of a volume of the e2e user.
func volMountpoint(name string) string {
	return filepath.Join(harness.E2E.DataDir(), "volumes", name, "_data")
}

// volNames lists `volume ls -q` with extra arguments.
func volNames(t testing.TB, args ...string) []string {
	t.Helper()
	return skiff(t, append([]string{"volume", "ls", "-q"}, args...)...).OK(t).Lines()
}

// volExists reports whether `volume inspect NAME` succeeds.
func volExists(t testing.TB, name string) bool {
	t.Helper()
	return skiff(t, "volume", "inspect", name).ExitCode == 0
}

// volMount is one element of a container's inspect Mounts.
type volMount struct {
	Type        string
	Name        string
	Source      string
	Destination string
	Driver      string
	Mode        string
	RW          bool
}

// volMounts decodes the container's inspect Mounts.
func volMounts(t testing.TB, name string) []volMount {
	t.Helper()
	var out []volMount
	for _, raw := range inspectC(t, name).Mounts {
		var m volMount
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("inspect %s: bad Mounts element %s: %v", name, raw, err)
		}
		out = append(out, m)
	}
	return out
}

// volMountAt returns the mount at dest, failing the test when there is none.
func volMountAt(t testing.TB, ctr, dest string) volMount {
	t.Helper()
	ms := volMounts(t, ctr)
	for _, m := range ms {
		if m.Destination == dest {
			return m
		}
	}
	t.Fatalf("inspect %s: no mount at %s in %+v", ctr, dest, ms)
	return volMount{}
}

// volAnonAt checks that ctr has an anonymous volume at dest (Type volume, a
// 64-hex Name, Source its mountpoint, listed by `volume ls`) and returns its name.
func volAnonAt(t testing.TB, ctr, dest string) string {
	t.Helper()
	m := volMountAt(t, ctr, dest)
	if m.Type != "volume" || !volHex64.MatchString(m.Name) {
		t.Fatalf("inspect %s: mount at %s is %+v, want Type volume with a 64-hex Name", ctr, dest, m)
	}
	if m.Source != volMountpoint(m.Name) {
		t.Errorf("inspect %s: anonymous volume Source %q, want %q", ctr, m.Source, volMountpoint(m.Name))
	}
	if !contains(volNames(t, "--filter", "name="+m.Name), m.Name) {
		t.Errorf("volume ls does not list the anonymous volume %s of %s", m.Name, ctr)
	}
	return m.Name
}

func TestVolumeCreateInspect(t *testing.T) {
	parallel(t)
	name := volName("create")
	// Docker's local driver takes o= only with type= and device=.
	volCreate(t, name, "--label", "app=db", "--label", "tier=back", "--opt", "type=tmpfs", "--opt", "device=tmpfs", "--opt", "o=size=1m")
	v := volInspect(t, name)[0]
	if v.Name != name || v.Driver != "local" || v.Scope != "local" {
		t.Errorf("volume inspect: Name %q Driver %q Scope %q, want %q local local", v.Name, v.Driver, v.Scope, name)
	}
	if v.Mountpoint != volMountpoint(name) {
		t.Errorf("volume inspect: Mountpoint %q, want %q", v.Mountpoint, volMountpoint(name))
	}
	if fi, err := os.Stat(v.Mountpoint); err != nil || !fi.IsDir() {
		t.Errorf("the volume's Mountpoint is not a directory on the host: %v", err)
	}
	if v.Labels["app"] != "db" || v.Labels["tier"] != "back" || len(v.Labels) != 2 {
		t.Errorf("volume inspect: Labels %v, want app=db tier=back", v.Labels)
	}
	if v.Options["o"] != "size=1m" || v.Options["type"] != "tmpfs" || v.Options["device"] != "tmpfs" || len(v.Options) != 3 {
		t.Errorf("volume inspect: Options %v, want type=tmpfs device=tmpfs o=size=1m", v.Options)
	}
	ct := parseDockerTime(t, "CreatedAt", v.CreatedAt)
	if d := time.Since(ct); d < -time.Minute || d > 5*time.Minute {
		t.Errorf("volume inspect: CreatedAt %s is not about now", v.CreatedAt)
	}
	// --format, and several names in one call.
	other := volName("create2")
	volCreate(t, other)
	skiff(t, "volume", "inspect", "--format", "{{.Name}} {{.Driver}}", name, other).OK(t).StdoutIs(t, name+" local\n"+other+" local\n")
	// An unknown volume: 1 naming it.
	skiff(t, "volume", "inspect", "vol-missing-"+harness.UniqueSuffix()).ErrorLine(t, errExit, "vol-missing-")

	// Without a name: a 64-hex one.
	r := skiff(t, "volume", "create").OK(t)
	gen := strings.TrimSpace(r.Stdout)
	if !volHex64.MatchString(gen) || r.Stdout != gen+"\n" {
		t.Fatalf("volume create without a name printed %q, want a 64-hex name\n%s", r.Stdout, r.Output())
	}
	volRmOnCleanup(t, gen)
	if got := volInspect(t, gen)[0].Name; got != gen {
		t.Errorf("volume inspect %s: Name %q", gen, got)
	}

	// A duplicate name, and invalid names.
	skiff(t, "volume", "create", name).ErrorLine(t, errExit, name)
	for _, bad := range []string{"bad/name", "bad name", "-dash", "a:b", "..", "../x", "."} {
		r := skiff(t, "volume", "create", bad)
		want := errExit
		if strings.HasPrefix(bad, "-") {
			want = usageExit // flags to Docker's CLI too
		}
		if r.ExitCode != want {
			t.Errorf("%s: want exit %d for an invalid name\n%s", r.Cmdline(), want, r.Output())
			skiff(t, "volume", "rm", "-f", bad)
		}
	}
	// A volume source naming a path out of the volumes directory is no
	// volume name: refused at create, nothing made.
	for _, m := range []string{"type=volume,source=..,target=/x", "type=volume,source=../../etc,target=/x"} {
		skiff(t, "create", "--mount", m, busybox(t), "true").LastErrorLine(t, runExit, "..")
	}
}

func TestVolumeLs(t *testing.T) {
	parallel(t)
	suffix := harness.UniqueSuffix()
	a, b := "vol-lsa-"+suffix, "vol-lsb-"+suffix
	volCreate(t, a, "--label", "ls="+suffix, "--label", "which=a")
	volCreate(t, b, "--label", "which=b")

	// Table: DRIVER and VOLUME NAME.
	tb := parseTable(t, skiff(t, "volume", "ls").OK(t).Stdout)
	if len(tb.header) != 2 || tb.header[0] != "DRIVER" || tb.header[1] != "VOLUME NAME" {
		t.Errorf("volume ls header %q, want DRIVER, VOLUME NAME", tb.header)
	}
	for _, n := range []string{a, b} {
		if row := tb.rowWith("VOLUME NAME", n); row == nil || row["DRIVER"] != "local" {
			t.Errorf("volume ls: no row \"local %s\" in\n%+v", n, tb.rows)
		}
	}

	sorted := func(l []string) []string { sort.Strings(l); return l }
	check := func(want []string, args ...string) {
		t.Helper()
		got := sorted(volNames(t, args...))
		if strings.Join(got, ",") != strings.Join(sorted(want), ",") {
			t.Errorf("volume ls -q %s = %q, want %q", strings.Join(args, " "), got, want)
		}
	}
	check([]string{a, b}, "--filter", "name="+suffix)
	check([]string{a}, "--filter", "name=vol-lsa-"+suffix)
	check([]string{a}, "--filter", "label=ls="+suffix)
	check([]string{a}, "--filter", "name="+suffix, "--filter", "label=which=a")
	check([]string{a, b}, "--filter", "name="+suffix, "--filter", "label=which")
	check(nil, "--filter", "name="+suffix, "--filter", "label=which=c")
	check([]string{a, b}, "--filter", "name="+suffix, "--filter", "driver=local")
	check(nil, "--filter", "name="+suffix, "--filter", "driver=other")

	// dangling: a volume some container (even one never started) uses is not.
	ctr := lcName("vol-ls")
	createContainer(t, ctr, []string{"-v", a + ":/data"}, "true")
	check([]string{b}, "--filter", "name="+suffix, "--filter", "dangling=true")
	check([]string{a}, "--filter", "name="+suffix, "--filter", "dangling=false")

	// --format with a Go template; -q and --format print nothing else.
	got := sorted(skiff(t, "volume", "ls", "--filter", "name="+suffix, "--format", "{{.Name}}").OK(t).Lines())
	if strings.Join(got, ",") != strings.Join(sorted([]string{a, b}), ",") {
		t.Errorf("volume ls --format '{{.Name}}' = %q, want %q", got, []string{a, b})
	}
	skiff(t, "volume", "ls", "--filter", "name="+a, "--format", "{{.Driver}}:{{.Name}}").OK(t).StdoutIs(t, "local:"+a+"\n")
	skiff(t, "volume", "ls", "--filter", "bogus=1").ErrorLine(t, errExit, "filter")
}

func TestVolumeRm(t *testing.T) {
	parallel(t)
	a, b, c := volName("rma"), volName("rmb"), volName("rmc")
	for _, n := range []string{a, b, c} {
		volCreate(t, n)
	}
	// Several at once.
	skiff(t, "volume", "rm", a, b).OK(t)
	if volExists(t, a) || volExists(t, b) {
		t.Errorf("volume rm %s %s left a volume behind", a, b)
	}
	if _, err := os.Stat(filepath.Dir(volMountpoint(a))); !os.IsNotExist(err) {
		t.Errorf("volume rm left %s on the host: %v", filepath.Dir(volMountpoint(a)), err)
	}
	// Unknown: 1 naming it; -f: fine.
	missing := "vol-missing-" + harness.UniqueSuffix()
	skiff(t, "volume", "rm", missing).ErrorLine(t, errExit, missing)
	skiff(t, "volume", "rm", "-f", missing).OK(t)

	// In use by a container that never ran, by a running one, and by a
	// stopped one: 1 naming the container, and the volume stays.
	created := lcName("vol-rm-created")
	createContainer(t, created, []string{"-v", c + ":/data"}, "true")
	skiff(t, "volume", "rm", c).ErrorLine(t, errExit, c, created)
	skiff(t, "rm", created).OK(t)

	running := lcName("vol-rm-running")
	runDetached(t, running, []string{"-v", c + ":/data"}, idleCmd...)
	skiff(t, "volume", "rm", c).ErrorLine(t, errExit, running)
	skiff(t, "volume", "rm", "-f", c).Exit(t, errExit)
	if !volExists(t, c) {
		t.Fatalf("volume rm of a volume in use removed it")
	}
	skiff(t, "rm", "-f", running).OK(t)

	stopped := lcName("vol-rm-stopped")
	rmOnCleanup(t, harness.E2E, stopped)
	skiff(t, "run", "--name", stopped, "--mount", "type=volume,source="+c+",target=/data", busybox(t), "true").OK(t)
	skiff(t, "volume", "rm", c).ErrorLine(t, errExit, stopped)
	skiff(t, "rm", stopped).OK(t)
	skiff(t, "volume", "rm", c).OK(t).StdoutIs(t, c+"\n")
}

func TestVolumeRunPersists(t *testing.T) {
	parallel(t)
	name := volName("persist")
	volRmOnCleanup(t, name)
	if volExists(t, name) {
		t.Fatalf("volume %s exists before use", name)
	}
	first := lcName("vol-persist")
	rmOnCleanup(t, harness.E2E, first)
	skiff(t, "run", "--name", first, "-v", name+":/data", busybox(t), "sh", "-c", "echo kept > /data/f; mkdir /data/d; echo deep > /data/d/g").OK(t)
	// Created on first use: a named local volume.
	v := volInspect(t, name)[0]
	if v.Driver != "local" || v.Mountpoint != volMountpoint(name) {
		t.Errorf("volume created by run: %+v", v)
	}
	m := volMountAt(t, first, "/data")
	if m.Type != "volume" || m.Name != name || m.Source != volMountpoint(name) || !m.RW {
		t.Errorf("inspect Mounts of -v %s:/data: %+v, want Type volume, Name %s, Source %s, RW", name, m, name, volMountpoint(name))
	}
	skiff(t, "rm", first).OK(t)
	// The data outlives the container.
	if out := runOut(t, []string{"-v", name + ":/data"}, "sh", "-c", "cat /data/f /data/d/g"); out != "kept\ndeep\n" {
		t.Errorf("a new container sees %q in the volume, want kept and deep", out)
	}
	// :ro refuses writes and still reads.
	r := skiff(t, "run", "--rm", "-v", name+":/data:ro", busybox(t), "sh", "-c", "cat /data/f; touch /data/new")
	if r.ExitCode == 0 || r.Stdout != "kept\n" || !strings.Contains(r.Stderr, "Read-only file system") {
		t.Errorf("-v %s:/data:ro: want the data readable and the write refused with EROFS\n%s", name, r.Output())
	}
	if _, err := os.Stat(filepath.Join(volMountpoint(name), "new")); err == nil {
		t.Errorf("the refused write created a file in the volume")
	}
}

func TestVolumeCopyUp(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	// A new named volume over /etc is filled with the image's /etc, owners kept.
	fresh := volName("copyup")
	volRmOnCleanup(t, fresh)
	ls := runOut(t, []string{"-v", fresh + ":/etc"}, "ls", "/etc")
	for _, f := range []string{"passwd", "group", "owned-by-1000"} {
		if !contains(strings.Fields(ls), f) {
			t.Errorf("-v %s:/etc (new volume): ls /etc = %q, want the image's %s", fresh, ls, f)
		}
	}
	out := runOut(t, []string{"-v", fresh + ":/x"}, "sh", "-c", "head -1 /x/passwd; stat -c %u:%g /x/owned-by-1000")
	if out != "root:x:0:0:root:/root:/bin/sh\n1000:1000\n" {
		t.Errorf("the volume filled from /etc holds %q, want the image's passwd and owned-by-1000 owned by 1000:1000", out)
	}
	data, err := os.ReadFile(filepath.Join(volMountpoint(fresh), "group"))
	if err != nil || !strings.HasPrefix(string(data), "root:x:0:") {
		t.Errorf("the volume's group file on the host: %q %v", data, err)
	}

	// An existing non-empty volume is not overwritten.
	full := volName("full")
	volRmOnCleanup(t, full)
	runOut(t, []string{"-v", full + ":/data"}, "sh", "-c", "echo mine > /data/mine")
	ls = runOut(t, []string{"-v", full + ":/etc"}, "ls", "/etc")
	if f := strings.Fields(ls); !contains(f, "mine") || contains(f, "passwd") || contains(f, "group") {
		t.Errorf("-v %s:/etc (a volume holding mine): ls /etc = %q, want mine and none of the image's files", full, ls)
	}

	// nocopy skips the fill, with -v and with --mount.
	for _, flags := range [][]string{
		{"-v", "%s:/etc:nocopy"},
		{"--mount", "type=volume,source=%s,target=/etc,volume-nocopy"},
	} {
		nc := volName("nocopy")
		volRmOnCleanup(t, nc)
		arg := strings.Replace(flags[1], "%s", nc, 1)
		r := skiff(t, "run", "--rm", flags[0], arg, bb, "ls", "/etc").OK(t)
		if f := strings.Fields(r.Stdout); contains(f, "passwd") || contains(f, "group") {
			t.Errorf("%s: ls /etc = %q, want no image files", r.Cmdline(), r.Stdout)
		}
		if _, err := os.Stat(filepath.Join(volMountpoint(nc), "passwd")); err == nil {
			t.Errorf("%s: the volume got the image's passwd", r.Cmdline())
		}
	}
}

// volMarkerGone checks that no volume directory of the e2e user holds the
// file marker: the volume that held it was removed.
func volMarkerGone(t testing.TB, what, marker string) {
	t.Helper()
	hits, _ := filepath.Glob(filepath.Join(harness.E2E.DataDir(), "volumes", "*", "_data", marker))
	if len(hits) > 0 {
		t.Errorf("%s: the anonymous volume is still there: %v", what, hits)
	}
}

func TestVolumeAnonymous(t *testing.T) {
	parallel(t)
	named := volName("anon-named")
	volRmOnCleanup(t, named)

	// -v /data: an anonymous volume next to a named one.
	c1 := lcName("vol-anon")
	createContainer(t, c1, []string{"-v", "/data", "-v", named + ":/named"}, "true")
	anon := volAnonAt(t, c1, "/data")
	volAnonOnCleanup(t, c1, anon)
	if m := volMountAt(t, c1, "/named"); m.Type != "volume" || m.Name != named {
		t.Errorf("inspect %s: mount at /named is %+v, want the volume %s", c1, m, named)
	}
	// rm -v removes the anonymous volume, not the named one.
	skiff(t, "rm", "-v", c1).OK(t)
	if volExists(t, anon) {
		t.Errorf("rm -v %s left its anonymous volume %s", c1, anon)
	}
	if !volExists(t, named) {
		t.Errorf("rm -v %s removed the named volume %s", c1, named)
	}
	// Plain rm keeps the anonymous volume.
	c2 := lcName("vol-anon-keep")
	createContainer(t, c2, []string{"-v", "/data"}, "true")
	anon2 := volAnonAt(t, c2, "/data")
	volAnonOnCleanup(t, c2, anon2)
	skiff(t, "rm", c2).OK(t)
	if !volExists(t, anon2) {
		t.Errorf("rm (without -v) %s removed its anonymous volume %s", c2, anon2)
	}

	// --mount type=volume without a source is anonymous too.
	c3 := lcName("vol-anon-mount")
	createContainer(t, c3, []string{"--mount", "type=volume,target=/x"}, "true")
	volAnonOnCleanup(t, c3, volAnonAt(t, c3, "/x"))

	// run --rm removes its anonymous volumes (and keeps named ones).
	marker := "anon-rm-" + harness.UniqueSuffix()
	out := runOut(t, []string{"-v", "/data", "-v", named + ":/named"}, "sh", "-c", "touch /data/"+marker+" /named/"+marker+"-named && echo ok")
	if out != "ok\n" {
		t.Fatalf("run --rm -v /data: %q", out)
	}
	volMarkerGone(t, "run --rm -v /data", marker)
	if _, err := os.Stat(filepath.Join(volMountpoint(named), marker+"-named")); err != nil {
		t.Errorf("run --rm removed or emptied the named volume %s: %v", named, err)
	}

	// The image's VOLUME gets an anonymous volume.
	img := harness.PushConfigured(t, "vol-image", "latest", func(c *v1.Config) {
		c.Volumes = map[string]struct{}{"/vol": {}}
	})
	imgRef := ref(img.Repo)
	skiff(t, "pull", imgRef).OK(t)
	c4 := lcName("vol-image")
	rmOnCleanup(t, harness.E2E, c4)
	skiff(t, "create", "--name", c4, imgRef, "true").OK(t)
	anon4 := volAnonAt(t, c4, "/vol")
	volAnonOnCleanup(t, c4, anon4)
	skiff(t, "rm", "-v", c4).OK(t)
	if volExists(t, anon4) {
		t.Errorf("rm -v of a container of an image with VOLUME /vol left %s", anon4)
	}
	marker = "image-vol-" + harness.UniqueSuffix()
	skiff(t, "run", "--rm", imgRef, "touch", "/vol/"+marker).OK(t)
	volMarkerGone(t, "run --rm of an image with VOLUME /vol", marker)
	// -v NAME on the image's VOLUME path replaces the anonymous one.
	skiff(t, "run", "--rm", "-v", named+":/vol", imgRef, "touch", "/vol/"+marker).OK(t)
	if _, err := os.Stat(filepath.Join(volMountpoint(named), marker)); err != nil {
		t.Errorf("-v %s:/vol on an image VOLUME /vol did not write to the named volume: %v", named, err)
	}
}

func TestVolumeMountFlag(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	name := volName("mount")
	volRmOnCleanup(t, name)
	c := lcName("vol-mount")
	rmOnCleanup(t, harness.E2E, c)
	skiff(t, "run", "--name", c, "--mount", "type=volume,source="+name+",target=/data", bb, "sh", "-c", "echo via-mount > /data/f").OK(t)
	if m := volMountAt(t, c, "/data"); m.Type != "volume" || m.Name != name || !m.RW {
		t.Errorf("inspect Mounts of --mount type=volume,source=%s: %+v", name, m)
	}
	skiff(t, "run", "--rm", "-v", name+":/other", bb, "cat", "/other/f").OK(t).StdoutIs(t, "via-mount\n")
	r := skiff(t, "run", "--rm", "--mount", "type=volume,src="+name+",dst=/data,readonly", bb, "sh", "-c", "cat /data/f; touch /data/g")
	if r.ExitCode == 0 || r.Stdout != "via-mount\n" || !strings.Contains(r.Stderr, "Read-only file system") {
		t.Errorf("--mount ...,readonly: want the data readable and the write refused with EROFS\n%s", r.Output())
	}
}

func TestVolumeVolumesFrom(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	name := volName("from")
	volRmOnCleanup(t, name)
	src := lcName("vol-from-src")
	rmOnCleanup(t, harness.E2E, src)
	skiff(t, "run", "--name", src, "-v", name+":/data", "-v", "/anon", bb, "sh", "-c", "echo from-src > /data/f; echo anon-src > /anon/g").OK(t)
	anon := volAnonAt(t, src, "/anon")
	volAnonOnCleanup(t, src, anon)

	runOut(t, []string{"--volumes-from", src}, "sh", "-c", "cat /data/f /anon/g; echo more > /data/h")
	if out := runOut(t, []string{"--volumes-from", src}, "sh", "-c", "cat /data/f /anon/g /data/h"); out != "from-src\nanon-src\nmore\n" {
		t.Errorf("--volumes-from %s sees %q, want its volumes' data", src, out)
	}
	r := skiff(t, "run", "--rm", "--volumes-from", src+":ro", bb, "sh", "-c", "cat /data/f; touch /data/x")
	if r.ExitCode == 0 || r.Stdout != "from-src\n" || !strings.Contains(r.Stderr, "Read-only file system") {
		t.Errorf("--volumes-from %s:ro: want the data readable and the write refused with EROFS\n%s", src, r.Output())
	}
	skiff(t, "run", "--rm", "--volumes-from", "lc-missing-"+harness.UniqueSuffix(), bb, "true").Exit(t, runExit)

	// A container that got the volume through --volumes-from uses it too.
	dst := lcName("vol-from-dst")
	createContainer(t, dst, []string{"--volumes-from", src}, "true")
	skiff(t, "rm", src).OK(t)
	skiff(t, "volume", "rm", name).ErrorLine(t, errExit, dst)
	if !volExists(t, name) {
		t.Errorf("volume rm removed %s that %s uses through --volumes-from", name, dst)
	}
}

func TestVolumeChownU(t *testing.T) {
	parallel(t)
	u := harness.E2E
	bb := busybox(t)
	home, data := volName("u-home"), volName("u-data")
	volRmOnCleanup(t, home, data)
	skiff(t, "run", "--rm", "-u", "1000", "-v", home+":/home/app:U", bb, "sh", "-c", "touch /home/app/f && stat -c %u /home/app /home/app/f").OK(t).StdoutIs(t, "1000\n1000\n")
	// A path without image content is root's unless :U.
	r := skiff(t, "run", "--rm", "-u", "1000", "-v", data+":/data", bb, "touch", "/data/f")
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "Permission denied") {
		t.Errorf("user 1000 wrote to a new volume owned by root\n%s", r.Output())
	}
	skiff(t, "run", "--rm", "-u", "1000", "-v", data+":/data:U", bb, "sh", "-c", "touch /data/f && stat -c %u /data /data/f").OK(t).StdoutIs(t, "1000\n1000\n")
	// On the host the file belongs to the subordinate uid that is 1000 inside.
	if u.SubUID.Count > 0 {
		fi, err := os.Stat(filepath.Join(volMountpoint(data), "f"))
		must(t, err)
		if got, want := int(fi.Sys().(*syscall.Stat_t).Uid), u.SubUID.Start+999; got != want {
			t.Errorf("the file user 1000 wrote is host uid %d, want %d", got, want)
		}
	}
}

func TestVolumeBindOwner(t *testing.T) {
	parallel(t)
	u := harness.E2E
	dir := harness.UserDir(t, u)
	runOut(t, []string{"-v", dir + ":/out"}, "sh", "-c", "echo x > /out/f; mkdir -p /out/d/e; echo y > /out/d/e/g")
	for _, p := range []string{"f", "d", "d/e", "d/e/g"} {
		fi, err := os.Lstat(filepath.Join(dir, p))
		if err != nil {
			t.Errorf("%s written by the container is missing on the host: %v", p, err)
			continue
		}
		st := fi.Sys().(*syscall.Stat_t)
		if int(st.Uid) != u.UID || int(st.Gid) != u.GID {
			t.Errorf("%s written by container root is %d:%d on the host, want the user's %d:%d", p, st.Uid, st.Gid, u.UID, u.GID)
		}
	}
}

// volDangling creates a container with an anonymous volume at /data,
// removes the container (not the volume) and returns the volume's name.
func volDangling(t *testing.T) string {
	t.Helper()
	c := lcName("vol-dangling")
	createContainer(t, c, []string{"-v", "/data"}, "true")
	anon := volAnonAt(t, c, "/data")
	volAnonOnCleanup(t, c, anon)
	skiff(t, "rm", c).OK(t)
	return anon
}

// volRunningWith runs an idle container using a named volume and an
// anonymous one, and returns the anonymous volume's name.
func volRunningWith(t *testing.T, named string) string {
	t.Helper()
	c := lcName("vol-user")
	runDetached(t, c, []string{"-v", named + ":/named", "-v", "/data"}, idleCmd...)
	anon := volAnonAt(t, c, "/data")
	volAnonOnCleanup(t, c, anon)
	return anon
}

// TestVolumePrune is not parallel: prune sees every volume of the user.
func TestVolumePrune(t *testing.T) {
	harness.Need(t)
	unusedNamed, usedNamed := volName("prune-unused"), volName("prune-used")
	volCreate(t, unusedNamed)
	volCreate(t, usedNamed)
	dangling := volDangling(t)
	usedAnon := volRunningWith(t, usedNamed)

	r := skiff(t, "volume", "prune", "-f").OK(t)
	if !contains(r.Lines(), dangling) || !strings.Contains(r.Stdout, "Deleted Volumes:") || !strings.Contains(r.Stdout, "Total reclaimed space:") {
		t.Errorf("%s: want Deleted Volumes: with %s and the reclaimed space\n%s", r.Cmdline(), dangling, r.Output())
	}
	for n, want := range map[string]bool{dangling: false, unusedNamed: true, usedNamed: true, usedAnon: true} {
		if volExists(t, n) != want {
			t.Errorf("after volume prune -f: volume %s exists = %v, want %v", n, !want, want)
		}
	}
	r = skiff(t, "volume", "prune", "-f", "-a").OK(t)
	if !contains(r.Lines(), unusedNamed) {
		t.Errorf("%s: want %s deleted\n%s", r.Cmdline(), unusedNamed, r.Output())
	}
	for n, want := range map[string]bool{unusedNamed: false, usedNamed: true, usedAnon: true} {
		if volExists(t, n) != want {
			t.Errorf("after volume prune -f -a: volume %s exists = %v, want %v", n, !want, want)
		}
	}
}

// TestVolumeSystemDfPrune is not parallel: system prune removes every
// stopped container and unused anonymous volume of the user.
func TestVolumeSystemDfPrune(t *testing.T) {
	harness.Need(t)
	named := volName("sys")
	volCreate(t, named)
	dangling := volDangling(t)
	usedAnon := volRunningWith(t, named)

	all := volNames(t)
	active := volNames(t, "--filter", "dangling=false")
	r := skiff(t, "system", "df").OK(t)
	tb := parseTable(t, r.Stdout)
	row := tb.rowWith("TYPE", "Local Volumes")
	if row == nil {
		t.Fatalf("%s: no Local Volumes line\n%s", r.Cmdline(), r.Output())
	}
	if row["TOTAL"] != strconv.Itoa(len(all)) || row["ACTIVE"] != strconv.Itoa(len(active)) {
		t.Errorf("%s: Local Volumes TOTAL %q ACTIVE %q, want %d and %d (volume ls: %d, in use: %d)\n%s",
			r.Cmdline(), row["TOTAL"], row["ACTIVE"], len(all), len(active), len(all), len(active), r.Stdout)
	}

	// Without --volumes the volumes stay.
	skiff(t, "system", "prune", "-f").OK(t)
	if !volExists(t, dangling) {
		t.Errorf("system prune -f (without --volumes) removed the anonymous volume %s", dangling)
	}
	r = skiff(t, "system", "prune", "-f", "--volumes").OK(t)
	if !contains(r.Lines(), dangling) {
		t.Errorf("%s: does not list %s as deleted\n%s", r.Cmdline(), dangling, r.Output())
	}
	for n, want := range map[string]bool{dangling: false, named: true, usedAnon: true} {
		if volExists(t, n) != want {
			t.Errorf("after system prune -f --volumes: volume %s exists = %v, want %v", n, !want, want)
		}
	}
	left := volNames(t)
	r = skiff(t, "system", "df").OK(t)
	if row := parseTable(t, r.Stdout).rowWith("TYPE", "Local Volumes"); row == nil || row["TOTAL"] != strconv.Itoa(len(left)) {
		t.Errorf("%s: want Local Volumes TOTAL %d after the prune (volume ls: %q)\n%s", r.Cmdline(), len(left), left, r.Stdout)
	}
}
