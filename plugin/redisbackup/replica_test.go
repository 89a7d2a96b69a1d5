package redisbackup

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
)

// TestReplicationBackupNeverPausesWrites: a writer at ~200 writes/s runs across a backup
// through the replication protocol; every write acknowledged before the fork is in the
// file, the writer's longest gap between acknowledged writes stays ≤ 100 ms, and the
// file restores verified.
func TestReplicationBackupNeverPausesWrites(t *testing.T) {
	s := startRedis(t)
	ctx := context.Background()
	loadAllTypes(t, s.db(t, 0), "a", 2000)
	loadAllTypes(t, s.db(t, 5), "b", 300)
	w := s.db(t, 7)
	type ack struct {
		i  int
		at time.Time
	}
	var acks []ack
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		tk := time.NewTicker(5 * time.Millisecond)
		defer tk.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			case <-tk.C:
			}
			if err := w.Set(ctx, fmt.Sprintf("seq:%07d", i), i, 0).Err(); err != nil {
				done <- err
				return
			}
			acks = append(acks, ack{i, time.Now()})
		}
	}()
	time.Sleep(300 * time.Millisecond)
	res, path := backupTo(t, s, t.TempDir())
	time.Sleep(300 * time.Millisecond)
	close(stop)
	if err := <-done; err != nil {
		t.Fatalf("a write failed during the backup: %v", err)
	}
	if res.Method != MethodReplication || res.Fallback != "" {
		t.Fatalf("method %q fallback %q", res.Method, res.Fallback)
	}
	var gap time.Duration
	for i := 1; i < len(acks); i++ {
		gap = max(gap, acks[i].at.Sub(acks[i-1].at))
	}
	fork := res.Header.Cut.PausedAt
	dst := startRedis(t)
	rr, err := Restore(ctx, dst.client(t), path, RestoreOptions{})
	if err != nil || !rr.OK() {
		t.Fatalf("restore: %v", err)
	}
	d7 := dst.db(t, 7)
	before, in := 0, 0
	for _, a := range acks {
		n, err := d7.Exists(ctx, fmt.Sprintf("seq:%07d", a.i)).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			in++
		}
		if a.at.Before(fork) {
			before++
			if n != 1 {
				t.Fatalf("seq:%07d acknowledged at %s, before the fork (%s), is not in the backup", a.i, a.at.Format(time.RFC3339Nano), fork.Format(time.RFC3339Nano))
			}
		}
	}
	if before == 0 || in == len(acks) {
		t.Fatalf("%d writes, %d before the fork, %d in the backup: the writer did not run across the backup", len(acks), before, in)
	}
	t.Logf("%d writes (%d before the fork, %d in the file), longest gap %s, backup read %dms", len(acks), before, in, gap, res.ReadMs)
	if gap > 100*time.Millisecond {
		t.Errorf("longest gap between acknowledged writes %s > 100ms", gap)
	}
}

// TestBackupFallsBackWhenSyncDenied: a user whose ACL lacks SYNC and PSYNC gets today's
// paused backup, and the output says why.
func TestBackupFallsBackWhenSyncDenied(t *testing.T) {
	s := startRedis(t)
	ctx := context.Background()
	loadAllTypes(t, s.db(t, 0), "a", 50)
	if err := s.db(t, 0).Do(ctx, "ACL", "SETUSER", "backup", "on", ">pw", "~*", "&*", "+@all", "-sync", "-psync").Err(); err != nil {
		t.Fatal(err)
	}
	c, err := redisstate.NewClient(redisstate.Options{Addr: s.addr, Username: "backup", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var logs []string
	path := filepath.Join(t.TempDir(), "b.dsbackup")
	res, err := BackupFile(ctx, c, path, Options{Log: func(l string) { logs = append(logs, l) }})
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	out := strings.Join(logs, "\n")
	if res.Method != MethodPause || !strings.Contains(res.Fallback, "NOPERM") || !strings.Contains(out, "Falling back to pausing writes") || !strings.Contains(out, "PSYNC") {
		t.Fatalf("method %q fallback %q, log:\n%s", res.Method, res.Fallback, out)
	}
	dst := startRedis(t)
	rr, err := Restore(ctx, dst.client(t), path, RestoreOptions{})
	if err != nil || !rr.OK() {
		t.Fatalf("restore: %v", err)
	}
}
