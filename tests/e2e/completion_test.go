package e2e

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// completionShell runs a shell program as the e2e user, with the skiff under test
// first on PATH, and returns its stdout.
func completionShell(t *testing.T, shell string, args ...string) string {
	t.Helper()
	path, err := exec.LookPath(shell)
	if err != nil {
		t.Skipf("%s is not installed", shell)
	}
	cmd := harness.Command(harness.E2E)
	cmd.Path = "/usr/bin/timeout"
	cmd.Args = append([]string{"timeout", "60", path}, args...)
	for i, e := range cmd.Env {
		if strings.HasPrefix(e, "PATH=") {
			cmd.Env[i] = "PATH=" + filepath.Dir(harness.Binary) + ":" + strings.TrimPrefix(e, "PATH=")
		}
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %q: %v\nstdout:\n%s\nstderr:\n%s", shell, args, err, out, stderr.String())
	}
	return string(out)
}

func compLines(s string) []string { return strings.Split(strings.TrimRight(s, "\n"), "\n") }

func TestCompletion(t *testing.T) {
	parallel(t)
	name := "comp-x-" + harness.UniqueSuffix()
	runDetached(t, name, nil, "sleep", "300")
	image := busybox(t)

	t.Run("live names", func(t *testing.T) {
		r := skiff(t, "__complete", "stop", "comp").OK(t)
		if !slices.Contains(compLines(r.Stdout), name) {
			t.Errorf("__complete stop comp: %q, want %s among the lines", r.Stdout, name)
		}
		if r.Stderr != "" {
			t.Errorf("__complete stop comp wrote to stderr: %q", r.Stderr)
		}
		if r.Duration > 10*time.Second {
			t.Errorf("__complete stop comp took %s", r.Duration)
		}
		t.Logf("__complete stop comp took %s", r.Duration)
		r = skiff(t, "__complete", "rmi", harness.Registry+"/busy").OK(t)
		if !slices.Contains(compLines(r.Stdout), image+":latest") {
			t.Errorf("__complete rmi %s/busy: %q, want %s:latest", harness.Registry, r.Stdout, image)
		}
		r = skiff(t, "__complete", "run", "--rm", "comp").OK(t)
		if slices.Contains(compLines(r.Stdout), name) {
			t.Errorf("__complete run comp offered the container %s: run takes an image", name)
		}
	})

	t.Run("definitions", func(t *testing.T) {
		got := compLines(skiff(t, "__complete", "service", "").OK(t).Stdout)
		for _, w := range []string{"create", "ls", "rm", "scale"} {
			if !slices.Contains(got, w) {
				t.Errorf("__complete service '': %q, want %s", got, w)
			}
		}
		got = compLines(skiff(t, "__complete", "ps", "--fo").OK(t).Stdout)
		if !slices.Equal(got, []string{"--format"}) {
			t.Errorf("__complete ps --fo: %q, want --format", got)
		}
		got = compLines(skiff(t, "__complete", "__").OK(t).Stdout)
		if !slices.Equal(got, []string{""}) {
			t.Errorf("__complete __: %q, want no hidden command", got)
		}
		skiff(t, "__complete", "no", "such", "thing", "").OK(t).StdoutIs(t, "")
	})

	t.Run("bash", func(t *testing.T) {
		script := skiff(t, "completion", "bash").OK(t).Stdout
		// What bash-completion does on Tab: set COMP_WORDS and COMP_CWORD,
		// call the function `complete -F` registered, read COMPREPLY.
		prog := script + `
complete -p skiff >/dev/null || { echo "no completion registered"; exit 1; }
fn=$(complete -p skiff | sed -n 's/.*-F \([^ ]*\) .*/\1/p')
COMP_WORDS=(skiff stop comp); COMP_CWORD=2; COMPREPLY=()
"$fn"
printf 'stop:%s\n' "${COMPREPLY[@]}"
COMP_WORDS=(skiff p); COMP_CWORD=1; COMPREPLY=()
"$fn"
printf 'cmd:%s\n' "${COMPREPLY[@]}"
COMP_WORDS=(skiff service ''); COMP_CWORD=2; COMPREPLY=()
"$fn"
printf 'service:%s\n' "${COMPREPLY[@]}"
`
		got := compLines(completionShell(t, "bash", "--norc", "--noprofile", "-c", prog))
		for _, w := range []string{"stop:" + name, "cmd:ps", "cmd:pull", "service:scale"} {
			if !slices.Contains(got, w) {
				t.Errorf("COMPREPLY: %q, want %s", got, w)
			}
		}
		for _, n := range []string{"cmd:" + name, "stop:ps"} {
			if slices.Contains(got, n) {
				t.Errorf("COMPREPLY: %q has %s", got, n)
			}
		}
	})

	t.Run("bash in tmux", func(t *testing.T) {
		if _, err := exec.LookPath("tmux"); err != nil {
			t.Skip("tmux is not installed")
		}
		// A real interactive bash in a terminal: Tab typed by tmux.
		sock := "skiff-comp-" + harness.UniqueSuffix()
		tmux := func(args ...string) string {
			return completionShell(t, "env", append([]string{"TERM=xterm", "tmux", "-L", sock}, args...)...)
		}
		tmux("new-session", "-d", "-x", "200", "-y", "40", "bash --norc --noprofile")
		defer tmux("kill-server")
		tmux("send-keys", "source <(skiff completion bash)", "Enter")
		tmux("send-keys", "skiff sto", "Tab")
		tmux("send-keys", "comp-x-", "Tab")
		var screen string
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			screen = tmux("capture-pane", "-p")
			if strings.Contains(screen, "skiff stop "+name) {
				return
			}
		}
		t.Errorf("typing 'skiff sto<Tab>comp-x-<Tab>' in bash did not complete to 'skiff stop %s'; the screen:\n%s", name, screen)
	})

	t.Run("zsh", func(t *testing.T) {
		script := skiff(t, "completion", "zsh").OK(t).Stdout
		completionShell(t, "zsh", "-n", "-c", script)
		// Loaded after compinit, it registers itself.
		out := completionShell(t, "zsh", "-f", "-c", "autoload -Uz compinit; compinit -u -D; "+script+"\nprint ${_comps[skiff]}")
		if strings.TrimSpace(out) != "_skiff" {
			t.Errorf("zsh: _comps[skiff] = %q, want _skiff", out)
		}
	})

	t.Run("fish", func(t *testing.T) {
		script := skiff(t, "completion", "fish").OK(t).Stdout
		completionShell(t, "fish", "--no-config", "-n", "-c", script)
		got := compLines(completionShell(t, "fish", "--no-config", "-c", script+"\ncomplete -C 'skiff stop comp'\ncomplete -C 'skiff servi'"))
		for _, w := range []string{name, "service"} {
			if !slices.Contains(got, w) {
				t.Errorf("fish complete -C: %q, want %s", got, w)
			}
		}
	})
}
