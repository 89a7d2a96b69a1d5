package move

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// nodeAPI answers NodeInspectWithRaw from a script of node states, the last
// one repeated.
type nodeAPI struct {
	fakeAPI
	mu     sync.Mutex
	states []swarm.Node
}

func (f *nodeAPI) NodeInspectWithRaw(context.Context, string) (swarm.Node, []byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.states[0]
	if len(f.states) > 1 {
		f.states = f.states[1:]
	}
	return n, nil, nil
}

func node(state swarm.NodeState, avail swarm.NodeAvailability) swarm.Node {
	return swarm.Node{Status: swarm.NodeStatus{State: state}, Spec: swarm.NodeSpec{Availability: avail}}
}

func TestWatchTarget(t *testing.T) {
	defer func(d time.Duration) { watchEvery = d }(watchEvery)
	watchEvery = 5 * time.Millisecond
	ready := node(swarm.NodeStateReady, swarm.NodeAvailabilityActive)
	target := stateful.Node{ID: "id3", Hostname: "node3"}
	for _, tc := range []struct {
		name   string
		states []swarm.Node
		want   string // "" = not lost
	}{
		{"ready", []swarm.Node{ready}, ""},
		{"one unknown read is a blip", []swarm.Node{ready, node(swarm.NodeStateUnknown, swarm.NodeAvailabilityActive), ready}, ""},
		{"drained", []swarm.Node{ready, node(swarm.NodeStateReady, swarm.NodeAvailabilityDrain)}, "node node3 has availability drain"},
		{"engine stopped", []swarm.Node{ready, ready, node(swarm.NodeStateDown, swarm.NodeAvailabilityActive)}, "node node3 is down, not ready"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &Mover{API: &nodeAPI{states: tc.states}}
			ctx, stop := m.watchTarget(context.Background(), target)
			defer stop()
			select {
			case <-ctx.Done():
			case <-time.After(300 * time.Millisecond):
			}
			l := lost(ctx)
			switch {
			case tc.want == "" && l != nil:
				t.Fatalf("lost: %v", l)
			case tc.want != "" && (l == nil || !strings.HasPrefix(l.Error(), tc.want)):
				t.Fatalf("lost %v, want %q", l, tc.want)
			}
		})
	}
	// Stopping the watch is no loss.
	m := &Mover{API: &nodeAPI{states: []swarm.Node{ready}}}
	ctx, stop := m.watchTarget(context.Background(), target)
	stop()
	if ctx.Err() == nil || lost(ctx) != nil {
		t.Fatalf("after stop: %v %v", ctx.Err(), lost(ctx))
	}
}
