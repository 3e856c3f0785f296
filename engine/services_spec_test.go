package engine

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/swarm"

	"github.com/skiff-project/skiff/errdefs"
)

func spec(name, image string) swarm.ServiceSpec {
	return swarm.ServiceSpec{
		Annotations:  swarm.Annotations{Name: name},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: image}},
	}
}

func TestServiceDefaultsAreDockers(t *testing.T) {
	s := withDefaults(spec("web", "busybox"))
	if n := replicaSlots(s); n != 1 {
		t.Errorf("replicas = %d, want 1", n)
	}
	rp := s.TaskTemplate.RestartPolicy
	if rp.Condition != swarm.RestartPolicyConditionAny || *rp.Delay != 5*time.Second || *rp.MaxAttempts != 0 {
		t.Errorf("restart policy = %+v", rp)
	}
	for _, uc := range []*swarm.UpdateConfig{s.UpdateConfig, s.RollbackConfig} {
		if uc.Parallelism != 1 || uc.FailureAction != swarm.UpdateFailureActionPause || uc.Monitor != 5*time.Second || uc.Order != swarm.UpdateOrderStopFirst {
			t.Errorf("update config = %+v", uc)
		}
	}
	if s.EndpointSpec.Mode != swarm.ResolutionModeVIP {
		t.Errorf("endpoint mode = %q", s.EndpointSpec.Mode)
	}
	if err := validateSpec(s); err != nil {
		t.Errorf("validateSpec(defaults) = %v", err)
	}
}

func TestServiceSpecRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*swarm.ServiceSpec)
		want string
	}{
		{"no name", func(s *swarm.ServiceSpec) { s.Name = "" }, "a name is required"},
		{"bad name", func(s *swarm.ServiceSpec) { s.Name = "-x" }, "invalid name"},
		{"no image", func(s *swarm.ServiceSpec) { s.TaskTemplate.ContainerSpec.Image = "" }, "an image is required"},
		{"job", func(s *swarm.ServiceSpec) { s.Mode = swarm.ServiceMode{ReplicatedJob: &swarm.ReplicatedJob{}} }, "job modes"},
		{"host publish mode", func(s *swarm.ServiceSpec) {
			s.EndpointSpec.Ports = []swarm.PortConfig{{TargetPort: 80, PublishedPort: 8080, Protocol: "tcp", PublishMode: swarm.PortConfigPublishModeHost}}
		}, "publish mode"},
		{"port twice", func(s *swarm.ServiceSpec) {
			p := swarm.PortConfig{TargetPort: 80, PublishedPort: 8080, Protocol: "tcp", PublishMode: swarm.PortConfigPublishModeIngress}
			s.EndpointSpec.Ports = []swarm.PortConfig{p, p}
		}, "published twice"},
		{"limits", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.Resources = &swarm.ResourceRequirements{Limits: &swarm.Limit{MemoryBytes: 1 << 20}}
		}, "resource limits"},
		{"secrets", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Secrets = []*swarm.SecretReference{{SecretName: "x"}}
		}, "secrets"},
		{"bad condition", func(s *swarm.ServiceSpec) { s.TaskTemplate.RestartPolicy.Condition = "sometimes" }, "restart condition"},
		{"rollback of a rollback", func(s *swarm.ServiceSpec) { s.RollbackConfig.FailureAction = swarm.UpdateFailureActionRollback }, "cannot be rollback"},
		{"bad mount", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Mounts = []mount.Mount{{Type: mount.TypeBind, Source: "relative", Target: "/x"}}
		}, "Mounts[0]"},
	} {
		s := withDefaults(spec("web", "busybox"))
		tc.edit(&s)
		err := validateSpec(s)
		if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: validateSpec = %v, want an invalid argument saying %q", tc.name, err, tc.want)
		}
	}
}

func TestReplicaOptions(t *testing.T) {
	s := withDefaults(spec("web", "busybox"))
	grace := 3500 * time.Millisecond
	cs := s.TaskTemplate.ContainerSpec
	cs.Args, cs.Command, cs.Env = []string{"httpd", "-f"}, []string{"/bin/sh"}, []string{"A=1"}
	cs.StopGracePeriod = &grace
	cs.Hosts = []string{"10.0.0.1 db db.local"}
	cs.Labels = map[string]string{"mine": "yes"}
	s.TaskTemplate.Networks = []swarm.NetworkAttachmentConfig{{Target: "n1", Aliases: []string{"www"}}}
	svc := &swarm.Service{ID: "svcid", Spec: s}
	task := &swarm.Task{ID: "taskid", Slot: 2, Spec: s.TaskTemplate}
	o := replicaOptions(svc, task, "nodeid", "web.2")
	if o.Name != "web.2" || o.Image != "busybox" || strings.Join(o.Cmd, " ") != "httpd -f" || !o.EntrypointSet || o.Entrypoint[0] != "/bin/sh" {
		t.Errorf("options = %+v", o)
	}
	if o.Restart != "no" {
		t.Errorf("restart = %q: the keeper restarts replicas, not their supervisor", o.Restart)
	}
	if *o.StopTimeout != 4 {
		t.Errorf("stop timeout = %d, want the grace period rounded up", *o.StopTimeout)
	}
	if strings.Join(o.ExtraHosts, ",") != "db:10.0.0.1,db.local:10.0.0.1" {
		t.Errorf("extra hosts = %v", o.ExtraHosts)
	}
	if o.NetworkMode != "n1" || strings.Join(o.Aliases, ",") != "web,www" {
		t.Errorf("network %q aliases %v: the service's name must resolve to its replicas", o.NetworkMode, o.Aliases)
	}
	want := map[string]string{"mine": "yes", LabelServiceID: "svcid", LabelServiceName: "web", LabelTaskID: "taskid", LabelTaskSlot: "2", LabelNodeID: "nodeid", LabelTaskName: "web.2.taskid"}
	for k, v := range want {
		if o.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, o.Labels[k], v)
		}
	}
	if cs.Labels[LabelServiceID] != "" {
		t.Error("replicaOptions changed the spec's own labels")
	}
}

func TestLineWriterPassesWholeLines(t *testing.T) {
	var got []string
	w := newLineWriter(writerFunc(func(p []byte) { got = append(got, string(p)) }))
	_, _ = w.Write([]byte("a\nb"))
	_, _ = w.Write([]byte("c\nd"))
	w.Flush()
	if strings.Join(got, "|") != "a\n|bc\n|d\n" {
		t.Errorf("writes = %q", got)
	}
}

type writerFunc func([]byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }

// The docker CLI sends empty Resources when no --limit-* or --reserve-*
// is given: those are no limits, and a real one is refused.
func TestEmptyResourcesAreNoLimits(t *testing.T) {
	for in, want := range map[string]bool{
		`{"Limits":{},"Reservations":{}}`:         false,
		`{"Limits":{"MemoryBytes":1048576}}`:      true,
		`{"Reservations":{"NanoCPUs":500000000}}`: true,
	} {
		var r swarm.ResourceRequirements
		if err := json.Unmarshal([]byte(in), &r); err != nil {
			t.Fatal(err)
		}
		if got := hasResources(&r); got != want {
			t.Errorf("hasResources(%s) = %v, want %v", in, got, want)
		}
	}
}
