package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/events"
	"github.com/skiff-project/skiff/netns"
	"github.com/skiff-project/skiff/paths"
	"github.com/skiff-project/skiff/runtime"
	"github.com/skiff-project/skiff/services"
)

// KeeperCommand is the hidden command that runs a service's keeper:
// `skiff __keeper ID`; started by the engine, its ready pipe is the fd
// EnvKeeperReady names (3). A systemd unit runs it without one.
const (
	KeeperCommand  = "__keeper"
	EnvKeeperReady = "SKIFF_KEEPER_READY_FD"
)

// taskHistory is how many tasks a slot keeps, the current one included
// (Docker's default task history retention limit).
const taskHistory = 5

// startKeeper starts the service's keeper, detached in its own session,
// and waits until it has bound the service's ports (or failed to).
func startKeeper(id string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(services.KeeperLog(id), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd := exec.Command(self, KeeperCommand, id)
	cmd.Env = append(os.Environ(), EnvKeeperReady+"=3")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = "/"
	err = cmd.Start()
	w.Close()
	if err != nil {
		return fmt.Errorf("starting the keeper of service %s: %w", id, err)
	}
	go func() { _ = cmd.Wait() }() // a long-lived caller (the API service) reaps it
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		return fmt.Errorf("the keeper of service %s exited before it was ready: see %s: %w", id, services.KeeperLog(id), errdefs.ErrUnavailable)
	}
	line = strings.TrimSpace(line)
	if rest, ok := strings.CutPrefix(line, "error "); ok {
		class, msg, _ := strings.Cut(rest, " ")
		return fmt.Errorf("%s: %w", msg, keeperClasses[class])
	}
	return nil
}

// keeperClasses carry an error's class over the ready pipe.
var keeperClasses = map[string]error{
	"conflict": errdefs.ErrConflict, "invalid": errdefs.ErrInvalidArgument,
	"notfound": errdefs.ErrNotFound, "unavailable": errdefs.ErrUnavailable,
}

func keeperClass(err error) string {
	for name, class := range keeperClasses {
		if errors.Is(err, class) {
			return name
		}
	}
	return "unavailable"
}

