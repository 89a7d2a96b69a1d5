package verifyflow

import (
	"context"
	"testing"
	"time"
)

// TestWatchStopsWithDockersWait: once docker's wait is over (After stops the
// watch first), a check that outlasts the deadline is not an update that did
// not converge; without stopWatch the deadline would cut the wait and count.
func TestWatchStopsWithDockersWait(t *testing.T) {
	for _, stop := range []bool{true, false} {
		var r swarmRun
		r.current.Spec = spec(nil, dur(time.Millisecond))
		wait := r.BoundWait(context.Background())
		f := &Flow{API: &fakeAPI{}}
		r.armWatch(50 * time.Millisecond)
		if stop {
			r.stopWatch()
		}
		time.Sleep(200 * time.Millisecond) // the check outlasts the deadline
		nc, _ := r.convergence(context.Background(), f, "id1")
		if stop && (nc != nil || wait.Err() != nil) {
			t.Errorf("watch stopped before the deadline: not converged %v, wait %v; want neither", nc, wait.Err())
		}
		if !stop && (nc == nil || wait.Err() == nil) {
			t.Errorf("watch left armed: not converged %v, wait %v; want both", nc, wait.Err())
		}
	}
}
