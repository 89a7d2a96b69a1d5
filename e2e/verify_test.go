//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/docker-stateful/docker-stateful/e2e/cluster"
)

// vfyReport is the part of redisstate.Report the tests read.
type vfyReport struct {
	Before      string `json:"before"`
	BeforeKeys  int64  `json:"before_keys"`
	AfterKeys   int64  `json:"after_keys"`
	DigestEqual bool   `json:"digest_equal"`
	BeforeRunID string `json:"before_run_id"`
	AfterRunID  string `json:"after_run_id"`
	Classes     map[string]struct {
		Count int64 `json:"count"`
		Keys  []struct {
			Key string `json:"key"`
		} `json:"keys"`
	} `json:"classes"`
	Verdict string `json:"verdict"`
}

func (r vfyReport) count(class string) int64 { return r.Classes[class].Count }

// vfyUpdateResult is update --verify --format json.
type vfyUpdateResult struct {
	Service        string `json:"service"`
	Snapshot       string `json:"snapshot"`
	Redis          struct{ Addr, Reason string }
	Report         *vfyReport `json:"report"`
	RolledBack     bool       `json:"rolled_back"`
	RollbackReport *vfyReport `json:"rollback_report"`
	Restored       []string   `json:"restored"`
	StopSave       string     `json:"stop_save"`
	Verdict        string     `json:"verdict"`
}

// vfyJSON decodes stdout, which must be one JSON document (with --format
// json, docker's own output of the update goes to stderr).
func vfyJSON(t *testing.T, stdout string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(stdout), v); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, stdout)
	}
}

func vfyStateful(t *testing.T, args ...string) cluster.Result {
	t.Helper()
	r := C.Run(t, 1, append([]string{"stateful"}, args...)...)
	t.Logf("stdout:\n%s\nstderr:\n%s", vfyTrim(r.Stdout), r.Stderr)
	return r
}

// vfyTrim drops docker's repeated convergence lines from a log.
func vfyTrim(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, "Waiting") && strings.Contains(l, "to verify that tasks are stable") {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// vfyLoad writes a mixed dataset of every type and encoding: strings,
// small (listpack) and large (hashtable) hashes, sets (intset, listpack,
// hashtable), zsets (listpack, skiplist), lists, streams with a consumer group,
// and keys with TTLs. It returns the number of keys written.
func vfyLoad(t *testing.T, rdb *redis.Client, strs int) int64 {
	t.Helper()
	ctx := context.Background()
	var n int64
	pipe := rdb.Pipeline()
	flush := func() {
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatalf("loading the dataset: %v", err)
		}
	}
	add := func(i int) {
		n++
		if i%500 == 499 {
			flush()
		}
	}
	for i := 0; i < strs; i++ {
		pipe.Set(ctx, fmt.Sprintf("str:%05d", i), strings.Repeat(strconv.Itoa(i), 1+i%7), 0)
		add(i)
	}
	for i := 0; i < 1000; i++ {
		pipe.HSet(ctx, fmt.Sprintf("hash:small:%04d", i), "a", i, "b", "x", "c", i*2)
		add(i)
	}
	for i := 0; i < 20; i++ {
		args := make([]any, 0, 1200)
		for f := 0; f < 600; f++ {
			args = append(args, fmt.Sprintf("field%03d", f), fmt.Sprintf("v%d-%d", i, f))
		}
		pipe.HSet(ctx, fmt.Sprintf("hash:large:%02d", i), args...)
		add(i)
	}
	for i := 0; i < 800; i++ {
		pipe.SAdd(ctx, fmt.Sprintf("set:int:%04d", i), i, i+1, i+2)
		pipe.SAdd(ctx, fmt.Sprintf("set:str:%04d", i), "a", "b", fmt.Sprint("m", i))
		n++
		add(i)
	}
	for i := 0; i < 20; i++ {
		args := make([]any, 300)
		for m := range args {
			args[m] = fmt.Sprintf("member-%d-%d", i, m)
		}
		pipe.SAdd(ctx, fmt.Sprintf("set:large:%02d", i), args...)
		add(i)
	}
	for i := 0; i < 800; i++ {
		pipe.ZAdd(ctx, fmt.Sprintf("zset:small:%04d", i), redis.Z{Score: float64(i), Member: "a"}, redis.Z{Score: 1.5, Member: "b"})
		add(i)
	}
	for i := 0; i < 20; i++ {
		zs := make([]redis.Z, 300)
		for m := range zs {
			zs[m] = redis.Z{Score: float64(m) / 3, Member: fmt.Sprintf("m%d", m)}
		}
		pipe.ZAdd(ctx, fmt.Sprintf("zset:large:%02d", i), zs...)
		add(i)
	}
	for i := 0; i < 800; i++ {
		pipe.RPush(ctx, fmt.Sprintf("list:%04d", i), "first", i, "last")
		add(i)
	}
	for i := 0; i < 300; i++ {
		k := fmt.Sprintf("stream:%03d", i)
		for e := 0; e < 5; e++ {
			pipe.XAdd(ctx, &redis.XAddArgs{Stream: k, Values: []any{"n", e, "s", i}})
		}
		if i%10 == 0 {
			pipe.XGroupCreate(ctx, k, "g1", "0")
		}
		add(i)
	}
	for i := 0; i < 1000; i++ {
		pipe.Set(ctx, fmt.Sprintf("ttl:%04d", i), i, time.Hour+time.Duration(i)*time.Second)
		add(i)
	}
	flush()
	if got := rdb.DBSize(ctx).Val(); got != n {
		t.Fatalf("loaded %d keys, DBSIZE %d", n, got)
	}
	return n
}

