package verifyflow

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/swarm"
	"github.com/redis/go-redis/v9"

	"github.com/docker-stateful/docker-stateful/internal/redistest"
	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
)

// flakyAPI answers TaskInspect with errors (no leader) before the task stops.
type flakyAPI struct {
	API
	mu    sync.Mutex
	calls int
	seq   []func() (swarm.Task, error)
	node  swarm.Node
}

func (f *flakyAPI) TaskInspectWithRaw(context.Context, string) (swarm.Task, []byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.calls
	if i >= len(f.seq) {
		i = len(f.seq) - 1
	}
	f.calls++
	t, err := f.seq[i]()
	return t, nil, err
}

func (f *flakyAPI) ServiceInspectWithRaw(context.Context, string, swarm.ServiceInspectOptions) (swarm.Service, []byte, error) {
	return swarm.Service{}, nil, errors.New("no leader")
}

func (f *flakyAPI) NodeInspectWithRaw(context.Context, string) (swarm.Node, []byte, error) {
	return f.node, nil, nil
}

// TestWaitStoppedRetriesInspectErrors (issue 10 §4): an inspect error such as
// "swarm does not have a leader" is not "stopped"; WaitStopped waits through
// it for the task's real state, and until the deadline if it persists. A
// task the daemon no longer knows is stopped.
func TestWaitStoppedRetriesInspectErrors(t *testing.T) {
	noLeader := func() (swarm.Task, error) {
		return swarm.Task{}, errors.New("Error response from daemon: rpc error: code = Unknown desc = The swarm does not have a leader")
	}
	running := func() (swarm.Task, error) {
		return swarm.Task{DesiredState: swarm.TaskStateShutdown, Status: swarm.TaskStatus{State: swarm.TaskStateRunning}}, nil
	}
	stopped := func() (swarm.Task, error) {
		return swarm.Task{Status: swarm.TaskStatus{State: swarm.TaskStateShutdown}}, nil
	}
	api := &flakyAPI{seq: []func() (swarm.Task, error){running, noLeader, noLeader, noLeader, running, stopped}}
	var log bytes.Buffer
	f := &Flow{API: api, Log: &log}
	if err := f.WaitStopped(context.Background(), []string{"old1"}, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if api.calls != 6 {
		t.Errorf("stopped after %d inspects, want 6: errors must not count as stopped\n%s", api.calls, log.String())
	}

	api = &flakyAPI{seq: []func() (swarm.Task, error){noLeader}}
	f.API = api
	start := time.Now()
	err := f.WaitStopped(context.Background(), []string{"old1"}, time.Second)
	var ns *NotStoppedError
	if !errors.As(err, &ns) || time.Since(start) < time.Second || !strings.Contains(err.Error(), "does not have a leader") {
		t.Errorf("inspect failing until the deadline: %v after %s, want NotStoppedError naming the error after 1s", err, time.Since(start))
	}

	api = &flakyAPI{seq: []func() (swarm.Task, error){func() (swarm.Task, error) { return swarm.Task{}, cerrdefs.ErrNotFound.WithMessage("no such task") }}}
	f.API = api
	if err := f.WaitStopped(context.Background(), []string{"old1"}, time.Second); err != nil {
		t.Errorf("a task the daemon no longer knows is stopped: %v", err)
	}

	// Ctrl-C: the context's error, never "did not stop within"
	api = &flakyAPI{seq: []func() (swarm.Task, error){running}}
	f.API = api
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	err = f.WaitStopped(ctx, []string{"old1"}, 10*time.Second)
	if !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "did not stop within") {
		t.Errorf("interrupted wait: %v, want context.Canceled and no timeout reason", err)
	}
}

// TestNodeReady (issue 10 §17): the node of the task must be Ready and Active
// right before sending.
func TestNodeReady(t *testing.T) {
	task := func() (swarm.Task, error) { return swarm.Task{NodeID: "n1"}, nil }
	api := &flakyAPI{seq: []func() (swarm.Task, error){task}}
	f := &Flow{API: api}
	api.node = swarm.Node{ID: "n1", Description: swarm.NodeDescription{Hostname: "node1"},
		Spec: swarm.NodeSpec{Availability: swarm.NodeAvailabilityActive}, Status: swarm.NodeStatus{State: swarm.NodeStateReady}}
	if err := f.NodeReady(context.Background(), "t1"); err != nil {
		t.Errorf("ready and active: %v", err)
	}
	for _, c := range []struct {
		state swarm.NodeState
		avail swarm.NodeAvailability
		says  string
	}{
		{swarm.NodeStateDown, swarm.NodeAvailabilityActive, "node1, is down and active"},
		{swarm.NodeStateReady, swarm.NodeAvailabilityDrain, "node1, is ready and drain"},
		{swarm.NodeStateUnknown, swarm.NodeAvailabilityPause, "is unknown and pause"},
	} {
		api.node.Status.State, api.node.Spec.Availability = c.state, c.avail
		err := f.NodeReady(context.Background(), "t1")
		var nr *NodeNotReady
		if !errors.As(err, &nr) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s/%s: %v, want NodeNotReady saying %q", c.state, c.avail, err, c.says)
		}
	}
}

