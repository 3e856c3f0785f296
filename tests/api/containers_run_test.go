package api

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/console"

	"github.com/skiff-project/skiff/tests/harness"
)

func TestDockerRunExitCode(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	n := name("exit4")
	docker(t, "run", "--rm", "--name", n, bb, "sh", "-c", "exit 4").Exit(t, 4)
	// Stdout and stderr stay apart (multiplexed stream, no tty).
	r := docker(t, "run", "--rm", bb, "sh", "-c", "echo out; echo err >&2").OK(t)
	if r.Stdout != "out\n" || r.Stderr != "err\n" {
		t.Errorf("docker run: stdout %q stderr %q, want out and err apart", r.Stdout, r.Stderr)
	}
	// Docker's codes: 127 command not found, 126 not executable.
	docker(t, "run", "--rm", bb, "/no/such/command").Exit(t, 127)
	docker(t, "run", "--rm", bb, "/etc/passwd").Exit(t, 126)
	// --rm removed them all.
	r = docker(t, "ps", "-a", "-q", "--filter", "name="+n).OK(t)
	if r.Stdout != "" {
		t.Errorf("run --rm left %s: %q", n, r.Stdout)
	}
	// Env, workdir, user and hostname reach the container.
	r = docker(t, "run", "--rm", "-e", "FOO=bar", "-w", "/tmp", "-u", "1234:5678", "--hostname", "h1", bb,
		"sh", "-c", `echo "$FOO $(pwd) $(id -u):$(id -g) $(hostname)"`).OK(t)
	r.StdoutIs(t, "bar /tmp 1234:5678 h1\n")
}

