package e2e

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/skiff-project/skiff/tests/harness"
)

// The tests in this file log the e2e user in and out of the authenticated
// registry: they share ~/.docker/config.json, so none of them is parallel
// (a test that is not parallel runs alone).

// dockerConfig is the part of ~/.docker/config.json the tests read.
type dockerConfig struct {
	Auths map[string]struct {
		Auth string `json:"auth"`
	} `json:"auths"`
	CredHelpers map[string]string `json:"credHelpers"`
}

// readDockerConfig reads u's ~/.docker/config.json; exists is false when
// there is none.
func readDockerConfig(t testing.TB, u *harness.User) (cfg dockerConfig, raw []byte, exists bool) {
	t.Helper()
	raw, err := os.ReadFile(u.DockerConfigPath())
	if errors.Is(err, os.ErrNotExist) {
		return cfg, nil, false
	}
	must(t, err)
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatalf("%s is not JSON: %v\n%s", u.DockerConfigPath(), err, raw)
	}
	return cfg, raw, true
}

// noCredentials fails unless u's config.json holds no credentials for host
// (no file at all, or no auths entry with an auth, and no password anywhere).
func noCredentials(t testing.TB, u *harness.User, ar *harness.AuthRegistry, when string) {
	t.Helper()
	cfg, raw, exists := readDockerConfig(t, u)
	if !exists {
		return
	}
	if e, ok := cfg.Auths[ar.Addr]; ok && e.Auth != "" {
		t.Errorf("%s: config.json still has credentials for %s:\n%s", when, ar.Addr, raw)
	}
	if strings.Contains(string(raw), ar.Password) || strings.Contains(string(raw), base64.StdEncoding.EncodeToString([]byte(ar.User+":"+ar.Password))) {
		t.Errorf("%s: config.json holds the password:\n%s", when, raw)
	}
}

// unauthorized checks a pull or push refused for lack of credentials.
func unauthorized(t testing.TB, r *harness.Result) {
	t.Helper()
	r.ErrorLine(t, errExit, "login|unauthorized|authentication required")
}

func TestLoginRefused(t *testing.T) {
	harness.Need(t)
	needRootless(t, harness.E2E)
	ar := harness.NeedAuthRegistry(t)
	u := harness.E2E
	stdin := func(s string) harness.RunOptions { return harness.RunOptions{Stdin: strings.NewReader(s)} }
	for _, c := range []struct {
		name  string
		stdin string
		args  []string
		words []string
	}{
		{"wrong password", "not-the-password\n", []string{"-u", ar.User, "--password-stdin"}, []string{"unauthorized|incorrect|wrong|denied"}},
		{"wrong user", ar.Password + "\n", []string{"-u", "nobody", "--password-stdin"}, []string{"unauthorized|incorrect|wrong|denied"}},
		{"wrong password with -p", "", []string{"-u", ar.User, "-p", "not-the-password"}, []string{"unauthorized|incorrect|wrong|denied"}},
		{"--password-stdin without -u", ar.Password + "\n", []string{"--password-stdin"}, []string{"username|-u"}},
		{"-p and --password-stdin", ar.Password + "\n", []string{"-u", ar.User, "-p", ar.Password, "--password-stdin"}, []string{"password-stdin"}},
	} {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			harness.ResetDockerConfig(t, u)
			args := append(append([]string{"login"}, c.args...), ar.Addr)
			skiffWith(t, stdin(c.stdin), args...).ErrorLine(t, errExit, c.words...)
			noCredentials(t, u, ar, "after login with "+c.name)
		})
	}
}

