package commands

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/docker/cli/cli"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
)

// opsFakeAPI answers the three lists ls, check and status read.
type opsFakeAPI struct {
	client.APIClient
	services []swarm.Service
	err      error
}

func (f *opsFakeAPI) Ping(context.Context) (types.Ping, error) {
	return types.Ping{APIVersion: "1.41"}, nil
}

func (f *opsFakeAPI) NegotiateAPIVersionPing(types.Ping) {}

func (f *opsFakeAPI) ServiceList(context.Context, swarm.ServiceListOptions) ([]swarm.Service, error) {
	return f.services, f.err
}

func (f *opsFakeAPI) NodeList(context.Context, swarm.NodeListOptions) ([]swarm.Node, error) {
	return []swarm.Node{{ID: "n1", Description: swarm.NodeDescription{Hostname: "one"},
		Status: swarm.NodeStatus{State: swarm.NodeStateReady}, Spec: swarm.NodeSpec{Availability: swarm.NodeAvailabilityActive}}}, nil
}

func (f *opsFakeAPI) TaskList(context.Context, swarm.TaskListOptions) ([]swarm.Task, error) {
	var out []swarm.Task
	for _, s := range f.services {
		out = append(out, swarm.Task{ID: "t-" + s.ID, ServiceID: s.ID, NodeID: "n1", DesiredState: swarm.TaskStateRunning,
			Status: swarm.TaskStatus{State: swarm.TaskStateRunning}})
	}
	return out, nil
}

func (f *opsFakeAPI) ImageInspect(context.Context, string, ...client.ImageInspectOption) (image.InspectResponse, error) {
	cfg := &dockerspec.DockerOCIImageConfig{}
	cfg.Volumes = map[string]struct{}{"/data": {}} // redis' VOLUME
	return image.InspectResponse{Config: cfg}, nil
}

func opsService(id string, mounts []mount.Mount, constraints ...string) swarm.Service {
	grace := 30 * time.Second
	return swarm.Service{ID: id, Spec: swarm.ServiceSpec{
		Annotations:  swarm.Annotations{Name: id},
		Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{}},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "redis", Mounts: mounts, StopGracePeriod: &grace}, Placement: &swarm.Placement{Constraints: constraints}},
	}}
}

func statusCode(err error) int {
	var se cli.StatusError
	if errors.As(err, &se) {
		return se.StatusCode
	}
	if err != nil {
		return -1
	}
	return 0
}

func TestOpsCommands(t *testing.T) {
	seed := opsService("seed", nil)
	safe := opsService("safe", []mount.Mount{{Type: mount.TypeVolume, Source: "safe-data", Target: "/data"}}, "node.id==n1")
	api := &opsFakeAPI{services: []swarm.Service{seed, safe}}

	for _, c := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"check", "safe"}, 0, "safe: safe"},
		{[]string{"check"}, 1, "seed: at-risk"},
		{[]string{"check", "nope"}, 2, ""},
		{[]string{"check", "--format", "{{.x", "safe"}, 2, ""},
		{[]string{"status", "nope"}, 2, ""},
		{[]string{"status", "safe"}, 0, "service safe: 1/1 running"},
		{[]string{"ls", "--filter", "risk=bad"}, 1, ""},
		{[]string{"ls", "-q", "--filter", "risk=at-risk", "--state-dir", t.TempDir()}, 0, "seed\n"},
	} {
		stdout, stderr, err := runOnAPI(t, api, NewRootCommand, c.args...)
		if got := statusCode(err); got != c.code || !strings.Contains(stdout, c.out) {
			t.Errorf("%v: exit %d (%v), stdout %q stderr %q; want %d and %q", c.args, got, err, stdout, stderr, c.code, c.out)
		}
	}

	stdout, _, err := runOnAPI(t, api, NewRootCommand, "ls", "--format", "json", "--state-dir", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var row map[string]any
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatalf("ls --format json: %v in %q", err, line)
		}
		for k := range row {
			if strings.ToLower(k) != k {
				t.Errorf("ls --format json key %q is not snake_case", k)
			}
		}
	}

	if _, _, err := runOnAPI(t, &opsFakeAPI{err: errors.New("daemon down")}, NewRootCommand, "check"); statusCode(err) != 2 {
		t.Errorf("check with the daemon failing: %v, want exit 2", err)
	}
}
