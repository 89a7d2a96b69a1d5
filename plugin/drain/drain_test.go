package drain

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/exitcode"
	"github.com/docker-stateful/docker-stateful/plugin/move"
)

type fakeAPI struct {
	nodes    []swarm.Node
	services []swarm.Service
	tasks    []swarm.Task
	updates  []swarm.NodeSpec
}

func (f *fakeAPI) NodeList(context.Context, swarm.NodeListOptions) ([]swarm.Node, error) {
	return f.nodes, nil
}
func (f *fakeAPI) NodeInspectWithRaw(_ context.Context, id string) (swarm.Node, []byte, error) {
	for _, n := range f.nodes {
		if n.ID == id {
			return n, nil, nil
		}
	}
	return swarm.Node{}, nil, errors.New("no such node")
}
func (f *fakeAPI) NodeUpdate(_ context.Context, id string, _ swarm.Version, spec swarm.NodeSpec) error {
	f.updates = append(f.updates, spec)
	return nil
}
func (f *fakeAPI) ServiceList(context.Context, swarm.ServiceListOptions) ([]swarm.Service, error) {
	return f.services, nil
}
func (f *fakeAPI) TaskList(context.Context, swarm.TaskListOptions) ([]swarm.Task, error) {
	return f.tasks, nil
}

func node(id, host string, role swarm.NodeRole, labels map[string]string) swarm.Node {
	n := swarm.Node{ID: id}
	n.Description.Hostname = host
	n.Status.State = swarm.NodeStateReady
	n.Spec.Availability = swarm.NodeAvailabilityActive
	n.Spec.Role = role
	n.Spec.Labels = labels
	return n
}

func svc(id, name, image string, constraints []string, vol string) swarm.Service {
	s := swarm.Service{ID: id}
	s.Spec.Name = name
	one := uint64(1)
	s.Spec.Mode.Replicated = &swarm.ReplicatedService{Replicas: &one}
	s.Spec.TaskTemplate.ContainerSpec = &swarm.ContainerSpec{Image: image}
	if vol != "" {
		s.Spec.TaskTemplate.ContainerSpec.Mounts = []mount.Mount{{Type: mount.TypeVolume, Source: vol, Target: "/data"}}
	}
	s.Spec.TaskTemplate.Placement = &swarm.Placement{Constraints: constraints}
	return s
}

func engineOf(s swarm.Service) string {
	switch {
	case strings.HasPrefix(s.Spec.TaskTemplate.ContainerSpec.Image, "redis"):
		return "redis"
	case strings.HasPrefix(s.Spec.TaskTemplate.ContainerSpec.Image, "postgres"):
		return "postgres"
	}
	return ""
}

// moves records the calls of the MoveFunc and answers from fail.
type moves struct {
	calls []string
	fail  map[string]error
}

func (m *moves) fn(ctx context.Context, service, to string, dryRun bool) (*move.Result, error) {
	m.calls = append(m.calls, fmt.Sprintf("%s→%s dry=%v", service, to, dryRun))
	if dryRun {
		return &move.Result{Service: service, Verdict: move.VerdictPlanned}, nil
	}
	if err := m.fail[service]; err != nil {
		return &move.Result{Service: service, Verdict: move.VerdictRolledBack}, err
	}
	return &move.Result{Service: service, Verdict: move.VerdictMoved, Keys: 10}, nil
}

func cluster() *fakeAPI {
	return &fakeAPI{nodes: []swarm.Node{
		node("n3", "node3", swarm.NodeRoleManager, map[string]string{"disk": "ssd"}),
		node("n2", "node2", swarm.NodeRoleWorker, nil),
		node("n1", "node1", swarm.NodeRoleWorker, nil),
	}}
}

func newDrainer(api *fakeAPI, m *moves, opt Options) *Drainer {
	opt.Engine = engineOf
	return &Drainer{API: api, Move: m.fn, Opt: opt}
}

