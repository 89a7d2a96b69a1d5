//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/docker-stateful/docker-stateful/e2e/cluster"
)

// crtCreate runs `docker stateful create ARGS` against node n.
func crtCreate(t *testing.T, n int, args ...string) cluster.Result {
	t.Helper()
	r := C.Run(t, n, append([]string{"stateful", "create"}, args...)...)
	t.Logf("stdout:\n%s\nstderr:\n%s", r.Stdout, r.Stderr)
	return r
}

// crtVolumes lists the volume names on node n.
func crtVolumes(t *testing.T, n int) []string {
	t.Helper()
	return strings.Fields(C.Docker(t, n, "volume", "ls", "-q"))
}

func crtHas(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// crtDataMounts returns "type:name" of the mounts at /data of the service's
// running containers on node n.
func crtDataMounts(t *testing.T, n int, svc string) []string {
	t.Helper()
	var out []string
	for _, id := range strings.Fields(C.Docker(t, n, "ps", "-q", "--filter", "label=com.docker.swarm.service.name="+svc)) {
		m := C.Docker(t, n, "inspect", "--format", `{{range .Mounts}}{{if eq .Destination "/data"}}{{.Type}}:{{.Name}}{{end}}{{end}}`, id)
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

func crtSetAvailability(t *testing.T, node cluster.Node, availability string) {
	t.Helper()
	C.Docker(t, 1, "node", "update", "--availability", availability, node.ID)
}

// crtDrain drains nodes and makes them active again at cleanup.
func crtDrain(t *testing.T, nodes ...cluster.Node) {
	t.Helper()
	for _, n := range nodes {
		n := n
		t.Cleanup(func() { crtSetAvailability(t, n, "active") })
		crtSetAvailability(t, n, "drain")
	}
}

// crtNotCreated fails unless service svc does not exist.
func crtNotCreated(t *testing.T, svc string) {
	t.Helper()
	if r := C.Run(t, 1, "service", "inspect", svc); r.Err == nil {
		t.Errorf("service %s exists: it must not have been created", svc)
	}
}

// TestCreateSeedReplayKeepsData is the seed's story with docker stateful
// create instead of docker service create: foo survives plain docker
// service updates (every one replaces the task), with no manual --mount-add.
func TestCreateSeedReplayKeepsData(t *testing.T) {
	C.RequirePlugin(t)
	svc := C.ServiceName(t)
	port := cluster.FreePort(t)
	mgr := C.Manager()

	r := crtCreate(t, 1, "--name", svc, "-p", cluster.PublishRedis(port), "--no-resolve-image", "redis")
	if r.Err != nil {
		t.Fatalf("create failed: %v", r.Err)
	}
	// docker's contract: the first line of stdout is the service ID.
	id := C.Docker(t, 1, "service", "inspect", "-f", "{{.ID}}", svc)
	if first, _, _ := strings.Cut(r.Stdout, "\n"); first != id {
		t.Errorf("first stdout line %q, want the service ID %s", first, id)
	}
	wantSummary := fmt.Sprintf("docker stateful: %s keeps /data on volume %s-data, pinned to %s by node.id==%s", svc, svc, mgr.Hostname, mgr.ID)
	if !strings.Contains(r.Stderr, wantSummary) {
		t.Errorf("stderr lacks the summary %q", wantSummary)
	}

	// Pinned by node ID to the CLI's node, data on a named volume, labels, defaults.
	if c := C.Docker(t, 1, "service", "inspect", "-f", "{{json .Spec.TaskTemplate.Placement.Constraints}}", svc); c != fmt.Sprintf(`["node.id==%s"]`, mgr.ID) {
		t.Errorf("constraints = %s, want node.id==%s", c, mgr.ID)
	}
	labels := C.Docker(t, 1, "service", "inspect", "-f", `{{index .Spec.Labels "io.docker-stateful.data"}} {{index .Spec.Labels "io.docker-stateful.volumes"}} {{index .Spec.Labels "io.docker-stateful.pin"}}`, svc)
	if want := fmt.Sprintf("/data /data=%s-data %s", svc, mgr.ID); labels != want {
		t.Errorf("labels = %q, want %q", labels, want)
	}
	if d := C.Docker(t, 1, "service", "inspect", "-f", "{{.Spec.TaskTemplate.ContainerSpec.StopGracePeriod}} {{.Spec.UpdateConfig.Order}}", svc); d != "30s stop-first" {
		t.Errorf("stop grace period and update order = %q, want 30s and stop-first", d)
	}

	rdb, task := C.ServiceRedis(t, svc, port)
	if task.Node.Index != 1 {
		t.Fatalf("task runs on %s, want the CLI's node %s", task.Node.Hostname, mgr.Hostname)
	}
	if m := crtDataMounts(t, 1, svc); len(m) != 1 || m[0] != "volume:"+svc+"-data" {
		t.Fatalf("/data mounts = %v, want volume:%s-data", m, svc)
	}
	cluster.Set(t, rdb, "foo", "bar")

	for _, update := range [][]string{
		{"--limit-memory", "100M"},
		{"--limit-memory", "200M"},
		// swarm keeps the task when only placement changes and its node
		// still matches (the seed's 2016 swarm replaced it): not required.
		{"--constraint-add", "node.hostname==" + mgr.Hostname},
		{"--limit-memory", "300M"},
		{"--force"},
	} {
		placementOnly := update[0] == "--constraint-add"
		start := time.Now()
		// Plain docker, not the plugin: the data must survive it.
		C.Docker(t, 1, append(append([]string{"service", "update", "--quiet"}, update...), svc)...)
		rdb, now := C.ServiceRedis(t, svc, port)
		replaced := now.ID != task.ID
		if !replaced && !placementOnly {
			t.Fatalf("%v did not replace the task: the test proves nothing", update)
		}
		task = now
		v, ok := cluster.Get(t, rdb, "foo")
		t.Logf("after docker service update %s (%.1fs, task replaced: %v): foo=%q on %s", strings.Join(update, " "), time.Since(start).Seconds(), replaced, v, now.Node.Hostname)
		if !ok || v != "bar" {
			t.Fatalf("after docker service update %s: foo = %q (exists %v), want bar", strings.Join(update, " "), v, ok)
		}
		if now.Node.Index != 1 {
			t.Fatalf("after %v the task moved to %s", update, now.Node.Hostname)
		}
	}
	if m := crtDataMounts(t, 1, svc); len(m) != 1 || m[0] != "volume:"+svc+"-data" {
		t.Errorf("/data mounts after the updates = %v, want volume:%s-data", m, svc)
	}
}

// TestCreatePinToAnotherNode: --pin puts the task and its volume on that
// node; draining the other nodes leaves it alone; draining its own node
// stops it rather than starting it elsewhere on an empty volume, and it comes
// back with its data when the node is active again.
func TestCreatePinToAnotherNode(t *testing.T) {
	C.RequirePlugin(t)
	if len(C.Nodes) < 3 {
		t.Skip("needs 3 nodes")
	}
	svc := C.ServiceName(t)
	port := cluster.FreePort(t)
	n2 := C.Node(2)

	r := crtCreate(t, 1, "--quiet", "--name", svc, "--pin", n2.Hostname, "-p", cluster.PublishRedis(port), "--no-resolve-image", "redis")
	if r.Err != nil {
		t.Fatalf("create failed: %v", r.Err)
	}
	if c := C.Docker(t, 1, "service", "inspect", "-f", "{{json .Spec.TaskTemplate.Placement.Constraints}}", svc); c != fmt.Sprintf(`["node.id==%s"]`, n2.ID) {
		t.Errorf("constraints = %s, want node.id==%s (by ID, not hostname)", c, n2.ID)
	}
	rdb, task := C.ServiceRedis(t, svc, port)
	if task.Node.Index != 2 {
		t.Fatalf("task runs on %s, want %s", task.Node.Hostname, n2.Hostname)
	}
	if !crtHas(crtVolumes(t, 2), svc+"-data") {
		t.Errorf("volume %s-data is not on %s", svc, n2.Hostname)
	}
	if crtHas(crtVolumes(t, 1), svc+"-data") {
		t.Errorf("volume %s-data is on %s too", svc, C.Node(1).Hostname)
	}
	cluster.Set(t, rdb, "foo", "bar")

	// Draining the nodes it is not pinned to does not move it.
	crtDrain(t, C.Node(1), C.Node(3))
	time.Sleep(5 * time.Second)
	if now := C.WaitRunning(t, svc); now.ID != task.ID {
		t.Errorf("draining the other nodes replaced the task (%s on %s)", now.ID, now.Node.Hostname)
	}
	crtSetAvailability(t, C.Node(1), "active")
	crtSetAvailability(t, C.Node(3), "active")

	// Draining its own node: the task stops, and no task starts elsewhere.
	crtDrain(t, n2)
	running := func() string {
		return C.Docker(t, 1, "service", "ps", svc, "--filter", "desired-state=running", "--format", "{{.Node}}|{{.CurrentState}}")
	}
	deadline := time.Now().Add(90 * time.Second)
	for ps := running(); strings.Contains(ps, "Running"); ps = running() {
		if !strings.HasPrefix(ps, n2.Hostname+"|") {
			t.Fatalf("the task moved away from its data: %q", ps)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the task still runs on drained %s: %q", n2.Hostname, ps)
		}
		time.Sleep(time.Second)
	}
	time.Sleep(5 * time.Second)
	if ps := running(); strings.Contains(ps, "Running") {
		t.Fatalf("a task runs while its pinned node is drained: %q", ps)
	} else {
		t.Logf("with %s drained: %q", n2.Hostname, ps)
	}
	crtSetAvailability(t, n2, "active")
	rdb, now := C.ServiceRedis(t, svc, port)
	if now.Node.Index != 2 {
		t.Fatalf("task came back on %s, want %s", now.Node.Hostname, n2.Hostname)
	}
	if v, ok := cluster.Get(t, rdb, "foo"); !ok || v != "bar" {
		t.Errorf("foo = %q (exists %v) after the drain, want bar", v, ok)
	}
}

// TestCreateReplicasGetTheirOwnVolumes: two replicas pinned to one node,
// each on a volume of its own ({{.Task.Slot}}).
func TestCreateReplicasGetTheirOwnVolumes(t *testing.T) {
	C.RequirePlugin(t)
	svc := C.ServiceName(t)
	n := 2
	if len(C.Nodes) < 2 {
		n = 1
	}
	node := C.Node(n)

	r := crtCreate(t, 1, "--quiet", "--name", svc, "--replicas", "2", "--pin", node.Hostname, "--no-resolve-image", "redis")
	if r.Err != nil {
		t.Fatalf("create failed: %v", r.Err)
	}
	if src := C.Docker(t, 1, "service", "inspect", "-f", "{{range .Spec.TaskTemplate.ContainerSpec.Mounts}}{{.Source}}{{end}}", svc); src != svc+"-data-{{.Task.Slot}}" {
		t.Errorf("mount source = %q, want %s-data-{{.Task.Slot}}", src, svc)
	}
	var mounts []string
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ps := C.Docker(t, 1, "service", "ps", svc, "--filter", "desired-state=running", "--format", "{{.Node}} {{.CurrentState}}")
		running := strings.Count(ps, node.Hostname+" Running")
		if running == 2 {
			mounts = crtDataMounts(t, n, svc)
			if len(mounts) == 2 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("two replicas not running on %s: %q", node.Hostname, ps)
		}
		time.Sleep(500 * time.Millisecond)
	}
	want := []string{"volume:" + svc + "-data-1", "volume:" + svc + "-data-2"}
	if strings.Join(mounts, " ") != strings.Join(want, " ") {
		t.Errorf("/data mounts of the two replicas = %v, want %v", mounts, want)
	}
	vols := crtVolumes(t, n)
	for _, v := range []string{svc + "-data-1", svc + "-data-2"} {
		if !crtHas(vols, v) {
			t.Errorf("volume %s not on %s", v, node.Hostname)
		}
	}
}

// TestCreateDryRunSendsNothing: --dry-run prints the spec with what was
// added marked, --format json the bare spec; no service is created.
func TestCreateDryRunSendsNothing(t *testing.T) {
	C.RequirePlugin(t)
	svc := C.ServiceName(t)
	mgr := C.Manager()
	before := C.Docker(t, 1, "service", "ls", "-q")

	r := crtCreate(t, 1, "--dry-run", "--name", svc, "-p", "published=10000,target=6379,mode=host", "--no-resolve-image", "redis")
	if r.Err != nil {
		t.Fatalf("dry run failed: %v", r.Err)
	}
	for _, want := range []string{
		"Dry run, nothing sent.",
		fmt.Sprintf(`+         "node.id==%s"`, mgr.ID),
		fmt.Sprintf(`+           "Source": "%s-data",`, svc),
		`+       "StopGracePeriod": 30000000000`,
		`          "PublishedPort": 10000,`,
		"pin      node.id==" + mgr.ID,
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("dry run output lacks %q", want)
		}
	}

	r = crtCreate(t, 1, "--dry-run", "--format", "json", "--name", svc, "--no-resolve-image", "redis")
	if r.Err != nil {
		t.Fatalf("dry run --format json failed: %v", r.Err)
	}
	var spec struct {
		Name         string
		Labels       map[string]string
		TaskTemplate struct {
			ContainerSpec struct {
				Mounts []struct{ Type, Source, Target string }
			}
		}
	}
	if err := json.Unmarshal([]byte(r.Stdout), &spec); err != nil {
		t.Fatalf("--format json output is not JSON: %v", err)
	}
	if m := spec.TaskTemplate.ContainerSpec.Mounts; spec.Name != svc || len(m) != 1 || m[0].Source != svc+"-data" || m[0].Target != "/data" || spec.Labels["io.docker-stateful.pin"] != mgr.ID {
		t.Errorf("json spec = %+v", spec)
	}

	if after := C.Docker(t, 1, "service", "ls", "-q"); after != before {
		t.Errorf("service list changed by a dry run:\nbefore %q\nafter  %q", before, after)
	}
	crtNotCreated(t, svc)
}

// TestCreateBadInputCreatesNothing: each mistake gets one line on stderr, a
// non-zero exit, and no service.
func TestCreateBadInputCreatesNothing(t *testing.T) {
	C.RequirePlugin(t)
	cases := []struct {
		name string
		node int
		args []string // before --name and the image
		img  string
		want string
	}{
		{"unknown --pin", 1, []string{"--pin", "no-such-node"}, "redis", "--pin no-such-node: no such node in this swarm"},
		{"relative --data", 1, []string{"--data", "var/lib/x"}, "redis", "--data var/lib/x: must be an absolute path"},
		{"--no-pin with --pin", 1, []string{"--no-pin", "--pin", C.Node(1).Hostname}, "redis", "--no-pin conflicts with --pin"},
		{"image not on the daemon", 1, nil, "e2e-no-such-image:1", "image e2e-no-such-image:1 is not on this docker daemon"},
		{"--update-order start-first", 1, []string{"--update-order", "start-first"}, "redis", "--update-order start-first would run the new task next to the old one"},
		{"--rollback-order start-first", 1, []string{"--rollback-order", "start-first"}, "redis", "--rollback-order start-first"},
		{"two replicas on one host port", 1, []string{"--replicas", "2", "-p", "published=10000,target=6379,mode=host"}, "redis", "only one task can publish host port 10000"},
	}
	if len(C.Nodes) > 1 {
		cases = append(cases, struct {
			name string
			node int
			args []string
			img  string
			want string
		}{"on a worker", 2, nil, "redis", "this docker daemon is a swarm worker"})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			svc := C.ServiceName(t)
			args := append(append([]string{"--quiet"}, c.args...), "--name", svc, "--no-resolve-image", c.img)
			r := crtCreate(t, c.node, args...)
			if r.ExitCode() == 0 {
				t.Errorf("exit status 0, want non-zero")
			}
			stderr := strings.TrimSpace(r.Stderr)
			if !strings.Contains(stderr, c.want) {
				t.Errorf("stderr %q lacks %q", stderr, c.want)
			}
			if strings.Contains(stderr, "\n") {
				t.Errorf("stderr is more than one line: %q", stderr)
			}
			if r.Stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.Stdout)
			}
			crtNotCreated(t, svc)
		})
	}
}
