package systemd

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestQuadletGolden: every file of testdata/quadlet becomes the unit in
// testdata/units, the [Install] targets become symlinks, and nothing is
// warned about.
func TestQuadletGolden(t *testing.T) {
	out := t.TempDir()
	var warnings []string
	written, err := Generate(GenerateOptions{Skiff: "/usr/local/bin/skiff", Dirs: []string{"testdata/quadlet"}, Out: out,
		Warn: func(s string) { warnings = append(warnings, s) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) > 0 {
		t.Errorf("warnings: %q", warnings)
	}
	var names []string
	for _, w := range written {
		names = append(names, filepath.Base(w))
	}
	want := []string{"backend-network.service", "cache-volume.service", "data-volume.service", "minimal.service", "web.service", "worker.service"}
	if !slices.Equal(names, want) {
		t.Fatalf("units %q, want %q", names, want)
	}
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(out, n))
		if err != nil {
			t.Fatal(err)
		}
		golden(t, n, string(data))
	}
	for link, target := range map[string]string{
		"default.target.wants/web.service":       "../web.service",
		"default.target.wants/worker.service":    "../worker.service",
		"multi-user.target.wants/worker.service": "../worker.service",
		"other.target.requires/worker.service":   "../worker.service",
	} {
		if got, err := os.Readlink(filepath.Join(out, link)); err != nil || got != target {
			t.Errorf("%s → %q, %v; want → %s", link, got, err, target)
		}
	}
	if _, err := os.Lstat(filepath.Join(out, "default.target.wants", "minimal.service")); err == nil {
		t.Error("minimal.container has no [Install] but got a symlink")
	}
}

func write(t *testing.T, dir, name, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestQuadletProblems: unknown keys and sections are warned about by
// name and the rest is converted; a file without Image=, with a bad
// line or naming a missing .volume is skipped with a warning, and the
// error counts them; an earlier directory's file wins.
func TestQuadletProblems(t *testing.T) {
	src, src2, out := t.TempDir(), t.TempDir(), t.TempDir()
	write(t, src, "odd.container", "[Container]\nImage=busybox\nFrobnicate=1\nSparkle=a=b\nFrobnicate=2\n[Pod]\nX=1\n")
	write(t, src, "noimage.container", "[Container]\nExec=true\n")
	write(t, src, "bad.container", "[Container]\nImage\n")
	write(t, src, "missing.container", "[Container]\nImage=busybox\nVolume=nothere.volume:/data\n")
	write(t, src, "badbool.container", "[Container]\nImage=busybox\nReadOnly=maybe\n")
	write(t, src, "ignored.txt", "[Container]\nImage=busybox\n")
	write(t, src2, "odd.container", "[Container]\nImage=other\n")
	write(t, src2, "second.volume", "[Volume]\n")
	var warnings []string
	written, err := Generate(GenerateOptions{Skiff: "/usr/bin/skiff", Dirs: []string{src, src2}, Out: out,
		Warn: func(s string) { warnings = append(warnings, s) }})
	if err == nil || !strings.Contains(err.Error(), "4 of 6 files") {
		t.Errorf("error %v, want 4 of 6 files could not be converted", err)
	}
	var names []string
	for _, w := range written {
		names = append(names, filepath.Base(w))
	}
	if !slices.Equal(names, []string{"odd.service", "second-volume.service"}) {
		t.Errorf("written %q", names)
	}
	all := strings.Join(warnings, "\n")
	for _, want := range []string{
		"odd.container: unknown key(s) in [Container] ignored: Frobnicate, Sparkle",
		"odd.container: unknown section [Pod]",
		"noimage.container: [Container] has no Image=",
		"bad.container: line 2",
		"missing.container: line 3: Volume: nothere.volume is not in the unit directories",
		"badbool.container: line 3: ReadOnly: \"maybe\" is not a boolean",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no warning %q in:\n%s", want, all)
		}
	}
	data, _ := os.ReadFile(filepath.Join(out, "odd.service"))
	if !strings.Contains(string(data), "--name systemd-odd") || !strings.Contains(string(data), "\tbusybox\n") {
		t.Errorf("odd.service (from the first directory, named systemd-odd):\n%s", data)
	}
}

func TestServiceName(t *testing.T) {
	for in, want := range map[string]string{"web.container": "web.service", "/x/data.volume": "data-volume.service", "n.network": "n-network.service"} {
		if got := ServiceName(in); got != want {
			t.Errorf("ServiceName(%s) = %s, want %s", in, got, want)
		}
	}
}
