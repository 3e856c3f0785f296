package e2e

// Docker's smaller commands and flags: checkpoint (refused), the prune
// filters, builder prune --keep-storage, logs --details, network rm -f,
// system events, system df --format, rmi --no-prune, --platform on the
// image commands, images --tree, rm --link, container cp.

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// importImage makes an image from the busybox root file system with
// import's extra arguments (--change, a name) and returns its ID.
func importImage(t *testing.T, args ...string) string {
	t.Helper()
	tarball, err := harness.RootfsTar()
	must(t, err)
	a := append(append([]string{"import"}, args[:len(args)-1]...), "-")
	if name := args[len(args)-1]; name != "" {
		a = append(a, name)
	}
	id := strings.TrimSpace(skiffWith(t, harness.RunOptions{Stdin: bytes.NewReader(tarball)}, a...).OK(t).Stdout)
	t.Cleanup(func() { harness.RunAs(t, harness.E2E, "rmi", "-f", id) })
	return id
}

func imageExists(t *testing.T, ref string) bool {
	t.Helper()
	return skiff(t, "image", "inspect", ref).ExitCode == 0
}

func TestCheckpointRefused(t *testing.T) {
	parallel(t)
	name := lcName("checkpoint")
	createContainer(t, name, nil, "true")
	for _, args := range [][]string{
		{"checkpoint", "create", name, "cp1"},
		{"checkpoint", "create", "--leave-running", "--checkpoint-dir", "/tmp", name, "cp1"},
		{"checkpoint", "ls", name},
		{"checkpoint", "rm", name, "cp1"},
		{"start", "--checkpoint", "cp1", name},
		{"start", "--checkpoint-dir", "/tmp", name},
	} {
		skiff(t, args...).ErrorLine(t, errExit, "CRIU")
	}
	if s := stateOf(t, harness.E2E, name); s != "created" {
		t.Errorf("after the refused start --checkpoint the container is %s, want created", s)
	}
}

func TestRmLinkRefused(t *testing.T) {
	parallel(t)
	name := lcName("rmlink")
	createContainer(t, name, nil, "true")
	skiff(t, "rm", "--link", name).ErrorLine(t, errExit, "link", "network")
	skiff(t, "container", "rm", "-l", name).ErrorLine(t, errExit, "link")
	if s := stateOf(t, harness.E2E, name); s != "created" {
		t.Errorf("after rm --link the container is %q, want it left alone", s)
	}
}

func TestContainerCpAlias(t *testing.T) {
	parallel(t)
	name := lcName("container-cp")
	createContainer(t, name, nil, "true")
	out := harness.UserDir(t, harness.E2E)
	skiff(t, "container", "cp", name+":/etc/passwd", out+"/passwd").OK(t)
	if data, err := os.ReadFile(filepath.Join(out, "passwd")); err != nil || !strings.HasPrefix(string(data), "root:") {
		t.Errorf("container cp of /etc/passwd: %q, %v", data, err)
	}
}

func TestNetworkRmForce(t *testing.T) {
	parallel(t)
	missing := "nosuchnet-" + harness.UniqueSuffix()
	skiff(t, "network", "rm", missing).ErrorLine(t, errExit, missing)
	// -f: a missing network is no error, and nothing is said of it.
	skiff(t, "network", "rm", "-f", missing).OK(t).StdoutIs(t, "")
	nw := "rmf-" + harness.UniqueSuffix()
	skiff(t, "network", "create", nw).OK(t)
	skiff(t, "network", "rm", "--force", missing, nw).OK(t).StdoutIs(t, nw+"\n")
	skiff(t, "network", "inspect", nw).ErrorLine(t, errExit, nw)
}

