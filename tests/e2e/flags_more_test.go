package e2e

// End-to-end tests of flags the other tests do not type (see
// TestFlagsCoverage): every service create and update flag, as the
// service's spec shows it; and run's, pull's, push's, login's, history's
// and generate's last few.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skiff-project/skiff/tests/harness"
)

// A service of no replicas takes every create flag into its spec, and
// every update flag changes it; service ps and logs resolve no names with
// --no-resolve.
func TestServiceEveryFlag(t *testing.T) {
	parallel(t)
	u := harness.E2E
	img := svcImage(t, u, "v1")
	name := svcName("allflags")
	nw, nw2 := "svcflags-"+harness.UniqueSuffix(), "svcflags2-"+harness.UniqueSuffix()
	for _, n := range []string{nw, nw2} {
		skiff(t, "network", "create", n).OK(t)
		t.Cleanup(func() { harness.RunAs(t, u, "network", "rm", n) })
	}
	envFile := filepath.Join(harness.UserDir(t, u), "env")
	harness.WriteUserFile(t, u, envFile, []byte("FROM_FILE=1\n"))
	svcCreate(t, u, name, []string{"-d", "-q", "--replicas", "0", "--mode", "replicated",
		"-w", "/srv", "-u", "1000", "--hostname", "h", "--entrypoint", "sleep", "-t", "--init", "--read-only",
		"--stop-grace-period", "7s", "--stop-signal", "SIGINT", "--cap-add", "NET_ADMIN", "--cap-drop", "MKNOD",
		"--health-cmd", "true", "--health-interval", "2s", "--health-timeout", "1s", "--health-retries", "4", "--health-start-period", "1s",
		"--restart-condition", "on-failure", "--restart-delay", "2s", "--restart-max-attempts", "3", "--restart-window", "10s",
		"--update-parallelism", "2", "--update-delay", "1s", "--update-monitor", "3s", "--update-failure-action", "rollback",
		"--update-max-failure-ratio", "0.2", "--update-order", "start-first",
		"--rollback-parallelism", "1", "--rollback-delay", "1s", "--rollback-monitor", "2s", "--rollback-failure-action", "continue",
		"--rollback-max-failure-ratio", "0.1", "--rollback-order", "stop-first",
		"--endpoint-mode", "vip", "--with-registry-auth", "--no-resolve-image",
		"-l", "a=b", "--container-label", "c=d", "-e", "E=1", "--env-file", envFile,
		"--mount", "type=tmpfs,target=/t", "--network", nw}, img, "300")
	s := svcInspectAs(t, u, name).Spec
	cs, task := s.TaskTemplate.ContainerSpec, s.TaskTemplate
	check := func(what string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("service create: %s = %#v, want %#v", what, got, want)
		}
	}
	check("replicas", s.Mode.Replicated != nil && *s.Mode.Replicated.Replicas == 0, true)
	check("workdir, user, hostname", []string{cs.Dir, cs.User, cs.Hostname}, []string{"/srv", "1000", "h"})
	check("entrypoint and args", [][]string{cs.Command, cs.Args}, [][]string{{"sleep"}, {"300"}})
	check("tty, init, read-only", []bool{cs.TTY, cs.Init != nil && *cs.Init, cs.ReadOnly}, []bool{true, true, true})
	check("stop grace period and signal", words(*cs.StopGracePeriod, cs.StopSignal), "7s SIGINT")
	check("capabilities", strings.Join(append(cs.CapabilityAdd, cs.CapabilityDrop...), " "), "CAP_NET_ADMIN CAP_MKNOD")
	h := cs.Healthcheck
	check("healthcheck", words(h.Test, h.Interval, h.Timeout, h.Retries, h.StartPeriod), "[CMD-SHELL true] 2s 1s 4 1s")
	rp := task.RestartPolicy
	check("restart policy", words(rp.Condition, *rp.Delay, *rp.MaxAttempts, *rp.Window), "on-failure 2s 3 10s")
	uc, rc := s.UpdateConfig, s.RollbackConfig
	check("update config", words(uc.Parallelism, uc.Delay, uc.Monitor, uc.FailureAction, uc.MaxFailureRatio, uc.Order), "2 1s 3s rollback 0.2 start-first")
	check("rollback config", words(rc.Parallelism, rc.Delay, rc.Monitor, rc.FailureAction, rc.MaxFailureRatio, rc.Order), "1 1s 2s continue 0.1 stop-first")
	check("endpoint mode", string(s.EndpointSpec.Mode), "vip")
	check("labels", []string{s.Labels["a"], cs.Labels["c"]}, []string{"b", "d"})
	check("env", slices.Contains(cs.Env, "E=1") && slices.Contains(cs.Env, "FROM_FILE=1"), true)
	check("mounts", len(cs.Mounts) == 1 && cs.Mounts[0].Target == "/t" && string(cs.Mounts[0].Type) == "tmpfs", true)
	check("networks", len(task.Networks) == 1 && task.Networks[0].Target == nw, true)

	port := netPort(t)
	harness.RunAs(t, u, "service", "update", "-d", "--image", svcImage(t, u, "v2"), "--args", "sleep 400", "--force",
		"--env-add", "X=2", "--env-rm", "E", "--label-add", "l2=v", "--label-rm", "a",
		"--container-label-add", "c2=v", "--container-label-rm", "c", "--publish-add", fmt.Sprintf("%d:80", port),
		"--mount-add", "type=tmpfs,target=/u", "--mount-rm", "/t", "--network-add", nw2, "--network-rm", nw,
		"--no-healthcheck",
		"--stop-grace-period", "8s", "--restart-condition", "any", "--restart-delay", "3s", "--restart-window", "20s",
		"--update-delay", "2s", "--update-monitor", "4s", "--update-max-failure-ratio", "0.3", "--update-order", "stop-first",
		"--rollback-parallelism", "2", "--rollback-delay", "2s", "--rollback-monitor", "3s", "--rollback-failure-action", "pause",
		"--rollback-max-failure-ratio", "0.4", "--rollback-order", "start-first", "--endpoint-mode", "vip",
		"--with-registry-auth", "--no-resolve-image", name).OK(t)
	s = svcInspectAs(t, u, name).Spec
	cs, task = s.TaskTemplate.ContainerSpec, s.TaskTemplate
	check = func(what string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("service update: %s = %#v, want %#v", what, got, want)
		}
	}
	check("image is v2", strings.Contains(cs.Image, "svc-www:v2"), true)
	check("args", cs.Args, []string{"sleep", "400"})
	check("env", slices.Contains(cs.Env, "X=2") && !slices.Contains(cs.Env, "E=1"), true)
	check("labels", []string{s.Labels["l2"], s.Labels["a"], cs.Labels["c2"], cs.Labels["c"]}, []string{"v", "", "v", ""})
	check("ports", len(s.EndpointSpec.Ports) == 1 && int(s.EndpointSpec.Ports[0].PublishedPort) == port, true)
	check("mounts", len(cs.Mounts) == 1 && cs.Mounts[0].Target == "/u", true)
	check("networks", len(task.Networks) == 1 && task.Networks[0].Target == nw2, true)
	check("no healthcheck", cs.Healthcheck != nil && slices.Equal(cs.Healthcheck.Test, []string{"NONE"}), true)
	check("stop grace period", *cs.StopGracePeriod, 8*time.Second)
	rp = task.RestartPolicy
	check("restart policy", words(rp.Condition, *rp.Delay, *rp.Window), "any 3s 20s")
	uc, rc = s.UpdateConfig, s.RollbackConfig
	check("update config", words(uc.Delay, uc.Monitor, uc.MaxFailureRatio, uc.Order), "2s 4s 0.3 stop-first")
	check("rollback config", words(rc.Parallelism, rc.Delay, rc.Monitor, rc.FailureAction, rc.MaxFailureRatio, rc.Order), "2 2s 3s pause 0.4 start-first")
	harness.RunAs(t, u, "service", "update", "-d", "--publish-rm", "80", name).OK(t)
	if p := svcInspectAs(t, u, name).Spec.EndpointSpec.Ports; len(p) != 0 {
		t.Errorf("service update --publish-rm 80: ports %+v", p)
	}
	// --rollback goes back to the spec before the last update.
	harness.RunAs(t, u, "service", "update", "-d", "--env-add", "Y=3", name).OK(t)
	harness.RunAs(t, u, "service", "update", "-d", "--rollback", name).OK(t)
	if env := svcInspectAs(t, u, name).Spec.TaskTemplate.ContainerSpec.Env; slices.Contains(env, "Y=3") || !slices.Contains(env, "X=2") {
		t.Errorf("service update --rollback after --env-add Y=3: env %q, want X=2 and no Y", env)
	}
	serviceLimits(t, name)
	// Placement constraints mean nothing on one node: refused, nothing made
	// or changed; removing one that is not there changes nothing.
	other := svcName("constraint")
	harness.RunAs(t, u, "service", "create", "-d", "--replicas", "0", "--name", other, "--constraint", "node.role==manager", img).ErrorLine(t, errExit, "constraint")
	if svcListed(t, u, other) {
		t.Errorf("service create --constraint made %s", other)
	}
	harness.RunAs(t, u, "service", "update", "-d", "--constraint-add", "node.role==manager", name).ErrorLine(t, errExit, "constraint")
	harness.RunAs(t, u, "service", "update", "-d", "--constraint-rm", "node.role==manager", name).OK(t)
	if c := svcInspectAs(t, u, name).Spec.TaskTemplate.Placement; c != nil && len(c.Constraints) > 0 {
		t.Errorf("constraints %v after the refused --constraint-add", c.Constraints)
	}
}

