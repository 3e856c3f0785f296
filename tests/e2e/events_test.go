package e2e

// skiff events: the per-user journal that engine calls and supervisors
// append to, read back with --since/--until/--filter/--format, as the
// unprivileged user. Tests run in parallel and share the user's journal,
// so every query filters on names (or labels) unique to its test.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// eventJSON is one line of `events --format json`: Docker's events.Message.
type eventJSON struct {
	Type   string
	Action string
	Actor  struct {
		ID         string
		Attributes map[string]string
	}
	Scope    string `json:"scope"`
	Time     int64  `json:"time"`
	TimeNano int64  `json:"timeNano"`
}

// unixArg is t as Unix seconds with nanoseconds, as --since takes it.
func unixArg(t time.Time) string { return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond()) }

// decodeEvents parses json lines.
func decodeEvents(t testing.TB, what, out string) []eventJSON {
	t.Helper()
	var evs []eventJSON
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if l == "" {
			continue
		}
		var e eventJSON
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("%s: line %q is not an event: %v", what, l, err)
		}
		evs = append(evs, e)
	}
	return evs
}

// replayEvents runs `events --since SINCE --until now FILTERS --format
// json`, which must end by itself, and decodes its lines.
func replayEvents(t testing.TB, since time.Time, filters ...string) []eventJSON {
	t.Helper()
	args := []string{"events", "--since", unixArg(since), "--until", unixArg(time.Now()), "--format", "json"}
	for _, f := range filters {
		args = append(args, "--filter", f)
	}
	r := skiffWith(t, harness.RunOptions{Timeout: 30 * time.Second}, args...).OK(t)
	return decodeEvents(t, r.Cmdline(), r.Stdout)
}

func actions(evs []eventJSON) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Action)
	}
	return out
}

// waitActions replays until the actions are exactly want (polling: the
// supervisor records some events after the command that caused them has
// returned) and returns the events.
func waitActions(t testing.TB, since time.Time, want []string, filters ...string) []eventJSON {
	t.Helper()
	return waitActionsNorm(t, since, want, nil, filters...)
}

// waitActionsNorm is waitActions comparing the events as norm puts them.
func waitActionsNorm(t testing.TB, since time.Time, want []string, norm func([]eventJSON), filters ...string) []eventJSON {
	t.Helper()
	var evs []eventJSON
	eventually(t, 30*time.Second, fmt.Sprintf("events %q with %q", want, filters), func() (bool, string) {
		evs = replayEvents(t, since, filters...)
		if norm != nil {
			norm(evs)
		}
		return slices.Equal(actions(evs), want), fmt.Sprintf("%q", actions(evs))
	})
	return evs
}

// waitFollowing waits until a background `skiff events` follows the
// journal: it watches the journal's directory (an inotify descriptor)
// once it has read what was there.
func waitFollowing(t *testing.T, b *background) {
	t.Helper()
	pid := b.cmd.Process.Pid
	eventually(t, 30*time.Second, "skiff events to follow the journal", func() (bool, string) {
		select {
		case <-b.done:
			t.Fatalf("skiff events exited (%d)\n%s", b.exitCode, b.output())
		default:
		}
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		for _, fd := range fds {
			if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); l == "anon_inode:inotify" {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d descriptors, no inotify", len(fds))
	})
}

// checkContainerActor checks the attributes every container event carries.
func checkContainerActor(t *testing.T, e eventJSON, id, name, image string, labels map[string]string) {
	t.Helper()
	a := e.Actor.Attributes
	if e.Type != "container" || e.Actor.ID != id || a["name"] != name || a["image"] != image || e.Scope != "local" {
		t.Errorf("%s event: type %q actor %q name %q image %q scope %q; want container %s, name %s, image %s, local",
			e.Action, e.Type, e.Actor.ID, a["name"], a["image"], e.Scope, id, name, image)
	}
	for k, v := range labels {
		if a[k] != v {
			t.Errorf("%s event: label %s=%q, want %q (attributes %v)", e.Action, k, a[k], v, a)
		}
	}
	if e.TimeNano/1e9 != e.Time || time.Since(time.Unix(0, e.TimeNano)) > 10*time.Minute || e.TimeNano > time.Now().UnixNano() {
		t.Errorf("%s event: time %d timeNano %d: want a recent time, both the same", e.Action, e.Time, e.TimeNano)
	}
}

// A follower sees a --rm container's life in order, and Ctrl-C ends it
// with status 0.
func TestEventsFollowRunRm(t *testing.T) {
	parallel(t)
	img := busybox(t)
	name := lcName("ev-rm")
	b := startBackground(t, harness.E2E, "events", "--filter", "container="+name, "--format", "json")
	waitFollowing(t, b)
	r := skiff(t, "run", "--rm", "--name", name, "--label", "evtest=rm", img, "sh", "-c", "exit 3")
	if r.ExitCode != 3 {
		t.Fatalf("%s: want exit 3\n%s", r.Cmdline(), r.Output())
	}
	b.waitFor(t, `"Action":"destroy"`)
	b.signal(t, syscall.SIGINT)
	if code := b.wait(t, 10*time.Second); code != 0 {
		t.Errorf("skiff events after Ctrl-C: exit %d, want 0\n%s", code, b.output())
	}
	if strings.Contains(b.stderr.String(), "Error") {
		t.Errorf("skiff events wrote an error:\n%s", b.output())
	}
	evs := decodeEvents(t, "skiff events", b.stdout.String())
	want := []string{"create", "attach", "start", "die", "destroy"}
	if !slices.Equal(actions(evs), want) {
		t.Fatalf("followed %q, want %q\n%s", actions(evs), want, b.output())
	}
	id := evs[0].Actor.ID
	if !containerIDRe.MatchString(id) {
		t.Errorf("actor ID %q, want the container's 64-hex ID", id)
	}
	for _, e := range evs {
		checkContainerActor(t, e, id, name, img, map[string]string{"evtest": "rm"})
	}
	if code := evs[3].Actor.Attributes["exitCode"]; code != "3" {
		t.Errorf("die: exitCode %q, want \"3\" (%v)", code, evs[3].Actor.Attributes)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].TimeNano < evs[i-1].TimeNano {
			t.Errorf("event %s at %d before %s at %d", evs[i].Action, evs[i].TimeNano, evs[i-1].Action, evs[i-1].TimeNano)
		}
	}
}