func TestSystemEventsAlias(t *testing.T) {
	parallel(t)
	name := lcName("sysevents")
	createContainer(t, name, nil, "true")
	args := []string{"--since", "5m", "--until", "0s", "--filter", "container=" + name, "--format", "{{.Action}}"}
	sys := skiff(t, append([]string{"system", "events"}, args...)...).OK(t).Stdout
	plain := skiff(t, append([]string{"events"}, args...)...).OK(t).Stdout
	if sys != "create\n" || sys != plain {
		t.Errorf("system events printed %q, events %q; want create from both", sys, plain)
	}
}

func TestSystemDfFormat(t *testing.T) {
	parallel(t)
	busybox(t)
	types := skiff(t, "system", "df", "--format", "{{.Type}}").OK(t).Stdout
	if types != "Images\nContainers\nLocal Volumes\nBuild Cache\n" {
		t.Errorf("system df --format {{.Type}}: %q", types)
	}
	lines := skiff(t, "system", "df", "--format", "json").OK(t).Lines()
	if len(lines) != 4 {
		t.Fatalf("system df --format json: %d lines, want 4", len(lines))
	}
	var row map[string]string
	must(t, json.Unmarshal([]byte(lines[0]), &row))
	for _, k := range []string{"Type", "TotalCount", "Active", "Size", "Reclaimable"} {
		if _, ok := row[k]; !ok {
			t.Errorf("system df --format json: %s has no %s", lines[0], k)
		}
	}
	table := skiff(t, "system", "df", "--format", `table {{.Type}}\t{{.TotalCount}}`).OK(t).Lines()
	if len(table) != 5 || !strings.HasPrefix(table[0], "TYPE") || !strings.Contains(table[0], "TOTAL") {
		t.Errorf("system df --format 'table …': %q", table)
	}
	// -v with a template: one value over all the lists, as Docker's.
	if n := strings.TrimSpace(skiff(t, "system", "df", "-v", "--format", "{{len .Images}}").OK(t).Stdout); n == "" || n == "0" {
		t.Errorf("system df -v --format '{{len .Images}}': %q, want the number of images", n)
	}
	skiff(t, "system", "df", "--format", "{{.Nope").ErrorLine(t, errExit, "format")
}

func TestLogsDetails(t *testing.T) {
	parallel(t)
	name := lcName("details")
	runDetached(t, name, []string{"--label", "app=web", "--label", "tier.x=1", "--label", "other=no", "-e", "MODE=prod", "-e", "SECRET=s",
		"--log-opt", "labels=app", "--log-opt", "labels-regex=^tier", "--log-opt", "env=MODE"}, "sh", "-c", "echo one; echo two; exec sleep 300")
	waitLogs(t, name, "two", 10*time.Second)
	skiff(t, "logs", "--details", name).OK(t).StdoutIs(t, "MODE=prod,app=web,tier.x=1 one\nMODE=prod,app=web,tier.x=1 two\n")
	skiff(t, "container", "logs", "--details", "--tail", "1", name).OK(t).StdoutIs(t, "MODE=prod,app=web,tier.x=1 two\n")
	// Timestamps come first, as in Docker.
	if l := skiff(t, "logs", "--details", "-t", name).OK(t).Lines(); len(l) != 2 || !strings.HasSuffix(l[0], "Z MODE=prod,app=web,tier.x=1 one") {
		t.Errorf("logs --details -t: %q", l)
	}
	// Without attributes each line gets Docker's lone space.
	plain := lcName("details-plain")
	runDetached(t, plain, nil, "sh", "-c", "echo one; exec sleep 300")
	waitLogs(t, plain, "one", 10*time.Second)
	skiff(t, "logs", "--details", plain).OK(t).StdoutIs(t, " one\n")
	skiff(t, "run", "--rm", "--log-opt", "env-regex=(", busybox(t), "true").ErrorLine(t, runExit, "env-regex")
}

