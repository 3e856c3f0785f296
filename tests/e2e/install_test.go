package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// install.sh and uninstall.sh cannot run for real here: they would replace
// the system install the suites use. install.sh, sourced, only defines its
// functions (main sets mode, bindir, manifest, target_user), so these tests
// call its pieces with a fake root, a throwaway HOME or a fake PATH.
// uninstall.sh --user runs for real, as skiff-e2e, on an install recorded
// in a throwaway HOME.

// scriptsFor copies install.sh, uninstall.sh and the AppArmor profile into
// a directory u can read, as a checkout would hold them, and returns it.
func scriptsFor(t *testing.T, u *harness.User) string {
	t.Helper()
	dir := harness.UserDir(t, u)
	for _, f := range []string{"install.sh", "uninstall.sh", "contrib/apparmor/skiff"} {
		data, err := os.ReadFile(filepath.Join("..", "..", f))
		must(t, err)
		must(t, os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755))
		must(t, os.WriteFile(filepath.Join(dir, f), data, 0o755))
	}
	return dir
}

// userEnv is u's environment with env on top (later entries win).
func userEnv(u *harness.User, env ...string) []string { return append(u.Env(), env...) }

// sourced runs bash as u in dir (from scriptsFor) with env, sources
// install.sh, then runs script; it fails t unless bash exits 0.
func sourced(t *testing.T, u *harness.User, dir string, env []string, script string) (stdout, stderr string) {
	t.Helper()
	cmd := harness.UserCommand(u, "/bin/bash", "-c", "source ./install.sh\n"+script)
	cmd.Env, cmd.Dir = env, dir
	out, errOut := runCmd(t, cmd)
	return out, errOut
}

// runCmd runs cmd with a minute's limit and fails t unless it exits 0.
func runCmd(t *testing.T, cmd *exec.Cmd) (stdout, stderr string) {
	t.Helper()
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	done := make(chan error, 1)
	must(t, cmd.Start())
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(cmd.Args, " "), err, o.String(), e.String())
		}
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%s did not finish within a minute\nstdout:\n%s\nstderr:\n%s", strings.Join(cmd.Args, " "), o.String(), e.String())
	}
	return o.String(), e.String()
}

// parserVersion is the major version apparmor_parser at path reports, or 0.
func parserVersion(path string) int {
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return 0
	}
	m := regexp.MustCompile(`version (\d+)\.`).FindSubmatch(out)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// apparmor4Parser is an apparmor_parser that knows the userns rule (AppArmor
// 4): SKIFF_APPARMOR_PARSER, the one make judges fetches, or the host's.
func apparmor4Parser(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("SKIFF_APPARMOR_PARSER"), filepath.Join("..", "..", ".cache", "judges", "apparmor", "apparmor_parser"), "/usr/sbin/apparmor_parser", "/sbin/apparmor_parser"} {
		if p != "" && parserVersion(p) >= 4 {
			abs, err := filepath.Abs(p)
			must(t, err)
			return abs
		}
	}
	t.Skip("no AppArmor 4 apparmor_parser here (Debian 12's 3.0 predates the userns rule): make judges fetches Debian 13's into .cache/judges/apparmor")
	return ""
}

