package cluster

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis returns a client to addr:port (a node address and a published port)
// once Redis answers PING (up to 1 minute); it is closed at test cleanup.
func Redis(t testing.TB, addr string, port int) *redis.Client {
	t.Helper()
	cl := redis.NewClient(&redis.Options{
		Addr:        fmt.Sprintf("%s:%d", addr, port),
		DialTimeout: 2 * time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second,
		MaxRetries: -1, PoolSize: 2,
	})
	t.Cleanup(func() { cl.Close() })
	deadline := time.Now().Add(time.Minute)
	var err error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err = cl.Ping(ctx).Err()
		cancel()
		if err == nil {
			return cl
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("redis at %s:%d does not answer: %v", addr, port, err)
	return nil
}

// ServiceRedis waits for the service's running task and returns a client to
// Redis at that task's node address and the given published port.
func (c *Cluster) ServiceRedis(t testing.TB, service string, port int) (*redis.Client, Task) {
	t.Helper()
	task := c.WaitRunning(t, service)
	return Redis(t, task.Node.Addr, port), task
}

// Set sets key to value, failing the test on error.
func Set(t testing.TB, cl *redis.Client, key, value string) {
	t.Helper()
	if err := cl.Set(context.Background(), key, value, 0).Err(); err != nil {
		t.Fatalf("redis SET %s: %v", key, err)
	}
}

// Get returns the key's value, "" and false when it does not exist.
func Get(t testing.TB, cl *redis.Client, key string) (string, bool) {
	t.Helper()
	v, err := cl.Get(context.Background(), key).Result()
	if errors.Is(err, redis.Nil) {
		return "", false
	}
	if err != nil {
		t.Fatalf("redis GET %s: %v", key, err)
	}
	return v, true
}
