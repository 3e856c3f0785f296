package engine

// A service's rolling updates and rollbacks, as its keeper rolls them out
// (the rest of the keeper is in service_keeper.go).

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"github.com/skiff-project/skiff/services"
)

// rollOut moves one batch of replicas whose spec is not the service's to
// it (an update, or a rollback with the rollback config), then records
// how the update stands.
func (k *keeper) rollOut(ctx context.Context, obs observed) error {
	st := k.svc.UpdateStatus
	if st != nil && (st.State == swarm.UpdateStatePaused || st.State == swarm.UpdateStateRollbackPaused) {
		return nil
	}
	rollingBack := st != nil && st.State == swarm.UpdateStateRollbackStarted
	uc := k.svc.Spec.UpdateConfig
	if rollingBack {
		uc = k.svc.Spec.RollbackConfig
	}
	var outdated []*swarm.Task
	for i := range k.tasks {
		t := &k.tasks[i]
		if t.DesiredState == swarm.TaskStateRunning && !sameTaskSpec(t.Spec, k.svc.Spec.TaskTemplate) {
			outdated = append(outdated, t)
		}
	}
	if failed := k.monitorFailed(uc.Monitor); failed != nil {
		return k.updateFailed(uc, rollingBack, failed)
	}
	if len(outdated) == 0 {
		if len(k.monitoring) > 0 {
			return nil // the last batch is still watched
		}
		if st != nil && (st.State == swarm.UpdateStateUpdating || rollingBack) {
			return k.setUpdate(func(s *swarm.UpdateStatus) {
				now := time.Now().UTC()
				s.CompletedAt = &now
				if rollingBack {
					s.State = swarm.UpdateStateRollbackCompleted
				} else {
					s.State, s.Message = swarm.UpdateStateCompleted, "update completed"
				}
			})
		}
		return nil
	}
	if time.Now().Before(k.nextBatch) {
		return nil
	}
	sort.Slice(outdated, func(i, j int) bool { return outdated[i].Slot < outdated[j].Slot })
	n := int(uc.Parallelism)
	if n == 0 || n > len(outdated) {
		n = len(outdated)
	}
	var fresh []*swarm.Task
	var ids []string
	for _, t := range outdated[:n] {
		ids = append(ids, t.ID) // k.tasks grows below: pointers into it go stale
	}
	for _, oldID := range ids {
		old := k.taskByID(oldID)
		slot := old.Slot
		if uc.Order == swarm.UpdateOrderStartFirst && !terminal(old.Status.State) {
			t := k.appendTask(slot)
			c := k.run(ctx, t, fmt.Sprintf("%s.%s", TaskName(k.svc.Spec.Name, slot), t.ID))
			if c != nil {
				obs[t.ID] = c
				k.waitReady(ctx, t, obs)
			}
			old = k.taskByID(old.ID)
			k.shutdown(ctx, old, obs)
			k.removeEnded(ctx)
			t = k.taskByID(t.ID)
			if c != nil && t.DesiredState == swarm.TaskStateRunning {
				_ = k.e.ContainerRename(ctx, c.ID, TaskName(k.svc.Spec.Name, slot))
			}
			fresh = append(fresh, t)
			continue
		}
		k.shutdown(ctx, old, obs)
		k.removeEnded(ctx)
		t := k.appendTask(slot)
		if c := k.run(ctx, t, TaskName(k.svc.Spec.Name, slot)); c != nil {
			obs[t.ID] = c
		}
		fresh = append(fresh, k.taskByID(t.ID))
	}
	k.setBackends(obs)
	_ = k.save()
	for _, t := range fresh {
		if !k.waitReady(ctx, t, obs) {
			k.nextBatch = time.Now().Add(uc.Delay)
			return k.updateFailed(uc, rollingBack, k.taskByID(t.ID))
		}
		k.monitoring[t.ID] = time.Now()
	}
	k.nextBatch = time.Now().Add(uc.Delay)
	return nil
}

