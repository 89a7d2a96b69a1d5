//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-stateful/docker-stateful/e2e/cluster"
	"github.com/docker-stateful/docker-stateful/plugin/inventory"
)

// TestCSIClusterVolume: a Redis service whose data is on a CSI cluster volume
// of one node (the test driver's volumes are directories of a node, topology
// {node: hostname}). docker stateful create pins it to that node (swarm does
// not place tasks by a volume's topology), update --verify keeps the data,
// ls and check show the cluster volume and no risk, the guard refuses to
// unpin it, and create refuses a volume that two tasks may write
// (--sharing all), creating nothing.
func TestCSIClusterVolume(t *testing.T) {
	C.RequirePlugin(t)
	C.RequireCSI(t)
	home := C.Node(2)

	// --sharing all: two tasks could write the data directory at once.
	shared := "e2ecsi-all-" + strings.TrimPrefix(C.VolumeName(t), "e2evol-")
	C.CreateClusterVolume(t, shared, "--scope", "single", "--sharing", "all")
	refused := C.ServiceName(t)
	r := C.Run(t, 1, "stateful", "create", "--quiet", "--name", refused, "--no-resolve-image",
		"--mount", "type=cluster,source="+shared+",target=/data", "redis")
	if r.ExitCode() != 1 || !strings.Contains(r.Stderr, "--sharing all") {
		t.Fatalf("create on a --sharing all volume: exit %d, stderr %q; want 1 naming --sharing all", r.ExitCode(), r.Stderr)
	}
	if C.Run(t, 1, "service", "inspect", refused).Err == nil {
		t.Fatalf("refused create left service %s behind", refused)
	}

	vol := "e2ecsi-" + strings.TrimPrefix(C.VolumeName(t), "e2evol-")
	C.CreateClusterVolume(t, vol, "--scope", "single", "--sharing", "onewriter", "--topology-required", "node="+home.Hostname)
	svc := C.ServiceName(t)
	port := cluster.FreePort(t)
	r = C.Run(t, 1, "stateful", "create", "--name", svc, "-p", cluster.PublishRedis(port), "--no-resolve-image",
		"--mount", "type=cluster,source="+vol+",target=/data", "redis")
	t.Logf("create: %s", r.Stderr)
	if r.Err != nil {
		t.Fatalf("stateful create on cluster volume %s: %v\n%s", vol, r.Err, r.Stderr)
	}
	if got := C.Docker(t, 1, "service", "inspect", "--format", "{{json .Spec.TaskTemplate.Placement.Constraints}}", svc); !strings.Contains(got, "node.id=="+home.ID) {
		t.Fatalf("constraints %s: want the pin to %s, where volume %s lives", got, home.Hostname, vol)
	}
	if mounts := C.Docker(t, 1, "service", "inspect", "--format", "{{json .Spec.TaskTemplate.ContainerSpec.Mounts}}", svc); strings.Count(mounts, `"Type"`) != 1 {
		t.Fatalf("mounts %s: want only the cluster volume (no volume added)", mounts)
	}
	rc, task := C.ServiceRedis(t, svc, port)
	if task.Node.Index != home.Index {
		t.Fatalf("task on %s, want %s", task.Node.Hostname, home.Hostname)
	}
	for _, k := range []string{"a", "b", "c"} {
		cluster.Set(t, rc, "csi:"+k, "v-"+k)
	}

	r = vfyStateful(t, "update", "--verify", "--state-dir", t.TempDir(), "--limit-memory", "300M", svc)
	if r.Err != nil {
		t.Fatalf("update --verify on a cluster volume: %v", r.Err)
	}
	rc2, task2 := C.ServiceRedis(t, svc, port)
	if task2.ID == task.ID || task2.Node.Index != home.Index {
		t.Fatalf("after the update: task %s on %s, want a new task on %s", task2.ID, task2.Node.Hostname, home.Hostname)
	}
	for _, k := range []string{"a", "b", "c"} {
		if v, ok := cluster.Get(t, rc2, "csi:"+k); !ok || v != "v-"+k {
			t.Errorf("after update --verify: csi:%s = %q, %v", k, v, ok)
		}
	}
	// The data is in the driver's directory on the home node.
	if _, err := os.Stat(filepath.Join(C.CSIVolumeDir(home.Index, vol), "dump.rdb")); err != nil {
		t.Errorf("no dump.rdb in cluster volume %s's directory on %s: %v", vol, home.Hostname, err)
	}

	row := opsRow(t, svc)
	if row.Data[0].Kind != inventory.KindCluster || row.Data[0].Source != vol || row.Risk != inventory.RiskSafe {
		t.Errorf("ls row %+v: want /data on cluster volume %s, safe", row, vol)
	}
	if code, rep := opsCheck(t, svc); code != 0 {
		t.Errorf("check: exit %d, %+v; want 0", code, rep)
	}

	// Unpinning would let swarm start the task where the volume is not.
	before := C.Docker(t, 1, "service", "inspect", "--format", "{{.Version.Index}}", svc)
	r = opsRun(t, "update", "--constraint-rm", "node.id=="+home.ID, svc)
	if r.ExitCode() == 0 || !strings.Contains(r.Stderr, "lives on "+home.Hostname) {
		t.Errorf("unpinning: exit %d, stderr %q; want refused, naming %s", r.ExitCode(), r.Stderr, home.Hostname)
	}
	if after := C.Docker(t, 1, "service", "inspect", "--format", "{{.Version.Index}}", svc); after != before {
		t.Errorf("refused update changed the service (version %s -> %s)", before, after)
	}
}