// chainAPI is a service whose spec and previous spec a test sets.
type chainAPI struct {
	API
	svc     swarm.Service
	updates int
}

func (c *chainAPI) ServiceInspectWithRaw(context.Context, string, swarm.ServiceInspectOptions) (swarm.Service, []byte, error) {
	return c.svc, nil, nil
}

func (c *chainAPI) ServiceUpdate(context.Context, string, swarm.Version, swarm.ServiceSpec, swarm.ServiceUpdateOptions) (swarm.ServiceUpdateResponse, error) {
	c.updates++
	return swarm.ServiceUpdateResponse{}, nil
}

// TestRollbackOnlyOverOurUpdate (issue 10 §14): the rollback restores the
// previous spec only while the service is as this run's update left it.
func TestRollbackOnlyOverOurUpdate(t *testing.T) {
	s0 := spec(nil, nil, "redis-server")
	s0.Name = "cache"
	s1 := spec(nil, nil, "redis-server", "--maxmemory", "1g")
	s1.Name = "cache"
	s2 := spec(nil, nil, "redis-server", "--maxmemory", "2g")
	s2.Name = "cache"
	prev0 := s0
	ours := swarm.Service{ID: "id1", Meta: swarm.Meta{Version: swarm.Version{Index: 10}}, Spec: s1, PreviousSpec: &prev0}
	api := &chainAPI{svc: ours}
	f := &Flow{API: api}

	if _, err := f.RollbackOurs(context.Background(), "id1", s0, &ours); err != nil || api.updates != 1 {
		t.Fatalf("our update, untouched: %v, %d rollbacks sent", err, api.updates)
	}
	api.updates = 0
	if _, err := f.RollbackOurs(context.Background(), "id1", s0, nil); err != nil || api.updates != 1 {
		t.Fatalf("our update, sent spec unknown: %v, %d rollbacks sent", err, api.updates)
	}

	prev1 := s1
	for name, svc := range map[string]swarm.Service{
		"someone else updated it":     {ID: "id1", Meta: swarm.Meta{Version: swarm.Version{Index: 14}}, Spec: s2, PreviousSpec: &prev1},
		"swarm rolled it back itself": {ID: "id1", Meta: swarm.Meta{Version: swarm.Version{Index: 14}}, Spec: s0, PreviousSpec: &prev1},
	} {
		api.svc, api.updates = svc, 0
		for _, sent := range []*swarm.Service{&ours, nil} {
			_, err := f.RollbackOurs(context.Background(), "id1", s0, sent)
			var sup *SupersededError
			if !errors.As(err, &sup) || api.updates != 0 || !strings.Contains(err.Error(), "not rolling back over it") {
				t.Errorf("%s (sent known: %v): %v, %d rollbacks sent; want SupersededError and none", name, sent != nil, err, api.updates)
			}
		}
	}
}