func TestInstallAppArmorProfile(t *testing.T) {
	parallel(t)
	parser := apparmor4Parser(t)
	u := harness.Root
	dir := scriptsFor(t, u)

	t.Run("parses", func(t *testing.T) {
		for _, bindir := range []string{"/usr/local/bin", "/home/bob/.local/bin"} {
			text, _ := sourced(t, u, dir, u.Env(), "bindir="+bindir+"; apparmor_text")
			for _, want := range []string{
				"abi <abi/4.0>,", "profile skiff " + bindir + "/skiff flags=(unconfined) {",
				"profile skiff-supervisor " + bindir + "/skiff-supervisor flags=(unconfined) {", "  userns,",
				"profile skiff-start " + bindir + "/skiff-start flags=(unconfined) {",
				"profile skiff-kube " + bindir + "/skiff-kube flags=(unconfined) {",
			} {
				if !strings.Contains(text, want) {
					t.Errorf("the profile for %s lacks %q:\n%s", bindir, want, text)
				}
			}
			if strings.Contains(text, "@BINDIR@") {
				t.Errorf("@BINDIR@ left in the profile for %s", bindir)
			}
			f := filepath.Join(t.TempDir(), "skiff")
			must(t, os.WriteFile(f, []byte(text), 0o644))
			if out, err := exec.Command(parser, "-Q", f).CombinedOutput(); err != nil {
				t.Errorf("apparmor_parser -Q: %v\n%s", err, out)
			}
			// The parser does judge the rules: a broken one fails.
			must(t, os.WriteFile(f, []byte(strings.Replace(text, "userns,", "userns bogus,", 1)), 0o644))
			if out, err := exec.Command(parser, "-Q", f).CombinedOutput(); err == nil {
				t.Errorf("apparmor_parser -Q accepted a broken profile:\n%s", out)
			}
		}
	})

	// aaRoot is a fake root for install.sh's AA_* settings: AppArmor's
	// enabled flag, the restriction sysctl, /etc/apparmor.d, and a parser
	// that logs its arguments and, for -r, checks instead of loading.
	aaRoot := func(t *testing.T, enabled, restricted, realParser string) (env []string, root string) {
		root = t.TempDir()
		must(t, os.WriteFile(filepath.Join(root, "enabled"), []byte(enabled+"\n"), 0o644))
		must(t, os.WriteFile(filepath.Join(root, "restrict"), []byte(restricted+"\n"), 0o644))
		fake := fmt.Sprintf("#!/bin/sh\necho \"$*\" >>%s/log\n[ \"$1\" = -r ] && { shift; set -- -Q \"$@\"; }\nexec %s \"$@\"\n", root, realParser)
		must(t, os.WriteFile(filepath.Join(root, "parser"), []byte(fake), 0o755))
		return []string{"FAKE=" + root}, root
	}
	const call = `AA_ENABLED=$FAKE/enabled AA_RESTRICT=$FAKE/restrict AA_DIR=$FAKE/apparmor.d AA_PARSER=$FAKE/parser
manifest=$FAKE/manifest bindir=/usr/local/bin
apparmor_profile`

	t.Run("installed and loaded", func(t *testing.T) {
		env, root := aaRoot(t, "Y", "1", parser)
		out, errOut := sourced(t, u, dir, userEnv(u, env...), "mode=system\n"+call)
		profile := root + "/apparmor.d/skiff"
		if !strings.Contains(out, "installed and loaded the AppArmor profile "+profile) || errOut != "" && strings.Contains(errOut, "WARNING") {
			t.Errorf("stdout:\n%s\nstderr:\n%s", out, errOut)
		}
		want, _ := sourced(t, u, dir, u.Env(), "bindir=/usr/local/bin; apparmor_text")
		if got, err := os.ReadFile(profile); err != nil || string(got) != want {
			t.Errorf("%s: %v\n%s\nwant the profile for /usr/local/bin", profile, err, got)
		}
		log, _ := os.ReadFile(root + "/log")
		if string(log) != "-Q "+profile+".tmp\n-r "+profile+"\n" {
			t.Errorf("apparmor_parser calls:\n%s\nwant it checked (-Q), then loaded (-r)", log)
		}
		manifest, _ := os.ReadFile(root + "/manifest")
		for _, l := range []string{"file " + profile, "apparmor " + profile} {
			if !strings.Contains(string(manifest), l+"\n") {
				t.Errorf("the manifest lacks %q (uninstall.sh unloads and removes by it):\n%s", l, manifest)
			}
		}
	})

	t.Run("AppArmor disabled", func(t *testing.T) {
		env, root := aaRoot(t, "N", "0", parser)
		out, errOut := sourced(t, u, dir, userEnv(u, env...), "mode=system\n"+call)
		if out+errOut != "" {
			t.Errorf("with AppArmor disabled, install.sh said:\n%s%s", out, errOut)
		}
		for _, f := range []string{"apparmor.d/skiff", "log", "manifest"} {
			if _, err := os.Stat(filepath.Join(root, f)); err == nil {
				t.Errorf("with AppArmor disabled, install.sh wrote %s", f)
			}
		}
	})

	t.Run("--user", func(t *testing.T) {
		env, root := aaRoot(t, "Y", "1", parser)
		_, errOut := sourced(t, u, dir, userEnv(u, env...), "mode=user\n"+call)
		if !strings.Contains(errOut, "WARNING: a --user install cannot load AppArmor profiles") || !strings.Contains(errOut, "skiff system doctor") {
			t.Errorf("--user where user namespaces are restricted: %q", errOut)
		}
		if _, err := os.Stat(root + "/log"); err == nil {
			t.Error("--user ran apparmor_parser")
		}
		must(t, os.WriteFile(root+"/restrict", []byte("0\n"), 0o644))
		if out, errOut := sourced(t, u, dir, userEnv(u, env...), "mode=user\n"+call); out+errOut != "" {
			t.Errorf("--user without the restriction said:\n%s%s", out, errOut)
		}
	})

	t.Run("AppArmor 3 parser", func(t *testing.T) {
		old := ""
		for _, p := range []string{"/usr/sbin/apparmor_parser", "/sbin/apparmor_parser"} {
			if v := parserVersion(p); v > 0 && v < 4 {
				old = p
			}
		}
		if old == "" {
			t.Skip("no AppArmor 3 apparmor_parser here (Debian 12's apparmor package has one)")
		}
		env, root := aaRoot(t, "Y", "0", old)
		out, _ := sourced(t, u, dir, userEnv(u, env...), "mode=system\n"+call)
		if !strings.Contains(out, "predates the userns rule, and user namespaces are not restricted here") {
			t.Errorf("AppArmor 3, no restriction: %q", out)
		}
		if _, err := os.Stat(root + "/apparmor.d/skiff"); err == nil {
			t.Error("a profile the parser rejects was installed")
		}
		must(t, os.WriteFile(root+"/restrict", []byte("1\n"), 0o644))
		if _, errOut := sourced(t, u, dir, userEnv(u, env...), "mode=system\n"+call); !strings.Contains(errOut, "WARNING: "+root+"/parser rejects skiff's AppArmor profile") {
			t.Errorf("AppArmor 3 where user namespaces are restricted: %q", errOut)
		}
	})
}

