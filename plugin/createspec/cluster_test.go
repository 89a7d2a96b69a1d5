package createspec

import (
	"strings"
	"testing"

	"github.com/docker/docker/api/types/mount"

	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

func TestApplyClusterVolume(t *testing.T) {
	home := stateful.CSIVolume{Name: "db", Scope: "single", Sharing: "onewriter", Topology: []map[string]string{{"node": "node2"}}}
	cases := []struct {
		name    string
		vol     *stateful.CSIVolume
		opts    Options
		pin     string // constraint expected ("" = none)
		err     string
		warning string
	}{
		{name: "topology names node2: pinned there, not to the CLI's node", vol: &home, pin: "node.id==n2bbbbbbbbbb"},
		{name: "--pin elsewhere refused", vol: &home, opts: Options{Pin: "node1"}, err: "cluster volume db lives on node2"},
		{name: "--pin the home node", vol: &home, opts: Options{Pin: "node2"}, pin: "node.id==n2bbbbbbbbbb"},
		{name: "no topology: follows the task", vol: &stateful.CSIVolume{Name: "db", Scope: "single", Sharing: "none"}},
		{name: "sharing all refused", vol: &stateful.CSIVolume{Name: "db", Scope: "single", Sharing: "all"}, err: "--sharing all"},
		{name: "read-only refused", vol: &stateful.CSIVolume{Name: "db", Scope: "single", Sharing: "readonly"}, err: "read-only"},
		{name: "scope multi warned", vol: &stateful.CSIVolume{Name: "db", Scope: "multi", Sharing: "none"}, warning: "--scope multi"},
		{name: "volume not readable: warned, no pin", warning: "could not be read"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := spec("cache", "redis:7", 1)
			s.TaskTemplate.ContainerSpec.Mounts = []mount.Mount{{Type: mount.TypeCluster, Source: "db", Target: "/data"}}
			cl := cluster
			cl.Volumes = map[string]stateful.CSIVolume{}
			if c.vol != nil {
				cl.Volumes["db"] = *c.vol
			}
			res, err := Apply(s, []string{"/data"}, c.opts, cl)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Mounts) != 0 {
				t.Errorf("added mounts %+v: the cluster volume holds /data", res.Mounts)
			}
			if res.Pin.Constraint != c.pin {
				t.Errorf("pin = %q, want %q", res.Pin.Constraint, c.pin)
			}
			if c.pin != "" && c.opts.Pin == "" && !strings.Contains(res.Pin.By, "cluster volume db") {
				t.Errorf("pinned by %q, want the cluster volume's topology", res.Pin.By)
			}
			if got := strings.Join(res.Warnings, "\n"); (c.warning == "") != (got == "") || !strings.Contains(got, c.warning) {
				t.Errorf("warnings %q, want %q", got, c.warning)
			}
		})
	}
}

func TestApplyClusterVolumesOnTwoNodes(t *testing.T) {
	s := spec("cache", "redis:7", 1)
	s.TaskTemplate.ContainerSpec.Mounts = []mount.Mount{
		{Type: mount.TypeCluster, Source: "a", Target: "/data"},
		{Type: mount.TypeCluster, Source: "b", Target: "/logs"},
	}
	cl := cluster
	cl.Volumes = map[string]stateful.CSIVolume{
		"a": {Name: "a", Scope: "single", Sharing: "none", Topology: []map[string]string{{"node": "node1"}}},
		"b": {Name: "b", Scope: "single", Sharing: "none", Topology: []map[string]string{{"node": "node2"}}},
	}
	if _, err := Apply(s, nil, Options{Data: []string{"/data", "/logs"}}, cl); err == nil || !strings.Contains(err.Error(), "one task cannot run on both") {
		t.Fatalf("err = %v, want volumes of two nodes refused", err)
	}
}
