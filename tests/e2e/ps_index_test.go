package e2e

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// ps reads a ps index (containers/.ps-index) instead of decoding every
// record: a line per record written, used only while it holds for the
// record. These tests check that ps stays right when many processes write
// at once, when the index is removed, damaged or stale (a writer that did
// not append), and when a supervisor is killed.

// psIndexPath is u's ps index.
func psIndexPath(u *harness.User) string {
	return filepath.Join(u.DataDir(), "containers", ".ps-index")
}

// psIndexUsers runs test as the e2e user and as root, in parallel.
func psIndexUsers(t *testing.T, test func(t *testing.T, u *harness.User)) {
	harness.Need(t)
	for _, u := range []*harness.User{harness.E2E, harness.Root} {
		t.Run(u.Name, func(t *testing.T) {
			t.Parallel()
			needRootless(t, u)
			test(t, u)
		})
	}
}

// psRows is ps -a's rows of the containers labelled label, in a format
// without times, sorted.
func psRows(t *testing.T, u *harness.User, label string) []string {
	t.Helper()
	rows := harness.RunAs(t, u, "ps", "-a", "--no-trunc", "--filter", "label="+label, "--format",
		"{{.ID}}|{{.Names}}|{{.Image}}|{{.Command}}|{{.State}}|{{.Ports}}|{{.Labels}}").OK(t).Lines()
	slices.Sort(rows)
	return rows
}

// checkPsAgainstInspect checks every column of ps -a for the containers
// labelled label against inspect, and that ps lists exactly want (names).
func checkPsAgainstInspect(t *testing.T, u *harness.User, label, image string, want []string) {
	t.Helper()
	out := harness.RunAs(t, u, "ps", "-a", "--no-trunc", "--filter", "label="+label, "--format",
		"{{.ID}}\t{{.Names}}\t{{.Image}}\t{{.Command}}\t{{.State}}\t{{.Status}}\t{{.Labels}}").OK(t).Lines()
	var names []string
	for _, line := range out {
		f := strings.Split(line, "\t")
		if len(f) != 7 {
			t.Errorf("ps row %q: want 7 tab-separated fields", line)
			continue
		}
		names = append(names, f[1])
		c := inspectAs(t, u, f[0])
		wantStatus := map[string]string{"running": "Up ", "exited": fmt.Sprintf("Exited (%d) ", c.State.ExitCode), "created": "Created", "dead": "Dead"}[c.State.Status]
		switch {
		case f[1] != strings.TrimPrefix(c.Name, "/"):
			t.Errorf("ps NAMES %q, inspect %q", f[1], c.Name)
		case f[2] != image || c.Config.Image != image:
			t.Errorf("ps IMAGE %q, inspect %q, want %q", f[2], c.Config.Image, image)
		case f[3] != fmt.Sprintf("%q", strings.Join(append([]string{c.Path}, c.Args...), " ")):
			t.Errorf("ps COMMAND %s, inspect %q %q", f[3], c.Path, c.Args)
		case f[4] != c.State.Status:
			t.Errorf("%s: ps STATE %q, inspect %q", f[1], f[4], c.State.Status)
		case wantStatus == "" || !strings.HasPrefix(f[5], wantStatus):
			t.Errorf("%s: ps STATUS %q, want it to start with %q (inspect: %s, exit code %d)", f[1], f[5], wantStatus, c.State.Status, c.State.ExitCode)
		case !strings.Contains(","+f[6]+",", ","+label+","):
			t.Errorf("%s: ps LABELS %q lack %s", f[1], f[6], label)
		}
	}
	slices.Sort(names)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(names, want) {
		t.Errorf("ps -a lists %v, want %v", names, want)
	}
}

// TestPsIndexParallel: create, run, exit, rename and rm by many processes
// at once, with ps running beside them; ps then agrees with inspect on
// every column, and again once the index is gone (from the records).
func TestPsIndexParallel(t *testing.T) {
	psIndexUsers(t, func(t *testing.T, u *harness.User) {
		bb := pulled(t, u, "busybox")
		suffix := harness.UniqueSuffix()
		label := "psidx=" + suffix
		const n = 12
		names := make([]string, n)
		var all, want []string
		for i := range names {
			names[i] = fmt.Sprintf("psidx-%02d-%s", i, suffix)
			all = append(all, names[i], names[i]+"-r")
		}
		rmOnCleanup(t, u, all...)
		opts := harness.RunOptions{Timeout: 90 * time.Second}
		run := func(args ...string) *harness.Result { return harness.RunAsWith(t, u, opts, args...) }
		steps := func(i int) [][]string {
			name, create := names[i], []string{"create", "--name", names[i], "--label", label, bb}
			switch i % 4 {
			case 0: // running
				return [][]string{{"run", "-d", "--name", name, "--label", label, bb, "sh", "-c", idleScript}}
			case 1: // exited 3
				return [][]string{{"run", "-d", "--name", name, "--label", label, bb, "sh", "-c", "exit 3"}, {"wait", name}}
			case 2: // created, renamed
				return [][]string{append(create, "true"), {"rename", name, name + "-r"}}
			}
			return [][]string{append(create, "true"), {"rm", name}} // gone
		}
		for i := range names {
			switch i % 4 {
			case 0, 1:
				want = append(want, names[i])
			case 2:
				want = append(want, names[i]+"-r")
			}
		}
		var wg sync.WaitGroup
		done := make(chan struct{})
		go func() { // ps beside the writers: reads, rewrites and compacts the index
			for {
				select {
				case <-done:
					return
				default:
				}
				if r := run("ps", "-a"); r.ExitCode != 0 {
					t.Errorf("ps -a while containers change:\n%s", r.Output())
				}
			}
		}()
		for i := range names {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				for _, args := range steps(i) {
					if r := run(args...); r.ExitCode != 0 {
						t.Errorf("%s:\n%s", r.Cmdline(), r.Output())
						return
					}
				}
			}(i)
		}
		wg.Wait()
		close(done)
		checkPsAgainstInspect(t, u, label, bb, want)
		before := psRows(t, u, label)
		if err := os.Remove(psIndexPath(u)); err != nil {
			t.Fatalf("removing the index: %v", err)
		}
		if after := psRows(t, u, label); !slices.Equal(after, before) {
			t.Errorf("ps -a from the records:\n%s\nfrom the index:\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
		}
	})
}

