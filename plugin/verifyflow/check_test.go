package verifyflow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
	"github.com/redis/go-redis/v9"

	"github.com/docker-stateful/docker-stateful/internal/redistest"
	"github.com/docker-stateful/docker-stateful/plugin/exitcode"
	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
)

// restartAPI is a service with one running task whose "stop" (the first
// TaskInspect after the update was sent) runs onStop: the test stops the
// real redis-server and starts the new one, as swarm replaces a task.
type restartAPI struct {
	fakeAPI
	mu     sync.Mutex
	onStop func()
	done   bool
}

func (r *restartAPI) TaskList(context.Context, swarm.TaskListOptions) ([]swarm.Task, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return nil, nil
	}
	return []swarm.Task{{ID: "old1", Status: swarm.TaskStatus{State: swarm.TaskStateRunning}}}, nil
}

func (r *restartAPI) TaskInspectWithRaw(context.Context, string) (swarm.Task, []byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.done {
		r.done = true
		r.onStop()
	}
	return swarm.Task{ID: "old1", DesiredState: swarm.TaskStateShutdown, Status: swarm.TaskStatus{State: swarm.TaskStateShutdown}}, nil, nil
}

// TestCheckComparesTheDataAsLoaded (issue 10 §2): the update replaces the
// task (a real redis-server restarted on its data directory); clients that
// write to keys of the cut once writes resume — SET, and PFCOUNT, which
// rewrites a HyperLogLog's cached count — never make a failure or a
// rollback; a new process that lost the data fails, even when a client
// wrote to it before the check.
func TestCheckComparesTheDataAsLoaded(t *testing.T) {
	srv := redistest.StartServer(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	ctx := context.Background()
	seed := func() {
		rdb.FlushAll(ctx)
		for _, k := range []string{"a", "b", "c"} {
			rdb.Set(ctx, k, k, 0)
		}
		rdb.PFAdd(ctx, "hll", "x", "y", "z") // its count cache is invalid in the cut
		rdb.Incr(ctx, "counter")
	}
	run := func(t *testing.T, opt UpdateOptions, onStop func(), between ...func(*Update)) (*Update, *restartAPI, string, error) {
		cur := swarm.Service{ID: "id1", Spec: spec([]mount.Mount{{Type: mount.TypeVolume, Source: "v", Target: srv.Dir}}, nil)}
		cur.Spec.Name = "cache"
		prev := cur.Spec
		cur.PreviousSpec = &prev
		api := &restartAPI{fakeAPI: fakeAPI{svc: cur}, onStop: onStop}
		var log, report bytes.Buffer
		f, err := New(api, Options{RedisURL: "redis://" + srv.Addr, StateDir: t.TempDir(), Getenv: func(string) string { return "" }, Timeout: 10 * time.Second}, &log)
		if err != nil {
			t.Fatal(err)
		}
		u := &Update{Flow: f, Opt: opt, Report: &report}
		next := spec(cur.Spec.TaskTemplate.ContainerSpec.Mounts, nil, "--maxmemory", "100mb") // replaces the task
		if err := u.Before(ctx, cur, &next); err != nil {
			t.Fatalf("Before: %v\n%s", err, log.String())
		}
		u.AfterSend(ctx, cur.ID)
		for _, b := range between {
			b(u)
		}
		err = u.After(ctx, cur.ID)
		u.Abandon()
		t.Logf("log:\n%s\nreport:\n%s", log.String(), report.String())
		return u, api, report.String(), err
	}
	restart := func(dir string) {
		srv.Stop(true) // the old task's shutdown save
		srv.Start(dir)
	}

	t.Run("clients write to keys of the cut as soon as writes resume", func(t *testing.T) {
		seed()
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var acked int
		u, api, report, err := run(t, UpdateOptions{}, func() {
			restart(srv.Dir)
			wg.Add(1)
			go func() { // a client retrying from the moment the new process listens
				defer wg.Done()
				w := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
				defer w.Close()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if w.Set(ctx, "a", "client", 0).Err() == nil {
						acked++
					}
					w.PFCount(ctx, "hll")
					time.Sleep(time.Millisecond)
				}
			}()
		})
		close(stop)
		wg.Wait()
		if acked == 0 {
			t.Fatal("the client never wrote: the test proves nothing")
		}
		if u.Result.Verdict == VerdictFailed || u.Result.RolledBack || len(api.updates) != 0 {
			t.Errorf("client writes made a failure: verdict %s, rolled back %v, rollbacks %d, err %v", u.Result.Verdict, u.Result.RolledBack, len(api.updates), err)
		}
		if strings.Contains(report, "MISSING (") || strings.Contains(report, "CHANGED (") {
			t.Errorf("client writes reported as a loss:\n%s", report)
		}
		// the writer started with the new process: usually held while it
		// loaded or before the first write (verified); if it won the race,
		// the differences are the clients' (unverified, no rollback)
		if u.Result.Verdict != VerdictVerified && (u.Result.Verdict != VerdictUnverified || exitcode.Code(err) != exitcode.No) {
			t.Errorf("verdict %s, err %v", u.Result.Verdict, err)
		}
		if rdb.Get(ctx, "a").Val() != "client" {
			t.Errorf("the client's acknowledged write is gone: a = %q", rdb.Get(ctx, "a").Val())
		}
		if u.Result.WritePauseMs.NewProcess <= 0 || u.Result.WritePauseMs.OldProcess <= 0 || len(u.Result.Phases) < 5 {
			t.Errorf("write pauses %+v, phases %+v", u.Result.WritePauseMs, u.Result.Phases)
		}
	})

	t.Run("a client wrote before the check held writes: not a loss", func(t *testing.T) {
		seed()
		u, api, report, err := run(t, UpdateOptions{}, func() {
			restart(srv.Dir)
			srv.WaitUp()
			rdb.Set(ctx, "b", "client", 0)
			rdb.PFCount(ctx, "hll")
		})
		if u.Result.Verdict != VerdictUnverified || exitcode.Code(err) != exitcode.No || u.Result.RolledBack || len(api.updates) != 0 {
			t.Fatalf("verdict %s, err %v, rolled back %v", u.Result.Verdict, err, u.Result.RolledBack)
		}
		rep := u.Result.Report
		if rep.Count(redisstate.ClassChanged) != 0 || rep.Count(redisstate.ClassMissing) != 0 || rep.Count(ClassUnattributed) != 1 {
			t.Errorf("want only b as differing (the HyperLogLog's cache is not data), got %+v\n%s", rep.Classes, report)
		}
		if !strings.Contains(u.Result.Error, "nothing was rolled back") {
			t.Errorf("error %q", u.Result.Error)
		}
	})

	t.Run("the new process lost the data, a client wrote to it: a loss", func(t *testing.T) {
		seed()
		empty := t.TempDir()
		u, _, report, err := run(t, UpdateOptions{NoRollback: true}, func() {
			restart(empty)
			srv.WaitUp()
			rdb.Set(ctx, "z", "client", 0)
		})
		if u.Result.Verdict != VerdictFailed || exitcode.Code(err) != exitcode.No {
			t.Errorf("verdict %s, err %v; want failed:\n%s", u.Result.Verdict, err, report)
		}
		if !strings.Contains(report, "rdb_last_load_keys_loaded") {
			t.Errorf("the report does not say that the load came up short:\n%s", report)
		}
		srv.Stop(false)
		srv.Start(srv.Dir)
		srv.WaitUp()
	})

	t.Run("the new process lost the data, no client: a loss", func(t *testing.T) {
		seed()
		empty := t.TempDir()
		u, _, report, err := run(t, UpdateOptions{NoRollback: true}, func() { restart(empty) })
		if u.Result.Verdict != VerdictFailed || exitcode.Code(err) != exitcode.No || !strings.Contains(report, "MISSING") {
			t.Errorf("verdict %s, err %v; want failed with MISSING keys:\n%s", u.Result.Verdict, err, report)
		}
		srv.Stop(false)
		srv.Start(srv.Dir)
		srv.WaitUp()
	})

	t.Run("data intact but docker's wait failed (a task failing in the monitor period): rolled back", func(t *testing.T) {
		seed()
		u, api, report, err := run(t, UpdateOptions{}, func() { restart(srv.Dir) }, func(u *Update) {
			time.Sleep(time.Second) // the check has usually verified by now
			u.ConvergeFailed(errors.New("service update paused: update paused due to failure or early termination of task x"))
		})
		if u.Result.Verdict != VerdictUnverified || exitcode.Code(err) != exitcode.No || !u.Result.RolledBack || len(api.updates) != 1 || api.updates[0].Rollback != "previous" {
			t.Fatalf("verdict %s, err %v, rolled back %v, updates %+v:\n%s", u.Result.Verdict, err, u.Result.RolledBack, api.updates, report)
		}
		if !strings.Contains(err.Error(), "did not converge: service update paused") || !strings.Contains(err.Error(), "rolled back") {
			t.Errorf("error %v", err)
		}
	})
}

