package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The Docker Engine API service and the real clients that talk to it (the
// "judges" of tests/api and tests/judges).
//
// Environment:
//
//	SKIFF_API_SOCKET=/path   use the Docker API socket already serving at path
//	                         instead of starting `skiff system service` (debugging)
//	SKIFF_API_SERVICE="CMD"  start CMD (split on spaces) as the user instead of
//	                         `skiff system service`, with --time 0 and the socket's
//	                         URI appended, e.g. "/usr/bin/podman system service"
//	                         to check a test against another engine's service
//	SKIFF_COMPOSE_BINARY     the docker compose CLI plugin
//	                         (default <repo>/.cache/judges/docker-compose, from `make judges`)

// ServiceStartTimeout bounds how long StartService waits for GET /_ping.
const ServiceStartTimeout = 10 * time.Second

// DockerCLIPaths are where the docker CLI is looked for, in order: the one
// this machine ships in /usr/local/bin, then Debian's docker.io.
var DockerCLIPaths = []string{"/usr/local/bin/docker", "/usr/bin/docker"}

// PythonPath is Debian's python3, the one python3-docker is installed for
// (a python3 earlier on PATH, e.g. pyenv's, may lack docker-py or have
// another version of it).
const PythonPath = "/usr/bin/python3"

// dockerPyModule is the file of Debian's python3-docker that Setup checks.
const dockerPyModule = "/usr/lib/python3/dist-packages/docker/__init__.py"

// Service is a Docker Engine API service serving one user.
type Service struct {
	User *User
	// Host is the socket as DOCKER_HOST wants it: "unix:///…/skiff.sock".
	Host string
	// Socket is the socket's path.
	Socket string
	// DockerConfig is the user's DOCKER_CONFIG for the docker CLI, with the
	// compose plugin in cli-plugins/ when it was built.
	DockerConfig string
	// External is set when SKIFF_API_SOCKET named a socket the harness did
	// not start (and will not stop).
	External bool

	cmd    *exec.Cmd
	done   chan struct{}
	waitMu sync.Mutex
	output *lockedBuffer
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type serviceEntry struct {
	once sync.Once
	svc  *Service
	err  error
}

var (
	servicesMu sync.Mutex
	services   = map[string]*serviceEntry{} // by user name
)

// StartService returns the user's Docker API service, starting it on first
// use: one per user per test binary, `skiff system service --time 0` run as
// u on a socket in a directory only u can reach. It waits until GET /_ping
// answers and fails t (with the service's output) when it does not within
// ServiceStartTimeout. Teardown stops it (SIGTERM) and checks that it exited
// and removed its socket. Every later call after a failed start fails the
// same way.
func StartService(t testing.TB, u *User) *Service {
	t.Helper()
	skipIfUnavailable(t)
	servicesMu.Lock()
	e, ok := services[u.Name]
	if !ok {
		e = &serviceEntry{}
		services[u.Name] = e
	}
	servicesMu.Unlock()
	e.once.Do(func() { e.svc, e.err = startService(u) })
	if e.err != nil {
		t.Fatalf("the Docker API service for %s: %v", u.Name, e.err)
	}
	return e.svc
}

func startService(u *User) (*Service, error) {
	dir, err := privateUserDir(u, "api-"+u.Name)
	if err != nil {
		return nil, err
	}
	s := &Service{User: u}
	if s.DockerConfig, err = dockerConfigDir(u, filepath.Join(dir, "docker-config")); err != nil {
		return nil, err
	}
	if p := os.Getenv("SKIFF_API_SOCKET"); p != "" {
		s.Socket, s.Host, s.External = p, "unix://"+p, true
		ctx, cancel := context.WithTimeout(context.Background(), ServiceStartTimeout)
		defer cancel()
		if err := s.waitPing(ctx); err != nil {
			return nil, fmt.Errorf("SKIFF_API_SOCKET=%s does not answer GET /_ping: %w", p, err)
		}
		return s, nil
	}
	s.Socket = filepath.Join(dir, "skiff.sock")
	s.Host = "unix://" + s.Socket
	var cmd *exec.Cmd
	if alt := strings.Fields(os.Getenv("SKIFF_API_SERVICE")); len(alt) > 0 {
		cmd = UserCommand(u, alt[0], append(alt[1:], "--time", "0", s.Host)...)
	} else {
		cmd = Command(u, "system", "service", "--time", "0", s.Host)
	}
	if err := s.start(cmd, true); err != nil {
		return nil, err
	}
	return s, nil
}

// StartExtraService starts another service for u with the given arguments
// after `system service` (e.g. "--time", "1", "unix:///…"), for tests of
// the service's own options. Unlike StartService it does not wait for the
// socket: the caller does (WaitPing) and stops it (Stop) or lets it exit.
func StartExtraService(t testing.TB, u *User, env []string, args ...string) *Service {
	t.Helper()
	skipIfUnavailable(t)
	s := &Service{User: u}
	for i, a := range args {
		if strings.HasPrefix(a, "unix://") && i == len(args)-1 {
			s.Host, s.Socket = a, strings.TrimPrefix(a, "unix://")
		}
	}
	cmd := Command(u, append([]string{"system", "service"}, args...)...)
	cmd.Env = append(cmd.Env, env...)
	if err := s.start(cmd, false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s.Running() {
			_ = s.cmd.Process.Kill()
			s.Wait(5 * time.Second)
		}
	})
	return s
}

// start runs cmd in the background and, with wait, waits for GET /_ping.
func (s *Service) start(cmd *exec.Cmd, wait bool) error {
	s.output = &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = s.output, s.output
	s.cmd = cmd
	s.done = make(chan struct{})
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", strings.Join(cmd.Args, " "), err)
	}
	go func() {
		_ = cmd.Wait()
		close(s.done)
	}()
	if !wait {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), ServiceStartTimeout)
	defer cancel()
	if err := s.waitPing(ctx); err != nil {
		_ = cmd.Process.Kill()
		<-s.done
		return fmt.Errorf("%s did not answer GET /_ping on %s within %s: %v\nits output:\n%s",
			strings.Join(cmd.Args, " "), s.Socket, ServiceStartTimeout, err, indent(s.output.String()))
	}
	return nil
}