// stopKeeper ends the keeper whose pid is given and waits until its lock
// is free.
func stopKeeper(id string, pid int) {
	if alive, _ := services.KeeperAlive(id); !alive || pid <= 0 {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if alive, _ := services.KeeperAlive(id); !alive {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// wakeKeeper makes the keeper look at its service now.
func wakeKeeper(id string) {
	if pid := services.KeeperPid(id); pid > 0 {
		if alive, _ := services.KeeperAlive(id); alive {
			_ = syscall.Kill(pid, syscall.SIGHUP)
			return
		}
	}
	_ = startKeeper(id)
}

// ensureKeepers starts the keeper of every service that has none (it
// was killed, or the host rebooted): any command that touches services
// calls it.
func (e *Engine) ensureKeepers() {
	all, err := services.List()
	if err != nil {
		return
	}
	for _, s := range all {
		e.ensureKeeper(s.ID)
	}
}

func (e *Engine) ensureKeeper(id string) {
	if alive, err := services.KeeperAlive(id); err != nil || alive {
		return
	}
	if err := startKeeper(id); err != nil {
		e.warn(fmt.Sprintf("restarting the keeper of service %s: %s", id, errdefs.Message(err)))
	} else {
		e.log.Info("keeper restarted", "service", id)
	}
}

func balancedPorts(ps []swarm.PortConfig) []netns.BalancedPort {
	out := make([]netns.BalancedPort, 0, len(ps))
	for _, p := range ps {
		out = append(out, netns.BalancedPort{Protocol: string(p.Protocol), HostPort: int(p.PublishedPort), TargetPort: int(p.TargetPort)})
	}
	return out
}

// errGone ends the keeper: its service was removed.
var errGone = errors.New("service removed")

// keeper holds one service to its spec; see ServiceKeep.
type keeper struct {
	e     *Engine
	id    string
	node  string
	log   *slog.Logger
	svc   *swarm.Service
	tasks []swarm.Task
	saved []byte // tasks as last written

	lb       *netns.Balancer
	portsFor string // the spec ports lb was bound for

	backoff    map[int]*slotBackoff
	monitoring map[string]time.Time // tasks of the update being watched, since they got ready
	removals   []removal            // containers of ended tasks, see removeEnded
	nextBatch  time.Time            // an update's next batch waits for its delay
}

type slotBackoff struct {
	failures int
	next     time.Time
}

// ServiceKeep is the keeper of one service, run as its own small
// process (`skiff __keeper ID`): it binds the service's published ports,
// writes "ready" (or "error CLASS MESSAGE") and a newline to ready, then
// until SIGTERM or the service's removal keeps the replicas to the spec:
// it starts missing ones, replaces those that exit, turn unhealthy or are
// removed (as the restart policy says, with a back-off), rolls updates
// out batch by batch, pausing or rolling back on failure, and spreads
// connections on the published ports over the replicas that are ready.
// It wakes on its replicas' events, on SIGHUP (a command changed the
// spec) and every second. Killing it loses nothing: the replicas run on
// and the next command that touches services starts a new keeper.
//
// ready is nil when a systemd unit runs the keeper (skiff generate
// systemd SERVICE): the unit owns it, so a keeper a command started makes
// way, and with NOTIFY_SOCKET set it sends READY=1 once the ports are
// bound.
func (e *Engine) ServiceKeep(ctx context.Context, id string, ready io.Writer) error {
	unit := ready == nil // started by a systemd unit (skiff generate systemd), not by startKeeper
	if unit {
		ready = io.Discard
	}
	reported := false
	report := func(err error) {
		if reported {
			return
		}
		reported = true
		if err != nil {
			fmt.Fprintf(ready, "error %s %s\n", keeperClass(err), strings.ReplaceAll(errdefs.Message(err), "\n", " "))
			return
		}
		fmt.Fprintln(ready, "ready")
	}
	release, ok, err := services.HoldKeeper(id)
	if err == nil && !ok && unit {
		// The unit owns the keeper: one a command started makes way.
		release, ok, err = takeOver(id)
	}
	if err != nil || !ok {
		report(err) // another keeper holds the service: nothing to do
		return err
	}
	defer release()
	k := &keeper{e: e, id: id, log: e.log.With("service", id), backoff: map[int]*slotBackoff{}, monitoring: map[string]time.Time{}}
	if k.node, err = services.NodeID(); err != nil {
		report(err)
		return err
	}
	if k.svc, err = services.Read(id); err != nil {
		report(err)
		return err
	}
	if k.tasks, err = services.ReadTasks(id); err != nil {
		report(err)
		return err
	}
	k.saved, _ = json.Marshal(k.tasks)
	if err := k.bindPorts(); err != nil {
		report(err)
		return err
	}
	defer func() { k.lb.Close() }()
	report(nil)
	if sock := os.Getenv(runtime.EnvNotifySocket); sock != "" {
		// A Type=notify unit's keeper: ready once its ports are bound.
		os.Unsetenv(runtime.EnvNotifySocket)
		if err := runtime.Notify(sock, "READY=1"); err != nil {
			k.log.Warn("sd_notify", "err", err)
		}
	}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	wake := make(chan os.Signal, 1)
	signal.Notify(wake, syscall.SIGHUP)
	go func() {
		f := Filters{"type": {"container"}, "label": {LabelServiceID + "=" + id}}
		_ = e.Events(ctx, EventsOptions{Follow: true, Filters: f}, func(events.Message) error {
			select {
			case wake <- syscall.SIGHUP:
			default:
			}
			return nil
		})
	}()
	quick := 0
	for {
		err := k.reconcile(ctx)
		if errors.Is(err, errGone) {
			k.log.Info("service removed: keeper ends")
			return nil
		}
		if err != nil && ctx.Err() == nil {
			k.log.Warn("reconcile", "err", err)
		}
		due := k.untilDue()
		if quick > 0 {
			quick--
			due = min(due, 50*time.Millisecond)
		}
		timer := time.NewTimer(due)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-wake:
			// A supervisor records die before the container's record says
			// it stopped: look again shortly after an event, too.
			quick = 6
		case <-timer.C:
		}
		timer.Stop()
	}
}

// untilDue is how long the keeper may sleep: a second at most, less when
// a slot's back-off or an update's next batch is due sooner.
func (k *keeper) untilDue() time.Duration {
	due := time.Second
	for _, b := range k.backoff {
		if d := time.Until(b.next); d > 0 && d < due {
			due = d
		}
	}
	if d := time.Until(k.nextBatch); d > 0 && d < due {
		due = d
	}
	if len(k.monitoring) > 0 && k.svc.Spec.UpdateConfig != nil {
		monitor := max(k.svc.Spec.UpdateConfig.Monitor, k.svc.Spec.RollbackConfig.Monitor)
		for _, readyAt := range k.monitoring {
			if d := time.Until(readyAt.Add(monitor)); d > 0 && d < due {
				due = d
			}
		}
	}
	return due
}

// bindPorts binds the spec's published ports, again when they changed,
// and records them as bound in the service's Endpoint.
func (k *keeper) bindPorts() error {
	want := k.svc.Spec.EndpointSpec.Ports
	key, _ := json.Marshal(want)
	if string(key) == k.portsFor {
		return nil
	}
	k.lb.Close() // the same ports are bound again below
	k.lb = nil
	k.portsFor = string(key)
	var bound []netns.BalancedPort
	if len(want) > 0 {
		lb, b, err := netns.Balance(balancedPorts(want), paths.Rootless())
		if err != nil {
			return fmt.Errorf("service %s: %w", k.svc.Spec.Name, err)
		}
		k.lb, bound = lb, b
	}
	ports := make([]swarm.PortConfig, len(want))
	for i, p := range want {
		ports[i] = p
		if i < len(bound) {
			ports[i].PublishedPort = uint32(bound[i].HostPort)
		}
	}
	svc, err := services.Update(k.id, func(s *swarm.Service) error {
		s.Endpoint.Spec = *s.Spec.EndpointSpec
		s.Endpoint.Ports = ports
		return nil
	})
	if err == nil {
		k.svc = svc
	}
	return err
}

// observed is what a task's container is doing.
type observed map[string]*container.Container // task ID → its container

// reconcile makes one pass: observe, record, then act.
func (k *keeper) reconcile(ctx context.Context) error {
	svc, err := services.Read(k.id)
	if errors.Is(err, errdefs.ErrNotFound) {
		return errGone
	}
	if err != nil {
		return err
	}
	k.svc = svc
	if err := k.bindPorts(); err != nil {
		k.log.Warn("binding ports", "err", err)
	}
	obs, err := k.observe(ctx)
	if err != nil {
		return err
	}
	k.refresh(ctx, obs)
	desired := replicaSlots(svc.Spec)
	for i := range k.tasks {
		if t := &k.tasks[i]; t.DesiredState == swarm.TaskStateRunning && t.Slot > desired {
			k.shutdown(ctx, t, obs)
		}
	}
	k.setBackends(obs)
	_ = k.save()
	k.removeEnded(ctx)
	var missing []int
	for slot := 1; slot <= desired; slot++ {
		if k.current(slot) == nil && k.mayStart(slot) {
			missing = append(missing, slot)
		}
	}
	k.startSlots(ctx, missing, obs)
	if err := k.rollOut(ctx, obs); err != nil {
		return err
	}
	k.setBackends(obs)
	k.trimHistory()
	return k.save()
}

// observe reads the containers of the service's tasks; containers that
// carry the service's label but no known task (a keeper killed between
// creating one and recording it) are removed.
func (k *keeper) observe(ctx context.Context) (observed, error) {
	all, err := container.List()
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, t := range k.tasks {
		known[t.ID] = true
	}
	obs := observed{}
	for _, c := range all {
		if c.Config.Labels[LabelServiceID] != k.id {
			continue
		}
		tid := c.Config.Labels[LabelTaskID]
		if !known[tid] {
			k.log.Info("removing a container of no task", "container", c.Name)
			_ = k.e.ContainerRemove(ctx, c.ID, RemoveOptions{Force: true, Volumes: true})
			continue
		}
		obs[tid] = c
	}
	return obs, nil
}

// refresh records what each current task's container does: ready,
// starting (its healthcheck has not passed yet), or ended; an ended task
// frees its slot (its container is removed, the task stays in history).
func (k *keeper) refresh(ctx context.Context, obs observed) {
	for i := range k.tasks {
		t := &k.tasks[i]
		if t.DesiredState != swarm.TaskStateRunning || terminal(t.Status.State) {
			continue
		}
		c := obs[t.ID]
		switch {
		case c == nil:
			k.end(ctx, t, obs, swarm.TaskStateFailed, "the container was removed", -1)
		case c.State.Running:
			state := swarm.TaskStateRunning
			if h := c.State.Health; h != nil && hasHealthcheck(c) {
				switch h.Status {
				case "unhealthy":
					k.end(ctx, t, obs, swarm.TaskStateFailed, "unhealthy container", -1)
					continue
				case "starting":
					state = swarm.TaskStateStarting
				}
			}
			if t.Status.State != state {
				k.setState(t, state, "started", "")
			}
			t.Status.ContainerStatus.PID = c.State.Pid
		case c.State.Restarting || c.Starting():
		default:
			code := c.State.ExitCode
			if code == 0 {
				k.end(ctx, t, obs, swarm.TaskStateComplete, "", 0)
			} else {
				k.end(ctx, t, obs, swarm.TaskStateFailed, fmt.Sprintf("task: non-zero exit (%d)", code), code)
			}
		}
	}
}

func hasHealthcheck(c *container.Container) bool {
	hc := c.Config.Healthcheck
	return hc != nil && len(hc.Test) > 0 && hc.Test[0] != "NONE"
}

func terminal(s swarm.TaskState) bool {
	switch s {
	case swarm.TaskStateComplete, swarm.TaskStateFailed, swarm.TaskStateRejected, swarm.TaskStateShutdown, swarm.TaskStateOrphaned, swarm.TaskStateRemove:
		return true
	}
	return false
}

func (k *keeper) setState(t *swarm.Task, state swarm.TaskState, msg, errMsg string) {
	now := time.Now().UTC()
	t.Status.State, t.Status.Message, t.Status.Err, t.Status.Timestamp = state, msg, errMsg, now
	t.UpdatedAt = now
}

// end records that a task ended (state failed, complete or shutdown),
// takes it out of the rotation and removes its container. A failure
// pushes its slot's next start back.
func (k *keeper) end(ctx context.Context, t *swarm.Task, obs observed, state swarm.TaskState, errMsg string, code int) {
	ranFor := time.Since(t.Status.Timestamp)
	msg := "finished"
	if state == swarm.TaskStateShutdown {
		msg = "shutdown"
	}
	k.setState(t, state, msg, errMsg)
	t.DesiredState = swarm.TaskStateShutdown
	if code >= 0 && t.Status.ContainerStatus != nil {
		t.Status.ContainerStatus.ExitCode = code
	}
	if state == swarm.TaskStateFailed {
		if b := k.backoff[t.Slot]; b != nil && ranFor > 10*time.Second {
			b.failures = 0 // it ran a while: not a crash loop
		}
		delay := k.pushBack(t.Slot)
		k.log.Info("task ended", "slot", t.Slot, "err", errMsg, "next start in", delay)
	}
	k.setBackends(obs)
	if c := obs[t.ID]; c != nil {
		stop := state == swarm.TaskStateShutdown || c.State.Running // shut down, or unhealthy
		k.removals = append(k.removals, removal{c, stop, fmt.Sprintf("%s.%s", TaskName(k.svc.Spec.Name, t.Slot), t.ID)})
		delete(obs, t.ID)
	}
}

// removal is the container of an ended task, to stop (its stop signal,
// then its grace period) and to keep under its task's full name
// (NAME.SLOT.TASKID, as Docker names them), which frees NAME.SLOT for the
// next task while the old one's logs and exit code stay until the task
// leaves the history (then observe removes it).
type removal struct {
	c      *container.Container
	stop   bool
	keepAs string
}

// removeEnded stops and renames the containers of ended tasks, all at
// once, as Docker stops a scaled-away batch together.
func (k *keeper) removeEnded(ctx context.Context) {
	var wg sync.WaitGroup
	for _, r := range k.removals {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r.stop {
				_ = k.e.ContainerStop(ctx, r.c.ID, StopOptions{})
			}
			if err := k.e.ContainerRename(ctx, r.c.ID, r.keepAs); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
				k.log.Warn("renaming an ended task's container: removing it", "container", r.c.Name, "err", err)
				_ = k.e.ContainerRemove(ctx, r.c.ID, RemoveOptions{Force: true, Volumes: true})
			}
		}()
	}
	wg.Wait()
	k.removals = nil
}

