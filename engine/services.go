package engine

// Services: Docker's swarm services on one host, with no daemon. The
// desired state (a swarm.ServiceSpec) lives on disk (package services);
// a small keeper process per service (ServiceKeep, service_keeper.go)
// makes the replicas match it, replaces the ones that die, rolls updates
// out batch by batch and balances the published ports over the healthy
// replicas. Replicas are ordinary containers named NAME.SLOT and labelled
// with Docker's com.docker.swarm.* labels.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	goruntime "runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	mevents "github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/swarm"
	"golang.org/x/sys/unix"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/events"
	"github.com/skiff-project/skiff/netns"
	"github.com/skiff-project/skiff/paths"
	"github.com/skiff-project/skiff/services"
)

// Labels Docker puts on a service's task containers; skiff uses the same.
const (
	LabelServiceID   = "com.docker.swarm.service.id"
	LabelServiceName = "com.docker.swarm.service.name"
	LabelTaskID      = "com.docker.swarm.task.id"
	LabelTaskName    = "com.docker.swarm.task.name"
	LabelTaskSlot    = "com.docker.swarm.task.slot" // skiff's own: the replica's slot number
	LabelNodeID      = "com.docker.swarm.node.id"
)

// ServiceCreateOptions are `service create`'s beyond the spec.
type ServiceCreateOptions struct {
	// Pull is the pull policy for the image: missing (default), always
	// or never.
	Pull string
}

// ServiceUpdateOptions are `service update`'s beyond the spec.
type ServiceUpdateOptions struct {
	// Version, when not 0, must be the service's current Meta.Version.Index
	// (the API's ?version=): a stale one is a conflict.
	Version uint64
	// Rollback replaces the spec with the previous one (the spec given is
	// ignored), as `service rollback` and the API's ?rollback=previous.
	Rollback bool
	// Force replaces every replica even if the spec is unchanged
	// (TaskTemplate.ForceUpdate is bumped).
	Force bool
}

// ServiceListOptions are `service ls`'s: filters id, name, label, mode.
type ServiceListOptions struct {
	Filters Filters
	// Status fills each service's ServiceStatus (running and desired
	// tasks), as the API's ?status=true.
	Status bool
}

// ServiceProgress is what ServiceConverge reports while it waits.
type ServiceProgress struct {
	Running, Desired uint64
	Update           *swarm.UpdateStatus
	Tasks            []swarm.Task // the current (desired running) tasks, by slot
}

// ServiceLogWriters returns where the output of one task goes; the
// writers of one task are only used from one goroutine, and each Write
// is one or more whole lines (with the RFC3339Nano timestamp and a space
// first when LogOptions.Timestamps).
type ServiceLogWriters func(t swarm.Task) (stdout, stderr io.Writer)

// TaskName is the name of a service's replica in a slot: NAME.SLOT, as
// `service ps` and `ps` show it.
func TaskName(service string, slot int) string { return service + "." + strconv.Itoa(slot) }

// ServiceCreate validates spec (one line naming the field that is
// wrong), makes sure the image is there (pulling it as o.Pull says),
// refuses a name in use, writes the service and starts its keeper, which
// binds the published ports before this returns: a port in use fails
// the create and leaves nothing. The replicas start in the background:
// ServiceConverge waits for them.
func (e *Engine) ServiceCreate(ctx context.Context, spec swarm.ServiceSpec, o ServiceCreateOptions) (swarm.ServiceCreateResponse, error) {
	var res swarm.ServiceCreateResponse
	spec = withDefaults(spec)
	if err := validateSpec(spec); err != nil {
		return res, err
	}
	if _, err := services.Lookup(spec.Name); err == nil {
		return res, fmt.Errorf("service name %q is in use: remove it (skiff service rm %s) or pick another --name: %w", spec.Name, spec.Name, errdefs.ErrConflict)
	}
	if err := e.checkServiceRefs(ctx, spec, nil); err != nil {
		return res, err
	}
	if _, err := e.ImageEnsure(ctx, spec.TaskTemplate.ContainerSpec.Image, o.Pull, PullOptions{}, nil); err != nil {
		return res, err
	}
	if _, err := services.NodeID(); err != nil {
		return res, err
	}
	now := time.Now().UTC()
	svc := &swarm.Service{
		ID:       services.NewID(),
		Meta:     swarm.Meta{Version: swarm.Version{Index: 1}, CreatedAt: now, UpdatedAt: now},
		Spec:     spec,
		Endpoint: swarm.Endpoint{Spec: *spec.EndpointSpec},
	}
	if err := services.Create(svc); err != nil {
		return res, err
	}
	if err := startKeeper(svc.ID); err != nil {
		_ = services.Remove(svc.ID)
		return res, err
	}
	serviceEvent(mevents.ActionCreate, svc)
	res.ID = svc.ID
	return res, nil
}

