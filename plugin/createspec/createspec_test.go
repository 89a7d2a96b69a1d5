package createspec

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/stateful"
	"github.com/docker-stateful/docker-stateful/plugin/version"
)

var cluster = stateful.Cluster{
	SelfNodeID: "n1aaaaaaaaaa",
	Nodes: []stateful.Node{
		{ID: "n1aaaaaaaaaa", Hostname: "node1", State: swarm.NodeStateReady, Availability: swarm.NodeAvailabilityActive},
		{ID: "n2bbbbbbbbbb", Hostname: "node2", State: swarm.NodeStateReady, Availability: swarm.NodeAvailabilityActive},
		{ID: "n3cccccccccc", Hostname: "node3", State: swarm.NodeStateDown, Availability: swarm.NodeAvailabilityActive},
		{ID: "n4dddddddddd", Hostname: "node4", State: swarm.NodeStateReady, Availability: swarm.NodeAvailabilityDrain},
	},
}

func u64(n uint64) *uint64 { return &n }

// spec is what docker computes for `docker service create --name NAME [-replicas N] IMAGE`.
func spec(name, image string, replicas uint64) swarm.ServiceSpec {
	return swarm.ServiceSpec{
		Annotations:  swarm.Annotations{Name: name, Labels: map[string]string{}},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: image}},
		Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: u64(replicas)}},
	}
}

func vol(src, target string) mount.Mount {
	return mount.Mount{Type: mount.TypeVolume, Source: src, Target: target}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		opts Options
		err  string // "" = valid
	}{
		{"empty", Options{}, ""},
		{"absolute data", Options{Data: []string{"/data", "/var/lib/x/"}}, ""},
		{"relative data", Options{Data: []string{"data"}}, "--data data: must be an absolute path"},
		{"dot data", Options{Data: []string{"./data"}}, "for example /data"},
		{"root data", Options{Data: []string{"/"}}, "--data /: the container's root"},
		{"comma in data", Options{Data: []string{"/srv/app,v2"}}, "--data /srv/app,v2: a data path cannot contain ','"},
		{"= in data", Options{Data: []string{"/srv/a=b"}}, "--data /srv/a=b: a data path cannot contain ','"},
		{"pin and no-pin", Options{Pin: "node2", NoPin: true}, "--no-pin conflicts with --pin node2"},
		{"volume name", Options{VolumeName: "my_vol.1"}, ""},
		{"templated volume name", Options{VolumeName: "db-{{.Task.Slot}}"}, ""},
		{"bad volume name", Options{VolumeName: "my vol"}, "--volume-name my vol: not a valid volume name"},
		{"one-char volume name", Options{VolumeName: "x"}, "not a valid volume name"},
	}
	for _, c := range cases {
		err := c.opts.Validate()
		if (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%s: Validate() = %v, want %q", c.name, err, c.err)
		}
	}
}