// shutdown stops a task the spec no longer wants (scaled away or
// replaced by an update).
func (k *keeper) shutdown(ctx context.Context, t *swarm.Task, obs observed) {
	if terminal(t.Status.State) {
		t.DesiredState = swarm.TaskStateShutdown
		return
	}
	t.DesiredState = swarm.TaskStateShutdown // out of the rotation first
	k.end(ctx, t, obs, swarm.TaskStateShutdown, "", -1)
}

// current is the task that should run in slot, if any.
func (k *keeper) current(slot int) *swarm.Task {
	for i := range k.tasks {
		if t := &k.tasks[i]; t.Slot == slot && t.DesiredState == swarm.TaskStateRunning {
			return t
		}
	}
	return nil
}

// mayStart says whether an empty slot gets a new task now: not when its
// last task ended in a way the restart policy does not restart, after
// the policy's attempts, or before the slot's back-off has passed.
func (k *keeper) mayStart(slot int) bool {
	var last *swarm.Task
	attempts := uint64(0)
	for i := range k.tasks {
		t := &k.tasks[i]
		if t.Slot != slot {
			continue
		}
		if last == nil || t.CreatedAt.After(last.CreatedAt) {
			last = t
		}
		if (t.Status.State == swarm.TaskStateFailed || t.Status.State == swarm.TaskStateComplete) && sameTaskSpec(t.Spec, k.svc.Spec.TaskTemplate) {
			attempts++
		}
	}
	if last != nil && last.Status.State != swarm.TaskStateShutdown {
		rp := k.svc.Spec.TaskTemplate.RestartPolicy
		switch {
		case rp.Condition == swarm.RestartPolicyConditionNone && sameTaskSpec(last.Spec, k.svc.Spec.TaskTemplate):
			return false
		case rp.Condition == swarm.RestartPolicyConditionOnFailure && last.Status.State == swarm.TaskStateComplete:
			return false
		case *rp.MaxAttempts > 0 && attempts > *rp.MaxAttempts:
			return false
		}
	}
	b := k.backoff[slot]
	return b == nil || !time.Now().Before(b.next)
}

