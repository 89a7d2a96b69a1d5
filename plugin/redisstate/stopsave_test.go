package redisstate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSkipStopSave(t *testing.T) {
	ctx := context.Background()
	r := startRedis(t, "--save", "3600 1 300 100")
	c, raw := r.client(t), r.raw(t)
	si, err := c.ServerInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	saveConfig := func() string { return raw.ConfigGet(ctx, "save").Val()["save"] }
	loadMixed(t, raw, 50)
	if err := raw.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}

	t.Run("another process", func(t *testing.T) {
		ss := SkipStopSave(ctx, c, "0123456789abcdef")
		if ss.Skipped || !strings.Contains(ss.Why, "another process") || saveConfig() != "3600 1 300 100" {
			t.Errorf("skipped %v (%s), save %q", ss.Skipped, ss.Why, saveConfig())
		}
	})
	t.Run("a change since the save", func(t *testing.T) {
		raw.Set(ctx, "late", "1", 0)
		defer raw.Save(ctx)
		ss := SkipStopSave(ctx, c, si.RunID)
		if ss.Skipped || !strings.Contains(ss.Why, "rdb_changes_since_last_save:1") || saveConfig() != "3600 1 300 100" {
			t.Errorf("skipped %v (%s), save %q", ss.Skipped, ss.Why, saveConfig())
		}
	})
	t.Run("restored", func(t *testing.T) {
		ss := SkipStopSave(ctx, c, si.RunID)
		if !ss.Skipped || saveConfig() != "" {
			t.Fatalf("skipped %v (%s), save %q", ss.Skipped, ss.Why, saveConfig())
		}
		if err := ss.Restore(ctx); err != nil || saveConfig() != "3600 1 300 100" {
			t.Errorf("restore: %v, save %q", err, saveConfig())
		}
	})

	// Skipped, then SIGTERM: Redis exits without writing its RDB again, and a new
	// process has every key of the save.
	rdb := filepath.Join(r.Dir, "dump.rdb")
	before, err := os.Stat(rdb)
	if err != nil {
		t.Fatal(err)
	}
	want := raw.DBSize(ctx).Val()
	if ss := SkipStopSave(ctx, c, si.RunID); !ss.Skipped {
		t.Fatalf("not skipped: %s", ss.Why)
	}
	time.Sleep(10 * time.Millisecond) // an mtime a new save would change
	r.stop()
	after, err := os.Stat(rdb)
	if err != nil {
		t.Fatal(err)
	}
	if !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("dump.rdb rewritten at shutdown (%v, saved %v)", after.ModTime(), before.ModTime())
	}
	log, _ := os.ReadFile(r.log)
	if strings.Contains(string(log), "Saving the final RDB snapshot") {
		t.Errorf("Redis saved at shutdown:\n%s", log)
	}
	r.start()
	if got := r.raw(t).DBSize(ctx).Val(); got != want || want == 0 {
		t.Errorf("%d keys after the restart, %d before", got, want)
	}
}