// checkServiceRefs checks what a spec names outside itself: its networks
// exist, no other container holds a replica's name, and new published
// ports are free (old, the ports the service has bound, are its own).
func (e *Engine) checkServiceRefs(ctx context.Context, spec swarm.ServiceSpec, old *swarm.Service) error {
	for _, n := range spec.TaskTemplate.Networks {
		if _, err := e.NetworkInspect(ctx, n.Target); err != nil {
			return fmt.Errorf("service %s: network %s: %w", spec.Name, n.Target, err)
		}
	}
	all, err := container.List()
	if err != nil {
		return err
	}
	for _, c := range all {
		prefix, slot, ok := strings.Cut(c.Name, ".")
		if !ok || prefix != spec.Name || c.Config.Labels[LabelServiceName] == spec.Name {
			continue
		}
		if _, err := strconv.Atoi(strings.SplitN(slot, ".", 2)[0]); err == nil {
			return fmt.Errorf("container %s has the name of a replica of service %s: remove or rename it (skiff rm -f %s): %w", c.Name, spec.Name, c.Name, errdefs.ErrConflict)
		}
	}
	for _, p := range spec.EndpointSpec.Ports {
		if p.PublishedPort == 0 || (old != nil && portBound(old.Endpoint.Ports, p)) {
			continue
		}
		if err := portFree(p); err != nil {
			return fmt.Errorf("service %s: %w", spec.Name, err)
		}
	}
	return nil
}

func portBound(bound []swarm.PortConfig, p swarm.PortConfig) bool {
	for _, b := range bound {
		if b.PublishedPort == p.PublishedPort && b.Protocol == p.Protocol {
			return true
		}
	}
	return false
}

// portFree binds p for a moment, as the keeper will.
func portFree(p swarm.PortConfig) error {
	lb, _, err := netns.Balance(balancedPorts([]swarm.PortConfig{p}), paths.Rootless())
	if err != nil {
		return err
	}
	lb.Close()
	return nil
}

// ServiceInspect returns a service by ID, ID prefix or name.
func (e *Engine) ServiceInspect(ctx context.Context, ref string) (*swarm.Service, error) {
	e.ensureKeepers()
	return services.Lookup(ref)
}

// ServiceList lists the services that match o's filters (id, name,
// label, mode), oldest first.
func (e *Engine) ServiceList(ctx context.Context, o ServiceListOptions) ([]swarm.Service, error) {
	if err := o.Filters.check("id", "name", "label", "mode"); err != nil {
		return nil, err
	}
	e.ensureKeepers()
	all, err := services.List()
	if err != nil {
		return nil, err
	}
	out := []swarm.Service{}
	for _, s := range all {
		mode := "replicated"
		if s.Spec.Mode.Global != nil {
			mode = "global"
		}
		f := o.Filters
		if !f.any("id", func(v string) bool { return strings.HasPrefix(s.ID, v) }) ||
			!f.any("name", func(v string) bool { return strings.HasPrefix(s.Spec.Name, v) }) ||
			!f.any("mode", func(v string) bool { return v == mode }) ||
			!f.labels("label", s.Spec.Labels) {
			continue
		}
		if o.Status {
			s.ServiceStatus = &swarm.ServiceStatus{RunningTasks: runningTasks(s.ID), DesiredTasks: uint64(replicaSlots(s.Spec))}
		}
		out = append(out, *s)
	}
	return out, nil
}

// runningTasks counts a service's tasks that should run and do (and
// passed their healthcheck, when they have one), as Docker's REPLICAS.
func runningTasks(id string) uint64 {
	tasks, _ := services.ReadTasks(id)
	n := uint64(0)
	for _, t := range tasks {
		if t.DesiredState == swarm.TaskStateRunning && t.Status.State == swarm.TaskStateRunning {
			n++
		}
	}
	return n
}

