package verifyflow

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
	"github.com/redis/go-redis/v9"

	"github.com/docker-stateful/docker-stateful/internal/redistest"
)

// TestCheckHoldsBeforeAWriter (issue 20 item 14): a client INCRements a key
// of the cut, retrying every millisecond from before the new process is
// started. The check's pause goes out with its handshake as soon as the
// process accepts connections, so the client cannot write before the hold:
// every run is verified (exact), none "not verified".
func TestCheckHoldsBeforeAWriter(t *testing.T) {
	srv := redistest.StartServer(t, "--save", "3600 1")
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	ctx := context.Background()
	for i := range 2000 {
		rdb.Set(ctx, "k"+string(rune('a'+i%26))+string(rune('a'+i/26%26))+string(rune('a'+i/676)), i, 0)
	}
	rdb.Set(ctx, "counter", 0, 0)
	const runs = 5
	verified, acked := 0, 0
	for i := range runs {
		cur := swarm.Service{ID: "id1", Spec: spec([]mount.Mount{{Type: mount.TypeVolume, Source: "v", Target: srv.Dir}}, nil)}
		cur.Spec.Name = "cache"
		prev := cur.Spec
		cur.PreviousSpec = &prev
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var mu sync.Mutex
		api := &restartAPI{fakeAPI: fakeAPI{svc: cur}, onStop: func() {
			srv.Stop(true)
			wg.Add(2)
			go func() { // the new process starts a moment later (the check is waiting)
				defer wg.Done()
				time.Sleep(time.Duration(20+20*i) * time.Millisecond)
				srv.Start(srv.Dir)
			}()
			go func() { // retrying from before the new process is started
				defer wg.Done()
				// a fresh client after an error: go-redis' pool dials at
				// most once a second after failed dials
				opt := &redis.Options{Addr: srv.Addr, MaxRetries: -1, PoolSize: 1, DialTimeout: 100 * time.Millisecond}
				w := redis.NewClient(opt)
				defer func() { w.Close() }()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if w.Incr(ctx, "counter").Err() == nil {
						mu.Lock()
						acked++
						mu.Unlock()
					} else {
						w.Close()
						w = redis.NewClient(opt)
					}
					time.Sleep(time.Millisecond)
				}
			}()
		}}
		var log, report bytes.Buffer
		f, err := New(api, Options{RedisURL: "redis://" + srv.Addr, StateDir: t.TempDir(), Getenv: func(string) string { return "" }, Timeout: 10 * time.Second}, &log)
		if err != nil {
			t.Fatal(err)
		}
		u := &Update{Flow: f, Report: &report}
		next := spec(cur.Spec.TaskTemplate.ContainerSpec.Mounts, nil, "--maxmemory", "100mb")
		if err := u.Before(ctx, cur, &next); err != nil {
			t.Fatalf("Before: %v\n%s", err, log.String())
		}
		u.AfterSend(ctx, cur.ID)
		err = u.After(ctx, cur.ID)
		u.Abandon()
		time.Sleep(100 * time.Millisecond) // a few writes after the check
		close(stop)
		wg.Wait()
		if u.Result.Verdict == VerdictVerified && err == nil {
			verified++
		} else {
			t.Logf("run %d: verdict %s, err %v\nlog:\n%s", i, u.Result.Verdict, err, log.String())
		}
		if u.Result.RolledBack || u.Result.Verdict == VerdictFailed {
			t.Errorf("run %d: verdict %s, rolled back %v: the client's writes are not a loss", i, u.Result.Verdict, u.Result.RolledBack)
		}
	}
	if acked == 0 {
		t.Fatal("the client never wrote: the test proves nothing")
	}
	if verified != runs {
		t.Errorf("%d of %d runs verified under a writer, want all", verified, runs)
	}
}
