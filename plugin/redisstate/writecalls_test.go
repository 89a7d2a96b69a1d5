package redisstate

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/docker-stateful/docker-stateful/internal/redistest"
)

// TestWriteCallsSkipsAOFReplay: the commands an AOF replay runs at startup
// are not counted as clients' writes (rdb_changes_since_last_save counts
// them); a client's write is; reset statistics are refused, not read as 0.
func TestWriteCallsSkipsAOFReplay(t *testing.T) {
	srv := redistest.StartServer(t, "--appendonly", "yes", "--appendfsync", "always")
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		rdb.Set(ctx, k, k, 0)
	}
	srv.Stop(true)
	srv.Start(srv.Dir)
	srv.WaitUp()
	c, err := NewClient(Options{Addr: srv.Addr})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p, err := c.Info(ctx, "persistence")
	if err != nil {
		t.Fatal(err)
	}
	if p["rdb_changes_since_last_save"] == "0" {
		t.Fatalf("rdb_changes_since_last_save is 0 after the replay: the test proves nothing")
	}
	if n, err := c.WriteCalls(ctx); err != nil || n != 0 {
		t.Errorf("after the AOF replay: WriteCalls = %d, %v; want 0", n, err)
	}
	rdb.MSet(ctx, "x", 1, "y", 2)
	rdb.Incr(ctx, "x")
	rdb.Get(ctx, "x")
	if n, err := c.WriteCalls(ctx); err != nil || n != 2 {
		t.Errorf("after MSET and INCR: WriteCalls = %d, %v; want 2", n, err)
	}
	rdb.ConfigResetStat(ctx)
	if n, err := c.WriteCalls(ctx); err == nil {
		t.Errorf("after CONFIG RESETSTAT: WriteCalls = %d, want an error", n)
	}
}
