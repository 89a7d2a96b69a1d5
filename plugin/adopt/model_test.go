package adopt

import (
	"slices"
	"testing"
	"time"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/inventory"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

func TestSafeSpec(t *testing.T) {
	ten := 10 * time.Second
	spec := swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: "seed", Labels: map[string]string{"team": "a"}},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{Image: "redis", StopGracePeriod: &ten,
				Mounts: []mount.Mount{{Type: mount.TypeVolume, Target: "/data"}}}, // an explicit anonymous volume
			Placement: &swarm.Placement{Constraints: []string{"node.role==worker"}},
		},
		UpdateConfig: &swarm.UpdateConfig{Order: swarm.UpdateOrderStartFirst, Parallelism: 1},
	}
	orig := spec.TaskTemplate.ContainerSpec.Mounts[0]
	sw := &inventory.Swarm{Nodes: map[string]swarm.Node{"n2": {ID: "n2", Description: swarm.NodeDescription{Hostname: "two"}}}}
	paths := []inventory.DataPath{{Path: "/data", Kind: inventory.KindAnonymous}}
	out, pin, labels, changes := safeSpec(spec, []Move{{Path: "/data", Volume: "abc123"}}, "n2", paths, "v1", sw)

	if m := out.TaskTemplate.ContainerSpec.Mounts; len(m) != 1 || m[0].Source != "abc123" || m[0].Target != "/data" {
		t.Errorf("mounts = %+v, want the anonymous one given source abc123", m)
	}
	if spec.TaskTemplate.ContainerSpec.Mounts[0] != orig {
		t.Errorf("the input spec was changed")
	}
	if pin != "node.id==n2" || !slices.Equal(out.TaskTemplate.Placement.Constraints, []string{"node.role==worker", "node.id==n2"}) {
		t.Errorf("pin %q, constraints %v", pin, out.TaskTemplate.Placement.Constraints)
	}
	if *out.TaskTemplate.ContainerSpec.StopGracePeriod != ten {
		t.Errorf("a set grace period was changed")
	}
	if out.UpdateConfig.Order != swarm.UpdateOrderStopFirst || out.UpdateConfig.Parallelism != 1 || out.RollbackConfig.Order != swarm.UpdateOrderStopFirst {
		t.Errorf("update/rollback config %+v %+v", out.UpdateConfig, out.RollbackConfig)
	}
	if len(changes) != 2 {
		t.Errorf("changes %v, want the two orders", changes)
	}
	if out.Labels["team"] != "a" || labels[stateful.LabelVolumes] != "/data=abc123" || out.Labels[stateful.LabelPin] != "n2" || out.Labels[stateful.LabelDataPaths] != "/data" {
		t.Errorf("labels %v", out.Labels)
	}
	// Already pinned to the node: no second pin.
	spec.TaskTemplate.Placement.Constraints = []string{"node.hostname==two"}
	if _, pin, _, _ := safeSpec(spec, nil, "n2", paths, "v1", sw); pin != "" {
		t.Errorf("pinned by hostname to the node: added %q", pin)
	}
}
