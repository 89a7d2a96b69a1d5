//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestVerifyEveryDatabase: keys only in database 1, FLUSHALL, then verify: 100 keys
// MISSING, exit 1 (it said "verified: all 0 keys intact", checking database 0 only).
// --redis-url .../1 checks database 1 only and says so.
func TestVerifyEveryDatabase(t *testing.T) {
	C.RequirePlugin(t)
	svc, port, rdb, task := vfyCreate(t)
	ctx := context.Background()
	db1 := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("%s:%d", task.Node.Addr, port), DB: 1})
	defer db1.Close()
	for i := 0; i < 100; i++ {
		if err := db1.Set(ctx, fmt.Sprintf("k%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	state := t.TempDir()
	if r := vfyStateful(t, "snapshot", "--state-dir", state, svc); r.ExitCode() != 0 {
		t.Fatalf("snapshot: exit %d", r.ExitCode())
	}
	if err := rdb.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	r := vfyStateful(t, "verify", "--state-dir", state, "--format", "json", svc)
	var vr struct{ Report vfyReport }
	vfyJSON(t, r.Stdout, &vr)
	rep := vr.Report
	if r.ExitCode() != 1 || rep.Verdict != "failed" || rep.BeforeKeys != 100 || rep.count("MISSING") != 100 {
		t.Fatalf("after FLUSHALL: exit %d, %+v; want 100 keys of database 1 MISSING, exit 1", r.ExitCode(), rep)
	}
	if !strings.Contains(r.Stdout, `"db": 1`) {
		t.Errorf("the report does not name database 1")
	}

	db1.Set(ctx, "only-this", 1, 0)
	url := fmt.Sprintf("redis://%s:%d/1", task.Node.Addr, port)
	if r := vfyStateful(t, "snapshot", "--state-dir", state, "--redis-url", url, svc); r.ExitCode() != 0 {
		t.Fatalf("snapshot of database 1: exit %d", r.ExitCode())
	}
	r = vfyStateful(t, "verify", "--state-dir", state, "--redis-url", url, svc)
	if r.ExitCode() != 0 || !strings.Contains(r.Stdout, "in database 1 only") {
		t.Errorf("verify of database 1 only: exit %d", r.ExitCode())
	}
	r = vfyStateful(t, "verify", "--state-dir", state, "--redis-url", fmt.Sprintf("redis://%s:%d/?foo=1", task.Node.Addr, port), svc)
	if r.ExitCode() == 0 || !strings.Contains(r.Stderr, `unknown parameter "foo"`) {
		t.Errorf("unknown URL parameter: exit %d", r.ExitCode())
	}
}
