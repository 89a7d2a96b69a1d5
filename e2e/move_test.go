//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/docker-stateful/docker-stateful/e2e/cluster"
)

// mvResult is the part of move --format json the tests read.
type mvResult struct {
	From            string `json:"from"`
	To              string `json:"to"`
	Keys            int64  `json:"keys"`
	Restored        int64  `json:"restored"`
	MoveMs          int64  `json:"move_ms"`
	WriteDowntimeMs int64  `json:"write_downtime_ms"`
	Verdict         string `json:"verdict"`
	Error           string `json:"error"`
	Method          string `json:"method"`
	HandoffCheck    *struct {
		Verdict string `json:"verdict"`
	} `json:"handoff_verification"`
	Restore *struct {
		Verdict string `json:"verdict"`
	} `json:"restore_verification"`
	Final *struct {
		Verdict string `json:"verdict"`
	} `json:"final_verification"`
	Rollback *struct {
		Verdict string `json:"verdict"`
	} `json:"rollback_verification"`
	OldVolumes []struct {
		Node, Volume, Remove string
	} `json:"old_volumes"`
}

// mvCreate creates a docker stateful Redis service pinned to node 1 on a
// volume the cluster removes at cleanup, with keys of every type in two
// databases; it returns the service, its port, the volume and the key count.
func mvCreate(t *testing.T, groups int) (string, int, string, int64) {
	t.Helper()
	vol := C.VolumeName(t)
	svc, port := C.CreateRedis(t, []string{"stateful", "create", "--volume-name", vol})
	db0, task := C.ServiceRedis(t, svc, port)
	if task.Node.Index != 1 {
		t.Fatalf("service runs on node %d, want 1", task.Node.Index)
	}
	db1 := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("%s:%d", task.Node.Addr, port), DB: 1, MaxRetries: -1})
	defer db1.Close()
	n := bkLoad(t, db0, "a", groups) + bkLoad(t, db1, "b", groups)
	return svc, port, vol, n
}

func mvDrain(t *testing.T, node int) {
	t.Helper()
	h := C.Node(node).Hostname
	C.Docker(t, 1, "node", "update", "--availability", "drain", h)
	t.Cleanup(func() { C.Run(t, 1, "node", "update", "--availability", "active", h) })
}

func mvDBSize(t *testing.T, addr string, port int) int64 {
	t.Helper()
	var n int64
	for _, db := range []int{0, 1} {
		c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("%s:%d", addr, port), DB: db, MaxRetries: -1})
		k, err := c.DBSize(context.Background()).Result()
		c.Close()
		if err != nil {
			t.Fatalf("DBSIZE db%d at %s:%d: %v", db, addr, port, err)
		}
		n += k
	}
	return n
}

// writer writes seq:<i> (or <prefix>:<i>) one after the other to whichever
// node answers on the service's port, retrying the same i until it is
// acknowledged: every acknowledged write must survive the move. It times the
// acknowledgements too: the longest gap between two of them is the write
// downtime a client saw.
type writer struct {
	mu      sync.Mutex
	acked   int // seq:0 .. seq:acked-1 acknowledged
	failed  int // failed attempts (refused, paused past the timeout, reset)
	lastErr error
	lastAck time.Time
	maxGap  time.Duration
	stop    chan struct{}
	done    chan struct{}
}

func startMoveWriter(port int) *writer { return startPrefixWriter(port, "seq") }

func startPrefixWriter(port int, prefix string) *writer {
	w := &writer{stop: make(chan struct{}), done: make(chan struct{}), lastAck: time.Now()}
	var clients []*redis.Client
	for _, n := range C.Nodes {
		clients = append(clients, redis.NewClient(&redis.Options{Addr: fmt.Sprintf("%s:%d", n.Addr, port),
			DialTimeout: time.Second, ReadTimeout: 3 * time.Second, MaxRetries: -1, PoolSize: 1}))
	}
	go func() {
		defer close(w.done)
		defer func() {
			for _, c := range clients {
				c.Close()
			}
		}()
		cur := 0
		for i := 0; ; {
			select {
			case <-w.stop:
				return
			default:
			}
			err := clients[cur].Set(context.Background(), fmt.Sprintf("%s:%07d", prefix, i), i, 0).Err()
			now := time.Now()
			w.mu.Lock()
			if err == nil {
				i++
				w.acked = i
				w.maxGap = max(w.maxGap, now.Sub(w.lastAck))
				w.lastAck = now
			} else {
				w.failed++
				w.lastErr = err
				cur = (cur + 1) % len(clients)
			}
			w.mu.Unlock()
			if err != nil {
				time.Sleep(20 * time.Millisecond)
			}
		}
	}()
	return w
}