// startSlots starts a task in each slot, a few at a time.
func (k *keeper) startSlots(ctx context.Context, slots []int, obs observed) {
	if len(slots) == 0 {
		return
	}
	first := len(k.tasks)
	for _, slot := range slots {
		k.tasks = append(k.tasks, k.newTask(slot))
	}
	_ = k.save() // recorded before its container exists
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	var mu sync.Mutex
	for i := first; i < len(k.tasks); i++ {
		wg.Add(1)
		go func(t *swarm.Task) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			c := k.run(ctx, t, TaskName(k.svc.Spec.Name, t.Slot))
			mu.Lock()
			if c != nil {
				obs[t.ID] = c
			}
			mu.Unlock()
		}(&k.tasks[i])
	}
	wg.Wait()
}

func (k *keeper) newTask(slot int) swarm.Task {
	now := time.Now().UTC()
	return swarm.Task{
		ID:           services.NewID(),
		Meta:         swarm.Meta{Version: swarm.Version{Index: 1}, CreatedAt: now, UpdatedAt: now},
		Spec:         k.svc.Spec.TaskTemplate,
		ServiceID:    k.id,
		Slot:         slot,
		NodeID:       k.node,
		DesiredState: swarm.TaskStateRunning,
		Status:       swarm.TaskStatus{Timestamp: now, State: swarm.TaskStatePending, Message: "pending task scheduling"},
	}
}

