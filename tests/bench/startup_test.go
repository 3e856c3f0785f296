package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/skiff-project/skiff/tests/harness"
)

// startupTarget is the goal for the read-only commands: at most
// this multiple of a hello-world Go binary's start.
const startupTarget = 2.0

// startupContainer is the container `inspect CTR` reads.
const startupContainer = "skiff-bench-startup"

// helloSource is the yardstick: the smallest Go program, built by the
// installed toolchain, so that the Go runtime's own start is in both.
const helloSource = `package main

import "fmt"

func main() { fmt.Println("hello, world") }
`

// buildHello builds the hello-world binary in a temporary directory the
// test user can read and returns its path.
func buildHello(b *testing.B) string {
	b.Helper()
	// Not b.TempDir(): its parent is private to root.
	dir, err := os.MkdirTemp("", "skiff-bench-hello-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	files := map[string]string{"main.go": helloSource, "go.mod": "module hello\n\ngo 1.22\n"}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		if goBin, err = exec.LookPath("go"); err != nil {
			b.Skipf("no go toolchain to build the hello-world yardstick: %v", err)
		}
	}
	cmd := exec.Command(goBin, "build", "-o", "hello", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("building the hello-world binary: %v\n%s", err, out)
	}
	return filepath.Join(dir, "hello")
}

// startupCase is one timed command: a label and the engine that runs it.
type startupCase struct {
	label string
	e     *engine
	args  []string
}

// startupCases are the hello-world yardstick first, then skiff's commands
// that only read, and --version (the binary's start with no work).
func startupCases(hello, image string) []startupCase {
	u := harness.E2E
	helloEngine := &engine{name: "hello", command: func(ctx context.Context, args ...string) *exec.Cmd {
		return harness.UserCommandContext(ctx, u, hello, args...)
	}}
	skiff := &engine{name: "skiff", command: func(ctx context.Context, args ...string) *exec.Cmd {
		return harness.UserCommandContext(ctx, u, harness.Binary, args...)
	}}
	return []startupCase{
		{"hello-world Go binary", helloEngine, nil},
		{"skiff --version", skiff, []string{"--version"}},
		{"skiff ps -a", skiff, []string{"ps", "-a"}},
		{"skiff images", skiff, []string{"images"}},
		{"skiff inspect CTR", skiff, []string{"inspect", startupContainer}},
		{"skiff inspect IMG", skiff, []string{"inspect", image}},
	}
}

// BenchmarkStartup times the start of the big skiff binary against a
// hello-world Go binary's, in one interleaved loop, as the test user: the
// commands that only read (ps -a, images, inspect of a container and of an
// image) and --version. It prints each median and its multiple of
// hello-world's, with the target for the reading commands.
func BenchmarkStartup(b *testing.B) {
	harness.Need(b)
	hello := buildHello(b)
	image, ok := harness.Images["busybox"]
	if !ok {
		b.Fatal("the harness pushed no busybox image")
	}
	cases := startupCases(hello, image.Ref)
	skiff := cases[1].e
	if out, err := runOnce(skiff, "pull", "-q", image.Ref); err != nil {
		b.Fatalf("skiff pull %s: %v\n%s", image.Ref, err, out)
	}
	_, _ = runOnce(skiff, "rm", "-f", startupContainer)
	if out, err := runOnce(skiff, "create", "--name", startupContainer, image.Ref, "true"); err != nil {
		b.Fatalf("skiff create: %v\n%s", err, out)
	}
	defer func() {
		if out, err := runOnce(skiff, "rm", "-f", startupContainer); err != nil {
			b.Errorf("skiff rm -f %s: %v\n%s", startupContainer, err, out)
		}
	}()
	res := make([]*stats, len(cases))
	for i := range res {
		res[i] = &stats{}
	}
	n := runs()
	for i := -warmups; i < n; i++ {
		// Rotate the order each iteration, so that no command always
		// follows the same one.
		for k := range cases {
			j := (k + i + warmups) % len(cases)
			c := cases[j]
			d, out, warn, err := timed(c.e, c.args...)
			if err != nil {
				b.Fatalf("%s, run %d: %v\n%s", c.label, i, err, out)
			}
			res[j].noteStderr(warn)
			if i >= 0 {
				res[j].samples = append(res[j].samples, d)
			}
		}
	}
	reportStartup(b, cases, res)
}

// reportStartup prints each command's median and p90 and its multiple of
// the hello-world binary's median.
func reportStartup(b *testing.B, cases []startupCase, res []*stats) {
	b.ReportMetric(0, "ns/op")
	base := res[0].median()
	fmt.Printf("start-up as %s (%d runs each, interleaved, median / p90; multiple of hello-world's median):\n",
		harness.E2E.Name, len(res[0].samples))
	for i, c := range cases {
		s := res[i]
		line := fmt.Sprintf("    %-24s %6.1f ms / %6.1f ms", c.label, ms(s.median()), ms(s.p90()))
		metric := strings.NewReplacer(" ", "_", "-", "").Replace(strings.TrimPrefix(c.label, "skiff "))
		b.ReportMetric(ms(s.median()), metric+"_ms")
		if i > 0 && base > 0 {
			x := float64(s.median()) / float64(base)
			line += fmt.Sprintf("   %5.2fx hello-world", x)
			if c.label != "skiff --version" {
				line += fmt.Sprintf(" (target <= %.1fx)", startupTarget)
			}
			b.ReportMetric(x, metric+"_x_hello")
		}
		fmt.Println(line)
		for _, l := range s.stderr {
			fmt.Printf("        stderr (successful runs): %s\n", l)
		}
	}
}
