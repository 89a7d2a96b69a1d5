//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/docker-stateful/docker-stateful/e2e/cluster"
	"github.com/docker-stateful/docker-stateful/internal/redistest"
)

// mvrResult is the part of move --format json a replication move adds.
type mvrResult struct {
	mvResult
	Fallback string `json:"fallback_reason"`
	Handoff  *struct {
		Replica       string `json:"replica_service"`
		SyncMs        int64  `json:"sync_ms"`
		CaughtUpMs    int64  `json:"caught_up_ms"`
		SavedMs       int64  `json:"saved_ms"`
		OldStoppedMs  int64  `json:"old_stopped_ms"`
		NewReadyMs    int64  `json:"new_ready_ms"`
		ReplicaKeys   int64  `json:"replica_keys"`
		ReplicaDigest string `json:"replica_digest"`
		LoadedKeys    int64  `json:"loaded_keys"`
		FingerprintMs int64  `json:"fingerprint_ms"`
		CheckMs       int64  `json:"check_ms"`
	} `json:"handoff"`
}

// mvrCreate is mvCreate with the service's own redis-server arguments.
func mvrCreate(t *testing.T, groups int, args ...string) (string, int, string, int64) {
	t.Helper()
	vol := C.VolumeName(t)
	svc, port := C.CreateRedis(t, []string{"stateful", "create", "--volume-name", vol}, args...)
	db0, task := C.ServiceRedis(t, svc, port)
	if task.Node.Index != 1 {
		t.Fatalf("service runs on node %d, want 1", task.Node.Index)
	}
	db1 := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("%s:%d", task.Node.Addr, port), DB: 1, MaxRetries: -1})
	defer db1.Close()
	n := bkLoad(t, db0, "a", groups) + bkLoad(t, db1, "b", groups)
	return svc, port, vol, n
}

// mvrCheckWrites: every acknowledged write of w and every key of the cut is
// on node, with the TTLs.
func mvrCheckWrites(t *testing.T, node cluster.Node, port int, n int64, acked int) {
	t.Helper()
	rdb := cluster.Redis(t, node.Addr, port)
	ctx := context.Background()
	for i := 0; i < acked; i++ {
		if v, err := rdb.Get(ctx, fmt.Sprintf("seq:%07d", i)).Result(); err != nil || v != fmt.Sprint(i) {
			t.Fatalf("acknowledged write seq:%07d lost after the move: %q %v", i, v, err)
		}
	}
	if got := mvDBSize(t, node.Addr, port); got != n+int64(acked) {
		t.Fatalf("%d keys on node %d, want %d + %d written by the writer", got, node.Index, n, acked)
	}
	if exp := rdb.PExpireTime(ctx, "a:00020:hash").Val(); exp <= 0 {
		t.Errorf("TTL lost: %v", exp)
	}
}

