package cmd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/urfave/cli/v2"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

func TestParsePublish(t *testing.T) {
	ing := swarm.PortConfigPublishModeIngress
	port := func(pub, tgt uint32) swarm.PortConfig {
		return swarm.PortConfig{PublishedPort: pub, TargetPort: tgt, Protocol: "tcp", PublishMode: ing}
	}
	udp := port(53, 53)
	udp.Protocol = "udp"
	tests := []struct {
		in   string
		want []swarm.PortConfig
	}{
		{"8080:80", []swarm.PortConfig{port(8080, 80)}},
		{"80", []swarm.PortConfig{port(0, 80)}},
		{":80", []swarm.PortConfig{port(0, 80)}},
		{"8080:80/tcp", []swarm.PortConfig{port(8080, 80)}},
		{"53:53/udp", []swarm.PortConfig{udp}},
		{"8080-8081:80-81", []swarm.PortConfig{port(8080, 80), port(8081, 81)}},
		{"8080-8081:80", []swarm.PortConfig{port(8080, 80), port(8081, 80)}},
		{"published=8080,target=80", []swarm.PortConfig{port(8080, 80)}},
		{"published=8080,target=80,protocol=tcp,mode=ingress", []swarm.PortConfig{port(8080, 80)}},
		{"target=80", []swarm.PortConfig{port(0, 80)}},
		{"published=53,target=53,protocol=udp", []swarm.PortConfig{udp}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parsePublish(tt.in, "--publish")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parsePublish(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
	host, err := parsePublish("published=8080,target=80,mode=host", "--publish")
	if err != nil || host[0].PublishMode != swarm.PortConfigPublishModeHost {
		t.Errorf("mode=host: %+v, %v (the engine refuses it, not the parser)", host, err)
	}
	for _, bad := range []string{"", "x", "8080:", "0", "8080:80/icmp", "1.2.3.4:8080:80", "70000:80", "8080-8082:80-81",
		"published=8080", "target=x", "target=80,bogus=1", "published=8080,target=80,mode=bridge", "target=80,=1", "81-80"} {
		t.Run("bad "+bad, func(t *testing.T) {
			_, err := parsePublish(bad, "--publish")
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("parsePublish(%q) = %v, want an invalid argument", bad, err)
			}
			if msg := oneLine(err); !strings.Contains(msg, "--publish") || strings.Contains(msg, "\n") {
				t.Errorf("message %q should name --publish on one line", msg)
			}
		})
	}
}

// runService runs `skiff service SUB ARGS...` through interspersed and
// urfave/cli as Main does, with an action that builds the spec.
func runService(sub string, args ...string) (swarm.ServiceSpec, error) {
	var spec swarm.ServiceSpec
	flags := serviceCreateFlags()
	action := func(c *cli.Context) error {
		var err error
		spec, err = createSpec(c, c.Args().Slice(), nil)
		return err
	}
	if sub == "update" {
		flags = serviceUpdateFlags()
		action = func(c *cli.Context) error {
			n := uint64(2)
			spec = swarm.ServiceSpec{
				Annotations: swarm.Annotations{Name: "web", Labels: map[string]string{"keep": "1", "drop": "2"}},
				TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{
					Image: "busybox:1", Env: []string{"A=1", "B=2", "C=3"}, Args: []string{"httpd", "-f"},
				}},
				Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &n}},
				EndpointSpec: &swarm.EndpointSpec{Ports: []swarm.PortConfig{{PublishedPort: 8080, TargetPort: 80, Protocol: "tcp", PublishMode: "ingress"}}},
			}
			return updateSpec(c, &spec, nil)
		}
	}
	app := &cli.App{
		Name: "skiff", OnUsageError: usageError, UseShortOptionHandling: true, DisableSliceFlagSeparator: true,
		Writer: io.Discard, ErrWriter: io.Discard, ExitErrHandler: func(*cli.Context, error) {},
		Commands: []*cli.Command{{Name: "service", Subcommands: []*cli.Command{{Name: sub, Flags: flags, Action: action}}}},
	}
	for _, c := range app.Commands {
		prepare(c)
	}
	err := app.Run(interspersed(app, append([]string{"skiff", "service", sub}, args...)))
	return spec, err
}