// run creates and starts a task's container under name; a failure is
// recorded in the task (rejected before it ran, failed after).
func (k *keeper) run(ctx context.Context, t *swarm.Task, name string) *container.Container {
	o := replicaOptions(k.svc, t, k.node, name)
	if _, err := k.e.ImageEnsure(ctx, o.Image, PullMissing, PullOptions{}, nil); err != nil {
		k.reject(t, err)
		return nil
	}
	res, err := k.e.ContainerCreate(ctx, o)
	if errors.Is(err, errdefs.ErrConflict) {
		// A container of an older task may still hold the name.
		if old, lerr := container.ByName(name); lerr == nil && old != nil && old.Config.Labels[LabelServiceID] == k.id {
			_ = k.e.ContainerRemove(ctx, old.ID, RemoveOptions{Force: true, Volumes: true})
			res, err = k.e.ContainerCreate(ctx, o)
		}
	}
	if err != nil {
		k.reject(t, err)
		return nil
	}
	t.Status.ContainerStatus = &swarm.ContainerStatus{ContainerID: res.ID}
	for _, n := range t.Spec.Networks[min(1, len(t.Spec.Networks)):] {
		if err := k.e.NetworkConnect(ctx, n.Target, res.ID, append([]string{k.svc.Spec.Name}, n.Aliases...)); err != nil {
			k.reject(t, err)
			return nil
		}
	}
	if err := k.e.ContainerStart(ctx, res.ID); err != nil {
		k.setState(t, swarm.TaskStateFailed, "starting", errdefs.Message(err))
		t.DesiredState = swarm.TaskStateShutdown
		k.pushBack(t.Slot)
		_ = k.e.ContainerRemove(ctx, res.ID, RemoveOptions{Force: true, Volumes: true})
		return nil
	}
	c, err := container.ReadRecord(res.ID)
	if err != nil {
		return nil
	}
	state := swarm.TaskStateRunning
	if hasHealthcheck(c) {
		state = swarm.TaskStateStarting
	}
	k.setState(t, state, "started", "")
	t.Status.ContainerStatus.PID = c.State.Pid
	return c
}