// TestMoveReplication: a service pinned to node1 with keys of every type in
// two databases and a writer running throughout moves to node3 by
// replication: the new process is verified against the detached replica's
// fingerprint, no acknowledged write is lost, the write downtime and its
// phases are reported, the temporary replica is gone, and the old volume is
// still on node1.
func TestMoveReplication(t *testing.T) {
	C.RequirePlugin(t)
	svc, port, vol, n := mvrCreate(t, 600)
	node3 := C.Node(3)

	r := vfyStateful(t, "move", "--dry-run", svc, "--to", node3.Hostname)
	if r.ExitCode() != 0 || !strings.Contains(r.Stdout, "by replication") || !strings.Contains(r.Stdout, "REPLICAOF NO ONE") {
		t.Fatalf("dry run: exit %d", r.ExitCode())
	}

	w := startMoveWriter(port)
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	r = vfyStateful(t, "move", "--format", "json", "--timeout", "2m", svc, "--to", node3.Hostname)
	took := time.Since(start)
	time.Sleep(time.Second)
	acked, failed := w.finish()
	if r.ExitCode() != 0 {
		t.Fatalf("move: exit %d", r.ExitCode())
	}
	var res mvrResult
	vfyJSON(t, r.Stdout, &res)
	if res.Handoff == nil {
		t.Fatalf("no handoff in the result: %+v", res)
	}
	t.Logf("replication move of %d keys: %s (command %d ms), write downtime %d ms (caught up %d, saved %d, old stopped %d, new ready %d; sync %d ms); writer: %d acknowledged, %d failed attempts (last: %v)",
		n, took.Round(time.Millisecond), res.MoveMs, res.WriteDowntimeMs, res.Handoff.CaughtUpMs, res.Handoff.SavedMs, res.Handoff.OldStoppedMs, res.Handoff.NewReadyMs, res.Handoff.SyncMs, acked, failed, w.lastErr)
	if res.Verdict != "moved" || res.Method != "replication" || res.Fallback != "" || res.HandoffCheck == nil || res.HandoffCheck.Verdict != "verified" {
		t.Fatalf("move result %+v", res)
	}
	if res.Handoff.ReplicaKeys < n || res.Handoff.ReplicaDigest == "" || res.Handoff.LoadedKeys != res.Handoff.ReplicaKeys {
		t.Errorf("handoff %+v: the replica held %d keys, the cut has at least %d", *res.Handoff, res.Handoff.ReplicaKeys, n)
	}
	if res.WriteDowntimeMs <= 0 || res.WriteDowntimeMs != res.Handoff.NewReadyMs || !strings.Contains(r.Stderr, "write downtime") {
		t.Errorf("the write downtime is not given: %d ms, handoff %+v", res.WriteDowntimeMs, *res.Handoff)
	}
	if len(res.OldVolumes) != 1 || res.OldVolumes[0].Volume != vol {
		t.Errorf("old volume not reported: %+v", res.OldVolumes)
	}
	task := C.WaitRunning(t, svc)
	if task.Node.Index != 3 {
		t.Fatalf("service runs on node %d after the move, want 3", task.Node.Index)
	}
	if failed == 0 || acked == 0 {
		t.Errorf("the writer did not run across the move: %d acknowledged, %d failed", acked, failed)
	}
	mvrCheckWrites(t, node3, port, n, acked)
	if out := C.Docker(t, 1, "service", "ls", "--quiet", "--filter", "name="+res.Handoff.Replica); strings.TrimSpace(out) != "" {
		t.Errorf("the temporary replica %s is still there", res.Handoff.Replica)
	}
	if out := C.Docker(t, 1, "volume", "ls", "--quiet", "--filter", "name="+vol); !strings.Contains(out, vol) {
		t.Fatalf("the old volume %s is gone from node1", vol)
	}
}