// WaitPing waits until GET /_ping on the socket answers 200, for up to d.
func (s *Service) WaitPing(d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return s.waitPing(ctx)
}

func (s *Service) waitPing(ctx context.Context) error {
	c := s.HTTPClient()
	var last error
	for {
		if s.done != nil {
			select {
			case <-s.done:
				return fmt.Errorf("the service exited (%s)", s.cmd.ProcessState)
			default:
			}
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/_ping", nil)
		resp, err := c.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /_ping: %s: %s", resp.Status, body)
		}
		last = err
		select {
		case <-ctx.Done():
			return last
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// HTTPClient returns a client whose every request goes to the service's
// socket (as the test process: root may connect to any user's socket).
// Use any host in URLs: "http://docker/v1.41/containers/json".
func (s *Service) HTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", s.Socket)
		},
		DisableKeepAlives: true,
	}}
}

// Dial opens a raw connection to the service's socket.
func (s *Service) Dial() (net.Conn, error) {
	return net.DialTimeout("unix", s.Socket, 5*time.Second)
}

// PID is the service's process id (0 for an external service).
func (s *Service) PID() int {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Output is what the service has printed so far (stdout and stderr).
func (s *Service) Output() string {
	if s.output == nil {
		return ""
	}
	return s.output.String()
}

// Running reports whether the service process has not exited.
func (s *Service) Running() bool {
	if s.done == nil {
		return s.External
	}
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// Wait waits up to d for the service to exit and reports whether it did.
func (s *Service) Wait(d time.Duration) bool {
	if s.done == nil {
		return false
	}
	select {
	case <-s.done:
		return true
	case <-time.After(d):
		return false
	}
}

// ExitCode is the exit code of a service that exited (-1 if killed or running).
func (s *Service) ExitCode() int {
	if s.Running() || s.cmd == nil || s.cmd.ProcessState == nil {
		return -1
	}
	return s.cmd.ProcessState.ExitCode()
}

// Stop sends SIGTERM, waits up to 10 s for the service to exit, and checks
// that it removed its socket. It kills a service that does not exit.
func (s *Service) Stop() error {
	if s.External || s.cmd == nil {
		return nil
	}
	if s.Running() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		if !s.Wait(10 * time.Second) {
			_ = s.cmd.Process.Kill()
			s.Wait(5 * time.Second)
			return fmt.Errorf("the service for %s (pid %d) did not exit within 10 s of SIGTERM\nits output:\n%s", s.User.Name, s.PID(), indent(s.Output()))
		}
	}
	var errs []error
	if code := s.ExitCode(); code != 0 {
		errs = append(errs, fmt.Errorf("the service for %s exited %d after SIGTERM, want 0\nits output:\n%s", s.User.Name, code, indent(s.Output())))
	}
	if _, err := os.Lstat(s.Socket); err == nil {
		errs = append(errs, fmt.Errorf("the service for %s exited but left its socket %s", s.User.Name, s.Socket))
	}
	return errors.Join(errs...)
}

// stopServices stops every service StartService started; Main reports the
// errors and fails the run.
func stopServices() error {
	servicesMu.Lock()
	defer servicesMu.Unlock()
	var errs []error
	for name, e := range services {
		if e.svc != nil {
			if err := e.svc.Stop(); err != nil {
				errs = append(errs, err)
			}
		}
		delete(services, name)
	}
	return errors.Join(errs...)
}

// privateUserDir creates workDir/name owned by u with mode 0700: only u
// (and root) can reach what is inside.
func privateUserDir(u *User, name string) (string, error) {
	d := filepath.Join(workDir, name)
	if err := os.MkdirAll(d, 0o700); err != nil {
		return "", err
	}
	if err := os.Chown(d, u.UID, u.GID); err != nil {
		return "", err
	}
	return d, os.Chmod(d, 0o700)
}

// ComposeBinary is the docker compose CLI plugin the tests install.
func ComposeBinary() string {
	if p := os.Getenv("SKIFF_COMPOSE_BINARY"); p != "" {
		return p
	}
	return filepath.Join(repoRoot(), ".cache", "judges", "docker-compose")
}

// dockerConfigDir creates a DOCKER_CONFIG directory for u and copies the
// compose plugin into its cli-plugins/ when it exists.
func dockerConfigDir(u *User, d string) (string, error) {
	plugins := filepath.Join(d, "cli-plugins")
	if err := os.MkdirAll(plugins, 0o700); err != nil {
		return "", err
	}
	if data, err := os.ReadFile(ComposeBinary()); err == nil {
		if err := os.WriteFile(filepath.Join(plugins, "docker-compose"), data, 0o755); err != nil {
			return "", err
		}
	}
	err := filepath.WalkDir(d, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(p, u.UID, u.GID)
	})
	return d, err
}