func TestServiceCreateSpec(t *testing.T) {
	spec, err := runService("create", "--name", "web", "--replicas", "3", "-p", "8080:80", "-e", "A=1", "-e", "A=2", "-e", "B=x",
		"-l", "tier=front", "--container-label", "c=1", "--network", "backend", "--restart-condition", "on-failure",
		"--restart-max-attempts", "4", "--update-parallelism", "2", "--update-delay", "3s", "--update-order", "start-first",
		"--update-failure-action", "rollback", "--stop-grace-period", "7s", "--health-cmd", "wget -q -O- localhost",
		"--health-interval", "2s", "--health-retries", "4", "--entrypoint", "/bin/sh -c", "-w", "/srv", "-u", "1000", "--init", "-t", "--read-only",
		"--hostname", "h", "--stop-signal", "SIGINT", "--rollback-parallelism", "0", "--rollback-order", "start-first",
		"busybox", "httpd", "-f", "-p", "80")
	if err != nil {
		t.Fatal(err)
	}
	cs := spec.TaskTemplate.ContainerSpec
	if spec.Name != "web" || *spec.Mode.Replicated.Replicas != 3 || spec.Labels["tier"] != "front" {
		t.Errorf("name %q, replicas %d, labels %v", spec.Name, *spec.Mode.Replicated.Replicas, spec.Labels)
	}
	if cs.Image != "busybox" || !slices.Equal(cs.Args, []string{"httpd", "-f", "-p", "80"}) {
		t.Errorf("image %q args %q: the command after the image is the task's, -p included", cs.Image, cs.Args)
	}
	if !slices.Equal(cs.Command, []string{"/bin/sh", "-c"}) {
		t.Errorf("entrypoint %q, want [/bin/sh -c]", cs.Command)
	}
	if !slices.Equal(cs.Env, []string{"A=2", "B=x"}) {
		t.Errorf("env %q, want the last A", cs.Env)
	}
	if cs.Labels["c"] != "1" || cs.Dir != "/srv" || cs.User != "1000" || !*cs.Init || !cs.TTY || !cs.ReadOnly || cs.Hostname != "h" || cs.StopSignal != "SIGINT" {
		t.Errorf("container spec %+v", cs)
	}
	if *cs.StopGracePeriod != 7*time.Second {
		t.Errorf("stop grace period %v", *cs.StopGracePeriod)
	}
	if h := cs.Healthcheck; h == nil || !slices.Equal(h.Test, []string{"CMD-SHELL", "wget -q -O- localhost"}) || h.Interval != 2*time.Second || h.Retries != 4 {
		t.Errorf("healthcheck %+v", h)
	}
	want := []swarm.PortConfig{{PublishedPort: 8080, TargetPort: 80, Protocol: "tcp", PublishMode: "ingress"}}
	if !reflect.DeepEqual(spec.EndpointSpec.Ports, want) || spec.EndpointSpec.Mode != swarm.ResolutionModeVIP {
		t.Errorf("endpoint %+v", spec.EndpointSpec)
	}
	if n := spec.TaskTemplate.Networks; len(n) != 1 || n[0].Target != "backend" {
		t.Errorf("networks %+v", n)
	}
	rp := spec.TaskTemplate.RestartPolicy
	if rp == nil || rp.Condition != "on-failure" || *rp.MaxAttempts != 4 || *rp.Delay != 5*time.Second || rp.Window != nil {
		t.Errorf("restart policy %+v: want on-failure, 4 attempts, Docker's 5s delay", rp)
	}
	u := spec.UpdateConfig
	if u == nil || u.Parallelism != 2 || u.Delay != 3*time.Second || u.Order != "start-first" || u.FailureAction != "rollback" || u.Monitor != 5*time.Second {
		t.Errorf("update config %+v", u)
	}
	r := spec.RollbackConfig
	if r == nil || r.Parallelism != 0 || r.Order != "start-first" || r.FailureAction != "pause" {
		t.Errorf("rollback config %+v", r)
	}
}

