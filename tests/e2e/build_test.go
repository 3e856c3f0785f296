package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// buildContext writes files (path -> content) into a fresh directory the
// test user owns and returns it.
func buildContext(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := harness.UserDir(t, harness.E2E)
	for p, content := range files {
		full := filepath.Join(dir, p)
		must(t, os.MkdirAll(filepath.Dir(full), 0o755))
		harness.WriteUserFile(t, harness.E2E, full, []byte(content))
	}
	// UserDir gives the directory to the user; the new subdirectories too.
	must(t, filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(p, harness.E2E.UID, harness.E2E.GID)
	}))
	return dir
}

func TestBuildMultiStage(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	tag := "build-multi:" + harness.UniqueSuffix()
	dir := buildContext(t, map[string]string{
		"Dockerfile": `ARG BASE=` + bb + `
FROM $BASE AS builder
RUN echo built > /built.txt
FROM ` + bb + `
ARG GREETING=hi
ENV APP=/app
WORKDIR $APP
COPY src/ ./src/
COPY --from=builder /built.txt /app/
RUN echo "$GREETING from $(pwd)" > greeting
LABEL org.skiff.test=yes
EXPOSE 8080
CMD ["cat", "/app/greeting"]
`,
		"src/a.txt":     "hello\n",
		"secret/key":    "do not copy\n",
		".dockerignore": "secret\n",
	})
	out := skiff(t, "build", "-t", tag, "--build-arg", "GREETING=hey", "--iidfile", filepath.Join(dir, "iid"), dir).OK(t).Stdout
	for _, want := range []string{"STEP 1/13: ARG", "STEP 13/13: CMD", "COMMIT " + tag} {
		if !strings.Contains(out, want) {
			t.Errorf("build output lacks %q:\n%s", want, out)
		}
	}
	t.Cleanup(func() { harness.RunAs(t, harness.E2E, "rmi", "-f", tag) })
	skiff(t, "run", "--rm", tag).OK(t).StdoutIs(t, "hey from /app\n")
	if got := skiff(t, "run", "--rm", tag, "cat", "/app/src/a.txt", "/app/built.txt").OK(t).Stdout; got != "hello\nbuilt\n" {
		t.Errorf("files in the image: %q", got)
	}
	inspect := skiff(t, "inspect", "--format", "{{.Config.WorkingDir}} {{index .Config.Labels \"org.skiff.test\"}} {{json .Config.ExposedPorts}} {{json .Config.Cmd}}", tag).OK(t).Stdout
	if strings.TrimSpace(inspect) != `/app yes {"8080/tcp":{}} ["cat","/app/greeting"]` {
		t.Errorf("image config: %s", inspect)
	}
	iid, err := os.ReadFile(filepath.Join(dir, "iid"))
	must(t, err)
	id := strings.TrimSpace(skiff(t, "images", "-q", "--no-trunc", tag).OK(t).Stdout)
	if string(iid) != id {
		t.Errorf("--iidfile %q, images -q %q", iid, id)
	}
	// .dockerignore: a COPY of everything leaves out the ignored directory.
	dir2 := buildContext(t, map[string]string{
		"Dockerfile":    "FROM " + bb + "\nCOPY . /ctx/\n",
		"keep.txt":      "keep\n",
		"secret/key":    "no\n",
		".dockerignore": "secret\n",
	})
	tag2 := "build-ignore:" + harness.UniqueSuffix()
	skiff(t, "build", "-q", "-t", tag2, dir2).OK(t)
	t.Cleanup(func() { harness.RunAs(t, harness.E2E, "rmi", "-f", tag2) })
	ls := skiff(t, "run", "--rm", tag2, "ls", "/ctx").OK(t).Stdout
	if strings.Contains(ls, "secret") || !strings.Contains(ls, "keep.txt") {
		t.Errorf(".dockerignore not honoured: ls /ctx = %q", ls)
	}
}

