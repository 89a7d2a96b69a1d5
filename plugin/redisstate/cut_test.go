package redisstate

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

func TestCutSaveIsDurableAndPausesWrites(t *testing.T) {
	r := startRedis(t)
	rdb := r.raw(t)
	loadMixed(t, rdb, 100)
	ctx := context.Background()
	c := r.client(t)
	h, err := Cut(ctx, c, CutOptions{Pause: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release(ctx)
	if h.Info.Method != "save" || h.Info.RunID == "" || h.Info.RedisVersion == "" {
		t.Errorf("cut info %+v", h.Info)
	}
	if _, err := os.Stat(r.Dir + "/dump.rdb"); err != nil {
		t.Fatalf("dump.rdb not written: %v", err)
	}
	// reads work while paused
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	if v, err := rdb.Get(rctx, "str:1").Result(); err != nil || v != "value-1" {
		t.Errorf("read during pause: %q %v", v, err)
	}
	cancel()
	// writes wait
	setDone := make(chan error, 1)
	go func() { setDone <- rdb.Set(ctx, "during-pause", 1, 0).Err() }()
	select {
	case err := <-setDone:
		t.Fatalf("write went through during pause: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	st, _ := OpenStore(t.TempDir())
	before := fingerprintTo(t, st, c) // fingerprint runs under the pause
	if err := h.Extend(ctx, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := h.Release(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-setDone:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("write still blocked after Release")
	}
	if err := h.Release(ctx); err != nil { // idempotent
		t.Fatal(err)
	}
	// the write after the cut is not in dump.rdb: kill without saving, restart, same digest
	r.stop()
	r.start()
	c2 := r.client(t)
	if _, err := c2.WaitReady(ctx, 10*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	after := fingerprintTo(t, st, c2)
	if before.Summary.Digest != after.Summary.Digest || before.Summary.Keys != after.Summary.Keys {
		rep, _ := Compare(before, after, CompareOptions{})
		var sb strings.Builder
		RenderText(&sb, rep)
		t.Fatalf("dataset after restart differs from the cut:\n%s", sb.String())
	}
}

func TestCutBackgroundSave(t *testing.T) {
	r := startRedis(t)
	loadMixed(t, r.raw(t), 50)
	c := r.client(t)
	h, err := Cut(context.Background(), c, CutOptions{Pause: 10 * time.Second, Background: true})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release(context.Background())
	if h.Info.Method != "bgsave" {
		t.Errorf("method %s", h.Info.Method)
	}
	if _, err := os.Stat(r.Dir + "/dump.rdb"); err != nil {
		t.Fatal(err)
	}
}

func TestCutReleasesOnError(t *testing.T) {
	// dir is protected in 7.0: allow CONFIG SET dir from loopback for the test
	r := startRedis(t, "--enable-protected-configs", "local")
	rdb := r.raw(t)
	ctx := context.Background()
	rdb.Set(ctx, "a", 1, 0)
	gone := t.TempDir() + "/gone"
	if err := os.Mkdir(gone, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ConfigSet(ctx, "dir", gone).Err(); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(gone) // SAVE will fail
	c := r.client(t)
	h, err := Cut(ctx, c, CutOptions{Pause: 30 * time.Second})
	if err == nil {
		h.Release(ctx)
		t.Fatal("Cut should fail when SAVE fails")
	}
	t.Logf("error: %v", err)
	if !strings.Contains(err.Error(), "SAVE failed") {
		t.Errorf("error %v", err)
	}
	// a failed save makes Redis refuse writes (MISCONF): repair the dir first, then a write
	// must go through at once, i.e. the pause was released.
	if err := rdb.ConfigSet(ctx, "dir", r.Dir).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := rdb.Set(wctx, "b", 1, 0).Err(); err != nil {
		t.Fatalf("write after failed cut: %v (still paused?)", err)
	}
}
