package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// Docker's muscle memory: --version/-v, -h/--help on every command,
// flags after the arguments.

func TestCLIVersionFlag(t *testing.T) {
	parallel(t)
	for _, flag := range []string{"--version", "-v"} {
		r := skiff(t, flag).OK(t)
		if !strings.HasPrefix(r.Stdout, "skiff version ") || len(r.Lines()) != 1 {
			t.Errorf("skiff %s: want one line \"skiff version …\"\n%s", flag, r.Output())
		}
	}
}

func TestCLIHelpEverywhere(t *testing.T) {
	parallel(t)
	cmds := [][]string{
		{"ps"}, {"images"}, {"rm"}, {"stop"}, {"logs"}, {"exec"}, {"top"}, {"inspect"}, {"pull"}, {"build"},
		{"network", "ls"}, {"network", "create"}, {"volume", "ls"}, {"image", "ls"}, {"container", "ls"},
		{"system", "prune"}, {"system", "df"}, {"cp"}, {"commit"}, {"save"}, {"load"}, {"wait"}, {"kill"},
	}
	for _, c := range cmds {
		for _, h := range []string{"-h", "--help"} {
			r := skiff(t, append(c, h)...)
			if r.ExitCode != 0 || !strings.Contains(r.Stdout, "USAGE") || r.Stderr != "" {
				t.Errorf("skiff %s %s: want the command's help on stdout and exit 0\n%s", strings.Join(c, " "), h, r.Output())
			}
		}
	}
	// run and create: --help is help, -h is --hostname, as in Docker.
	for _, c := range []string{"run", "create", "container run"} {
		r := skiff(t, append(strings.Fields(c), "--help")...)
		if r.ExitCode != 0 || !strings.Contains(r.Stdout, "--hostname") {
			t.Errorf("skiff %s --help: want help naming --hostname\n%s", c, r.Output())
		}
	}
	// Help asked for after arguments, or before run's image, is help.
	for _, c := range []string{"rm web --help", "network rm web -h", "logs -f web --help", "run --help busybox", "create --help busybox true"} {
		r := skiff(t, strings.Fields(c)...).OK(t)
		if want := "skiff " + strings.Fields(c)[0]; !strings.Contains(r.Stdout, want) || !strings.Contains(r.Stdout, "USAGE") {
			t.Errorf("skiff %s: want the help of %q\n%s", c, want, r.Output())
		}
	}
	// help CMD SUB is SUB's help, as Docker's help.
	for _, c := range [][]string{{"network", "create"}, {"volume", "ls"}, {"run"}} {
		r := skiff(t, append([]string{"help"}, c...)...).OK(t)
		if want := "skiff " + strings.Join(c, " ") + " - "; !strings.Contains(r.Stdout, want) {
			t.Errorf("skiff help %s: want the help of %q\n%s", strings.Join(c, " "), want, r.Output())
		}
	}
	if out := runOut(t, []string{"-h", "helpful"}, "hostname"); out != "helpful\n" {
		t.Errorf("run -h helpful hostname printed %q: -h must stay --hostname for run", out)
	}
}

func TestCLIFlagsAfterArguments(t *testing.T) {
	parallel(t)
	name := lcName("flags-after")
	runDetached(t, name, nil, idleCmd...)
	skiff(t, "logs", name, "--tail", "1").OK(t)
	skiff(t, "inspect", name, "--format", "{{.State.Status}}").OK(t).StdoutIs(t, "running\n")
	skiff(t, "stop", name, "--timeout", "1").OK(t).StdoutIs(t, name+"\n")
	skiff(t, "start", name).OK(t)
	skiff(t, "rm", name, "-f").OK(t).StdoutIs(t, name+"\n")
	if got := psNames(t, "-a", "-q", "--filter", "name="+name); len(got) != 0 {
		t.Errorf("rm NAME -f left %v", got)
	}
	// A container's own command line keeps its flags.
	if out := runOut(t, nil, "echo", "-n", "x", "-f"); out != "x -f" {
		t.Errorf("run IMAGE echo -n x -f printed %q, want %q", out, "x -f")
	}
}

func TestCLILogLevel(t *testing.T) {
	parallel(t)
	for _, args := range [][]string{{"--log-level", "debug", "ps"}, {"-D", "ps"}, {"-l", "debug", "ps", "-a"}} {
		r := skiff(t, args...).OK(t)
		if !strings.Contains(r.Stderr, "level=DEBUG") || !strings.Contains(r.Stderr, "engine ready") {
			t.Errorf("skiff %s: want debug lines on stderr\n%s", strings.Join(args, " "), r.Output())
		}
	}
	if r := skiff(t, "ps").OK(t); r.Stderr != "" {
		t.Errorf("skiff ps at the default level wrote to stderr:\n%s", r.Output())
	}
	skiff(t, "--log-level", "chatty", "ps").ErrorLine(t, errExit, "chatty", "debug")
}

