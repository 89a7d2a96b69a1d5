package stateful_test

import (
	"strings"
	"testing"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/createspec"
	"github.com/docker-stateful/docker-stateful/plugin/guard"
	"github.com/docker-stateful/docker-stateful/plugin/hint"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
	"github.com/docker-stateful/docker-stateful/plugin/verifyflow"
)

func redis(mounts ...mount.Mount) swarm.ServiceSpec {
	one := uint64(1)
	return swarm.ServiceSpec{
		Annotations:  swarm.Annotations{Name: "cache", Labels: map[string]string{}},
		Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "redis", Mounts: mounts}},
	}
}

var nodes = []stateful.Node{{ID: "n1", Hostname: "h1"}, {ID: "n2", Hostname: "h2"}}

// TestSameWords: for one situation, the guard, the hook's hint, create and
// update --verify's rollback report say where /data lives in the same words.
func TestSameWords(t *testing.T) {
	anon := mount.Mount{Type: mount.TypeVolume, Target: "/data"}
	tmpfs := mount.Mount{Type: mount.TypeTmpfs, Target: "/data"}
	named := mount.Mount{Type: mount.TypeVolume, Source: "cache-data", Target: "/data"}
	limitMemory := func(s swarm.ServiceSpec) swarm.ServiceSpec {
		s.TaskTemplate.ForceUpdate++
		return s
	}
	cases := []struct {
		name   string
		spec   swarm.ServiceSpec
		img    stateful.ImageFacts
		create bool // create refuses this --mount on a data path
	}{
		{"explicit anonymous volume", redis(anon), stateful.ImageFacts{}, true},
		{"tmpfs", redis(tmpfs), stateful.ImageFacts{}, true},
		{"image's VOLUME", redis(), stateful.ImageFacts{Volumes: []string{"/data"}, Inspected: true}, false},
		{"image not inspected", redis(), stateful.ImageFacts{}, false},
		{"no mount, no VOLUME", redis(), stateful.ImageFacts{Inspected: true}, false},
	}
	for _, c := range cases {
		words := stateful.Locate(c.spec, "/data", c.img).String()
		msgs := map[string]string{}

		in := guard.Input{Service: "cache", Current: c.spec, New: limitMemory(c.spec), TaskNodes: []string{"n1"}, Nodes: nodes}
		if c.img.Inspected {
			in.ImageVolumes = map[string][]string{"redis": c.img.Volumes}
		}
		r := guard.Check(in)
		if len(r.Problems) == 0 {
			t.Fatalf("%s: guard allowed the update", c.name)
		}
		msgs["guard"] = r.Problems[0].Message

		svc := hint.Service{Spec: c.spec, TaskNode: "n1", Nodes: nodes}
		if c.img.Inspected {
			svc.ImageVolumes = append([]string{}, c.img.Volumes...)
		}
		msgs["hint"] = hint.Text(svc)

		if c.create {
			_, err := createspec.Apply(c.spec, nil, createspec.Options{Data: []string{"/data"}}, stateful.Cluster{SelfNodeID: "n1", Nodes: nodes})
			if err == nil {
				t.Fatalf("%s: create accepted it", c.name)
			}
			msgs["create"] = err.Error()
		}
		if !c.img.Inspected {
			// update --verify's rollback report does not inspect the image.
			msgs["verify"] = verifyflow.DataMountOf(c.spec, "/data").String()
		}
		for who, m := range msgs {
			if !strings.Contains(m, words) {
				t.Errorf("%s: %s says %q, which lacks %q", c.name, who, m, words)
			}
		}
	}

	// A named volume: the guard removing it, the hint asking to pin it,
	// create's summary and the rollback report.
	words := stateful.Locate(redis(named), "/data", stateful.ImageFacts{}).String()
	r := guard.Check(guard.Input{Service: "cache", Current: redis(named), New: redis(), Nodes: nodes, TaskNodes: []string{"n1"},
		ImageVolumes: map[string][]string{"redis": {}}})
	res, err := createspec.Apply(redis(named), nil, createspec.Options{NoPin: true}, stateful.Cluster{SelfNodeID: "n1", Nodes: nodes})
	if err != nil || len(r.Problems) == 0 {
		t.Fatalf("create: %v; guard: %+v", err, r)
	}
	for who, m := range map[string]string{
		"guard":  r.Problems[0].Message,
		"hint":   hint.Text(hint.Service{Spec: redis(named), TaskNode: "n1", Nodes: nodes}),
		"create": createspec.Summary(res)[0],
		"verify": verifyflow.DataMountOf(redis(named), "/data").String(),
	} {
		if !strings.Contains(m, words) {
			t.Errorf("named volume: %s says %q, which lacks %q", who, m, words)
		}
	}
}
