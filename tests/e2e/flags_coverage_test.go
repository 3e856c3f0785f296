package e2e

// Flag coverage: which of Docker's flags skiff has (from `docker CMD --help`
// and `skiff CMD --help`, logged per command), and a check that every flag
// skiff's help lists is used by some test of tests/e2e or tests/api, so no
// flag goes untested.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// flagExemptions are the flags whose end-to-end test lives outside
// tests/e2e and tests/api: "COMMAND --flag" -> where it is tested. Keep it
// short; every other flag needs a test here that types it.
var flagExemptions = map[string]string{
	// system check repairs what killed commands leave, which only the
	// crash suite can make.
	"system check --repair": "tests/crash/crash_test.go (skiff system check --repair after kills)",
}

// dockerSkipped are Docker's commands that have no single-host meaning
// for skiff: swarm's own, plugins, trust, contexts, checkpoints (refused,
// see TestCheckpointRefused), and CLI plugins (buildx, compose).
var dockerSkipped = map[string]bool{
	"config": true, "node": true, "secret": true, "stack": true, "swarm": true, "plugin": true,
	"trust": true, "context": true, "checkpoint": true, "buildx": true, "compose": true,
}

func TestFlagsCoverage(t *testing.T) {
	parallel(t)
	sources := testSources(t)
	var missing []string
	for _, path := range skiffCommands(t) {
		for _, names := range helpFlags(skiffHelp(t, path), skiffFlagLine) {
			key := strings.TrimSpace(strings.Join(path, " ") + " " + names[0])
			if _, ok := flagExemptions[key]; ok || usedInTests(sources, names) {
				continue
			}
			missing = append(missing, fmt.Sprintf("skiff %s: %s", key, strings.Join(names, ", ")))
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("%d flags of skiff's help appear in no test of tests/e2e or tests/api; add an end-to-end test that uses each (or, if its test lives elsewhere, a commented entry in flagExemptions):\n  %s",
			len(missing), strings.Join(missing, "\n  "))
	}
	logDockerCoverage(t)
}

// logDockerCoverage logs, per Docker command, how many of its flags skiff
// has, the missing ones, and the totals.
func logDockerCoverage(t *testing.T) {
	if _, err := exec.LookPath("docker"); err != nil {
		t.Logf("no docker CLI here: coverage against Docker's flags not measured")
		return
	}
	var have, total int
	var lines, absent []string
	for _, path := range dockerCommands(t) {
		dflags := longNames(helpFlags(dockerHelp(t, path), dockerFlagLine))
		name := strings.Join(path, " ")
		help, ok := skiffHelpIfAny(t, path)
		if !ok {
			absent = append(absent, name)
			total += len(dflags)
			continue
		}
		sflags := map[string]bool{}
		for _, n := range longNames(helpFlags(help, skiffFlagLine)) {
			sflags[n] = true
		}
		var miss []string
		n := 0
		for _, f := range dflags {
			if sflags[f] {
				n++
			} else {
				miss = append(miss, f)
			}
		}
		have, total = have+n, total+len(dflags)
		line := fmt.Sprintf("%-22s %3d/%-3d", name, n, len(dflags))
		if len(miss) > 0 {
			line += "  missing: " + strings.Join(miss, " ")
		}
		lines = append(lines, line)
	}
	pct := 0.0
	if total > 0 {
		pct = 100 * float64(have) / float64(total)
	}
	t.Logf("Docker's flags skiff has: %d of %d (%.0f%%), per command (skiff/docker):\n  %s\nDocker commands skiff does not have: %s",
		have, total, pct, strings.Join(lines, "\n  "), strings.Join(absent, ", "))
}

// skiffCommands are skiff's commands as its help lists them: every
// top-level command and every subcommand of a group; nil is the global
// flags.
func skiffCommands(t *testing.T) [][]string {
	paths := [][]string{nil}
	for _, c := range helpCommands(skiffHelp(t, nil), "COMMANDS:") {
		paths = append(paths, []string{c})
		for _, s := range helpCommands(skiffHelp(t, []string{c}), "COMMANDS:") {
			paths = append(paths, []string{c, s})
		}
	}
	return paths
}

// dockerCommands are Docker's single-host commands and their subcommands.
func dockerCommands(t *testing.T) [][]string {
	var paths [][]string
	top := dockerHelp(t, nil)
	for _, section := range []string{"Common Commands:", "Management Commands:", "Swarm Commands:", "Commands:"} {
		for _, c := range helpCommands(top, section) {
			if dockerSkipped[c] {
				continue
			}
			subs := helpCommands(dockerHelp(t, []string{c}), "Commands:")
			if len(subs) == 0 {
				paths = append(paths, []string{c})
			}
			for _, s := range subs {
				paths = append(paths, []string{c, s})
			}
		}
	}
	return paths
}

func skiffHelp(t *testing.T, path []string) string {
	t.Helper()
	return skiff(t, append(append([]string{}, path...), "--help")...).OK(t).Stdout
}

// skiffHelpIfAny is skiff's help for a Docker command, and whether skiff
// has that command.
func skiffHelpIfAny(t *testing.T, path []string) (string, bool) {
	r := skiff(t, append(append([]string{}, path...), "--help")...)
	return r.Stdout, r.ExitCode == 0 && strings.Contains(r.Stdout, "USAGE")
}

func dockerHelp(t *testing.T, path []string) string {
	t.Helper()
	cmd := exec.Command("docker", append(append([]string{}, path...), "--help")...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir(), "DOCKER_CLI_HINTS=false")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("docker %s --help: %v\n%s", strings.Join(path, " "), err, out)
	}
	return string(out)
}