// TestMoveReplicationFallback: a service whose Redis has REPLICAOF renamed
// (rename-command) cannot be moved by replication: the move says why and
// moves by copy, verified, with no acknowledged write lost; nothing of the
// attempt is left (no replica service, the target volume was empty for the
// copy).
func TestMoveReplicationFallback(t *testing.T) {
	C.RequirePlugin(t)
	svc, port, _, n := mvrCreate(t, 200, "redis-server", "--protected-mode", "no", "--rename-command", "REPLICAOF", "")
	node2 := C.Node(2)
	w := startMoveWriter(port)
	time.Sleep(300 * time.Millisecond)
	r := vfyStateful(t, "move", "--format", "json", "--timeout", "2m", svc, "--to", node2.Hostname)
	time.Sleep(time.Second)
	acked, failed := w.finish()
	if r.ExitCode() != 0 {
		t.Fatalf("move: exit %d", r.ExitCode())
	}
	var res mvrResult
	vfyJSON(t, r.Stdout, &res)
	t.Logf("fallback move of %d keys: write downtime %d ms; writer: %d acknowledged, %d failed", n, res.WriteDowntimeMs, acked, failed)
	if res.Verdict != "moved" || res.Method != "copy" || !strings.Contains(res.Fallback, "REPLICAOF is renamed") ||
		res.Restore == nil || res.Restore.Verdict != "verified" || res.Final == nil || res.Final.Verdict != "verified" {
		t.Fatalf("move result %+v", res)
	}
	if !strings.Contains(r.Stderr, "Replication cannot be used: REPLICAOF is renamed") || !strings.Contains(r.Stderr, "Moving by copy instead") {
		t.Errorf("the fallback is not said on stderr")
	}
	if task := C.WaitRunning(t, svc); task.Node.Index != 2 {
		t.Fatalf("service runs on node %d after the move, want 2", task.Node.Index)
	}
	mvrCheckWrites(t, node2, port, n, acked)
	if out := C.Docker(t, 1, "service", "ls", "--quiet", "--filter", "name="+svc+"-move-replica"); strings.TrimSpace(out) != "" {
		t.Errorf("the temporary replica is still there")
	}
	// --method copy skips replication without a fallback.
	r = vfyStateful(t, "move", "--dry-run", "--method", "copy", svc, "--to", C.Node(1).Hostname)
	if r.ExitCode() != 0 || !strings.Contains(r.Stdout, "by copy") {
		t.Fatalf("dry run --method copy: exit %d", r.ExitCode())
	}
	if r := vfyStateful(t, "move", "--method", "rsync", svc, "--to", C.Node(1).Hostname); r.ExitCode() == 0 || !strings.Contains(r.Stderr, `--method "rsync"`) {
		t.Fatalf("--method rsync: exit %d", r.ExitCode())
	}
}