// monitorFailed returns the first task of the update that failed within
// monitor of getting ready, and forgets those that passed it.
func (k *keeper) monitorFailed(monitor time.Duration) *swarm.Task {
	for id, readyAt := range k.monitoring {
		t := k.taskByID(id)
		if t.Status.State == swarm.TaskStateFailed || t.Status.State == swarm.TaskStateRejected {
			return t
		}
		if time.Since(readyAt) >= monitor || t.DesiredState != swarm.TaskStateRunning {
			delete(k.monitoring, id)
		}
	}
	return nil
}

// updateFailed applies the update config's failure action to a task that
// failed during the update: rollback (to the previous spec), pause, or go
// on (continue).
func (k *keeper) updateFailed(uc *swarm.UpdateConfig, rollingBack bool, failed *swarm.Task) error {
	if uc.FailureAction == swarm.UpdateFailureActionContinue {
		return nil
	}
	k.monitoring = map[string]time.Time{}
	why := fmt.Sprintf("task %s (%s): %s", failed.ID[:12], TaskName(k.svc.Spec.Name, failed.Slot), taskError(*failed))
	if uc.FailureAction == swarm.UpdateFailureActionRollback && !rollingBack && k.svc.PreviousSpec != nil {
		svc, err := services.Update(k.id, func(s *swarm.Service) error {
			if s.PreviousSpec == nil {
				return nil
			}
			s.Spec, *s.PreviousSpec = *s.PreviousSpec, s.Spec
			s.Version.Index++
			if s.UpdateStatus != nil {
				s.UpdateStatus.State = swarm.UpdateStateRollbackStarted
				s.UpdateStatus.Message = "update rolled back due to failure or early termination of " + why
			}
			return nil
		})
		if err == nil {
			k.svc = svc
			k.nextBatch = time.Time{}
			k.backoff = map[int]*slotBackoff{}
		}
		k.log.Info("update failed: rolling back", "why", why)
		return err
	}
	return k.setUpdate(func(s *swarm.UpdateStatus) {
		s.State = swarm.UpdateStatePaused
		if rollingBack {
			s.State = swarm.UpdateStateRollbackPaused
		}
		s.Message = "update paused due to failure or early termination of " + why
	})
}

func (k *keeper) appendTask(slot int) *swarm.Task {
	k.tasks = append(k.tasks, k.newTask(slot))
	_ = k.save()
	return &k.tasks[len(k.tasks)-1]
}

func (k *keeper) taskByID(id string) *swarm.Task {
	for i := range k.tasks {
		if k.tasks[i].ID == id {
			return &k.tasks[i]
		}
	}
	return &swarm.Task{ID: id}
}

// waitReady waits until a new task of an update is ready (running, and
// healthy when it has a healthcheck); false when it failed on the way.
// Once ready, monitorFailed watches it while the next batches go on.
func (k *keeper) waitReady(ctx context.Context, t *swarm.Task, obs observed) bool {
	id := t.ID
	limit := time.Now().Add(2 * time.Minute)
	if hc := t.Spec.ContainerSpec.Healthcheck; hc != nil {
		limit = limit.Add(hc.StartPeriod)
	}
	for time.Now().Before(limit) {
		fresh, err := k.observe(ctx)
		if err == nil {
			for tid, c := range fresh {
				obs[tid] = c
			}
			for tid := range obs {
				if fresh[tid] == nil {
					delete(obs, tid)
				}
			}
			k.refresh(ctx, obs)
			k.setBackends(obs)
			k.removeEnded(ctx)
		}
		t := k.taskByID(id)
		if t.DesiredState != swarm.TaskStateRunning || terminal(t.Status.State) {
			return false
		}
		if t.Status.State == swarm.TaskStateRunning {
			_ = k.save()
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
	return false
}

func (k *keeper) setUpdate(fn func(*swarm.UpdateStatus)) error {
	svc, err := services.Update(k.id, func(s *swarm.Service) error {
		if s.UpdateStatus == nil {
			now := time.Now().UTC()
			s.UpdateStatus = &swarm.UpdateStatus{StartedAt: &now}
		}
		fn(s.UpdateStatus)
		return nil
	})
	if err == nil {
		k.svc = svc
	}
	return err
}