func TestPlanMounts(t *testing.T) {
	anon := mount.Mount{Type: mount.TypeVolume, Target: "/data"}
	tmpfsVar := mount.Mount{Type: mount.TypeTmpfs, Target: "/var"}
	bind := mount.Mount{Type: mount.TypeBind, Source: "/srv/db", Target: "/var/lib"}
	csi := mount.Mount{Type: mount.TypeCluster, Source: "grp", Target: "/data"}
	cases := []struct {
		name       string
		user       []mount.Mount
		paths      []string
		perReplica bool
		volumeName string
		added      []string // source=target of the added mounts
		heldBy     []string // path=source, in path order
		err        string
	}{
		{name: "one path", paths: []string{"/data"},
			added: []string{"svc-data=/data"}, heldBy: []string{"/data=svc-data"}},
		{name: "one path per replica", paths: []string{"/data"}, perReplica: true,
			added: []string{"svc-data-{{.Task.Slot}}=/data"}, heldBy: []string{"/data=svc-data-{{.Task.Slot}}"}},
		{name: "two paths named per path", paths: []string{"/data", "/var/lib/mysql"},
			added:  []string{"svc-data-data=/data", "svc-data-var-lib-mysql=/var/lib/mysql"},
			heldBy: []string{"/data=svc-data-data", "/var/lib/mysql=svc-data-var-lib-mysql"}},
		{name: "two paths per replica", paths: []string{"/a", "/b"}, perReplica: true,
			added: []string{"svc-data-a-{{.Task.Slot}}=/a", "svc-data-b-{{.Task.Slot}}=/b"}},
		{name: "nested path held by its parent's volume", paths: []string{"/data", "/data/db"},
			added: []string{"svc-data=/data"}, heldBy: []string{"/data=svc-data", "/data/db=svc-data"}},
		{name: "user named volume left as written", user: []mount.Mount{vol("mine", "/data")}, paths: []string{"/data"},
			added: []string{}, heldBy: []string{"/data=mine"}},
		{name: "user volume at a parent covers", user: []mount.Mount{vol("pg", "/var/lib/postgresql")}, paths: []string{"/var/lib/postgresql/data"},
			added: []string{}, heldBy: []string{"/var/lib/postgresql/data=pg"}},
		{name: "user bind covers", user: []mount.Mount{bind}, paths: []string{"/var/lib/mysql"},
			added: []string{}, heldBy: []string{"/var/lib/mysql=/srv/db"}},
		{name: "user cluster volume covers", user: []mount.Mount{csi}, paths: []string{"/data"},
			added: []string{}, heldBy: []string{"/data=grp"}},
		{name: "one covered, one added gets the short name", user: []mount.Mount{vol("logs", "/logs")}, paths: []string{"/data", "/logs"},
			added: []string{"svc-data=/data"}, heldBy: []string{"/data=svc-data", "/logs=logs"}},
		{name: "user volume below a data path does not cover it", user: []mount.Mount{vol("cache", "/data/cache")}, paths: []string{"/data"},
			added: []string{"svc-data=/data"}},
		{name: "tmpfs at a parent: volume nested in it", user: []mount.Mount{tmpfsVar}, paths: []string{"/var/lib/mysql"},
			added: []string{"svc-data=/var/lib/mysql"}},
		{name: "anonymous volume on a data path refused", user: []mount.Mount{anon}, paths: []string{"/data"},
			err: "--mount type=volume,target=/data: /data holds the service's data and an anonymous volume dies"},
		{name: "tmpfs on a data path refused", user: []mount.Mount{{Type: mount.TypeTmpfs, Target: "/data"}}, paths: []string{"/data"},
			err: "a tmpfs mount dies with the container"},
		{name: "volume name", paths: []string{"/data"}, volumeName: "cache",
			added: []string{"cache=/data"}},
		{name: "volume name per replica gets the slot", paths: []string{"/data"}, volumeName: "cache", perReplica: true,
			added: []string{"cache-{{.Task.Slot}}=/data"}},
		{name: "volume name with its own template kept", paths: []string{"/data"}, volumeName: "c{{.Task.Slot}}x", perReplica: true,
			added: []string{"c{{.Task.Slot}}x=/data"}},
		{name: "volume name with two paths refused", paths: []string{"/a", "/b"}, volumeName: "v",
			err: "--volume-name v names one volume but 2 data paths need one (/a, /b)"},
		{name: "volume name with nothing to add refused", user: []mount.Mount{vol("mine", "/data")}, paths: []string{"/data"}, volumeName: "v",
			err: "every data path (/data) is already on a --mount"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			holders, added, err := PlanMounts("svc", c.user, c.paths, c.perReplica, c.volumeName)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, m := range added {
				got = append(got, m.Source+"="+m.Target)
				if m.Type != mount.TypeVolume || m.VolumeOptions.Labels[VolumeLabelService] != "svc" || !stateful.IsNodeLocal(m) {
					t.Errorf("added mount %+v: want a local volume labelled with the service", m)
				}
			}
			if !reflect.DeepEqual(got, c.added) {
				t.Errorf("added = %v, want %v", got, c.added)
			}
			if c.heldBy != nil {
				held := []string{}
				for _, h := range holders {
					held = append(held, h.Path+"="+h.Mount.Source)
				}
				if !reflect.DeepEqual(held, c.heldBy) {
					t.Errorf("holders = %v, want %v", held, c.heldBy)
				}
			}
			if len(holders) != len(c.paths) {
				t.Errorf("%d holders for %d paths", len(holders), len(c.paths))
			}
		})
	}
}