func TestDockerRunDetachedLogsStop(t *testing.T) {
	parallel(t)
	n := name("logs")
	id := runDetached(t, n, nil, "sh", "-c", "trap 'echo bye; exit 0' TERM; i=0; while :; do echo line$i; i=$((i+1)); sleep 0.2; done")
	if c := inspectContainer(t, n); c.ID != id || !c.State.Running || c.Name != "/"+n {
		t.Errorf("inspect after run -d: Id %s Name %s State %+v", c.ID, c.Name, c.State)
	}
	// logs -f follows until the container stops.
	cmd := harness.DockerCommand(t, user(), "logs", "-f", n)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	must(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	eventually(t, 15*time.Second, "docker logs -f showing line3", func() (bool, string) {
		return strings.Contains(out.String(), "line3\n"), out.String()
	})
	r := dockerWith(t, harness.RunOptions{Timeout: 30 * time.Second}, "stop", n).OK(t)
	r.StdoutIs(t, n+"\n")
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("docker logs -f: %v\n%s", err, out.String())
		}
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Errorf("docker logs -f did not end within 15 s of the container's stop\n%s", out.String())
	}
	if !strings.HasSuffix(out.String(), "bye\n") || !strings.HasPrefix(out.String(), "line0\nline1\n") {
		t.Errorf("docker logs -f: %q, want line0, line1, … and bye last", out.String())
	}
	c := inspectContainer(t, n)
	if c.State.Status != "exited" || c.State.ExitCode != 0 || c.State.Running {
		t.Errorf("after stop: State %+v, want exited 0", c.State)
	}
	// logs of a stopped container: all, --tail, --timestamps.
	all := docker(t, "logs", n).OK(t).Lines()
	if len(all) < 5 || all[len(all)-1] != "bye" {
		t.Errorf("docker logs: %v", all)
	}
	tail := docker(t, "logs", "--tail", "2", n).OK(t).Lines()
	if len(tail) != 2 || tail[1] != "bye" {
		t.Errorf("docker logs --tail 2: %v, want the last two lines", tail)
	}
	ts := docker(t, "logs", "--timestamps", "--tail", "1", n).OK(t).Stdout
	if !strings.HasSuffix(ts, " bye\n") || !strings.HasPrefix(ts, time.Now().UTC().Format("2006-01-02T")) {
		t.Errorf("docker logs --timestamps --tail 1: %q, want an RFC 3339 time and bye", ts)
	}
	// stdout and stderr stay apart in logs too.
	n2 := name("logs-streams")
	runDetached(t, n2, nil, "sh", "-c", "echo to-out; echo to-err >&2")
	docker(t, "wait", n2).OK(t)
	r = docker(t, "logs", n2).OK(t)
	if r.Stdout != "to-out\n" || r.Stderr != "to-err\n" {
		t.Errorf("docker logs: stdout %q stderr %q, want them apart", r.Stdout, r.Stderr)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// inPty runs cmd with its stdio on a new pty of the given size, writes
// input to the terminal after a moment, and returns what the terminal
// showed (without \r) and the exit code.
func inPty(t *testing.T, cmd *exec.Cmd, rows, cols uint16, input string) (string, int) {
	t.Helper()
	harness.Requires(t, "pty")
	master, slavePath, err := console.NewPty()
	must(t, err)
	defer master.Close()
	must(t, master.Resize(console.WinSize{Height: rows, Width: cols}))
	u := user()
	must(t, os.Chown(slavePath, u.UID, u.GID))
	slave, err := os.OpenFile(slavePath, os.O_RDWR|syscall.O_NOCTTY, 0)
	must(t, err)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr.Setsid = true
	cmd.SysProcAttr.Setctty = true
	cmd.SysProcAttr.Ctty = 0
	must(t, cmd.Start())
	slave.Close()
	out := &syncBuffer{}
	readDone := make(chan struct{})
	go func() {
		_, _ = io.Copy(out, master) // ends with EIO once every slave fd is closed
		close(readDone)
	}()
	if input != "" {
		go func() {
			time.Sleep(time.Second)
			_, _ = io.WriteString(master, input)
		}()
	}
	waitDone := make(chan error, 1)
	go func() { waitDone <- cmd.Wait() }()
	select {
	case <-waitDone:
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		<-waitDone
		t.Errorf("%s in a pty did not finish within a minute; the terminal showed %q", strings.Join(cmd.Args, " "), out.String())
	}
	select {
	case <-readDone:
	case <-time.After(5 * time.Second):
		t.Errorf("the pty stayed open 5 s after %s exited", strings.Join(cmd.Args, " "))
	}
	return strings.ReplaceAll(out.String(), "\r", ""), cmd.ProcessState.ExitCode()
}

func TestDockerRunTTY(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	// The CLI sizes the container's terminal (resize) to its own.
	out, code := inPty(t, harness.DockerCommand(t, user(), "run", "--rm", "-t", bb, "sh", "-c", "tty; stty size"), 40, 120, "")
	if code != 0 || !strings.Contains(out, "/dev/pts/0\n") || !strings.Contains(out, "40 120\n") {
		t.Errorf("docker run -t: exit %d, the terminal showed %q; want /dev/pts/0 and the size 40 120", code, out)
	}
	// Interactive: what is typed reaches the shell; its exit status comes back.
	out, code = inPty(t, harness.DockerCommand(t, user(), "run", "--rm", "-it", bb, "sh"), 24, 80, "echo typed-$((6*7))\nexit 3\n")
	if code != 3 || !strings.Contains(out, "typed-42") {
		t.Errorf("docker run -it sh: exit %d, the terminal showed %q; want typed-42 and exit 3", code, out)
	}
}

func TestDockerRunStdin(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	dockerWith(t, harness.RunOptions{Stdin: strings.NewReader("hi\n")}, "run", "-i", "--rm", bb, "cat").OK(t).StdoutIs(t, "hi\n")
	// A megabyte of binary data, and the container sees its end.
	data := make([]byte, 1<<20)
	_, _ = rand.Read(data)
	sum := sha256.Sum256(data)
	r := dockerWith(t, harness.RunOptions{Stdin: bytes.NewReader(data)}, "run", "-i", "--rm", bb, "sha256sum").OK(t)
	if !strings.HasPrefix(r.Stdout, hex.EncodeToString(sum[:])) {
		t.Errorf("sha256sum of 1 MiB of stdin: %q, want %x", r.Stdout, sum)
	}
	// Without -i the container's stdin is not attached.
	dockerWith(t, harness.RunOptions{Stdin: strings.NewReader("must not arrive\n")}, "run", "--rm", bb, "cat").OK(t).StdoutIs(t, "")
}

// httpdCmd serves body on port 80 with busybox httpd, under a shell that
// exits on SIGTERM (so stop does not wait for its timeout).
func httpdCmd(body string) []string {
	return []string{"sh", "-c", fmt.Sprintf("mkdir -p /www && echo %s >/www/index.html; trap 'exit 0' TERM; httpd -f -p 80 -h /www & wait", body)}
}

// httpGet fetches url until it answers 200 (up to timeout) and returns the
// body; when it never does, it reports an error and returns the last error.
func httpGet(t testing.TB, url string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		c := http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return string(b)
			}
			last = fmt.Sprintf("%d %q", resp.StatusCode, b)
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			t.Errorf("GET %s: no answer within %s; last seen: %s", url, timeout, last)
			return last
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestDockerRunPublish(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	port := freePort(t)
	n := name("publish")
	rmOnCleanup(t, n)
	docker(t, append([]string{"run", "-d", "--rm", "--name", n, "-p", fmt.Sprintf("127.0.0.1:%d:80", port), bb}, httpdCmd("hello-api")...)...).OK(t)
	if body := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port), 20*time.Second); body != "hello-api\n" {
		t.Errorf("GET through the published port: %q", body)
	}
	r := docker(t, "port", n).OK(t)
	if strings.TrimSpace(r.Stdout) != fmt.Sprintf("80/tcp -> 127.0.0.1:%d", port) {
		t.Errorf("docker port: %q, want 80/tcp -> 127.0.0.1:%d", r.Stdout, port)
	}
	c := inspectContainer(t, n)
	if b := c.NetworkSettings.Ports["80/tcp"]; len(b) != 1 || b[0].HostPort != fmt.Sprint(port) {
		t.Errorf("inspect NetworkSettings.Ports: %+v", c.NetworkSettings.Ports)
	}
	if b := c.HostConfig.PortBindings["80/tcp"]; len(b) != 1 || b[0].HostPort != fmt.Sprint(port) || b[0].HostIp != "127.0.0.1" {
		t.Errorf("inspect HostConfig.PortBindings: %+v", c.HostConfig.PortBindings)
	}
	// -P publishes the EXPOSEd port on a random host port.
	n2 := name("publish-all")
	rmOnCleanup(t, n2)
	docker(t, append([]string{"run", "-d", "--rm", "--name", n2, "--expose", "80", "-P", bb}, httpdCmd("hello-P")...)...).OK(t)
	r = docker(t, "port", n2, "80/tcp").OK(t)
	hostPort := strings.TrimSpace(r.Lines()[0])
	if i := strings.LastIndex(hostPort, ":"); i < 0 {
		t.Errorf("docker port %s 80/tcp: %q", n2, r.Stdout)
	} else if body := httpGet(t, "http://127.0.0.1"+hostPort[i:]+"/", 20*time.Second); body != "hello-P\n" {
		t.Errorf("GET through -P: %q", body)
	}
	// --rm: stop removes it, and the port is free again.
	dockerWith(t, harness.RunOptions{Timeout: 30 * time.Second}, "stop", "-t", "1", n).OK(t)
	eventually(t, 10*time.Second, "the stopped --rm container removed", func() (bool, string) {
		r := docker(t, "ps", "-a", "-q", "--filter", "name="+n)
		return r.ExitCode == 0 && r.Stdout == "", r.Output()
	})
}