// TestBuildErrors is not parallel: it checks that no build container is
// left behind, which a build running beside it would make untrue.
func TestBuildErrors(t *testing.T) {
	harness.Need(t)
	bb := busybox(t)
	for _, tc := range []struct {
		name, dockerfile string
		code             int
		words            []string
	}{
		{"failing RUN", "FROM " + bb + "\nRUN exit 3\n", 1, []string{"STEP 2/2", "exit 3", "status 3"}},
		{"missing COPY source", "FROM " + bb + "\nCOPY nosuch /x\n", errExit, []string{"nosuch"}},
		{"unknown instruction", "FROM " + bb + "\nFROBNICATE x\n", errExit, []string{"FROBNICATE"}},
		{"no FROM", "RUN true\n", errExit, []string{"FROM"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := buildContext(t, map[string]string{"Dockerfile": tc.dockerfile})
			skiff(t, "build", "-q", dir).ErrorLine(t, tc.code, tc.words...)
		})
	}
	dir := buildContext(t, map[string]string{"Dockerfile": "FROM " + bb + "\n"})
	skiff(t, "build", "--target", "nostage", dir).ErrorLine(t, errExit, "nostage")
	if left := skiff(t, "ps", "-a", "-q", "--filter", "name=skiff-build-").OK(t).Lines(); len(left) > 0 {
		t.Errorf("builds left containers behind: %v", left)
	}
}

func TestBuildCache(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	tag := "build-cache:" + harness.UniqueSuffix()
	dir := buildContext(t, map[string]string{
		"Dockerfile": "FROM " + bb + "\nARG V=1\nRUN echo run $V > /run.txt\nCOPY src/ /src/\nRUN cat /src/a.txt > /copied.txt\nCMD [\"cat\", \"/copied.txt\"]\n",
		"src/a.txt":  "one\n",
	})
	t.Cleanup(func() { harness.RunAs(t, harness.E2E, "rmi", "-f", tag) })
	first := skiff(t, "build", "-q", "-t", tag, dir).OK(t).Stdout
	hits := func(out string) int { return strings.Count(out, "--> Using cache") }

	// Nothing changed: every step comes from the cache and the image is the same.
	out := skiff(t, "build", "-t", tag, dir).OK(t).Stdout
	if hits(out) != 3 {
		t.Errorf("unchanged rebuild: %d cache hits, want 3 (2 RUN, 1 COPY)\n%s", hits(out), out)
	}
	if again := skiff(t, "build", "-q", "-t", tag, dir).OK(t).Stdout; again != first {
		t.Errorf("unchanged rebuild gave %s, the first build %s", again, first)
	}
	// A source's time alone does not count; its content does, and only
	// from that step on.
	now := time.Now().Add(time.Hour)
	must(t, os.Chtimes(filepath.Join(dir, "src/a.txt"), now, now))
	if out := skiff(t, "build", "-t", tag, dir).OK(t).Stdout; hits(out) != 3 {
		t.Errorf("after touching a source: %d cache hits, want 3\n%s", hits(out), out)
	}
	harness.WriteUserFile(t, harness.E2E, filepath.Join(dir, "src/a.txt"), []byte("two\n"))
	if out := skiff(t, "build", "-t", tag, dir).OK(t).Stdout; hits(out) != 1 {
		t.Errorf("after changing a source: %d cache hits, want 1 (the RUN before the COPY)\n%s", hits(out), out)
	}
	skiff(t, "run", "--rm", tag).OK(t).StdoutIs(t, "two\n")
	// A build arg's value invalidates the RUN that sees it and what follows.
	if out := skiff(t, "build", "-t", tag, "--build-arg", "V=2", dir).OK(t).Stdout; hits(out) != 0 {
		t.Errorf("after changing a build arg: %d cache hits, want 0\n%s", hits(out), out)
	}
	if out := skiff(t, "build", "--no-cache", "-t", tag, dir).OK(t).Stdout; hits(out) != 0 {
		t.Errorf("--no-cache: %d cache hits, want 0\n%s", hits(out), out)
	}
	// The build's intermediate images are hidden from images, shown by -a.
	plain := len(skiff(t, "images", "-q").OK(t).Lines())
	all := len(skiff(t, "images", "-a", "-q").OK(t).Lines())
	if all <= plain {
		t.Errorf("images -a lists %d images, images %d: the intermediates should only show with -a", all, plain)
	}
}

