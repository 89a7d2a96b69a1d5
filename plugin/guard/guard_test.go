package guard

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// safe is a redis service as docker stateful create makes it: /data on a
// named local volume, pinned to node n1 by ID.
func safe() swarm.ServiceSpec {
	one := uint64(1)
	grace := 30 * time.Second
	return swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: "cache"},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{
				Image:           "redis:7",
				Mounts:          []mount.Mount{{Type: mount.TypeVolume, Source: "cache-data", Target: "/data"}},
				StopGracePeriod: &grace,
			},
			Placement: &swarm.Placement{Constraints: []string{"node.id==n1"}},
		},
		Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}},
	}
}

// seed is the seed's service: plain `docker service create redis`, /data on
// the image's anonymous volume.
func seed() swarm.ServiceSpec {
	s := safe()
	s.TaskTemplate.ContainerSpec.Mounts = nil
	s.TaskTemplate.ContainerSpec.StopGracePeriod = nil
	s.TaskTemplate.Placement = nil
	return s
}

func clone(s swarm.ServiceSpec) swarm.ServiceSpec {
	b, _ := json.Marshal(s)
	var out swarm.ServiceSpec
	_ = json.Unmarshal(b, &out)
	return out
}

var nodes = []stateful.Node{{ID: "n1", Hostname: "host1"}, {ID: "n2", Hostname: "host2"}, {ID: "n3", Hostname: "host3"}}

type tcase struct {
	name    string
	current func() swarm.ServiceSpec
	change  func(*swarm.ServiceSpec)
	input   func(*Input) // optional tweaks
	refused []string     // substrings of the problems expected, in order (nil: allowed)
	warned  string       // substring of a warning expected
}

func run(t *testing.T, rule string, cases []tcase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cur := c.current()
			next := clone(cur)
			if c.change != nil {
				c.change(&next)
			}
			in := Input{Service: "cache", Current: cur, New: next, TaskNodes: []string{"n1"}, Nodes: nodes}
			if c.input != nil {
				c.input(&in)
			}
			r := Check(in)
			var mine []Problem
			for _, p := range r.Problems {
				if p.Code == rule {
					mine = append(mine, p)
				}
			}
			if len(mine) != len(c.refused) {
				t.Fatalf("%s problems = %+v, want %d matching %q", rule, mine, len(c.refused), c.refused)
			}
			for i, want := range c.refused {
				if !strings.Contains(mine[i].Message, want) {
					t.Errorf("problem %d = %q, want it to contain %q", i, mine[i].Message, want)
				}
				if strings.Contains(mine[i].Message, "\n") {
					t.Errorf("problem %d spans lines: %q", i, mine[i].Message)
				}
			}
			if c.refused == nil && !r.Allowed() {
				t.Errorf("allowed case refused by another rule: %+v", r.Problems)
			}
			if c.warned != "" {
				found := false
				for _, w := range r.Warnings {
					found = found || strings.Contains(w.Message, c.warned)
				}
				if !found {
					t.Errorf("warnings = %+v, want one containing %q", r.Warnings, c.warned)
				}
			} else {
				for _, w := range r.Warnings {
					if w.Code == rule {
						t.Errorf("unexpected %s warning: %s", rule, w.Message)
					}
				}
			}
		})
	}
}

func limitMemory(s *swarm.ServiceSpec) {
	s.TaskTemplate.Resources = &swarm.ResourceRequirements{Limits: &swarm.Limit{MemoryBytes: 100 << 20}}
}

