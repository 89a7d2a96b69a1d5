//go:build e2e

package e2e

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/docker-stateful/docker-stateful/e2e/cluster"
)

// The fault suite of update --verify (issue 10): each test asserts the keys
// and the acknowledged writes, and what the tool says. The faults come from
// faulthelp_test.go: the plugin frozen at a line it prints while a node's
// engine is stopped or killed, a Redis killed, a node cut off.

// TestFaultTwoUpdatesAtOnce: while one update --verify holds its cut (writes
// paused), a second one of the same service is refused with one clear line,
// sends nothing, and does not unpause the first one's writes; the first one
// then completes, verified, and no key and no acknowledged write is lost.
func TestFaultTwoUpdatesAtOnce(t *testing.T) {
	C.RequirePlugin(t)
	svc, port, rdb, task := vfyCreate(t)
	n := vfyLoad(t, rdb, 1000)
	addr := fmt.Sprintf("%s:%d", task.Node.Addr, port)
	w := fltStartWriter(addr)
	time.Sleep(500 * time.Millisecond)

	first := fltStart(t, "update", "--verify", "--state-dir", t.TempDir(), "--limit-memory", "300M", svc)
	// hold the first run inside its cut (its lock taken, its save and
	// fingerprint running: 'Saved:' comes only just before it sends)
	first.freeze(t, "saving in the background (BGSAVE)", time.Minute, func() {
		spec := fltSpecOf(t, svc)
		r := vfyStateful(t, "update", "--verify", "--state-dir", t.TempDir(), "--limit-memory", "400M", svc)
		fltWritesPaused(t, addr, "after the second run")
		if r.ExitCode() != 1 || !strings.Contains(r.Stderr, "another docker stateful run holds a cut on this Redis") {
			t.Errorf("second update --verify: exit %d, want 1 and a line naming the other run:\n%s", r.ExitCode(), r.Stderr)
		}
		spec.unchanged(t, "the second update --verify was refused")
	})
	if code := first.wait(t, 3*time.Minute); code != 0 || !strings.Contains(first.stdout.String(), "Verdict: verified") {
		t.Errorf("first update --verify: exit %d, want 0, verified", code)
	}
	fltMemoryLimit(t, svc, 300, "the first run's")
	w.check(t, cluster.Redis(t, C.WaitRunning(t, svc).Node.Addr, port), n)
}

// TestFaultInterrupted: SIGINT to the plugin itself, as Ctrl-C in a
// terminal delivers it (docker forwards nothing then): before the update is
// sent, nothing is sent, writes resume at once, exit 130; after it is sent,
// writes resume at once, the update goes on, and the last line gives the
// command that checks it later, which then verifies the data; never the
// wrong reason "did not stop within".
func TestFaultInterrupted(t *testing.T) {
	C.RequirePlugin(t)
	svc, port, rdb, task := vfyCreate(t)
	n := vfyLoad(t, rdb, 1000)
	addr := fmt.Sprintf("%s:%d", task.Node.Addr, port)
	state := t.TempDir()

	// 1. during the cut: freeze the plugin there, then Ctrl-C
	spec := fltSpecOf(t, svc)
	r := fltStart(t, "update", "--verify", "--state-dir", state, "--limit-memory", "300M", svc)
	r.freeze(t, "Pausing writes", time.Minute, func() { r.signal(t, syscall.SIGINT) })
	if code := r.wait(t, time.Minute); code != 130 || !strings.Contains(r.stderr.String(), "not sent: interrupted") {
		t.Errorf("interrupted during the cut: exit %d, want 130 and \"not sent: interrupted\"", code)
	}
	fltWritesOpen(t, addr, 2*time.Second, "after the interruption")
	spec.unchanged(t, "interrupted before sending")
	if now := C.WaitRunning(t, svc); now.ID != task.ID {
		t.Errorf("interrupted before sending, yet the task was replaced")
	}

	// 2. once the update is sent
	r = fltStart(t, "update", "--verify", "--state-dir", state, "--limit-memory", "300M", svc)
	r.waitFor(t, "Sending the update", time.Minute)
	spec.changed(t, 30*time.Second)
	r.signal(t, syscall.SIGINT)
	start := time.Now()
	if code := r.wait(t, time.Minute); code != 130 {
		t.Fatalf("interrupted after sending: exit %d, want 130", code)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("it took %s to end after Ctrl-C", took)
	}
	if strings.Contains(r.stderr.String(), "did not stop within") {
		t.Errorf("interrupted, yet it says the old task did not stop in time")
	}
	newTask := C.WaitRunning(t, svc)
	fltWritesOpen(t, fmt.Sprintf("%s:%d", newTask.Node.Addr, port), 2*time.Second, "after the interruption")
	fltMemoryLimit(t, svc, 300, "the interrupted update did not go on")
	fltVerifyLater(t, svc, state, r.stderr.String(), "")
	if got := cluster.Redis(t, newTask.Node.Addr, port).DBSize(context.Background()).Val(); got < n {
		t.Errorf("DBSIZE %d after the interrupted update, want at least %d", got, n)
	}
}

