package stateful

import (
	"reflect"
	"testing"
	"time"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
)

func TestRepositoryName(t *testing.T) {
	for in, want := range map[string]string{
		"redis":                           "redis",
		"redis:7.0":                       "redis",
		"docker.io/library/redis:latest":  "redis",
		"redis@sha256:" + sha:             "redis",
		"redis:7@sha256:" + sha:           "redis",
		"bitnami/redis:7":                 "bitnami/redis",
		"localhost:5000/team/postgres:16": "localhost:5000/team/postgres",
		"quay.io/coreos/etcd:v3.5":        "quay.io/coreos/etcd",
	} {
		if got := RepositoryName(in); got != want {
			t.Errorf("RepositoryName(%q) = %q, want %q", in, got, want)
		}
	}
}

const sha = "0123456789012345678901234567890123456789012345678901234567890123"

func TestDataPaths(t *testing.T) {
	spec := swarm.ServiceSpec{
		Annotations:  swarm.Annotations{Labels: map[string]string{LabelDataPaths: "/srv/state/"}},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "redis:7@sha256:" + sha}},
	}
	got := DataPathsOf(spec, []string{"/data", "/var/log/x"}, []string{"/extra", "/data/"})
	want := []DataPath{
		{"/data", []string{OriginImage, OriginKnown, OriginFlag}},
		{"/extra", []string{OriginFlag}},
		{"/srv/state", []string{OriginLabel}},
		{"/var/log/x", []string{OriginImage}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("DataPathsOf = %v, want %v", got, want)
	}
	if got := DataPathsOf(swarm.ServiceSpec{TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "busybox"}}}, nil, nil); got != nil {
		t.Fatalf("unknown image without volumes: got %v, want none", got)
	}
}

func TestMountFor(t *testing.T) {
	mounts := []mount.Mount{
		{Type: mount.TypeVolume, Target: "/var"},
		{Type: mount.TypeVolume, Source: "db", Target: "/var/lib/postgresql"},
		{Type: mount.TypeTmpfs, Target: "/data2"},
	}
	cases := []struct {
		path, target string
		ok           bool
	}{
		{"/var/lib/postgresql/data", "/var/lib/postgresql", true},
		{"/var/lib/postgresql", "/var/lib/postgresql", true},
		{"/var/lib", "/var", true},
		{"/data", "", false}, // /data2 is no parent of /data
	}
	for _, c := range cases {
		m, ok := MountFor(mounts, c.path)
		if ok != c.ok || m.Target != c.target {
			t.Errorf("MountFor(%q) = %q,%v want %q,%v", c.path, m.Target, ok, c.target, c.ok)
		}
	}
}

func TestMountKinds(t *testing.T) {
	nfs := &mount.VolumeOptions{DriverConfig: &mount.Driver{Name: "local", Options: map[string]string{"type": "nfs"}}}
	plugin := &mount.VolumeOptions{DriverConfig: &mount.Driver{Name: "rexray"}}
	cases := []struct {
		name                              string
		m                                 mount.Mount
		persistent, nodeLocal, perReplica bool
	}{
		{"anonymous volume", mount.Mount{Type: mount.TypeVolume, Target: "/data"}, false, true, false},
		{"named local volume", mount.Mount{Type: mount.TypeVolume, Source: "v", Target: "/data"}, true, true, false},
		{"per-slot volume", mount.Mount{Type: mount.TypeVolume, Source: "v-{{ .Task.Slot }}", Target: "/data"}, true, true, true},
		{"nfs through local driver", mount.Mount{Type: mount.TypeVolume, Source: "v", VolumeOptions: nfs}, true, false, false},
		{"volume plugin", mount.Mount{Type: mount.TypeVolume, Source: "v", VolumeOptions: plugin}, true, false, false},
		{"bind", mount.Mount{Type: mount.TypeBind, Source: "/srv", Target: "/data"}, true, true, false},
		{"tmpfs", mount.Mount{Type: mount.TypeTmpfs, Target: "/data"}, false, false, false},
		{"cluster", mount.Mount{Type: mount.TypeCluster, Source: "csi", Target: "/data"}, true, false, false},
	}
	for _, c := range cases {
		if got := IsPersistent(c.m); got != c.persistent {
			t.Errorf("%s: IsPersistent = %v", c.name, got)
		}
		if got := IsNodeLocal(c.m); got != c.nodeLocal {
			t.Errorf("%s: IsNodeLocal = %v", c.name, got)
		}
		if got := IsPerReplica(c.m); got != c.perReplica {
			t.Errorf("%s: IsPerReplica = %v", c.name, got)
		}
	}
}

func TestPins(t *testing.T) {
	got := Pins([]string{"node.role==manager", "node.id == abc", "node.hostname!=x", "node.hostname==n1"})
	want := []Pin{{"node.id == abc", "node.id", "abc"}, {"node.hostname==n1", "node.hostname", "n1"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Pins = %+v, want %+v", got, want)
	}
}

func TestLabeledVolumesRoundTrip(t *testing.T) {
	vols := map[string]string{"/data": "cache-data", "/var/lib/x": "cache-x-{{.Task.Slot}}"}
	labels := map[string]string{LabelVolumes: FormatVolumes(vols)}
	if got := LabeledVolumes(labels); !reflect.DeepEqual(got, vols) {
		t.Fatalf("round trip = %v, want %v", got, vols)
	}
}

// redisSpec is a bare redis service spec.
func redisSpec() swarm.ServiceSpec {
	return swarm.ServiceSpec{TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "redis"}}}
}