func TestRuleEphemeralData(t *testing.T) {
	run(t, RuleEphemeralData, []tcase{
		{name: "safe service, limit memory", current: safe, change: limitMemory},
		{name: "seed service, limit memory", current: seed, change: limitMemory,
			input: func(in *Input) { in.ImageVolumes = map[string][]string{"redis:7": {"/data"}} },
			refused: []string{
				"/data is on the anonymous volume of the image's VOLUME: any update replaces the container and loses it; the data there now cannot be kept by a plain update (it lives only in this task's anonymous volume). To keep data from now on, run: docker stateful update --force --mount-add type=volume,source=cache-data,target=/data --constraint-add node.id==n1 cache",
			}},
		{name: "seed service, image not on the CLI's daemon", current: seed, change: limitMemory, refused: []string{
			"/data is on an anonymous volume or the container's filesystem: any update replaces",
		}},
		{name: "seed service, image without VOLUME (redis 8)", current: seed, change: limitMemory,
			input:   func(in *Input) { in.ImageVolumes = map[string][]string{"redis:7": nil} },
			refused: []string{"/data is on the container's own filesystem (no volume is mounted there)"}},
		{name: "seed service, label only: the task is not replaced", current: seed, change: func(s *swarm.ServiceSpec) {
			s.Labels = map[string]string{"team": "x"}
		}, warned: "this update leaves the container running, but the next one that replaces it will lose the data. Put it on a named volume: docker stateful update --force --mount-add type=volume,source=cache-data,target=/data"},
		{name: "seed service, force redeploy", current: seed, change: func(s *swarm.ServiceSpec) { s.TaskTemplate.ForceUpdate++ },
			refused: []string{"any update replaces the container and loses it"}},
		{name: "seed service, new published port", current: seed, change: func(s *swarm.ServiceSpec) {
			s.EndpointSpec = &swarm.EndpointSpec{Ports: []swarm.PortConfig{{TargetPort: 6379, PublishedPort: 10000}}}
		}, refused: []string{"any update replaces the container and loses it"}},
		{name: "explicit anonymous volume", current: func() swarm.ServiceSpec {
			s := seed()
			s.TaskTemplate.ContainerSpec.Mounts = []mount.Mount{{Type: mount.TypeVolume, Target: "/data"}}
			return s
		}, change: limitMemory, refused: []string{"/data is on an anonymous volume: any update replaces the container"}},
		{name: "tmpfs", current: func() swarm.ServiceSpec {
			s := seed()
			s.TaskTemplate.ContainerSpec.Mounts = []mount.Mount{{Type: mount.TypeTmpfs, Target: "/data"}}
			return s
		}, change: limitMemory, refused: []string{"/data is on a tmpfs"}},
		{name: "no task running: the fix needs no --force", current: seed, change: limitMemory,
			input:   func(in *Input) { in.TaskNodes = nil },
			refused: []string{"any update replaces the container and loses it. Put it on a named volume: docker stateful update --mount-add type=volume,source=cache-data,target=/data --constraint-add node.id==<NODE-ID> cache"}},
		{name: "the suggested fix still loses the current data", current: seed, change: func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Mounts = []mount.Mount{{Type: mount.TypeVolume, Source: "cache-data", Target: "/data"}}
			s.TaskTemplate.Placement = &swarm.Placement{Constraints: []string{"node.id==n1"}}
		}, refused: []string{"this update moves it to volume cache-data, but the data there now is not copied and will be lost"}},
		{name: "the fix with no task running is allowed", current: seed, change: func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Mounts = []mount.Mount{{Type: mount.TypeVolume, Source: "cache-data", Target: "/data"}}
			s.TaskTemplate.Placement = &swarm.Placement{Constraints: []string{"node.id==n2"}}
		}, input: func(in *Input) { in.TaskNodes = nil }},
		{name: "image VOLUME of an unknown image", current: func() swarm.ServiceSpec {
			s := seed()
			s.TaskTemplate.ContainerSpec.Image = "example/kv:1"
			return s
		}, change: limitMemory, input: func(in *Input) { in.ImageVolumes = map[string][]string{"example/kv:1": {"/var/lib/kv"}} },
			refused: []string{"/var/lib/kv is on the anonymous volume of the image's VOLUME"}},
		{name: "unknown image without volumes has nothing to protect", current: func() swarm.ServiceSpec {
			s := seed()
			s.TaskTemplate.ContainerSpec.Image = "nginx"
			return s
		}, change: limitMemory},
		{name: "--data names a path", current: func() swarm.ServiceSpec {
			s := safe()
			s.TaskTemplate.ContainerSpec.Image = "example/kv:1"
			return s
		}, change: limitMemory, input: func(in *Input) { in.Extra = []string{"/srv/kv"} },
			refused: []string{"source=cache-data-srv-kv,target=/srv/kv"}},
		{name: "new image brings a new data path", current: safe, change: func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Image = "postgres:16"
		}, refused: []string{"/var/lib/postgresql/data, a data path of postgres:16, would be on an anonymous volume or the container's filesystem, which any update loses: add --mount-add type=volume,source=cache-data-var-lib-postgresql-data,target=/var/lib/postgresql/data to this update"}},
		{name: "per-replica volume name when scaled", current: func() swarm.ServiceSpec {
			s := seed()
			three := uint64(3)
			s.Mode.Replicated.Replicas = &three
			return s
		}, change: limitMemory, refused: []string{"source=cache-data-{{.Task.Slot}},target=/data"}},
	})
}

