package inventory

import (
	"testing"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
)

func TestPlanRemoval(t *testing.T) {
	s := &Swarm{
		Nodes:        map[string]swarm.Node{"n1": node("n1", "one", swarm.NodeStateReady, swarm.NodeAvailabilityActive), "n2": node("n2", "two", swarm.NodeStateReady, swarm.NodeAvailabilityActive)},
		Tasks:        map[string][]swarm.Task{},
		ImageVolumes: map[string][]string{"redis": {"/data"}},
	}
	one := redisService("a", "cache", []mount.Mount{{Type: mount.TypeVolume, Source: "cache-data", Target: "/data"}}, "node.id==n1")
	one.Spec.EndpointSpec = &swarm.EndpointSpec{Ports: []swarm.PortConfig{{TargetPort: 6379, PublishedPort: 7000, PublishMode: swarm.PortConfigPublishModeHost}}}
	one.Spec.TaskTemplate.ContainerSpec.Args = []string{"--appendonly", "yes"}
	r := s.PlanRemoval(one)
	if len(r.Volumes) != 1 || r.Volumes[0] != (Volume{Name: "cache-data", Path: "/data", NodeID: "n1", Hostname: "one"}) {
		t.Errorf("volumes %+v", r.Volumes)
	}
	if want := "docker stateful create --name cache --pin n1 --volume-name cache-data -p published=7000,target=6379,mode=host redis --appendonly yes"; r.Create != want {
		t.Errorf("create\n %s\nwant\n %s", r.Create, want)
	}

	two := redisService("b", "db", []mount.Mount{{Type: mount.TypeVolume, Source: "db-data-{{.Task.Slot}}", Target: "/data"}})
	n := uint64(2)
	two.Spec.Mode.Replicated.Replicas = &n
	s.Tasks["b"] = []swarm.Task{{ServiceID: "b", Slot: 2, NodeID: "n2"}, {ServiceID: "b", Slot: 1, NodeID: "n1"}}
	r = s.PlanRemoval(two)
	if len(r.Volumes) != 2 || r.Volumes[0].Name != "db-data-1" || r.Volumes[0].NodeID != "n1" || r.Volumes[1].Name != "db-data-2" || r.Volumes[1].NodeID != "n2" {
		t.Errorf("per-slot volumes %+v", r.Volumes)
	}
	if want := "docker stateful create --name db --no-pin --replicas 2 --volume-name db-data redis"; r.Create != want {
		t.Errorf("create\n %s\nwant\n %s", r.Create, want)
	}
	if r.Warning == "" {
		t.Errorf("volumes on two nodes without a pin: no warning")
	}
}
