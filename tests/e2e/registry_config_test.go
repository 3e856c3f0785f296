package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// The registry configuration tests give each skiff command its own
// XDG_CONFIG_HOME, so the daemon.json, registries.conf and certs.d they
// write reach no other test: skiff reads ~/.config/docker/daemon.json,
// ~/.config/containers/registries.conf and ~/.config/{docker,containers}/certs.d
// under it, as rootless Docker and Podman do.

// configHome is a fresh XDG_CONFIG_HOME for the e2e user and the
// environment that selects it (with a DOCKER_CONFIG of its own, so a
// login stays in the test).
func configHome(t *testing.T) (string, harness.RunOptions) {
	t.Helper()
	dir := harness.UserDir(t, harness.E2E)
	return dir, harness.RunOptions{Env: []string{"XDG_CONFIG_HOME=" + dir, "DOCKER_CONFIG=" + filepath.Join(dir, "docker-cli")}}
}

// writeConfig writes home/rel as the e2e user, making its directories.
func writeConfig(t *testing.T, home, rel, data string) {
	t.Helper()
	p := filepath.Join(home, rel)
	for d := filepath.Dir(p); d != home; d = filepath.Dir(d) {
		must(t, os.MkdirAll(d, 0o755))
		must(t, os.Chown(d, harness.E2E.UID, harness.E2E.GID))
	}
	harness.WriteUserFile(t, harness.E2E, p, []byte(data))
}

const mirrorImage = "busybox-mirror-test"

// pushMirrorImage starts a registry holding library/busybox-mirror-test,
// as a mirror of Docker Hub would.
func pushMirrorImage(t *testing.T) (*harness.ExtraRegistry, *harness.Image) {
	t.Helper()
	mirror := harness.StartExtraRegistry(t, nil)
	return mirror, harness.PushVariantTo(t, mirror.Addr, "library/"+mirrorImage, "latest", "mirror-"+harness.UniqueSuffix())
}

// dockerIORef is the full name a pull of mirrorImage gives.
const dockerIORef = "docker.io/library/" + mirrorImage + ":latest"