func TestPlanFindsTheServicesOfTheNode(t *testing.T) {
	api := cluster()
	api.services = []swarm.Service{
		svc("s1", "cache", "redis:7", []string{"node.id==n2"}, "cache-data"),
		svc("s2", "elsewhere", "redis:7", []string{"node.id==n3"}, "e-data"),
		svc("s3", "db", "postgres:15", []string{"node.hostname==node2"}, "db-data"),
		svc("s4", "loose", "redis:7", nil, "loose-data"),
		svc("s5", "web", "nginx", []string{"node.id==n2"}, ""),
		svc("s6", "ssdcache", "redis:7", []string{"node.id==n2", "node.labels.disk==ssd"}, "ssd-data"),
	}
	api.tasks = []swarm.Task{{ServiceID: "s4", NodeID: "n2", DesiredState: swarm.TaskStateRunning}}
	m := &moves{}
	res, err := newDrainer(api, m, Options{Node: "node2", DryRun: true}).Run(context.Background())
	if exitcode.Code(err) != exitcode.No {
		t.Fatalf("dry run with blocked services: err %v (code %d), want a refusal", err, exitcode.Code(err))
	}
	got := map[string]Item{}
	for _, it := range res.Items {
		got[it.Service] = it
	}
	if len(got) != 4 {
		t.Fatalf("items %+v, want cache, db, loose, ssdcache", res.Items)
	}
	if it := got["cache"]; it.Verdict != move.VerdictPlanned || it.To != "node3" || it.ToID != "n3" {
		t.Errorf("cache: %+v, want planned to node3 (a manager first)", it)
	}
	if it := got["ssdcache"]; it.Verdict != move.VerdictPlanned || it.To != "node3" {
		t.Errorf("ssdcache: %+v, want planned to node3 (the only node.labels.disk==ssd)", it)
	}
	if it := got["db"]; it.Verdict != ItemBlocked || !strings.Contains(it.Why, "PostgreSQL") {
		t.Errorf("db: %+v, want blocked naming PostgreSQL", it)
	}
	if it := got["loose"]; it.Verdict != ItemBlocked || !strings.Contains(it.Why, "not pinned") {
		t.Errorf("loose: %+v, want blocked: not pinned", it)
	}
	for _, c := range m.calls {
		if !strings.HasSuffix(c, "dry=true") {
			t.Errorf("dry run moved: %s", c)
		}
	}
	if len(api.updates) != 0 {
		t.Errorf("dry run updated the node: %+v", api.updates)
	}
}

func TestBlockedServiceStopsTheDrainUnlessForced(t *testing.T) {
	api := cluster()
	api.services = []swarm.Service{
		svc("s1", "cache", "redis:7", []string{"node.id==n2"}, "cache-data"),
		svc("s3", "db", "postgres:15", []string{"node.id==n2"}, "db-data"),
	}
	m := &moves{}
	res, err := newDrainer(api, m, Options{Node: "n2"}).Run(context.Background())
	if exitcode.Code(err) != exitcode.No || !strings.Contains(err.Error(), "db") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("err %v, want a refusal naming db", err)
	}
	if res.Drained || len(api.updates) != 0 {
		t.Errorf("node drained although db cannot move")
	}
	for _, c := range m.calls {
		if strings.HasSuffix(c, "dry=false") {
			t.Errorf("moved although the drain was refused: %s", c)
		}
	}

	api.updates = nil
	m = &moves{}
	res, err = newDrainer(api, m, Options{Node: "n2", Force: true}).Run(context.Background())
	if err != nil || !res.Drained || res.Verdict != VerdictDrained {
		t.Fatalf("--force: %v %+v", err, res)
	}
	if len(api.updates) != 1 || api.updates[0].Availability != swarm.NodeAvailabilityDrain {
		t.Errorf("node updates %+v, want one to drain", api.updates)
	}
}

func TestMovesEachThenDrains(t *testing.T) {
	api := cluster()
	api.services = []swarm.Service{
		svc("s1", "b-cache", "redis:7", []string{"node.id==n2"}, "b-data"),
		svc("s2", "a-cache", "redis:7", []string{"node.id==n2"}, "a-data"),
	}
	m := &moves{}
	res, err := newDrainer(api, m, Options{Node: "node2", To: "node3"}).Run(context.Background())
	if err != nil || !res.Drained {
		t.Fatalf("drain: %v %+v", err, res)
	}
	want := []string{"a-cache→n3 dry=true", "b-cache→n3 dry=true", "a-cache→n3 dry=false", "b-cache→n3 dry=false"}
	if strings.Join(m.calls, "|") != strings.Join(want, "|") {
		t.Errorf("calls %v, want %v", m.calls, want)
	}
	if len(api.updates) != 1 || api.updates[0].Availability != swarm.NodeAvailabilityDrain {
		t.Errorf("node updates %+v, want one to drain", api.updates)
	}
}

