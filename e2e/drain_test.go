//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/docker-stateful/docker-stateful/e2e/cluster"
)

// drResult is the part of drain --format json the tests read.
type drResult struct {
	Node     string `json:"node"`
	Drained  bool   `json:"drained"`
	Verdict  string `json:"verdict"`
	Error    string `json:"error"`
	Services []struct {
		Service string    `json:"service"`
		Engine  string    `json:"engine"`
		To      string    `json:"to"`
		Why     string    `json:"why"`
		Verdict string    `json:"verdict"`
		Move    *mvResult `json:"move"`
	} `json:"services"`
}

func drAvailability(t *testing.T, node cluster.Node) string {
	t.Helper()
	return strings.TrimSpace(C.Docker(t, 1, "node", "inspect", "--format", "{{.Spec.Availability}}", node.Hostname))
}

// TestDrain: node2 holds a docker stateful Redis (pinned, keys of every type,
// a writer running throughout) and a Redis that runs there unpinned on a
// named volume. The dry run lists both, the unpinned one blocked with why,
// changes nothing and exits 1; drain refuses likewise; once the unpinned one
// is gone, drain moves the Redis to node1 (a manager first), verified, with
// no acknowledged write lost, and sets node2 to drain.
func TestDrain(t *testing.T) {
	C.RequirePlugin(t)
	node1, node2, node3 := C.Node(1), C.Node(2), C.Node(3)
	t.Cleanup(func() { C.Run(t, 1, "node", "update", "--availability", "active", node2.Hostname) })

	vol := C.VolumeName(t)
	svc, port := C.CreateRedis(t, []string{"stateful", "create", "--volume-name", vol, "--pin", node2.Hostname})
	rdb, task := C.ServiceRedis(t, svc, port)
	if task.Node.Index != 2 {
		t.Fatalf("service runs on node %d, want 2", task.Node.Index)
	}
	n := bkLoad(t, rdb, "a", 400)

	loose, lport := C.CreateRedis(t, []string{"service", "create", "--mount", "type=volume,source=" + C.VolumeName(t) + ",target=/data",
		"--constraint", "node.hostname!=" + node1.Hostname, "--constraint", "node.hostname!=" + node3.Hostname})
	if _, lt := C.ServiceRedis(t, loose, lport); lt.Node.Index != 2 {
		t.Fatalf("unpinned service runs on node %d, want 2", lt.Node.Index)
	}
	version := func(s string) string {
		return C.Docker(t, 1, "service", "inspect", "--format", "{{.Version.Index}}", s)
	}
	v0 := version(svc)

	r := vfyStateful(t, "drain", "--dry-run", node2.Hostname)
	if r.ExitCode() != 1 || !strings.Contains(r.Stdout, "Dry run: drain of node "+node2.Hostname) ||
		!strings.Contains(r.Stdout, "Cannot move "+loose+": ") || !strings.Contains(r.Stdout, "not pinned") {
		t.Fatalf("dry run with an unpinned service: exit %d; want 1, the plan and why %s cannot move", r.ExitCode(), loose)
	}
	if !strings.Contains(r.Stdout, svc) || !strings.Contains(r.Stdout, node1.Hostname) {
		t.Errorf("dry run does not plan %s to %s", svc, node1.Hostname)
	}
	r = vfyStateful(t, "drain", node2.Hostname)
	if r.ExitCode() != 1 || !strings.Contains(r.Stderr, "nothing was changed") || !strings.Contains(r.Stderr, loose) {
		t.Fatalf("drain with an unpinned service: exit %d; want 1 naming %s", r.ExitCode(), loose)
	}
	if version(svc) != v0 || drAvailability(t, node2) != "active" {
		t.Fatalf("a refused drain changed something: service version %s (was %s), node2 %s", version(svc), v0, drAvailability(t, node2))
	}
	C.Docker(t, 1, "service", "rm", loose)

	w := startMoveWriter(port)
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	r = vfyStateful(t, "drain", "--format", "json", "--timeout", "2m", node2.Hostname)
	took := time.Since(start)
	time.Sleep(time.Second) // the writer's writes succeed again after the move
	acked, failed := w.finish()
	if r.ExitCode() != 0 {
		t.Fatalf("drain: exit %d", r.ExitCode())
	}
	var res drResult
	vfyJSON(t, r.Stdout, &res)
	if res.Verdict != "drained" || !res.Drained || len(res.Services) != 1 {
		t.Fatalf("drain result %+v", res)
	}
	it := res.Services[0]
	if it.Service != svc || it.Engine != "redis" || it.To != node1.Hostname || it.Verdict != "moved" || it.Move == nil || !mvVerified(it.Move) {
		t.Fatalf("service result %+v", it)
	}
	t.Logf("drain of node2 with %d keys: %s, write downtime %d ms; writer: %d acknowledged, %d failed attempts",
		n, took.Round(time.Millisecond), it.Move.WriteDowntimeMs, acked, failed)
	if got := drAvailability(t, node2); got != "drain" {
		t.Fatalf("node2 availability %s after the drain, want drain", got)
	}
	if task := C.WaitRunning(t, svc); task.Node.Index != 1 {
		t.Fatalf("service runs on node %d after the drain, want 1", task.Node.Index)
	}
	moved := cluster.Redis(t, node1.Addr, port)
	ctx := context.Background()
	for i := 0; i < acked; i++ {
		if v, err := moved.Get(ctx, fmt.Sprintf("seq:%07d", i)).Result(); err != nil || v != fmt.Sprint(i) {
			t.Fatalf("acknowledged write seq:%07d lost after the drain: %q %v", i, v, err)
		}
	}
	if got := moved.DBSize(ctx).Val(); got != n+int64(acked) {
		t.Fatalf("%d keys on node1, want %d + %d written by the writer", got, n, acked)
	}
	if acked == 0 {
		t.Errorf("the writer acknowledged nothing")
	}

	// Draining it again: nothing holds data there any more.
	r = vfyStateful(t, "drain", node2.Hostname)
	if r.ExitCode() != 0 || !strings.Contains(r.Stdout, "No service keeps data on node "+node2.Hostname) {
		t.Errorf("second drain: exit %d", r.ExitCode())
	}
}