// helpSection is the lines of one section of a help text ("Options:",
// "COMMANDS:"), up to the next heading.
func helpSection(help, heading string) []string {
	var out []string
	in := false
	for _, l := range strings.Split(help, "\n") {
		switch {
		case strings.TrimSpace(l) == heading && !strings.HasPrefix(l, "  "):
			in = true
		case in && l != "" && !strings.HasPrefix(l, " "):
			in = false
		case in:
			out = append(out, l)
		}
	}
	return out
}

var commandLine = regexp.MustCompile(`^\s+([a-z][\w-]*)(\*)?[\s,]`)

// helpCommands are the command names a section lists (CLI plugins, marked
// *, and help left out).
func helpCommands(help, heading string) []string {
	var out []string
	for _, l := range helpSection(help, heading) {
		if m := commandLine.FindStringSubmatch(l + " "); m != nil && m[2] == "" && m[1] != "help" {
			out = append(out, m[1])
		}
	}
	return out
}

var (
	// skiffFlagLine: "   --time value, -t value, --timeout value  usage".
	skiffFlagLine = regexp.MustCompile(`^\s+(-[^\s].*?)(\s{2,}|$)`)
	// dockerFlagLine: "  -f, --force   usage" or "      --filter filter  usage".
	dockerFlagLine = regexp.MustCompile(`^\s+((?:-\w, )?--[\w-]+)`)
)

// helpFlags are the flags an options section lists, each as its names
// (--long first as written, then aliases); --help is left out.
func helpFlags(help string, line *regexp.Regexp) [][]string {
	var out [][]string
	for _, heading := range []string{"OPTIONS:", "GLOBAL OPTIONS:", "Options:"} {
		for _, l := range helpSection(help, heading) {
			m := line.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			var names []string
			for _, part := range strings.Split(m[1], ", ") {
				if n := strings.Fields(part); len(n) > 0 && strings.HasPrefix(n[0], "-") {
					names = append(names, n[0])
				}
			}
			if len(names) > 0 && !contains(names, "--help") {
				out = append(out, names)
			}
		}
	}
	return out
}

// longNames are the --long names of flags.
func longNames(flags [][]string) []string {
	var out []string
	for _, names := range flags {
		for _, n := range names {
			if strings.HasPrefix(n, "--") {
				out = append(out, n)
			}
		}
	}
	return out
}

// testSources is the Go source of tests/e2e and tests/api, this file left
// out (its exemptions name flags).
func testSources(t *testing.T) string {
	var b strings.Builder
	for _, pattern := range []string{"*.go", filepath.Join("..", "api", "*.go")} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if filepath.Base(f) == "flags_coverage_test.go" {
				continue
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			b.Write(data)
			b.WriteByte('\n')
		}
	}
	if b.Len() == 0 {
		wd, _ := os.Getwd()
		t.Fatalf("no test sources found from %s", wd)
	}
	return b.String()
}

// usedInTests reports whether a test types one of the flag's names: a
// long name anywhere (--name, --name=, "--name"), a short one as its own
// word ("-n", "-n=…", or -n between spaces in a command line).
func usedInTests(src string, names []string) bool {
	for _, n := range names {
		var re string
		if strings.HasPrefix(n, "--") {
			re = regexp.QuoteMeta(n) + `(?:[^\w-]|$)`
		} else {
			re = `(?:^|[\s"])` + regexp.QuoteMeta(n) + `(?:[\s"=]|$)`
		}
		if regexp.MustCompile(re).MatchString(src) {
			return true
		}
	}
	return false
}
