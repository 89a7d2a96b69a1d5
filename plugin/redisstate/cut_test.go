package redisstate

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
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
	writableAfterFailedSave(t, r)
}

// writableAfterFailedSave repairs the data directory (a failed save makes Redis refuse
// writes, MISCONF), saves, and checks that a write then goes through at once: the failed
// cut released its pause.
func writableAfterFailedSave(t *testing.T, r *testRedis) {
	t.Helper()
	ctx := context.Background()
	rdb := r.raw(t)
	if err := rdb.ConfigSet(ctx, "dir", r.Dir).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := rdb.Set(wctx, "b", 1, 0).Err(); err != nil {
		t.Fatalf("write after the failed cut: %v (still paused?)", err)
	}
}

// restartSameDigest stops Redis without saving, starts it on its dump.rdb and checks that
// it holds what before fingerprinted.
func restartSameDigest(t *testing.T, r *testRedis, st *Store, before *Snapshot) {
	t.Helper()
	r.stop()
	r.start()
	c := r.client(t)
	if _, err := c.WaitReady(context.Background(), 10*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	after := fingerprintTo(t, st, c)
	if before.Summary.Digest != after.Summary.Digest || before.Summary.Keys != after.Summary.Keys {
		rep, _ := Compare(before, after, CompareOptions{})
		var sb strings.Builder
		RenderText(&sb, rep)
		t.Fatalf("dataset after restart differs from the cut:\n%s", sb.String())
	}
}

// writeBlocked tells whether a write waits (writes are paused).
func writeBlocked(t *testing.T, r *testRedis) bool {
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr(), ReadTimeout: 300 * time.Millisecond, MaxRetries: -1})
	defer rdb.Close()
	return rdb.Set(context.Background(), "probe:"+t.Name(), 1, 0).Err() != nil
}

// The save of an overlapped cut (BeginCut with Background) runs while the paused dataset
// is fingerprinted: BGSAVE is still writing when BeginCut returns, TakeSnapshotAtCut
// waits for it, records it in the snapshot, and the RDB holds what was fingerprinted.
func TestCutOverlapsSaveWithFingerprint(t *testing.T) {
	r := startRedis(t)
	rdb := r.raw(t)
	ctx := context.Background()
	loadMixed(t, rdb, 100)
	// ~1400 keys at 300 µs each: the save takes ~0.4 s
	if err := rdb.ConfigSet(ctx, "rdb-key-save-delay", "300").Err(); err != nil {
		t.Fatal(err)
	}
	c := r.client(t)
	h, err := BeginCut(ctx, c, CutOptions{Pause: 20 * time.Second, Background: true})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release(ctx)
	p, _ := c.Info(ctx, "persistence")
	if h.Info.Method != "bgsave" || p["rdb_bgsave_in_progress"] != "1" {
		t.Fatalf("after BeginCut: method %q, rdb_bgsave_in_progress %s: the save should run in the background", h.Info.Method, p["rdb_bgsave_in_progress"])
	}
	st, _ := OpenStore(t.TempDir())
	snap, err := TakeSnapshotAtCut(ctx, c, st, "svc", h, FingerprintOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cut := snap.Summary.Cut
	if cut == nil || cut.Method != "bgsave" || cut.SaveDuration < 200*time.Millisecond || cut.LastSaveTime == 0 || cut.SavedAt.IsZero() {
		t.Fatalf("snapshot's cut %+v", cut)
	}
	if p, _ := c.Info(ctx, "persistence"); p["rdb_bgsave_in_progress"] != "0" || p["rdb_changes_since_last_save"] != "0" {
		t.Errorf("after TakeSnapshotAtCut: %v", p)
	}
	if !writeBlocked(t, r) {
		t.Fatal("writes are not paused after the snapshot")
	}
	if err := h.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, "after-cut", 1, 0).Err(); err != nil {
		t.Fatal(err)
	}
	rdb.ConfigSet(ctx, "rdb-key-save-delay", "0")
	restartSameDigest(t, r, st, snap)
}