// TestCutRenewalRetriesAndCheck (issue 10 §5), on a real redis-server: a
// long read-only script makes Redis answer -BUSY to the renewal of the pause.
// The keeper retries: once the script ends, writes are paused again and the
// cut is still exact. When the pause lapsed and a write got through, Check
// fails, so that nothing is sent.
func TestCutRenewalRetriesAndCheck(t *testing.T) {
	addr, _ := redistest.Start(t)
	ctx := context.Background()
	admin := redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: 10 * time.Second})
	defer admin.Close()
	if err := admin.ConfigSet(ctx, "busy-reply-threshold", "100").Err(); err != nil {
		t.Fatal(err)
	}
	c, err := redisstate.NewClient(redisstate.Options{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var log bytes.Buffer
	f := &Flow{Log: &log, pauseFor: func(time.Duration) time.Duration { return 900 * time.Millisecond }}
	busy := func(d time.Duration) { // a read-only script that spins for d
		script := `local t = redis.call('TIME'); local s = t[1]*1000 + t[2]/1000
			while true do local n = redis.call('TIME'); if n[1]*1000 + n[2]/1000 - s > tonumber(ARGV[1]) then break end end
			return 1`
		if err := admin.EvalRO(ctx, script, nil, d.Milliseconds()).Err(); err != nil {
			t.Errorf("busy script: %v", err)
		}
	}

	// 1. renewal fails during a 1.5 s script (longer than the pause), no
	// writer: retried, the pause comes back, the cut is exact
	cut, err := f.StartCut(ctx, c, 0)
	if err != nil {
		t.Fatal(err)
	}
	busy(1500 * time.Millisecond)
	time.Sleep(3 * cutRetry)
	if d := writeTakes(t, addr, 700*time.Millisecond); d < 600*time.Millisecond {
		t.Errorf("a write went through in %s after the script: the renewal was not retried\n%s", d, log.String())
	}
	if err := cut.Check(ctx); err != nil {
		t.Errorf("no write got through, Check: %v", err)
	}
	if !strings.Contains(log.String(), "renewing the write pause failed") || !strings.Contains(log.String(), "BUSY") {
		t.Errorf("the failed renewal is not reported:\n%s", log.String())
	}
	if err := cut.Release(); err != nil {
		t.Fatal(err)
	}

	// 2. the same with a writer waiting: its write lands in the lapse, the
	// cut is no longer exact
	log.Reset()
	cut, err = f.StartCut(ctx, c, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer cut.Release()
	wrote := make(chan error, 1)
	go func() {
		w := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, ReadTimeout: 5 * time.Second})
		defer w.Close()
		time.Sleep(200 * time.Millisecond) // once the script runs
		for start := time.Now(); time.Since(start) < 5*time.Second; time.Sleep(10 * time.Millisecond) {
			if err := w.Set(ctx, "late", "x", 0).Err(); err == nil || !strings.Contains(err.Error(), "BUSY") {
				wrote <- err
				return
			}
		}
		wrote <- errors.New("never written")
	}()
	busy(1500 * time.Millisecond)
	if err := <-wrote; err != nil {
		t.Fatalf("writer: %v", err)
	}
	err = cut.Check(ctx)
	if err == nil || !strings.Contains(err.Error(), "the cut is no longer exact") || !strings.Contains(err.Error(), "ran out") {
		t.Errorf("a write got through the lapsed pause, Check: %v\n%s", err, log.String())
	}
}