func TestRuleDataMount(t *testing.T) {
	run(t, RuleDataMount, []tcase{
		{name: "unchanged mount", current: safe, change: limitMemory},
		{name: "mount option change keeps the source", current: safe, change: func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Mounts[0].VolumeOptions = &mount.VolumeOptions{Labels: map[string]string{"a": "b"}}
		}},
		{name: "--mount-rm /data", current: safe, change: func(s *swarm.ServiceSpec) { s.TaskTemplate.ContainerSpec.Mounts = nil },
			refused: []string{"the update removes volume cache-data that holds /data: the new task would start with no data"}},
		{name: "replaced by an anonymous volume", current: safe, change: func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Mounts[0].Source = ""
		}, refused: []string{"replaces it with an anonymous volume, removing volume cache-data"}},
		{name: "re-sourced", current: safe, change: func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Mounts[0].Source = "empty"
		}, refused: []string{"re-sources the mount at /data from volume cache-data to volume empty"}},
		{name: "volume to bind", current: safe, change: func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Mounts[0] = mount.Mount{Type: mount.TypeBind, Source: "/srv/cache", Target: "/data"}
		}, refused: []string{"from volume cache-data to bind mount /srv/cache"}},
		{name: "new subpath", current: safe, change: func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Mounts[0].VolumeOptions = &mount.VolumeOptions{Subpath: "x"}
		}, refused: []string{"re-sources"}},
		{name: "retargeted under a parent", current: func() swarm.ServiceSpec {
			s := safe()
			s.TaskTemplate.ContainerSpec.Image = "postgres:16"
			s.TaskTemplate.ContainerSpec.Mounts[0].Target = "/var/lib/postgresql/data"
			return s
		}, change: func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Mounts = []mount.Mount{{Type: mount.TypeVolume, Source: "pg", Target: "/var/lib/postgresql"}}
		}, refused: []string{"the update retargets /var/lib/postgresql/data"}},
		{name: "a non-stateful service's named volume counts too", current: func() swarm.ServiceSpec {
			s := safe()
			s.TaskTemplate.ContainerSpec.Image = "example/app"
			s.TaskTemplate.ContainerSpec.Mounts[0].Target = "/srv/state"
			return s
		}, change: func(s *swarm.ServiceSpec) { s.TaskTemplate.ContainerSpec.Mounts = nil },
			refused: []string{"removes volume cache-data that holds /srv/state"}},
		{name: "read-only named volume is not data", current: func() swarm.ServiceSpec {
			s := safe()
			s.TaskTemplate.ContainerSpec.Image = "example/app"
			s.TaskTemplate.ContainerSpec.Mounts[0] = mount.Mount{Type: mount.TypeVolume, Source: "assets", Target: "/assets", ReadOnly: true}
			return s
		}, change: func(s *swarm.ServiceSpec) { s.TaskTemplate.ContainerSpec.Mounts = nil }},
		{name: "rollback to a spec without the mount", current: safe, change: func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Mounts = nil
		}, input: func(in *Input) { in.Rollback = true }, refused: []string{"removes volume cache-data"}},
	})
}

