package move

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

func cluster() stateful.Cluster {
	return stateful.Cluster{SelfNodeID: "id1", Nodes: []stateful.Node{
		{ID: "id1", Hostname: "node1", State: swarm.NodeStateReady, Availability: swarm.NodeAvailabilityActive},
		{ID: "id2", Hostname: "node2", State: swarm.NodeStateReady, Availability: swarm.NodeAvailabilityDrain},
		{ID: "id3", Hostname: "node3", State: swarm.NodeStateReady, Availability: swarm.NodeAvailabilityActive},
	}}
}

func service() swarm.Service {
	one := uint64(1)
	return swarm.Service{ID: "svcid", Spec: swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: "cache", Labels: map[string]string{
			stateful.LabelDataPaths: "/data", stateful.LabelPin: "id1", stateful.LabelVolumes: "/data=cache-data"}},
		Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{Image: "redis:latest", Mounts: []mount.Mount{
				{Type: mount.TypeVolume, Source: "cache-data", Target: "/data"}}},
			Placement: &swarm.Placement{Constraints: []string{"node.role==worker", "node.id==id1"}},
		},
		EndpointSpec: &swarm.EndpointSpec{Ports: []swarm.PortConfig{
			{Protocol: swarm.PortConfigProtocolTCP, TargetPort: 6379, PublishedPort: 10000, PublishMode: swarm.PortConfigPublishModeHost}}},
	}}
}

func TestMakePlanSpecs(t *testing.T) {
	svc := service()
	orig := deepCopy(svc.Spec)
	p, err := MakePlan(PlanInput{Service: svc, Cluster: cluster(), To: "node3", ImageCmd: []string{"redis-server", "--protected-mode", "no"}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(svc.Spec, orig) || !reflect.DeepEqual(p.Original, orig) {
		t.Fatal("the service's spec was modified: the plan must work on copies")
	}
	if p.From.ID != "id1" || p.To.ID != "id3" || !reflect.DeepEqual(p.Volumes, []string{"cache-data"}) || !reflect.DeepEqual(p.DataPaths, []string{"/data"}) {
		t.Fatalf("plan: %+v", p)
	}
	for _, s := range []swarm.ServiceSpec{p.Moving, p.Final} {
		if got := s.TaskTemplate.Placement.Constraints; !reflect.DeepEqual(got, []string{"node.role==worker", "node.id==id3"}) {
			t.Errorf("constraints %v", got)
		}
		if s.Labels[stateful.LabelPin] != "id3" {
			t.Errorf("pin label %q", s.Labels[stateful.LabelPin])
		}
	}
	// Moving: the image's CMD plus --port 6380, and the temporary host-mode port.
	if got := p.Moving.TaskTemplate.ContainerSpec.Args; !reflect.DeepEqual(got, []string{"redis-server", "--protected-mode", "no", "--port", "6380"}) {
		t.Errorf("moving args %v", got)
	}
	ports := p.Moving.EndpointSpec.Ports
	if len(ports) != 2 || ports[1].TargetPort != 6380 || ports[1].PublishedPort != 0 || ports[1].PublishMode != swarm.PortConfigPublishModeHost || ports[0] != orig.EndpointSpec.Ports[0] {
		t.Errorf("moving ports %+v", ports)
	}
	// Final: the original except for the pin.
	want := deepCopy(orig)
	want.TaskTemplate.Placement.Constraints[1] = "node.id==id3"
	want.Labels[stateful.LabelPin] = "id3"
	if !reflect.DeepEqual(p.Final, want) {
		t.Errorf("final spec differs from the original beyond the pin:\n%+v\n%+v", p.Final, want)
	}
	if len(p.Steps()) == 0 || !strings.Contains(strings.Join(p.Steps(), "\n"), "connection refused") {
		t.Errorf("steps: %v", p.Steps())
	}
}

func TestMakePlanArgs(t *testing.T) {
	svc := service()
	svc.Spec.TaskTemplate.ContainerSpec.Args = []string{"--appendonly", "no"}
	p, err := MakePlan(PlanInput{Service: svc, Cluster: cluster(), To: "id3", TempPort: 7000})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Moving.TaskTemplate.ContainerSpec.Args; !reflect.DeepEqual(got, []string{"--appendonly", "no", "--port", "7000"}) {
		t.Errorf("args %v", got)
	}
	if got := p.Final.TaskTemplate.ContainerSpec.Args; !reflect.DeepEqual(got, []string{"--appendonly", "no"}) {
		t.Errorf("final args %v", got)
	}
	// A per-slot volume is named as slot 1's task names it.
	svc = service()
	svc.Spec.TaskTemplate.ContainerSpec.Mounts[0].Source = "cache-data-{{.Task.Slot}}"
	p, err = MakePlan(PlanInput{Service: svc, Cluster: cluster(), To: "node3", ImageCmd: []string{"redis-server"}})
	if err != nil || !reflect.DeepEqual(p.Volumes, []string{"cache-data-1"}) {
		t.Fatalf("%v %+v", err, p)
	}
}

func TestMakePlanRefusals(t *testing.T) {
	two := uint64(2)
	cases := map[string]struct {
		edit func(*swarm.Service)
		to   string
		want string
	}{
		"same node":      {nil, "node1", "already pinned"},
		"self":           {nil, "self", "already pinned"},
		"drained target": {nil, "node2", "availability drain"},
		"unknown target": {nil, "node9", "no such node"},
		"replicas":       {func(s *swarm.Service) { s.Spec.Mode.Replicated.Replicas = &two }, "node3", "2 replicas"},
		"global":         {func(s *swarm.Service) { s.Spec.Mode = swarm.ServiceMode{Global: &swarm.GlobalService{}} }, "node3", "global"},
		"not pinned":     {func(s *swarm.Service) { s.Spec.TaskTemplate.Placement.Constraints = nil }, "node3", "pinned to 0 nodes"},
		"no redis port":  {func(s *swarm.Service) { s.Spec.EndpointSpec = nil }, "node3", "publishes no port"},
		"temp port used": {func(s *swarm.Service) {
			s.Spec.EndpointSpec.Ports = append(s.Spec.EndpointSpec.Ports, swarm.PortConfig{TargetPort: 6380})
		}, "node3", "already publishes target port 6380"},
		"other command": {func(s *swarm.Service) {
			s.Spec.TaskTemplate.ContainerSpec.Command = []string{"sh", "-c", "redis-server"}
		}, "node3", "cannot with another command"},
		"anonymous": {func(s *swarm.Service) { s.Spec.TaskTemplate.ContainerSpec.Mounts = nil }, "node3", "no named volume"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			svc := service()
			if tc.edit != nil {
				tc.edit(&svc)
			}
			_, err := MakePlan(PlanInput{Service: svc, Cluster: cluster(), To: tc.to, ImageCmd: []string{"redis-server"}})
			var r *Refusal
			if !errors.As(err, &r) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a refusal saying %q", err, tc.want)
			}
		})
	}
	// No args, no command, and an image whose CMD is unknown.
	if _, err := MakePlan(PlanInput{Service: service(), Cluster: cluster(), To: "node3"}); err == nil || !strings.Contains(err.Error(), "CMD is not known") {
		t.Fatalf("unknown CMD: %v", err)
	}
}