// vfyCreate creates a service with docker stateful create on a fresh host-mode
// port and returns its name, port and a client to its Redis.
func vfyCreate(t *testing.T, extra ...string) (string, int, *redis.Client, cluster.Task) {
	t.Helper()
	svc, port := C.CreateRedis(t, []string{"stateful", "create"}, extra...)
	task := C.WaitRunning(t, svc)
	if len(extra) > 0 { // redis-server args (maybe a password): no client here
		return svc, port, nil, task
	}
	rdb, task := C.ServiceRedis(t, svc, port)
	return svc, port, rdb, task
}

// TestVerifyUpdateKeepsData: 10k+ keys of every type survive
// `update --verify --limit-memory 200M` (the container is replaced: a new
// process with a new hash seed, so no false CHANGED).
func TestVerifyUpdateKeepsData(t *testing.T) {
	C.RequirePlugin(t)
	svc, _, rdb, task := vfyCreate(t)
	n := vfyLoad(t, rdb, 6000)
	state := t.TempDir()

	start := time.Now()
	r := vfyStateful(t, "update", "--verify", "--state-dir", state, "--format", "json", "--limit-memory", "200M", svc)
	t.Logf("update --verify of %d keys: %s", n, time.Since(start).Round(time.Millisecond))
	if r.ExitCode() != 0 {
		t.Fatalf("update --verify: exit %d", r.ExitCode())
	}
	var res vfyUpdateResult
	vfyJSON(t, r.Stdout, &res)
	rep := res.Report
	if rep == nil || res.Verdict != "verified" || rep.Verdict != "verified" || !rep.DigestEqual ||
		rep.BeforeKeys != n || rep.AfterKeys != n || rep.count("MISSING") != 0 || rep.count("CHANGED") != 0 {
		t.Fatalf("update --verify report: %+v / %+v, want all %d keys verified, digest equal, CHANGED 0", res, rep, n)
	}
	if rep.BeforeRunID == rep.AfterRunID || rep.AfterRunID == "" {
		t.Errorf("run_id %q -> %q: the Redis process was not replaced", rep.BeforeRunID, rep.AfterRunID)
	}
	if now := C.WaitRunning(t, svc); now.ID == task.ID {
		t.Errorf("task %s not replaced by the update", task.ID)
	}
	for _, w := range []string{"Redis of service " + svc, "host-mode port", "Pausing writes", "Snapshot " + res.Snapshot, "Old task stopped", "Writes resumed", "New Redis process"} {
		if !strings.Contains(r.Stderr, w) {
			t.Errorf("stderr lacks %q", w)
		}
	}
	// The old Redis stopped without saving a second time: the cut's save held
	// its data (and every key is in the new process, above).
	if res.StopSave != "skipped" || !strings.Contains(r.Stderr, "stops without saving again") {
		t.Errorf("stop_save %q, want skipped", res.StopSave)
	}
	logs := C.Run(t, 1, "service", "logs", "--raw", svc)
	if !strings.Contains(logs.Stdout+logs.Stderr, "User requested shutdown") || strings.Contains(logs.Stdout+logs.Stderr, "Saving the final RDB snapshot") {
		t.Errorf("the old task's log does not show a shutdown without a save:\n%s%s", logs.Stdout, logs.Stderr)
	}
	if mem := updInspect(t, svc, "{{.Spec.TaskTemplate.Resources.Limits.MemoryBytes}}"); mem != strconv.Itoa(200<<20) {
		t.Errorf("memory limit %s, want 200M", mem)
	}

	// an update that replaces no task (a service label): same process,
	// verified, and writes are not held waiting for a stop that never comes
	task = C.WaitRunning(t, svc)
	start = time.Now()
	r = vfyStateful(t, "update", "--verify", "--state-dir", state, "--label-add", "e2e=verify", svc)
	if r.ExitCode() != 0 || !strings.Contains(r.Stderr, "replaces no task") || !strings.Contains(r.Stdout, "Verdict: verified") {
		t.Errorf("label-only update --verify: exit %d", r.ExitCode())
	}
	if d := time.Since(start); d > time.Minute {
		t.Errorf("label-only update --verify took %s", d)
	}
	if now := C.WaitRunning(t, svc); now.ID != task.ID {
		t.Errorf("a label-only update replaced the task")
	}
}