func TestImagePruneFilters(t *testing.T) {
	parallel(t)
	sfx := harness.UniqueSuffix()
	drop := importImage(t, "--change", "LABEL prune-"+sfx+"=drop", "")
	keep := importImage(t, "--change", "LABEL prune-"+sfx+"=keep", "")
	tagged := importImage(t, "--change", "LABEL prune-"+sfx+"=drop", "prune-tagged:"+sfx)
	// label=: only the dangling images with that label.
	skiff(t, "image", "prune", "-f", "--filter", "label=prune-"+sfx+"=drop").OK(t)
	if imageExists(t, drop) || !imageExists(t, keep) || !imageExists(t, tagged) {
		t.Errorf("image prune --filter label=…=drop: want only the dangling drop image gone (drop %v keep %v tagged %v)",
			imageExists(t, drop), imageExists(t, keep), imageExists(t, tagged))
	}
	// until= before the images were made: nothing of them goes.
	skiff(t, "image", "prune", "-f", "--filter", "label=prune-"+sfx, "--filter", "until=2000-01-01T00:00:00Z").OK(t)
	if !imageExists(t, keep) {
		t.Errorf("image prune --filter until=2000-01-01 removed an image made now")
	}
	// dangling=false is -a: tagged images no container uses go too;
	// label!= keeps the others.
	skiff(t, "image", "prune", "-f", "--filter", "dangling=false", "--filter", "label=prune-"+sfx, "--filter", "label!=prune-"+sfx+"=keep").OK(t)
	if imageExists(t, tagged) || !imageExists(t, keep) {
		t.Errorf("image prune --filter dangling=false --filter label!=…=keep: tagged %v keep %v, want false true", imageExists(t, tagged), imageExists(t, keep))
	}
	skiff(t, "image", "prune", "-f", "--filter", "colour=red").ErrorLine(t, errExit, "colour")
	skiff(t, "image", "prune", "-f", "--filter", "until=soon").ErrorLine(t, errExit, "soon")
}

// Not parallel: builder prune empties the user's whole build cache, which
// the parallel build tests count on.
func TestBuilderPruneFilterKeepStorage(t *testing.T) {
	harness.Need(t)
	bb := busybox(t)
	dir := buildContext(t, map[string]string{"Dockerfile": "FROM " + bb + "\nRUN echo one > /one\nRUN echo two > /two\n"})
	tag := "build-keep:" + harness.UniqueSuffix()
	t.Cleanup(func() { harness.RunAs(t, harness.E2E, "rmi", "-f", tag) })
	skiff(t, "build", "-q", "-t", tag, dir).OK(t)
	cached := func() int { return strings.Count(skiff(t, "build", "-t", tag, dir).OK(t).Stdout, "Using cache") }
	// The cache is newer than until=1h, and fits in 1GB: nothing goes.
	skiff(t, "builder", "prune", "-f", "--filter", "until=1h").OK(t)
	skiff(t, "builder", "prune", "-f", "--keep-storage", "1GB").OK(t)
	if n := cached(); n != 2 {
		t.Errorf("after builder prune --filter until=1h and --keep-storage 1GB, the rebuild used the cache for %d steps, want 2", n)
	}
	// until=0s takes all of it: the next build runs every step.
	time.Sleep(1100 * time.Millisecond)
	out := skiff(t, "builder", "prune", "-f", "--filter", "until=0s").OK(t).Stdout
	if !strings.Contains(out, "Deleted build cache objects:") {
		t.Errorf("builder prune --filter until=0s deleted nothing:\n%s", out)
	}
	if n := cached(); n != 0 {
		t.Errorf("after builder prune --filter until=0s the rebuild used the cache for %d steps, want 0", n)
	}
	skiff(t, "builder", "prune", "-f", "--keep-storage", "lots").ErrorLine(t, errExit, "lots")
	skiff(t, "builder", "prune", "-f", "--filter", "type=regular").ErrorLine(t, errExit, "type")
}