// words is its values printed with a space between each.
func words(v ...any) string { return strings.TrimSuffix(fmt.Sprintln(v...), "\n") }

// serviceLimits checks --limit-cpu, --limit-memory, --limit-pids,
// --reserve-cpu and --reserve-memory on service create and update: either
// refused in one line that names them (no service made or changed), or
// taken into the spec.
func serviceLimits(t *testing.T, name string) {
	t.Helper()
	u := harness.E2E
	flags := []string{"--limit-cpu", "0.5", "--limit-memory", "64m", "--limit-pids", "100", "--reserve-cpu", "0.25", "--reserve-memory", "32m"}
	before := svcInspectAs(t, u, name).Version.Index
	r := harness.RunAs(t, u, append(append([]string{"service", "update", "-d"}, flags...), name)...)
	if r.ExitCode != 0 {
		r.ErrorLine(t, errExit, "--limit-")
		if after := svcInspectAs(t, u, name).Version.Index; after != before {
			t.Errorf("the refused service update --limit-* changed the service (version %d -> %d)", before, after)
		}
		other := svcName("limits")
		cr := harness.RunAs(t, u, append(append([]string{"service", "create", "-d", "--replicas", "0", "--name", other}, flags...), svcImage(t, u, "v1"))...)
		cr.ErrorLine(t, errExit, "--limit-")
		if svcListed(t, u, other) {
			t.Errorf("the refused service create --limit-* made %s", other)
		}
		return
	}
	res := svcInspectAs(t, u, name).Spec.TaskTemplate.Resources
	got := []int64{res.Limits.NanoCPUs, res.Limits.MemoryBytes, res.Limits.Pids, res.Reservations.NanoCPUs, res.Reservations.MemoryBytes}
	if want := []int64{5e8, 64 << 20, 100, 25e7, 32 << 20}; !reflect.DeepEqual(got, want) {
		t.Errorf("service update --limit-* --reserve-*: resources %v, want %v", got, want)
	}
}

