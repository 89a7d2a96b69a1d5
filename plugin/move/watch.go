package move

import (
	"context"
	"fmt"
	"time"

	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// TargetLostError: the node the service moves to stopped being Ready and
// Active after the plan's check (its engine stopped, or it was drained):
// the moved task cannot run there.
type TargetLostError struct {
	Node string
	Why  string // as stateful.Node.Schedulable says it
}

func (e *TargetLostError) Error() string {
	return fmt.Sprintf("node %s %s (it changed after the move began)", e.Node, e.Why)
}

// watchEvery is how often watchTarget reads the target node.
var watchEvery = time.Second

// watchTarget returns a context cancelled, with a *TargetLostError as its
// cause, once node n is seen not Ready or not Active twice in a row (one
// read may catch a manager's brief "unknown"). Waiting out --timeout for a
// task that cannot start would only lengthen the write downtime. A node
// that cannot be read is not taken as lost: the step's own bound applies.
func (m *Mover) watchTarget(ctx context.Context, n stateful.Node) (context.Context, context.CancelFunc) {
	wctx, cancel := context.WithCancelCause(ctx)
	go func() {
		seen := 0
		t := time.NewTicker(watchEvery)
		defer t.Stop()
		for {
			select {
			case <-wctx.Done():
				return
			case <-t.C:
			}
			node, _, err := m.API.NodeInspectWithRaw(wctx, n.ID)
			if err != nil {
				continue
			}
			if w := (stateful.Node{State: node.Status.State, Availability: node.Spec.Availability}).Schedulable(); w != "" {
				if seen++; seen >= 2 {
					cancel(&TargetLostError{Node: n.Hostname, Why: w})
					return
				}
				continue
			}
			seen = 0
		}
	}()
	return wctx, func() { cancel(context.Canceled) }
}

// lost is the *TargetLostError that cancelled ctx, or nil.
func lost(ctx context.Context) *TargetLostError {
	if e, ok := context.Cause(ctx).(*TargetLostError); ok {
		return e
	}
	return nil
}