// ServiceUpdate replaces a service's spec (or, with o.Rollback, goes
// back to the previous one) and wakes its keeper, which rolls the change
// out as the spec's UpdateConfig says. A changed image is pulled first,
// so an image that cannot be pulled changes nothing.
func (e *Engine) ServiceUpdate(ctx context.Context, ref string, spec swarm.ServiceSpec, o ServiceUpdateOptions) (swarm.ServiceUpdateResponse, error) {
	res := swarm.ServiceUpdateResponse{Warnings: []string{}}
	svc, err := services.Lookup(ref)
	if err != nil {
		return res, err
	}
	if o.Rollback {
		if svc.PreviousSpec == nil {
			return res, errdefs.Invalid("service %s has no previous spec to roll back to", svc.Spec.Name)
		}
		spec = *svc.PreviousSpec
	} else {
		spec = withDefaults(spec)
		if o.Force {
			spec.TaskTemplate.ForceUpdate = svc.Spec.TaskTemplate.ForceUpdate + 1
		}
	}
	if err := validateSpec(spec); err != nil {
		return res, err
	}
	if spec.Name != svc.Spec.Name {
		return res, errdefs.Invalid("service %s: renaming a service is not supported (the spec names %q)", svc.Spec.Name, spec.Name)
	}
	if err := e.checkServiceRefs(ctx, spec, svc); err != nil {
		return res, err
	}
	if image := spec.TaskTemplate.ContainerSpec.Image; image != svc.Spec.TaskTemplate.ContainerSpec.Image {
		if _, err := e.ImageEnsure(ctx, image, PullMissing, PullOptions{}, nil); err != nil {
			return res, err
		}
	}
	now := time.Now().UTC()
	svc, err = services.Update(svc.ID, func(s *swarm.Service) error {
		if o.Version != 0 && o.Version != s.Version.Index {
			return fmt.Errorf("service %s: update out of sequence: version %d was given, the service is at %d: inspect it again and retry: %w", s.Spec.Name, o.Version, s.Version.Index, errdefs.ErrConflict)
		}
		prev := s.Spec
		s.PreviousSpec = &prev
		if !sameTaskSpec(spec.TaskTemplate, s.Spec.TaskTemplate) {
			st := &swarm.UpdateStatus{State: swarm.UpdateStateUpdating, StartedAt: &now, Message: "update in progress"}
			if o.Rollback {
				st.State, st.Message = swarm.UpdateStateRollbackStarted, "manually requested rollback"
			}
			s.UpdateStatus = st
		}
		s.Spec = spec
		s.Endpoint.Spec = *spec.EndpointSpec
		var still []swarm.PortConfig // the keeper records the ports it binds anew
		for _, p := range s.Endpoint.Ports {
			for _, q := range spec.EndpointSpec.Ports {
				if q.Protocol == p.Protocol && q.TargetPort == p.TargetPort && (q.PublishedPort == 0 || q.PublishedPort == p.PublishedPort) {
					still = append(still, p)
					break
				}
			}
		}
		s.Endpoint.Ports = still
		s.Version.Index++
		s.UpdatedAt = now
		return nil
	})
	if err != nil {
		return res, err
	}
	wakeKeeper(svc.ID)
	serviceEvent(mevents.ActionUpdate, svc)
	return res, nil
}

// ServiceRemove stops a service's keeper, then removes its replicas and
// its state.
func (e *Engine) ServiceRemove(ctx context.Context, ref string) error {
	svc, err := services.Lookup(ref)
	if err != nil {
		return err
	}
	// Without service.json no command restarts the keeper, and a keeper
	// that looks finds its service gone and ends.
	pid := services.KeeperPid(svc.ID)
	if err := services.Hide(svc.ID); err != nil {
		return err
	}
	stopKeeper(svc.ID, pid)
	if err := e.removeReplicas(ctx, svc.ID); err != nil {
		return err
	}
	if err := services.Remove(svc.ID); err != nil {
		return err
	}
	serviceEvent(mevents.ActionRemove, svc)
	return nil
}

