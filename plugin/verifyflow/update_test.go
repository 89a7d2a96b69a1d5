package verifyflow

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
	"github.com/redis/go-redis/v9"

	"github.com/docker-stateful/docker-stateful/internal/redistest"
	"github.com/docker-stateful/docker-stateful/plugin/exitcode"
)

func (f *fakeAPI) TaskList(context.Context, swarm.TaskListOptions) ([]swarm.Task, error) {
	return nil, nil
}

// TestUpdateSequence runs Update's steps around an update that replaces no
// task, on a real redis-server: the data kept is verified (exit 0); a key
// deleted after the cut fails the check and, with --no-rollback, nothing is
// rolled back (exit 1, the report printed); interrupted, it exits 130 and
// rolls nothing back.
func TestUpdateSequence(t *testing.T) {
	addr, dir := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	ctx := context.Background()
	for _, k := range []string{"a", "b"} {
		rdb.Set(ctx, k, k, 0)
	}
	cur := swarm.Service{ID: "id1", Spec: spec([]mount.Mount{{Type: mount.TypeVolume, Source: "v", Target: dir}}, nil)}
	cur.Spec.Name = "cache"
	api := &fakeAPI{svc: cur}

	run := func(opt UpdateOptions, between func()) (*Update, string, error) {
		var log, report bytes.Buffer
		f, err := New(api, Options{RedisURL: "redis://" + addr, StateDir: t.TempDir(), Getenv: func(string) string { return "" }, Timeout: 5 * time.Second}, &log)
		if err != nil {
			t.Fatal(err)
		}
		u := &Update{Flow: f, Opt: opt, Report: &report,
			Converge: func(context.Context, string) error { t.Error("Converge without a rollback"); return nil }}
		next := cur.Spec
		if err := u.Before(ctx, cur, &next); err != nil {
			t.Fatalf("Before: %v\n%s", err, log.String())
		}
		u.AfterSend(ctx, cur.ID)
		between()
		err = u.After(ctx, cur.ID)
		u.Abandon()
		return u, report.String(), err
	}

	u, report, err := run(UpdateOptions{}, func() {})
	if err != nil || u.Result.Verdict != VerdictVerified || !strings.Contains(report, "Verified: all 2 keys") {
		t.Errorf("data kept: err %v, verdict %s, report %s", err, u.Result.Verdict, report)
	}

	// a client deletes a key of the cut once writes resume: the same process
	// took a write since the cut, so it may be theirs: not a loss, no rollback
	u, report, err = run(UpdateOptions{}, func() { rdb.Del(ctx, "b") })
	if exitcode.Code(err) != exitcode.No || u.Result.Verdict != VerdictUnverified || u.Result.RolledBack || len(api.updates) != 0 {
		t.Errorf("key deleted by a client: err %v, verdict %s, rolled back %v, rollbacks sent %d", err, u.Result.Verdict, u.Result.RolledBack, len(api.updates))
	}
	if strings.Contains(report, "MISSING") || !strings.Contains(report, "DIFFERING     1") || !strings.Contains(u.Result.Error, "nothing was rolled back") {
		t.Errorf("report %s, error %q", report, u.Result.Error)
	}
	// interrupted after sending: no rollback, exit 130, the command to check later
	var log bytes.Buffer
	f, err := New(api, Options{RedisURL: "redis://" + addr, StateDir: t.TempDir(), Getenv: func(string) string { return "" }}, &log)
	if err != nil {
		t.Fatal(err)
	}
	u = &Update{Flow: f}
	next := cur.Spec
	if err := u.Before(ctx, cur, &next); err != nil {
		t.Fatal(err)
	}
	u.AfterSend(ctx, cur.ID)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	err = u.After(cctx, cur.ID)
	if exitcode.Code(err) != exitcode.Interrupted || u.Result.RolledBack || len(api.updates) != 0 || !strings.Contains(err.Error(), "docker stateful verify --against "+u.Result.Snapshot+" cache") {
		t.Errorf("interrupted after sending: %v (exit %d), rolled back %v, rollbacks sent %d", err, exitcode.Code(err), u.Result.RolledBack, len(api.updates))
	}
}

// TestUpdateInterruptedBeforeSending: an interruption before the update is
// sent sends nothing and exits 130, with an error verdict that says so; an
// interrupted verify exits 130 too.
func TestUpdateInterruptedBeforeSending(t *testing.T) {
	addr, dir := redistest.Start(t)
	cur := swarm.Service{ID: "id1", Spec: spec([]mount.Mount{{Type: mount.TypeVolume, Source: "v", Target: dir}}, nil)}
	cur.Spec.Name = "cache"
	f, err := New(&fakeAPI{svc: cur}, Options{RedisURL: "redis://" + addr, StateDir: t.TempDir(), Getenv: func(string) string { return "" }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	u := &Update{Flow: f}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	next := cur.Spec
	err = u.Before(ctx, cur, &next)
	if exitcode.Code(err) != exitcode.Interrupted || u.Result.Verdict != VerdictError || !strings.Contains(u.Result.Error, "not sent: interrupted") {
		t.Errorf("err %v (exit %d), result %+v; want 130 and 'not sent: interrupted'", err, exitcode.Code(err), u.Result)
	}
	u.Abandon()
	if res, err := f.VerifyService(ctx, "cache", ""); exitcode.Code(err) != exitcode.Interrupted || res.Verdict != VerdictError {
		t.Errorf("verify interrupted: %v (exit %d), verdict %s; want 130", err, exitcode.Code(err), res.Verdict)
	}
}