// TestVerifyWriterLosesNothing: a client keeps adding keys during
// update --verify, retrying on errors (timeouts while writes are paused,
// connection refused while the task is replaced) and recording what Redis
// acknowledged. The service runs redis-server --save "" (no shutdown save):
// only the cut's SAVE with writes paused until the old process exited keeps
// the acknowledged writes. None is lost; keys written after the cut are NEW,
// and the verdict passes.
func TestVerifyWriterLosesNothing(t *testing.T) {
	C.RequirePlugin(t)
	svc, port, _, task := vfyCreate(t, "redis-server", "--protected-mode", "no", "--save", "")
	rdb := cluster.Redis(t, task.Node.Addr, port)
	n := vfyLoad(t, rdb, 1000)
	state := t.TempDir()
	// A writer that keeps adding keys during the update, retrying on
	// errors (connection refused while the task is replaced, timeouts while
	// writes are paused) and recording what Redis acknowledged.
	w := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("%s:%d", task.Node.Addr, port),
		DialTimeout: time.Second, ReadTimeout: 3 * time.Second, WriteTimeout: 3 * time.Second, MaxRetries: -1, PoolSize: 1})
	defer w.Close()
	var mu sync.Mutex
	var acked []int
	retries := 0
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; {
			select {
			case <-stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
			err := w.Set(ctx, fmt.Sprintf("writer:%06d", i), i, 0).Err()
			cancel()
			if err != nil {
				mu.Lock()
				retries++
				mu.Unlock()
				time.Sleep(100 * time.Millisecond)
				continue // same key again
			}
			mu.Lock()
			acked = append(acked, i)
			mu.Unlock()
			i++
			time.Sleep(5 * time.Millisecond)
		}
	}()
	time.Sleep(time.Second)
	mu.Lock()
	beforeUpdate := len(acked)
	mu.Unlock()
	r := vfyStateful(t, "update", "--verify", "--state-dir", state, "--limit-memory", "300M", svc)
	time.Sleep(2 * time.Second) // a few writes to the new process
	close(stop)
	<-done
	if r.ExitCode() != 0 {
		t.Fatalf("update --verify with a writer: exit %d", r.ExitCode())
	}
	// The check compares the data as the new process loaded it (writes held
	// from its load): the writer's keys after the cut are NEW only if it
	// reached the new process before the hold; either way, verified.
	if !regexp.MustCompile(`(?m)^Verdict: verified`).MatchString(r.Stdout) || regexp.MustCompile(`(?m)^  (MISSING|CHANGED) +[1-9]`).MatchString(r.Stdout) {
		t.Errorf("report is not verified:\n%s", r.Stdout)
	}
	newKeys := 0
	if m := regexp.MustCompile(`NEW +(\d+) \(written after the cut`).FindStringSubmatch(r.Stdout); m != nil {
		newKeys, _ = strconv.Atoi(m[1])
	}
	if !strings.Contains(r.Stderr, `warning: save "" and appendonly no`) {
		t.Errorf("no warning about save \"\"")
	}
	mu.Lock()
	total := len(acked)
	mu.Unlock()
	t.Logf("writer: %d writes acknowledged (%d before the update), %d retries; report: NEW %d", total, beforeUpdate, retries, newKeys)
	if total <= beforeUpdate {
		t.Errorf("no writes after the cut (acked %d then %d): the test did not exercise a writer", beforeUpdate, total)
	}
	// every acknowledged write is there
	check := cluster.Redis(t, C.WaitRunning(t, svc).Node.Addr, port)
	ctx := context.Background()
	var lost []int
	for i := 0; i < len(acked); i += 500 {
		end := min(i+500, len(acked))
		keys := make([]string, 0, end-i)
		for _, k := range acked[i:end] {
			keys = append(keys, fmt.Sprintf("writer:%06d", k))
		}
		vals, err := check.MGet(ctx, keys...).Result()
		if err != nil {
			t.Fatal(err)
		}
		for j, v := range vals {
			if v != strconv.Itoa(acked[i+j]) {
				lost = append(lost, acked[i+j])
			}
		}
	}
	if len(lost) > 0 {
		t.Errorf("%d acknowledged writes lost, e.g. writer:%06d", len(lost), lost[0])
	}
	if got := check.DBSize(ctx).Val(); got != n+int64(total) {
		t.Errorf("DBSIZE %d, want %d dataset keys + %d acknowledged writes", got, n, total)
	}
}