func TestRulePin(t *testing.T) {
	run(t, RulePin, []tcase{
		{name: "pin kept", current: safe, change: limitMemory},
		{name: "same node by hostname", current: safe, change: func(s *swarm.ServiceSpec) {
			s.TaskTemplate.Placement.Constraints = []string{"node.hostname==host1"}
		}},
		{name: "--constraint-rm node.id==n1", current: safe, change: func(s *swarm.ServiceSpec) {
			s.TaskTemplate.Placement.Constraints = nil
		}, refused: []string{"the update removes the pin node.id==n1 while a local volume holds /data (on volume cache-data)"}},
		{name: "moved to another node", current: safe, change: func(s *swarm.ServiceSpec) {
			s.TaskTemplate.Placement.Constraints = []string{"node.id==n2"}
		}, refused: []string{"moves the pin from node.id==n1 to node.id==n2"}},
		{name: "moved by hostname", current: safe, change: func(s *swarm.ServiceSpec) {
			s.TaskTemplate.Placement.Constraints = []string{"node.hostname==host3"}
		}, refused: []string{"to node.hostname==host3"}},
		{name: "other constraints do not matter", current: safe, change: func(s *swarm.ServiceSpec) {
			s.TaskTemplate.Placement.Constraints = append(s.TaskTemplate.Placement.Constraints, "node.role==manager")
		}},
		{name: "pin removed but data on a network volume", current: func() swarm.ServiceSpec {
			s := safe()
			s.TaskTemplate.ContainerSpec.Mounts[0].VolumeOptions = &mount.VolumeOptions{DriverConfig: &mount.Driver{Name: "local", Options: map[string]string{"type": "nfs"}}}
			return s
		}, change: func(s *swarm.ServiceSpec) { s.TaskTemplate.Placement.Constraints = nil }},
		{name: "seed step: pinning to a node the task does not run on", current: func() swarm.ServiceSpec {
			s := safe()
			s.TaskTemplate.Placement = nil
			return s
		}, change: func(s *swarm.ServiceSpec) {
			s.TaskTemplate.Placement = &swarm.Placement{Constraints: []string{"node.hostname==host2"}}
		}, refused: []string{"the update pins the service with node.hostname==host2, but its task runs on node n1, whose local volume holds /data (on volume cache-data): the task would restart on the pinned node, on that node's own volume, empty or holding other data (pin with --constraint-add node.id==n1 instead, or use --force)"}},
		{name: "pinning to the node the task runs on", current: func() swarm.ServiceSpec {
			s := safe()
			s.TaskTemplate.Placement = nil
			return s
		}, change: func(s *swarm.ServiceSpec) {
			s.TaskTemplate.Placement = &swarm.Placement{Constraints: []string{"node.hostname==host1"}}
		}},
		{name: "global services have a volume per node", current: func() swarm.ServiceSpec {
			s := safe()
			s.Mode = swarm.ServiceMode{Global: &swarm.GlobalService{}}
			return s
		}, change: func(s *swarm.ServiceSpec) { s.TaskTemplate.Placement.Constraints = nil }},
	})
}

func TestRuleUnpinned(t *testing.T) {
	unpinned := func() swarm.ServiceSpec {
		s := safe()
		s.TaskTemplate.Placement = nil
		return s
	}
	run(t, RuleUnpinned, []tcase{
		{name: "pinned", current: safe, change: limitMemory},
		{name: "local volume, no pin, three nodes", current: unpinned, change: limitMemory,
			refused: []string{"a local volume holds /data (on volume cache-data) but nothing pins the service to its node: the update may start the task on another node with an empty volume (pin it with --constraint-add node.id==n1, or use --force)"}},
		{name: "single-node swarm", current: unpinned, change: limitMemory, input: func(in *Input) { in.Nodes = nodes[:1] }},
		{name: "placed by node label", current: unpinned, change: func(s *swarm.ServiceSpec) {
			s.TaskTemplate.Placement = &swarm.Placement{Constraints: []string{"node.labels.redis==true"}}
		}},
		{name: "created with --no-pin: warning only", current: func() swarm.ServiceSpec {
			s := unpinned()
			s.Labels = map[string]string{stateful.LabelDataPaths: "/data", stateful.LabelPin: ""}
			return s
		}, change: limitMemory, warned: "created with --no-pin"},
		{name: "cluster volume needs no pin", current: func() swarm.ServiceSpec {
			s := unpinned()
			s.TaskTemplate.ContainerSpec.Mounts[0].Type = mount.TypeCluster
			return s
		}, change: limitMemory},
	})
}

