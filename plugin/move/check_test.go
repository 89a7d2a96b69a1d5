package move

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/docker-stateful/docker-stateful/internal/redistest"
	"github.com/docker-stateful/docker-stateful/plugin/redisbackup"
	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
	"github.com/docker-stateful/docker-stateful/plugin/verifyflow"
)

// TestFinalCheck: the check of the moved Redis against the cut, on a real
// redis-server restarted as the last update restarts it (its data on the
// same directory): it returns with client writes still paused (a rollback
// decided on it drops no acknowledged write), and it tells a difference no
// client made (roll back), a loss the load proves although clients wrote
// (stay, no rollback), and a difference clients may have made (not
// verified: never "moved, all keys verified").
func TestFinalCheck(t *testing.T) {
	ctx := context.Background()
	s := redistest.StartServer(t)
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer rdb.Close()
	for i := 0; i < 100; i++ {
		rdb.Set(ctx, fmt.Sprintf("k:%03d", i), i, 0)
	}
	c, err := redisstate.NewClient(redisstate.Options{Addr: s.Addr})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "cut.dsbackup")
	bk, err := redisbackup.BackupFile(ctx, c, file, redisbackup.Options{Service: "cache"})
	c.Close()
	if err != nil {
		t.Fatal(err)
	}
	m := &Mover{Flow: &verifyflow.Flow{}}

	// restart saves the data as it is now and restarts Redis on it (the
	// task replaced by the last update); then clientWrite runs as a client
	// that reached it before the check.
	restart := func(clientWrite func()) (*redisstate.Client, *redisstate.ServerInfo) {
		t.Helper()
		s.Stop(true)
		s.Start(s.Dir)
		s.WaitUp()
		if clientWrite != nil {
			clientWrite()
		}
		c, err := redisstate.NewClient(redisstate.Options{Addr: s.Addr})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		si, err := c.WaitReady(ctx, 10*time.Second, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c, si
	}

	// Verified: and the writes stay paused until release.
	nc, si := restart(nil)
	h, err := m.check(ctx, nc, si, file, bk.Records)
	if err != nil || decideFinal(h) != finalMoved || !h.exact {
		t.Fatalf("intact data: %v %+v", err, h)
	}
	short := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1, ReadTimeout: 300 * time.Millisecond})
	defer short.Close()
	if err := short.Set(ctx, "client", 1, 0).Err(); err == nil {
		t.Fatal("a client wrote while the check's decision was pending: the writes were not held")
	}
	h.release(ctx)
	if err := short.Set(ctx, "client", 1, 0).Err(); err != nil {
		t.Fatalf("writes not released: %v", err)
	}
	rdb.Del(ctx, "client")

	// A key lost before the load, no client write: roll back (writes held).
	rdb.Del(ctx, "k:007")
	nc, si = restart(nil)
	h, err = m.check(ctx, nc, si, file, bk.Records)
	if err != nil || decideFinal(h) != finalRollBack {
		t.Fatalf("a key lost, no client: %v %+v, want roll back", err, h)
	}
	h.release(ctx)

	// The same loss with a client's write before the check: the load proves
	// the loss, but a rollback would drop the client's write.
	nc, si = restart(func() { rdb.Set(ctx, "client", 1, 0) })
	h, err = m.check(ctx, nc, si, file, bk.Records)
	if err != nil || decideFinal(h) != finalStay || h.clientWrites != 1 || h.loadShort == "" {
		t.Fatalf("a key lost and a client write: %v %+v, want stay with the load short", err, h)
	}
	h.release(ctx)
	rdb.Del(ctx, "client")

	// Every key loaded, a client changed one of the cut: not verified, no rollback.
	rdb.Set(ctx, "k:007", 7, 0)
	nc, si = restart(func() { rdb.Incr(ctx, "k:001") })
	h, err = m.check(ctx, nc, si, file, bk.Records)
	if err != nil || decideFinal(h) != finalUnverified || h.ver.OK() {
		t.Fatalf("a client changed a key: %v %+v, want unverified", err, h)
	}
	h.release(ctx)
}