// TestVerifyUpdateLosingDataRollsBack: an update that puts /data on a fresh
// empty volume (--force overrides the refusals) is proven to lose every key,
// rolled back, and the data is back; exit status 1.
func TestVerifyUpdateLosingDataRollsBack(t *testing.T) {
	C.RequirePlugin(t)
	svc, port, rdb, _ := vfyCreate(t)
	n := vfyLoad(t, rdb, 500)
	vol := updInspect(t, svc, "{{range .Spec.TaskTemplate.ContainerSpec.Mounts}}{{.Source}}{{end}}")
	empty := C.VolumeName(t)
	v0 := updVersion(t, svc)

	r := vfyStateful(t, "update", "--verify", "--state-dir", t.TempDir(), "--format", "json", "--force",
		"--mount-rm", "/data", "--mount-add", "type=volume,source="+empty+",target=/data", svc)
	if r.ExitCode() == 0 {
		t.Fatalf("update --verify that loses the data: exit 0")
	}
	var res vfyUpdateResult
	vfyJSON(t, r.Stdout, &res)
	if res.Report == nil || res.Verdict != "failed" || res.Report.count("MISSING") != n || res.Report.AfterKeys != 0 {
		t.Errorf("report %+v: want all %d keys MISSING", res.Report, n)
	}
	if !res.RolledBack || res.RollbackReport == nil || res.RollbackReport.Verdict != "verified" || !res.RollbackReport.DigestEqual {
		t.Errorf("rollback: %v, report after it %+v: want rolled back and verified", res.RolledBack, res.RollbackReport)
	}
	if !strings.Contains(strings.Join(res.Restored, " "), "The rollback restored the data") ||
		!strings.Contains(strings.Join(res.Restored, " "), vol) {
		t.Errorf("restored = %q, want it to say the data and volume %s are back", res.Restored, vol)
	}
	if !strings.Contains(r.Stderr, "failed: its data did not survive, the service was rolled back") {
		t.Errorf("stderr does not say the update failed and was rolled back")
	}
	// the service is back on its volume, with its data
	if got := updInspect(t, svc, "{{range .Spec.TaskTemplate.ContainerSpec.Mounts}}{{.Source}}{{end}}"); got != vol {
		t.Errorf("after the rollback /data is on %q, want %q", got, vol)
	}
	if v := updVersion(t, svc); v == v0 {
		t.Errorf("spec version unchanged: nothing was sent")
	}
	after := cluster.Redis(t, C.WaitRunning(t, svc).Node.Addr, port)
	ctx := context.Background()
	if got := after.DBSize(ctx).Val(); got != n {
		t.Errorf("DBSIZE after the rollback %d, want %d", got, n)
	}
	if v, _ := after.HGet(ctx, "hash:large:07", "field599").Result(); v != "v7-599" {
		t.Errorf("hash:large:07 field599 = %q after the rollback", v)
	}
	if v, _ := after.Get(ctx, "str:00042").Result(); v != strings.Repeat("42", 1) {
		t.Errorf("str:00042 = %q after the rollback", v)
	}
}