// fakePath is a PATH directory for u with only the tools install.sh's
// docker_shim needs, and a docker CLI when withDocker.
func fakePath(t *testing.T, u *harness.User, withDocker bool) string {
	d := harness.UserDir(t, u)
	for _, tool := range []string{"grep", "mkdir", "chmod", "mv", "dirname"} {
		p, err := exec.LookPath(tool)
		must(t, err)
		must(t, os.Symlink(p, filepath.Join(d, tool)))
	}
	if withDocker {
		must(t, os.WriteFile(filepath.Join(d, "docker"), []byte("#!/bin/sh\necho the real docker\n"), 0o755))
	}
	return d
}

func TestInstallDockerShim(t *testing.T) {
	parallel(t)
	u := harness.Root
	dir := scriptsFor(t, u)
	shim := func(t *testing.T, path string) (bindir, out string) {
		bindir = t.TempDir()
		must(t, os.Symlink(harness.Binary, filepath.Join(bindir, "skiff")))
		out, _ = sourced(t, u, dir, userEnv(u, "PATH="+path, "BINDIR="+bindir),
			"mode=system bindir=$BINDIR manifest=$BINDIR/manifest; docker_shim")
		return bindir, out
	}

	t.Run("no docker CLI", func(t *testing.T) {
		bindir, out := shim(t, fakePath(t, u, false))
		if !strings.Contains(out, "installed "+bindir+"/docker") {
			t.Errorf("docker_shim said %q", out)
		}
		r, err := exec.Command(bindir+"/docker", "--version").CombinedOutput()
		if err != nil || !strings.HasPrefix(string(r), "skiff version ") {
			t.Errorf("the shim's docker --version: %v %q, want skiff's", err, r)
		}
		manifest, _ := os.ReadFile(bindir + "/manifest")
		if !strings.Contains(string(manifest), "shim "+bindir+"/docker\n") {
			t.Errorf("the manifest lacks the shim (uninstall.sh removes it by that line):\n%s", manifest)
		}
	})

	t.Run("docker CLI installed", func(t *testing.T) {
		path := fakePath(t, u, true)
		bindir, out := shim(t, path)
		if out != "==> not installing the docker shim: the docker CLI is installed ("+path+"/docker); point it at skiff with docker context use skiff\n" {
			t.Errorf("docker_shim with a docker CLI said %q, want one line saying why not", out)
		}
		for _, f := range []string{"docker", "manifest"} {
			if _, err := os.Stat(filepath.Join(bindir, f)); err == nil {
				t.Errorf("docker_shim with a docker CLI wrote %s", f)
			}
		}
	})
}

// contextHost is the docker context skiff's endpoint, as u with env.
func contextHost(t *testing.T, u *harness.User, env []string) string {
	t.Helper()
	cmd := harness.UserCommand(u, harness.DockerCLI(t), "context", "inspect", "skiff", "--format", "{{.Endpoints.docker.Host}}")
	cmd.Env = env
	out, _ := runCmd(t, cmd)
	return strings.TrimSpace(out)
}