func TestBuildAddArchiveAndHealthcheck(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	dir := buildContext(t, map[string]string{
		"Dockerfile": "FROM " + bb + "\nADD files.tar /x/\nHEALTHCHECK --interval=1s --retries=2 CMD test -f /x/sub/f\n",
	})
	// files.tar holds sub/f and an entry that tries to climb out.
	var buf strings.Builder
	tw := newTarWriter(&buf)
	tw.file("sub/f", "inner\n")
	tw.file("../../escape", "no\n")
	harness.WriteUserFile(t, harness.E2E, filepath.Join(dir, "files.tar"), []byte(tw.close(t)))
	tag := "build-add:" + harness.UniqueSuffix()
	skiff(t, "build", "-q", "-t", tag, dir).OK(t)
	t.Cleanup(func() { harness.RunAs(t, harness.E2E, "rmi", "-f", tag) })
	skiff(t, "run", "--rm", tag, "cat", "/x/sub/f").OK(t).StdoutIs(t, "inner\n")
	// The climbing entry lands inside /x, never above it.
	if out := skiff(t, "run", "--rm", tag, "sh", "-c", "test -e /escape && echo above; test -e /x/escape && echo inside").OK(t).Stdout; out != "inside\n" {
		t.Errorf("ADD placed ../../escape: %q, want it inside /x only", out)
	}
	hc := skiff(t, "inspect", "--format", "{{json .Config.Healthcheck}}", tag).OK(t).Stdout
	if !strings.Contains(hc, `"CMD-SHELL","test -f /x/sub/f"`) || !strings.Contains(hc, `"Interval":1000000000`) {
		t.Errorf("image Healthcheck = %s", hc)
	}
}

// TestBuildStdinContextAndNamedChown sends the context as a tar on stdin
// (`build -`) and resolves --chown names from the image's own passwd/group.
func TestBuildStdinContextAndNamedChown(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	var buf strings.Builder
	tw := newTarWriter(&buf)
	tw.file("Dockerfile", "FROM "+bb+`
RUN echo "app:x:1000:1001::/home/app:/bin/sh" >> /etc/passwd && echo "grp:x:1002:" >> /etc/group
COPY --chown=app hello.txt /a.txt
COPY --chown=app:grp hello.txt /b.txt
COPY --chown=7:8 hello.txt /c.txt
`)
	tw.file("hello.txt", "from-stdin\n")
	tag := "build-stdin:" + harness.UniqueSuffix()
	skiffWith(t, harness.RunOptions{Stdin: strings.NewReader(tw.close(t))}, "build", "-q", "-t", tag, "-").OK(t)
	t.Cleanup(func() { harness.RunAs(t, harness.E2E, "rmi", "-f", tag) })
	// A name without a group takes the user's uid as gid, as Docker does.
	skiff(t, "run", "--rm", tag, "sh", "-c", "stat -c '%u:%g' /a.txt /b.txt /c.txt; cat /a.txt").OK(t).
		StdoutIs(t, "1000:1000\n1000:1002\n7:8\nfrom-stdin\n")

	dir := buildContext(t, map[string]string{
		"Dockerfile": "FROM " + bb + "\nCOPY --chown=nosuchuser Dockerfile /\n",
	})
	skiff(t, "build", "-t", "build-badchown:"+harness.UniqueSuffix(), dir).ErrorLine(t, errExit, "nosuchuser", "passwd")
	skiffWith(t, harness.RunOptions{Stdin: strings.NewReader("")}, "build", "-f", "-", "-").
		ErrorLine(t, errExit, "stdin")
}

