package api

import (
	"strings"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

func TestDockerNetworks(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	net1, net2 := name("net1"), name("net2")
	t.Cleanup(func() { docker(t, "network", "rm", net1, net2) })
	r := docker(t, "network", "create", "--label", "purpose=api", net1).OK(t)
	netID := strings.TrimSpace(r.Stdout)
	if !fullIDRe.MatchString(netID) {
		t.Errorf("docker network create: %q, want the network ID", r.Stdout)
	}
	docker(t, "network", "create", net2).OK(t)
	r = docker(t, "network", "create", net1)
	if r.ExitCode == 0 || !containsAnyFold(r.Stderr, "already exists", "conflict") {
		t.Errorf("creating %s twice: want a conflict\n%s", net1, r.Output())
	}
	r = docker(t, "network", "ls", "--filter", "name="+net1, "--format", "{{.ID}} {{.Name}} {{.Driver}}").OK(t)
	if r.Stdout != netID[:12]+" "+net1+" bridge\n" {
		t.Errorf("docker network ls --filter name=: %q, want %s %s bridge", r.Stdout, netID[:12], net1)
	}
	if got := docker(t, "network", "ls", "--filter", "label=purpose=api", "-q", "--no-trunc").OK(t).Lines(); !contains(got, netID) {
		t.Errorf("docker network ls --filter label=: %v lacks %s", got, netID)
	}
	var ni struct {
		Name, Id, Driver string
		Labels           map[string]string
		IPAM             struct{ Config []struct{ Subnet string } }
		Containers       map[string]struct{ Name string }
	}
	inspectJSON(t, []string{"network", "inspect"}, net1, &ni)
	if ni.Name != net1 || ni.Id != netID || ni.Driver != "bridge" || ni.Labels["purpose"] != "api" || len(ni.IPAM.Config) == 0 || ni.IPAM.Config[0].Subnet == "" {
		t.Errorf("docker network inspect: %+v", ni)
	}
	// Containers on the network find each other by name.
	web := name("net-web")
	runDetached(t, web, []string{"--network", net1}, httpdCmd("on-the-net")...)
	var out string
	eventually(t, 20*time.Second, "wget of the web container by name", func() (bool, string) {
		r := docker(t, "run", "--rm", "--network", net1, bb, "wget", "-qO-", "http://"+web+"/")
		out = r.Stdout
		return r.ExitCode == 0, r.Output()
	})
	if out != "on-the-net\n" {
		t.Errorf("wget by container name on %s: %q", net1, out)
	}
	inspectJSON(t, []string{"network", "inspect"}, net1, &ni)
	found := false
	for _, c := range ni.Containers {
		found = found || c.Name == web
	}
	if !found {
		t.Errorf("network inspect Containers %v lacks %s", ni.Containers, web)
	}
	// connect and disconnect a running container.
	docker(t, "network", "connect", "--alias", "web-alias", net2, web).OK(t)
	c := inspectContainer(t, web)
	if _, ok := c.NetworkSettings.Networks[net2]; !ok {
		t.Fatalf("after network connect: Networks %v lacks %s", c.NetworkSettings.Networks, net2)
	}
	eventually(t, 20*time.Second, "wget of the alias on the second network", func() (bool, string) {
		r := docker(t, "run", "--rm", "--network", net2, bb, "wget", "-qO-", "http://web-alias/")
		return r.ExitCode == 0 && r.Stdout == "on-the-net\n", r.Output()
	})
	docker(t, "network", "disconnect", net2, web).OK(t)
	if c := inspectContainer(t, web); len(c.NetworkSettings.Networks) != 1 {
		t.Errorf("after network disconnect: Networks %v, want %s only", c.NetworkSettings.Networks, net1)
	}
	// In use: rm refuses; after the container goes, it succeeds.
	r = docker(t, "network", "rm", net1)
	if r.ExitCode == 0 || !containsAnyFold(r.Stderr, "active endpoints", "in use", "being used") {
		t.Errorf("docker network rm of a network in use: want a refusal\n%s", r.Output())
	}
	docker(t, "rm", "-f", web).OK(t)
	docker(t, "network", "rm", net1, net2).OK(t)
	r = docker(t, "network", "inspect", net1)
	if r.ExitCode == 0 || !containsAnyFold(r.Stderr, "not found", "no such network") {
		t.Errorf("docker network inspect of a removed network:\n%s", r.Output())
	}
}

// TestDockerNetworkPrune is not parallel: it removes every unused network.
func TestDockerNetworkPrune(t *testing.T) {
	needRootless(t)
	unused, used := name("net-unused"), name("net-used")
	t.Cleanup(func() { docker(t, "network", "rm", unused, used) })
	docker(t, "network", "create", unused).OK(t)
	docker(t, "network", "create", used).OK(t)
	c := name("net-user")
	runDetached(t, c, []string{"--network", used}, idleCmd...)
	r := docker(t, "network", "prune", "-f").OK(t)
	if !strings.Contains(r.Stdout, "Deleted Networks:") || !strings.Contains(r.Stdout, unused) || strings.Contains(r.Stdout, used) {
		t.Errorf("docker network prune -f: want Deleted Networks: with %s and not %s\n%s", unused, used, r.Output())
	}
	names := docker(t, "network", "ls", "--format", "{{.Name}}").OK(t).Lines()
	if contains(names, unused) || !contains(names, used) {
		t.Errorf("after network prune: %v", names)
	}
}

func TestDockerVolumes(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	v := name("vol")
	t.Cleanup(func() { docker(t, "volume", "rm", "-f", v) })
	docker(t, "volume", "create", "--label", "purpose=api", v).OK(t).StdoutIs(t, v+"\n")
	r := docker(t, "volume", "ls", "--filter", "name="+v, "--format", "{{.Driver}} {{.Name}}").OK(t)
	r.StdoutIs(t, "local "+v+"\n")
	if got := docker(t, "volume", "ls", "-q", "--filter", "label=purpose=api").OK(t).Lines(); !contains(got, v) {
		t.Errorf("docker volume ls --filter label=: %v lacks %s", got, v)
	}
	var vi struct {
		Name, Driver, Mountpoint, Scope string
		Labels                          map[string]string
	}
	inspectJSON(t, []string{"volume", "inspect"}, v, &vi)
	if vi.Name != v || vi.Driver != "local" || vi.Mountpoint == "" || vi.Labels["purpose"] != "api" || vi.Scope != "local" {
		t.Errorf("docker volume inspect: %+v", vi)
	}
	// Data written by one container is read by the next.
	docker(t, "run", "--rm", "-v", v+":/data", bb, "sh", "-c", "echo kept > /data/f").OK(t)
	docker(t, "run", "--rm", "-v", v+":/data:ro", bb, "cat", "/data/f").OK(t).StdoutIs(t, "kept\n")
	docker(t, "run", "--rm", "--mount", "type=volume,source="+v+",target=/m", bb, "cat", "/m/f").OK(t).StdoutIs(t, "kept\n")
	// A volume in use cannot be removed.
	n := name("vol-user")
	runDetached(t, n, []string{"-v", v + ":/data"}, idleCmd...)
	r = docker(t, "volume", "rm", v)
	if r.ExitCode == 0 || !containsAnyFold(r.Stderr, "in use", "being used") {
		t.Errorf("docker volume rm of a volume in use: want 'volume is in use'\n%s", r.Output())
	}
	docker(t, "rm", "-f", n).OK(t)
	docker(t, "volume", "rm", v).OK(t).StdoutIs(t, v+"\n")
	r = docker(t, "volume", "inspect", v)
	if r.ExitCode == 0 || !containsAnyFold(r.Stderr, "no such volume") {
		t.Errorf("docker volume inspect of a removed volume:\n%s", r.Output())
	}
	// A bind mount of a host directory of the user's.
	dir := harness.UserDir(t, user())
	docker(t, "run", "--rm", "-v", dir+":/host", bb, "sh", "-c", "echo from-container > /host/out").OK(t)
	if r := docker(t, "run", "--rm", "-v", dir+":/host:ro", bb, "sh", "-c", "echo x > /host/denied"); r.ExitCode == 0 {
		t.Errorf("a :ro bind mount was writable")
	}
}

// TestDockerVolumePrune is not parallel: it removes every unused volume.
// Since API 1.42 prune removes anonymous volumes only, unless --all.
func TestDockerVolumePrune(t *testing.T) {
	needRootless(t)
	bb := busybox(t)
	named := name("vol-named")
	t.Cleanup(func() { docker(t, "volume", "rm", "-f", named) })
	docker(t, "volume", "create", named).OK(t)
	c := name("vol-anon")
	docker(t, "create", "--name", c, "-v", "/anon", bb, "true").OK(t)
	var ci containerInspect
	inspectJSON(t, []string{"container", "inspect"}, c, &ci)
	if len(ci.Mounts) != 1 {
		t.Fatalf("create -v /anon: Mounts %+v", ci.Mounts)
	}
	anon := ci.Mounts[0].Name
	docker(t, "rm", c).OK(t) // without -v: the anonymous volume stays, unused
	r := docker(t, "volume", "prune", "-f").OK(t)
	if !strings.Contains(r.Stdout, anon) || strings.Contains(r.Stdout, named) {
		t.Errorf("docker volume prune -f: want the anonymous %s deleted and the named %s kept\n%s", anon, named, r.Output())
	}
	r = docker(t, "volume", "prune", "-f", "--all").OK(t)
	if !strings.Contains(r.Stdout, named) {
		t.Errorf("docker volume prune -f --all: want %s deleted\n%s", named, r.Output())
	}
	if got := docker(t, "volume", "ls", "-q").OK(t).Lines(); contains(got, named) || contains(got, anon) {
		t.Errorf("after prune: volumes %v", got)
	}
}