func TestLoginPushPullLogout(t *testing.T) {
	harness.Need(t)
	needRootless(t, harness.E2E)
	ar := harness.NeedAuthRegistry(t)
	u := harness.E2E
	harness.ResetDockerConfig(t, u)
	bb := busybox(t)
	stdin := func(s string) harness.RunOptions { return harness.RunOptions{Stdin: strings.NewReader(s)} }

	// Not logged in: the registry refuses pulls and pushes.
	unauthorized(t, skiff(t, "pull", ar.Ref("busybox")))
	pushName := ar.Ref("pushed-"+harness.UniqueSuffix()) + ":v1"
	skiff(t, "tag", bb, pushName).OK(t)
	unauthorized(t, skiff(t, "push", pushName))
	noCredentials(t, u, ar, "after refused pull and push")

	// The right password on stdin.
	r := skiffWith(t, stdin(ar.Password+"\n"), "login", "-u", ar.User, "--password-stdin", ar.Addr).OK(t)
	if !contains(r.Lines(), "Login Succeeded") {
		t.Errorf("login: want a \"Login Succeeded\" line on stdout\n%s", r.Output())
	}
	if strings.Contains(r.Stdout+r.Stderr, ar.Password) {
		t.Errorf("login prints the password\n%s", r.Output())
	}
	checkStoredLogin(t, u, ar)

	// Logged in: push and pull work.
	pushed(t, skiff(t, "push", pushName), strings.TrimSuffix(pushName, ":v1"), "v1")
	repo := strings.TrimPrefix(strings.TrimSuffix(pushName, ":v1"), ar.Addr+"/")
	if m, ok := fetchManifest(t, ar.Addr, repo, "v1", ar.User, ar.Password); !ok || m.Config != harness.Images["busybox"].ID {
		t.Errorf("after an authenticated push the registry has %s: %v (found %v), want config %s", pushName, m, ok, harness.Images["busybox"].ID)
	}
	skiff(t, "pull", ar.Ref("busybox")).OK(t)
	if img := inspectImage(t, u, []string{"image", "inspect"}, ar.Ref("busybox")); img.Id != ar.Busybox.ID {
		t.Errorf("pulled from the authenticated registry, image ID %s, want %s", img.Id, ar.Busybox.ID)
	}
	skiff(t, "pull", ar.DigestRef(ar.Busybox)).OK(t)

	// -p works too, with a warning on stderr.
	r = skiff(t, "login", "-u", ar.User, "-p", ar.Password, ar.Addr).OK(t)
	if !contains(r.Lines(), "Login Succeeded") {
		t.Errorf("login -p: want a \"Login Succeeded\" line on stdout\n%s", r.Output())
	}
	if !strings.Contains(strings.ToLower(r.Stderr), "warning") || !strings.Contains(r.Stderr, "--password-stdin") {
		t.Errorf("login -p: want a warning on stderr pointing to --password-stdin (Docker)\n%s", r.Output())
	}
	checkStoredLogin(t, u, ar)

	// Logout removes the entry.
	skiff(t, "logout", ar.Addr).OK(t).StdoutIs(t, "Removing login credentials for "+ar.Addr+"\n")
	noCredentials(t, u, ar, "after logout")
	if cfg, raw, exists := readDockerConfig(t, u); exists {
		if _, ok := cfg.Auths[ar.Addr]; ok {
			t.Errorf("after logout config.json still has an auths entry for %s:\n%s", ar.Addr, raw)
		}
	}
	// Again: not logged in.
	skiff(t, "logout", ar.Addr).ErrorLine(t, errExit, "not logged in", ar.Addr)

	// Logged out, the registry refuses again: drop the name so the pull
	// must reach the registry.
	skiff(t, "rmi", ar.Ref("busybox")).OK(t)
	unauthorized(t, skiff(t, "pull", ar.Ref("busybox")))
}

// checkStoredLogin checks ~/.docker/config.json after a successful login:
// mode 0600, owned by u, an auths entry for the registry with base64
// "user:password" (Docker's format).
func checkStoredLogin(t testing.TB, u *harness.User, ar *harness.AuthRegistry) {
	t.Helper()
	path := u.DockerConfigPath()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("after login: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, fi.Mode().Perm())
	}
	for _, p := range []string{path, filepath.Dir(path)} {
		if st, err := os.Stat(p); err == nil {
			if s := st.Sys().(*syscall.Stat_t); int(s.Uid) != u.UID {
				t.Errorf("%s is owned by uid %d, want the user's %d", p, s.Uid, u.UID)
			}
		}
	}
	cfg, raw, _ := readDockerConfig(t, u)
	e, ok := cfg.Auths[ar.Addr]
	if !ok {
		t.Fatalf("config.json has no auths entry for %s:\n%s", ar.Addr, raw)
	}
	dec, err := base64.StdEncoding.DecodeString(e.Auth)
	if err != nil || string(dec) != ar.User+":"+ar.Password {
		t.Errorf("auths[%s].auth is not base64 of user:password:\n%s", ar.Addr, raw)
	}
}

