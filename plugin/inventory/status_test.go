package inventory

import (
	"strings"
	"testing"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
)

func TestExplain(t *testing.T) {
	vol := []mount.Mount{{Type: mount.TypeVolume, Source: "v", Target: "/data"}}
	s := &Swarm{
		Nodes: map[string]swarm.Node{"n2": node("n2", "two", swarm.NodeStateReady, swarm.NodeAvailabilityDrain)},
		Tasks: map[string][]swarm.Task{
			"stuck": {{ID: "t2", ServiceID: "stuck", DesiredState: swarm.TaskStateRunning,
				Status: swarm.TaskStatus{State: swarm.TaskStatePending, Err: "no suitable node (scheduling constraints not satisfied on 3 nodes)"}}},
			"killed": {
				running("killed", "n2"),
				{ID: "t0", ServiceID: "killed", NodeID: "n2", DesiredState: swarm.TaskStateShutdown,
					Status: swarm.TaskStatus{State: swarm.TaskStateShutdown, ContainerStatus: &swarm.ContainerStatus{ExitCode: 137}}},
			},
		},
	}
	stuck := s.Explain(redisService("stuck", "stuck", vol, "node.id==n2"))
	if len(stuck.Findings) != 1 || stuck.Findings[0].Code != CodeNoNode || !strings.Contains(stuck.Findings[0].Message, "drained") ||
		stuck.Findings[0].Fix != "docker node update --availability active two" {
		t.Errorf("stuck: %+v", stuck.Findings)
	}
	killed := s.Explain(redisService("killed", "killed", vol, "node.id==n2"))
	if len(killed.Findings) != 2 || killed.Findings[0].Code != CodeRunning || killed.Findings[1].Code != CodeKilled ||
		!strings.Contains(killed.Findings[1].Message, "30s stop grace period") || !strings.Contains(killed.Findings[1].Fix, "--stop-grace-period 1m0s") {
		t.Errorf("killed: %+v", killed.Findings)
	}
}