// systemdSessions reports whether install.sh takes /run/user/UID as u's
// runtime directory (systemd runs here, or the directory exists).
func systemdSessions(u *harness.User) bool {
	_, err1 := os.Stat("/run/systemd/system")
	_, err2 := os.Stat(fmt.Sprintf("/run/user/%d", u.UID))
	return err1 == nil || err2 == nil
}

func TestInstallDockerContext(t *testing.T) {
	parallel(t)
	u := harness.E2E
	docker := harness.DockerCLI(t)
	dir := scriptsFor(t, u)
	path := "PATH=" + filepath.Dir(docker) + ":/usr/bin:/bin:/usr/sbin:/sbin"

	t.Run("as the user", func(t *testing.T) {
		home := harness.UserDir(t, u)
		run := filepath.Join(home, "run")
		must(t, os.Mkdir(run, 0o700))
		must(t, os.Chown(run, u.UID, u.GID))
		env := userEnv(u, "HOME="+home, "XDG_RUNTIME_DIR="+run, path)
		out, _ := sourced(t, u, dir, env, "mode=user bindir=$HOME/bin manifest=$HOME/manifest; docker_context "+u.Name)
		host := "unix://" + run + "/skiff/skiff.sock"
		if !strings.Contains(out, "docker context skiff (for "+u.Name+"): "+host+"; use it with: docker context use skiff") {
			t.Errorf("docker_context said %q", out)
		}
		if got := contextHost(t, u, env); got != host {
			t.Errorf("docker context inspect skiff: host %q, want %q", got, host)
		}
		// Again: the context is brought up to date, not refused.
		sourced(t, u, dir, env, "mode=user bindir=$HOME/bin manifest=$HOME/manifest; docker_context "+u.Name)
		manifest, _ := os.ReadFile(home + "/manifest")
		if string(manifest) != "# written by skiff install.sh; read by uninstall.sh\ndocker-context "+u.Name+"\n" {
			t.Errorf("manifest:\n%s", manifest)
		}
	})

	t.Run("for the user who ran sudo", func(t *testing.T) {
		root := harness.Root
		out, errOut := sourced(t, root, dir, userEnv(root, path, "SUDO_USER="+u.Name), "mode=system bindir=/usr/local/bin manifest=$(mktemp); docker_context $SUDO_USER")
		if !strings.Contains(out, "docker context skiff (for "+u.Name+")") || errOut != "" {
			t.Errorf("docker_context as root for %s:\n%s%s", u.Name, out, errOut)
		}
		env := userEnv(u, path)
		t.Cleanup(func() {
			cmd := harness.UserCommand(u, docker, "context", "rm", "-f", "skiff")
			cmd.Env = env
			_ = cmd.Run()
		})
		want := fmt.Sprintf("unix:///tmp/skiff-%d/skiff.sock", u.UID)
		if systemdSessions(u) {
			want = fmt.Sprintf("unix:///run/user/%d/skiff/skiff.sock", u.UID)
		} else if info := skiff(t, "info", "--format", "{{.DockerHost}}").OK(t); strings.TrimSpace(info.Stdout) != want {
			t.Errorf("skiff info's DockerHost is %q, install.sh's %q", info.Stdout, want)
		}
		if got := contextHost(t, u, env); got != want {
			t.Errorf("docker context inspect skiff as %s: host %q, want %q", u.Name, got, want)
		}
		var st syscall.Stat_t
		must(t, syscall.Stat(filepath.Join(u.Home, ".docker", "contexts"), &st))
		if int(st.Uid) != u.UID {
			t.Errorf("%s/.docker/contexts belongs to uid %d, not %s", u.Home, st.Uid, u.Name)
		}
	})
}

func TestInfoDockerHost(t *testing.T) {
	parallel(t)
	for _, u := range []*harness.User{harness.E2E, harness.Root} {
		needRootless(t, u)
		want := fmt.Sprintf("unix:///tmp/skiff-%d/skiff.sock (", u.UID)
		if u.IsRoot() {
			want = "unix:///run/skiff/skiff.sock ("
		}
		r := harness.RunAs(t, u, "info").OK(t)
		if !regexp.MustCompile(`(?m)^DOCKER_HOST: +` + regexp.QuoteMeta(want) + `(listening|not listening: start it with systemctl (--user )?start skiff.socket, or skiff system service)\)$`).MatchString(r.Stdout) {
			t.Errorf("%s: no DOCKER_HOST line %s…\n%s", r.Cmdline(), want, r.Output())
		}
	}
}