func TestFailedMoveStopsBeforeTheNode(t *testing.T) {
	api := cluster()
	api.services = []swarm.Service{
		svc("s1", "a", "redis:7", []string{"node.id==n2"}, "a-data"),
		svc("s2", "b", "redis:7", []string{"node.id==n2"}, "b-data"),
		svc("s3", "c", "redis:7", []string{"node.id==n2"}, "c-data"),
	}
	m := &moves{fail: map[string]error{"b": exitcode.Refused(errors.New("the restored data is not equal to the cut"))}}
	res, err := newDrainer(api, m, Options{Node: "node2"}).Run(context.Background())
	if exitcode.Code(err) != exitcode.No || !strings.Contains(err.Error(), "service b was not moved") {
		t.Fatalf("err %v, want service b not moved (exit 1)", err)
	}
	verdicts := []string{res.Items[0].Verdict, res.Items[1].Verdict, res.Items[2].Verdict}
	if strings.Join(verdicts, ",") != "moved,rolled_back,not_reached" {
		t.Errorf("verdicts %v", verdicts)
	}
	if res.Verdict != VerdictStopped || res.Drained || len(api.updates) != 0 {
		t.Errorf("the node must keep its availability: %+v, updates %v", res, api.updates)
	}
}

func TestInterruptedBetweenMoves(t *testing.T) {
	api := cluster()
	api.services = []swarm.Service{
		svc("s1", "a", "redis:7", []string{"node.id==n2"}, "a-data"),
		svc("s2", "b", "redis:7", []string{"node.id==n2"}, "b-data"),
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &moves{}
	d := newDrainer(api, m, Options{Node: "node2"})
	d.Move = func(c context.Context, service, to string, dryRun bool) (*move.Result, error) {
		r, err := m.fn(c, service, to, dryRun)
		if !dryRun {
			cancel() // Ctrl-C while the first move finishes
		}
		return r, err
	}
	res, err := d.Run(ctx)
	if exitcode.Code(err) != exitcode.Interrupted {
		t.Fatalf("err %v (code %d), want 130", err, exitcode.Code(err))
	}
	if res.Items[0].Verdict != move.VerdictMoved || res.Items[1].Verdict != ItemNotReached || res.Verdict != VerdictInterrupted {
		t.Errorf("result %+v", res)
	}
	if len(api.updates) != 0 {
		t.Errorf("an interrupted drain drained the node")
	}
}

func TestRefusesBadNodes(t *testing.T) {
	api := cluster()
	down := node("n4", "node4", swarm.NodeRoleWorker, nil)
	down.Status.State = swarm.NodeStateDown
	api.nodes = append(api.nodes, down)
	for _, tc := range []struct{ node, to, want string }{
		{"nodeX", "", "node nodeX: no such node"},
		{"node2", "node2", "that is the node being drained"},
		{"node2", "node4", "node node4 is down"},
	} {
		_, err := newDrainer(api, &moves{}, Options{Node: tc.node, To: tc.to}).Run(context.Background())
		if exitcode.Code(err) != exitcode.No || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("drain %s --to %q: %v, want %q", tc.node, tc.to, err, tc.want)
		}
	}
}

func TestNoNodeFits(t *testing.T) {
	api := cluster()
	s := svc("s1", "big", "redis:7", []string{"node.id==n2", "node.role==manager", "node.labels.disk==nvme"}, "big-data")
	api.services = []swarm.Service{s}
	res, _ := newDrainer(api, &moves{}, Options{Node: "node2", DryRun: true}).Run(context.Background())
	if len(res.Items) != 1 || res.Items[0].Verdict != ItemBlocked || !strings.Contains(res.Items[0].Why, "no other node fits") {
		t.Fatalf("items %+v, want blocked: no other node fits", res.Items)
	}
}

func TestMatches(t *testing.T) {
	n := node("abc", "host1", swarm.NodeRoleWorker, map[string]string{"zone": "EU"})
	n.Description.Platform.OS = "linux"
	for _, tc := range []struct {
		c         string
		ok, known bool
	}{
		{"node.role==worker", true, true},
		{"node.role!=worker", false, true},
		{"node.role == manager", false, true},
		{"node.labels.zone==eu", true, true},
		{"node.labels.rack==1", false, true},
		{"node.labels.rack!=1", true, true},
		{"node.platform.os==linux", true, true},
		{"node.hostname!=host2", true, true},
		{"something.else==x", false, false},
		{"garbage", false, false},
	} {
		ok, known := Matches(tc.c, n)
		if ok != tc.ok || known != tc.known {
			t.Errorf("Matches(%q) = %v, %v; want %v, %v", tc.c, ok, known, tc.ok, tc.known)
		}
	}
}
