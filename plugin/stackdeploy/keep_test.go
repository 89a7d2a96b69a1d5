package stackdeploy

import (
	"reflect"
	"testing"
	"time"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/specdiff"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// created is a service as docker stateful create left it.
func created() swarm.ServiceSpec {
	grace := 30 * time.Second
	return swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: "app_redis", Labels: map[string]string{
			"com.docker.stack.namespace": "app",
			stateful.LabelDataPaths:      "/data",
			stateful.LabelVolumes:        "/data=app_redis-data",
			stateful.LabelPin:            "node1id",
			stateful.LabelVersion:        "v1",
		}},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{
				Image:           "redis",
				Mounts:          []mount.Mount{{Type: mount.TypeVolume, Source: "app_redis-data", Target: "/data"}},
				StopGracePeriod: &grace,
				Isolation:       "default",
			},
			Placement: &swarm.Placement{Constraints: []string{"node.id==node1id"}},
			Runtime:   "container",
			Networks:  []swarm.NetworkAttachmentConfig{{Target: "net1id", Aliases: []string{"redis"}}},
		},
		UpdateConfig: &swarm.UpdateConfig{Parallelism: 1, Order: swarm.UpdateOrderStopFirst},
		EndpointSpec: &swarm.EndpointSpec{Mode: swarm.ResolutionModeVIP},
	}
}

// fromCompose is what docker's stack deploy computes from a compose file
// that says nothing of volumes, pins or grace periods.
func fromCompose() swarm.ServiceSpec {
	return swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: "app_redis", Labels: map[string]string{"com.docker.stack.namespace": "app"}},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{Image: "redis"},
			Networks:      []swarm.NetworkAttachmentConfig{{Target: "app_default", Aliases: []string{"redis"}}},
		},
		EndpointSpec: &swarm.EndpointSpec{},
	}
}

func TestKeepAdditionsMakesAnUnchangedFileUnchanged(t *testing.T) {
	cur, next := created(), fromCompose()
	kept := KeepAdditions(cur, &next)
	want := []string{"volume app_redis-data on /data", "pin node.id==node1id", "stop grace period 30s", "update order stop-first"}
	if !reflect.DeepEqual(kept, want) {
		t.Errorf("kept %q, want %q", kept, want)
	}
	if d := specdiff.Diff(cur, ForDiff(cur, next, map[string]string{"app_default": "net1id"})); len(d) != 0 {
		t.Errorf("an unchanged compose file still differs: %+v", d)
	}
	// The compose spec keeps docker's own values where it sets them.
	if next.TaskTemplate.ContainerSpec.Isolation != "" || next.TaskTemplate.Networks[0].Target != "app_default" {
		t.Errorf("KeepAdditions changed what docker computed: %+v", next.TaskTemplate)
	}
}

func TestKeepAdditionsLeavesWhatTheFileSays(t *testing.T) {
	cur, next := created(), fromCompose()
	grace := 45 * time.Second
	next.TaskTemplate.ContainerSpec.StopGracePeriod = &grace
	next.TaskTemplate.ContainerSpec.Mounts = []mount.Mount{{Type: mount.TypeVolume, Source: "app_other", Target: "/data"}}
	next.TaskTemplate.Placement = &swarm.Placement{Constraints: []string{"node.hostname==node3"}}
	kept := KeepAdditions(cur, &next)
	if !reflect.DeepEqual(kept, []string{"update order stop-first"}) {
		t.Errorf("kept %q: the file's own mount, pin and grace period must win", kept)
	}
	if m := next.TaskTemplate.ContainerSpec.Mounts; len(m) != 1 || m[0].Source != "app_other" {
		t.Errorf("mounts %+v: want the file's app_other only (the guard judges the change)", m)
	}
	if c := next.TaskTemplate.Placement.Constraints; !reflect.DeepEqual(c, []string{"node.hostname==node3"}) {
		t.Errorf("constraints %q: want the file's own", c)
	}
	if *next.TaskTemplate.ContainerSpec.StopGracePeriod != grace {
		t.Errorf("grace %s, want the file's 45s", *next.TaskTemplate.ContainerSpec.StopGracePeriod)
	}
	if next.Labels[stateful.LabelVolumes] != "/data=app_redis-data" {
		t.Errorf("labels %v: the docker stateful labels must be kept", next.Labels)
	}
}

func TestKeepAdditionsIgnoresUnmanagedServices(t *testing.T) {
	cur := fromCompose()
	cur.TaskTemplate.ContainerSpec.Mounts = []mount.Mount{{Type: mount.TypeVolume, Source: "x", Target: "/data"}}
	next := fromCompose()
	if kept := KeepAdditions(cur, &next); kept != nil || len(next.TaskTemplate.ContainerSpec.Mounts) != 0 {
		t.Errorf("kept %q, mounts %+v for a service docker stateful did not create", kept, next.TaskTemplate.ContainerSpec.Mounts)
	}
}

func TestPlanVerdict(t *testing.T) {
	p := &Plan{Stack: "app"}
	p.Add(Service{Name: "app_web", Action: ActionUpdate, Verdict: VerdictAllowed})
	p.Add(Service{Name: "app_redis", Action: ActionUpdate, Verdict: VerdictRefused, Problems: []Problem{{Code: "data-mount", Message: "m"}}})
	p.Add(Service{Name: "app_web", Action: ActionUnchanged, Verdict: VerdictAllowed}) // a second pass replaces
	p.Finish()
	if p.Verdict != VerdictRefused || len(p.Services) != 2 || p.Services[0].Name != "app_redis" || p.Services[1].Action != ActionUnchanged {
		t.Errorf("plan %+v", p)
	}
	if r := p.Refused(); len(r) != 1 || r[0].Name != "app_redis" {
		t.Errorf("refused %+v", r)
	}
}