func TestVolumeSourceSlug(t *testing.T) {
	for in, want := range map[string]string{
		"/var/lib/mysql":       "db-data-var-lib-mysql",
		"/data/":               "db-data-data",
		"/usr/share/es data@1": "db-data-usr-share-es-data-1",
	} {
		if got := VolumeSource("db", in, false, false); got != want {
			t.Errorf("VolumeSource(%q) = %q, want %q", in, got, want)
		}
		if err := ValidateVolumeName(VolumeSource("db", in, false, true)); err != nil {
			t.Errorf("VolumeSource(%q) per replica: %v", in, err)
		}
	}
}

func TestPlanPin(t *testing.T) {
	local := []Holder{{Path: "/data", Mount: vol("v", "/data"), Added: true}}
	bind := []Holder{{Path: "/data", Mount: mount.Mount{Type: mount.TypeBind, Source: "/srv", Target: "/data"}}}
	csi := []Holder{{Path: "/data", Mount: mount.Mount{Type: mount.TypeCluster, Source: "g", Target: "/data"}}}
	nfs := []Holder{{Path: "/data", Mount: mount.Mount{Type: mount.TypeVolume, Source: "n", Target: "/data",
		VolumeOptions: &mount.VolumeOptions{DriverConfig: &mount.Driver{Name: "local", Options: map[string]string{"type": "nfs"}}}}}}

	cases := []struct {
		name        string
		constraints []string
		holders     []Holder
		global      bool
		opts        Options
		cl          *stateful.Cluster
		constraint  string // the pin ("" none)
		added       bool
		by          string
		node        string // pinned node ID ("" unknown)
		warning     string
		err         string
	}{
		{name: "local volume pins to the CLI's node", holders: local,
			constraint: "node.id==n1aaaaaaaaaa", added: true, by: PinBySelf, node: "n1aaaaaaaaaa"},
		{name: "bind mount pins", holders: bind,
			constraint: "node.id==n1aaaaaaaaaa", added: true, by: PinBySelf, node: "n1aaaaaaaaaa"},
		{name: "cluster volume needs no pin", holders: csi},
		{name: "nfs through the local driver needs no pin", holders: nfs},
		{name: "--pin by hostname", holders: local, opts: Options{Pin: "node2"},
			constraint: "node.id==n2bbbbbbbbbb", added: true, by: PinByFlag, node: "n2bbbbbbbbbb"},
		{name: "--pin by ID", holders: local, opts: Options{Pin: "n2bbbbbbbbbb"},
			constraint: "node.id==n2bbbbbbbbbb", added: true, by: PinByFlag, node: "n2bbbbbbbbbb"},
		{name: "--pin by ID prefix", holders: local, opts: Options{Pin: "n2b"},
			constraint: "node.id==n2bbbbbbbbbb", added: true, by: PinByFlag, node: "n2bbbbbbbbbb"},
		{name: "--pin self", holders: local, opts: Options{Pin: "self"},
			constraint: "node.id==n1aaaaaaaaaa", added: true, by: PinByFlag, node: "n1aaaaaaaaaa"},
		{name: "--pin with a cluster volume still pins", holders: csi, opts: Options{Pin: "node2"},
			constraint: "node.id==n2bbbbbbbbbb", added: true, by: PinByFlag, node: "n2bbbbbbbbbb"},
		{name: "--pin unknown node", holders: local, opts: Options{Pin: "node9"},
			err: "--pin node9: no such node in this swarm (nodes: node1, node2, node3, node4)"},
		{name: "--pin ambiguous prefix", holders: local, opts: Options{Pin: "n"},
			err: "--pin n: node ID prefix n is ambiguous"},
		{name: "--pin a down node", holders: local, opts: Options{Pin: "node3"},
			err: "--pin node3: node node3 (n3cccccccccc) is down, not ready"},
		{name: "--pin a drained node", holders: local, opts: Options{Pin: "node4"},
			err: "has availability drain"},
		{name: "CLI's node drained", holders: local, cl: &stateful.Cluster{SelfNodeID: "n4dddddddddd", Nodes: cluster.Nodes},
			err: "this node, node4 (n4dddddddddd), has availability drain: no new task starts there: choose where the service and its data live with --pin NODE"},
		{name: "CLI's node missing from the list: trust Info", holders: local, cl: &stateful.Cluster{SelfNodeID: "zz"},
			constraint: "node.id==zz", added: true, by: PinBySelf, node: "zz"},
		{name: "no node ID at all", holders: local, cl: &stateful.Cluster{},
			err: "cannot tell which swarm node"},
		{name: "--no-pin warns", holders: local, opts: Options{NoPin: true},
			warning: "--no-pin: the data stays on the node that first ran the task"},
		{name: "--no-pin without local data is quiet", holders: csi, opts: Options{NoPin: true}},
		{name: "user's node.id pin respected", holders: local, constraints: []string{"node.role==manager", "node.id==n2bbbbbbbbbb"},
			constraint: "node.id==n2bbbbbbbbbb", by: PinByConstraint, node: "n2bbbbbbbbbb"},
		{name: "user's hostname pin respected and resolved", holders: local, constraints: []string{"node.hostname==node2"},
			constraint: "node.hostname==node2", by: PinByConstraint, node: "n2bbbbbbbbbb"},
		{name: "user's pin to an unknown node warns", holders: local, constraints: []string{"node.hostname==gone"},
			constraint: "node.hostname==gone", by: PinByConstraint, warning: "--constraint node.hostname==gone names no node of this swarm"},
		{name: "user's pin and the same --pin", holders: local, constraints: []string{"node.hostname==node2"}, opts: Options{Pin: "n2bbbbbbbbbb"},
			constraint: "node.hostname==node2", by: PinByConstraint, node: "n2bbbbbbbbbb"},
		{name: "user's pin and another --pin", holders: local, constraints: []string{"node.id==n2bbbbbbbbbb"}, opts: Options{Pin: "node1"},
			err: "--pin node1 conflicts with --constraint node.id==n2bbbbbbbbbb"},
		{name: "user's pin with --no-pin is still a pin", holders: local, constraints: []string{"node.id==n2bbbbbbbbbb"}, opts: Options{NoPin: true},
			constraint: "node.id==n2bbbbbbbbbb", by: PinByConstraint, node: "n2bbbbbbbbbb"},
		{name: "other constraints do not pin", holders: local, constraints: []string{"node.role==manager", "node.hostname!=node1"},
			constraint: "node.id==n1aaaaaaaaaa", added: true, by: PinBySelf, node: "n1aaaaaaaaaa"},
		{name: "global is never pinned", holders: local, global: true},
		{name: "global with --pin refused", holders: local, global: true, opts: Options{Pin: "node2"},
			err: "--pin node2: a global service runs one task on every node"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl := cluster
			if c.cl != nil {
				cl = *c.cl
			}
			plan, err := PlanPin(c.constraints, c.holders, c.global, c.opts, cl)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			node := ""
			if plan.Node != nil {
				node = plan.Node.ID
			}
			if plan.Constraint != c.constraint || plan.Added != c.added || plan.By != c.by || node != c.node {
				t.Errorf("plan = %q added=%v by=%q node=%q, want %q added=%v by=%q node=%q",
					plan.Constraint, plan.Added, plan.By, node, c.constraint, c.added, c.by, c.node)
			}
			if (c.warning == "") != (plan.Warning == "") || !strings.Contains(plan.Warning, c.warning) {
				t.Errorf("warning = %q, want %q", plan.Warning, c.warning)
			}
		})
	}
}