// TestRegistryMirror pulls a docker.io image with no internet, from a
// mirror configured in Docker's daemon.json, then in a registries.conf v2
// [[registry.mirror]]; a mirror that is down falls back to the next with
// one debug line; with none reachable the error names both.
func TestRegistryMirror(t *testing.T) {
	harness.Need(t)
	mirror, img := pushMirrorImage(t)
	rmi := func() { skiff(t, "rmi", "-f", dockerIORef) }
	rmi()
	t.Cleanup(rmi)

	t.Run("daemon.json", func(t *testing.T) {
		home, opts := configHome(t)
		writeConfig(t, home, "docker/daemon.json", `{"registry-mirrors": ["http://`+mirror.Addr+`"]}`)
		r := skiffWith(t, opts, "pull", mirrorImage).OK(t)
		checkPullLines(t, r, "latest: Pulling from library/"+mirrorImage, "Status: Downloaded newer image for "+mirrorImage+":latest", dockerIORef)
		if got := inspectImage(t, harness.E2E, []string{"image", "inspect"}, mirrorImage).Id; got != img.ID {
			t.Errorf("pulled from the mirror, the image ID is %s, want %s", got, img.ID)
		}
		// Again: nothing new, as Docker says.
		r = skiffWith(t, opts, "pull", mirrorImage).OK(t)
		checkPullLines(t, r, "Status: Image is up to date for "+mirrorImage+":latest", dockerIORef)
		infoShows(t, opts, "Registry Mirrors:\n  http://"+mirror.Addr+"/\n")
		rmi()
	})

	t.Run("registries.conf", func(t *testing.T) {
		home, opts := configHome(t)
		writeConfig(t, home, "containers/registries.conf", `
[[registry]]
prefix = "docker.io"
location = "docker.io"
[[registry.mirror]]
location = "`+mirror.Addr+`"
`)
		r := skiffWith(t, opts, "pull", mirrorImage).OK(t)
		checkPullLines(t, r, "Status: Downloaded newer image for "+mirrorImage+":latest", dockerIORef)
		infoShows(t, opts, "Registry Mirrors:\n  "+mirror.Addr+"\n")
		rmi()
	})

	t.Run("mirror down", func(t *testing.T) {
		down := harness.StartExtraRegistry(t, nil)
		down.Stop()
		home, opts := configHome(t)
		writeConfig(t, home, "docker/daemon.json", `{"registry-mirrors": ["http://`+down.Addr+`", "http://`+mirror.Addr+`"]}`)
		r := skiffWith(t, opts, "--log-level", "debug", "pull", mirrorImage).OK(t)
		checkPullLines(t, r, "Status: Downloaded newer image for "+mirrorImage+":latest", dockerIORef)
		var about []string
		for _, l := range strings.Split(r.Stderr, "\n") {
			if strings.Contains(l, down.Addr) {
				about = append(about, l)
			}
		}
		if len(about) != 1 || !strings.Contains(about[0], "level=DEBUG") {
			t.Errorf("a mirror that is down: want one debug line naming it, got %q\n%s", about, r.Output())
		}
		rmi()

		// Only the dead mirror and no internet: one error naming both.
		writeConfig(t, home, "docker/daemon.json", `{"registry-mirrors": ["http://`+down.Addr+`"]}`)
		r = skiffWith(t, opts, "pull", mirrorImage)
		r.ErrorLine(t, errExit, "docker.io", down.Addr, "mirror")
		if strings.Contains(r.Stderr, "DEBUG") {
			t.Errorf("the debug line shows only at --log-level debug\n%s", r.Output())
		}
	})

	t.Run("push never goes to a mirror", func(t *testing.T) {
		home, opts := configHome(t)
		writeConfig(t, home, "docker/daemon.json", `{"registry-mirrors": ["http://`+mirror.Addr+`"]}`)
		name := mirrorImage + "-push:v1"
		skiffWith(t, opts, "tag", busybox(t), name).OK(t)
		t.Cleanup(func() { skiff(t, "rmi", name) })
		r := skiffWith(t, opts, "push", name)
		r.ErrorLine(t, errExit, "docker.io")
		if _, ok := fetchManifest(t, mirror.Addr, "library/"+mirrorImage+"-push", "v1", "", ""); ok {
			t.Errorf("push went to the mirror %s", mirror.Addr)
		}
	})
}

// infoShows checks that skiff info (with opts' configuration) prints each
// of the texts, as docker info does.
func infoShows(t *testing.T, opts harness.RunOptions, texts ...string) {
	t.Helper()
	info := skiffWith(t, opts, "info").OK(t).Stdout
	for _, want := range texts {
		if !strings.Contains(info, want) {
			t.Errorf("skiff info lacks %q\n%s", want, info)
		}
	}
}

// checkPullLines checks that a pull printed each of lines (in order), the
// last one being its last line of stdout, as docker pull prints.
func checkPullLines(t *testing.T, r *harness.Result, lines ...string) {
	t.Helper()
	out := r.Lines()
	i := 0
	for _, l := range out {
		if i < len(lines) && l == lines[i] {
			i++
		}
	}
	if i < len(lines) {
		t.Errorf("%s: want the lines %q in that order\n%s", r.Cmdline(), lines, r.Output())
	}
	if len(out) == 0 || out[len(out)-1] != lines[len(lines)-1] {
		t.Errorf("%s: last line should be %q\n%s", r.Cmdline(), lines[len(lines)-1], r.Output())
	}
}

// testCerts are a CA, a server certificate for 127.0.0.1 and a client
// certificate, made with openssl.
type testCerts struct {
	dir                   string
	ca, server, serverKey string
	client, clientKey     string
	caPool                *x509.CertPool
	clientPair            tls.Certificate
}