func TestImagePlatformFlags(t *testing.T) {
	parallel(t)
	host := "linux/" + goruntime.GOARCH
	other := "linux/s390x"
	if goruntime.GOARCH == "s390x" {
		other = "linux/amd64"
	}
	name := "platform-img:" + harness.UniqueSuffix()
	importImage(t, name)
	for _, args := range [][]string{
		{"history", "-q"}, {"image", "history", "-q"}, {"image", "inspect", "--format", "{{.Architecture}}"},
	} {
		skiff(t, append(append(args, "--platform", host), name)...).OK(t)
		skiff(t, append(append(args, "--platform", other), name)...).ErrorLine(t, errExit, other, host)
	}
	skiff(t, "image", "inspect", "--platform", "linux", name).OK(t)
	skiff(t, "history", "--platform", "linux//x", name).ErrorLine(t, errExit, "platform")
	dir := harness.UserDir(t, harness.E2E)
	archive := filepath.Join(dir, "img.tar")
	skiff(t, "save", "--platform", other, "-o", archive, name).ErrorLine(t, errExit, other)
	if _, err := os.Stat(archive); err == nil {
		t.Errorf("save --platform %s of a %s image wrote %s", other, host, archive)
	}
	skiff(t, "save", "--platform", host, "-o", archive, name).OK(t)
	// load --platform: only that platform's images; none is an error.
	skiff(t, "rmi", "--platform", other, name).ErrorLine(t, errExit, other)
	skiff(t, "rmi", "--no-prune", "--platform", host, name).OK(t)
	skiff(t, "load", "--platform", other, "-i", archive).ErrorLine(t, errExit, other)
	if imageExists(t, name) {
		t.Errorf("load --platform %s stored the %s image", other, host)
	}
	skiff(t, "load", "--platform", host, "-i", archive).OK(t)
	if !imageExists(t, name) {
		t.Errorf("load --platform %s did not store the image", host)
	}
	// import --platform records the platform it is given.
	arm := "platform-arm:" + harness.UniqueSuffix()
	importImage(t, "--platform", "linux/arm64/v8", arm)
	skiff(t, "image", "inspect", "--format", "{{.Os}}/{{.Architecture}}/{{.Variant}}", arm).OK(t).StdoutIs(t, "linux/arm64/v8\n")
}

func TestRmiNoPrune(t *testing.T) {
	parallel(t)
	name := "noprune:" + harness.UniqueSuffix()
	id := importImage(t, name)
	other := "noprune-other:" + harness.UniqueSuffix()
	skiff(t, "tag", name, other).OK(t)
	// Untagging one name of two leaves the image; removing the last name
	// removes it and nothing else (skiff keeps no parent chain).
	skiff(t, "rmi", "--no-prune", name).OK(t)
	if !imageExists(t, id) {
		t.Errorf("rmi --no-prune of one of two names removed the image")
	}
	out := skiff(t, "rmi", "--no-prune", other).OK(t).Stdout
	if !strings.Contains(out, "Deleted: "+id) {
		t.Errorf("rmi --no-prune of the last name: %q, want Deleted: %s", out, id)
	}
}

func TestImagesTree(t *testing.T) {
	parallel(t)
	name := "tree-img:" + harness.UniqueSuffix()
	id := importImage(t, name)
	short := strings.TrimPrefix(id, "sha256:")[:12]
	out := skiff(t, "images", "--tree", "--filter", "reference="+name).OK(t).Stdout
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "IMAGE") || !strings.Contains(lines[0], "DISK USAGE") ||
		!strings.HasPrefix(lines[1], name) || !strings.Contains(lines[1], short) ||
		!strings.HasPrefix(lines[2], "└─ linux/"+goruntime.GOARCH) {
		t.Errorf("images --tree:\n%s\nwant the header, %s with its ID %s, and └─ linux/%s under it", out, name, short, goruntime.GOARCH)
	}
	if strings.Contains(lines[1], " U") {
		t.Errorf("images --tree marks %s in use (U) though no container uses it:\n%s", name, out)
	}
	ctr := lcName("tree-user")
	rmOnCleanup(t, harness.E2E, ctr)
	skiff(t, "create", "--name", ctr, name, "true").OK(t)
	if out := skiff(t, "image", "ls", "--tree", "--filter", "reference="+name).OK(t).Stdout; !strings.HasSuffix(strings.Split(out, "\n")[1], "U") {
		t.Errorf("images --tree does not mark an image a container uses with U:\n%s", out)
	}
	skiff(t, "images", "--tree", "-q").ErrorLine(t, errExit, "--quiet", "--tree")
}