func TestDockerExec(t *testing.T) {
	parallel(t)
	n := name("exec")
	runDetached(t, n, []string{"-e", "FROM_RUN=1"}, idleCmd...)
	docker(t, "exec", n, "sh", "-c", "exit 5").Exit(t, 5)
	docker(t, "exec", n, "sh", "-c", `echo "$FROM_RUN"; echo err >&2`).OK(t).StdoutIs(t, "1\n")
	docker(t, "exec", "-e", "FOO=bar", "-w", "/tmp", "-u", "1000", n, "sh", "-c", `echo "$FOO $(pwd) $(id -u)"`).OK(t).StdoutIs(t, "bar /tmp 1000\n")
	dockerWith(t, harness.RunOptions{Stdin: strings.NewReader("piped\n")}, "exec", "-i", n, "cat").OK(t).StdoutIs(t, "piped\n")
	docker(t, "exec", n, "/no/such/cmd").Exit(t, 127)
	// -it in a terminal: typed input, the exit status.
	out, code := inPty(t, harness.DockerCommand(t, user(), "exec", "-it", n, "sh"), 30, 100, "stty size; echo typed-$((7*6))\nexit 6\n")
	if code != 6 || !strings.Contains(out, "typed-42") || !strings.Contains(out, "30 100") {
		t.Errorf("docker exec -it sh: exit %d, the terminal showed %q; want the size 30 100, typed-42 and exit 6", code, out)
	}
	// -d: runs in the background.
	docker(t, "exec", "-d", n, "sh", "-c", "echo bg > /tmp/bg").OK(t)
	eventually(t, 10*time.Second, "exec -d wrote its file", func() (bool, string) {
		r := docker(t, "exec", n, "cat", "/tmp/bg")
		return r.Stdout == "bg\n", r.Output()
	})
	// Exec into a stopped container: a clear error.
	docker(t, "stop", "-t", "1", n).OK(t)
	r := docker(t, "exec", n, "true")
	if r.ExitCode == 0 || !containsAnyFold(r.Stderr, "not running") {
		t.Errorf("docker exec in a stopped container: want 'is not running'\n%s", r.Output())
	}
}