// DockerCLI returns the docker CLI's path, or fails t.
func DockerCLI(t testing.TB) string {
	t.Helper()
	for _, p := range DockerCLIPaths {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatalf("no docker CLI at %s: the API tests run the real docker client", strings.Join(DockerCLIPaths, " or "))
	return ""
}

// UserCommand returns an unstarted command running path as u, the way
// Command runs skiff (credentials, environment, the home as working
// directory).
func UserCommand(u *User, path string, args ...string) *exec.Cmd {
	tmpl := Command(u)
	cmd := exec.Command(path, args...)
	cmd.Env, cmd.Dir, cmd.SysProcAttr = tmpl.Env, tmpl.Dir, tmpl.SysProcAttr
	return cmd
}

// ClientEnv is the environment of a client of s: DOCKER_HOST,
// DOCKER_CONFIG and DOCKER_BUILDKIT=0 (the classic builder, which the
// service implements), on top of u.Env().
func (s *Service) ClientEnv() []string {
	return append(s.User.Env(), "DOCKER_HOST="+s.Host, "DOCKER_CONFIG="+s.DockerConfig, "DOCKER_BUILDKIT=0")
}

// DockerCommand returns an unstarted docker CLI command as u against u's
// service (started if needed), for tests that need a pty, signals or the
// output as it comes.
func DockerCommand(t testing.TB, u *User, args ...string) *exec.Cmd {
	t.Helper()
	s := StartService(t, u)
	cmd := UserCommand(u, DockerCLI(t), args...)
	cmd.Env = s.ClientEnv()
	return cmd
}

// Docker runs the docker CLI as u against u's service.
func Docker(t testing.TB, u *User, args ...string) *Result {
	t.Helper()
	return DockerWith(t, u, RunOptions{}, args...)
}

// DockerWith runs the docker CLI as u against u's service with options.
func DockerWith(t testing.TB, u *User, opts RunOptions, args ...string) *Result {
	t.Helper()
	s := StartService(t, u)
	env := append(append([]string{}, s.ClientEnv()...), opts.Env...)
	return runProgram(t, u, opts, "docker", DockerCLI(t), env, args)
}

// Compose runs `docker compose ARGS` as u in dir (the project directory)
// against u's service. It fails t when the plugin was not built.
func Compose(t testing.TB, u *User, dir string, args ...string) *Result {
	t.Helper()
	return ComposeWith(t, u, RunOptions{Dir: dir}, args...)
}

// ComposeWith is Compose with options (Dir is the project directory).
func ComposeWith(t testing.TB, u *User, opts RunOptions, args ...string) *Result {
	t.Helper()
	s := StartService(t, u)
	if _, err := os.Stat(filepath.Join(s.DockerConfig, "cli-plugins", "docker-compose")); err != nil {
		t.Fatalf("docker compose is not built: run `make judges` (it builds %s), or set SKIFF_COMPOSE_BINARY", ComposeBinary())
	}
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Minute
	}
	return DockerWith(t, u, opts, append([]string{"compose"}, args...)...)
}

// Python runs Debian's python3 as u on the script file (copied where u can
// read it) with args, with DOCKER_HOST set to u's service, so that
// docker.from_env() talks to it.
func Python(t testing.TB, u *User, script string, args ...string) *Result {
	t.Helper()
	return PythonWith(t, u, RunOptions{}, script, args...)
}

// PythonWith is Python with options.
func PythonWith(t testing.TB, u *User, opts RunOptions, script string, args ...string) *Result {
	t.Helper()
	s := StartService(t, u)
	data, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	dir := UserDir(t, u)
	p := filepath.Join(dir, filepath.Base(script))
	WriteUserFile(t, u, p, data)
	if opts.Timeout == 0 {
		opts.Timeout = 3 * time.Minute
	}
	env := append(append([]string{}, s.ClientEnv()...), opts.Env...)
	return runProgram(t, u, opts, "python3 "+filepath.Base(script), PythonPath, env, append([]string{p}, args...))
}