// TestFaultDiskFullAtSave: the data volume is a 2 MB tmpfs and the dataset
// does not fit: the cut's SAVE fails, the update is not sent, writes are not
// left paused, and every key is still there.
func TestFaultDiskFullAtSave(t *testing.T) {
	C.RequirePlugin(t)
	svc := C.ServiceName(t)
	vol := C.VolumeName(t)
	port := cluster.FreePort(t)
	C.Docker(t, 1, "volume", "create", "--opt", "type=tmpfs", "--opt", "device=tmpfs", "--opt", "o=size=2m", vol)
	C.Docker(t, 1, "stateful", "create", "--quiet", "--name", svc, "-p", cluster.PublishRedis(port), "--no-resolve-image",
		"--mount", "type=volume,source="+vol+",target=/data", "redis", "redis-server", "--protected-mode", "no", "--save", "")
	task := C.WaitRunning(t, svc)
	rdb := cluster.Redis(t, task.Node.Addr, port)
	ctx := context.Background()
	pipe := rdb.Pipeline()
	for i := 0; i < 4000; i++ { // 4 MB that LZF cannot compress
		v := make([]byte, 1000)
		_, _ = rand.Read(v)
		pipe.Set(ctx, fmt.Sprintf("big:%04d", i), v, 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	spec := fltSpecOf(t, svc)
	r := vfyStateful(t, "update", "--verify", "--state-dir", t.TempDir(), "--limit-memory", "300M", svc)
	if r.ExitCode() == 0 || !strings.Contains(r.Stderr, "SAVE failed") || !strings.Contains(r.Stderr, "not sent") {
		t.Errorf("disk full at SAVE: exit %d, want non-zero with \"SAVE failed\" and \"not sent\"", r.ExitCode())
	}
	spec.unchanged(t, "the save failed")
	fltWritesOpen(t, fmt.Sprintf("%s:%d", task.Node.Addr, port), 2*time.Second, "after the refusal")
	if got := rdb.DBSize(ctx).Val(); got != 4000+1 {
		t.Errorf("DBSIZE %d, want 4000 keys + the probe", got)
	}
}

// TestFaultACLWithoutRights: a Redis user that may not CLIENT PAUSE, CONFIG
// or SAVE gets one clear line, nothing is sent, and no key is touched.
func TestFaultACLWithoutRights(t *testing.T) {
	C.RequirePlugin(t)
	svc, port, _, task := vfyCreate(t, "redis-server", "--protected-mode", "no")
	rdb := cluster.Redis(t, task.Node.Addr, port)
	ctx := context.Background()
	if err := rdb.Do(ctx, "ACL", "SETUSER", "app", "on", ">apppass", "~*", "&*", "+@all", "-client", "-config", "-save", "-bgsave").Err(); err != nil {
		t.Fatal(err)
	}
	n := vfyLoad(t, rdb, 500)
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("apppass\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	spec := fltSpecOf(t, svc)
	update := func() cluster.Result {
		return vfyStateful(t, "update", "--verify", "--state-dir", t.TempDir(), "--redis-password-file", pw,
			"--redis-url", fmt.Sprintf("redis://app@%s:%d", task.Node.Addr, port), "--limit-memory", "300M", svc)
	}
	r := update()
	if r.ExitCode() == 0 || !strings.Contains(r.Stderr, "not sent") {
		t.Errorf("ACL user without rights: exit %d, want non-zero and \"not sent\"", r.ExitCode())
	}
	if !strings.Contains(r.Stderr, "may not run CLIENT") || !strings.Contains(r.Stderr, "NOPERM") {
		t.Errorf("stderr does not say which right is missing:\n%s", r.Stderr)
	}
	if strings.Contains(r.Stderr, "apppass") || strings.Contains(r.Stdout, "apppass") {
		t.Errorf("the password is printed")
	}
	// CLIENT allowed, SAVE not: said so, not "disk space"
	if err := rdb.Do(ctx, "ACL", "SETUSER", "app", "+client").Err(); err != nil {
		t.Fatal(err)
	}
	r = update()
	if r.ExitCode() == 0 || !strings.Contains(r.Stderr, "may not run SAVE") || strings.Contains(r.Stderr, "disk space") {
		t.Errorf("ACL user without SAVE: exit %d, want non-zero and a line saying SAVE is not allowed", r.ExitCode())
	}
	spec.unchanged(t, "the user may not cut")
	fltWritesOpen(t, fmt.Sprintf("%s:%d", task.Node.Addr, port), 2*time.Second, "after the refusals")
	if got := rdb.DBSize(ctx).Val(); got != n+1 {
		t.Errorf("DBSIZE %d, want %d + the probe", got, n)
	}
}

// TestFaultTTLsExpireDuringUpdate: 100k keys of every type whose TTLs run
// out during update --verify are EXPIRED, never MISSING: verified, and the
// keys without a TTL are all there.
func TestFaultTTLsExpireDuringUpdate(t *testing.T) {
	C.RequirePlugin(t)
	svc, port, rdb, _ := vfyCreate(t)
	n := vfyLoad(t, rdb, 1000)
	ctx := context.Background()
	pipe := rdb.Pipeline()
	const short = 100000
	for i := 0; i < short; i++ {
		k := fmt.Sprintf("exp:%06d", i)
		switch i % 5 {
		case 0:
			pipe.Set(ctx, k, i, 0)
		case 1:
			pipe.HSet(ctx, k, "f", i)
		case 2:
			pipe.RPush(ctx, k, i)
		case 3:
			pipe.SAdd(ctx, k, i)
		case 4:
			pipe.ZAdd(ctx, k, redis.Z{Score: float64(i), Member: "m"})
		}
		// 3 to 6 s from now: most run out after the cut, before the check
		pipe.PExpire(ctx, k, 3*time.Second+time.Duration(i%3000)*time.Millisecond)
		if i%2000 == 1999 {
			if _, err := pipe.Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	r := vfyStateful(t, "update", "--verify", "--state-dir", t.TempDir(), "--format", "json", "--limit-memory", "300M", svc)
	var res vfyUpdateResult
	vfyJSON(t, r.Stdout, &res)
	rep := res.Report
	if r.ExitCode() != 0 || rep == nil || res.Verdict != "verified" {
		t.Fatalf("update --verify with expiring keys: exit %d, verdict %s", r.ExitCode(), res.Verdict)
	}
	t.Logf("before %d keys, after %d; EXPIRED %d, MISSING %d", rep.BeforeKeys, rep.AfterKeys, rep.count("EXPIRED"), rep.count("MISSING"))
	if rep.count("MISSING") != 0 || rep.count("CHANGED") != 0 {
		t.Errorf("MISSING %d, CHANGED %d: expiring keys counted as loss", rep.count("MISSING"), rep.count("CHANGED"))
	}
	if rep.count("EXPIRED") == 0 {
		t.Errorf("no key EXPIRED: the test did not let TTLs run out during the update (before %d keys)", rep.BeforeKeys)
	}
	after := cluster.Redis(t, C.WaitRunning(t, svc).Node.Addr, port)
	time.Sleep(3 * time.Second)
	// DBSIZE counts expired keys Redis has not reclaimed yet (its active
	// expiry leaves up to 10%); SCAN returns only live ones
	var live int64
	for cursor := uint64(0); ; {
		keys, next, err := after.Scan(ctx, cursor, "", 1000).Result()
		if err != nil {
			t.Fatal(err)
		}
		live += int64(len(keys))
		if cursor = next; cursor == 0 {
			break
		}
	}
	if live != n {
		t.Errorf("%d live keys once every short TTL ran out, want the %d keys without one", live, n)
	}
}

// TestFaultPinnedEngineDies: the engine of the node the service is pinned
// to dies (SIGKILL: its Redis keeps running under containerd), with a writer
// recording every acknowledged write.
//
//  1. After the cut, before sending: the node turns Down, the update is
//     refused right before sending (nothing sent), writes resume at once.
//     The cut's save (BGSAVE) is made to last seconds (rdb-key-save-delay), so the
//     plugin is surely frozen inside the cut, however busy the machine.
//  2. Right before sending (the node still Ready): the update is sent, the
//     old task is never seen stopped; writes are held no longer than the
//     grace period + margin, then resume with the reason. Once the engine is
//     back it stops the old container (Redis saves), the new task starts on
//     the pinned node with every key and every acknowledged write.
func TestFaultPinnedEngineDies(t *testing.T) {
	C.RequirePlugin(t)
	node2 := fltNodeEngine(t, 2)
	svc, port, task, n := fltCreatePinned(t, 2)
	addr := fmt.Sprintf("%s:%d", task.Node.Addr, port)
	spec := fltSpecOf(t, svc)
	w := fltStartWriter(addr)

	// 1. the engine dies after the cut
	ctx := context.Background()
	rdb := cluster.Redis(t, task.Node.Addr, port)
	if err := rdb.ConfigSet(ctx, "rdb-key-save-delay", "100").Err(); err != nil { // µs per key: the save takes 4 s
		t.Fatal(err)
	}
	r := fltStart(t, "update", "--verify", "--state-dir", t.TempDir(), "--limit-memory", "300M", svc)
	// in the cut, long before sending: the fingerprint has run (its
	// connections are open) and the plugin waits for the save, which lasts
	// seconds; "Pausing writes" came too early (frozen before its first
	// connection, the plugin then met a node it could not dial)
	r.freeze(t, "waiting for the background save", time.Minute, func() { node2.waitDown(t, node2.kill(t)) })
	code := r.wait(t, time.Minute)
	// back to no delay before anything stops this Redis: its shutdown save
	// must fit in the 1s grace period
	if err := rdb.ConfigSet(ctx, "rdb-key-save-delay", "0").Err(); err != nil {
		t.Fatal(err)
	}
	if code != 1 || !strings.Contains(r.stderr.String(), C.Node(2).Hostname+", is down") || !strings.Contains(r.stderr.String(), "not sent") {
		t.Errorf("pinned node down before sending: exit %d, want 1 and a line naming the node down and nothing sent", code)
	}
	fltWritesOpen(t, addr, 2*time.Second, "to the still running Redis")
	spec.unchanged(t, "the pinned node is down")
	node2.restart(t)
	task = fltRunningAgain(t, svc, task.ID)

	// 2. the engine dies as the update is sent
	r = fltStart(t, "update", "--verify", "--detach", "--no-rollback", "--verify-timeout", "5s", "--state-dir", t.TempDir(), "--limit-memory", "300M", svc)
	var killed time.Time
	r.freeze(t, "Sending the update", time.Minute, func() { killed = node2.kill(t) })
	r.waitFor(t, "Writes resumed", 2*time.Minute)
	held := time.Since(killed)
	fltWritesOpen(t, addr, 2*time.Second, "to the still running Redis after \"Writes resumed\"")
	code = r.wait(t, time.Minute)
	t.Logf("writes held %s after the engine died", held.Round(100*time.Millisecond))
	if !strings.Contains(r.stderr.String(), "Writes resumed: the old task was not seen stopped within 31s") || held > 40*time.Second {
		t.Errorf("writes held %s, want at most the 1s grace period + 30s margin, and the reason said", held)
	}
	if code != 1 {
		t.Errorf("exit %d, want 1 (not verified, --no-rollback)", code)
	}
	node2.restart(t)
	now := fltRunningAgain(t, svc, task.ID)
	fltOnNode(t, now, 2)
	w.check(t, cluster.Redis(t, now.Node.Addr, port), n)
}

// TestFaultPinnedEngineStopped: the engine of the node the service is
// pinned to is stopped gracefully (SIGTERM: dockerd stops its containers,
// Redis saves on its way out) and started again, with a writer recording
// every acknowledged write.
//
//  1. As the update is sent, until the manager sees the node down: writes
//     are held no longer than the stop grace period + margin; once the engine
//     is back the new task starts on the pinned node, and the check of its
//     process verifies the data (exit 0).
//  2. During the check of the new process, once the update converged: the
//     process goes away mid-check, which proves no loss and no intact data:
//     could not decide (exit 2), nothing rolled back; once the engine is
//     back, the command it printed verifies the data.
//
// Either way no key of the cut and no acknowledged write is lost, and the
// service runs on its pinned node.
func TestFaultPinnedEngineStopped(t *testing.T) {
	C.RequirePlugin(t)
	node2 := fltNodeEngine(t, 2)
	svc, port, task, n := fltCreatePinned(t, 2)
	addr := fmt.Sprintf("%s:%d", task.Node.Addr, port)
	w := fltStartWriter(addr)
	time.Sleep(300 * time.Millisecond)
	state := t.TempDir()

	// 1. as the update is sent
	r := fltStart(t, "update", "--verify", "--format", "json", "--verify-timeout", "45s", "--state-dir", state, "--limit-memory", "300M", svc)
	var stopped time.Time
	r.freeze(t, "Sending the update", time.Minute, func() { stopped = node2.stop(t) })
	node2.waitDown(t, stopped)
	node2.start(t)
	r.waitFor(t, "Writes resumed", time.Minute)
	held := time.Since(stopped)
	code, res := r.result(t, 2*time.Minute)
	t.Logf("engine stopped as the update was sent: writes held %s after it stopped; exit %d, verdict %s, rolled back %v",
		held.Round(100*time.Millisecond), code, res.Verdict, res.RolledBack)
	if held > 40*time.Second {
		t.Errorf("writes held %s after sending, want at most the 1s grace period + 30s margin", held)
	}
	if rep := res.Report; code != 0 || res.Verdict != "verified" || rep == nil || rep.AfterRunID == rep.BeforeRunID ||
		rep.count("MISSING") != 0 || rep.count("CHANGED") != 0 {
		t.Errorf("engine stopped as the update was sent: exit %d, verdict %s; want 0, verified by a check of the new process", code, res.Verdict)
	}
	node2.waitReady(t)
	task = C.WaitRunning(t, svc)
	fltOnNode(t, task, 2)

	// 2. during the check of the new process. The plugin is frozen when it
	// says the new process is ready: 400k more keys make its check last about
	// a second, so that the freeze surely lands inside it (writes held).
	const pad = 400_000
	fltPad(t, cluster.Redis(t, task.Node.Addr, port), pad)
	r = fltStart(t, "update", "--verify", "--format", "json", "--verify-timeout", "30s", "--state-dir", state, "--limit-memory", "400M", svc)
	r.freezeBefore(t, "New Redis process", "Writes released on Redis process", 2*time.Minute, func() {
		for end := time.Now().Add(30 * time.Second); updInspect(t, svc, "{{.UpdateStatus.State}}") != "completed"; time.Sleep(200 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatal("the update did not converge")
			}
		}
		node2.stop(t)
	})
	code, res = r.result(t, time.Minute)
	t.Logf("engine stopped during the check: exit %d, verdict %s, rolled back %v", code, res.Verdict, res.RolledBack)
	if code != 2 || res.Verdict != "unverified" || res.RolledBack || !strings.Contains(r.stderr.String(), "could not decide") {
		t.Errorf("Redis gone during the check: exit %d, verdict %s, rolled back %v; want 2, unverified, not rolled back, and the reason said", code, res.Verdict, res.RolledBack)
	}
	node2.restart(t)
	now := C.WaitRunning(t, svc)
	fltOnNode(t, now, 2)
	fltMemoryLimit(t, svc, 400, "the second update's: it was rolled back")
	fltVerifyLater(t, svc, state, r.stderr.String(), res.Snapshot)
	fltWritesOpen(t, addr, 2*time.Second, "after the run")
	w.check(t, cluster.Redis(t, now.Node.Addr, port), n+pad)
}

// TestFaultPinnedNodeCutOff: the node the service is pinned to is cut off
// from the network (its Redis port drops every packet from outside) during
// the check of the new process, and reconnected once the run ended, with a
// writer recording every acknowledged write. The check ends within
// --verify-timeout of the cut (not after the minute-long read timeout); the
// update converged and the new process answered with its data loaded, so
// losing it during the check is "could not decide" (exit 2) and nothing is
// rolled back (a rollback would restart Redis on no evidence of a loss and
// could drop writes it acknowledged). Once reconnected, writes are not left
// paused, the command it printed verifies the data, and no key of the cut
// and no acknowledged write is lost.
func TestFaultPinnedNodeCutOff(t *testing.T) {
	C.RequirePlugin(t)
	if len(C.Nodes) < 2 {
		t.Skip("needs 2 nodes")
	}
	svc, port, task, n := fltCreatePinned(t, 2)
	addr := fmt.Sprintf("%s:%d", task.Node.Addr, port)
	w := fltStartWriter(addr)
	time.Sleep(300 * time.Millisecond)
	state := t.TempDir()

	const timeout = 15 * time.Second
	r := fltStart(t, "update", "--verify", "--format", "json", "--verify-timeout", timeout.String(), "--state-dir", state, "--limit-memory", "300M", svc)
	var reconnect func()
	var cut time.Time
	// in the check, writes held
	r.freezeBefore(t, "New Redis process", "Writes released on Redis process", 2*time.Minute, func() {
		reconnect, cut = fltCutOff(t, C.Node(2), port), time.Now()
	})
	code, res := r.result(t, 3*time.Minute)
	took := time.Since(cut)
	reconnect()
	t.Logf("cut off during the check: ended %s later, exit %d, verdict %s, rolled back %v", took.Round(100*time.Millisecond), code, res.Verdict, res.RolledBack)
	if stderr := r.stderr.String(); code != 2 || res.Verdict != "unverified" || res.RolledBack || !strings.Contains(stderr, "could not decide") || !strings.Contains(stderr, "nothing was rolled back") {
		t.Errorf("Redis lost during the check: exit %d, verdict %s, rolled back %v; want 2, unverified, not rolled back, and the reason said", code, res.Verdict, res.RolledBack)
	}
	// a read that gets no answer for --verify-timeout ends the check; then
	// the release of the hold (UNPAUSE, up to 5 s) and its keeper's last
	// renewal (up to 2 s)
	if took > timeout+15*time.Second {
		t.Errorf("the check ran %s after the node was cut off, with --verify-timeout %s", took, timeout)
	}
	now := C.WaitRunning(t, svc)
	fltWritesOpen(t, addr, 5*time.Second, "once the node is back")
	if now.ID == task.ID {
		t.Errorf("the old task still runs: the update was rolled back")
	}
	fltMemoryLimit(t, svc, 300, "the update is not the one running: it was rolled back")
	fltVerifyLater(t, svc, state, r.stderr.String(), res.Snapshot)
	fltOnNode(t, now, 2)
	w.check(t, cluster.Redis(t, now.Node.Addr, port), n)
}

// TestFaultRedisKilled: Redis is killed (SIGKILL, no shutdown save)
//
//  1. during the cut (its BGSAVE runs during the fingerprint): nothing is
//     sent (exit 2), and once swarm has restarted the task every key is back
//     (the test saves first: a kill before the cut's save has finished loses
//     what Redis never saved, as it would without the cut);
//  2. after the update, before the check: swarm restarts the new task (and
//     may pause the update: a task failed within its monitor period), the
//     check waits for the restarted process and verifies the data, or rolls
//     back with the data back; either way no key of the cut is lost.
func TestFaultRedisKilled(t *testing.T) {
	C.RequirePlugin(t)
	svc, port, rdb, task := vfyCreate(t)
	n := vfyLoad(t, rdb, 1000)
	if err := rdb.Save(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	spec := fltSpecOf(t, svc)
	kill := func(tk cluster.Task) {
		C.Docker(t, tk.Node.Index, "kill", tk.Container)
	}

	// 1. during the cut (the save and the fingerprint run)
	r := fltStart(t, "update", "--verify", "--state-dir", t.TempDir(), "--limit-memory", "300M", svc)
	r.freeze(t, "saving in the background (BGSAVE)", time.Minute, func() { kill(task) })
	if code := r.wait(t, time.Minute); code != 2 || !strings.Contains(r.stderr.String(), "not sent") {
		t.Errorf("Redis killed during the cut: exit %d, want 2 and nothing sent", code)
	}
	spec.unchanged(t, "Redis was killed during the cut")
	task = fltRunningAgain(t, svc, task.ID)
	if got := cluster.Redis(t, task.Node.Addr, port).DBSize(context.Background()).Val(); got != n {
		t.Errorf("DBSIZE %d once the task restarted, want the cut's %d", got, n)
	}

	// 2. after the update, before the check
	r = fltStart(t, "update", "--verify", "--state-dir", t.TempDir(), "--format", "json", "--limit-memory", "300M", svc)
	r.freeze(t, "Writes resumed", time.Minute, func() { kill(fltRunningAgain(t, svc, task.ID)) })
	code, res := r.result(t, 3*time.Minute)
	switch {
	case code == 0 && res.Verdict == "verified" && res.Report != nil && res.Report.count("MISSING") == 0:
	// swarm saw the new task fail within its monitor period and paused the
	// update: the data is verified, docker's error stays the exit status
	case code == 1 && res.Verdict == "verified" && res.Report != nil && res.Report.count("MISSING") == 0 &&
		strings.Contains(r.stderr.String(), "service update paused"):
	case code == 1 && res.RolledBack && res.RollbackReport != nil && res.RollbackReport.Verdict == "verified":
	default:
		t.Errorf("Redis killed before the check: exit %d, verdict %s, rolled back %v: want verified, or rolled back with the data verified", code, res.Verdict, res.RolledBack)
	}
	t.Logf("Redis killed before the check: exit %d, verdict %s, rolled back %v", code, res.Verdict, res.RolledBack)
	if got := cluster.Redis(t, C.WaitRunning(t, svc).Node.Addr, port).DBSize(context.Background()).Val(); got != n {
		t.Errorf("DBSIZE %d at the end, want the cut's %d", got, n)
	}
}

// TestFaultRollbackRace: while update --verify checks an update that lost
// the data, someone else updates the service (a label). The rollback would
// restore the previous spec, now this run's own update, over theirs: it is
// refused with a line saying so, and their update stays.
func TestFaultRollbackRace(t *testing.T) {
	C.RequirePlugin(t)
	svc, _, rdb, _ := vfyCreate(t)
	vfyLoad(t, rdb, 200)
	empty := C.VolumeName(t)
	r := fltStart(t, "update", "--verify", "--state-dir", t.TempDir(), "--force",
		"--mount-rm", "/data", "--mount-add", "type=volume,source="+empty+",target=/data", svc)
	r.freeze(t, "New Redis process", 2*time.Minute, func() {
		C.Docker(t, 1, "service", "update", "--detach", "--label-add", "e2e.other=yes", svc)
	})
	code := r.wait(t, 2*time.Minute)
	stderr := r.stderr.String()
	if code != 1 || !strings.Contains(stderr, "was changed after this run's update") || !strings.Contains(stderr, "not rolled back") {
		t.Errorf("rollback over someone else's update: exit %d, want 1 and a line saying it was not rolled back over it", code)
	}
	if got := updInspect(t, svc, `{{index .Spec.Labels "e2e.other"}}`); got != "yes" {
		t.Errorf("the other update's label is %q: it was rolled back over", got)
	}
	if got := updInspect(t, svc, `{{index .PreviousSpec.Labels "e2e.other"}}`); got != "" {
		t.Errorf("the previous spec has the other update's label: something was rolled back")
	}
}