// TestVerifyBadRedisSendsNothing: a wrong password or an unreachable Redis
// stops update --verify with one clear line and exit 2; nothing is sent. With the right
// password, snapshot + verify --against round-trip, and a changed key fails
// verify.
func TestVerifyBadRedisSendsNothing(t *testing.T) {
	C.RequirePlugin(t)
	const pass = "e2e-s3cret-pw"
	svc, port, _, task := vfyCreate(t, "redis-server", "--requirepass", pass)
	v0 := updVersion(t, svc)
	state := t.TempDir()

	oneLine := func(r cluster.Result, want string) {
		t.Helper()
		if r.ExitCode() != 2 {
			t.Errorf("exit %d, want 2: could not decide, nothing sent", r.ExitCode())
		}
		lines := strings.Split(strings.TrimSpace(r.Stderr), "\n")
		last := lines[len(lines)-1]
		if !strings.Contains(last, want) || !strings.Contains(last, "not sent") {
			t.Errorf("last stderr line %q, want %q and 'not sent'", last, want)
		}
		if strings.Contains(r.Stdout+r.Stderr, pass) {
			t.Errorf("the password is printed")
		}
		if v := updVersion(t, svc); v != v0 {
			t.Errorf("spec version %s -> %s: the update was sent", v0, v)
		}
		if now := C.WaitRunning(t, svc); now.ID != task.ID {
			t.Errorf("task replaced")
		}
	}
	t.Setenv("REDISCLI_AUTH", "wrong-password")
	oneLine(vfyStateful(t, "update", "--verify", "--state-dir", state, "--limit-memory", "200M", svc), "refused the password")
	t.Setenv("REDISCLI_AUTH", "")
	oneLine(vfyStateful(t, "update", "--verify", "--state-dir", state, "--limit-memory", "200M", svc), "requires a password")
	t.Setenv("REDISCLI_AUTH", pass)
	oneLine(vfyStateful(t, "update", "--verify", "--state-dir", state, "--redis-url", "redis://127.0.0.1:1", "--limit-memory", "200M", svc), "cannot reach Redis at 127.0.0.1:1")
	// --format json: the verdict document, also when nothing could be decided
	r := vfyStateful(t, "update", "--verify", "--state-dir", state, "--format", "json", "--redis-url", "redis://127.0.0.1:1", "--limit-memory", "200M", svc)
	oneLine(r, "cannot reach Redis at 127.0.0.1:1")
	var doc struct{ Verdict, Error string }
	vfyJSON(t, r.Stdout, &doc)
	if doc.Verdict != "error" || !strings.Contains(doc.Error, "cannot reach Redis at 127.0.0.1:1") {
		t.Errorf("update --verify --format json, Redis unreachable: %+v, want verdict error and why", doc)
	}

	// snapshot + verify --against, with the right password
	rdb := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("%s:%d", task.Node.Addr, port), Password: pass})
	defer rdb.Close()
	n := vfyLoad(t, rdb, 1000)
	r = vfyStateful(t, "snapshot", "--state-dir", state, "--format", "json", svc)
	var snap struct {
		ID   string
		Keys int64
	}
	vfyJSON(t, r.Stdout, &snap)
	if r.ExitCode() != 0 || snap.ID == "" || snap.Keys != n {
		t.Fatalf("snapshot: exit %d, %+v, want %d keys", r.ExitCode(), snap, n)
	}
	if strings.Contains(r.Stdout+r.Stderr, pass) {
		t.Errorf("snapshot prints the password")
	}
	// a plain docker service update in between: the data is on the volume
	C.Docker(t, 1, "service", "update", "--quiet", "--force", svc)
	r = vfyStateful(t, "verify", "--state-dir", state, "--against", snap.ID, svc)
	if r.ExitCode() != 0 || !strings.Contains(r.Stdout, fmt.Sprintf("Verified: all %d keys of snapshot %s", n, snap.ID)) {
		t.Errorf("verify --against after a plain update: exit %d", r.ExitCode())
	}
	rdb2 := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("%s:%d", C.WaitRunning(t, svc).Node.Addr, port), Password: pass})
	defer rdb2.Close()
	ctx := context.Background()
	if err := rdb2.HSet(ctx, "hash:large:03", "field010", "tampered").Err(); err != nil {
		t.Fatal(err)
	}
	rdb2.Del(ctx, "list:0009")
	r = vfyStateful(t, "verify", "--state-dir", state, "--format", "json", svc) // default: latest snapshot
	var vr struct {
		Against string
		Report  vfyReport
	}
	vfyJSON(t, r.Stdout, &vr)
	if r.ExitCode() != 1 || vr.Against != snap.ID || vr.Report.count("CHANGED") != 1 || vr.Report.count("MISSING") != 1 ||
		vr.Report.Classes["CHANGED"].Keys[0].Key != "hash:large:03" || vr.Report.Classes["MISSING"].Keys[0].Key != "list:0009" {
		t.Errorf("verify after a change: exit %d, %+v", r.ExitCode(), vr)
	}
}