func TestResolveAmbiguousHostname(t *testing.T) {
	cl := stateful.Cluster{Nodes: []stateful.Node{{ID: "a1", Hostname: "h"}, {ID: "b2", Hostname: "h"}}}
	if _, err := cl.Resolve("h"); err == nil || !strings.Contains(err.Error(), "2 nodes are named h (a1, b2): pin by node ID") {
		t.Fatalf("err = %v", err)
	}
	if n, err := cl.Resolve("b2"); err != nil || n.ID != "b2" {
		t.Fatalf("by ID: %v %v", n, err)
	}
}

// TestApplySeed is the seed's service: `docker stateful create --name
// stateful -p published=10000,target=6379,mode=host redis`.
func TestApplySeed(t *testing.T) {
	in := spec("stateful", "redis", 1)
	res, err := Apply(in, []string{"/data"}, Options{}, cluster)
	if err != nil {
		t.Fatal(err)
	}
	out := res.Spec
	wantMounts := []mount.Mount{{Type: mount.TypeVolume, Source: "stateful-data", Target: "/data",
		VolumeOptions: &mount.VolumeOptions{Labels: map[string]string{VolumeLabelService: "stateful"}}}}
	if got := out.TaskTemplate.ContainerSpec.Mounts; !reflect.DeepEqual(got, wantMounts) {
		t.Errorf("mounts = %+v", got)
	}
	if got := stateful.Constraints(out); !reflect.DeepEqual(got, []string{"node.id==n1aaaaaaaaaa"}) {
		t.Errorf("constraints = %v", got)
	}
	if g := out.TaskTemplate.ContainerSpec.StopGracePeriod; g == nil || *g != 30*time.Second {
		t.Errorf("stop grace period = %v, want 30s", g)
	}
	if u := out.UpdateConfig; u == nil || u.Order != "stop-first" || u.Parallelism != 1 || u.FailureAction != "pause" || u.Monitor != 5*time.Second {
		t.Errorf("update config = %+v, want swarm's defaults with stop-first", u)
	}
	wantLabels := map[string]string{
		"io.docker-stateful.data":    "/data",
		"io.docker-stateful.volumes": "/data=stateful-data",
		"io.docker-stateful.pin":     "n1aaaaaaaaaa",
		"io.docker-stateful.version": version.Version,
	}
	if !reflect.DeepEqual(out.Labels, wantLabels) || !reflect.DeepEqual(res.Labels, wantLabels) {
		t.Errorf("labels = %v, want %v", out.Labels, wantLabels)
	}
	if len(res.Defaults) != 2 || len(res.Warnings) != 0 {
		t.Errorf("defaults %v warnings %v", res.Defaults, res.Warnings)
	}
	// The caller's spec is untouched.
	if !reflect.DeepEqual(in, spec("stateful", "redis", 1)) {
		t.Errorf("Apply modified its input: %+v", in)
	}
	// What the other commands read back from the labels.
	if !stateful.IsManaged(out.Labels) || !reflect.DeepEqual(stateful.LabeledVolumes(out.Labels), map[string]string{"/data": "stateful-data"}) {
		t.Errorf("labels do not read back: %v", out.Labels)
	}
}

