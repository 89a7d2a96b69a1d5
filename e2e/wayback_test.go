//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/docker-stateful/docker-stateful/e2e/cluster"
)

// TestWayBackRedis8ToRedis7AndValkey8 (issue 21 item 4): a backup of a Redis 8 service
// (RDB 12) with every type, TTLs, streams with consumer groups, pending and deleted
// entries, in two databases, restored into a redis:7 service (Redis 7.0, RDB 10) and
// into a valkey:8 service (RDB 11): neither can load RDB 12 payloads, so every key is
// written by type, and both are verified equal to the backup, TTLs kept. The human
// report of a two-database restore has one verdict (issue 20 item 15).
func TestWayBackRedis8ToRedis7AndValkey8(t *testing.T) {
	C.RequirePlugin(t)
	for _, img := range []string{cluster.Redis8Image, cluster.Redis7Image, cluster.Valkey8Image} {
		C.RequireImage(t, img)
	}
	ctx := context.Background()
	src, port := C.CreateRedisImage(t, []string{"stateful", "create"}, cluster.Redis8Image)
	db0, task := C.ServiceRedis(t, src, port)
	db1 := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("%s:%d", task.Node.Addr, port), DB: 1, MaxRetries: -1})
	defer db1.Close()
	n := bkLoad(t, db0, "a", 1500) + bkLoad(t, db1, "b", 300)
	for i := 1; i <= 6; i++ {
		db0.XAdd(ctx, &redis.XAddArgs{Stream: "xs:del", ID: fmt.Sprintf("7-%d", i), Values: []string{"n", fmt.Sprint(i)}})
	}
	db0.XDel(ctx, "xs:del", "7-6", "7-2")
	db0.XGroupCreate(ctx, "xs:del", "g", "0")
	db0.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "c", Streams: []string{"xs:del", ">"}, Count: 2})
	db0.XGroupCreateMkStream(ctx, "xs:empty", "g", "$")
	n += 2
	wantExp := db0.PExpireTime(ctx, "a:00020:hash").Val()
	if wantExp <= 0 {
		t.Fatalf("no TTL on a:00020:hash")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "redis8.dsbackup")
	r := vfyStateful(t, "backup", "-o", file, "--format", "json", src)
	if r.ExitCode() != 0 {
		t.Fatalf("backup: exit %d", r.ExitCode())
	}
	var b bkResult
	vfyJSON(t, r.Stdout, &b)
	if b.Records != n || b.Header.RDBVersion != 12 {
		t.Fatalf("backup of %d records of RDB %d, want %d records of RDB 12", b.Records, b.Header.RDBVersion, n)
	}

	for _, tc := range []struct {
		image string
		rdb   int
		json  bool
	}{{cluster.Redis7Image, 10, true}, {cluster.Valkey8Image, 11, false}} {
		t.Run(strings.NewReplacer("/", "-", ":", "-").Replace(tc.image), func(t *testing.T) {
			svc, p := C.CreateRedisImage(t, []string{"stateful", "create"}, tc.image)
			rdb, task := C.ServiceRedis(t, svc, p)
			args := []string{"restore", svc, file}
			if tc.json {
				args = []string{"restore", "--format", "json", svc, file}
			}
			r := vfyStateful(t, args...)
			if r.ExitCode() != 0 {
				t.Fatalf("restore into %s: exit %d", tc.image, r.ExitCode())
			}
			line := fmt.Sprintf("Converted %d keys from RDB 12 to RDB %d", n, tc.rdb)
			if !strings.Contains(r.Stderr, line) {
				t.Errorf("restore does not say %q", line)
			}
			if tc.json {
				var res struct {
					bkResult
					Conversion struct {
						FromRDB int              `json:"from_rdb"`
						ToRDB   int              `json:"to_rdb"`
						Keys    int64            `json:"keys"`
						Types   map[string]int64 `json:"types"`
					} `json:"conversion"`
				}
				vfyJSON(t, r.Stdout, &res)
				cv := res.Conversion
				if res.Verdict != "verified" || res.Restored != n || cv.FromRDB != 12 || cv.ToRDB != tc.rdb || cv.Keys != n || cv.Types["stream"] == 0 {
					t.Errorf("restore result: verdict %q, %d restored, conversion %+v; want verified, %d keys from RDB 12 to %d", res.Verdict, res.Restored, cv, n, tc.rdb)
				}
			} else if c := strings.Count(r.Stdout, "Verdict:"); c != 1 || !strings.Contains(r.Stdout, "Verdict: verified (2 database(s))") {
				t.Errorf("report of a two-database restore has %d verdict line(s), want one \"Verdict: verified (2 database(s))\":\n%s", c, r.Stdout)
			}
			if got := rdb.PExpireTime(ctx, "a:00020:hash").Val(); got != wantExp {
				t.Errorf("TTL of a:00020:hash: PEXPIRETIME %d, want %d", got, wantExp)
			}
			t1 := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("%s:%d", task.Node.Addr, p), DB: 1, MaxRetries: -1})
			defer t1.Close()
			if k := rdb.DBSize(ctx).Val() + t1.DBSize(ctx).Val(); k != n {
				t.Errorf("%d keys in %s after the restore, want %d", k, tc.image, n)
			}
			// The restore saved: the restarted server has the data (its own RDB version now).
			if info := rdb.Info(ctx, "persistence").Val(); !strings.Contains(info, "rdb_changes_since_last_save:0") {
				t.Errorf("not saved after the restore:\n%s", info)
			}
		})
	}
}