// TestDockerWaitIsBounded (issue 10 §15): docker's convergence wait runs on
// BoundWait's context, which the flow cuts when the check of the new process
// failed (here: the new Redis never comes up within the timeout), so the
// update ends, rolled back, instead of waiting forever.
func TestDockerWaitIsBounded(t *testing.T) {
	srv := redistest.StartServer(t)
	ctx := context.Background()
	cur := swarm.Service{ID: "id1", Spec: spec([]mount.Mount{{Type: mount.TypeVolume, Source: "v", Target: srv.Dir}}, dur(time.Second))}
	cur.Spec.Name = "cache"
	prev := cur.Spec
	cur.PreviousSpec = &prev
	api := &restartAPI{fakeAPI: fakeAPI{svc: cur}, onStop: func() { srv.Stop(true) }} // and no new task
	f, err := New(api, Options{RedisURL: "redis://" + srv.Addr, StateDir: t.TempDir(), Getenv: func(string) string { return "" }, Timeout: 2 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	u := &Update{Flow: f}
	wait := u.BoundWait(ctx)
	next := spec(cur.Spec.TaskTemplate.ContainerSpec.Mounts, dur(time.Second), "--maxmemory", "100mb")
	if err := u.Before(ctx, cur, &next); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	u.AfterSend(wait, cur.ID)
	select { // docker's WaitOnService would poll until its context ends
	case <-wait.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("docker's wait was not cut within 30 s")
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("docker's wait cut after %s, want about the 2 s timeout", took)
	}
	u.ConvergeFailed(wait.Err()) // what the command does with docker's error
	err = u.After(ctx, cur.ID)
	if exitcode.Code(err) != exitcode.No || u.Result.Verdict != VerdictUnverified || !u.Result.RolledBack || len(api.updates) != 1 {
		t.Errorf("err %v, verdict %s, rolled back %v, rollbacks %d", err, u.Result.Verdict, u.Result.RolledBack, len(api.updates))
	}
}

// TestDockerWaitDeadline: the data checked out, but the service has not
// converged within the stop grace period + the timeout of the send: docker's
// wait is cut, and the update is failed and rolled back.
func TestDockerWaitDeadline(t *testing.T) {
	srv := redistest.StartServer(t)
	ctx := context.Background()
	cur := swarm.Service{ID: "id1", Spec: spec([]mount.Mount{{Type: mount.TypeVolume, Source: "v", Target: srv.Dir}}, dur(time.Second))}
	cur.Spec.Name = "cache"
	prev := cur.Spec
	cur.PreviousSpec = &prev
	api := &restartAPI{fakeAPI: fakeAPI{svc: cur}, onStop: func() { srv.Stop(true); srv.Start(srv.Dir) }}
	f, err := New(api, Options{RedisURL: "redis://" + srv.Addr, StateDir: t.TempDir(), Getenv: func(string) string { return "" }, Timeout: 3 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	u := &Update{Flow: f}
	wait := u.BoundWait(ctx)
	next := spec(cur.Spec.TaskTemplate.ContainerSpec.Mounts, dur(time.Second), "--maxmemory", "100mb")
	if err := u.Before(ctx, cur, &next); err != nil {
		t.Fatal(err)
	}
	u.AfterSend(wait, cur.ID)
	select {
	case <-wait.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("docker's wait was not cut within 30 s")
	}
	u.ConvergeFailed(wait.Err())
	err = u.After(ctx, cur.ID)
	if u.Result.Report == nil || !u.Result.Report.OK() {
		t.Fatalf("the data did not check out: %+v (%v)", u.Result.Report, err)
	}
	if exitcode.Code(err) != exitcode.No || !u.Result.RolledBack || err == nil || !strings.Contains(err.Error(), "did not converge within 4s") {
		t.Errorf("err %v, verdict %s, rolled back %v", err, u.Result.Verdict, u.Result.RolledBack)
	}
}

// TestSameUpdate: a rollback status left by an earlier update (an update
// that replaces no task does not change it) is not swarm rolling this one back.
func TestSameUpdate(t *testing.T) {
	t0 := time.Unix(1000, 0)
	t1 := t0.Add(time.Minute)
	old := &swarm.UpdateStatus{State: swarm.UpdateStateRollbackCompleted, StartedAt: &t0}
	if !sameUpdate(&swarm.UpdateStatus{State: swarm.UpdateStateRollbackCompleted, StartedAt: &t0}, old) {
		t.Error("the status before the run, unchanged: want the same update")
	}
	if sameUpdate(&swarm.UpdateStatus{State: swarm.UpdateStateRollbackCompleted, StartedAt: &t1}, old) {
		t.Error("a rollback started after: want a new one")
	}
	if sameUpdate(&swarm.UpdateStatus{State: swarm.UpdateStateRollbackStarted, StartedAt: &t1}, nil) {
		t.Error("no status before: want a new one")
	}
}

// TestLostContact: a check that loses the new process after it answered is
// "could not decide" only while swarm does not report its task failed (a
// crash, e.g. an OOM kill, is a failure of the update, rolled back); an
// error reply of Redis, or a process that never answered, is not a lost
// contact.
func TestLostContact(t *testing.T) {
	lost := fmt.Errorf("verify: SCAN: %w", &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded})
	now := time.Now()
	for _, c := range []struct {
		name string
		out  checkOutcome
		want bool
	}{
		{"answered, then lost", checkOutcome{err: lost, ready: now}, true},
		{"answered, then its task failed", checkOutcome{err: lost, ready: now, taskFailed: true}, false},
		{"never answered", checkOutcome{err: lost}, false},
		{"an error reply", checkOutcome{err: errors.New("verify: ERR unknown command"), ready: now}, false},
		{"checked", checkOutcome{ready: now}, false},
	} {
		if got := c.out.lostContact(); got != c.want {
			t.Errorf("%s: lostContact() = %v, want %v", c.name, got, c.want)
		}
	}

	ctx := context.Background()
	f := &Flow{API: &fakeAPI{states: map[string][]swarm.TaskState{
		"crashed": {swarm.TaskStateRunning, swarm.TaskStateRunning, swarm.TaskStateFailed},
		"cut-off": {swarm.TaskStateRunning},
		"stopped": {swarm.TaskStateShutdown}, // a graceful stop (engine stopped) exits 0
	}}}
	if !f.anyTaskFailed(ctx, []string{"crashed"}, 2*time.Second) {
		t.Error("a task reported failed on the third look: not seen")
	}
	for _, id := range []string{"cut-off", "stopped", "gone"} {
		start := time.Now()
		if f.anyTaskFailed(ctx, []string{id}, 300*time.Millisecond) {
			t.Errorf("%s: seen failed", id)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: waited %s, want about 300ms", id, d)
		}
	}
	if start := time.Now(); f.anyTaskFailed(ctx, nil, time.Minute) || time.Since(start) > time.Second {
		t.Error("no task to look at: want false at once")
	}
}