func (w *writer) finish() (acked, failed int) {
	close(w.stop)
	<-w.done
	return w.acked, w.failed
}

// TestMove: a service pinned to node1 with keys of every type in two
// databases and a writer running throughout moves to node3: it runs there,
// the keys are verified equal, no acknowledged write is lost; node1 then
// drained, a plain docker service update keeps the data; the old volume is
// still on node1.
func TestMove(t *testing.T) {
	C.RequirePlugin(t)
	svc, port, vol, n := mvCreate(t, 600)
	node1, node3 := C.Node(1), C.Node(3)

	r := vfyStateful(t, "move", "--method", "copy", "--dry-run", svc, "--to", node3.Hostname)
	if r.ExitCode() != 0 || !strings.Contains(r.Stdout, "Dry run: move of service "+svc) || !strings.Contains(r.Stdout, "connection refused") {
		t.Fatalf("dry run: exit %d", r.ExitCode())
	}
	if got := strings.TrimSpace(C.Docker(t, 1, "service", "inspect", "--format", "{{.Spec.TaskTemplate.Placement.Constraints}}", svc)); !strings.Contains(got, node1.ID) {
		t.Fatalf("dry run changed the pin: %s", got)
	}

	w := startMoveWriter(port)
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	r = vfyStateful(t, "move", "--method", "copy", "--format", "json", "--timeout", "2m", svc, "--to", node3.Hostname)
	took := time.Since(start)
	time.Sleep(time.Second) // the writer's writes succeed again after the move
	acked, failed := w.finish()
	if r.ExitCode() != 0 {
		t.Fatalf("move: exit %d", r.ExitCode())
	}
	var res mvResult
	vfyJSON(t, r.Stdout, &res)
	t.Logf("move of %d keys: %s (command %d ms), write downtime %d ms; writer: %d acknowledged, %d failed attempts (last: %v)",
		n, took.Round(time.Millisecond), res.MoveMs, res.WriteDowntimeMs, acked, failed, w.lastErr)
	if res.Verdict != "moved" || res.Restore == nil || res.Restore.Verdict != "verified" || res.Final == nil || res.Final.Verdict != "verified" {
		t.Fatalf("move result %+v", res)
	}
	if res.WriteDowntimeMs <= 0 || !strings.Contains(r.Stderr, "write downtime") {
		t.Errorf("the write downtime is not given")
	}
	if len(res.OldVolumes) != 1 || res.OldVolumes[0].Node != node1.Hostname || res.OldVolumes[0].Volume != vol || !strings.Contains(r.Stderr, "volume rm "+vol) {
		t.Errorf("old volume not reported: %+v", res.OldVolumes)
	}
	task := C.WaitRunning(t, svc)
	if task.Node.Index != 3 {
		t.Fatalf("service runs on node %d after the move, want 3", task.Node.Index)
	}
	if failed == 0 || acked == 0 {
		t.Errorf("the writer did not run across the move: %d acknowledged, %d failed", acked, failed)
	}
	// Every acknowledged write is on node3, and the keys of the cut.
	rdb := cluster.Redis(t, node3.Addr, port)
	ctx := context.Background()
	for i := 0; i < acked; i++ {
		if v, err := rdb.Get(ctx, fmt.Sprintf("seq:%07d", i)).Result(); err != nil || v != fmt.Sprint(i) {
			t.Fatalf("acknowledged write seq:%07d lost after the move: %q %v", i, v, err)
		}
	}
	if got := mvDBSize(t, node3.Addr, port); got != n+int64(acked) {
		t.Fatalf("%d keys on node3, want %d + %d written by the writer", got, n, acked)
	}
	if exp := rdb.PExpireTime(ctx, "a:00020:hash").Val(); exp <= 0 {
		t.Errorf("TTL lost: %v", exp)
	}

	// node1 drained, a plain docker service update keeps the data on node3.
	mvDrain(t, 1)
	C.Docker(t, 1, "service", "update", "--quiet", "--limit-memory", "300M", svc)
	task = C.WaitRunning(t, svc)
	if task.Node.Index != 3 {
		t.Fatalf("after the update the service runs on node %d, want 3", task.Node.Index)
	}
	cluster.Redis(t, node3.Addr, port)
	if got := mvDBSize(t, node3.Addr, port); got != n+int64(acked) {
		t.Fatalf("%d keys after a plain update on node3, want %d", got, n+int64(acked))
	}
	// The old volume is still on node1.
	if out := C.Docker(t, 1, "volume", "ls", "--quiet", "--filter", "name="+vol); !strings.Contains(out, vol) {
		t.Fatalf("the old volume %s is gone from node1", vol)
	}
}

