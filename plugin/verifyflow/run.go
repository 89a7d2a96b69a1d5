package verifyflow

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/exitcode"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// swarmRun is the Swarm side of one update --verify, the same for every
// engine: the running task and its node, the bound on docker's convergence
// wait, what was sent, the rollback over this run's own update only, and the
// timeline. Update (Redis) and PGUpdate (PostgreSQL) embed it, so that every
// hardening of these steps lands once, for both.
type swarmRun struct {
	current  swarm.Service
	oldTasks []string
	replaces bool
	// sent is the service as inspected right after the update was sent
	// (nil: unknown): a rollback restores its PreviousSpec only while the
	// service is still as this run left it.
	sent *swarm.Service

	tl       timeline
	sentAt   time.Time
	waitFrom time.Time // docker's convergence wait began (AfterSend returned)

	base context.Context // the run's context (not docker's bounded wait)

	mu       sync.Mutex
	stopWait context.CancelFunc // cuts docker's convergence wait short
	waitCut  error              // why it was cut (errCheckFailed: the check failed)
	waitErr  error              // docker's convergence wait failed
	watch    *time.Timer
	// onConvergeFailed runs (under mu) when docker's wait failed: the
	// engine's check of a task that will not run is moot.
	onConvergeFailed func()
}

// errCheckFailed: docker's wait was cut because the check already failed.
var errCheckFailed = errors.New("the check of the new process failed")

// BoundWait returns the context for docker's convergence wait: the run cuts
// it when the check of the new process failed (a rollback follows, no need
// to wait) or when the service has not converged within the stop grace
// period + --verify-timeout of the send (docker's own wait has no deadline).
func (r *swarmRun) BoundWait(parent context.Context) context.Context {
	ctx, cancel := context.WithCancel(parent)
	r.Bind(parent, cancel)
	return ctx
}

// Bind is BoundWait with the context made by the caller (EngineUpdate binds
// the same wait to every engine's run before it knows the engine).
func (r *swarmRun) Bind(parent context.Context, cancel context.CancelFunc) {
	r.base = parent
	r.stopWait = cancel
}

// ConvergeFailed records that docker's convergence wait failed with err
// (the update paused, or swarm rolled it back): the update failed even if
// the data checked out.
func (r *swarmRun) ConvergeFailed(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waitErr = err
	if r.waitCut == nil && r.onConvergeFailed != nil && !errors.Is(err, context.Canceled) {
		r.onConvergeFailed()
	}
}

func (r *swarmRun) cutWait(why error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopWait == nil || r.waitCut != nil {
		return
	}
	r.waitCut = why
	r.stopWait()
}

// armWatch cuts docker's wait once the service has not converged within the
// stop grace period + --verify-timeout of the send.
func (r *swarmRun) armWatch(timeout time.Duration) {
	if r.stopWait == nil {
		return
	}
	limit := stateful.StopGracePeriod(r.current.Spec) + timeout
	r.watch = time.AfterFunc(limit, func() {
		r.cutWait(fmt.Errorf("it did not converge within %s of the update (stop grace period + --verify-timeout)", limit))
	})
}

// stopWatch disarms armWatch's deadline: docker's wait is over. After calls
// it first, before it waits for the check: a check that outlasts the
// deadline is not an update that did not converge.
func (r *swarmRun) stopWatch() {
	if r.watch != nil {
		r.watch.Stop()
	}
}

// tasks finds the running task the update replaces; --verify checks one
// server, so a service running several is refused.
func (r *swarmRun) tasks(ctx context.Context, f *Flow, server string) error {
	var err error
	if r.oldTasks, err = f.RunningTasks(ctx, r.current.ID); err != nil {
		return err
	}
	if len(r.oldTasks) > 1 {
		return exitcode.Refused(fmt.Errorf("update of service %s not sent: --verify checks one %s, and the service runs %d tasks", r.current.Spec.Name, server, len(r.oldTasks)))
	}
	return nil
}

// pinReady checks, the last thing before sending, that the node of the task
// the update replaces can run its replacement (Ready and Active): a refusal
// (*NodeNotReady) is exit 1, anything else could not decide.
func (r *swarmRun) pinReady(ctx context.Context, f *Flow) error {
	if !r.replaces || len(r.oldTasks) != 1 {
		return nil
	}
	err := f.NodeReady(ctx, r.oldTasks[0])
	var nr *NodeNotReady
	if errors.As(err, &nr) {
		return exitcode.Refused(fmt.Errorf("update of service %s not sent: %w", r.current.Spec.Name, err))
	}
	return err
}

// recordSent inspects the service right after the update was sent: the spec
// this run sent and the one it replaced, which a rollback must still find.
func (r *swarmRun) recordSent(ctx context.Context, f *Flow, serviceID string) {
	svc, _, err := f.API.ServiceInspectWithRaw(ctx, serviceID, swarm.ServiceInspectOptions{})
	if err != nil || svc.PreviousSpec == nil || !reflect.DeepEqual(*svc.PreviousSpec, r.current.Spec) {
		return // unknown, or already updated again: the rollback checks PreviousSpec alone
	}
	r.sent = &svc
}

// convergence is what the run knows about the update's convergence once
// docker's wait is over: why it did not converge (nil: it did), and whether
// swarm rolled it back by itself.
func (r *swarmRun) convergence(ctx context.Context, f *Flow, serviceID string) (notConverged error, swarmRolledBack bool) {
	r.stopWatch()
	r.mu.Lock()
	switch {
	case r.waitErr != nil && !errors.Is(r.waitErr, context.Canceled):
		notConverged = r.waitErr // docker's own wait failed
	case r.waitCut != nil && !errors.Is(r.waitCut, errCheckFailed):
		notConverged = r.waitCut // cut at the deadline
	}
	r.mu.Unlock()
	if svc, _, err := f.API.ServiceInspectWithRaw(ctx, serviceID, swarm.ServiceInspectOptions{}); err == nil && svc.UpdateStatus != nil && !sameUpdate(svc.UpdateStatus, r.current.UpdateStatus) {
		switch svc.UpdateStatus.State {
		case swarm.UpdateStateRollbackStarted, swarm.UpdateStateRollbackCompleted, swarm.UpdateStateRollbackPaused:
			swarmRolledBack = true
			if notConverged == nil {
				notConverged = fmt.Errorf("swarm rolled the update back: %s", svc.UpdateStatus.Message)
			}
		}
	}
	return notConverged, swarmRolledBack
}

// rollbackOurs restores the previous spec while the service is as this run
// left it (else *SupersededError, nothing sent), and waits for it to
// converge with converge (bounded by the grace period + --verify-timeout).
func (r *swarmRun) rollbackOurs(ctx context.Context, f *Flow, serviceID string, converge func(context.Context, string) error) error {
	if _, err := f.RollbackOurs(ctx, serviceID, r.current.Spec, r.sent); err != nil {
		return err
	}
	if converge != nil {
		cctx, cancel := context.WithTimeout(ctx, stateful.StopGracePeriod(r.current.Spec)+f.Opt.Timeout)
		defer cancel()
		if err := converge(cctx, serviceID); err != nil {
			f.say("warning: waiting for the rollback to converge: %v", err)
		}
	}
	return nil
}

// sameUpdate: the update status is the one the service had before this run
// (an update that replaces no task leaves it as it was).
func sameUpdate(now, before *swarm.UpdateStatus) bool {
	if before == nil || now.StartedAt == nil || before.StartedAt == nil {
		return false
	}
	return now.State == before.State && now.StartedAt.Equal(*before.StartedAt)
}