func TestServiceCreateDefaults(t *testing.T) {
	spec, err := runService("create", "busybox")
	if err != nil {
		t.Fatal(err)
	}
	cs := spec.TaskTemplate.ContainerSpec
	if *spec.Mode.Replicated.Replicas != 1 || cs.Args != nil || cs.Command != nil || cs.Healthcheck != nil {
		t.Errorf("spec %+v, container %+v", spec, cs)
	}
	if spec.UpdateConfig != nil || spec.RollbackConfig != nil || spec.TaskTemplate.RestartPolicy != nil {
		t.Error("without their flags, update, rollback and restart are left to the engine's defaults")
	}
	if spec.Name != "" {
		t.Errorf("name %q: the engine names an unnamed service", spec.Name)
	}
	spec, err = runService("create", "--no-healthcheck", "--mode", "global", "busybox")
	if err != nil {
		t.Fatal(err)
	}
	if spec.Mode.Global == nil || spec.Mode.Replicated != nil || !slices.Equal(spec.TaskTemplate.ContainerSpec.Healthcheck.Test, []string{"NONE"}) {
		t.Errorf("global, no healthcheck: %+v", spec)
	}
}

func TestServiceCreateBadInput(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--replicas", "-1", "busybox"}, `invalid argument "-1" for "--replicas" flag`},
		{[]string{"--replicas", "x", "busybox"}, `invalid argument "x" for "--replicas" flag`},
		{[]string{"--replicas=-3", "busybox"}, `invalid argument "-3" for "--replicas" flag`},
		{[]string{"-p", "8080:80:90", "busybox"}, "--publish"},
		{[]string{"--restart-condition", "always", "busybox"}, "--restart-condition"},
		{[]string{"--update-order", "random", "busybox"}, "--update-order"},
		{[]string{"--update-failure-action", "explode", "busybox"}, "--update-failure-action"},
		{[]string{"--rollback-failure-action", "rollback", "busybox"}, "--rollback-failure-action"},
		{[]string{"--update-delay", "-1s", "busybox"}, "--update-delay"},
		{[]string{"--no-healthcheck", "--health-cmd", "true", "busybox"}, "--no-healthcheck"},
		{[]string{"--stop-signal", "SIGNOPE", "busybox"}, "SIGNOPE"},
		{[]string{"--mode", "global", "--replicas", "2", "busybox"}, "--replicas"},
		{[]string{"--mode", "job", "busybox"}, "--mode"},
		{[]string{"-e", "=x", "busybox"}, "environment"},
		{[]string{"--entrypoint", "'sh", "busybox"}, "--entrypoint"},
		{[]string{"--limit-memory", "lots", "busybox"}, "--limit-memory"},
		{[]string{"--bogus", "busybox"}, "unknown flag: --bogus"},
		{nil, "needs an image"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := runService("create", tt.args...)
			if err == nil {
				t.Fatal("no error")
			}
			if errdefs.ExitCode(err) != 125 {
				t.Errorf("exit code %d, want 125", errdefs.ExitCode(err))
			}
			if msg := oneLine(err); !strings.Contains(msg, tt.want) {
				t.Errorf("message %q, want it to say %q", msg, tt.want)
			}
		})
	}
}

func TestServiceUpdateSpec(t *testing.T) {
	spec, err := runService("update", "web", "--image", "busybox:2", "--env-add", "B=20", "--env-add", "D=4", "--env-rm", "A",
		"--label-add", "new=3", "--label-rm", "drop", "--replicas", "5", "--publish-add", "9090:90", "--publish-rm", "80",
		"--update-parallelism", "1", "--health-cmd", "true")
	if err != nil {
		t.Fatal(err)
	}
	cs := spec.TaskTemplate.ContainerSpec
	if cs.Image != "busybox:2" || !slices.Equal(cs.Env, []string{"B=20", "C=3", "D=4"}) {
		t.Errorf("image %q env %q", cs.Image, cs.Env)
	}
	if !reflect.DeepEqual(spec.Labels, map[string]string{"keep": "1", "new": "3"}) {
		t.Errorf("labels %v", spec.Labels)
	}
	if *spec.Mode.Replicated.Replicas != 5 || !slices.Equal(cs.Args, []string{"httpd", "-f"}) {
		t.Errorf("replicas %d args %q", *spec.Mode.Replicated.Replicas, cs.Args)
	}
	want := []swarm.PortConfig{{PublishedPort: 9090, TargetPort: 90, Protocol: "tcp", PublishMode: "ingress"}}
	if !reflect.DeepEqual(spec.EndpointSpec.Ports, want) {
		t.Errorf("ports %+v, want %+v", spec.EndpointSpec.Ports, want)
	}
	if spec.UpdateConfig == nil || spec.UpdateConfig.Parallelism != 1 || spec.UpdateConfig.Monitor != 5*time.Second {
		t.Errorf("update config %+v", spec.UpdateConfig)
	}
	spec, err = runService("update", "--args", `sh -c "echo hi; sleep 9"`, "web")
	if err != nil {
		t.Fatal(err)
	}
	if a := spec.TaskTemplate.ContainerSpec.Args; !slices.Equal(a, []string{"sh", "-c", "echo hi; sleep 9"}) {
		t.Errorf("args %q", a)
	}
	if spec.TaskTemplate.ContainerSpec.Image != "busybox:1" || spec.EndpointSpec.Ports[0].PublishedPort != 8080 {
		t.Error("what no flag names stays as it was")
	}
	if _, err := runService("update", "web", "--replicas", "-1"); err == nil || errdefs.ExitCode(err) != 125 {
		t.Errorf("--replicas -1: %v", err)
	}
}

