package crash

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// Races: commands that change the same objects at the same time may fail
// only with one clear error line (a conflict, something not found), and
// leave nothing behind that system check would find.

// parallelRun runs each command as u at once and returns the results.
func parallelRun(t *testing.T, u *harness.User, cmds [][]string) []*harness.Result {
	t.Helper()
	res := make([]*harness.Result, len(cmds))
	var wg sync.WaitGroup
	for i, args := range cmds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i] = harness.RunAsWith(t, u, harness.RunOptions{Timeout: 5 * time.Minute}, args...)
		}()
	}
	wg.Wait()
	return res
}

// okOrClearError accepts success, or Docker's exit status of a failed
// command (125 for run, 1 for the others) with one error line that says
// what was in the way.
func okOrClearError(t *testing.T, r *harness.Result) {
	t.Helper()
	if r.ExitCode == 0 {
		return
	}
	code := 1
	if r.Args[0] == "run" {
		code = 125
	}
	r.ErrorLine(t, code, "in use|conflict|not known|no such|not found|being|already|removed|must be forced")
}

func clean(t *testing.T, u *harness.User) {
	t.Helper()
	harness.RunAs(t, u, "system", "check", "--quick").OK(t).StdoutIs(t, "No problems found\n")
	noDuplicates(t, u)
	for _, l := range harness.RunAs(t, u, "ps", "-a", "--format", "{{.Names}}").OK(t).Lines() {
		if strings.HasPrefix(l, "skiff-build-") {
			t.Errorf("a RUN container was left: %s", l)
		}
	}
}

func TestParallelBuilds(t *testing.T) {
	u := harness.E2E
	bb := harness.Images["busybox"].Ref
	harness.RunAs(t, u, "pull", "-q", bb).OK(t)
	sfx := harness.UniqueSuffix()
	var cmds [][]string
	for i := 0; i < 10; i++ {
		dir := harness.UserDir(t, u)
		df := fmt.Sprintf("FROM %s\nRUN echo same > /same\nCOPY f /f\nRUN cat /f > /g\n", bb)
		content := "shared\n"
		if i%2 == 1 { // every other build its own Dockerfile and files
			df = fmt.Sprintf("FROM %s\nRUN echo %d > /own\nCOPY f /f\n", bb, i)
			content = fmt.Sprintf("own %d\n", i)
		}
		harness.WriteUserFile(t, u, filepath.Join(dir, "Dockerfile"), []byte(df))
		harness.WriteUserFile(t, u, filepath.Join(dir, "f"), []byte(content))
		cmds = append(cmds, []string{"build", "-q", "-t", fmt.Sprintf("par-build-%s:%d", sfx, i), dir})
	}
	for i, r := range parallelRun(t, u, cmds) {
		r.OK(t)
		want := "shared\n"
		if i%2 == 1 {
			want = fmt.Sprintf("own %d\n", i)
		}
		harness.RunAs(t, u, "run", "--rm", fmt.Sprintf("par-build-%s:%d", sfx, i), "cat", "/f").OK(t).StdoutIs(t, want)
	}
	clean(t, u)
	for i := range cmds {
		harness.RunAs(t, u, "rmi", fmt.Sprintf("par-build-%s:%d", sfx, i)).OK(t)
	}
	harness.RunAs(t, u, "builder", "prune", "-f").OK(t)
}

func TestPullRacingRmi(t *testing.T) {
	u := harness.E2E
	sfx := harness.UniqueSuffix()
	img := harness.PushVariant(t, "race-pull-"+sfx, "latest", "race-pull-"+sfx).Ref
	for round := 0; round < 5; round++ {
		for _, r := range parallelRun(t, u, [][]string{
			{"pull", "-q", img}, {"rmi", "-f", img}, {"pull", "-q", img}, {"rmi", "-f", img}, {"pull", "-q", img},
		}) {
			okOrClearError(t, r)
		}
		clean(t, u)
	}
	harness.RunAs(t, u, "pull", "-q", img).OK(t)
	harness.RunAs(t, u, "run", "--rm", img, "true").OK(t)
	harness.RunAs(t, u, "rmi", "-f", img).OK(t)
}

func TestSystemPruneRacingRun(t *testing.T) {
	u := harness.E2E
	bb := harness.Images["busybox"].Ref
	harness.RunAs(t, u, "pull", "-q", bb).OK(t)
	vol := "race-vol-" + harness.UniqueSuffix()
	var cmds [][]string
	for i := 0; i < 8; i++ {
		cmds = append(cmds, []string{"run", "--rm", "-v", vol + ":/v", bb, "sh", "-c", "echo x > /v/x"})
	}
	cmds = append(cmds, []string{"system", "prune", "-a", "-f", "--volumes"}, []string{"system", "prune", "-f"}, []string{"container", "prune", "-f"})
	for _, r := range parallelRun(t, u, cmds) {
		okOrClearError(t, r)
	}
	clean(t, u)
	harness.RunAs(t, u, "run", "--rm", bb, "true").OK(t)
}