func TestApply(t *testing.T) {
	grace := 50 * time.Second
	cases := []struct {
		name    string
		spec    func() swarm.ServiceSpec
		volumes []string
		opts    Options
		check   func(t *testing.T, res *Result)
		err     string
	}{
		{name: "redis 8 without VOLUME: known path", spec: func() swarm.ServiceSpec { return spec("c", "redis:8", 1) },
			check: func(t *testing.T, res *Result) {
				if res.Holders[0].Path != "/data" || res.Holders[0].Mount.Source != "c-data" {
					t.Errorf("holders %+v", res.Holders)
				}
			}},
		{name: "two replicas: per-slot volume, both pinned to one node", spec: func() swarm.ServiceSpec { return spec("c", "redis", 2) }, volumes: []string{"/data"},
			opts: Options{Pin: "node2"},
			check: func(t *testing.T, res *Result) {
				m := res.Spec.TaskTemplate.ContainerSpec.Mounts
				if len(m) != 1 || m[0].Source != "c-data-{{.Task.Slot}}" || !res.PerReplica {
					t.Errorf("mounts %+v", m)
				}
				if c := stateful.Constraints(res.Spec); !reflect.DeepEqual(c, []string{"node.id==n2bbbbbbbbbb"}) {
					t.Errorf("constraints %v", c)
				}
			}},
		{name: "global: a volume per node, no pin", spec: func() swarm.ServiceSpec {
			s := spec("g", "redis", 1)
			s.Mode = swarm.ServiceMode{Global: &swarm.GlobalService{}}
			return s
		}, volumes: []string{"/data"},
			check: func(t *testing.T, res *Result) {
				if m := res.Spec.TaskTemplate.ContainerSpec.Mounts; m[0].Source != "g-data" {
					t.Errorf("mounts %+v", m)
				}
				if res.Spec.TaskTemplate.Placement != nil || res.Labels[stateful.LabelPin] != "" {
					t.Errorf("global service pinned: %+v", res.Spec.TaskTemplate.Placement)
				}
			}},
		{name: "user's grace period and update config kept", spec: func() swarm.ServiceSpec {
			s := spec("c", "redis", 1)
			s.TaskTemplate.ContainerSpec.StopGracePeriod = &grace
			s.UpdateConfig = &swarm.UpdateConfig{Parallelism: 1, Delay: time.Second, Order: "stop-first"}
			return s
		}, volumes: []string{"/data"},
			check: func(t *testing.T, res *Result) {
				if *res.Spec.TaskTemplate.ContainerSpec.StopGracePeriod != grace || res.Spec.UpdateConfig.Delay != time.Second || len(res.Defaults) != 0 {
					t.Errorf("user settings changed: %+v %+v", res.Spec.UpdateConfig, res.Defaults)
				}
			}},
		{name: "user labels and constraints kept", spec: func() swarm.ServiceSpec {
			s := spec("c", "redis", 1)
			s.Labels["team"] = "x"
			s.TaskTemplate.Placement = &swarm.Placement{Constraints: []string{"node.role==manager"}}
			return s
		}, volumes: []string{"/data"},
			check: func(t *testing.T, res *Result) {
				if res.Spec.Labels["team"] != "x" || !reflect.DeepEqual(stateful.Constraints(res.Spec), []string{"node.role==manager", "node.id==n1aaaaaaaaaa"}) {
					t.Errorf("labels %v constraints %v", res.Spec.Labels, stateful.Constraints(res.Spec))
				}
			}},
		{name: "--no-pin: no constraint, empty pin label, warning", spec: func() swarm.ServiceSpec { return spec("c", "redis", 1) }, opts: Options{NoPin: true},
			check: func(t *testing.T, res *Result) {
				if res.Spec.TaskTemplate.Placement != nil || res.Labels[stateful.LabelPin] != "" || len(res.Warnings) != 1 {
					t.Errorf("placement %+v labels %v warnings %v", res.Spec.TaskTemplate.Placement, res.Labels, res.Warnings)
				}
			}},
		{name: "--data adds a second volume", spec: func() swarm.ServiceSpec { return spec("c", "redis", 1) }, volumes: []string{"/data"},
			opts: Options{Data: []string{"/etc/redis"}},
			check: func(t *testing.T, res *Result) {
				if v := res.Labels[stateful.LabelVolumes]; v != "/data=c-data-data,/etc/redis=c-data-etc-redis" {
					t.Errorf("volumes label %q", v)
				}
				if res.Labels[stateful.LabelDataPaths] != "/data,/etc/redis" {
					t.Errorf("data label %q", res.Labels[stateful.LabelDataPaths])
				}
			}},
		{name: "two replicas on one node cannot share a host port", spec: func() swarm.ServiceSpec {
			s := spec("c", "redis", 2)
			s.EndpointSpec = &swarm.EndpointSpec{Ports: []swarm.PortConfig{{TargetPort: 6379, PublishedPort: 10000, PublishMode: swarm.PortConfigPublishModeHost}}}
			return s
		}, err: "--replicas 2 are pinned to one node, where only one task can publish host port 10000"},
		{name: "two replicas, ingress port: fine", spec: func() swarm.ServiceSpec {
			s := spec("c", "redis", 2)
			s.EndpointSpec = &swarm.EndpointSpec{Ports: []swarm.PortConfig{{TargetPort: 6379, PublishedPort: 10000, PublishMode: swarm.PortConfigPublishModeIngress}}}
			return s
		}, check: func(t *testing.T, res *Result) {}},
		{name: "two replicas, one per node max", spec: func() swarm.ServiceSpec {
			s := spec("c", "redis", 2)
			s.TaskTemplate.Placement = &swarm.Placement{MaxReplicas: 1}
			return s
		}, err: "--replicas-max-per-node 1 with --replicas 2 pinned to one node: only 1 of them could start"},
		{name: "two replicas unpinned may spread", spec: func() swarm.ServiceSpec {
			s := spec("c", "redis", 2)
			s.TaskTemplate.Placement = &swarm.Placement{MaxReplicas: 1}
			return s
		}, opts: Options{NoPin: true}, check: func(t *testing.T, res *Result) {}},
		{name: "start-first refused", spec: func() swarm.ServiceSpec {
			s := spec("c", "redis", 1)
			s.UpdateConfig = &swarm.UpdateConfig{Order: "start-first"}
			return s
		}, err: "--update-order start-first would run the new task next to the old one"},
		{name: "rollback start-first refused", spec: func() swarm.ServiceSpec {
			s := spec("c", "redis", 1)
			s.RollbackConfig = &swarm.UpdateConfig{Order: "start-first"}
			return s
		}, err: "--rollback-order start-first"},
		{name: "no name", spec: func() swarm.ServiceSpec { return spec("", "redis", 1) }, err: "--name is required"},
		{name: "no data path", spec: func() swarm.ServiceSpec { return spec("c", "busybox", 1) },
			err: "image busybox declares no VOLUME and is not a known image: name the paths that hold its data with --data PATH"},
		{name: "job refused", spec: func() swarm.ServiceSpec {
			s := spec("c", "redis", 1)
			s.Mode = swarm.ServiceMode{ReplicatedJob: &swarm.ReplicatedJob{}}
			return s
		}, err: "--mode: jobs run to completion"},
		{name: "options validated", spec: func() swarm.ServiceSpec { return spec("c", "redis", 1) }, opts: Options{Data: []string{"x"}},
			err: "--data x: must be an absolute path"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := Apply(c.spec(), c.volumes, c.opts, cluster)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Fatalf("error is more than one line: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, res)
		})
	}
}

