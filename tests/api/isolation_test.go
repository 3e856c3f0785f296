package api

// The docker CLI's namespace, device, sysctl and ulimit flags and network
// create's address options, through the API service.

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestDockerRunIsolation(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	r := docker(t, "run", "--rm", "--pid", "host", "--ipc", "shareable", "--shm-size", "8m", "--group-add", "staff",
		"--sysctl", "kernel.shmmax=123456", "--ulimit", "nofile=512:1024", "--device", "/dev/null:/dev/mynull",
		"--domainname", "example.org", "--cgroupns", "private", bb,
		"sh", "-c", "test -e /proc/1/comm && df -k /dev/shm | tail -1; id -G; cat /proc/sys/kernel/shmmax /proc/sys/kernel/domainname; ulimit -n; ulimit -Hn; test -c /dev/mynull && echo dev").OK(t)
	f := strings.Fields(r.Stdout)
	if len(f) < 11 || f[1] != "8192" || !strings.Contains(r.Stdout, "\n0 50\n") || !strings.Contains(r.Stdout, "123456\nexample.org\n512\n1024\ndev\n") {
		t.Errorf("docker run with isolation flags: %q", r.Stdout)
	}
	n := name("iso")
	rmOnCleanup(t, n)
	docker(t, "create", "--name", n, "--ipc", "shareable", "--sysctl", "net.ipv4.ip_forward=1", "--ulimit", "nproc=10:20",
		"--shm-size", "8m", "--annotation", "a=b", "--uts", "host", bb, "true").OK(t)
	var doc []struct {
		HostConfig struct {
			IpcMode, UTSMode string
			Sysctls          map[string]string
			Ulimits          []struct {
				Name       string
				Soft, Hard int64
			}
			ShmSize     int64
			Annotations map[string]string
		}
	}
	if err := json.Unmarshal([]byte(docker(t, "inspect", n).OK(t).Stdout), &doc); err != nil || len(doc) != 1 {
		t.Fatalf("docker inspect %s: %v", n, err)
	}
	hc := doc[0].HostConfig
	if got := fmt.Sprintln(hc.IpcMode, hc.UTSMode, hc.Sysctls, hc.Ulimits, hc.ShmSize, hc.Annotations); got != "shareable host map[net.ipv4.ip_forward:1] [{nproc 10 20}] 8388608 map[a:b]\n" {
		t.Errorf("docker inspect HostConfig: %s", got)
	}
	// Bad values: the engine's one-line errors, nothing created.
	for _, args := range [][]string{{"--sysctl", "vm.swappiness=1"}, {"--ipc", "container:nosuch"}, {"--gpus", "all"}, {"--userns", "keep-id", "--pid", "host"}} {
		bad := name("iso-bad")
		r := docker(t, append(append([]string{"create", "--name", bad}, args...), bb, "true")...)
		if r.ExitCode == 0 {
			t.Errorf("docker create %s: accepted", strings.Join(args, " "))
			rmOnCleanup(t, bad)
		}
	}
}

func TestDockerNetworkIPv6AndFixedAddresses(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	nw := name("net6")
	docker(t, "network", "create", "--ipv6", "--subnet", "10.235.1.0/24", "--subnet", "fd00:5b:1::/64", "--ip-range", "10.235.1.64/26", nw).OK(t)
	t.Cleanup(func() { docker(t, "network", "rm", nw) })
	r := docker(t, "run", "--rm", "--network", nw, "--ip", "10.235.1.10", "--ip6", "fd00:5b:1::10", bb, "ip", "addr", "show", "eth0").OK(t)
	if !strings.Contains(r.Stdout, "inet 10.235.1.10/24") || !strings.Contains(r.Stdout, "inet6 fd00:5b:1::10/64") {
		t.Errorf("docker run --ip --ip6: %s", r.Stdout)
	}
	r = docker(t, "run", "--rm", "--network", nw, bb, "ip", "-4", "addr", "show", "eth0").OK(t)
	if !strings.Contains(r.Stdout, "inet 10.235.1.64/24") && !strings.Contains(r.Stdout, "inet 10.235.1.65/24") {
		t.Errorf("docker run on a network with --ip-range 10.235.1.64/26: %s", r.Stdout)
	}
	out := docker(t, "network", "inspect", "-f", "{{.EnableIPv6}} {{range .IPAM.Config}}{{.Subnet}} {{end}}", nw).OK(t).Stdout
	if out != "true 10.235.1.0/24 fd00:5b:1::/64 \n" {
		t.Errorf("docker network inspect: %q", out)
	}
}
