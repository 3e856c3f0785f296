package harness

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// registryProcess is a running Debian docker-registry on loopback.
type registryProcess struct {
	addr string
	dir  string
	cmd  *exec.Cmd
	done chan error
}

// startRegistry starts docker-registry on a free 127.0.0.1 port with its
// storage in dir and waits until GET /v2/ answers.
func startRegistry(dir string) (*registryProcess, error) {
	return startRegistryWith(dir, "", http.StatusOK)
}

// startRegistryWith starts docker-registry like startRegistry with extra
// top-level configuration (YAML, e.g. an auth section) and waits until
// GET /v2/ answers with ready (401 for a registry that wants credentials).
func startRegistryWith(dir, extraConfig string, ready int) (*registryProcess, error) {
	client := &http.Client{Timeout: 2 * time.Second}
	return startRegistryProbe(dir, extraConfig, func(addr string) bool {
		resp, err := client.Get("http://" + addr + "/v2/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == ready
	})
}

// startRegistryProbe starts docker-registry like startRegistryWith and
// waits until ready says it answers. extraConfig may continue the http
// section with lines indented by two spaces (tls: ...).
func startRegistryProbe(dir, extraConfig string, ready func(addr string) bool) (*registryProcess, error) {
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	config := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
%s`, filepath.Join(dir, "data"), addr, extraConfig)
	configPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(configPath, []byte(config), 0o644); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "registry.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command("/usr/bin/docker-registry", "serve", configPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting docker-registry: %w", err)
	}
	r := &registryProcess{addr: addr, dir: dir, cmd: cmd, done: make(chan error, 1)}
	go func() { r.done <- cmd.Wait() }()

	deadline := time.Now().Add(20 * time.Second)
	for {
		if ready(addr) {
			return r, nil
		}
		select {
		case werr := <-r.done:
			return nil, fmt.Errorf("docker-registry exited (%v): %s", werr, tail(logPath))
		default:
		}
		if time.Now().After(deadline) {
			r.stop()
			return nil, fmt.Errorf("docker-registry on %s did not answer GET /v2/ within 20s: %s", addr, tail(logPath))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends the registry process.
func (r *registryProcess) stop() {
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(5 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
	}
}

// freePort asks the kernel for a free loopback TCP port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the last lines of a log file for error messages.
func tail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}