func makeCerts(t *testing.T) *testCerts {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed: it makes the test certificates (apt-get install openssl)")
	}
	dir := t.TempDir()
	must(t, os.Chmod(dir, 0o755))
	c := &testCerts{dir: dir, ca: filepath.Join(dir, "ca.crt"), server: filepath.Join(dir, "server.crt"), serverKey: filepath.Join(dir, "server.key"),
		client: filepath.Join(dir, "client.cert"), clientKey: filepath.Join(dir, "client.key")}
	openssl := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	caKey := filepath.Join(dir, "ca.key")
	openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", caKey, "-out", c.ca, "-days", "2", "-subj", "/CN=skiff test CA")
	sign := func(name, cert, key, ext string) {
		csr := filepath.Join(dir, name+".csr")
		extFile := filepath.Join(dir, name+".ext")
		must(t, os.WriteFile(extFile, []byte(ext+"\n"), 0o644))
		openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN="+name)
		openssl("x509", "-req", "-in", csr, "-CA", c.ca, "-CAkey", caKey, "-set_serial", "0x"+harness.UniqueSuffix(), "-out", cert, "-days", "2", "-extfile", extFile)
		must(t, os.Chmod(key, 0o644))
	}
	sign("127.0.0.1", c.server, c.serverKey, "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth")
	sign("skiff-client", c.client, c.clientKey, "extendedKeyUsage=clientAuth")
	caPEM, err := os.ReadFile(c.ca)
	must(t, err)
	c.caPool = x509.NewCertPool()
	c.caPool.AppendCertsFromPEM(caPEM)
	c.clientPair, err = tls.LoadX509KeyPair(c.client, c.clientKey)
	must(t, err)
	return c
}

// install copies the CA and the client pair into home's certs.d for host
// (under dir: "docker" or "containers"), as ca.crt, client.cert and
// client.key; only the CA when caOnly.
func (c *testCerts) install(t *testing.T, home, dir, host string, caOnly bool) {
	t.Helper()
	files := map[string]string{"ca.crt": c.ca, "client.cert": c.client, "client.key": c.clientKey}
	for name, src := range files {
		if caOnly && name != "ca.crt" {
			continue
		}
		data, err := os.ReadFile(src)
		must(t, err)
		writeConfig(t, home, filepath.Join(dir, "certs.d", host, name), string(data))
	}
}

// TestRegistryCertsD pushes to and pulls from a registry that speaks TLS
// with a CA of its own and wants client certificates, with the CA and
// the client pair in certs.d; without them the error names the
// certificate problem and where the files go.
func TestRegistryCertsD(t *testing.T) {
	parallel(t)
	certs := makeCerts(t)
	reg := harness.StartExtraRegistry(t, &harness.RegistryTLS{Cert: certs.server, Key: certs.serverKey, ClientCA: certs.ca,
		Client: &tls.Config{RootCAs: certs.caPool, Certificates: []tls.Certificate{certs.clientPair}, MinVersion: tls.VersionTLS12}})
	name := reg.Addr + "/tls-test:1"
	skiff(t, "tag", busybox(t), name).OK(t)
	t.Cleanup(func() { skiff(t, "rmi", name) })
	home, opts := configHome(t)
	certsDir := filepath.Join(home, "docker", "certs.d", reg.Addr)

	// No certs.d: a loopback registry's certificate is not checked (as in
	// Docker), but the registry wants a client certificate.
	r := skiffWith(t, opts, "push", name)
	r.ErrorLine(t, errExit, name, "client certificate", "client.cert", certsDir)
	// Verification asked for: the unknown CA is the problem.
	r = skiffWith(t, opts, "push", "--tls-verify", name)
	r.ErrorLine(t, errExit, "certificate", "x509", filepath.Join(certsDir, "ca.crt"))
	r = skiffWith(t, opts, "pull", "--tls-verify", name)
	r.ErrorLine(t, errExit, "x509", filepath.Join(certsDir, "ca.crt"))
	// The CA alone: verified, and still no client certificate.
	certs.install(t, home, "docker", reg.Addr, true)
	r = skiffWith(t, opts, "pull", name)
	r.ErrorLine(t, errExit, "client certificate", "client.key", certsDir)

	// Everything in place: push, push again, pull, login.
	certs.install(t, home, "docker", reg.Addr, false)
	pushed(t, skiffWith(t, opts, "push", name), reg.Addr+"/tls-test", "1")
	r = skiffWith(t, opts, "push", name)
	if !strings.Contains(r.OK(t).Stdout, ": Layer already exists\n") {
		t.Errorf("second push: want \"ID: Layer already exists\"\n%s", r.Output())
	}
	skiff(t, "rmi", name).OK(t)
	skiffWith(t, opts, "pull", "--tls-verify", name).OK(t)
	r = skiffWith(t, harness.RunOptions{Env: opts.Env, Stdin: strings.NewReader("secret\n")}, "login", "-u", "anyone", "--password-stdin", reg.Addr)
	r.OK(t)

	// Podman's place, ~/.config/containers/certs.d, works the same.
	home2, opts2 := configHome(t)
	certs.install(t, home2, "containers", reg.Addr, false)
	skiff(t, "rmi", name).OK(t)
	skiffWith(t, opts2, "pull", name).OK(t)
	r = skiffWith(t, harness.RunOptions{Env: opts2.Env, Stdin: strings.NewReader("secret\n")}, "login", "-u", "anyone", "--password-stdin", reg.Addr)
	r.OK(t)
	// login without certs.d names the problem too.
	_, bare := configHome(t)
	r = skiffWith(t, harness.RunOptions{Env: bare.Env, Stdin: strings.NewReader("secret\n")}, "login", "-u", "anyone", "--password-stdin", reg.Addr)
	r.ErrorLine(t, errExit, "client certificate")

	// The API's pull reads certs.d too: the docker CLI through a service
	// with this configuration.
	dockerOpts := serviceWith(t, opts)
	skiff(t, "rmi", name).OK(t)
	harness.DockerWith(t, harness.E2E, dockerOpts, "pull", name).OK(t)
	if got := inspectImage(t, harness.E2E, []string{"image", "inspect"}, name).Id; got != harness.Images["busybox"].ID {
		t.Errorf("pulled through the API, the image ID is %s, want busybox's %s", got, harness.Images["busybox"].ID)
	}
}