// TestMoveRefusedAndRolledBack: a move to a drained node is refused with
// nothing changed; a move to a node drained after that check (as the
// service is updated to it) rolls back to node1, the data verified, without
// waiting out --timeout; a move to a node that cannot run the task (another
// service holds its host port there) rolls back after --timeout, verified.
func TestMoveRefusedAndRolledBack(t *testing.T) {
	C.RequirePlugin(t)
	svc, port, _, n := mvCreate(t, 300)
	node1, node3 := C.Node(1), C.Node(3)
	version := func() string {
		return C.Docker(t, 1, "service", "inspect", "--format", "{{.Version.Index}}", svc)
	}
	v0 := version()

	mvDrain(t, 3)
	r := vfyStateful(t, "move", "--method", "copy", svc, "--to", node3.Hostname)
	lines := strings.Split(strings.TrimSpace(r.Stderr), "\n")
	if r.ExitCode() != 1 || len(lines) != 1 || !strings.Contains(lines[0], "node "+node3.Hostname+" has availability drain") || !strings.Contains(lines[0], "nothing was changed") {
		t.Fatalf("move to a drained node: exit %d, stderr %q; want 1 and one line naming the node's availability", r.ExitCode(), r.Stderr)
	}
	if version() != v0 {
		t.Fatal("a refused move changed the service")
	}
	if got := mvDBSize(t, node1.Addr, port); got != n {
		t.Fatalf("%d keys on node1 after a refused move, want %d", got, n)
	}
	C.Docker(t, 1, "node", "update", "--availability", "active", node3.Hostname)

	// node3 drained after the check passed, as the service is updated to it: rolled back.
	mv := fltStart(t, "move", "--method", "copy", "--format", "json", "--timeout", "90s", svc, "--to", node3.Hostname)
	mv.waitFor(t, "Step 2/5", time.Minute)
	C.Docker(t, 1, "node", "update", "--availability", "drain", node3.Hostname)
	code := mv.wait(t, 2*time.Minute)
	var res mvResult
	vfyJSON(t, mv.stdout.String(), &res)
	t.Logf("move to a node drained after the check: write downtime %d ms, move %d ms", res.WriteDowntimeMs, res.MoveMs)
	if code != 1 || res.Verdict != "rolled_back" || res.Rollback == nil || res.Rollback.Verdict != "verified" || !strings.Contains(res.Error, "node "+node3.Hostname+" has availability drain") {
		t.Fatalf("move to a node drained after the check: exit %d, %+v; want 1, rolled_back, verified, the reason", code, res)
	}
	if res.WriteDowntimeMs > 60000 {
		t.Errorf("write downtime %d ms: the drain was not noticed before --timeout", res.WriteDowntimeMs)
	}
	if task := C.WaitRunning(t, svc); task.Node.Index != 1 {
		t.Fatalf("after the rollback the service runs on node %d, want 1", task.Node.Index)
	}
	if got := mvDBSize(t, node1.Addr, port); got != n {
		t.Fatalf("%d keys on node1 after the rollback, want %d", got, n)
	}
	C.Docker(t, 1, "node", "update", "--availability", "active", node3.Hostname)

	// Another service holds the published port on node3: the moved task cannot start there.
	blocker := C.ServiceName(t)
	C.Docker(t, 1, "service", "create", "--quiet", "--name", blocker, "--constraint", "node.hostname=="+node3.Hostname,
		"-p", cluster.PublishRedis(port), "--no-resolve-image", "redis")
	C.WaitRunning(t, blocker)

	start := time.Now()
	r = vfyStateful(t, "move", "--method", "copy", "--format", "json", "--timeout", "20s", svc, "--to", node3.Hostname)
	t.Logf("failed move and rollback: %s", time.Since(start).Round(time.Millisecond))
	if r.ExitCode() != 1 {
		t.Fatalf("move that cannot run on node3: exit %d, want 1", r.ExitCode())
	}
	res = mvResult{}
	vfyJSON(t, r.Stdout, &res)
	if res.Verdict != "rolled_back" || res.Rollback == nil || res.Rollback.Verdict != "verified" {
		t.Fatalf("move result %+v, want rolled_back with the data verified", res)
	}
	if !strings.Contains(res.Error, "no Redis of the service answered on node "+node3.Hostname+" within --timeout 20s") {
		t.Errorf("the reason does not name the node and the bound: %q", res.Error)
	}
	task := C.WaitRunning(t, svc)
	if task.Node.Index != 1 {
		t.Fatalf("after the rollback the service runs on node %d, want 1", task.Node.Index)
	}
	if c := C.Docker(t, 1, "service", "inspect", "--format", "{{.Spec.TaskTemplate.Placement.Constraints}} {{.Spec.TaskTemplate.ContainerSpec.Args}} {{len .Spec.EndpointSpec.Ports}}", svc); !strings.Contains(c, node1.ID) || strings.Contains(c, "6380") || !strings.HasSuffix(c, " 1") {
		t.Fatalf("the original spec is not back: %s", c)
	}
	rdb := cluster.Redis(t, node1.Addr, port)
	if got := mvDBSize(t, node1.Addr, port); got != n {
		t.Fatalf("%d keys on node1 after the rollback, want %d", got, n)
	}
	if err := rdb.Set(context.Background(), "after-rollback", "1", 0).Err(); err != nil && !errors.Is(err, redis.Nil) {
		t.Fatalf("writes do not work after the rollback: %v", err)
	}
}

