package verifyflow

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
	"github.com/redis/go-redis/v9"

	"github.com/docker-stateful/docker-stateful/internal/redistest"
	"github.com/docker-stateful/docker-stateful/plugin/exitcode"
	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
)

// TestCheckAOFLoss (issue 20 item 2): after an AOF replay
// rdb_changes_since_last_save counts the replayed commands, which read as
// client writes. A new process that replays an older AOF (1 key of the cut's
// 4) with no client at all lost data: failed, not "clients made N changes";
// a client's write to such a process is still a client's (unverified).
func TestCheckAOFLoss(t *testing.T) {
	srv := redistest.StartServer(t, "--appendonly", "yes", "--appendfsync", "always")
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	ctx := context.Background()

	run := func(t *testing.T, onStop func()) (*Update, *restartAPI, string, error) {
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
		u := &Update{Flow: f, Opt: UpdateOptions{NoRollback: true}, Report: &report}
		next := spec(cur.Spec.TaskTemplate.ContainerSpec.Mounts, nil, "--maxmemory", "100mb")
		if err := u.Before(ctx, cur, &next); err != nil {
			t.Fatalf("Before: %v\n%s", err, log.String())
		}
		u.AfterSend(ctx, cur.ID)
		err = u.After(ctx, cur.ID)
		u.Abandon()
		t.Logf("log:\n%s\nreport:\n%s", log.String(), report.String())
		return u, api, report.String(), err
	}
	// older: the AOF as it was with only key a written
	rdb.FlushAll(ctx)
	rdb.Set(ctx, "a", "a", 0)
	older := t.TempDir()
	if out, err := exec.Command("cp", "-a", filepath.Join(srv.Dir, "appendonlydir"), older).CombinedOutput(); err != nil {
		t.Fatalf("copy the AOF: %v %s", err, out)
	}
	for _, k := range []string{"b", "c", "d"} {
		rdb.Set(ctx, k, k, 0)
	}
	olderCopy := func(t *testing.T) string {
		dir := t.TempDir()
		if out, err := exec.Command("cp", "-a", filepath.Join(older, "appendonlydir"), dir).CombinedOutput(); err != nil {
			t.Fatalf("copy the AOF: %v %s", err, out)
		}
		return dir
	}
	back := func(t *testing.T) { // the service's own data again, for the next case
		srv.Stop(false)
		srv.Start(srv.Dir)
		srv.WaitUp()
		if n := rdb.DBSize(ctx).Val(); n != 4 {
			t.Fatalf("DBSIZE %d back on the service's AOF, want 4", n)
		}
	}

	t.Run("an older AOF, no client: a loss", func(t *testing.T) {
		dir := olderCopy(t)
		u, _, report, err := run(t, func() {
			srv.Stop(true)
			srv.Start(dir)
		})
		if u.Result.Verdict != VerdictFailed || exitcode.Code(err) != exitcode.No || u.Result.Report == nil || u.Result.Report.Count(redisstate.ClassMissing) != 3 {
			t.Errorf("verdict %s, err %v; want failed with 3 keys MISSING:\n%s", u.Result.Verdict, err, report)
		}
		if strings.Contains(report, "clients made") || (err != nil && strings.Contains(err.Error(), "clients made")) {
			t.Errorf("the AOF replay is blamed on clients: %v", err)
		}
		back(t)
	})

	t.Run("an older AOF, a client wrote before the hold: unverified, no loss claimed", func(t *testing.T) {
		dir := olderCopy(t)
		u, _, report, err := run(t, func() {
			srv.Stop(true)
			srv.Start(dir)
			srv.WaitUp()
			rdb.Set(ctx, "z", "client", 0)
		})
		if u.Result.Verdict != VerdictUnverified || exitcode.Code(err) != exitcode.No {
			t.Errorf("verdict %s, err %v; want unverified:\n%s", u.Result.Verdict, err, report)
		}
		if err == nil || !strings.Contains(err.Error(), "clients made 1 change") {
			t.Errorf("err %v: want the one client write counted, not the replay", err)
		}
		back(t)
	})

	t.Run("the service's own AOF: verified", func(t *testing.T) {
		u, _, report, err := run(t, func() {
			srv.Stop(true)
			srv.Start(srv.Dir)
		})
		if u.Result.Verdict != VerdictVerified || err != nil {
			t.Errorf("verdict %s, err %v; want verified:\n%s", u.Result.Verdict, err, report)
		}
	})
}