// TestVerifyNoRollback: with --no-rollback a data-losing update is reported
// and left in place (exit 1); --verify-key names a key that must exist.
func TestVerifyNoRollback(t *testing.T) {
	C.RequirePlugin(t)
	svc, _, rdb, _ := vfyCreate(t)
	cluster.Set(t, rdb, "must", "stay")
	empty := C.VolumeName(t)
	r := vfyStateful(t, "update", "--verify", "--no-rollback", "--verify-key", "must", "--state-dir", t.TempDir(), "--force",
		"--mount-add", "type=volume,source="+empty+",target=/data", svc)
	if r.ExitCode() != 1 {
		t.Errorf("exit %d, want 1", r.ExitCode())
	}
	for _, w := range []string{"MISSING       1", "Required keys:", "Verdict: FAILED"} {
		if !strings.Contains(r.Stdout, w) {
			t.Errorf("report lacks %q", w)
		}
	}
	if !strings.Contains(r.Stderr, "--no-rollback: the service is left as updated") {
		t.Errorf("stderr does not say the service was left as updated")
	}
	if got := updInspect(t, svc, "{{range .Spec.TaskTemplate.ContainerSpec.Mounts}}{{.Source}}{{end}}"); got != empty {
		t.Errorf("/data is on %q after --no-rollback, want the update's %q", got, empty)
	}
}