func TestRuleStartFirst(t *testing.T) {
	run(t, RuleStartFirst, []tcase{
		{name: "stop-first", current: safe, change: func(s *swarm.ServiceSpec) {
			s.UpdateConfig = &swarm.UpdateConfig{Order: swarm.UpdateOrderStopFirst}
		}},
		{name: "--update-order start-first", current: safe, change: func(s *swarm.ServiceSpec) {
			s.UpdateConfig = &swarm.UpdateConfig{Order: swarm.UpdateOrderStartFirst}
		}, refused: []string{"--update-order start-first would run two containers on /data at once"}},
		{name: "--rollback-order start-first", current: safe, change: func(s *swarm.ServiceSpec) {
			s.RollbackConfig = &swarm.UpdateConfig{Order: swarm.UpdateOrderStartFirst}
		}, refused: []string{"--rollback-order start-first"}},
		{name: "already start-first", current: func() swarm.ServiceSpec {
			s := safe()
			s.UpdateConfig = &swarm.UpdateConfig{Order: swarm.UpdateOrderStartFirst}
			return s
		}, change: limitMemory, refused: []string{"the service updates start-first: this would run two containers on /data at once (add --update-order stop-first"}},
		{name: "fixing it", current: func() swarm.ServiceSpec {
			s := safe()
			s.UpdateConfig = &swarm.UpdateConfig{Order: swarm.UpdateOrderStartFirst}
			return s
		}, change: func(s *swarm.ServiceSpec) { s.UpdateConfig.Order = swarm.UpdateOrderStopFirst }},
		{name: "rollback of a start-first-rollback service", current: func() swarm.ServiceSpec {
			s := safe()
			s.RollbackConfig = &swarm.UpdateConfig{Order: swarm.UpdateOrderStartFirst}
			return s
		}, input: func(in *Input) { in.Rollback = true }, refused: []string{"the service rolls back start-first"}},
		{name: "stateless service", current: func() swarm.ServiceSpec {
			s := safe()
			s.TaskTemplate.ContainerSpec.Image = "nginx"
			s.TaskTemplate.ContainerSpec.Mounts = nil
			return s
		}, change: func(s *swarm.ServiceSpec) { s.UpdateConfig = &swarm.UpdateConfig{Order: swarm.UpdateOrderStartFirst} }},
	})
}

func TestRuleStopGrace(t *testing.T) {
	set := func(d time.Duration) func(*swarm.ServiceSpec) {
		return func(s *swarm.ServiceSpec) { s.TaskTemplate.ContainerSpec.StopGracePeriod = &d }
	}
	run(t, RuleStopGrace, []tcase{
		{name: "unchanged", current: safe, change: limitMemory},
		{name: "longer", current: safe, change: set(time.Minute)},
		{name: "shorter than current", current: safe, change: set(5 * time.Second),
			refused: []string{"the stop grace period would shrink from 30s to 5s: the service may be killed before it has saved /data (keep --stop-grace-period 30s or more"}},
		{name: "shorter than docker's default", current: seed, change: set(2 * time.Second),
			input: func(in *Input) { in.TaskNodes = nil }, refused: []string{"from 10s to 2s"}},
		{name: "unset from a longer value", current: safe, change: func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.StopGracePeriod = nil
		}, refused: []string{"from 30s to 10s"}},
	})
}

func TestRuleSharedVolume(t *testing.T) {
	replicas := func(n uint64) func(*swarm.ServiceSpec) {
		return func(s *swarm.ServiceSpec) { s.Mode.Replicated.Replicas = &n }
	}
	run(t, RuleSharedVolume, []tcase{
		{name: "one replica", current: safe, change: replicas(1)},
		{name: "scale to 0", current: safe, change: replicas(0)},
		{name: "--replicas 2 on one volume", current: safe, change: replicas(2),
			refused: []string{"2 replicas would share volume cache-data holding /data: two database processes on one data directory corrupt it (use a per-replica source such as source=cache-data-{{.Task.Slot}}"}},
		{name: "--replicas 3 per-replica", current: func() swarm.ServiceSpec {
			s := safe()
			s.TaskTemplate.ContainerSpec.Mounts[0].Source = "cache-data-{{.Task.Slot}}"
			return s
		}, change: replicas(3)},
		{name: "already several replicas, not scaling up", current: func() swarm.ServiceSpec {
			s := safe()
			two := uint64(2)
			s.Mode.Replicated.Replicas = &two
			return s
		}, change: limitMemory},
	})
}