// TestBenchMove is `make bench-move` (DST_BENCH_MOVE=1): at 100k and 1M keys
// of mixed types (BENCH_MOVE_KEYS to change), with a writer running, a move
// by copy (today's method, node1 → node2) and a move by replication (node2 →
// node3) of the same service in the same run; it prints the write downtime
// each method reports and the one the writer saw (its longest gap between
// acknowledged writes), their ratio against the target (replication ≤ 0.5×
// copy), and the replication handoff's phases (one task restart plus the
// load: old task stopped, new process loaded).
func TestBenchMove(t *testing.T) {
	if os.Getenv("DST_BENCH_MOVE") != "1" {
		t.Skip("make bench-move (DST_BENCH_MOVE=1)")
	}
	C.RequirePlugin(t)
	sizes := []int{100_000, 1_000_000}
	if v := os.Getenv("BENCH_MOVE_KEYS"); v != "" {
		sizes = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				t.Fatalf("BENCH_MOVE_KEYS=%q: a comma-separated list of key counts", v)
			}
			sizes = append(sizes, n)
		}
	}
	type run struct {
		reported, writer time.Duration
		took             time.Duration
		acked, failed    int
		res              mvrResult
	}
	type row struct {
		keys       int
		copy, repl run
	}
	var rows []row
	move := func(svc, to, method string, port int, n int64) run {
		w := startPrefixWriter(port, "bench-"+method)
		time.Sleep(500 * time.Millisecond)
		s := time.Now()
		r := benchRun(t, "stateful", "move", "--method", method, "--format", "json", "--timeout", "10m", svc, "--to", to)
		took := time.Since(s)
		time.Sleep(time.Second)
		acked, failed := w.finish()
		gap := w.maxGap
		var res mvrResult
		if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil || r.ExitCode() != 0 || res.Verdict != "moved" || res.Method != method {
			t.Fatalf("move --method %s: exit %d, %+v (%v)\n%s", method, r.ExitCode(), res, err, r.Stderr)
		}
		fmt.Printf("bench-move: %d keys, --method %s: moved in %s, write downtime reported %d ms, writer's longest gap %s (%d acknowledged, %d failed attempts)\n",
			n, method, took.Round(time.Millisecond), res.WriteDowntimeMs, gap.Round(time.Millisecond), acked, failed)
		if res.Handoff != nil {
			h := res.Handoff
			fmt.Printf("bench-move: %d keys, replication phases (ms since the pause): caught up %d, replica saved %d, old task stopped %d, new process loaded %d; sync before the pause %d ms\n",
				n, h.CaughtUpMs, h.SavedMs, h.OldStoppedMs, h.NewReadyMs, h.SyncMs)
		}
		return run{reported: time.Duration(res.WriteDowntimeMs) * time.Millisecond, writer: gap, took: took, acked: acked, failed: failed, res: res}
	}
	for _, keys := range sizes {
		vol := C.VolumeName(t)
		svc, port := C.CreateRedis(t, []string{"stateful", "create", "--volume-name", vol}, "redis-server", "--protected-mode", "no")
		task := C.WaitRunning(t, svc)
		rdb := cluster.Redis(t, task.Node.Addr, port)
		s := time.Now()
		n := redistest.LoadBenchMix(t, rdb, keys)
		rdb.Close()
		fmt.Printf("bench-move: %s loaded %d keys in %s\n", svc, n, time.Since(s).Round(time.Millisecond))
		r := row{keys: keys}
		r.copy = move(svc, C.Node(2).Hostname, "copy", port, n)
		r.repl = move(svc, C.Node(3).Hostname, "replication", port, n)
		// Every write the writers had acknowledged is there.
		rdb = cluster.Redis(t, C.Node(3).Addr, port)
		ctx := context.Background()
		for _, m := range []struct {
			p string
			n int
		}{{"bench-copy", r.copy.acked}, {"bench-replication", r.repl.acked}} {
			if m.n > 0 {
				if v, err := rdb.Get(ctx, fmt.Sprintf("%s:%07d", m.p, m.n-1)).Result(); err != nil || v != strconv.Itoa(m.n-1) {
					t.Errorf("%d keys: the last acknowledged write %s:%07d is lost: %q %v", keys, m.p, m.n-1, v, err)
				}
			}
		}
		if got := rdb.DBSize(ctx).Val(); got != n+int64(r.copy.acked+r.repl.acked) {
			t.Errorf("%d keys: %d after both moves, want %d + %d + %d acknowledged writes", keys, got, n, r.copy.acked, r.repl.acked)
		}
		rdb.Close()
		rows = append(rows, r)
		C.Run(t, 1, "service", "rm", svc)
	}
	fmt.Printf("\n| keys | copy: reported / writer | replication: reported / writer | ratio (writer) | target ≤ 0.5 | handoff: old task stopped / new process loaded | replica fingerprint / check |\n|---|---|---|---|---|---|---|\n")
	failed := false
	for _, r := range rows {
		ratio := float64(r.repl.writer) / float64(r.copy.writer)
		ok := "ok"
		if ratio > 0.5 {
			ok, failed = "MISSED", true
		}
		h := r.repl.res.Handoff
		fmt.Printf("| %dk | %d ms / %s | %d ms / %s | %.2f | %s | %d / %d ms | %d / %d ms |\n", r.keys/1000,
			r.copy.reported.Milliseconds(), r.copy.writer.Round(time.Millisecond), r.repl.reported.Milliseconds(), r.repl.writer.Round(time.Millisecond),
			ratio, ok, h.OldStoppedMs, h.NewReadyMs, h.FingerprintMs, h.CheckMs)
	}
	fmt.Printf("(one move each per size, copy first; %d CPUs shared with whatever else runs)\n", runtime.NumCPU())
	if failed && os.Getenv("BENCH_STRICT") == "1" {
		t.Error("a target was missed")
	}
}

// benchRun is C.Run against node 1 without its 3-minute bound: a copy of 1M
// keys on a loaded machine takes longer.
func benchRun(t *testing.T, args ...string) cluster.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", append([]string{"-H", C.Node(1).Host}, args...)...)
	cmd.Env = C.DockerEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := cluster.Result{Stdout: out.String(), Stderr: errb.String(), Err: err}
	t.Logf("$ docker %s (rc=%d)", strings.Join(args, " "), r.ExitCode())
	return r
}