// removeReplicas removes every container of the service, in parallel.
func (e *Engine) removeReplicas(ctx context.Context, id string) error {
	all, err := container.List()
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(all))
	for _, c := range all {
		if c.Config.Labels[LabelServiceID] != id {
			continue
		}
		wg.Add(1)
		go func(id string) {
			defer wg.Done()
			// Anonymous volumes go with the replica, as swarm's do.
			if err := e.ContainerRemove(ctx, id, RemoveOptions{Force: true, Volumes: true}); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
				errs <- err
			}
		}(c.ID)
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// ServiceConverge waits until every desired replica of the service's
// current spec runs (healthy, when it has a healthcheck) and no update is
// in progress, calling progress on each change. It fails with one line
// when the update it waits for paused or was rolled back, and when every
// first replica of a new service failed right after it started: that
// service is removed, so a spec that cannot run leaves nothing.
func (e *Engine) ServiceConverge(ctx context.Context, ref string, progress func(ServiceProgress)) error {
	svc, err := services.Lookup(ref)
	if err != nil {
		return err
	}
	id, name := svc.ID, svc.Spec.Name
	var last string
	for {
		svc, err := services.Read(id)
		if err != nil {
			return fmt.Errorf("service %s was removed while waiting for it: %w", name, errdefs.ErrNotFound)
		}
		e.ensureKeeper(id)
		tasks, err := services.ReadTasks(id)
		if err != nil {
			return err
		}
		p := ServiceProgress{Desired: uint64(replicaSlots(svc.Spec)), Update: svc.UpdateStatus}
		var failed []swarm.Task
		steady := uint64(0) // running tasks up longer than stableAfter
		for _, t := range tasks {
			switch {
			case t.DesiredState == swarm.TaskStateRunning:
				p.Tasks = append(p.Tasks, t)
				if t.Status.State == swarm.TaskStateRunning && sameTaskSpec(t.Spec, svc.Spec.TaskTemplate) {
					p.Running++
					if time.Since(t.Status.Timestamp) > stableAfter {
						steady++
					}
				}
			case t.Status.State == swarm.TaskStateFailed || t.Status.State == swarm.TaskStateRejected:
				failed = append(failed, t)
			}
		}
		sort.Slice(p.Tasks, func(i, j int) bool { return p.Tasks[i].Slot < p.Tasks[j].Slot })
		if progress != nil {
			if key := fmt.Sprint(p.Running, p.Desired, p.Update, len(p.Tasks)); key != last {
				last = key
				progress(p)
			}
		}
		// A paused update stays paused until an update changes the task
		// template again; a rollback the keeper made is the failure of the
		// update that started it (when that is the one waited for).
		if st := svc.UpdateStatus; st != nil {
			ours := st.StartedAt != nil && !st.StartedAt.Before(svc.UpdatedAt)
			switch {
			case st.State == swarm.UpdateStatePaused || st.State == swarm.UpdateStateRollbackPaused:
				return fmt.Errorf("service %s: %s: see skiff service ps %s, then service update or service rollback: %w", name, st.Message, name, errdefs.ErrUnavailable)
			case ours && st.State == swarm.UpdateStateRollbackCompleted && st.Message != "manually requested rollback":
				return fmt.Errorf("service %s: %s: %w", name, st.Message, errdefs.ErrUnavailable)
			}
		}
		updating := svc.UpdateStatus != nil && (svc.UpdateStatus.State == swarm.UpdateStateUpdating || svc.UpdateStatus.State == swarm.UpdateStateRollbackStarted)
		// A new service's replicas must stay up a moment: one that exits at
		// once may still be recorded running.
		stable := svc.Version.Index > 1 || steady == p.Desired
		if !updating && stable && p.Running == p.Desired && uint64(len(p.Tasks)) == p.Desired {
			return nil
		}
		if svc.Version.Index == 1 && p.Desired > 0 && uint64(len(failed)) >= p.Desired && steady == 0 {
			t := failed[0]
			_ = e.ServiceRemove(context.WithoutCancel(ctx), id)
			return fmt.Errorf("service %s: replica %s failed right after it started (%s): the service was not created: check its image and command: %w", name, TaskName(name, t.Slot), taskError(t), errdefs.ErrUnavailable)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// stableAfter is how long a new service's replicas must have run for
// ServiceConverge to call it created.
const stableAfter = time.Second

func taskError(t swarm.Task) string {
	if t.Status.Err != "" {
		return t.Status.Err
	}
	return string(t.Status.State)
}

// ServiceLogs copies the output of the service's replicas to the writers
// to returns for each; with o.Follow it follows them, and replicas that
// start later, until ctx ends.
func (e *Engine) ServiceLogs(ctx context.Context, ref string, o LogOptions, to ServiceLogWriters) error {
	svc, err := services.Lookup(ref)
	if err != nil {
		return err
	}
	started := map[string]bool{}
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		tasks, err := services.ReadTasks(svc.ID)
		if err != nil {
			return err
		}
		sort.SliceStable(tasks, func(i, j int) bool { return tasks[i].CreatedAt.Before(tasks[j].CreatedAt) })
		for _, t := range tasks {
			cid := ""
			if t.Status.ContainerStatus != nil {
				cid = t.Status.ContainerStatus.ContainerID
			}
			if cid == "" || started[t.ID] || (t.DesiredState != swarm.TaskStateRunning && o.Follow) {
				continue
			}
			if _, err := container.ReadRecord(cid); err != nil {
				continue // removed with its task
			}
			started[t.ID] = true
			stdout, stderr := to(t)
			out, errw := newLineWriter(stdout), newLineWriter(stderr)
			if !o.Follow {
				err := e.ContainerLogs(ctx, cid, o, out, errw)
				out.Flush()
				errw.Flush()
				if err != nil && !errors.Is(err, errdefs.ErrNotFound) {
					return err
				}
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = e.ContainerLogs(ctx, cid, o, out, errw)
				out.Flush()
				errw.Flush()
			}()
		}
		if !o.Follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

// lineWriter passes on whole lines only, keeping a partial one for the
// next Write or Flush.
type lineWriter struct {
	w   io.Writer
	buf []byte
}

func newLineWriter(w io.Writer) *lineWriter { return &lineWriter{w: w} }

func (l *lineWriter) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	if i := bytes.LastIndexByte(l.buf, '\n'); i >= 0 {
		_, err := l.w.Write(l.buf[:i+1])
		l.buf = append(l.buf[:0], l.buf[i+1:]...)
		if err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Flush writes what is left, with a newline.
func (l *lineWriter) Flush() {
	if len(l.buf) > 0 {
		_, _ = l.w.Write(append(l.buf, '\n'))
		l.buf = nil
	}
}

// UpToDateFilter is the docker CLI's private task filter while it follows
// a service's convergence: with true, only the tasks of the service's
// current task template (not those of a spec an update is replacing).
const UpToDateFilter = "_up-to-date"

// TaskList lists the tasks of every service that match f (id, name,
// service, desired-state, node, label, _up-to-date), by service, slot and
// newest first.
func (e *Engine) TaskList(ctx context.Context, f Filters) ([]swarm.Task, error) {
	if err := f.check("id", "name", "service", "desired-state", "node", "label", UpToDateFilter); err != nil {
		return nil, err
	}
	upToDate, err := f.boolValue(UpToDateFilter)
	if err != nil {
		return nil, err
	}
	for _, v := range f["desired-state"] {
		switch swarm.TaskState(v) {
		case swarm.TaskStateRunning, swarm.TaskStateShutdown, swarm.TaskStateAccepted:
		default:
			return nil, errdefs.Invalid("invalid filter desired-state=%s: use running, shutdown or accepted", v)
		}
	}
	e.ensureKeepers()
	all, err := services.List()
	if err != nil {
		return nil, err
	}
	for _, ref := range f["service"] {
		if _, err := services.Lookup(ref); err != nil {
			return nil, err
		}
	}
	node, _ := services.NodeID()
	host, _ := os.Hostname()
	out := []swarm.Task{}
	for _, s := range all {
		if !f.any("service", func(v string) bool { return v == s.ID || v == s.Spec.Name || strings.HasPrefix(s.ID, v) }) {
			continue
		}
		tasks, err := services.ReadTasks(s.ID)
		if err != nil {
			continue // removed meanwhile
		}
		sort.SliceStable(tasks, func(i, j int) bool {
			if tasks[i].Slot != tasks[j].Slot {
				return tasks[i].Slot < tasks[j].Slot
			}
			return tasks[i].CreatedAt.After(tasks[j].CreatedAt)
		})
		for _, t := range tasks {
			name := TaskName(s.Spec.Name, t.Slot)
			if !f.any("id", func(v string) bool { return strings.HasPrefix(t.ID, v) }) ||
				!f.any("name", func(v string) bool { return v == name || v == s.Spec.Name || strings.HasPrefix(name, v) }) ||
				!f.any("desired-state", func(v string) bool { return swarm.TaskState(v) == t.DesiredState }) ||
				!f.any("node", func(v string) bool { return v == node || v == host || v == "self" }) ||
				!f.labels("label", t.Labels) ||
				(upToDate != nil && *upToDate && !sameTaskSpec(t.Spec, s.Spec.TaskTemplate)) {
				continue
			}
			out = append(out, t)
		}
	}
	return out, nil
}

// TaskInspect returns one task by ID or unique ID prefix.
func (e *Engine) TaskInspect(ctx context.Context, ref string) (*swarm.Task, error) {
	all, err := e.TaskList(ctx, nil)
	if err != nil {
		return nil, err
	}
	var match []swarm.Task
	for _, t := range all {
		if t.ID == ref {
			return &t, nil
		}
		if ref != "" && strings.HasPrefix(t.ID, ref) {
			match = append(match, t)
		}
	}
	switch len(match) {
	case 1:
		return &match[0], nil
	case 0:
		return nil, errdefs.NotFound("no such task: %s", ref)
	}
	return nil, fmt.Errorf("task ID prefix %q matches %d tasks: give more characters: %w", ref, len(match), errdefs.ErrConflict)
}

// NodeList lists this host: the one node of an always-active swarm.
func (e *Engine) NodeList(ctx context.Context, f Filters) ([]swarm.Node, error) {
	if err := f.check("id", "name", "role", "membership", "label", "node.label"); err != nil {
		return nil, err
	}
	n, err := thisNode()
	if err != nil {
		return nil, err
	}
	if !f.any("id", func(v string) bool { return strings.HasPrefix(n.ID, v) }) ||
		!f.any("name", func(v string) bool { return strings.HasPrefix(n.Description.Hostname, v) }) ||
		!f.any("role", func(v string) bool { return v == "manager" }) ||
		!f.any("membership", func(v string) bool { return v == "accepted" }) {
		return []swarm.Node{}, nil
	}
	return []swarm.Node{n}, nil
}

// NodeInspect returns this host's node by its ID, hostname or "self".
func (e *Engine) NodeInspect(ctx context.Context, ref string) (*swarm.Node, error) {
	n, err := thisNode()
	if err != nil {
		return nil, err
	}
	if ref != "self" && ref != n.Description.Hostname && (ref == "" || !strings.HasPrefix(n.ID, ref)) {
		return nil, errdefs.NotFound("no such node: %s", ref)
	}
	return &n, nil
}

func thisNode() (swarm.Node, error) {
	id, err := services.NodeID()
	if err != nil {
		return swarm.Node{}, err
	}
	host, _ := os.Hostname()
	created := services.NodeCreated().UTC()
	var si unix.Sysinfo_t
	_ = unix.Sysinfo(&si)
	return swarm.Node{
		ID:   id,
		Meta: swarm.Meta{Version: swarm.Version{Index: 1}, CreatedAt: created, UpdatedAt: created},
		Spec: swarm.NodeSpec{Role: swarm.NodeRoleManager, Availability: swarm.NodeAvailabilityActive},
		Description: swarm.NodeDescription{
			Hostname:  host,
			Platform:  swarm.Platform{Architecture: goruntime.GOARCH, OS: goruntime.GOOS},
			Resources: swarm.Resources{NanoCPUs: int64(goruntime.NumCPU()) * 1e9, MemoryBytes: int64(si.Totalram) * int64(si.Unit)},
			Engine:    swarm.EngineDescription{EngineVersion: Version},
		},
		Status:        swarm.NodeStatus{State: swarm.NodeStateReady, Addr: "127.0.0.1"},
		ManagerStatus: &swarm.ManagerStatus{Leader: true, Reachability: swarm.ReachabilityReachable, Addr: "127.0.0.1:2377"},
	}, nil
}

// SwarmInspect describes the swarm skiff always is: this host alone.
func (e *Engine) SwarmInspect(ctx context.Context) (swarm.Swarm, error) {
	n, err := thisNode()
	if err != nil {
		return swarm.Swarm{}, err
	}
	history, snapshots := int64(taskHistory), uint64(0)
	return swarm.Swarm{ClusterInfo: swarm.ClusterInfo{
		ID:   n.ID,
		Meta: n.Meta,
		// Docker's defaults, for what `docker info` shows; skiff has no
		// Raft, dispatcher or CA behind them.
		Spec: swarm.Spec{
			Annotations:   swarm.Annotations{Name: "default"},
			Orchestration: swarm.OrchestrationConfig{TaskHistoryRetentionLimit: &history},
			Raft:          swarm.RaftConfig{SnapshotInterval: 10000, KeepOldSnapshots: &snapshots, LogEntriesForSlowFollowers: 500, ElectionTick: 10, HeartbeatTick: 1},
			Dispatcher:    swarm.DispatcherConfig{HeartbeatPeriod: 5 * time.Second},
			CAConfig:      swarm.CAConfig{NodeCertExpiry: 90 * 24 * time.Hour},
		},
	}}, nil
}

// serviceEvent records a service's event, with its name.
func serviceEvent(action events.Action, svc *swarm.Service) {
	events.Record(events.Message{Type: events.ServiceEventType, Action: action,
		Actor: events.Actor{ID: svc.ID, Attributes: map[string]string{"name": svc.Spec.Name}}})
}
