package move

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/internal/redistest"
	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
)

func TestReplicaSpec(t *testing.T) {
	svc := service()
	svc.Spec.TaskTemplate.ContainerSpec.Args = []string{"redis-server", "--requirepass-file-is-not-an-option", "x"}
	svc.Spec.TaskTemplate.ContainerSpec.Mounts[0].Source = "cache-{{.Task.Slot}}"
	p, err := MakePlan(PlanInput{Service: svc, Cluster: cluster(), To: "node3"})
	if err != nil {
		t.Fatal(err)
	}
	spec, why := ReplicaSpec(p)
	if why != "" {
		t.Fatal(why)
	}
	if spec.Name != "cache-move-replica" || spec.Labels[LabelReplicaOf] != "cache" || len(spec.Labels) != 1 {
		t.Errorf("name/labels: %s %v (the service's stateful labels must not mark the replica stateful)", spec.Name, spec.Labels)
	}
	if got := spec.TaskTemplate.Placement.Constraints; !reflect.DeepEqual(got, []string{"node.role==worker", "node.id==id3"}) {
		t.Errorf("constraints %v: pinned to the target", got)
	}
	cs := spec.TaskTemplate.ContainerSpec
	if want := []string{"redis-server", "--requirepass-file-is-not-an-option", "x", "--port", "6380"}; !reflect.DeepEqual(cs.Args, want) {
		t.Errorf("args %v, want %v", cs.Args, want)
	}
	if cs.Mounts[0].Source != "cache-1" || cs.Mounts[0].Target != "/data" {
		t.Errorf("mount %+v: the moved task's (slot 1) volume", cs.Mounts[0])
	}
	if ports := spec.EndpointSpec.Ports; len(ports) != 1 || ports[0].TargetPort != 6380 || ports[0].PublishMode != swarm.PortConfigPublishModeHost || ports[0].PublishedPort != 0 {
		t.Errorf("ports %+v: only the temporary port, host mode, chosen by the engine", ports)
	}
	if rp := spec.TaskTemplate.RestartPolicy; rp == nil || rp.Condition != swarm.RestartPolicyConditionNone {
		t.Errorf("restart policy %+v: never restarted", rp)
	}
	if hc := cs.Healthcheck; hc == nil || !reflect.DeepEqual(hc.Test, []string{"NONE"}) {
		t.Errorf("healthcheck %+v", hc)
	}
	// The service's spec is not touched.
	if p.Final.TaskTemplate.ContainerSpec.Mounts[0].Source != "cache-{{.Task.Slot}}" || len(p.Final.EndpointSpec.Ports) != 1 || p.Final.EndpointSpec.Ports[0].TargetPort != 6379 {
		t.Error("ReplicaSpec changed the plan's specs")
	}

	svc.Spec.TaskTemplate.ContainerSpec.Mounts = []mount.Mount{{Type: mount.TypeVolume, Source: "{{.Service.Name}}-data", Target: "/data"}}
	p, err = MakePlan(PlanInput{Service: svc, Cluster: cluster(), To: "node3"})
	if err != nil {
		t.Fatal(err)
	}
	if _, why := ReplicaSpec(p); !strings.Contains(why, "template") {
		t.Errorf("a volume named by {{.Service.Name}}: %q", why)
	}
	if n := ReplicaName(strings.Repeat("a", 63)); len(n) > 63 || !strings.HasSuffix(n, "-move-replica") {
		t.Errorf("ReplicaName of a 63-character name: %s", n)
	}
}

func TestVersionAtLeast(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"7.0.15", "7.0.15", true}, {"7.2.4", "7.0.15", true}, {"8.0.2", "7.2.4", true},
		{"7.0.15", "7.2.4", false}, {"6.2.14", "7.0.15", false}, {"7.2.4", "8.0.2", false},
		{"", "7.0.0", true},
	} {
		if got := versionAtLeast(c.a, c.b); got != c.want {
			t.Errorf("versionAtLeast(%q, %q) = %v", c.a, c.b, got)
		}
	}
}

// TestHasCommand: a command renamed or disabled by rename-command is seen
// missing (the fallback's reason), against a real Redis.
func TestHasCommand(t *testing.T) {
	addr, _ := redistest.Start(t, "--rename-command", "REPLICAOF", "", "--rename-command", "PSYNC", "psync-renamed")
	c, err := redisstate.NewClient(redisstate.Options{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := &replicaRun{}
	ctx := context.Background()
	for cmd, want := range map[string]bool{"REPLICAOF": false, "PSYNC": false, "REPLCONF": true, "CONFIG": true} {
		if got := r.hasCommand(ctx, c, cmd); got != want {
			t.Errorf("hasCommand(%s) = %v, want %v", cmd, got, want)
		}
	}
}

func TestDBDiff(t *testing.T) {
	a := []redisstate.DBKeys{{DB: 0, Keys: 10}, {DB: 1, Keys: 2}}
	if d := dbDiff(a, a); d != "" {
		t.Errorf("equal: %q", d)
	}
	if d := dbDiff(a, []redisstate.DBKeys{{DB: 0, Keys: 10}, {DB: 2, Keys: 1}}); !strings.Contains(d, "db1: 2 on the source, 0 on the replica") || !strings.Contains(d, "db2: 0 on the source, 1 on the replica") {
		t.Errorf("differ: %q", d)
	}
}