// service ps and the log lines of service logs show IDs, not names, with
// --no-resolve.
func TestServiceLogsNoResolve(t *testing.T) {
	parallel(t)
	u := harness.E2E
	name := svcName("noresolve")
	id := svcCreate(t, u, name, []string{"--replicas", "1"}, svcImage(t, u, "v1"), "sh", "-c", "echo hello-logs; exec sleep 300")
	// service ps --no-resolve: the service's ID where its name was.
	if out := harness.RunAs(t, u, "service", "ps", "--no-resolve", "--format", "{{.Name}}", name).OK(t).Stdout; strings.Contains(out, name) || !strings.HasPrefix(out, id) {
		t.Errorf("service ps --no-resolve: task names %q, want %s.1 (the ID, not %s)", out, id, name)
	}
	var out string
	eventually(t, 20*time.Second, "the replica's line in service logs", func() (bool, string) {
		out = harness.RunAs(t, u, "service", "logs", "--no-resolve", name).OK(t).Stdout
		return strings.Contains(out, "hello-logs"), out
	})
	if strings.HasPrefix(out, name+".") {
		t.Errorf("service logs --no-resolve names the task %s.N:\n%s", name, out)
	}
	if plain := harness.RunAs(t, u, "service", "logs", name).OK(t).Stdout; !strings.HasPrefix(plain, name+".1.") {
		t.Errorf("service logs without --no-resolve: %q, want the task's name %s.1.… first", plain, name)
	}
}

