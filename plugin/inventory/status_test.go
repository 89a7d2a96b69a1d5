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

func TestExplainRestartLoopAndPausedUpdate(t *testing.T) {
	failed := func(id string) swarm.Task {
		return swarm.Task{ID: id, ServiceID: "loop", NodeID: "n1", DesiredState: swarm.TaskStateShutdown,
			Status: swarm.TaskStatus{State: swarm.TaskStateFailed, Err: "task: non-zero exit (1)"}}
	}
	s := &Swarm{
		Nodes: map[string]swarm.Node{"n1": node("n1", "one", swarm.NodeStateReady, swarm.NodeAvailabilityActive)},
		Tasks: map[string][]swarm.Task{"loop": {failed("t3"), failed("t2"), failed("t1")}},
	}
	svc := redisService("loop", "loop", nil, "node.id==n1")
	svc.UpdateStatus = &swarm.UpdateStatus{State: swarm.UpdateStatePaused, Message: "update paused due to failure or early termination of task t3"}
	st := s.Explain(svc)
	var got []string
	for _, f := range st.Findings {
		got = append(got, f.Code)
	}
	if strings.Join(got, ",") != CodeUpdate+","+CodeRestartLoop || st.UpdateState != "paused" ||
		!strings.Contains(st.Findings[0].Message, "paused") || !strings.Contains(st.Findings[1].Message, "3 of the service's tasks failed") {
		t.Errorf("findings %+v", st.Findings)
	}
}
