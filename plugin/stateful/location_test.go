package stateful

import (
	"slices"
	"testing"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
)

func TestLocate(t *testing.T) {
	nfs := &mount.VolumeOptions{DriverConfig: &mount.Driver{Name: "local", Options: map[string]string{"type": "nfs"}}}
	withMount := func(m ...mount.Mount) swarm.ServiceSpec {
		s := redisSpec()
		s.TaskTemplate.ContainerSpec.Mounts = m
		return s
	}
	inspected := ImageFacts{Volumes: []string{"/data"}, Inspected: true}
	cases := []struct {
		name                  string
		spec                  swarm.ServiceSpec
		path                  string
		img                   ImageFacts
		kind                  Kind
		persistent, nodeLocal bool
		words                 string
	}{
		{"named local volume", withMount(mount.Mount{Type: mount.TypeVolume, Source: "v", Target: "/data"}), "/data", inspected, NamedVolume, true, true, "volume v"},
		{"named nfs volume", withMount(mount.Mount{Type: mount.TypeVolume, Source: "v", Target: "/data", VolumeOptions: nfs}), "/data", inspected, NamedVolume, true, false, "volume v"},
		{"per-slot volume", withMount(mount.Mount{Type: mount.TypeVolume, Source: "v-{{.Task.Slot}}", Target: "/data"}), "/data/sub", inspected, PerSlotVolume, true, true, "volume v-{{.Task.Slot}} (one per replica)"},
		{"cluster volume", withMount(mount.Mount{Type: mount.TypeCluster, Source: "csi", Target: "/data"}), "/data", inspected, ClusterVolume, true, false, "cluster volume csi"},
		{"bind", withMount(mount.Mount{Type: mount.TypeBind, Source: "/srv", Target: "/data"}), "/data", inspected, BindMount, true, true, "bind mount /srv"},
		{"anonymous volume", withMount(mount.Mount{Type: mount.TypeVolume, Target: "/data"}), "/data", inspected, AnonymousVolume, false, false, "an anonymous volume"},
		{"tmpfs", withMount(mount.Mount{Type: mount.TypeTmpfs, Target: "/data"}), "/data", inspected, Tmpfs, false, false, "a tmpfs mount"},
		{"image VOLUME", redisSpec(), "/data/", inspected, ImageVolume, false, false, "the anonymous volume of the image's VOLUME"},
		{"under an image VOLUME", redisSpec(), "/data/db", inspected, ImageVolume, false, false, "the anonymous volume of the image's VOLUME"},
		{"container filesystem", redisSpec(), "/srv", inspected, ContainerFS, false, false, "the container's own filesystem (no volume is mounted there)"},
		{"image not inspected", redisSpec(), "/srv", ImageFacts{}, Unmounted, false, false, "an anonymous volume or the container's filesystem"},
	}
	for _, c := range cases {
		l := Locate(c.spec, c.path, c.img)
		if l.Kind != c.kind || l.Persistent() != c.persistent || l.NodeLocal() != c.nodeLocal || l.String() != c.words {
			t.Errorf("%s: Locate = %v %q persistent %v nodeLocal %v, want %v %q %v %v", c.name, l.Kind, l, l.Persistent(), l.NodeLocal(), c.kind, c.words, c.persistent, c.nodeLocal)
		}
	}
}

func TestPersistentTargets(t *testing.T) {
	s := redisSpec()
	s.TaskTemplate.ContainerSpec.Mounts = []mount.Mount{
		{Type: mount.TypeVolume, Source: "cache-data", Target: "/data"},
		{Type: mount.TypeTmpfs, Target: "/tmp"},
		{Type: mount.TypeBind, Source: "/srv/conf", Target: "/data/conf"},
		{Type: mount.TypeVolume, Target: "/anon"},
		{Type: mount.TypeCluster, Source: "csi", Target: "/shared"},
	}
	got := PersistentTargets(s)
	if want := []string{"/data", "/data/conf", "/shared"}; !slices.Equal(got, want) {
		t.Errorf("PersistentTargets = %q, want %q (tmpfs and anonymous volumes do not count)", got, want)
	}
	if PersistentTargets(swarm.ServiceSpec{}) != nil {
		t.Error("no container spec: want no targets")
	}
}