func TestDockerAttach(t *testing.T) {
	parallel(t)
	// Output: attach follows it and returns the container's exit code.
	n := name("attach")
	runDetached(t, n, nil, "sh", "-c", "trap 'echo bye; exit 3' TERM; while :; do echo tick; sleep 0.2; done")
	cmd := harness.DockerCommand(t, user(), "attach", n)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	must(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	eventually(t, 15*time.Second, "docker attach showing ticks", func() (bool, string) {
		return strings.Count(out.String(), "tick\n") >= 2, out.String()
	})
	docker(t, "stop", n).OK(t)
	select {
	case <-done:
		if code := cmd.ProcessState.ExitCode(); code != 3 || !strings.Contains(out.String(), "bye") {
			t.Errorf("docker attach: exit %d, output %q; want the container's 3 and bye", code, out.String())
		}
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Errorf("docker attach did not end within 15 s of the container's stop\n%s", out.String())
	}
	// Stdin: a container started with -i reads what attach sends.
	n2 := name("attach-in")
	runDetached(t, n2, []string{"-i"}, "sh", "-c", "read l; echo got:$l; exit 0")
	r := dockerWith(t, harness.RunOptions{Stdin: strings.NewReader("hello\n"), Timeout: 30 * time.Second}, "attach", n2).OK(t)
	if !strings.Contains(r.Stdout, "got:hello") {
		t.Errorf("echo hello | docker attach: %q, want got:hello", r.Stdout)
	}
}

// lineReader returns a channel of the lines of r.
func lineReader(r io.Reader) <-chan string {
	ch := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			ch <- sc.Text()
		}
		close(ch)
	}()
	return ch
}
