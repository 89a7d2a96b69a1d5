//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// bkLoad writes n groups of keys of every type into rdb's database: a string, a
// list, a set, a sorted set, a hash, a stream (every 10th with a consumer group
// and a pending entry) and a HyperLogLog; every 20th group's string, hash and
// list get a one-hour TTL. It also writes a few large (hashtable/skiplist)
// collections. It returns the number of keys written.
func bkLoad(t *testing.T, rdb *redis.Client, prefix string, n int) int64 {
	t.Helper()
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	pipe := rdb.Pipeline()
	for i := 0; i < n; i++ {
		p := fmt.Sprintf("%s:%05d:", prefix, i)
		pipe.Set(ctx, p+"str", strings.Repeat(strconv.Itoa(i), 1+i%9), 0)
		pipe.RPush(ctx, p+"list", "first", i, "last")
		pipe.SAdd(ctx, p+"set", "a", "b", i)
		pipe.ZAdd(ctx, p+"zset", redis.Z{Score: float64(i), Member: "a"}, redis.Z{Score: 1.5, Member: "b"})
		pipe.HSet(ctx, p+"hash", "a", i, "b", "x")
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: p + "stream", Values: []any{"n", i}})
		pipe.PFAdd(ctx, p+"hll", "x", "y", i)
		if i%10 == 0 {
			pipe.XGroupCreate(ctx, p+"stream", "g1", "0")
			pipe.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g1", Consumer: "c1", Streams: []string{p + "stream", ">"}, Count: 1})
		}
		if i%20 == 0 {
			pipe.PExpireAt(ctx, p+"str", exp)
			pipe.PExpireAt(ctx, p+"hash", exp)
			pipe.PExpireAt(ctx, p+"list", exp)
		}
		if i%200 == 199 {
			if _, err := pipe.Exec(ctx); err != nil {
				t.Fatalf("loading: %v", err)
			}
		}
	}
	for i := 0; i < 3; i++ {
		for m := 0; m < 1000; m++ {
			pipe.HSet(ctx, fmt.Sprintf("%s:hbig:%d", prefix, i), fmt.Sprintf("f%d", m), m)
			pipe.ZAdd(ctx, fmt.Sprintf("%s:zbig:%d", prefix, i), redis.Z{Score: float64(m), Member: fmt.Sprintf("m%d", m)})
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("loading: %v", err)
	}
	return int64(n*7 + 6)
}

// bkResult is the part of backup/restore --format json the test reads.
type bkResult struct {
	Path         string `json:"path"`
	Records      int64  `json:"records"`
	WritePauseMs int64  `json:"write_pause_ms"`
	Method       string `json:"method"` // replication (the server's fork) or pause
	Header       struct {
		RDBVersion int `json:"rdb_version"`
		Databases  []struct {
			DB   int   `json:"db"`
			Keys int64 `json:"keys"`
		} `json:"databases"`
	} `json:"header"`
	Restored     int64 `json:"restored"`
	Expired      int64 `json:"expired"`
	Verification struct {
		Databases []struct {
			DB     int       `json:"db"`
			Report vfyReport `json:"report"`
		} `json:"databases"`
	} `json:"verification"`
	Verdict string `json:"verdict"`
}

