package inventory

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
)

func redisService(id, name string, mounts []mount.Mount, constraints ...string) swarm.Service {
	grace := 30 * time.Second
	one := uint64(1)
	return swarm.Service{ID: id, Spec: swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: name},
		Mode:        swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{Image: "redis", Mounts: mounts, StopGracePeriod: &grace},
			Placement:     &swarm.Placement{Constraints: constraints},
		},
	}}
}

func node(id, host string, state swarm.NodeState, av swarm.NodeAvailability) swarm.Node {
	return swarm.Node{ID: id, Description: swarm.NodeDescription{Hostname: host},
		Status: swarm.NodeStatus{State: state}, Spec: swarm.NodeSpec{Availability: av}}
}

func running(svc, nodeID string) swarm.Task {
	return swarm.Task{ServiceID: svc, NodeID: nodeID, DesiredState: swarm.TaskStateRunning,
		Status: swarm.TaskStatus{State: swarm.TaskStateRunning}}
}

func codes(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Code)
	}
	return out
}

func TestCheckRules(t *testing.T) {
	vol := []mount.Mount{{Type: mount.TypeVolume, Source: "v", Target: "/data"}}
	s := &Swarm{
		Nodes: map[string]swarm.Node{
			"n1": node("n1", "one", swarm.NodeStateReady, swarm.NodeAvailabilityActive),
			"n2": node("n2", "two", swarm.NodeStateReady, swarm.NodeAvailabilityDrain),
			"n3": node("n3", "three", swarm.NodeStateDown, swarm.NodeAvailabilityActive),
		},
		Tasks:        map[string][]swarm.Task{"safe": {running("safe", "n1")}, "seed": {running("seed", "n1")}, "loose": {running("loose", "n1")}},
		ImageVolumes: map[string][]string{"redis": {"/data"}},
	}
	shared := redisService("shared", "shared", vol, "node.id==n1")
	three := uint64(3)
	shared.Spec.Mode.Replicated.Replicas = &three
	short := redisService("short", "short", vol, "node.hostname==one")
	ten := 10 * time.Second
	short.Spec.TaskTemplate.ContainerSpec.StopGracePeriod = &ten
	startFirst := redisService("sf", "sf", vol, "node.id==n1")
	startFirst.Spec.UpdateConfig = &swarm.UpdateConfig{Order: swarm.UpdateOrderStartFirst}
	failing := redisService("fail", "fail", vol, "node.id==n1")
	s.Tasks["fail"] = []swarm.Task{{ServiceID: "fail", NodeID: "n1", DesiredState: swarm.TaskStateRunning,
		Status: swarm.TaskStatus{State: swarm.TaskStateRejected, Err: `create v: error while mounting volume: no such volume`}}}
	cases := []struct {
		svc  swarm.Service
		want []string
		risk string
	}{
		{redisService("safe", "safe", vol, "node.id==n1"), nil, RiskSafe},
		{redisService("seed", "seed", nil), []string{codeEphemeral}, RiskAtRisk},
		{redisService("loose", "loose", vol), []string{codeUnpinned}, RiskAtRisk},
		{redisService("drained", "drained", vol, "node.id==n2"), []string{CodePinnedNode}, RiskStuck},
		{redisService("down", "down", vol, "node.hostname==three"), []string{CodePinnedNode}, RiskStuck},
		{redisService("gone", "gone", vol, "node.id==nope"), []string{CodePinnedNode}, RiskStuck},
		{shared, []string{codeShared}, RiskAtRisk},
		{short, []string{codeGrace}, RiskAtRisk},
		{startFirst, []string{codeStartFirst}, RiskAtRisk},
		{failing, []string{CodeNoVolume}, RiskStuck},
		{swarm.Service{ID: "web", Spec: swarm.ServiceSpec{TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "nginx"}}}}, nil, RiskSafe},
	}
	for _, c := range cases {
		fs := s.Check(c.svc)
		if got := codes(fs); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: codes %v, want %v (%+v)", c.svc.ID, got, c.want, fs)
		}
		if got := Risk(fs); got != c.risk {
			t.Errorf("%s: risk %s, want %s", c.svc.ID, got, c.risk)
		}
		for _, f := range fs {
			if f.Message == "" {
				t.Errorf("%s: %s without a message", c.svc.ID, f.Code)
			}
		}
	}
	if fs := s.Check(redisService("seed", "seed", nil)); fs[0].Fix != "docker stateful adopt seed" || !strings.HasPrefix(fs[0].Message, "/data is on an anonymous volume: ") {
		t.Errorf("seed's finding = %+v, want /data on an anonymous volume, fixed by adopt", fs[0])
	}
	if fs := s.Check(redisService("drained", "drained", vol, "node.id==n2")); fs[0].Fix != "docker node update --availability active two" {
		t.Errorf("drained's fix = %q", fs[0].Fix)
	}
}