// serviceWith starts an API service for the e2e user with opts'
// configuration and returns the options that point the docker CLI at it.
func serviceWith(t *testing.T, opts harness.RunOptions) harness.RunOptions {
	t.Helper()
	sock := filepath.Join(harness.UserDir(t, harness.E2E), "api.sock")
	svc := harness.StartExtraService(t, harness.E2E, opts.Env, "--time", "0", "unix://"+sock)
	if err := svc.WaitPing(10 * time.Second); err != nil {
		t.Fatalf("the API service did not start: %v\n%s", err, svc.Output())
	}
	return harness.RunOptions{Env: []string{"DOCKER_HOST=unix://" + sock}}
}

// TestRegistryInfoAPI checks the API's /info RegistryConfig: the docker
// CLI's info through a service that reads a daemon.json with a mirror and
// an insecure registry.
func TestRegistryInfoAPI(t *testing.T) {
	parallel(t)
	home, opts := configHome(t)
	writeConfig(t, home, "docker/daemon.json", `{"registry-mirrors": ["https://mirror.example:5000"], "insecure-registries": ["reg.example:5000", "10.9.0.0/16"]}`)
	infoShows(t, opts, "Insecure Registries:\n  reg.example:5000\n  127.0.0.0/8\n  ::1/128\n  10.9.0.0/16\n", "Registry Mirrors:\n  https://mirror.example:5000/\n")
	r := harness.DockerWith(t, harness.E2E, serviceWith(t, opts), "info", "--format", "{{json .RegistryConfig}}").OK(t)
	var rc struct {
		Mirrors               []string
		InsecureRegistryCIDRs []string
		IndexConfigs          map[string]struct {
			Mirrors []string
			Secure  bool
		}
	}
	must(t, json.Unmarshal([]byte(r.Stdout), &rc))
	if len(rc.Mirrors) != 1 || rc.Mirrors[0] != "https://mirror.example:5000/" || len(rc.IndexConfigs["docker.io"].Mirrors) != 1 {
		t.Errorf("RegistryConfig mirrors: %s", r.Stdout)
	}
	if ic, ok := rc.IndexConfigs["reg.example:5000"]; !ok || ic.Secure || !contains(rc.InsecureRegistryCIDRs, "10.9.0.0/16") {
		t.Errorf("RegistryConfig insecure registries: %s", r.Stdout)
	}
	// A broken file is a warning in info, not a failure.
	writeConfig(t, home, "docker/daemon.json", `{"registry-mirrors": [`)
	r = skiffWith(t, opts, "info", "--format", "{{json .Warnings}}").OK(t)
	if !strings.Contains(r.Stdout, "daemon.json") {
		t.Errorf("info with a broken daemon.json: want a warning naming it\n%s", r.Output())
	}
	skiffWith(t, opts, "pull", mirrorImage).ErrorLine(t, errExit, "daemon.json")
}