// TestUninstallUser: an install recorded in a throwaway HOME as skiff-e2e
// (the binary, the docker context, the shim); skiff info shows DOCKER_HOST
// before and after skiff system service listens there, and the context
// reaches it; then uninstall.sh --user removes what was recorded and stops
// the pause process running the removed binary, with the service in its
// namespace.
func TestUninstallUser(t *testing.T) {
	parallel(t)
	u := harness.E2E
	needRootless(t, u)
	docker := harness.DockerCLI(t)
	dir := scriptsFor(t, u)
	home := harness.UserDir(t, u)
	run := filepath.Join(home, "run")
	bin := filepath.Join(home, "bin")
	for _, d := range []string{run, bin} {
		must(t, os.Mkdir(d, 0o700))
		must(t, os.Chown(d, u.UID, u.GID))
	}
	skiffBin := filepath.Join(bin, "skiff")
	data, err := os.ReadFile(harness.Binary)
	must(t, err)
	must(t, os.WriteFile(skiffBin, data, 0o755))
	env := userEnv(u, "HOME="+home, "XDG_RUNTIME_DIR="+run, "PATH="+filepath.Dir(docker)+":/usr/bin:/bin")
	sourced(t, u, dir, append(env, "FAKEPATH="+fakePath(t, u, false)),
		`mode=user bindir=$HOME/bin manifest=$HOME/.local/share/skiff-install/manifest
record binary $bindir/skiff
docker_context `+u.Name+`
PATH=$FAKEPATH docker_shim`)

	info := func() map[string]any {
		t.Helper()
		cmd := harness.UserCommand(u, skiffBin, "info", "--format", "{{json .}}")
		cmd.Env = env
		out, _ := runCmd(t, cmd)
		var m map[string]any
		must(t, json.Unmarshal([]byte(out), &m))
		return m
	}
	sock := filepath.Join(run, "skiff", "skiff.sock")
	host := "unix://" + sock
	if m := info(); m["DockerHost"] != host || m["DockerHostListening"] != false || m["Driver"] != "overlay" {
		t.Errorf("skiff info before the service: DockerHost %v, DockerHostListening %v, Driver %v; want %s, false, overlay", m["DockerHost"], m["DockerHostListening"], m["Driver"], host)
	}
	pause := pausePIDIn(t, run)
	t.Cleanup(func() { _ = syscall.Kill(pause, syscall.SIGKILL) })
	if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pause)); exe != skiffBin {
		t.Fatalf("the pause process %d runs %q, want %s", pause, exe, skiffBin)
	}

	svc := harness.UserCommand(u, skiffBin, "system", "service", "--time", "0")
	svc.Env = env
	must(t, svc.Start())
	exited := make(chan struct{})
	go func() { _ = svc.Wait(); close(exited) }()
	t.Cleanup(func() { _ = svc.Process.Kill(); <-exited })
	waitListening(t, sock)
	if m := info(); m["DockerHost"] != host || m["DockerHostListening"] != true {
		t.Errorf("skiff info with the service up: DockerHost %v, DockerHostListening %v", m["DockerHost"], m["DockerHostListening"])
	}
	cmd := harness.UserCommand(u, skiffBin, "info")
	cmd.Env = env
	if out, _ := runCmd(t, cmd); !regexp.MustCompile(`(?m)^DOCKER_HOST: +` + regexp.QuoteMeta(host) + ` \(listening\)$`).MatchString(out) {
		t.Errorf("skiff info: no line DOCKER_HOST: %s (listening)\n%s", host, out)
	}
	cmd = harness.UserCommand(u, docker, "--context", "skiff", "info", "--format", "{{.Driver}} {{.DockerRootDir}}")
	cmd.Env = env
	if out, _ := runCmd(t, cmd); strings.TrimSpace(out) != "overlay "+home+"/.local/share/skiff" {
		t.Errorf("docker --context skiff info: %q, want this user's skiff", out)
	}
	// The API's /info keeps Docker's shape: DOCKER_HOST is the CLI's.
	if m := apiInfo(t, sock); m["DockerHost"] != nil || m["Driver"] != "overlay" {
		t.Errorf("GET /info: DockerHost %v, Driver %v: want no DockerHost", m["DockerHost"], m["Driver"])
	}

	uninstall := func(args ...string) string {
		t.Helper()
		cmd := harness.UserCommand(u, "/bin/bash", append([]string{filepath.Join(dir, "uninstall.sh"), "--user"}, args...)...)
		cmd.Env = env
		out, _ := runCmd(t, cmd)
		return out
	}
	out := uninstall("--dry-run")
	if !regexp.MustCompile(`would run: kill -TERM .*\b`+strconv.Itoa(pause)+`\b`).MatchString(out) || !harness.ProcessAlive(pause) {
		t.Errorf("uninstall.sh --user --dry-run: want the kill shown, not done (pause process %d alive: %v)\n%s", pause, harness.ProcessAlive(pause), out)
	}
	if _, err := os.Stat(skiffBin); err != nil {
		t.Fatalf("--dry-run removed %s", skiffBin)
	}

	out = uninstall()
	if !strings.Contains(out, "==> stopping the skiff processes of "+u.Name+" (pause processes, supervisors, containers) running the removed binary: ") {
		t.Errorf("uninstall.sh --user does not say it stops the pause process:\n%s", out)
	}
	if n := len(regexp.MustCompile(`\b`+strconv.Itoa(pause)+`\b`).FindAllString(out, -1)); n != 2 {
		t.Errorf("uninstall.sh --user names the pause process %d %d times, want twice (stopping …, kill -TERM …)\n%s", pause, n, out)
	}
	if harness.ProcessAlive(pause) {
		t.Errorf("the pause process %d still runs after uninstall.sh\n%s", pause, out)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Errorf("skiff system service (in the pause process's namespace) still runs after uninstall.sh\n%s", out)
	}
	for _, f := range []string{skiffBin, filepath.Join(bin, "docker"), filepath.Join(home, ".local/share/skiff-install/manifest")} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("uninstall.sh --user left %s\n%s", f, out)
		}
	}
	cmd = harness.UserCommand(u, docker, "context", "inspect", "skiff")
	cmd.Env = env
	if err := cmd.Run(); err == nil {
		t.Errorf("uninstall.sh --user left the docker context skiff\n%s", out)
	}
}