func TestRunMacAddressLogDriverNoHealthcheck(t *testing.T) {
	parallel(t)
	harness.Requires(t, "slirp4netns")
	bb := busybox(t)
	mac := "02:42:ac:11:00:99"
	for _, cmd := range []string{"run", "container run"} {
		args := append(strings.Fields(cmd), "--rm", "--mac-address", mac, bb, "cat", "/sys/class/net/tap0/address")
		skiff(t, args...).OK(t).StdoutIs(t, mac+"\n")
	}
	skiff(t, "run", "--rm", "--mac-address", "not-a-mac", bb, "true").ErrorLine(t, runExit, "not-a-mac")
	name := lcName("logdriver")
	for i, cmd := range [][]string{{"create"}, {"container", "create"}} {
		n := fmt.Sprintf("%s-%d", name, i)
		rmOnCleanup(t, harness.E2E, n)
		skiff(t, append(cmd, "--name", n, "--log-driver", "json-file", "--no-healthcheck", "--mac-address", mac, "--tls-verify=false", bb, "true")...).OK(t)
		var got struct {
			Config struct {
				Healthcheck struct{ Test []string }
			}
			HostConfig struct{ LogConfig struct{ Type string } }
		}
		must(t, json.Unmarshal([]byte(strings.Trim(skiff(t, "inspect", n).OK(t).Stdout, "[]\n ")), &got))
		if got.HostConfig.LogConfig.Type != "json-file" || !slices.Equal(got.Config.Healthcheck.Test, []string{"NONE"}) {
			t.Errorf("%s --log-driver json-file --no-healthcheck: LogConfig.Type %q, Healthcheck.Test %q", strings.Join(cmd, " "), got.HostConfig.LogConfig.Type, got.Config.Healthcheck.Test)
		}
	}
	skiff(t, "run", "--rm", "--log-driver", "syslog", bb, "true").ErrorLine(t, runExit, "syslog")
	if r := skiff(t, "run", "--rm", "--tls-verify=false", "--pull", "always", bb, "true").OK(t); strings.Contains(r.Stderr, "Unable to find image") {
		t.Errorf("--pull always said the present image is missing:\n%s", r.Stderr)
	}
	skiff(t, "container", "run", "--rm", "--tls-verify", "--no-healthcheck", "--log-driver", "json-file", bb, "true").OK(t)
}

func TestPullPushTLSVerifyFlag(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	skiff(t, "pull", "-q", "--tls-verify=false", bb).OK(t)
	skiff(t, "image", "pull", "-q", "--tls-verify", bb).OK(t)
	dst := harness.Registry + "/tls-verify-" + harness.UniqueSuffix() + ":v1"
	skiff(t, "tag", bb, dst).OK(t)
	t.Cleanup(func() { harness.RunAs(t, harness.E2E, "rmi", dst) })
	skiff(t, "push", "-q", "--tls-verify=false", dst).OK(t)
	skiff(t, "image", "push", "-q", "--tls-verify", dst).OK(t)
}

// Not parallel: login writes the user's ~/.docker/config.json, which the
// login tests reset.
func TestLoginTLSVerifyFlag(t *testing.T) {
	ar := harness.NeedAuthRegistry(t)
	u := harness.E2E
	harness.ResetDockerConfig(t, u)
	t.Cleanup(func() { harness.ResetDockerConfig(t, u) })
	harness.RunAsWith(t, u, harness.RunOptions{Stdin: strings.NewReader(ar.Password + "\n")},
		"login", "--tls-verify=false", "-u", ar.User, "--password-stdin", ar.Addr).OK(t)
	harness.RunAs(t, u, "logout", ar.Addr).OK(t)
}

func TestHistoryHuman(t *testing.T) {
	parallel(t)
	bb := busybox(t)
	for _, flag := range []string{"--human=false", "-H=false"} {
		for _, l := range skiff(t, "history", flag, "--format", "{{.Size}}", bb).OK(t).Lines() {
			if strings.Trim(l, "0123456789") != "" {
				t.Errorf("history %s: size %q, want a plain number of bytes", flag, l)
			}
		}
	}
	if l := skiff(t, "image", "history", "--human", "--format", "{{.CreatedSince}}", bb).OK(t).Lines(); len(l) == 0 || !strings.HasSuffix(l[0], "ago") {
		t.Errorf("history --human: CreatedSince %q, want \"… ago\"", l)
	}
}

func TestGenerateSystemdServicePrefix(t *testing.T) {
	parallel(t)
	u := harness.E2E
	name := svcName("unitprefix")
	svcCreate(t, u, name, []string{"-d", "--replicas", "0"}, svcImage(t, u, "v1"), "true")
	dir := harness.UserDir(t, u)
	r := harness.RunAsWith(t, u, harness.RunOptions{Dir: dir}, "generate", "systemd", "--files", "--name", "--service-prefix", "swarmy", name).OK(t)
	want := filepath.Join(dir, "swarmy-"+name+".service")
	if _, err := os.Stat(want); err != nil || strings.TrimSpace(r.Stdout) != want {
		t.Errorf("generate systemd --files --service-prefix swarmy: printed %q, want the unit %s (%v)", r.Stdout, want, err)
	}
}