// --since/--until replay what was recorded and end; the default line is
// docker/cli's; --format takes templates.
func TestEventsSinceUntil(t *testing.T) {
	parallel(t)
	img := busybox(t)
	name := lcName("ev-replay")
	before := time.Now()
	id := createContainer(t, name, []string{"--label", "evtest=replay"}, "true")
	skiff(t, "rm", name).OK(t)
	after := time.Now()
	time.Sleep(20 * time.Millisecond)
	vol := "evvol-" + harness.UniqueSuffix()
	skiff(t, "volume", "create", vol).OK(t) // after --until below
	t.Cleanup(func() { skiff(t, "volume", "rm", "-f", vol) })

	r := skiff(t, "events", "--since", unixArg(before), "--until", unixArg(after), "--filter", "container="+name).OK(t)
	lines := r.Lines()
	if len(lines) != 2 {
		t.Fatalf("%s: want the create and destroy lines\n%s", r.Cmdline(), r.Output())
	}
	for i, action := range []string{"create", "destroy"} {
		re := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d) container ` + action + ` ` + id +
			` \(evtest=replay, image=` + regexp.QuoteMeta(img) + `, name=` + name + `\)$`)
		if !re.MatchString(lines[i]) {
			t.Errorf("line %d: %q, want docker/cli's line for %s: %s", i+1, lines[i], action, re)
		}
	}
	// The same window in RFC 3339, a template, and --until as a duration.
	rfc := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	skiff(t, "events", "--since", rfc(before), "--until", rfc(after), "--filter", "container="+id,
		"--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}").OK(t).
		StdoutIs(t, "container create "+name+"\ncontainer destroy "+name+"\n")
	skiff(t, "events", "--since", "10m", "--until", "0s", "--filter", "volume="+vol, "--format", "{{.Type}} {{.Action}} {{.Actor.ID}}").OK(t).
		StdoutIs(t, "volume create "+vol+"\n")
	// A window before anything happened is empty; --since alone with an
	// --until in the past ends at once too.
	skiff(t, "events", "--since", unixArg(before.Add(-time.Hour)), "--until", unixArg(before), "--filter", "container="+name).OK(t).StdoutIs(t, "")
	// --until a moment ahead: it follows until then, and ends by itself.
	start := time.Now()
	until2 := time.Now().Add(2 * time.Second)
	r = skiffWith(t, harness.RunOptions{Timeout: 30 * time.Second}, "events", "--since", unixArg(before), "--until", unixArg(until2),
		"--filter", "container="+name, "--format", "{{.Action}}").OK(t)
	if time.Now().Before(until2) {
		t.Errorf("%s ended before its --until (after %s)", r.Cmdline(), time.Since(start))
	}
	r.StdoutIs(t, "create\ndestroy\n")
}

// Filters: values of one key are alternatives, keys must all match; the
// network and volume events carry Docker's attributes.
func TestEventsFilters(t *testing.T) {
	parallel(t)
	img := busybox(t)
	suffix := harness.UniqueSuffix()
	name, net, vol, label := "ev-filter-"+suffix, "evnet-"+suffix, "evvol-"+suffix, "evtest=filter-"+suffix
	since := time.Now()
	id := createContainer(t, name, []string{"--label", label}, "true")
	skiff(t, "network", "create", net).OK(t)
	t.Cleanup(func() { skiff(t, "network", "rm", net) })
	skiff(t, "network", "connect", net, name).OK(t)
	skiff(t, "network", "disconnect", net, name).OK(t)
	skiff(t, "network", "rm", net).OK(t)
	skiff(t, "volume", "create", vol).OK(t)
	skiff(t, "volume", "rm", vol).OK(t)
	skiff(t, "rm", name).OK(t)

	check := func(want []string, filters ...string) []eventJSON {
		t.Helper()
		evs := replayEvents(t, since, filters...)
		if !slices.Equal(actions(evs), want) {
			t.Errorf("--filter %q: %q, want %q", filters, actions(evs), want)
		}
		return evs
	}
	check([]string{"create", "destroy"}, "container="+name)
	check([]string{"create", "destroy"}, "container="+id[:12])
	nevs := check([]string{"create", "connect", "disconnect", "destroy"}, "network="+net)
	for _, e := range nevs {
		if e.Type != "network" || e.Actor.Attributes["name"] != net || e.Actor.Attributes["type"] != "bridge" || e.Actor.ID == "" {
			t.Errorf("network %s event: type %q actor %q attributes %v", e.Action, e.Type, e.Actor.ID, e.Actor.Attributes)
		}
	}
	if len(nevs) == 4 && (nevs[1].Actor.Attributes["container"] != id || nevs[2].Actor.Attributes["container"] != id) {
		t.Errorf("connect/disconnect: container attribute %q, %q, want %s", nevs[1].Actor.Attributes["container"], nevs[2].Actor.Attributes["container"], id)
	}
	vevs := check([]string{"create", "destroy"}, "type=volume", "volume="+vol)
	for _, e := range vevs {
		if e.Type != "volume" || e.Actor.ID != vol || e.Actor.Attributes["driver"] != "local" {
			t.Errorf("volume %s event: type %q actor %q attributes %v", e.Action, e.Type, e.Actor.ID, e.Actor.Attributes)
		}
	}
	check([]string{"destroy"}, "event=destroy", "label="+label)
	check([]string{"create", "destroy"}, "event=create", "event=destroy", "label="+label)
	check([]string{"create", "destroy"}, "label="+label, "scope=local", "type=container", "type=volume")
	check(nil, "type=volume", "container="+name) // keys are ANDed
	check(nil, "label="+label, "scope=swarm")
	check([]string{"create", "destroy"}, "image="+img, "container="+name)
	check(nil, "image=no-such-image", "container="+name)
}

// Bad values: one error line, exit 1, before anything is read.
func TestEventsBadInput(t *testing.T) {
	parallel(t)
	for _, tt := range []struct {
		args  []string
		words []string
	}{
		{[]string{"--since", "yesterday"}, []string{"--since", "yesterday"}},
		{[]string{"--until", "soon"}, []string{"--until", "soon"}},
		{[]string{"--since", "2m", "--until", "5m"}, []string{"since", "after", "until"}},
		{[]string{"--filter", "colour=red"}, []string{"filter", "colour"}},
		{[]string{"--filter", "container"}, []string{"filter", "KEY=VALUE"}},
		{[]string{"--filter", "type=spaceship"}, []string{"type=spaceship"}},
		{[]string{"--format", "{{.Nope}}"}, []string{"--format", "Nope"}},
		{[]string{"--format", "{{.Type"}, []string{"--format"}},
		{[]string{"something"}, []string{"no arguments"}},
	} {
		r := skiffWith(t, harness.RunOptions{Timeout: 30 * time.Second}, append([]string{"events"}, tt.args...)...)
		r.ErrorLine(t, errExit, tt.words...)
		if r.Stdout != "" {
			t.Errorf("%s: stdout %q, want nothing", r.Cmdline(), r.Stdout)
		}
	}
}

// Engine calls on a running container, each recorded once it is done.
func TestEventsContainerCalls(t *testing.T) {
	parallel(t)
	img := busybox(t)
	name := lcName("ev-calls")
	renamed := name + "-new"
	since := time.Now()
	id := runDetached(t, name, nil, idleCmd...)
	rmOnCleanup(t, harness.E2E, renamed)
	skiff(t, "rename", name, renamed).OK(t)
	skiff(t, "exec", renamed, "sh", "-c", "exit 5").Exit(t, 5)
	skiff(t, "top", renamed).OK(t)
	dir := harness.UserDir(t, harness.E2E)
	skiff(t, "cp", renamed+":/etc/hostname", filepath.Join(dir, "h")).OK(t)
	skiff(t, "cp", filepath.Join(dir, "h"), renamed+":/tmp/h").OK(t)
	skiff(t, "stop", "-t", "5", renamed).OK(t)
	skiff(t, "start", renamed).OK(t)
	skiff(t, "kill", renamed).OK(t)
	skiff(t, "wait", renamed).OK(t)
	skiff(t, "rm", renamed).OK(t)

	// kill (from skiff kill) and its die (from the supervisor) are
	// recorded by two processes: either may come first.
	killFirst := func(evs []eventJSON) {
		for i := 1; i < len(evs); i++ {
			if evs[i].Action == "kill" && evs[i-1].Action == "die" {
				evs[i], evs[i-1] = evs[i-1], evs[i]
			}
		}
	}
	evs := waitActionsNorm(t, since, []string{
		"create", "start", "rename", "exec_create: sh -c exit 5", "exec_start: sh -c exit 5", "exec_die", "top",
		"archive-path", "extract-to-dir", "die", "stop", "start", "kill", "die", "destroy",
	}, killFirst, "container="+id)
	for i, e := range evs {
		n := renamed
		if i < 2 {
			n = name
		}
		checkContainerActor(t, e, id, n, img, nil)
	}
	attr := func(i int, k string) string { return evs[i].Actor.Attributes[k] }
	if attr(2, "oldName") != "/"+name {
		t.Errorf("rename: oldName %q, want /%s", attr(2, "oldName"), name)
	}
	if x := attr(3, "execID"); !containerIDRe.MatchString(x) || attr(4, "execID") != x || attr(5, "execID") != x || attr(5, "exitCode") != "5" {
		t.Errorf("exec events: execID %q %q %q exitCode %q; want one 64-hex ID and exit code 5", x, attr(4, "execID"), attr(5, "execID"), attr(5, "exitCode"))
	}
	if attr(9, "exitCode") != "0" {
		t.Errorf("die after stop: exitCode %q, want 0 (the container traps TERM)", attr(9, "exitCode"))
	}
	for i, e := range evs {
		if e.Action == "kill" && e.Actor.Attributes["signal"] != "9" {
			t.Errorf("kill: signal %q, want 9", e.Actor.Attributes["signal"])
		}
		if e.Action == "die" && i > 10 && e.Actor.Attributes["exitCode"] != "137" {
			t.Errorf("die after kill: exitCode %q, want 137", e.Actor.Attributes["exitCode"])
		}
	}
}

// The supervisor records health changes (once each), and a restart by
// policy as die then start.
func TestEventsSupervisor(t *testing.T) {
	parallel(t)
	since := time.Now()
	health := lcName("ev-health")
	hid := runDetached(t, health, []string{"--health-cmd", "test ! -e /tmp/bad", "--health-interval", "300ms", "--health-retries", "1"}, idleCmd...)
	restart := lcName("ev-restart")
	rid := runDetached(t, restart, []string{"--restart", "on-failure:2"}, "sh", "-c", "exit 2")

	waitActions(t, since, []string{"health_status: healthy"}, "container="+hid, "event=health_status")
	skiff(t, "exec", health, "touch", "/tmp/bad").OK(t)
	waitActions(t, since, []string{"health_status: healthy", "health_status: unhealthy"}, "container="+hid, "event=health_status")
	time.Sleep(time.Second) // more failing checks change nothing: no more events
	waitActions(t, since, []string{"health_status: healthy", "health_status: unhealthy"}, "container="+hid, "event=health_status")
	waitActions(t, since, []string{"exec_create: touch /tmp/bad", "exec_start: touch /tmp/bad"}, "container="+hid, "event=exec_create", "event=exec_start")

	evs := waitActions(t, since, []string{"create", "start", "die", "start", "die", "start", "die"}, "container="+rid)
	for _, e := range evs {
		if e.Action == "die" && e.Actor.Attributes["exitCode"] != "2" {
			t.Errorf("die: exitCode %q, want 2", e.Actor.Attributes["exitCode"])
		}
	}
	time.Sleep(time.Second)
	waitActions(t, since, []string{"create", "start", "die", "start", "die", "start", "die"}, "container="+rid)
}

// Commands at the same time each record their events, whole.
func TestEventsConcurrentCommands(t *testing.T) {
	parallel(t)
	img := busybox(t)
	label := "evtest=concurrent-" + harness.UniqueSuffix()
	since := time.Now()
	const n = 8
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := skiff(t, "create", "--label", label, img, "true")
			if r.ExitCode == 0 {
				ids[i] = strings.TrimSpace(r.Stdout)
				rmOnCleanup(t, harness.E2E, ids[i])
			} else {
				t.Errorf("%s\n%s", r.Cmdline(), r.Output())
			}
		})
	}
	wg.Wait()
	for i := range n {
		wg.Go(func() { skiff(t, "rm", ids[i]).OK(t) })
	}
	wg.Wait()
	evs := replayEvents(t, since, "label="+label)
	created, destroyed := map[string]int{}, map[string]int{}
	for _, e := range evs {
		switch e.Action {
		case "create":
			created[e.Actor.ID]++
		case "destroy":
			destroyed[e.Actor.ID]++
		default:
			t.Errorf("unexpected %s event", e.Action)
		}
	}
	for _, id := range ids {
		if created[id] != 1 || destroyed[id] != 1 {
			t.Errorf("container %s: %d create and %d destroy events, want 1 each", id, created[id], destroyed[id])
		}
	}
	if len(evs) != 2*n {
		t.Errorf("%d events, want %d", len(evs), 2*n)
	}
}

// Image events: Docker's actors (the image ID; for pull the reference)
// and names.
func TestEventsImages(t *testing.T) {
	parallel(t)
	img := busybox(t)
	rootfs, err := harness.RootfsTar()
	must(t, err)
	dir := harness.UserDir(t, harness.E2E)
	tarPath := filepath.Join(dir, "rootfs.tar")
	harness.WriteUserFile(t, harness.E2E, tarPath, rootfs)
	repo := "evimg-" + harness.UniqueSuffix()
	since := time.Now()
	r := skiff(t, "import", "--change", "LABEL evtest="+repo, tarPath, repo).OK(t)
	id := strings.TrimSpace(r.Stdout)
	t.Cleanup(func() { skiff(t, "rmi", "-f", id) })
	skiff(t, "tag", repo, repo+":v2").OK(t)
	archive := filepath.Join(dir, "saved.tar")
	skiff(t, "save", "-o", archive, repo+":v2").OK(t)
	skiff(t, "rmi", repo+":v2").OK(t)
	skiff(t, "load", "-q", "-i", archive).OK(t)
	skiff(t, "rmi", "-f", id).OK(t)
	skiff(t, "pull", "-q", img).OK(t)

	evs := replayEvents(t, since, "type=image", "image="+id)
	want := []string{"tag", "import", "tag", "save", "untag", "load", "untag", "untag", "delete"}
	if !slices.Equal(actions(evs), want) {
		t.Fatalf("image events %q, want %q", actions(evs), want)
	}
	names := []string{repo + ":latest", id, repo + ":v2", id, id, id, id, id, id}
	for i, e := range evs {
		if e.Type != "image" || e.Actor.ID != id || e.Actor.Attributes["name"] != names[i] || e.Scope != "local" {
			t.Errorf("%s event: type %q actor %q name %q scope %q; want image %s, name %s, local", e.Action, e.Type, e.Actor.ID, e.Actor.Attributes["name"], e.Scope, id, names[i])
		}
	}
	if evs[0].Actor.Attributes["evtest"] != repo {
		t.Errorf("tag event: attributes %v, want the image's label evtest=%s", evs[0].Actor.Attributes, repo)
	}
	// By name: a tag's name, or its repository for every tag.
	if got := actions(replayEvents(t, since, "image="+repo)); !slices.Equal(got, []string{"tag", "tag"}) {
		t.Errorf("--filter image=%s: %q, want both tags", repo, got)
	}
	if got := actions(replayEvents(t, since, "image="+repo+":v2")); !slices.Equal(got, []string{"tag"}) {
		t.Errorf("--filter image=%s:v2: %q, want the second tag", repo, got)
	}
	// A pull names the reference.
	pulls := replayEvents(t, since, "type=image", "event=pull", "image="+img+":latest")
	if len(pulls) == 0 || pulls[0].Actor.ID != img+":latest" || pulls[0].Actor.Attributes["name"] != img {
		t.Errorf("pull events %+v, want one for %s:latest named %s", pulls, img, img)
	}
}