// credentialHelper writes docker-credential-skifftest into a fresh
// directory owned by u and returns the directory. The helper answers get
// for the registry with its credentials, keeps what store sends in the file
// "stored", and logs each call as a line "ACTION SERVER" in "calls".
func credentialHelper(t testing.TB, u *harness.User, ar *harness.AuthRegistry) string {
	t.Helper()
	dir := harness.UserDir(t, u)
	script := `#!/bin/sh
dir=` + dir + `
case "$1" in
get)
	read -r server
	echo "get $server" >>"$dir/calls"
	if [ "$server" = "` + ar.Addr + `" ]; then
		printf '{"ServerURL":"%s","Username":"` + ar.User + `","Secret":"` + ar.Password + `"}\n' "$server"
		exit 0
	fi
	echo "credentials not found in native keychain"
	exit 1
	;;
store)
	cat >"$dir/stored"
	echo "store" >>"$dir/calls"
	;;
erase)
	read -r server
	echo "erase $server" >>"$dir/calls"
	;;
list)
	echo '{}'
	;;
*)
	exit 1
	;;
esac
`
	helper := filepath.Join(dir, "docker-credential-skifftest")
	harness.WriteUserFile(t, u, helper, []byte(script))
	must(t, os.Chmod(helper, 0o755))
	return dir
}

// writeDockerConfig writes u's ~/.docker/config.json (mode 0600, owned by u).
func writeDockerConfig(t testing.TB, u *harness.User, cfg string) {
	t.Helper()
	path := u.DockerConfigPath()
	must(t, os.MkdirAll(filepath.Dir(path), 0o700))
	must(t, os.Chown(filepath.Dir(path), u.UID, u.GID))
	harness.WriteUserFile(t, u, path, []byte(cfg))
	must(t, os.Chmod(path, 0o600))
}

// helperCalls returns the lines the credential helper logged.
func helperCalls(t testing.TB, dir string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "calls"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	must(t, err)
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

func TestLoginCredentialHelper(t *testing.T) {
	harness.Need(t)
	needRootless(t, harness.E2E)
	ar := harness.NeedAuthRegistry(t)
	u := harness.E2E
	harness.ResetDockerConfig(t, u)
	dir := credentialHelper(t, u, ar)
	withHelper := harness.RunOptions{Env: []string{"PATH=" + dir + ":/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"}}
	writeDockerConfig(t, u, `{"credHelpers": {"`+ar.Addr+`": "skifftest"}}`)
	// The name must not be in the store, so that pull asks the registry.
	name := ar.Ref("busybox")
	skiff(t, "rmi", name) // absent normally

	// The helper configured for the registry gives pull its credentials.
	skiffWith(t, withHelper, "pull", name).OK(t)
	if calls := helperCalls(t, dir); !contains(calls, "get "+ar.Addr) {
		t.Errorf("pull did not ask the credential helper for %s; its calls: %q", ar.Addr, calls)
	}
	if img := inspectImage(t, u, []string{"image", "inspect"}, name); img.Id != ar.Busybox.ID {
		t.Errorf("pulled with the credential helper, image ID %s, want %s", img.Id, ar.Busybox.ID)
	}

	// login stores through the helper, not in config.json.
	r := skiffWith(t, harness.RunOptions{Env: withHelper.Env, Stdin: strings.NewReader(ar.Password + "\n")},
		"login", "-u", ar.User, "--password-stdin", ar.Addr).OK(t)
	if !contains(r.Lines(), "Login Succeeded") {
		t.Errorf("login: want a \"Login Succeeded\" line on stdout\n%s", r.Output())
	}
	stored, err := os.ReadFile(filepath.Join(dir, "stored"))
	if err != nil {
		t.Errorf("login with a credential helper configured did not call its store: %v; calls: %q", err, helperCalls(t, dir))
	} else if !strings.Contains(string(stored), ar.Password) || !strings.Contains(string(stored), ar.User) {
		t.Errorf("the helper's store got %q, want the user and the password", stored)
	}
	noCredentials(t, u, ar, "after login through a credential helper")
	if cfg, raw, _ := readDockerConfig(t, u); cfg.CredHelpers[ar.Addr] != "skifftest" {
		t.Errorf("login dropped credHelpers from config.json:\n%s", raw)
	}

	// logout erases through the helper.
	skiffWith(t, withHelper, "logout", ar.Addr).OK(t).StdoutIs(t, "Removing login credentials for "+ar.Addr+"\n")
	if calls := helperCalls(t, dir); !contains(calls, "erase "+ar.Addr) {
		t.Errorf("logout did not call the credential helper's erase for %s; its calls: %q", ar.Addr, calls)
	}

	t.Logf("credential helper calls: %q", helperCalls(t, dir))

	// Without the helper on PATH the pull cannot get credentials: it fails.
	skiff(t, "rmi", name).OK(t)
	r = skiff(t, "pull", name)
	if r.ExitCode != errExit {
		t.Errorf("pull with a configured credential helper missing from PATH: want exit 1\n%s", r.Output())
	}
}