// TestBuildOnbuild stores ONBUILD triggers in one image and runs them, with
// the child's own context, when another build starts FROM it.
func TestBuildOnbuild(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	base := "build-onbuild-base:" + harness.UniqueSuffix()
	dir := buildContext(t, map[string]string{
		"Dockerfile": "FROM " + bb + "\nONBUILD COPY app.txt /app/\nONBUILD RUN echo built-$(cat /app/app.txt) > /app/out\n",
	})
	skiff(t, "build", "-q", "-t", base, dir).OK(t)
	t.Cleanup(func() { harness.RunAs(t, harness.E2E, "rmi", "-f", base) })
	skiff(t, "inspect", "--format", "{{json .Config.OnBuild}}", base).OK(t).
		StdoutIs(t, `["COPY app.txt /app/","RUN echo built-$(cat /app/app.txt) \u003e /app/out"]`+"\n")

	child := "build-onbuild-child:" + harness.UniqueSuffix()
	cdir := buildContext(t, map[string]string{"Dockerfile": "FROM " + base + "\n", "app.txt": "child"})
	out := skiff(t, "build", "-t", child, cdir).OK(t).Stdout
	t.Cleanup(func() { harness.RunAs(t, harness.E2E, "rmi", "-f", child) })
	if !strings.Contains(out, "ONBUILD trigger: COPY app.txt /app/") {
		t.Errorf("build output does not show the trigger:\n%s", out)
	}
	skiff(t, "run", "--rm", child, "cat", "/app/out").OK(t).StdoutIs(t, "built-child\n")
	// The child does not pass the triggers on.
	skiff(t, "inspect", "--format", "{{json .Config.OnBuild}}", child).OK(t).StdoutIs(t, "null\n")

	bad := buildContext(t, map[string]string{"Dockerfile": "FROM " + bb + "\nONBUILD FROM " + bb + "\n"})
	skiff(t, "build", bad).ErrorLine(t, errExit, "ONBUILD", "FROM")
}

// TestBuildHeredocs runs RUN heredoc scripts (plain, fed to a command, with
// a #! line) and writes COPY heredocs as files; a changed body is a cache miss.
func TestBuildHeredocs(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	df := func(body string) string {
		return "FROM " + bb + `
ARG WHO=world
RUN <<EOF
echo "script $WHO" > /h.txt
EOF
COPY <<EOT /greet.txt
` + body + `
EOT
COPY <<A <<B /multi/
a-body
A
b-body
B
RUN cat > /lit.txt <<'X'
literal $WHO
X
RUN <<EOF
#!/bin/sh -e
echo shebang-ran > /sb.txt
EOF
`
	}
	dir := buildContext(t, map[string]string{"Dockerfile": df("hello heredoc")})
	tag := "build-heredoc:" + harness.UniqueSuffix()
	skiff(t, "build", "-q", "-t", tag, dir).OK(t)
	t.Cleanup(func() { harness.RunAs(t, harness.E2E, "rmi", "-f", tag) })
	skiff(t, "run", "--rm", tag, "cat", "/h.txt", "/greet.txt", "/multi/A", "/multi/B", "/lit.txt", "/sb.txt").OK(t).
		StdoutIs(t, "script world\nhello heredoc\na-body\nb-body\nliteral $WHO\nshebang-ran\n")

	harness.WriteUserFile(t, harness.E2E, filepath.Join(dir, "Dockerfile"), []byte(df("changed body")))
	skiff(t, "build", "-q", "-t", tag, dir).OK(t)
	skiff(t, "run", "--rm", tag, "cat", "/greet.txt").OK(t).StdoutIs(t, "changed body\n")
}