func TestReplacesTasks(t *testing.T) {
	a := redisSpec()
	b := redisSpec()
	b.Labels = map[string]string{"x": "y"}
	b.Mode.Replicated = &swarm.ReplicatedService{}
	if ReplacesTasks(a, b) {
		t.Error("labels and mode do not replace tasks")
	}
	c := redisSpec()
	c.TaskTemplate.ForceUpdate = 1
	if !ReplacesTasks(a, c) {
		t.Error("--force (ForceUpdate) replaces tasks")
	}
	d := redisSpec()
	d.TaskTemplate.Resources = &swarm.ResourceRequirements{Limits: &swarm.Limit{MemoryBytes: 200 << 20}}
	if !ReplacesTasks(a, d) {
		t.Error("--limit-memory replaces tasks")
	}
	e := redisSpec()
	e.TaskTemplate.Networks = []swarm.NetworkAttachmentConfig{}
	e.TaskTemplate.ContainerSpec.Env = []string{}
	if ReplacesTasks(a, e) {
		t.Error("empty and nil lists are the same spec for the daemon")
	}
	f := redisSpec()
	f.EndpointSpec = &swarm.EndpointSpec{Ports: []swarm.PortConfig{{TargetPort: 6379, PublishedPort: 7000, PublishMode: swarm.PortConfigPublishModeHost}}}
	if !ReplacesTasks(a, f) {
		t.Error("a new published port replaces tasks")
	}
}

func TestDataPathsOfMounts(t *testing.T) {
	spec := redisSpec()
	spec.TaskTemplate.ContainerSpec.Mounts = []mount.Mount{
		{Type: mount.TypeVolume, Source: "uploads", Target: "/srv/uploads/"},
		{Type: mount.TypeCluster, Source: "shared", Target: "/srv/shared"},
		{Type: mount.TypeVolume, Source: "conf", Target: "/etc/app", ReadOnly: true}, // read-only: no state
		{Type: mount.TypeVolume, Target: "/anon"},                                    // anonymous: not named
		{Type: mount.TypeBind, Source: "/host", Target: "/bind"},
		{Type: mount.TypeVolume, Source: "cache-data", Target: "/data"}, // also redis' known path
	}
	all := DataPathsOf(spec, []string{"/var/lib/x"}, []string{"/extra"})
	got := Paths(all)
	want := []string{"/data", "/extra", "/srv/shared", "/srv/uploads", "/var/lib/x"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DataPathsOf = %q, want %q", got, want)
	}
	// Only mounted, not declared: the update guard does not require them of a new spec.
	if got, want := Paths(Declared(all)), []string{"/data", "/extra", "/var/lib/x"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Declared = %q, want %q", got, want)
	}
}

func TestStopGracePeriod(t *testing.T) {
	zero, thirty := time.Duration(0), 30*time.Second
	for _, c := range []struct {
		set  *time.Duration
		want time.Duration
	}{{nil, SwarmStopGracePeriod}, {&zero, 0}, {&thirty, thirty}} {
		spec := swarm.ServiceSpec{TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{StopGracePeriod: c.set}}}
		if got := StopGracePeriod(spec); got != c.want {
			t.Errorf("StopGracePeriod(%v) = %s, want %s", c.set, got, c.want)
		}
	}
}

// The origins of each path, as create shows them: a path declared twice
// keeps both reasons, in the order labels, image, known image, --data.
func TestDataPathsOfOrigins(t *testing.T) {
	s := swarm.ServiceSpec{TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "postgres:16"}}}
	got := DataPathsOf(s, []string{"/var/lib/postgresql/data/", "/logs"}, []string{"/logs", "/extra"})
	want := []DataPath{
		{Path: "/extra", Origins: []string{OriginFlag}},
		{Path: "/logs", Origins: []string{OriginImage, OriginFlag}},
		{Path: "/var/lib/postgresql/data", Origins: []string{OriginImage, OriginKnown}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("DataPathsOf =\n %+v\nwant\n %+v", got, want)
	}
}

func TestLookupRefs(t *testing.T) {
	for in, want := range map[string][]string{
		"redis":                                 {"redis"},
		"redis:7":                               {"redis:7"},
		"redis:7@sha256:" + sha:                 {"redis:7", "redis:7@sha256:" + sha},
		"docker.io/library/redis@sha256:" + sha: {"redis", "docker.io/library/redis@sha256:" + sha},
		"redis:latest@sha256:abc":               {"redis:latest", "redis:latest@sha256:abc"}, // not a valid digest: cut by hand
	} {
		if got := lookupRefs(in); !reflect.DeepEqual(got, want) {
			t.Errorf("lookupRefs(%q) = %q, want %q", in, got, want)
		}
	}
}

// A data path goes into comma-separated path=volume labels and must come
// back from them as written.
func TestValidateDataPath(t *testing.T) {
	for _, p := range []string{"/data", "/srv/app-v2", "/var/lib/my sql"} {
		if err := ValidateDataPath(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		labels := map[string]string{LabelDataPaths: p, LabelVolumes: FormatVolumes(map[string]string{p: "v"})}
		if got := LabeledDataPaths(labels); len(got) != 1 || got[0] != p {
			t.Errorf("%s comes back from the label as %q", p, got)
		}
		if got := LabeledVolumes(labels); got[p] != "v" {
			t.Errorf("%s comes back from the volumes label as %q", p, got)
		}
	}
	for _, p := range []string{"data", "/", "/srv/app,v2", "/srv/a=b"} {
		if ValidateDataPath(p) == nil {
			t.Errorf("%s: accepted", p)
		}
	}
}