func TestImagesFilters(t *testing.T) {
	parallel(t)
	sfx := harness.UniqueSuffix()
	label := "filter-" + sfx
	for i, n := range []string{"a", "b", "c"} {
		if i > 0 {
			time.Sleep(1100 * time.Millisecond) // created one after the other
		}
		importImage(t, "--change", "LABEL "+label+"="+n, "filter-"+n+":"+sfx)
	}
	list := func(filters ...string) string {
		args := []string{"images", "--format", "{{.Repository}}"}
		for _, f := range filters {
			args = append(args, "--filter", f)
		}
		lines := skiff(t, args...).OK(t).Lines()
		sort.Strings(lines)
		return strings.Join(lines, " ")
	}
	for _, tc := range []struct {
		filters []string
		want    string
	}{
		{[]string{"label=" + label}, "filter-a filter-b filter-c"},
		{[]string{"label=" + label + "=b"}, "filter-b"},
		{[]string{"label=" + label, "before=filter-b:" + sfx}, "filter-a"},
		{[]string{"label=" + label, "since=filter-b:" + sfx}, "filter-c"},
		{[]string{"reference=filter-c:" + sfx}, "filter-c"},
		{[]string{"label=" + label, "reference=filter-a", "reference=filter-b"}, "filter-a filter-b"},
		{[]string{"label=" + label, "dangling=false"}, "filter-a filter-b filter-c"},
		{[]string{"label=" + label, "dangling=true"}, ""},
	} {
		if got := list(tc.filters...); got != tc.want {
			t.Errorf("images --filter %s: %q, want %q", strings.Join(tc.filters, " --filter "), got, tc.want)
		}
	}
	skiff(t, "images", "--filter", "before=filter-nosuch:"+sfx).ErrorLine(t, errExit, "filter-nosuch")
	skiff(t, "image", "ls", "--filter", "colour=red").ErrorLine(t, errExit, "colour")
}

// --disable-content-trust is true by default, as Docker's: skiff verifies
// no signatures, so only false is refused, and nothing is changed by it.
func TestDisableContentTrust(t *testing.T) {
	parallel(t)
	image := busybox(t)
	skiff(t, "run", "--rm", "--disable-content-trust", image, "true").OK(t)
	skiff(t, "pull", "--disable-content-trust", image).OK(t)
	skiff(t, "pull", "--disable-content-trust=false", image).ErrorLine(t, errExit, "content trust", "digest")
	skiff(t, "push", "--disable-content-trust=false", image).ErrorLine(t, errExit, "content trust")
	name := lcName("trust")
	skiff(t, "create", "--name", name, "--disable-content-trust=false", image).ErrorLine(t, runExit, "content trust")
	notCreated(t, harness.E2E, name)
}

// network connect --link-local-ip is refused, and the container stays off
// the network.
func TestNetworkConnectLinkLocalRefused(t *testing.T) {
	parallel(t)
	net := lcName("llnet")
	skiff(t, "network", "create", net).OK(t)
	t.Cleanup(func() { skiff(t, "network", "rm", "-f", net) })
	name := lcName("llc")
	skiff(t, "create", "--name", name, busybox(t), "true").OK(t)
	t.Cleanup(func() { skiff(t, "rm", "-f", name) })
	skiff(t, "network", "connect", "--link-local-ip", "169.254.9.9", net, name).ErrorLine(t, errExit, "--link-local-ip")
	if out := skiff(t, "inspect", "-f", "{{json .NetworkSettings.Networks}}", name).OK(t).Stdout; strings.Contains(out, net) {
		t.Errorf("refused connect left %s on %s: %s", name, net, out)
	}
}
