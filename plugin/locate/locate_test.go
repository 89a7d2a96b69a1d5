package locate

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"
)

type fakeAPI struct {
	tasks []swarm.Task
	nodes []swarm.Node
}

func (f fakeAPI) TaskList(context.Context, swarm.TaskListOptions) ([]swarm.Task, error) {
	return f.tasks, nil
}

func (f fakeAPI) NodeList(context.Context, swarm.NodeListOptions) ([]swarm.Node, error) {
	return f.nodes, nil
}

func (f fakeAPI) NodeInspectWithRaw(_ context.Context, id string) (swarm.Node, []byte, error) {
	for _, n := range f.nodes {
		if n.ID == id {
			return n, nil, nil
		}
	}
	return swarm.Node{}, nil, nil
}

func node(id, host, addr string) swarm.Node {
	return swarm.Node{ID: id, Description: swarm.NodeDescription{Hostname: host}, Status: swarm.NodeStatus{State: swarm.NodeStateReady, Addr: addr}}
}

func task(id, nodeID string, state swarm.TaskState, created time.Time, published uint32) swarm.Task {
	t := swarm.Task{ID: id, NodeID: nodeID, Status: swarm.TaskStatus{State: state}}
	t.Meta.CreatedAt = created
	t.Status.PortStatus.Ports = []swarm.PortConfig{{TargetPort: 6379, PublishedPort: published, PublishMode: swarm.PortConfigPublishModeHost}}
	return t
}

func service(mode swarm.PortConfigPublishMode, published, target uint32) swarm.Service {
	s := swarm.Service{ID: "svc"}
	s.Spec.Name = "cache"
	s.Endpoint.Ports = []swarm.PortConfig{{TargetPort: target, PublishedPort: published, PublishMode: mode}}
	return s
}

func TestHostModeUsesTheNodeRunningTheNewestTask(t *testing.T) {
	now := time.Now()
	api := fakeAPI{
		nodes: []swarm.Node{node("n1", "node1", "10.0.0.11"), node("n2", "node2", "10.0.0.12")},
		tasks: []swarm.Task{
			task("old", "n1", swarm.TaskStateShutdown, now.Add(-time.Hour), 10000),
			task("t1", "n1", swarm.TaskStateRunning, now.Add(-time.Minute), 10000),
			task("t2", "n2", swarm.TaskStateRunning, now, 10001),
		},
	}
	ep, err := Redis(context.Background(), api, service(swarm.PortConfigPublishModeHost, 0, 6379), 0)
	if err != nil {
		t.Fatal(err)
	}
	if ep.Addr != "10.0.0.12:10001" || !strings.Contains(ep.Reason, "node2") {
		t.Fatalf("got %+v", ep)
	}
}

func TestIngressUsesAReadyNode(t *testing.T) {
	down := node("n1", "node1", "10.0.0.11")
	down.Status.State = swarm.NodeStateDown
	api := fakeAPI{nodes: []swarm.Node{down, node("n2", "node2", "10.0.0.12")}}
	ep, err := Redis(context.Background(), api, service(swarm.PortConfigPublishModeIngress, 10000, 6379), 0)
	if err != nil {
		t.Fatal(err)
	}
	if ep.Addr != "10.0.0.12:10000" || !strings.Contains(ep.Reason, "ingress") {
		t.Fatalf("got %+v", ep)
	}
}

func TestNoPublishedPortSaysHowToFixIt(t *testing.T) {
	_, err := Redis(context.Background(), fakeAPI{}, service(swarm.PortConfigPublishModeHost, 10000, 80), 0)
	if err == nil || !strings.Contains(err.Error(), "--redis-url") {
		t.Fatalf("want an error naming --redis-url, got %v", err)
	}
}

func TestNoRunningTask(t *testing.T) {
	api := fakeAPI{tasks: []swarm.Task{task("t", "n1", swarm.TaskStatePending, time.Now(), 0)}}
	_, err := Redis(context.Background(), api, service(swarm.PortConfigPublishModeHost, 10000, 6379), 0)
	if err == nil || !strings.Contains(err.Error(), "no running task") {
		t.Fatalf("got %v", err)
	}
}

// TestServerPostgres: the same search for PostgreSQL's port, and a message that names
// PostgreSQL and its flag when the service publishes none.
func TestServerPostgres(t *testing.T) {
	api := fakeAPI{nodes: []swarm.Node{node("n1", "node1", "10.0.0.11")}}
	ep, err := Server(context.Background(), api, service(swarm.PortConfigPublishModeIngress, 15432, 5432), "PostgreSQL", 5432, "--pg-url")
	if err != nil || ep.Addr != "10.0.0.11:15432" || !strings.Contains(ep.Reason, "ingress port 15432 → 5432") {
		t.Fatalf("ingress: %+v %v", ep, err)
	}
	_, err = Server(context.Background(), api, service(swarm.PortConfigPublishModeIngress, 16379, 6379), "PostgreSQL", 5432, "--pg-url")
	if err == nil || !strings.Contains(err.Error(), "publishes no port for PostgreSQL (target port 5432)") || !strings.Contains(err.Error(), "--pg-url") {
		t.Fatalf("no port: %v", err)
	}
	if !Publishes(service(swarm.PortConfigPublishModeHost, 0, 5432), 5432) || Publishes(service(swarm.PortConfigPublishModeHost, 0, 5432), 6379) {
		t.Error("Publishes")
	}
}
