//go:build e2e

package e2e

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/docker-stateful/docker-stateful/e2e/cluster"
)

// TestHarness checks the cluster itself: every node is a Ready swarm node with
// its own hostname and the locally built redis image.
func TestHarness(t *testing.T) {
	if len(C.Nodes) < 2 {
		t.Fatalf("want a multi-node cluster, got %d node(s)", len(C.Nodes))
	}
	ls := C.Docker(t, 1, "node", "ls", "--format", "{{.ID}} {{.Hostname}} {{.Status}}")
	for _, n := range C.Nodes {
		if want := fmt.Sprintf("%s %s Ready", n.ID, n.Hostname); !strings.Contains(ls, want) {
			t.Errorf("node ls lacks %q:\n%s", want, ls)
		}
		if got := C.Docker(t, n.Index, "info", "--format", "{{.Name}}"); got != n.Hostname {
			t.Errorf("node%d: docker info Name = %q, want %q", n.Index, got, n.Hostname)
		}
		C.Docker(t, n.Index, "image", "inspect", "--format", "{{.Id}}", "redis:latest")
	}
}

// TestPluginInstalled runs the built plugin through the real docker binary,
// installed in a temporary DOCKER_CONFIG.
func TestPluginInstalled(t *testing.T) {
	C.RequirePlugin(t)

	help := C.Docker(t, 0, "stateful", "--help")
	if !strings.Contains(help, "Usage:") || !strings.Contains(help, "docker stateful") {
		t.Errorf("docker stateful --help:\n%s", help)
	}
	if top := C.Docker(t, 0, "--help"); !strings.Contains(top, "stateful") {
		t.Errorf("docker --help does not list the stateful plugin:\n%s", top)
	}

	// -H reaches node 2: its own engine answers, with node 2's hostname and ID.
	n2 := C.Node(2)
	v := C.Docker(t, 2, "stateful", "version")
	if !strings.Contains(v, "Client:") {
		t.Errorf("docker -H node2 stateful version: no Client section:\n%s", v)
	}
	if !strings.Contains(v, "Server:") {
		t.Fatalf("docker -H node2 stateful version: no Server section (daemon not reached?):\n%s", v)
	}
	if !strings.Contains(v, n2.Hostname) || !strings.Contains(v, n2.ID) {
		t.Errorf("docker -H node2 stateful version does not show node2 (%s, %s):\n%s", n2.Hostname, n2.ID, v)
	}
	if strings.Contains(v, C.Node(1).Hostname) {
		t.Errorf("docker -H node2 stateful version shows node1's hostname:\n%s", v)
	}

	// --context and DOCKER_HOST reach the daemon they name, as for plain docker.
	n3 := C.Node(3)
	ctxName := "dst-e2e-" + strings.ToLower(n3.Hostname)
	C.Docker(t, 0, "context", "create", ctxName, "--docker", "host="+n3.Host)
	t.Cleanup(func() { C.Run(t, 0, "context", "rm", "-f", ctxName) })
	if v := C.Docker(t, 0, "--context", ctxName, "stateful", "version"); !strings.Contains(v, n3.ID) {
		t.Errorf("docker --context %s stateful version does not show node3 (%s):\n%s", ctxName, n3.ID, v)
	}
	cmd := exec.Command("docker", "stateful", "version", "--format", "{{.server.swarm_node_id}}")
	cmd.Env = append(C.DockerEnv(), "DOCKER_HOST="+n3.Host)
	out, err := cmd.Output()
	if err != nil || strings.TrimSpace(string(out)) != n3.ID {
		t.Errorf("DOCKER_HOST=node3 docker stateful version: %q (%v), want node3's ID %s", out, err, n3.ID)
	}
}

// TestSeedDataLoss replays the seed's slides with plain docker commands: a
// redis service loses its data on every update that replaces its task, until
// the data is on a named volume and the service stays on that volume's node.
func TestSeedDataLoss(t *testing.T) {
	vol := C.VolumeName(t)
	node1 := C.Node(1)

	svc, port := C.CreateRedis(t, []string{"service", "create"})
	rdb, _ := C.ServiceRedis(t, svc, port)
	if v, ok := cluster.Get(t, rdb, "foo"); ok {
		t.Fatalf("fresh redis already has foo=%q", v)
	}
	cluster.Set(t, rdb, "foo", "bar")

	// step re-runs the task with a docker service update and reports foo.
	step := func(args ...string) (string, bool) {
		t.Helper()
		before := C.WaitRunning(t, svc)
		C.Docker(t, 1, append(append([]string{"service", "update", "--quiet"}, args...), svc)...)
		rdb, task := C.ServiceRedis(t, svc, port)
		if task.ID == before.ID {
			t.Fatalf("service update %v did not replace the task %s", args, task.ID)
		}
		t.Logf("after update %v: task %s on %s", args, task.ID, task.Node.Hostname)
		return cluster.Get(t, rdb, "foo")
	}

	// The slide pins the service to the node the user is on ($HOSTNAME). Swarm
	// keeps a task that already satisfies a new constraint, so pin it to node 1
	// unless it already runs there; then to node 2: the task must move.
	pin := node1
	if C.WaitRunning(t, svc).Node.Hostname == node1.Hostname {
		pin = C.Node(2)
	}
	if v, ok := step("--constraint-add", "node.hostname=="+pin.Hostname); ok {
		t.Errorf("after --constraint-add: foo = %q, the seed says it is gone", v)
	}
	if task := C.WaitRunning(t, svc); task.Node.Hostname != pin.Hostname {
		t.Fatalf("constraint ignored: task on %s, want %s", task.Node.Hostname, pin.Hostname)
	}

	rdb, _ = C.ServiceRedis(t, svc, port)
	cluster.Set(t, rdb, "foo", "bar")
	if v, ok := step("--limit-memory", "100M"); ok {
		t.Errorf("after --limit-memory 100M: foo = %q, the seed says it is gone", v)
	}

	if v, ok := step("--mount-add", "type=volume,source="+vol+",target=/data"); ok {
		t.Errorf("after --mount-add: foo = %q, want gone (new empty volume)", v)
	}
	rdb, _ = C.ServiceRedis(t, svc, port)
	cluster.Set(t, rdb, "foo", "barbar")
	if v, ok := step("--limit-memory", "300M"); !ok || v != "barbar" {
		t.Errorf("after --limit-memory 300M with a volume: foo = %q (exists %v), want barbar", v, ok)
	}
	if vols := C.Docker(t, pin.Index, "volume", "ls", "-q", "--filter", "name="+vol); vols != vol {
		t.Errorf("volume %s not on %s: %q", vol, pin.Hostname, vols)
	}
}