// Each supervisor keeps a small log of what it did in its container's
// directory, and info says where.
func TestSupervisorLog(t *testing.T) {
	parallel(t)
	name := lcName("suplog")
	id := runDetached(t, name, []string{"--restart", "on-failure:1"}, "sh", "-c", "sleep 0.3; exit 3")
	waitStatus(t, harness.E2E, name, "exited", 20*time.Second)
	path := filepath.Join(harness.E2E.DataDir(), "containers", id, "supervisor.log")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no supervisor log: %v", err)
	}
	for _, want := range []string{"supervising container " + id, "started: pid", "exited with status 3; restart 1 by policy on-failure", "container exited with status 3"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("supervisor.log lacks %q:\n%s", want, data)
		}
	}
	if r := skiff(t, "info").OK(t); !strings.Contains(r.Stdout, "supervisor.log") {
		t.Errorf("info does not say where the supervisor logs are:\n%s", r.Stdout)
	}
}

// A relative bind source is the caller's directory, whatever directory
// the supervisor runs in, and inspect shows that path.
func TestRelativeBindSourceIsTheCallersDirectory(t *testing.T) {
	parallel(t)
	work := harness.UserDir(t, harness.E2E)
	etc := filepath.Join(work, "etc")
	must(t, os.Mkdir(etc, 0o755))
	must(t, os.WriteFile(filepath.Join(etc, "marker"), []byte("mine\n"), 0o644))
	must(t, os.Chown(etc, harness.E2E.UID, harness.E2E.GID))
	in := harness.RunOptions{Dir: work}
	r := skiffWith(t, in, "run", "--rm", "-v", "./etc:/x:ro", busybox(t), "ls", "/x").OK(t)
	if r.Stdout != "marker\n" {
		t.Errorf("-v ./etc:/x lists %q, want the caller's ./etc (marker), not the host's /etc", r.Stdout)
	}
	r = skiffWith(t, in, "run", "--rm", "-v", ".:/src", busybox(t), "ls", "/src").OK(t)
	if r.Stdout != "etc\n" {
		t.Errorf("-v .:/src lists %q, want the caller's directory (etc)", r.Stdout)
	}
	name := lcName("relbind")
	skiffWith(t, in, "create", "--name", name, "--mount", "type=bind,source=etc,target=/m", "-v", "./etc:/x", busybox(t), "cat", "/x/marker", "/m/marker").OK(t)
	rmOnCleanup(t, harness.E2E, name)
	var binds []string
	must(t, json.Unmarshal([]byte(skiff(t, "inspect", "--format", "{{json .HostConfig.Binds}}", name).OK(t).Stdout), &binds))
	if len(binds) != 1 || binds[0] != etc+":/x" {
		t.Errorf("HostConfig.Binds %q, want [%s:/x]", binds, etc)
	}
	// Started from another directory, it still mounts the same one.
	skiff(t, "start", "-a", name).OK(t).StdoutIs(t, "mine\nmine\n")
	// From a subdirectory, ../etc is the same directory again.
	sub := filepath.Join(work, "sub")
	must(t, os.Mkdir(sub, 0o755))
	must(t, os.Chown(sub, harness.E2E.UID, harness.E2E.GID))
	skiffWith(t, harness.RunOptions{Dir: sub}, "run", "--rm", "-v", "../etc:/y:ro", busybox(t), "cat", "/y/marker").OK(t).StdoutIs(t, "mine\n")
}

// A mount over the container's root is refused when the container is
// created, in one line, and nothing is made.
func TestMountOverRootRefused(t *testing.T) {
	parallel(t)
	name := lcName("rootmount")
	for _, flags := range [][]string{{"-v", "/tmp:/"}, {"--mount", "type=bind,source=/tmp,target=/"}, {"-v", "data:/."}, {"--tmpfs", "/"}} {
		r := skiff(t, append(append([]string{"create", "--name", name}, flags...), busybox(t), "true")...)
		r.ErrorLine(t, runExit, "/", "cannot be /")
		if got := psNames(t, "-a", "-q", "--filter", "name="+name); len(got) != 0 {
			t.Errorf("%v: a refused create left %v", flags, got)
		}
	}
	// The options are refused before a missing image is pulled: nothing
	// listens on 127.0.0.1:1, so a pull would fail with another error.
	skiff(t, "run", "--rm", "-v", "/tmp:/", "127.0.0.1:1/skiff-absent:1", "true").ErrorLine(t, runExit, "cannot be /")
}
