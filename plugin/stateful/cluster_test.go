package stateful

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/volume"
)

func csiVol(name string, scope volume.Scope, sharing volume.SharingMode, top []volume.Topology, info []volume.Topology) volume.Volume {
	v := volume.Volume{Name: name, Driver: "hostpath:latest", ClusterVolume: &volume.ClusterVolume{
		Spec: volume.ClusterVolumeSpec{AccessMode: &volume.AccessMode{Scope: scope, Sharing: sharing, MountVolume: &volume.TypeMount{}}},
	}}
	if top != nil {
		v.ClusterVolume.Spec.AccessibilityRequirements = &volume.TopologyRequirement{Requisite: top}
	}
	if info != nil {
		v.ClusterVolume.Info = &volume.Info{AccessibleTopology: info}
	}
	return v
}

func TestCSIVolumeAccess(t *testing.T) {
	cases := []struct {
		scope   volume.Scope
		sharing volume.SharingMode
		block   bool
		refusal string
		warning string
	}{
		{scope: "single", sharing: "none"},
		{scope: "single", sharing: "onewriter"},
		{scope: "single", sharing: "all", refusal: "--sharing all: two tasks"},
		{scope: "multi", sharing: "all", refusal: "--sharing all"},
		{scope: "single", sharing: "readonly", refusal: "read-only"},
		{scope: "single", sharing: "none", block: true, refusal: "block volume"},
		{scope: "multi", sharing: "none", warning: "--scope multi"},
		{scope: "multi", sharing: "onewriter", warning: "--scope multi"},
	}
	for _, c := range cases {
		v := csiVol("v", c.scope, c.sharing, nil, nil)
		if c.block {
			v.ClusterVolume.Spec.AccessMode.MountVolume, v.ClusterVolume.Spec.AccessMode.BlockVolume = nil, &volume.TypeBlock{}
		}
		cv, ok := CSIVolumeFrom(v)
		if !ok {
			t.Fatal("not read as a cluster volume")
		}
		if got := cv.Refusal(); (c.refusal == "") != (got == "") || !strings.Contains(got, c.refusal) {
			t.Errorf("%s/%s block=%v: refusal %q, want %q", c.scope, c.sharing, c.block, got, c.refusal)
		}
		if got := cv.Warning(); (c.warning == "") != (got == "") || !strings.Contains(got, c.warning) {
			t.Errorf("%s/%s: warning %q, want %q", c.scope, c.sharing, got, c.warning)
		}
	}
	if _, ok := CSIVolumeFrom(volume.Volume{Name: "local"}); ok {
		t.Error("a local volume read as a cluster volume")
	}
}

func TestCSIVolumeHomeNode(t *testing.T) {
	cl := Cluster{Nodes: []Node{{ID: "id1", Hostname: "h1"}, {ID: "id2", Hostname: "h2"}}}
	seg := func(kv ...string) volume.Topology {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return volume.Topology{Segments: m}
	}
	cases := []struct {
		name     string
		req, got []volume.Topology
		want     string
	}{
		{name: "created: the driver's topology names h2", req: []volume.Topology{seg("node", "h1")}, got: []volume.Topology{seg("node", "h2")}, want: "id2"},
		{name: "pending: the required topology", req: []volume.Topology{seg("node", "h1")}, want: "id1"},
		{name: "by node ID", got: []volume.Topology{seg("zone", "a", "node", "id2")}, want: "id2"},
		{name: "no topology: any node", want: ""},
		{name: "a zone, no node", got: []volume.Topology{seg("zone", "a")}, want: ""},
		{name: "two nodes", got: []volume.Topology{seg("node", "h1"), seg("node", "h2")}, want: ""},
	}
	for _, c := range cases {
		cv, _ := CSIVolumeFrom(csiVol("v", "single", "none", c.req, c.got))
		n, ok := cv.HomeNode(cl)
		if ok != (c.want != "") || n.ID != c.want {
			t.Errorf("%s: HomeNode = %v %v, want %q", c.name, n, ok, c.want)
		}
	}
}

type fakeVolumes map[string]volume.Volume

func (f fakeVolumes) VolumeInspect(_ context.Context, name string) (volume.Volume, error) {
	if v, ok := f[name]; ok {
		return v, nil
	}
	return volume.Volume{}, errors.New("no such volume")
}

func TestLookupClusterVolumes(t *testing.T) {
	spec := swarm.ServiceSpec{TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Mounts: []mount.Mount{
		{Type: mount.TypeCluster, Source: "db", Target: "/data"},
		{Type: mount.TypeCluster, Source: "gone", Target: "/x"},
		{Type: mount.TypeCluster, Source: "group:g", Target: "/y"},
		{Type: mount.TypeVolume, Source: "local", Target: "/z"},
	}}}}
	got := LookupClusterVolumes(context.Background(), fakeVolumes{
		"db":    csiVol("db", "single", "all", nil, nil),
		"local": {Name: "local"},
	}, spec)
	if len(got) != 1 || got["db"].Sharing != "all" {
		t.Fatalf("LookupClusterVolumes = %+v, want db only", got)
	}
}
