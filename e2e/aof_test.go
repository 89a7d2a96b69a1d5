//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/docker-stateful/docker-stateful/e2e/cluster"
)

// TestVerifyAOFLossRollsBack (issue 20 item 2): an appendonly service with
// 2,000 keys is updated (--force) onto a volume holding an older copy of its
// AOF (1,000 keys). The new process replays 1,000 commands, which
// rdb_changes_since_last_save counts like client writes; no client wrote, so
// the check is exact: failed, 1,000 keys MISSING, rolled back, the 2,000 keys
// back. On Redis 7 (the host's), Redis 8 and Valkey 8: their command
// statistics must not count the replay either.
func TestVerifyAOFLossRollsBack(t *testing.T) {
	C.RequirePlugin(t)
	for _, image := range []string{cluster.Redis7Image, cluster.Redis8Image, cluster.Valkey8Image} {
		t.Run(strings.NewReplacer("/", "-", ":", "-").Replace(image), func(t *testing.T) {
			if image != cluster.Redis7Image {
				C.RequireImage(t, image)
			}
			svc, port := C.CreateRedisImage(t, []string{"stateful", "create"}, image,
				"redis-server", "--protected-mode", "no", "--appendonly", "yes", "--appendfsync", "always")
			rdb, task := C.ServiceRedis(t, svc, port)
			ctx := context.Background()
			aofLoad(t, rdb, 0, 1000)
			vol := updInspect(t, svc, "{{range .Spec.TaskTemplate.ContainerSpec.Mounts}}{{.Source}}{{end}}")
			older := C.VolumeName(t)
			C.Docker(t, task.Node.Index, "volume", "create", older)
			// the AOF as it is now (appendfsync always: every acknowledged write is in it)
			src := strings.TrimSpace(C.Docker(t, task.Node.Index, "volume", "inspect", "--format", "{{.Mountpoint}}", vol))
			dst := strings.TrimSpace(C.Docker(t, task.Node.Index, "volume", "inspect", "--format", "{{.Mountpoint}}", older))
			// (--mount-add on /data replaces its mount; with --mount-rm /data docker's
			// CLI would drop the added mount too)
			if out, err := exec.Command("cp", "-a", filepath.Join(src, "appendonlydir"), dst+"/").CombinedOutput(); err != nil {
				t.Fatalf("copy the AOF into volume %s: %v %s", older, err, out)
			}
			aofLoad(t, rdb, 1000, 2000)

			r := vfyStateful(t, "update", "--verify", "--state-dir", t.TempDir(), "--format", "json", "--force",
				"--mount-add", "type=volume,source="+older+",target=/data", svc)
			if r.ExitCode() == 0 {
				t.Fatalf("update --verify onto an older AOF: exit 0")
			}
			var res vfyUpdateResult
			vfyJSON(t, r.Stdout, &res)
			if res.Report == nil || res.Verdict != "failed" || res.Report.count("MISSING") != 1000 || res.Report.AfterKeys != 1000 {
				t.Errorf("verdict %s, report %+v: want failed, 1000 keys MISSING of the 2000", res.Verdict, res.Report)
			}
			if strings.Contains(r.Stderr, "clients made") || strings.Contains(r.Stderr, "not a proven loss") {
				t.Errorf("the AOF replay was blamed on clients:\n%s", r.Stderr)
			}
			if !res.RolledBack || res.RollbackReport == nil || res.RollbackReport.Verdict != "verified" {
				t.Errorf("rolled back %v, report after it %+v: want rolled back and verified", res.RolledBack, res.RollbackReport)
			}
			if got := updInspect(t, svc, "{{range .Spec.TaskTemplate.ContainerSpec.Mounts}}{{.Source}}{{end}}"); got != vol {
				t.Errorf("after the rollback /data is on %q, want %q", got, vol)
			}
			after := cluster.Redis(t, C.WaitRunning(t, svc).Node.Addr, port)
			if got := after.DBSize(ctx).Val(); got != 2000 {
				t.Errorf("DBSIZE after the rollback %d, want 2000", got)
			}
			if v := after.Get(ctx, "aof:001999").Val(); v != "1999" {
				t.Errorf("aof:001999 = %q after the rollback", v)
			}
		})
	}
}

// aofLoad writes aof:<i> = i for i in [from, to).
func aofLoad(t *testing.T, rdb *redis.Client, from, to int) {
	t.Helper()
	pipe := rdb.Pipeline()
	for i := from; i < to; i++ {
		pipe.Set(context.Background(), fmt.Sprintf("aof:%06d", i), i, 0)
	}
	if _, err := pipe.Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
}