func (k *keeper) reject(t *swarm.Task, err error) {
	k.log.Warn("task rejected", "slot", t.Slot, "err", err)
	k.setState(t, swarm.TaskStateRejected, "rejected", errdefs.Message(err))
	t.DesiredState = swarm.TaskStateShutdown
	k.pushBack(t.Slot)
}

// pushBack delays the slot's next start after a failure: not at all the
// first time, then 100 ms doubling up to the restart policy's delay, so
// a crash loop backs off instead of spinning.
func (k *keeper) pushBack(slot int) time.Duration {
	b := k.backoff[slot]
	if b == nil {
		b = &slotBackoff{}
		k.backoff[slot] = b
	}
	b.failures++
	delay := time.Duration(0)
	if b.failures > 1 {
		delay = min(firstRestartDelay<<min(b.failures-2, 16), *k.svc.Spec.TaskTemplate.RestartPolicy.Delay)
	}
	b.next = time.Now().Add(delay)
	return delay
}

// setBackends puts the ready replicas (running, and healthy when they
// have a healthcheck) in the balancer's rotation.
func (k *keeper) setBackends(obs observed) {
	if k.lb == nil {
		return
	}
	var bs []netns.Backend
	for _, t := range k.tasks {
		c := obs[t.ID]
		if t.DesiredState != swarm.TaskStateRunning || t.Status.State != swarm.TaskStateRunning || c == nil {
			continue
		}
		bs = append(bs, netns.Backend{ID: c.ID, NSPath: c.NetNSPath(), Target: c.PublishTarget()})
	}
	k.lb.SetBackends(bs)
}

// trimHistory keeps the newest taskHistory tasks of each slot.
func (k *keeper) trimHistory() {
	sort.SliceStable(k.tasks, func(i, j int) bool {
		if k.tasks[i].Slot != k.tasks[j].Slot {
			return k.tasks[i].Slot < k.tasks[j].Slot
		}
		return k.tasks[i].CreatedAt.After(k.tasks[j].CreatedAt)
	})
	out := k.tasks[:0]
	count := map[int]int{}
	desired := replicaSlots(k.svc.Spec)
	for _, t := range k.tasks {
		if t.DesiredState == swarm.TaskStateRunning {
			out = append(out, t)
			continue
		}
		if count[t.Slot]++; count[t.Slot] <= taskHistory-1 && t.Slot <= desired {
			out = append(out, t)
		}
	}
	k.tasks = out
}

// save writes the tasks when they changed.
func (k *keeper) save() error {
	data, err := json.Marshal(k.tasks)
	if err != nil || string(data) == string(k.saved) {
		return err
	}
	if err := services.WriteTasks(k.id, k.tasks); err != nil {
		return err
	}
	k.saved = data
	return nil
}

// takeOver stops the keeper that holds the service and takes its lock;
// a killed process can hold it a moment longer than it lives.
func takeOver(id string) (release func(), ok bool, err error) {
	stopKeeper(id, services.KeeperPid(id))
	for range 100 {
		if release, ok, err = services.HoldKeeper(id); ok || err != nil {
			return release, ok, err
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, false, fmt.Errorf("service %s: its keeper (pid %d) does not let go: %w", id, services.KeeperPid(id), errdefs.ErrUnavailable)
}