// TestPsIndexDamagedOrStale: a removed, garbled, cut or emptied index is
// written again and ps stays right; an index that lost the lines of a
// rename and a stop (as when a writer is killed between writing the
// record and its line) does not hide them; a killed supervisor shows as
// inspect says.
func TestPsIndexDamagedOrStale(t *testing.T) {
	psIndexUsers(t, func(t *testing.T, u *harness.User) {
		bb := pulled(t, u, "busybox")
		suffix := harness.UniqueSuffix()
		label := "psidx=" + suffix
		up, exited, fresh, killed := "psidx-up-"+suffix, "psidx-exited-"+suffix, "psidx-created-"+suffix, "psidx-killed-"+suffix
		rmOnCleanup(t, u, up, exited, fresh, fresh+"-r", killed)
		ids := map[string]string{
			up:     runDetachedAs(t, u, bb, up, []string{"--label", label}, "sh", "-c", idleScript),
			exited: runDetachedAs(t, u, bb, exited, []string{"--label", label}, "sh", "-c", "exit 3"),
		}
		harness.RunAs(t, u, "wait", exited).OK(t).StdoutIs(t, "3\n")
		ids[fresh] = strings.TrimSpace(harness.RunAs(t, u, "create", "--name", fresh, "--label", label, bb, "true").OK(t).Stdout)
		checkPsAgainstInspect(t, u, label, bb, []string{up, exited, fresh})
		want := psRows(t, u, label)
		index := psIndexPath(u)

		garbage := make([]byte, 4096)
		_, _ = rand.Read(garbage)
		damages := map[string]func() error{
			"removed": func() error { return os.Remove(index) },
			"garbled": func() error { return rewrite(index, garbage) },
			"cut": func() error {
				st, err := os.Stat(index)
				if err != nil {
					return err
				}
				return os.Truncate(index, st.Size()/2+7)
			},
			"emptied": func() error { return os.Truncate(index, 0) },
		}
		for _, name := range []string{"removed", "garbled", "cut", "emptied"} {
			if err := damages[name](); err != nil {
				t.Fatalf("index %s: %v", name, err)
			}
			if got := psRows(t, u, label); !slices.Equal(got, want) {
				t.Errorf("index %s: ps -a:\n%s\nwant:\n%s", name, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			data, err := os.ReadFile(index)
			if err != nil {
				t.Fatalf("index %s: not written again: %v", name, err)
			}
			for n, id := range ids {
				if !bytes.Contains(data, []byte(id)) {
					t.Errorf("index %s: the index written again has no line for %s", name, n)
				}
			}
		}

		// Lines lost: the index as it was before a rename and a stop.
		old, err := os.ReadFile(index)
		if err != nil {
			t.Fatal(err)
		}
		harness.RunAs(t, u, "rename", fresh, fresh+"-r").OK(t)
		harness.RunAs(t, u, "stop", up).OK(t)
		if err := rewrite(index, old); err != nil {
			t.Fatal(err)
		}
		checkPsAgainstInspect(t, u, label, bb, []string{up, exited, fresh + "-r"})
		if c := inspectAs(t, u, up); c.State.Status != "exited" {
			t.Errorf("%s after stop: inspect says %s, want exited", up, c.State.Status)
		}

		// A supervisor killed after ps has its line.
		id := runDetachedAs(t, u, bb, killed, []string{"--label", label}, "sh", "-c", idleScript)
		if st := strings.TrimSpace(harness.RunAs(t, u, "ps", "--filter", "name="+killed, "--format", "{{.State}}").OK(t).Stdout); st != "running" {
			t.Fatalf("ps STATE of %s %q, want running", killed, st)
		}
		sup := supervisorPIDs(id)
		if len(sup) != 1 {
			t.Fatalf("want one supervisor of %s, found %v", killed, sup)
		}
		must(t, syscall.Kill(sup[0], syscall.SIGKILL))
		eventually(t, 10*time.Second, "the supervisor gone", func() (bool, string) {
			return !harness.ProcessAlive(sup[0]), fmt.Sprint(sup[0])
		})
		c := inspectAs(t, u, killed)
		if c.State.Status == "running" {
			t.Errorf("%s: inspect says running after its supervisor was killed", killed)
		}
		checkPsAgainstInspect(t, u, label, bb, []string{up, exited, fresh + "-r", killed})
		if got := strings.TrimSpace(harness.RunAs(t, u, "ps", "--filter", "name="+killed, "-q").OK(t).Stdout); got != "" {
			t.Errorf("ps (running only) still lists %s, whose supervisor was killed: %q", killed, got)
		}
	})
}

// rewrite replaces the contents of path in place, keeping its owner.
func rewrite(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
