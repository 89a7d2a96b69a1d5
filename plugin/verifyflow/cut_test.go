package verifyflow

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
)

// localRedis starts a throwaway redis-server on a free loopback port.
func localRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	cmd := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	for i := 0; i < 100; i++ {
		if rdb.Ping(context.Background()).Err() == nil {
			return addr
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("redis-server did not start")
	return ""
}

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
	addr := localRedis(t)
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