// TestMoveTargetEngineStopped: node3's engine is killed while move runs,
// with a writer running throughout: (1) as the service is updated to node3,
// before the new task runs there; (2) once the keys are restored and verified
// on node3 and the service is updated back to its own port. Each time move
// notices node3 down (well within --timeout), rolls the spec back to node1
// and its untouched volume, verifies every key of the cut there, resumes
// writes and exits 1 saying why and what it did; no acknowledged write is
// lost.
func TestMoveTargetEngineStopped(t *testing.T) {
	C.RequirePlugin(t)
	svc, port, rdb, task := vfyCreate(t)
	if task.Node.Index != 1 {
		t.Fatalf("service runs on node %d, want 1", task.Node.Index)
	}
	n := vfyLoad(t, rdb, 2000)
	node1, node3 := C.Node(1), C.Node(3)
	addr := fmt.Sprintf("%s:%d", node1.Addr, port)
	t.Cleanup(func() {
		C.Engine(t, 3, "start")
		C.WaitNodeState(t, 3, "ready", time.Minute)
	})
	w := fltStartWriter(addr)
	time.Sleep(300 * time.Millisecond)

	for i, at := range []string{"Step 2/5", "Step 5/5"} {
		if i > 0 {
			C.Engine(t, 3, "start")
			C.WaitNodeState(t, 3, "ready", time.Minute)
		}
		start := time.Now()
		r := fltStart(t, "move", "--method", "copy", "--format", "json", "--timeout", "90s", svc, "--to", node3.Hostname)
		r.waitFor(t, at, time.Minute)
		C.Engine(t, 3, "stop", "KILL")
		r.waitFor(t, "Rolling back", 2*time.Minute)
		rbStart := time.Now()
		code := r.wait(t, 2*time.Minute)
		rbTook, took := time.Since(rbStart), time.Since(start)
		if d, err := fltWriteTakes(addr, 2*time.Second); err != nil || d > time.Second {
			t.Errorf("%s: a write on node1 took %s (%v) after the move exited: writes left paused", at, d, err)
		}
		var res mvResult
		vfyJSON(t, r.stdout.String(), &res)
		t.Logf("engine killed at %q: failed move and rollback %s (rollback %s), write downtime %d ms",
			at, took.Round(time.Millisecond), rbTook.Round(time.Millisecond), res.WriteDowntimeMs)
		stderr := r.stderr.String()
		if code != 1 {
			t.Errorf("%s: exit %d, want 1 (failed, rolled back)", at, code)
		}
		if res.Verdict != "rolled_back" || res.Rollback == nil || res.Rollback.Verdict != "verified" {
			t.Errorf("%s: move result %+v, want rolled_back with the data verified", at, res)
		}
		if !strings.Contains(res.Error, "node "+node3.Hostname+" is down") || !strings.Contains(stderr, "up to --timeout 1m30s") ||
			!strings.Contains(stderr, "Rolled back: service "+svc+" runs on node "+node1.Hostname+" again") {
			t.Errorf("%s: the reason (node %s down), the bound or what was done is not said: error %q", at, node3.Hostname, res.Error)
		}
		if res.WriteDowntimeMs > 60000 {
			t.Errorf("%s: write downtime %d ms: node3 down was not noticed before --timeout", at, res.WriteDowntimeMs)
		}
		if now := C.WaitRunning(t, svc); now.Node.Index != 1 {
			t.Fatalf("%s: after the rollback the service runs on node %d, want 1", at, now.Node.Index)
		}
		if c := C.Docker(t, 1, "service", "inspect", "--format", "{{.Spec.TaskTemplate.Placement.Constraints}} {{.Spec.TaskTemplate.ContainerSpec.Args}} {{len .Spec.EndpointSpec.Ports}}", svc); !strings.Contains(c, node1.ID) || strings.Contains(c, "6380") || !strings.HasSuffix(c, " 1") {
			t.Errorf("%s: the original spec is not back: %s", at, c)
		}
	}
	time.Sleep(time.Second) // the writer reaches node1 again
	acked := w.finish()
	t.Logf("writer: %d acknowledged writes, %d retries", len(acked), w.retries)
	fltKeysIntact(t, cluster.Redis(t, node1.Addr, port), n, acked)
}