// TestVerifyRollbackCannotRestoreAnonymousVolume: the seed's kind of service
// (plain docker service create, /data on the image's anonymous volume) loses
// its data on any update; --force sends it, --verify proves the loss, rolls
// back, and says plainly that a spec rollback cannot bring the data back.
func TestVerifyRollbackCannotRestoreAnonymousVolume(t *testing.T) {
	C.RequirePlugin(t)
	svc, port := C.CreateRedis(t, []string{"service", "create"})
	rdb, _ := C.ServiceRedis(t, svc, port)
	cluster.Set(t, rdb, "foo", "bar")

	r := vfyStateful(t, "update", "--verify", "--state-dir", t.TempDir(), "--force", "--limit-memory", "200M", svc)
	if r.ExitCode() != 1 {
		t.Errorf("exit %d, want 1", r.ExitCode())
	}
	for _, w := range []string{"warning: --force overrides: Redis writes its data to /data, which is not on a volume"} {
		if !strings.Contains(r.Stderr, w) {
			t.Errorf("stderr lacks %q", w)
		}
	}
	for _, w := range []string{"MISSING       1", "The rollback restored the previous spec, NOT the data", "cannot bring back an anonymous volume"} {
		if !strings.Contains(r.Stdout, w) {
			t.Errorf("stdout lacks %q", w)
		}
	}
	if mem := updInspect(t, svc, "{{with .Spec.TaskTemplate.Resources}}{{with .Limits}}{{.MemoryBytes}}{{end}}{{end}}"); mem != "" && mem != "0" {
		t.Errorf("memory limit %s after the rollback", mem)
	}
}

// TestVerifyUnreachableAfterUpdateRollsBack: when the new task's Redis never
// answers where it is looked for (here it listens on another port), the data
// cannot be proven, so update --verify rolls back and checks it again.
func TestVerifyUnreachableAfterUpdateRollsBack(t *testing.T) {
	C.RequirePlugin(t)
	svc, port, rdb, _ := vfyCreate(t)
	cluster.Set(t, rdb, "foo", "bar")
	r := vfyStateful(t, "update", "--verify", "--verify-timeout", "15s", "--state-dir", t.TempDir(),
		"--args", "redis-server --protected-mode no --port 7000", svc)
	if r.ExitCode() != 1 {
		t.Fatalf("exit %d, want 1 (stderr %s)", r.ExitCode(), r.Stderr)
	}
	for _, w := range []string{"cannot verify the data of service " + svc + " after the update", "the service was rolled back"} {
		if !strings.Contains(r.Stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.Stderr)
		}
	}
	if !strings.Contains(r.Stdout, "After the rollback:") || !strings.Contains(r.Stdout, "Verdict: verified") {
		t.Errorf("stdout does not show the data verified after the rollback:\n%s", r.Stdout)
	}
	if got := updInspect(t, svc, "{{json .Spec.TaskTemplate.ContainerSpec.Args}}"); strings.Contains(got, "7000") {
		t.Errorf("args after the rollback = %s, want the previous spec's", got)
	}
	after := cluster.Redis(t, C.WaitRunning(t, svc).Node.Addr, port)
	if v, ok := cluster.Get(t, after, "foo"); !ok || v != "bar" {
		t.Errorf("foo = %q (%v) after the rollback, want bar", v, ok)
	}
}

// TestVerifyConvergenceFailureRollsBack: an update whose new task never
// starts (an image no node has) makes docker's wait fail with "service
// update paused"; --verify still cannot prove the data, so it rolls the
// service back, and the data is there again.
func TestVerifyConvergenceFailureRollsBack(t *testing.T) {
	C.RequirePlugin(t)
	svc, port, rdb, _ := vfyCreate(t)
	cluster.Set(t, rdb, "foo", "bar")
	r := vfyStateful(t, "update", "--verify", "--verify-timeout", "15s", "--state-dir", t.TempDir(),
		"--update-monitor", "2s", "--no-resolve-image", "--image", "redis-nosuch:1", svc)
	if r.ExitCode() != 1 {
		t.Fatalf("exit %d, want 1 (stderr %s)", r.ExitCode(), r.Stderr)
	}
	for _, w := range []string{"warning: service update paused", "the service was rolled back"} {
		if !strings.Contains(r.Stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.Stderr)
		}
	}
	if got := updInspect(t, svc, "{{.Spec.TaskTemplate.ContainerSpec.Image}}"); strings.Contains(got, "nosuch") {
		t.Errorf("image after the rollback = %s, want the previous spec's", got)
	}
	after := cluster.Redis(t, C.WaitRunning(t, svc).Node.Addr, port)
	if v, ok := cluster.Get(t, after, "foo"); !ok || v != "bar" {
		t.Errorf("foo = %q (%v) after the rollback, want bar", v, ok)
	}
}