func TestStopGracePeriodDefault(t *testing.T) {
	if got := stateful.StopGracePeriod(seed()); got != stateful.SwarmStopGracePeriod {
		t.Fatalf("StopGracePeriod(unset) = %s", got)
	}
}

func TestDataPathsFromEverySource(t *testing.T) {
	cur := safe()
	cur.Labels = map[string]string{stateful.LabelDataPaths: "/labelled"}
	cur.TaskTemplate.ContainerSpec.Mounts = append(cur.TaskTemplate.ContainerSpec.Mounts, mount.Mount{Type: mount.TypeVolume, Source: "x", Target: "/named"})
	next := clone(cur)
	next.TaskTemplate.ContainerSpec.Image = "mongo:7"
	got := dataPaths(Input{Current: cur, New: next, Extra: []string{"/extra/"}, ImageVolumes: map[string][]string{"redis:7": {"/declared"}}})
	want := "/data /data/db /declared /extra /labelled /named"
	if strings.Join(got, " ") != want {
		t.Fatalf("DataPaths = %v, want %s", got, want)
	}
}

func TestRuleNowhere(t *testing.T) {
	withNode := func(n stateful.Node) func(*Input) {
		return func(in *Input) {
			in.Nodes = []stateful.Node{n, nodes[1], nodes[2]}
		}
	}
	drained := withNode(stateful.Node{ID: "n1", Hostname: "host1", State: swarm.NodeStateReady, Availability: swarm.NodeAvailabilityDrain})
	run(t, RuleNowhere, []tcase{
		{name: "pinned node drained", current: safe, change: limitMemory, input: drained,
			refused: []string{"the task can run nowhere: the service is pinned by node.id==n1 to node host1 (n1), which has availability drain: no new task starts there; the update would stop the running task and start none until the node takes tasks again (make it Ready and Active first, e.g. docker node update --availability active host1, or use --force)"}},
		{name: "pinned node paused", current: safe, change: limitMemory,
			input:   withNode(stateful.Node{ID: "n1", Hostname: "host1", State: swarm.NodeStateReady, Availability: swarm.NodeAvailabilityPause}),
			refused: []string{"which has availability pause"}},
		{name: "pinned node down", current: safe, change: limitMemory,
			input:   withNode(stateful.Node{ID: "n1", Hostname: "host1", State: swarm.NodeStateDown, Availability: swarm.NodeAvailabilityActive}),
			refused: []string{"to node host1 (n1), which is down, not ready"}},
		{name: "pinned by hostname to a drained node", current: func() swarm.ServiceSpec {
			s := safe()
			s.TaskTemplate.Placement.Constraints = []string{"node.hostname==host1"}
			return s
		}, change: limitMemory, input: drained, refused: []string{"pinned by node.hostname==host1 to node host1 (n1), which has availability drain"}},
		{name: "pinned node left the swarm", current: safe, change: limitMemory, input: func(in *Input) { in.Nodes = nodes[1:] },
			refused: []string{"pinned by node.id==n1 to a node that is not in this swarm (nodes: host2, host3)"}},
		{name: "drained, but the update replaces no task", current: safe, change: func(s *swarm.ServiceSpec) {
			s.Labels = map[string]string{"owner": "me"}
		}, input: drained},
		{name: "active and ready", current: safe, change: limitMemory,
			input: withNode(stateful.Node{ID: "n1", Hostname: "host1", State: swarm.NodeStateReady, Availability: swarm.NodeAvailabilityActive})},
		{name: "nodes unknown", current: safe, change: limitMemory, input: func(in *Input) { in.Nodes = nil }},
	})
}

func withArgs(args ...string) func(*swarm.ServiceSpec) {
	return func(s *swarm.ServiceSpec) { s.TaskTemplate.ContainerSpec.Args = args }
}