// pausePIDIn reads the pause process's pid file in the runtime directory
// XDG_RUNTIME_DIR=run gives skiff.
func pausePIDIn(t *testing.T, run string) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(run, "skiff", "pause.pid"))
	must(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	must(t, err)
	return pid
}

// waitListening waits until sock accepts connections.
func waitListening(t *testing.T, sock string) {
	t.Helper()
	deadline := time.Now().Add(harness.ServiceStartTimeout)
	for {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s: %v", sock, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// apiInfo is GET /info from the service on sock, as a JSON object.
func apiInfo(t *testing.T, sock string) map[string]any {
	t.Helper()
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		Dial: func(string, string) (net.Conn, error) { return net.Dial("unix", sock) },
	}}
	resp, err := c.Get("http://docker/info")
	must(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	must(t, err)
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("GET /info: %v\n%s", err, body)
	}
	return m
}

// TestInstallRunsDoctor: install.sh ends with skiff system doctor as the
// user who will run skiff (under sudo, the one who called it); its failed
// checks are a warning, not a failed install.
func TestInstallRunsDoctor(t *testing.T) {
	parallel(t)
	root := harness.Root
	dir := scriptsFor(t, root)
	env := userEnv(root, "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "BINDIR="+filepath.Dir(harness.Binary))
	for _, tt := range []struct {
		u                *harness.User
		heading, line    string
		problems, failed bool
	}{
		{harness.E2E, "==> skiff system doctor, as " + harness.E2E.Name + ":", "    ok   subuid: ", false, false},
		{harness.NoSub, "==> skiff system doctor, as " + harness.NoSub.Name + ":", "    fail subuid: ", true, true},
		{root, "==> skiff system doctor, as root: this checks root mode; users who will run skiff rootless check with skiff system doctor", "    skip subuid: running as root", false, false},
	} {
		out, errOut := sourced(t, root, dir, env, "mode=system bindir=$BINDIR target_user="+tt.u.Name+"\nrun_doctor\necho problems=$problems")
		if !strings.HasPrefix(out, tt.heading+"\n") || !strings.Contains(out, "\n"+tt.line) {
			t.Errorf("run_doctor for %s: want %q and a line %q…\n%s", tt.u.Name, tt.heading, tt.line, out)
		}
		warned := strings.Contains(errOut, "WARNING: skiff system doctor found problems: the fail lines above say how to fix each")
		if warned != tt.failed || strings.HasSuffix(out, "problems=1\n") != tt.problems {
			t.Errorf("run_doctor for %s: a failed check must be one warning (want %v), got:\n%s%s", tt.u.Name, tt.failed, out, errOut)
		}
	}
}
