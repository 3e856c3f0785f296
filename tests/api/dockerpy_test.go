package api

import (
	"strings"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// TestDockerPy runs testdata/dockerpy_judge.py with Debian's docker-py:
// once negotiating the API version (version='auto', docker-py 5's default),
// once pinned to 1.41 (what older SDKs and tools send). The script prints a
// FAIL: line per mismatch.
func TestDockerPy(t *testing.T) {
	for _, mode := range []string{"auto", "1.41"} {
		t.Run(mode, func(t *testing.T) {
			parallel(t)
			bb := busybox(t)
			r := harness.PythonWith(t, user(), harness.RunOptions{Timeout: 4 * time.Minute},
				testdata(t, "dockerpy_judge.py"), mode, bb, harness.UniqueSuffix())
			if r.ExitCode != 0 || !strings.Contains(r.Stdout, "all docker-py checks passed") {
				t.Errorf("%s: exit %d\n%s", r.Cmdline(), r.ExitCode, r.Output())
			}
		})
	}
}