func TestMarkAdded(t *testing.T) {
	before := []string{"{", `  "a": 1`, "}"}
	after := []string{"{", `  "a": 1,`, `  "b": 2`, "}"}
	got := MarkAdded(before, after)
	want := []string{"  {", `    "a": 1,`, `+   "b": 2`, "  }"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("MarkAdded =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestWriteMarkedSpecAndDescribe(t *testing.T) {
	in := spec("stateful", "redis", 1)
	res, err := Apply(in, []string{"/data"}, Options{}, cluster)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteMarkedSpec(&buf, in, res.Spec); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	for _, want := range []string{
		"+         \"node.id==n1aaaaaaaaaa\"\n",
		"+     \"io.docker-stateful.pin\": \"n1aaaaaaaaaa\",\n",
		"+           \"Source\": \"stateful-data\",\n",
		"+       \"StopGracePeriod\": 30000000000\n",
		"+     \"Order\": \"stop-first\"\n",
		"    \"Name\": \"stateful\",\n",
		"        \"Image\": \"redis\",\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("marked spec lacks %q:\n%s", want, text)
		}
	}
	desc := strings.Join(Describe(res), "\n")
	for _, want := range []string{
		"data     /data (VOLUME declared by the image, known data path of the image) on volume stateful-data: added",
		"pin      node.id==n1aaaaaaaaaa: node1 (n1aaaaaaaaaa), the node this docker CLI talks to: added",
		"default  --stop-grace-period 30s",
	} {
		if !strings.Contains(desc, want) {
			t.Errorf("Describe lacks %q:\n%s", want, desc)
		}
	}
}

func TestSummary(t *testing.T) {
	cases := []struct {
		name string
		spec swarm.ServiceSpec
		opts Options
		user []mount.Mount
		want string
	}{
		{"seed", spec("stateful", "redis", 1), Options{}, nil,
			"stateful keeps /data on volume stateful-data, pinned to node1 by node.id==n1aaaaaaaaaa"},
		{"replicas", spec("c", "redis", 2), Options{Pin: "node2"}, nil,
			"c keeps /data on volume c-data-{{.Task.Slot}} (one per replica), pinned to node2 by node.id==n2bbbbbbbbbb"},
		{"user's volume, no pin", spec("c", "redis", 1), Options{NoPin: true}, []mount.Mount{vol("mine", "/data")},
			"c keeps /data on your volume mine, not pinned (--no-pin)"},
	}
	for _, c := range cases {
		s := c.spec
		s.TaskTemplate.ContainerSpec.Mounts = c.user
		res, err := Apply(s, []string{"/data"}, c.opts, cluster)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got := Summary(res)
		if got[0] != c.want {
			t.Errorf("%s: summary %q, want %q", c.name, got[0], c.want)
		}
		if last := got[len(got)-1]; !strings.Contains(last, "docker stateful update [OPTIONS] "+s.Name) {
			t.Errorf("%s: no update hint: %q", c.name, last)
		}
	}
}

func TestVolumeNames(t *testing.T) {
	added := []mount.Mount{vol("a", "/a"), vol("b-{{.Task.Slot}}", "/b"), vol("c-{{.Node.ID}}", "/c"), vol("d-{{ .Task.Slot }}", "/d")}
	got := VolumeNames(added, 2)
	want := []string{"a", "b-1", "b-2", "d-1", "d-2"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("VolumeNames = %v, want %v", got, want)
	}
}