// TestBackupRestore: 50k keys of every type across two databases, some with
// TTLs, through the real commands: backup → FLUSHALL → a truncated and a
// flipped-byte file are refused with nothing written → restore verified equal,
// TTLs kept, keys that expired in between reported EXPIRED → a second restore
// into the now non-empty Redis is refused.
func TestBackupRestore(t *testing.T) {
	C.RequirePlugin(t)
	svc, port, db0, task := vfyCreate(t)
	db1 := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("%s:%d", task.Node.Addr, port), DB: 1, MaxRetries: -1})
	defer db1.Close()
	ctx := context.Background()
	n := bkLoad(t, db0, "a", 3600) + bkLoad(t, db1, "b", 3600)
	// 50 keys that expire between the backup and the restore
	short := time.Now().Add(30 * time.Second) // the backup must be done by then, even on a loaded machine
	for i := 0; i < 50; i++ {
		k := fmt.Sprintf("short:%02d", i)
		db1.Set(ctx, k, i, 0)
		db1.PExpireAt(ctx, k, short)
	}
	n += 50
	wantExp := db0.PExpireTime(ctx, "a:00020:hash").Val()
	if wantExp <= 0 {
		t.Fatalf("no TTL on a:00020:hash")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "backup.dsbackup")

	start := time.Now()
	r := vfyStateful(t, "backup", "-o", file, "--format", "json", svc)
	t.Logf("backup of %d keys: %s", n, time.Since(start).Round(time.Millisecond))
	if r.ExitCode() != 0 {
		t.Fatalf("backup: exit %d", r.ExitCode())
	}
	var b bkResult
	vfyJSON(t, r.Stdout, &b)
	// Through the replication snapshot: the server's state at its fork, writes
	// never paused (issue 24).
	if b.Records != n || len(b.Header.Databases) != 2 || b.Method != "replication" || b.WritePauseMs != 0 || b.Header.RDBVersion <= 0 {
		t.Fatalf("backup result %+v, want %d records in 2 databases, through the replication snapshot, no write pause", b, n)
	}
	if !strings.Contains(r.Stderr, "Writes were not paused") {
		t.Errorf("backup does not say that writes were not paused:\n%s", r.Stderr)
	}
	if db0.Set(ctx, "after-backup", "1", 0).Err() != nil {
		t.Fatal("writes not resumed after the backup")
	}

	time.Sleep(time.Until(short) + time.Second)
	if err := db0.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	// Damaged files: refused (exit 2) with one line, nothing written.
	good, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	flipped := append([]byte{}, good...)
	flipped[len(flipped)/2] ^= 0x20
	for name, content := range map[string][]byte{"truncated": good[:len(good)*2/3], "flipped": flipped} {
		bad := filepath.Join(dir, name+".dsbackup")
		if err := os.WriteFile(bad, content, 0o644); err != nil {
			t.Fatal(err)
		}
		r := vfyStateful(t, "restore", svc, bad)
		lines := strings.Split(strings.TrimSpace(r.Stderr), "\n")
		if r.ExitCode() != 2 || !strings.Contains(lines[len(lines)-1], bad) {
			t.Errorf("%s file: exit %d, last line %q; want exit 2 and one line naming the file", name, r.ExitCode(), lines[len(lines)-1])
		}
		if k := db0.DBSize(ctx).Val() + db1.DBSize(ctx).Val(); k != 0 {
			t.Fatalf("%s file: %d keys written although refused", name, k)
		}
	}

	start = time.Now()
	r = vfyStateful(t, "restore", "--format", "json", svc, file)
	t.Logf("restore: %s", time.Since(start).Round(time.Millisecond))
	if r.ExitCode() != 0 {
		t.Fatalf("restore: exit %d", r.ExitCode())
	}
	var res bkResult
	vfyJSON(t, r.Stdout, &res)
	if res.Verdict != "verified" || res.Restored != n-50 || res.Expired != 50 || len(res.Verification.Databases) != 2 {
		t.Fatalf("restore result %+v: want verified, %d restored, 50 expired", res, n-50)
	}
	for _, d := range res.Verification.Databases {
		rep := d.Report
		if rep.count("MISSING") != 0 || rep.count("CHANGED") != 0 || (d.DB == 1 && rep.count("EXPIRED") != 50) {
			t.Errorf("database %d: %+v", d.DB, rep)
		}
	}
	if got := db0.PExpireTime(ctx, "a:00020:hash").Val(); got != wantExp {
		t.Errorf("TTL not kept: PEXPIRETIME %v, want %v", got, wantExp)
	}
	if k := db0.DBSize(ctx).Val() + db1.DBSize(ctx).Val(); k != n-50 {
		t.Errorf("DBSIZE %d after the restore, want %d", k, n-50)
	}
	if p, err := db1.XPending(ctx, "b:00010:stream", "g1").Result(); err != nil || p.Count != 1 {
		t.Errorf("consumer group's pending entry: %+v %v", p, err)
	}

	// Restoring again into the now non-empty Redis is refused.
	r = vfyStateful(t, "restore", svc, file)
	if r.ExitCode() != 1 || !strings.Contains(r.Stderr, "is not empty") || !strings.Contains(r.Stderr, "--replace") {
		t.Errorf("restore into a non-empty Redis: exit %d, want 1 and a refusal naming --replace", r.ExitCode())
	}
}
