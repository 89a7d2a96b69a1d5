package verifyflow

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/docker-stateful/docker-stateful/internal/redistest"
	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
)

// writeTakes is how long one SET takes (up to limit): long while writes are paused.
func writeTakes(t *testing.T, addr string, limit time.Duration) time.Duration {
	rdb := redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: limit, MaxRetries: -1})
	defer rdb.Close()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	_ = rdb.Set(ctx, "probe", "x", 0).Err()
	return time.Since(start)
}

// TestCutPausesUntilReleaseAndOnCancel: writes wait while the cut is held
// (readers do not), resume on Release, and resume at once when the command's
// context is cancelled (Ctrl-C) without anyone calling Release.
func TestCutPausesUntilReleaseAndOnCancel(t *testing.T) {
	addr, _ := redistest.Start(t)
	var log bytes.Buffer
	f := &Flow{Log: &log}
	c, err := redisstate.NewClient(redisstate.Options{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	cut, err := f.StartCut(context.Background(), c, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if d := writeTakes(t, addr, 700*time.Millisecond); d < 600*time.Millisecond {
		t.Errorf("a write went through in %s while the cut holds writes", d)
	}
	if err := c.Redis().Get(context.Background(), "x").Err(); err != redis.Nil {
		t.Errorf("reads must keep working under the pause: %v", err)
	}
	if err := cut.Release(); err != nil {
		t.Fatal(err)
	}
	if err := cut.Release(); err != nil {
		t.Errorf("second Release: %v", err)
	}
	if d := writeTakes(t, addr, 2*time.Second); d > 500*time.Millisecond {
		t.Errorf("write took %s after Release", d)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cut, err = f.StartCut(ctx, c, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer cut.Release()
	cancel() // Ctrl-C
	time.Sleep(300 * time.Millisecond)
	if d := writeTakes(t, addr, 2*time.Second); d > 500*time.Millisecond {
		t.Errorf("write took %s after the context was cancelled: the pause was not released", d)
	}
}