// TestOneCutPerRedis (§ fault suite b): a second cut on the same Redis is
// refused while the first holds writes paused, without unpausing them, and
// allowed once the first is released.
func TestOneCutPerRedis(t *testing.T) {
	addr, _ := redistest.Start(t)
	ctx := context.Background()
	c, err := redisstate.NewClient(redisstate.Options{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c2, err := redisstate.NewClient(redisstate.Options{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	f := &Flow{pauseFor: func(time.Duration) time.Duration { return 3 * time.Second }}
	first, err := f.StartCut(ctx, c, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.StartCut(ctx, c2, 0)
	var busy *Busy
	if !errors.As(err, &busy) || !strings.Contains(err.Error(), "another docker stateful run holds a cut on this Redis (client id") {
		t.Fatalf("second cut: %v, want Busy", err)
	}
	if d := writeTakes(t, addr, 700*time.Millisecond); d < 600*time.Millisecond {
		t.Errorf("the refused second cut unpaused the first one's writes (a write took %s)", d)
	}
	if err := first.Release(); err != nil {
		t.Fatal(err)
	}
	second, err := f.StartCut(ctx, c2, 0)
	if err != nil {
		t.Fatalf("after the first was released: %v", err)
	}
	_ = second.Release()
}

// TestAfterSendBoundsThePause (issue 10 §17): when the old task is never
// seen stopped (its node's engine died), writes are held no longer than one
// pause (the grace period and a margin), and the line says why they resume.
func TestAfterSendBoundsThePause(t *testing.T) {
	addr, _ := redistest.Start(t)
	running := func() (swarm.Task, error) {
		return swarm.Task{DesiredState: swarm.TaskStateShutdown, Status: swarm.TaskStatus{State: swarm.TaskStateRunning}}, nil
	}
	api := &flakyAPI{seq: []func() (swarm.Task, error){running}}
	var log bytes.Buffer
	f := &Flow{API: api, Log: &log, pauseFor: func(time.Duration) time.Duration { return 1500 * time.Millisecond }}
	c, err := redisstate.NewClient(redisstate.Options{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	saveConfig := withSavePoints(t, addr)
	cut, err := f.StartCut(context.Background(), c, 0)
	if err != nil {
		t.Fatal(err)
	}
	u := &Update{Flow: f, cut: cut, swarmRun: swarmRun{replaces: true, oldTasks: []string{"old1"}}, before: &redisstate.Snapshot{ID: "S1"}}
	u.current.Spec.Name = "cache"
	start := time.Now()
	u.AfterSend(context.Background(), "id1")
	took := time.Since(start)
	if took < 1500*time.Millisecond || took > 5*time.Second {
		t.Errorf("AfterSend held writes %s, want the pause's 1.5s", took)
	}
	if d := writeTakes(t, addr, 2*time.Second); d > 500*time.Millisecond {
		t.Errorf("a write took %s after AfterSend: still paused", d)
	}
	for _, w := range []string{"Writes resumed: the old task was not seen stopped within 1.5s", "is its node down?"} {
		if !strings.Contains(log.String(), w) {
			t.Errorf("log lacks %q:\n%s", w, log.String())
		}
	}
	if strings.Contains(log.String(), "renewing the write pause failed") {
		t.Errorf("once sent, failed renewals are expected and not reported:\n%s", log.String())
	}
	// its shutdown save was turned off once sent, and put back: the old
	// process may go on taking writes
	if u.Result.StopSave != "skipped" || !strings.Contains(log.String(), "stops without saving again") {
		t.Errorf("stop_save %q, log:\n%s", u.Result.StopSave, log.String())
	}
	if got := saveConfig(); got != "3600 1" {
		t.Errorf("save %q after AfterSend, want the save points put back", got)
	}
}

// withSavePoints gives the test server save points (redistest starts it with
// none) and returns a reader of its save config.
func withSavePoints(t *testing.T, addr string) func() string {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.ConfigSet(context.Background(), "save", ""); rdb.Close() })
	if err := rdb.ConfigSet(context.Background(), "save", "3600 1").Err(); err != nil {
		t.Fatal(err)
	}
	return func() string { return rdb.ConfigGet(context.Background(), "save").Val()["save"] }
}

// TestAfterSendOldProcessExited: once the old task is seen shut down its
// Redis has exited and its pause with it, so AfterSend sends no UNPAUSE: a
// connection now reaches whatever answers at the address (the new task's
// Redis, here the still running test server, which stays paused) and took a
// second of SYN retransmits between the two containers. An orphaned task
// (its node may be down, the container running) is unpaused as before.
func TestAfterSendOldProcessExited(t *testing.T) {
	addr, _ := redistest.Start(t)
	for _, tc := range []struct {
		state      swarm.TaskState
		stayPaused bool
	}{{swarm.TaskStateShutdown, true}, {swarm.TaskStateOrphaned, false}} {
		stopped := func() (swarm.Task, error) {
			return swarm.Task{DesiredState: swarm.TaskStateShutdown, Status: swarm.TaskStatus{State: tc.state}}, nil
		}
		var log bytes.Buffer
		f := &Flow{API: &flakyAPI{seq: []func() (swarm.Task, error){stopped}}, Log: &log, pauseFor: func(time.Duration) time.Duration { return 1500 * time.Millisecond }}
		c, err := redisstate.NewClient(redisstate.Options{Addr: addr})
		if err != nil {
			t.Fatal(err)
		}
		saveConfig := withSavePoints(t, addr)
		cut, err := f.StartCut(context.Background(), c, 0)
		if err != nil {
			t.Fatal(err)
		}
		u := &Update{Flow: f, cut: cut, swarmRun: swarmRun{replaces: true, oldTasks: []string{"old1"}}}
		u.current.Spec.Name = "cache"
		u.AfterSend(context.Background(), "id1")
		if !strings.Contains(log.String(), "Writes resumed: the old task has stopped") {
			t.Errorf("%s: log:\n%s", tc.state, log.String())
		}
		if d := writeTakes(t, addr, 700*time.Millisecond); (d >= 600*time.Millisecond) != tc.stayPaused {
			t.Errorf("%s: a write took %s after AfterSend; want paused %v (UNPAUSE sent only while the old process may live)", tc.state, d, tc.stayPaused)
		}
		// an exited process keeps its save points off (a connection now would
		// reach the new process); an orphaned one gets them back
		if got, want := saveConfig(), map[bool]string{true: "", false: "3600 1"}[tc.stayPaused]; got != want {
			t.Errorf("%s: save %q after AfterSend, want %q", tc.state, got, want)
		}
		time.Sleep(1500 * time.Millisecond) // the pause lapses by itself
		c.Close()
	}
}