// mvTempPort is the host port node's engine published for the service's
// temporary Redis port (move's Step 2/5 spec), waiting for its task.
func mvTempPort(t *testing.T, node int, svc string) int {
	t.Helper()
	for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		out := C.Docker(t, node, "ps", "--filter", "label=com.docker.swarm.service.name="+svc, "--format", "{{.Ports}}")
		// 0.0.0.0:30001->6380/tcp
		for _, f := range strings.Split(out, ",") {
			f = strings.TrimSpace(f)
			if i := strings.Index(f, "->6380/tcp"); i > 0 {
				var p int
				if _, err := fmt.Sscanf(f[strings.LastIndex(f[:i], ":")+1:i], "%d", &p); err == nil {
					return p
				}
			}
		}
	}
	t.Fatalf("no temporary port of service %s on node %d", svc, node)
	return 0
}

// TestMoveLateDifferenceUnderWriter: a writer writes to whichever node
// answers on the service's port throughout a move; once the keys are
// restored and verified on node3, a key of the cut is deleted there through
// the temporary port, so the Redis loaded by the last update differs from
// the cut while the writer reaches it. move must not say "moved" (nor exit
// 0), and no acknowledged write may be lost: either it rolls back before
// any write was acknowledged on node3 (writes held from its check to its
// stop), or it stays on node3 with the writes and names where the intact cut
// is (node1's volume).
func TestMoveLateDifferenceUnderWriter(t *testing.T) {
	C.RequirePlugin(t)
	svc, port, vol, n := mvCreate(t, 300)
	node3 := C.Node(3)
	// One writer per node, each retrying its own node: the one of node3
	// writes as soon as the moved Redis answers there.
	var ws []*fltWriter
	for _, nd := range C.Nodes {
		ws = append(ws, fltStartWriterPrefix(fmt.Sprintf("%s:%d", nd.Addr, port), fmt.Sprintf("w%d", nd.Index)))
	}
	time.Sleep(300 * time.Millisecond)
	mv := fltStart(t, "move", "--method", "copy", "--format", "json", "--timeout", "2m", svc, "--to", node3.Hostname)
	mv.waitFor(t, "Step 4/5", 2*time.Minute)
	tc := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("%s:%d", node3.Addr, mvTempPort(t, 3, svc)), MaxRetries: -1, PoolSize: 1})
	defer tc.Close()
	if err := tc.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("the temporary Redis on node3: %v", err)
	}
	mv.waitFor(t, "Verified: the restored keys equal the cut", 2*time.Minute)
	if err := tc.Del(context.Background(), "a:00001:set").Err(); err != nil {
		t.Skipf("the key could not be deleted before the temporary Redis stopped (%v): no late difference to test", err)
	}
	code := mv.wait(t, 5*time.Minute)
	time.Sleep(time.Second)
	var acked [][]int
	total := 0
	for _, w := range ws {
		a := w.finish()
		acked = append(acked, a)
		total += len(a)
	}
	var res mvResult
	vfyJSON(t, mv.stdout.String(), &res)
	t.Logf("late difference: exit %d, verdict %s, write downtime %d ms; writers: %d acknowledged (node1 %d, node3 %d)", code, res.Verdict, res.WriteDowntimeMs, total, len(acked[0]), len(acked[2]))
	if code == 0 || res.Verdict == "moved" {
		t.Fatalf("move said %q, exit %d, although a key of the cut is missing on node3", res.Verdict, code)
	}
	if strings.Contains(mv.stderr.String(), "Moved: service") {
		t.Errorf("move printed \"Moved\" although the data differs")
	}
	task := C.WaitRunning(t, svc)
	var want int64
	switch res.Verdict {
	case "rolled_back":
		if task.Node.Index != 1 || res.Rollback == nil || res.Rollback.Verdict != "verified" {
			t.Fatalf("rolled back: runs on node %d, %+v", task.Node.Index, res.Rollback)
		}
		want = n + int64(total)
	case "not_rolled_back":
		if task.Node.Index != 3 {
			t.Fatalf("not rolled back, but runs on node %d", task.Node.Index)
		}
		if len(res.OldVolumes) != 1 || res.OldVolumes[0].Volume != vol || !strings.Contains(res.Error, "not rolled back") {
			t.Errorf("where the intact cut is is not said: %+v, %q", res.OldVolumes, res.Error)
		}
		want = n - 1 + int64(total)
	default:
		t.Fatalf("verdict %q: want rolled_back or not_rolled_back", res.Verdict)
	}
	addr := C.Node(task.Node.Index).Addr
	rdb := cluster.Redis(t, addr, port)
	ctx := context.Background()
	for i, a := range acked {
		for _, k := range a {
			key := fmt.Sprintf("w%d:%06d", C.Nodes[i].Index, k)
			if v, err := rdb.Get(ctx, key).Result(); err != nil || v != fmt.Sprint(k) {
				t.Fatalf("acknowledged write %s lost (%s): %q %v", key, res.Verdict, v, err)
			}
		}
	}
	if got := mvDBSize(t, addr, port); got != want {
		t.Fatalf("%d keys on node %d, want %d", got, task.Node.Index, want)
	}
}

// mvVerified: the moved data was verified, by either method (copy: the final
// check against the cut; replication: the new process against the replica).
func mvVerified(r *mvResult) bool {
	if r.Method == "replication" {
		return r.HandoffCheck != nil && r.HandoffCheck.Verdict == "verified"
	}
	return r.Final != nil && r.Final.Verdict == "verified"
}