func TestDataPathKinds(t *testing.T) {
	spec := redisService("x", "x", []mount.Mount{
		{Type: mount.TypeVolume, Source: "x-{{.Task.Slot}}", Target: "/data"},
		{Type: mount.TypeBind, Source: "/srv", Target: "/srv"},
		{Type: mount.TypeTmpfs, Target: "/var/lib/mysql"},
	}).Spec
	spec.Labels = map[string]string{"io.docker-stateful.data": "/data,/srv,/var/lib/mysql,/opt"}
	got := map[string]Kind{}
	for _, d := range dataPathsOf(spec, []string{"/data"}, true) {
		got[d.Path] = d.Kind
	}
	want := map[string]Kind{"/data": KindPerSlot, "/srv": KindBind, "/var/lib/mysql": KindTmpfs, "/opt": KindContainerFS}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("kinds = %v, want %v", got, want)
	}
}

func TestRowsFilter(t *testing.T) {
	vol := []mount.Mount{{Type: mount.TypeVolume, Source: "v", Target: "/data"}}
	s := &Swarm{
		Services: []swarm.Service{
			redisService("a", "a", vol, "node.id==n1"),
			redisService("b", "b", nil),
			{ID: "web", Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "web"}, TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "nginx"}}}},
		},
		Nodes:        map[string]swarm.Node{"n1": node("n1", "one", swarm.NodeStateReady, swarm.NodeAvailabilityActive), "n2": node("n2", "two", swarm.NodeStateReady, swarm.NodeAvailabilityActive)},
		Tasks:        map[string][]swarm.Task{"a": {running("a", "n1")}, "b": {running("b", "n2")}},
		ImageVolumes: map[string][]string{"redis": {"/data"}},
	}
	names := func(rows []Row) (out []string) {
		for _, r := range rows {
			out = append(out, r.Name+":"+r.Risk)
		}
		return out
	}
	for _, c := range []struct {
		f    RowFilter
		want []string
	}{
		{RowFilter{}, []string{"a:safe", "b:at-risk"}}, // web holds no data: not listed
		{RowFilter{Risk: RiskAtRisk}, []string{"b:at-risk"}},
		{RowFilter{Node: "one"}, []string{"a:safe"}},
		{RowFilter{Node: "n2"}, []string{"b:at-risk"}},
		{RowFilter{Node: "n2", Risk: RiskSafe}, nil},
	} {
		if got := names(s.Rows(c.f)); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Rows(%+v) = %v, want %v", c.f, got, c.want)
		}
	}
}

// ls and check name the engine update --verify would check, by image or
// published port, and none for another image.
func TestEngine(t *testing.T) {
	svc := func(img string, ports ...uint32) swarm.Service {
		s := swarm.Service{Spec: swarm.ServiceSpec{TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: img}}}}
		if len(ports) > 0 {
			s.Spec.EndpointSpec = &swarm.EndpointSpec{}
			for _, p := range ports {
				s.Spec.EndpointSpec.Ports = append(s.Spec.EndpointSpec.Ports, swarm.PortConfig{TargetPort: p, PublishedPort: p + 1})
			}
		}
		return s
	}
	for _, c := range []struct {
		svc  swarm.Service
		want string
	}{
		{svc("redis:7"), "redis"},
		{svc("postgres:15@sha256:abc"), "postgres"},
		{svc("example/db", 5432), "postgres"},
		{svc("example/cache", 6379), "redis"},
		{svc("mysql:8"), "mariadb"},
		{svc("mongo:7"), ""},
	} {
		if got := Engine(c.svc); got != c.want {
			t.Errorf("Engine(%s) = %q, want %q", c.svc.Spec.TaskTemplate.ContainerSpec.Image, got, c.want)
		}
	}
}