var pullBar = regexp.MustCompile(`: Downloading \[=*>\s*\]\s+[0-9.]+[kMG]?B/[0-9.]+[kMG]?B`)

// TestPullProgressTerminal checks pull's progress on a terminal: Docker's
// bar with sizes per layer on a wide one, sizes alone on a narrow one,
// and the closing Status and reference lines; on a pipe, one line per
// layer step and no redraws.
func TestPullProgressTerminal(t *testing.T) {
	parallel(t)
	// A big random layer, so the download takes several steps.
	pi := harness.PushVariant(t, "pull-tty-"+harness.UniqueSuffix(), "latest", randomHex(t, 1<<20))
	name := ref(pi.Repo)
	out, code := runInPty(t, harness.E2E, 40, 150, "", "pull", name)
	if code != 0 || !pullBar.MatchString(out) {
		t.Errorf("pull on a 150-column terminal: exit %d; want Docker's bar and sizes (ID: Downloading [===>   ] 1MB/2MB)\n%q", code, out)
	}
	for _, want := range []string{"Pull complete", "Status: Downloaded newer image for " + name + ":latest\n", pi.Ref + "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("pull on a terminal lacks %q\n%q", want, out)
		}
	}
	skiff(t, "rmi", name).OK(t)
	out, code = runInPty(t, harness.E2E, 24, 80, "", "pull", name)
	if code != 0 || pullBar.MatchString(out) || !regexp.MustCompile(`: Downloading\s+[0-9.]+[kMG]?B/[0-9.]+[kMG]?B`).MatchString(out) {
		t.Errorf("pull on an 80-column terminal: exit %d; want sizes without a bar, as Docker below 111 columns\n%q", code, out)
	}
	skiff(t, "rmi", name).OK(t)

	// A pipe: a line per step, no escape sequences, no byte counts.
	r := skiff(t, "pull", name).OK(t)
	id := shortDigestOf(t, pi)
	checkPullLines(t, r, "Using default tag: latest", "latest: Pulling from "+pi.Repo, id+": Pulling fs layer", id+": Pull complete",
		"Status: Downloaded newer image for "+name+":latest", pi.Ref)
	if strings.Contains(r.Stdout, "\x1b[") || strings.Contains(r.Stdout, "Downloading") {
		t.Errorf("pull on a pipe must not redraw or count bytes\n%s", r.Output())
	}
	t.Cleanup(func() { skiff(t, "rmi", name) })
}

// shortDigestOf is the short manifest digest of the image's last layer,
// as pull's progress names it.
func shortDigestOf(t *testing.T, pi *harness.Image) string {
	t.Helper()
	if len(pi.LayerDigests) == 0 {
		t.Fatalf("image %s has no layer digests", pi.Ref)
	}
	d := pi.LayerDigests[len(pi.LayerDigests)-1]
	return strings.TrimPrefix(d, "sha256:")[:12]
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n/2)
	f, err := os.Open("/dev/urandom")
	must(t, err)
	defer f.Close()
	_, err = f.Read(b)
	must(t, err)
	const hexDigits = "0123456789abcdef"
	out := make([]byte, 0, n)
	for _, c := range b {
		out = append(out, hexDigits[c>>4], hexDigits[c&15])
	}
	return string(out)
}