// TestBuildAddURL downloads ADD sources from a real HTTP server on
// 127.0.0.1: kept as files (mode 0600), named after the URL, checked
// against --checksum; COPY refuses URLs.
func TestBuildAddURL(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	body := "downloaded " + harness.UniqueSuffix() + "\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/files/f.txt" {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	sum := sha256.Sum256([]byte(body))
	url := srv.URL + "/files/f.txt"
	dir := buildContext(t, map[string]string{
		"Dockerfile": "FROM " + bb + "\nADD " + url + " /d/\nADD --checksum=sha256:" + hex.EncodeToString(sum[:]) + " --chmod=644 " + url + " /named.txt\n",
	})
	tag := "build-addurl:" + harness.UniqueSuffix()
	skiff(t, "build", "-q", "-t", tag, dir).OK(t)
	t.Cleanup(func() { harness.RunAs(t, harness.E2E, "rmi", "-f", tag) })
	skiff(t, "run", "--rm", tag, "sh", "-c", "stat -c %a /d/f.txt /named.txt; cat /d/f.txt").OK(t).
		StdoutIs(t, "600\n644\n"+body)

	for _, c := range []struct{ df, words string }{
		{"ADD " + srv.URL + "/missing /m", "404"},
		{"ADD --checksum=sha256:00 " + url + " /m", "checksum"},
		{"COPY " + url + " /m", "ADD"},
	} {
		d := buildContext(t, map[string]string{"Dockerfile": "FROM " + bb + "\n" + c.df + "\n"})
		skiff(t, "build", "-q", d).ErrorLine(t, errExit, c.words)
	}
}

// TestBuildPredefinedArgs checks Docker's predefined args: a bare ARG in a
// stage takes the global default, buildkit's platform args are there, and
// the proxy args reach RUN without an ARG line but stay out of the image.
func TestBuildPredefinedArgs(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	dir := buildContext(t, map[string]string{
		"Dockerfile": "ARG VERSION=1.2\nFROM " + bb + "\nARG VERSION\nARG TARGETARCH\nARG TARGETPLATFORM\n" +
			"RUN echo \"$VERSION $TARGETARCH $TARGETPLATFORM proxy=$HTTP_PROXY\" > /args.txt\n",
	})
	tag := "build-args:" + harness.UniqueSuffix()
	skiff(t, "build", "-q", "-t", tag, "--build-arg", "HTTP_PROXY=http://proxy.invalid:3128", dir).OK(t)
	t.Cleanup(func() { harness.RunAs(t, harness.E2E, "rmi", "-f", tag) })
	arch := strings.TrimSpace(skiff(t, "version", "--format", "{{.Client.Arch}}").OK(t).Stdout)
	skiff(t, "run", "--rm", tag, "cat", "/args.txt").OK(t).
		StdoutIs(t, "1.2 "+arch+" linux/"+arch+" proxy=http://proxy.invalid:3128\n")
	if env := skiff(t, "inspect", "--format", "{{json .Config.Env}}", tag).OK(t).Stdout; strings.Contains(env, "proxy.invalid") {
		t.Errorf("the proxy arg leaked into the image's Env: %s", env)
	}

	bad := buildContext(t, map[string]string{"Dockerfile": "FROM " + bb + "\nARG 1BAD=x\n"})
	skiff(t, "build", bad).ErrorLine(t, errExit, "ARG", "1BAD")
}

// TestBuildRunMounts covers RUN --mount: bind (context and another stage),
// cache (kept between builds), secret (file and env=, never in the image),
// tmpfs; and the errors of a missing secret, an unknown type and a bad
// --secret.
func TestBuildRunMounts(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	dir := buildContext(t, map[string]string{
		"src/b.txt":  "from-bind\n",
		"secret.txt": "s3cret",
		"Dockerfile": "FROM " + bb + " AS base\nRUN echo in-stage > /stage.txt\nFROM " + bb + `
RUN --mount=type=bind,source=src,target=/mnt/src cat /mnt/src/b.txt > /copied.txt
RUN --mount=type=bind,from=base,source=/stage.txt,target=/st.txt cat /st.txt > /fromstage.txt
RUN --mount=type=cache,id=e2e-` + harness.UniqueSuffix() + `,target=/var/cache/x sh -c 'echo run >> /var/cache/x/count; wc -l < /var/cache/x/count > /count.txt'
RUN --mount=type=secret,id=tok sh -c 'cat /run/secrets/tok > /seen.txt'
RUN --mount=type=secret,id=tok2,env=X sh -c 'echo "$X" > /env.txt'
RUN --mount=type=tmpfs,target=/scratch sh -c 'mount | grep -c " /scratch " > /tmpfs.txt'
`,
	})
	tag := "build-mounts:" + harness.UniqueSuffix()
	build := func() {
		skiffWith(t, harness.RunOptions{Env: []string{"MYTOK=envsecret"}}, "build", "-q", "--no-cache", "-t", tag,
			"--secret", "id=tok,src="+filepath.Join(dir, "secret.txt"), "--secret", "id=tok2,env=MYTOK", dir).OK(t)
	}
	build()
	t.Cleanup(func() { harness.RunAs(t, harness.E2E, "rmi", "-f", tag) })
	skiff(t, "run", "--rm", tag, "cat", "/copied.txt", "/fromstage.txt", "/count.txt", "/seen.txt", "/env.txt", "/tmpfs.txt").OK(t).
		StdoutIs(t, "from-bind\nin-stage\n1\ns3cretenvsecret\n1\n")
	// The secret's mount point is not left in the image, nor the secret in its config.
	skiff(t, "run", "--rm", tag, "sh", "-c", "test -e /run/secrets/tok && echo left; true").OK(t).StdoutIs(t, "")
	if cfg := skiff(t, "inspect", tag).OK(t).Stdout; strings.Contains(cfg, "envsecret") || strings.Contains(cfg, "s3cret") {
		t.Errorf("a secret is in the image's inspect output")
	}
	// The cache directory outlives the build.
	build()
	skiff(t, "run", "--rm", tag, "cat", "/count.txt").OK(t).StdoutIs(t, "2\n")

	for _, c := range []struct {
		df    string
		args  []string
		words []string
	}{
		{"RUN --mount=type=secret,id=nope,required cat /run/secrets/nope", nil, []string{"secret nope", "--secret"}},
		{"RUN --mount=type=bogus,target=/x true", nil, []string{"bogus"}},
		{"RUN true", []string{"--secret", "id=x,src=/nonexistent/file"}, []string{"--secret", "/nonexistent/file"}},
	} {
		d := buildContext(t, map[string]string{"Dockerfile": "FROM " + bb + "\n" + c.df + "\n"})
		skiff(t, append(append([]string{"build", "-q"}, c.args...), d)...).ErrorLine(t, errExit, c.words...)
	}
}

// TestBuilderPrune empties the build cache: intermediates go, a tagged
// result stays, the next build runs every step again, and cache mounts
// start empty. Not parallel: it takes every build's cache.
func TestBuilderPrune(t *testing.T) {
	bb := busybox(t)
	dir := buildContext(t, map[string]string{
		"Dockerfile": "FROM " + bb + "\nRUN --mount=type=cache,target=/c sh -c 'echo x >> /c/n; wc -l < /c/n > /n.txt'\nRUN echo two > /two.txt\n",
	})
	tag := "build-prune:" + harness.UniqueSuffix()
	skiff(t, "build", "-q", "-t", tag, dir).OK(t)
	t.Cleanup(func() { harness.RunAs(t, harness.E2E, "rmi", "-f", tag) })
	before := len(skiff(t, "images", "-a", "-q").OK(t).Lines())
	out := skiff(t, "builder", "prune", "-f").OK(t).Stdout
	if !strings.Contains(out, "Deleted build cache objects:") || !strings.Contains(out, "Total reclaimed space:") {
		t.Errorf("builder prune -f output:\n%s", out)
	}
	after := len(skiff(t, "images", "-a", "-q").OK(t).Lines())
	if after >= before {
		t.Errorf("builder prune left the intermediates: images -a %d before, %d after", before, after)
	}
	skiff(t, "run", "--rm", tag, "cat", "/two.txt").OK(t).StdoutIs(t, "two\n")
	out = skiff(t, "build", "-t", tag, dir).OK(t).Stdout
	if strings.Contains(out, "Using cache") {
		t.Errorf("the build after builder prune used the cache:\n%s", out)
	}
	skiff(t, "run", "--rm", tag, "cat", "/n.txt").OK(t).StdoutIs(t, "1\n")
	skiff(t, "builder", "prune", "-f", "extra").ErrorLine(t, errExit, "builder prune")
}

// TestBuildOptionsAndConfig goes through `image build` with the options the
// other build tests do not use, and checks the image config each
// config instruction writes, as `docker inspect` shows it.
func TestBuildOptionsAndConfig(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	dir := buildContext(t, map[string]string{
		"other.Dockerfile": "# syntax=docker/dockerfile:1\nFROM " + bb + `
MAINTAINER someone@example.org
COPY --link x.txt /x.txt
RUN cat /proc/net/dev | grep -c : > /ifaces.txt
USER 1000:1000
ENTRYPOINT ["/bin/sh", "-c"]
STOPSIGNAL SIGUSR1
VOLUME /data
EXPOSE 53/udp
`,
		"x.txt": "x\n",
	})
	tag := "build-opts:" + harness.UniqueSuffix()
	skiff(t, "image", "build", "-q", "--pull", "--network", "none", "--platform", "linux/"+
		strings.TrimSpace(skiff(t, "version", "--format", "{{.Client.Arch}}").OK(t).Stdout),
		"--label", "org.example.a=b", "-f", filepath.Join(dir, "other.Dockerfile"), "-t", tag, dir).OK(t)
	t.Cleanup(func() { harness.RunAs(t, harness.E2E, "rmi", "-f", tag) })
	// --network none: the RUN saw the loopback interface only.
	skiff(t, "run", "--rm", "--user", "0", tag, "cat /ifaces.txt /x.txt").OK(t).StdoutIs(t, "1\nx\n")
	for format, want := range map[string]string{
		"{{.Author}}":                              "someone@example.org",
		"{{.Config.User}}":                         "1000:1000",
		"{{json .Config.Entrypoint}}":              `["/bin/sh","-c"]`,
		"{{.Config.StopSignal}}":                   "SIGUSR1",
		"{{json .Config.Volumes}}":                 `{"/data":{}}`,
		"{{json .Config.ExposedPorts}}":            `{"53/udp":{}}`,
		`{{index .Config.Labels "org.example.a"}}`: "b",
	} {
		skiff(t, "inspect", "--format", format, tag).OK(t).StdoutIs(t, want+"\n")
	}

	for _, c := range []struct {
		df    string
		args  []string
		words []string
	}{
		{"FROM " + bb + "\nRUN true\nRUN <<EOF\nx\n", nil, []string{"line 3", "heredoc"}},
		{"FROM " + bb + "\nCOPY --from=nosuchstage /x /x\n", nil, []string{"nosuchstage"}},
		{"FROM " + bb + "\n", []string{"--platform", "linux/s390x"}, []string{"--platform", "linux/s390x"}},
		{"FROM " + bb + "\n", []string{"--target", "nope"}, []string{"target", "nope"}},
	} {
		d := buildContext(t, map[string]string{"Dockerfile": c.df})
		r := skiff(t, append(append([]string{"build", "-q"}, c.args...), d)...)
		if len(c.words) > 0 && c.words[0] == "nosuchstage" {
			r.LastErrorLine(t, errExit, c.words...) // after the attempt to pull it
			continue
		}
		r.ErrorLine(t, errExit, c.words...)
	}
}

// TestBuildShellIgnoreExceptionStdinDockerfile: SHELL changes how shell
// forms run, a `!` line in .dockerignore brings a file back, and -f -
// reads the Dockerfile from stdin.
func TestBuildShellIgnoreExceptionStdinDockerfile(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	dir := buildContext(t, map[string]string{
		"logs/a.log":    "a\n",
		"logs/keep.log": "keep\n",
		".dockerignore": "logs/*.log\n!logs/keep.log\n",
	})
	df := "FROM " + bb + "\nCOPY . /ctx/\nSHELL [\"/bin/sh\", \"-c\", \"echo via-shell: \\\"$0\\\" > /shell.txt\"]\nRUN ignored-by-the-shell\n"
	tag := "build-shell:" + harness.UniqueSuffix()
	skiffWith(t, harness.RunOptions{Stdin: strings.NewReader(df)}, "build", "-q", "-f", "-", "-t", tag, dir).OK(t)
	t.Cleanup(func() { harness.RunAs(t, harness.E2E, "rmi", "-f", tag) })
	skiff(t, "run", "--rm", tag, "sh", "-c", "ls /ctx/logs; cat /shell.txt").OK(t).
		StdoutIs(t, "keep.log\nvia-shell: ignored-by-the-shell\n")
}

// Ctrl-C during a RUN step ends the build with 130, one error line, and
// removes the step's container (the engine's cancellation reaches it).
func TestBuildInterrupted(t *testing.T) {
	parallel(t)
	marker := markerSleep()
	dir := buildContext(t, map[string]string{
		"Dockerfile": "FROM " + busybox(t) + "\nRUN echo step-running && sleep " + marker + "\n",
	})
	b := startBackground(t, harness.E2E, "build", "--no-cache", "-t", "build-int:"+harness.UniqueSuffix(), dir)
	b.waitFor(t, "step-running")
	eventually(t, 10*time.Second, "the RUN step's sleep", func() (bool, string) {
		return len(sleepPIDs(marker)) == 1, fmt.Sprint(sleepPIDs(marker))
	})
	b.signal(t, syscall.SIGINT)
	if code := b.wait(t, 30*time.Second); code != 130 {
		t.Errorf("interrupted build exited %d, want 130\n%s", code, b.output())
	}
	if !strings.Contains(b.stderr.String(), "Error: build interrupted") {
		t.Errorf("want one line saying the build was interrupted\n%s", b.output())
	}
	eventually(t, 10*time.Second, "no RUN container and no step process", func() (bool, string) {
		var left []string
		for _, l := range skiff(t, "ps", "-a", "--no-trunc", "--format", "{{.Names}} {{.Command}}").Lines() {
			if strings.Contains(l, marker) {
				left = append(left, l)
			}
		}
		return len(left) == 0 && len(sleepPIDs(marker)) == 0, fmt.Sprintf("containers %q, processes %v", left, sleepPIDs(marker))
	})
}

// A symlink in the context is followed only inside it: `root -> /` does
// not give COPY the host's /etc/passwd, and the error names the source.
func TestBuildSymlinkStaysInContext(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	dir := buildContext(t, map[string]string{
		"Dockerfile":   "FROM " + bb + "\nCOPY root/etc/passwd /p\n",
		"sub/file.txt": "inside\n",
	})
	must(t, os.Symlink("/", filepath.Join(dir, "root")))
	must(t, os.Symlink("/sub", filepath.Join(dir, "abs")))    // absolute, inside the context
	must(t, os.Symlink("../../..", filepath.Join(dir, "up"))) // up and out
	tag := "build-symlink:" + harness.UniqueSuffix()
	skiff(t, "build", "-q", "-t", tag, dir).LastErrorLine(t, errExit, "root/etc/passwd")
	// Links that stay inside work, the absolute one resolved in the context.
	harness.WriteUserFile(t, harness.E2E, filepath.Join(dir, "Dockerfile"), []byte("FROM "+bb+"\nCOPY abs/file.txt /a\nCOPY up/sub/file.txt /b\n"))
	skiff(t, "build", "-q", "-t", tag, dir).OK(t)
	skiff(t, "run", "--rm", tag, "cat", "/a", "/b").OK(t).StdoutIs(t, "inside\ninside\n")
	// `..` in a source name and globs through a link stay in the context
	// too: ../sub is the context's sub, as in Docker.
	for _, src := range []string{"../../../../etc/passwd", "up/../../etc/passwd"} {
		harness.WriteUserFile(t, harness.E2E, filepath.Join(dir, "Dockerfile"), []byte("FROM "+bb+"\nCOPY "+src+" /p\n"))
		skiff(t, "build", "-q", "-t", tag, dir).LastErrorLine(t, errExit, src)
	}
	// A pattern may match nothing, as in Docker: the build goes on and
	// copies nothing (the host's /etc/passwd is not a match).
	harness.WriteUserFile(t, harness.E2E, filepath.Join(dir, "Dockerfile"), []byte("FROM "+bb+"\nCOPY root/etc/pass* /p\n"))
	skiff(t, "build", "-q", "-t", tag, dir).OK(t)
	skiff(t, "run", "--rm", tag, "test", "!", "-e", "/p").OK(t)
	harness.WriteUserFile(t, harness.E2E, filepath.Join(dir, "Dockerfile"), []byte("FROM "+bb+"\nCOPY ../sub/file.txt /c\nADD ../../s*/file.txt /d\n"))
	skiff(t, "build", "-q", "-t", tag, dir).OK(t)
	skiff(t, "run", "--rm", tag, "cat", "/c", "/d").OK(t).StdoutIs(t, "inside\ninside\n")
	// RUN --mount=type=bind does not leave the context either.
	harness.WriteUserFile(t, harness.E2E, filepath.Join(dir, "Dockerfile"), []byte("FROM "+bb+"\nRUN --mount=type=bind,source=root/etc,target=/m cat /m/passwd\n"))
	skiff(t, "build", "-q", "--no-cache", "-t", tag, dir).LastErrorLine(t, errExit, "root/etc")
}