func TestRuleCommand(t *testing.T) {
	savesOff := func() swarm.ServiceSpec {
		s := safe()
		s.TaskTemplate.ContainerSpec.Args = []string{"redis-server", "--save", ""}
		return s
	}
	run(t, RuleCommand, []tcase{
		{name: "AOF turned on at start", current: safe, change: withArgs("--appendonly", "yes"),
			refused: []string{"--appendonly yes at start makes Redis load only its (new, empty) append-only file and ignore dump.rdb"}},
		{name: "AOF already on", current: func() swarm.ServiceSpec {
			s := safe()
			s.TaskTemplate.ContainerSpec.Args = []string{"redis-server", "--appendonly", "yes"}
			return s
		}, change: func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Args = []string{"redis-server", "--appendonly", "yes", "--maxmemory", "1gb"}
		}},
		{name: "--dir elsewhere", current: safe, change: withArgs("redis-server", "--dir", "/tmp"),
			refused: []string{"the update moves Redis' data directory from /data to /tmp (--dir, --workdir): Redis starts there with no data"}},
		{name: "--dir relative to the workdir, same place", current: safe, change: withArgs("redis-server", "--dir", ".")},
		{name: "--workdir elsewhere", current: safe, change: func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Args = []string{"redis-server", "--maxmemory", "1gb"}
			s.TaskTemplate.ContainerSpec.Dir = "/srv"
		}, refused: []string{"from /data to /srv"}},
		{name: "saves turned off with AOF off", current: safe, change: withArgs("redis-server", "--save", ""),
			refused: []string{`--save "" with appendonly off turns persistence off: Redis writes nothing to /data`}},
		{name: "saves off with AOF on", current: safe, change: withArgs("redis-server", "--save", "", "--appendonly", "yes"),
			refused: []string{"--appendonly yes at start"}},
		{name: "saves were already off", current: savesOff, change: limitMemory},
		{name: "another save schedule", current: safe, change: withArgs("redis-server", "--save", "60 1000")},
		{name: "not a redis image", current: safe, change: func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Image = "example/app"
			s.TaskTemplate.ContainerSpec.Args = []string{"--dir", "/tmp"}
		}},
	})
}

func TestRuleStopSignal(t *testing.T) {
	run(t, RuleStopSignal, []tcase{
		{name: "SIGKILL", current: safe, change: func(s *swarm.ServiceSpec) { s.TaskTemplate.ContainerSpec.StopSignal = "SIGKILL" },
			refused: []string{"--stop-signal SIGKILL kills the service at once, without the save on shutdown that keeps /data"}},
		{name: "9", current: safe, change: func(s *swarm.ServiceSpec) { s.TaskTemplate.ContainerSpec.StopSignal = "9" }, refused: []string{"--stop-signal 9"}},
		{name: "SIGINT", current: safe, change: func(s *swarm.ServiceSpec) { s.TaskTemplate.ContainerSpec.StopSignal = "SIGINT" }},
	})
}

func TestReadOnlyDataMount(t *testing.T) {
	run(t, RuleDataMount, []tcase{
		{name: "read-only", current: safe, change: func(s *swarm.ServiceSpec) { s.TaskTemplate.ContainerSpec.Mounts[0].ReadOnly = true },
			refused: []string{"the update makes volume cache-data read-only: the service can no longer write /data"}},
	})
}

func TestPlacementByNodeLabels(t *testing.T) {
	labelled := func() swarm.ServiceSpec {
		s := safe()
		s.TaskTemplate.Placement.Constraints = []string{"node.labels.db==a"}
		return s
	}
	run(t, RulePin, []tcase{
		{name: "label swapped", current: labelled, change: func(s *swarm.ServiceSpec) {
			s.TaskTemplate.Placement.Constraints = []string{"node.labels.db==b"}
		}, refused: []string{"the update changes the placement node.labels.db==a to node.labels.db==b while a local volume holds /data"}},
		{name: "label kept, another added", current: labelled, change: func(s *swarm.ServiceSpec) {
			s.TaskTemplate.Placement.Constraints = []string{"node.labels.db==a", "node.labels.ssd==true"}
		}},
		{name: "label kept", current: labelled, change: limitMemory},
	})
}
