package probe

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/docker-stateful/docker-stateful/internal/redistest"
	"github.com/docker-stateful/docker-stateful/plugin/inventory"
	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
)

// latestByList is what LatestSnapshots returned before it stopped loading
// every snapshot: the reference its answer must equal.
func latestByList(t *testing.T, stateDir string) map[string]inventory.SnapshotInfo {
	out := map[string]inventory.SnapshotInfo{}
	st, err := redisstate.OpenStore(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	all, err := st.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, snap := range all {
		if s := snap.Summary; s.Service != "" {
			out[s.Service] = inventory.SnapshotInfo{ID: snap.ID, Keys: s.Keys, CreatedAt: s.CreatedAt}
		}
	}
	return out
}

// Real snapshots of a real Redis: the newest of each service, passing over
// a newer one that is damaged (a shard file cut short) and one without a
// service; the same answer as loading them all.
func TestLatestSnapshotsNewestWholePerService(t *testing.T) {
	addr, _ := redistest.Start(t)
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	c, err := redisstate.NewClient(redisstate.Options{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	stateDir := t.TempDir()
	st, err := redisstate.OpenStore(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	take := func(service string, keys int) *redisstate.Snapshot {
		t.Helper()
		for i := 0; i < keys; i++ {
			if err := rdb.Set(ctx, service+string(rune('a'+i)), i, 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
		snap, err := redisstate.TakeSnapshot(ctx, c, st, service, nil, redisstate.FingerprintOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return snap
	}
	oldA := take("a", 1)
	wantA := take("a", 2)
	wantB := take("b", 1)
	take("", 1)
	damaged := take("a", 3)
	shards, _ := filepath.Glob(filepath.Join(damaged.Dir, "shards", "*"))
	cut := false
	for _, f := range shards {
		if fi, err := os.Stat(f); err == nil && fi.Size() > 0 {
			if err := os.Truncate(f, fi.Size()-1); err != nil {
				t.Fatal(err)
			}
			cut = true
			break
		}
	}
	if !cut {
		t.Fatal("no shard file with data to damage")
	}
	if got := LatestSnapshots(stateDir, []string{"b", "c"}); len(got) != 1 || got["b"].ID != wantB.ID {
		t.Fatalf("LatestSnapshots of b and c = %+v, want b's only", got)
	}
	got := LatestSnapshots(stateDir, []string{"a", "b", ""})
	if want := latestByList(t, stateDir); !reflect.DeepEqual(got, want) {
		t.Fatalf("LatestSnapshots = %+v, loading them all gives %+v", got, want)
	}
	if got["a"].ID != wantA.ID || got["b"].ID != wantB.ID || len(got) != 2 {
		t.Fatalf("got %+v: want a=%s (not %s, older, nor %s, damaged), b=%s", got, wantA.ID, oldA.ID, damaged.ID, wantB.ID)
	}
}