func TestUpdatePorts(t *testing.T) {
	ports := []swarm.PortConfig{{PublishedPort: 8080, TargetPort: 80, Protocol: "tcp", PublishMode: "ingress"}, {PublishedPort: 5353, TargetPort: 53, Protocol: "udp", PublishMode: "ingress"}}
	got := updatePorts(ports, nil, []swarm.PortConfig{{TargetPort: 53, Protocol: "tcp"}})
	if len(got) != 2 {
		t.Errorf("removing 53/tcp removed a udp port: %+v", got)
	}
	got = updatePorts(ports, []swarm.PortConfig{{PublishedPort: 8080, TargetPort: 80, Protocol: "tcp", PublishMode: "ingress"}}, []swarm.PortConfig{{TargetPort: 53, Protocol: "udp"}})
	if len(got) != 1 || got[0].TargetPort != 80 {
		t.Errorf("got %+v: want 8080->80 once", got)
	}
}

func TestSplitWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"  a  b ", []string{"a", "b"}},
		{`sh -c 'echo $HOME; ls'`, []string{"sh", "-c", "echo $HOME; ls"}},
		{`a "b \"c\"" d\ e`, []string{"a", `b "c"`, "d e"}},
		{`''`, []string{""}},
	}
	for _, tt := range tests {
		got, err := splitWords(tt.in, "--args")
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("splitWords(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := splitWords(`"open`, "--args"); err == nil {
		t.Error("an open quote is an error")
	}
}

func TestParseScaleArgs(t *testing.T) {
	got, err := parseScaleArgs([]string{"web=5", "api=0"})
	if err != nil || !reflect.DeepEqual(got, []scaleArg{{"web", 5}, {"api", 0}}) {
		t.Errorf("got %+v, %v", got, err)
	}
	for _, bad := range []string{"web", "web=", "=3", "web=-1", "web=x"} {
		if _, err := parseScaleArgs([]string{"ok=1", bad}); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%q: %v, want an invalid argument", bad, err)
		}
	}
}

func TestServiceInterspersed(t *testing.T) {
	app := &cli.App{Name: "skiff", Commands: commands("test")}
	tests := []struct{ in, want string }{
		{"service create --name web busybox httpd -f -p 80", "service create --name web busybox httpd -f -p 80"},
		{"service rm web -f", "service rm -f web"},
		{"service ls -q", "service ls -q"},
		{"service ps web --no-trunc", "service ps --no-trunc web"},
		{"service update web --image busybox:2 -d", "service update --image busybox:2 -d web"},
		{"service update web --replicas -1", "service update --replicas -1 web"},
		{"service scale web=3 -d", "service scale -d web=3"},
		{"service logs web -f --tail 5", "service logs -f --tail 5 web"},
	}
	for _, tt := range tests {
		got := interspersed(app, append([]string{"skiff"}, strings.Fields(tt.in)...))
		if want := append([]string{"skiff"}, strings.Fields(tt.want)...); !slices.Equal(got, want) {
			t.Errorf("interspersed(%s) = %q, want %q", tt.in, got[1:], want[1:])
		}
	}
}

func TestServiceLsRows(t *testing.T) {
	n := uint64(3)
	svc := func(id, name, image string, running uint64, ports ...swarm.PortConfig) swarm.Service {
		return swarm.Service{ID: id,
			Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: name},
				TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: image}},
				Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &n}}},
			Endpoint:      swarm.Endpoint{Ports: ports},
			ServiceStatus: &swarm.ServiceStatus{RunningTasks: running, DesiredTasks: 3}}
	}
	ing := func(pub, tgt uint32) swarm.PortConfig {
		return swarm.PortConfig{PublishedPort: pub, TargetPort: tgt, Protocol: "tcp", PublishMode: "ingress"}
	}
	var rows []any
	for _, s := range []swarm.Service{
		svc("k8sdf7l2ww0glxvmv9yb4bmlw", "web", "docker.io/library/busybox:latest@sha256:"+strings.Repeat("a", 64), 2, ing(8080, 80)),
		svc("a1b2c3d4e5f6g7h8i9j0k1l2m", "api", "127.0.0.1:5000/app:2", 3, ing(9000, 90), ing(9001, 91), ing(7000, 70)),
	} {
		rows = append(rows, serviceRowFor(s))
	}
	var b bytes.Buffer
	lf := listFormat{defTable: "{{.ID}}\t{{.Name}}\t{{.Mode}}\t{{.Replicas}}\t{{.Image}}\t{{.Ports}}", header: headerFor(serviceRow{}, nil)}
	if err := lf.write(&b, rows); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"ID             NAME      MODE         REPLICAS   IMAGE                  PORTS\n" +
		"k8sdf7l2ww0g   web       replicated   2/3        busybox:latest         *:8080->80/tcp\n" +
		"a1b2c3d4e5f6   api       replicated   3/3        127.0.0.1:5000/app:2   *:7000->70/tcp, *:9000-9001->90-91/tcp\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	lf.format = "{{.Name}} {{.Replicas}} {{.Ports}}"
	if err := lf.write(&b, rows[:1]); err != nil || b.String() != "web 2/3 *:8080->80/tcp\n" {
		t.Errorf("template: %q, %v", b.String(), err)
	}
	b.Reset()
	lf.format = "json"
	if err := lf.write(&b, rows[:1]); err != nil || !strings.Contains(b.String(), `"Replicas":"2/3"`) {
		t.Errorf("json: %q, %v", b.String(), err)
	}
}

func TestServicePorts(t *testing.T) {
	ing := func(pub, tgt uint32) swarm.PortConfig {
		return swarm.PortConfig{PublishedPort: pub, TargetPort: tgt, Protocol: "tcp", PublishMode: "ingress"}
	}
	udp := ing(53, 53)
	udp.Protocol = "udp"
	host := ing(9999, 99)
	host.PublishMode = "host"
	tests := []struct {
		ports []swarm.PortConfig
		want  string
	}{
		{nil, ""},
		{[]swarm.PortConfig{ing(8080, 80)}, "*:8080->80/tcp"},
		{[]swarm.PortConfig{ing(8081, 81), ing(8080, 80)}, "*:8080-8081->80-81/tcp"},
		{[]swarm.PortConfig{ing(8080, 80), ing(8081, 80)}, "*:8080-8081->80/tcp"},
		{[]swarm.PortConfig{ing(80, 80), ing(81, 81), ing(82, 80)}, "*:80-81->80-81/tcp, *:82->80/tcp"},
		{[]swarm.PortConfig{ing(8080, 80), udp, host}, "*:8080->80/tcp, *:53->53/udp"},
	}
	for _, tt := range tests {
		if got := servicePorts(tt.ports); got != tt.want {
			t.Errorf("servicePorts(%+v) = %q, want %q", tt.ports, got, tt.want)
		}
	}
}

func TestDisplayImage(t *testing.T) {
	for in, want := range map[string]string{
		"busybox": "busybox", "docker.io/library/busybox:latest": "busybox:latest",
		"busybox:1@sha256:" + strings.Repeat("b", 64):            "busybox:1",
		"busybox@sha256:" + strings.Repeat("b", 64):              "busybox@sha256:" + strings.Repeat("b", 64),
		"localhost:5000/app:2@sha256:" + strings.Repeat("c", 64): "localhost:5000/app:2",
	} {
		if got := displayImage(in); got != want {
			t.Errorf("displayImage(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNaturalLess(t *testing.T) {
	names := []string{"web.10", "web.2", "api.1", "web.1", "web", "web.01"}
	slices.SortFunc(names, func(a, b string) int {
		if naturalLess(a, b) {
			return -1
		}
		if naturalLess(b, a) {
			return 1
		}
		return 0
	})
	if want := []string{"api.1", "web", "web.1", "web.01", "web.2", "web.10"}; !slices.Equal(names, want) {
		t.Errorf("sorted %q, want %q", names, want)
	}
}

func TestServicePsHistory(t *testing.T) {
	now := time.Now()
	task := func(id string, slot int, age time.Duration, desired, state swarm.TaskState, errMsg string) swarm.Task {
		return swarm.Task{ID: id, ServiceID: "svcid", Slot: slot, NodeID: "nodeid", DesiredState: desired,
			Meta:   swarm.Meta{CreatedAt: now.Add(-age)},
			Spec:   swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "busybox:latest@sha256:" + strings.Repeat("d", 64)}},
			Status: swarm.TaskStatus{State: state, Timestamp: now.Add(-age), Err: errMsg}}
	}
	tasks := []swarm.Task{
		task("old1aaaaaaaaaaaaaaaaaaaaa", 1, 10*time.Minute, "shutdown", "failed", "task: non-zero exit (137): killed by a signal"),
		task("new10aaaaaaaaaaaaaaaaaaaa", 10, time.Minute, "running", "running", ""),
		task("new1aaaaaaaaaaaaaaaaaaaaa", 1, 2*time.Minute, "running", "running", ""),
		task("new2aaaaaaaaaaaaaaaaaaaaa", 2, 3*time.Minute, "running", "starting", ""),
		task("older1aaaaaaaaaaaaaaaaaaa", 1, 20*time.Minute, "shutdown", "shutdown", ""),
	}
	o := taskTableOptions{services: map[string]string{"svcid": "web"}, nodes: map[string]string{"nodeid": "host1"}}
	rows := taskRows(tasks, o, true)
	var names, ids []string
	for _, r := range rows {
		names = append(names, r.Name)
		ids = append(ids, r.ID)
	}
	if want := []string{"web.1", ` \_ web.1`, ` \_ web.1`, "web.2", "web.10"}; !slices.Equal(names, want) {
		t.Errorf("names %q, want %q", names, want)
	}
	if want := []string{tasks[2].ID[:12], tasks[0].ID[:12], tasks[4].ID[:12], tasks[3].ID[:12], tasks[1].ID[:12]}; !slices.Equal(ids, want) {
		t.Errorf("order %q, want the newest of each slot first", ids)
	}
	r := rows[0]
	if r.Node != "host1" || r.Image != "busybox:latest" || r.DesiredState != "Running" || r.CurrentState != "Running 2 minutes ago" || len(r.ID) != 12 {
		t.Errorf("row %+v", r)
	}
	if e := rows[1].Error; e != `"task: non-zero exit (137): ki…"` {
		t.Errorf("error column %s: want it quoted and cut at 30", e)
	}
	if rows[3].CurrentState != "Starting 3 minutes ago" {
		t.Errorf("current state %q", rows[3].CurrentState)
	}
	// Not a table (a template, json): no indent; --no-trunc and --no-resolve.
	o.noTrunc, o.noResolve = true, true
	rows = taskRows(tasks, o, false)
	if rows[1].Name != "svcid.1" || rows[1].Node != "nodeid" || len(rows[1].ID) != 25 || !strings.Contains(rows[1].Image, "@sha256:") {
		t.Errorf("row %+v", rows[1])
	}
	if rows[1].Error != `"task: non-zero exit (137): killed by a signal"` {
		t.Errorf("error %s", rows[1].Error)
	}
}

func TestPrettyService(t *testing.T) {
	n := uint64(3)
	noInit := false
	svc := swarm.Service{ID: "k8sdf7l2ww0glxvmv9yb4bmlw",
		Spec: swarm.ServiceSpec{
			Annotations: swarm.Annotations{Name: "web", Labels: map[string]string{"tier": "front"}},
			TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "busybox", Args: []string{"httpd", "-f"}, Env: []string{"A=1"}, Init: &noInit},
				Networks: []swarm.NetworkAttachmentConfig{{Target: "netid"}}},
			Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &n}},
			UpdateConfig: &swarm.UpdateConfig{Parallelism: 1, Monitor: 5 * time.Second, FailureAction: "pause", Order: "stop-first"},
			EndpointSpec: &swarm.EndpointSpec{Mode: "vip"},
		},
		Endpoint: swarm.Endpoint{Ports: []swarm.PortConfig{{PublishedPort: 8080, TargetPort: 80, Protocol: "tcp", PublishMode: "ingress"}}},
	}
	var b bytes.Buffer
	prettyService(&b, svc, map[string]string{"netid": "backend"})
	want := "\nID:\t\tk8sdf7l2ww0glxvmv9yb4bmlw\nName:\t\tweb\nLabels:\n tier=front\nService Mode:\tReplicated\n Replicas:\t3\nPlacement:\n" +
		"UpdateConfig:\n Parallelism:\t1\n On failure:\tpause\n Monitoring Period: 5s\n Max failure ratio: 0\n Update order:      stop-first\n" +
		"ContainerSpec:\n Image:\t\tbusybox\n Args:\t\thttpd -f \n Env:\t\tA=1 \n Init:\t\tfalse\n" +
		"Networks: backend \nEndpoint Mode:\tvip\nPorts:\n PublishedPort = 8080\n  Protocol = tcp\n  TargetPort = 80\n  PublishMode = ingress \n\n"
	if b.String() != want {
		t.Errorf("pretty:\n%q\nwant:\n%q", b.String(), want)
	}
}

func TestServiceLogPrefix(t *testing.T) {
	lp := &logPrefixes{service: "web", padding: 2, nodes: map[string]string{"n1": "host1"}}
	tk := swarm.Task{ID: "abcdefghijklmnopqrstuvwxy", Slot: 3, NodeID: "n1"}
	if got := lp.prefix(tk); got != "web.3.abcdefghijkl@host1     | " {
		t.Errorf("prefix %q", got)
	}
	lp.noTaskIDs = true
	tk.Slot = 10
	if got := lp.prefix(tk); got != "web.10@host1    | " {
		t.Errorf("prefix %q", got)
	}
	lp.raw = true
	if got := lp.prefix(tk); got != "" {
		t.Errorf("raw prefix %q", got)
	}
}

// Writers buffer partial lines and never interleave two tasks' lines.
func TestServiceLogWriters(t *testing.T) {
	var out bytes.Buffer
	lp := &logPrefixes{service: "web", padding: 1, nodes: map[string]string{}, stdout: &out, stderr: &out, timestamps: true}
	var wg sync.WaitGroup
	for slot := 1; slot <= 4; slot++ {
		w, _ := lp.writers(swarm.Task{ID: fmt.Sprintf("task%dxxxxxxxxxxxxxxxxxxxxx", slot), Slot: slot, NodeID: "n"})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				line := fmt.Sprintf("2024-01-02T03:04:05.000000000Z line %d of %d\n", i, slot)
				half := len(line) / 2
				w.Write([]byte(line[:half]))
				w.Write([]byte(line[half:]))
			}
			w.Write([]byte("2024-01-02T03:04:05Z unterminated"))
		}()
	}
	wg.Wait()
	lp.flush()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 4*201 {
		t.Fatalf("%d lines, want %d", len(lines), 4*201)
	}
	for _, l := range lines {
		ts, rest, _ := strings.Cut(l, " ")
		if !strings.HasPrefix(ts, "2024-01-02T03:04:05") {
			t.Fatalf("line %q: the timestamp goes first", l)
		}
		var slot int
		if _, err := fmt.Sscanf(rest, "web.%d.", &slot); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if want := fmt.Sprintf("web.%d.task%dxxxxxxx@n    | ", slot, slot); !strings.HasPrefix(rest, want) {
			t.Fatalf("line %q, want prefix %q", l, want)
		}
		msg := strings.TrimPrefix(rest, fmt.Sprintf("web.%d.task%dxxxxxxx@n    | ", slot, slot))
		if !strings.HasSuffix(msg, fmt.Sprintf("of %d", slot)) && msg != "unterminated" {
			t.Fatalf("line %q mixes tasks", l)
		}
	}
}

func TestProgressLines(t *testing.T) {
	sp := engine.ServiceProgress{Running: 1, Desired: 2, Tasks: []swarm.Task{
		{Slot: 2, Status: swarm.TaskStatus{State: "preparing"}},
		{Slot: 1, Status: swarm.TaskStatus{State: "running"}},
	}}
	lines := progressLines(sp)
	if len(lines) != 3 || lines[0] != "overall progress: 1 out of 2 tasks" {
		t.Fatalf("lines %q", lines)
	}
	if lines[1] != "1/2: running   ["+strings.Repeat("=", 50)+">]" || !strings.HasPrefix(lines[2], "2/2: preparing [=") || len(lines[1]) != len(lines[2]) {
		t.Errorf("bars %q", lines[1:])
	}
}
