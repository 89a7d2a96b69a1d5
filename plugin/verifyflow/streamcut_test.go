package verifyflow

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/docker-stateful/docker-stateful/internal/redistest"
	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
)

// TestStreamCutIsTheCut: the cut through the server's snapshot holds writes until
// released, is saved by the server (method replication, rdb_last_save_time advanced), and
// its fingerprint, read from the spooled payload after BeginStreamCut returned, equals a
// scan of the paused dataset: every type, TTLs, several databases.
func TestStreamCutIsTheCut(t *testing.T) {
	addr, _ := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	ctx := context.Background()
	for _, db := range []int{0, 5} {
		c := redis.NewClient(&redis.Options{Addr: addr, DB: db})
		redistest.LoadBenchMix(t, c, 3000)
		for i := 0; i < 50; i++ {
			c.Set(ctx, "ttl:"+string(rune('a'+i%26))+strings.Repeat("x", i), i, time.Hour)
		}
		c.Close()
	}
	var log bytes.Buffer
	st, err := redisstate.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := &Flow{Log: &log, store: st, Opt: Options{StreamCut: true}}
	c, err := redisstate.NewClient(redisstate.Options{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	lastSave := rdb.LastSave(ctx).Val()
	time.Sleep(1100 * time.Millisecond) // rdb_last_save_time is in seconds
	cut, pending, why, err := f.BeginStreamCut(ctx, c, 5*time.Second, "svc")
	if err != nil || why != "" {
		t.Fatalf("BeginStreamCut: %v %q\n%s", err, why, log.String())
	}
	defer cut.Release()
	if cut.Info.Method != "replication" || cut.Info.LastSaveTime <= lastSave {
		t.Errorf("cut %+v: want method replication and a save after %d", cut.Info, lastSave)
	}
	if d := writeTakes(t, addr, 700*time.Millisecond); d < 600*time.Millisecond {
		t.Errorf("a write went through in %s while the cut holds writes", d)
	}
	live, err := redisstate.Fingerprint(ctx, c, t.TempDir(), redisstate.FingerprintOptions{})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := pending.wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := snap.Summary
	if s.Keys != live.Keys || s.Digest != live.Digest || s.Cut == nil || s.Cut.Method != "replication" {
		t.Errorf("stream fingerprint %d keys %s (cut %+v), live %d keys %s", s.Keys, s.Digest, s.Cut, live.Keys, live.Digest)
	}
	if len(s.Databases) != 2 || s.Databases[1].DB != 5 {
		t.Errorf("databases %+v, want 0 and 5", s.Databases)
	}
	if err := cut.Check(ctx); err != nil {
		t.Errorf("the cut is not exact after the stream: %v", err)
	}
	if err := cut.Release(); err != nil {
		t.Fatal(err)
	}
	if d := writeTakes(t, addr, 2*time.Second); d > 500*time.Millisecond {
		t.Errorf("write took %s after Release", d)
	}
}

// TestStreamCutFallsBack: a server that refuses the replication protocol (PSYNC and SYNC
// renamed away) leaves the cut to the classic method: a reason, no error, writes open.
func TestStreamCutFallsBack(t *testing.T) {
	addr, _ := redistest.Start(t, "--rename-command", "PSYNC", "", "--rename-command", "SYNC", "")
	var log bytes.Buffer
	st, err := redisstate.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := &Flow{Log: &log, store: st}
	c, err := redisstate.NewClient(redisstate.Options{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cut, pending, why, err := f.BeginStreamCut(context.Background(), c, 5*time.Second, "svc")
	if err != nil || cut != nil || pending != nil || !strings.Contains(why, "refused") {
		t.Fatalf("cut %v, pending %v, why %q, err %v; want a fallback naming the refusal\n%s", cut, pending, why, err, log.String())
	}
	if d := writeTakes(t, addr, 2*time.Second); d > 500*time.Millisecond {
		t.Errorf("write took %s after the fallback: writes still paused", d)
	}
}