// A BGSAVE that runs when the cut begins started before the pause: the cut waits for it,
// then saves again (its own BGSAVE), as writes landed after that BGSAVE forked.
func TestCutWaitsForRunningBgsaveThenSavesItsOwn(t *testing.T) {
	r := startRedis(t)
	rdb := r.raw(t)
	ctx := context.Background()
	loadMixed(t, rdb, 100)
	if err := rdb.ConfigSet(ctx, "rdb-key-save-delay", "300").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.BgSave(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, "late", "after the running BGSAVE forked", 0).Err(); err != nil {
		t.Fatal(err)
	}
	c := r.client(t)
	var said []string
	h, err := BeginCut(ctx, c, CutOptions{Pause: 20 * time.Second, Background: true, Progress: func(s string) { said = append(said, s) }})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release(ctx)
	st, _ := OpenStore(t.TempDir())
	snap, err := TakeSnapshotAtCut(ctx, c, st, "svc", h, FingerprintOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m := snap.Summary.Cut.Method; m != "bgsave" || !strings.Contains(strings.Join(said, "\n"), "waiting for the running background save") {
		t.Fatalf("method %q, said %q: want a wait for the running save, then the cut's BGSAVE", m, said)
	}
	h.Release(ctx)
	rdb.ConfigSet(ctx, "rdb-key-save-delay", "0")
	restartSameDigest(t, r, st, snap) // "late" is in the RDB
	if v, err := r.raw(t).Get(ctx, "late").Result(); err != nil || v == "" {
		t.Fatalf("late: %q %v", v, err)
	}
}

// A BGSAVE that fails (here: its directory is gone) fails the overlapped cut with one line
// naming the save, ends the fingerprint, and resumes writes.
func TestCutBackgroundSaveFails(t *testing.T) {
	r := startRedis(t, "--enable-protected-configs", "local")
	rdb := r.raw(t)
	ctx := context.Background()
	loadMixed(t, rdb, 100)
	gone := t.TempDir() + "/gone"
	if err := os.Mkdir(gone, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ConfigSet(ctx, "dir", gone).Err(); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(gone)
	c := r.client(t)
	h, err := BeginCut(ctx, c, CutOptions{Pause: 30 * time.Second, Background: true})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release(ctx)
	st, _ := OpenStore(t.TempDir())
	snap, err := TakeSnapshotAtCut(ctx, c, st, "svc", h, FingerprintOptions{})
	if err == nil || !strings.Contains(err.Error(), "BGSAVE failed") || !strings.Contains(err.Error(), "SAVE failed") {
		t.Fatalf("snapshot %v, error %v: want the failed save", snap, err)
	}
	if all, _ := st.List(); len(all) != 0 {
		t.Errorf("a snapshot was kept although the save failed: %v", all)
	}
	writableAfterFailedSave(t, r)
}

// Redis dying during an overlapped cut is an error of the cut (could not decide), never
// a cancellation (which the command reports as interrupted): the scan's failure must not
// turn the save's wait into "context canceled", nor the other way round.
func TestCutRedisDiesDuringOverlappedCut(t *testing.T) {
	r := startRedis(t)
	rdb := r.raw(t)
	ctx := context.Background()
	loadMixed(t, rdb, 100)
	rdb.ConfigSet(ctx, "rdb-key-save-delay", "300")
	c := r.client(t)
	h, err := BeginCut(ctx, c, CutOptions{Pause: 20 * time.Second, Background: true})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release(ctx)
	r.cmd.Process.Kill()
	r.cmd.Wait()
	st, _ := OpenStore(t.TempDir())
	_, err = TakeSnapshotAtCut(ctx, c, st, "svc", h, FingerprintOptions{})
	if err == nil || errors.Is(err, context.Canceled) || !IsUnreachable(err) {
		t.Fatalf("TakeSnapshotAtCut on a dead Redis: %v, want unreachable", err)
	}
	t.Log(err)
}
