package specdiff

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
)

func baseSpec() swarm.ServiceSpec {
	one := uint64(1)
	grace := 30 * time.Second
	return swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: "cache", Labels: map[string]string{"io.docker-stateful.data": "/data"}},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{
				Image:           "redis:7",
				Args:            []string{"redis-server", "--appendonly", "yes"},
				Env:             []string{"A=1", "B=2"},
				Mounts:          []mount.Mount{{Type: mount.TypeVolume, Source: "cache-data", Target: "/data"}},
				StopGracePeriod: &grace,
			},
			Placement:     &swarm.Placement{Constraints: []string{"node.id==n1"}},
			Resources:     &swarm.ResourceRequirements{},
			RestartPolicy: &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionAny},
			Runtime:       swarm.RuntimeContainer,
		},
		Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}},
		UpdateConfig: &swarm.UpdateConfig{Parallelism: 1, Order: swarm.UpdateOrderStopFirst, Monitor: 5 * time.Second},
		EndpointSpec: &swarm.EndpointSpec{Ports: []swarm.PortConfig{{TargetPort: 6379, PublishedPort: 10000, PublishMode: swarm.PortConfigPublishModeHost}}},
	}
}

// clone deep-copies a spec through JSON, as the daemon would hand it back.
func clone(t *testing.T, s swarm.ServiceSpec) swarm.ServiceSpec {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var out swarm.ServiceSpec
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestNoChange(t *testing.T) {
	s := baseSpec()
	if d := Diff(s, clone(t, s)); len(d) != 0 {
		t.Fatalf("identical specs: got %+v", d)
	}
	var buf bytes.Buffer
	if err := Write(&buf, nil); err != nil || !strings.Contains(buf.String(), "no change") {
		t.Fatalf("Write(nil) = %q, %v", buf.String(), err)
	}
}

func TestDiffShowsOnlyChangedFields(t *testing.T) {
	three := uint64(3)
	short := 5 * time.Second
	cases := []struct {
		name   string
		change func(*swarm.ServiceSpec)
		want   []Change
	}{
		{"image", func(s *swarm.ServiceSpec) { s.TaskTemplate.ContainerSpec.Image = "redis:8" },
			[]Change{{Field: "Image", Removed: []string{"redis:7"}, Added: []string{"redis:8"}}}},
		{"memory limit added", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.Resources.Limits = &swarm.Limit{MemoryBytes: 100 << 20}
		}, []Change{{Field: "Limits.Memory", Added: []string{"100MiB"}}}},
		{"cpu reservation", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.Resources.Reservations = &swarm.Resources{NanoCPUs: 500000000}
		}, []Change{{Field: "Reservations.CPU", Added: []string{"0.5"}}}},
		{"env", func(s *swarm.ServiceSpec) { s.TaskTemplate.ContainerSpec.Env = []string{"A=1", "B=3", "C=4"} },
			[]Change{{Field: "Env", Removed: []string{"B=2"}, Added: []string{"B=3", "C=4"}}}},
		{"args are ordered", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Args = []string{"redis-server", "--save", "60 1"}
		}, []Change{{Field: "Args", Removed: []string{"redis-server --appendonly yes"}, Added: []string{`redis-server --save "60 1"`}}}},
		{"mount removed", func(s *swarm.ServiceSpec) { s.TaskTemplate.ContainerSpec.Mounts = nil },
			[]Change{{Field: "Mounts", Removed: []string{"type=volume,source=cache-data,target=/data"}}}},
		{"constraint changed", func(s *swarm.ServiceSpec) { s.TaskTemplate.Placement.Constraints = []string{"node.id==n2"} },
			[]Change{{Field: "Constraints", Removed: []string{"node.id==n1"}, Added: []string{"node.id==n2"}}}},
		{"replicas", func(s *swarm.ServiceSpec) { s.Mode.Replicated.Replicas = &three },
			[]Change{{Field: "Replicas", Removed: []string{"1"}, Added: []string{"3"}}}},
		{"port", func(s *swarm.ServiceSpec) { s.EndpointSpec.Ports[0].PublishedPort = 10001 },
			[]Change{{Field: "Ports", Removed: []string{"published=10000,target=6379,protocol=tcp,mode=host"}, Added: []string{"published=10001,target=6379,protocol=tcp,mode=host"}}}},
		{"label", func(s *swarm.ServiceSpec) {
			s.Labels = map[string]string{"io.docker-stateful.data": "/data", "team": "x"}
		},
			[]Change{{Field: "Labels", Added: []string{"team=x"}}}},
		{"update order", func(s *swarm.ServiceSpec) { s.UpdateConfig.Order = swarm.UpdateOrderStartFirst },
			[]Change{{Field: "UpdateConfig.Order", Removed: []string{"stop-first"}, Added: []string{"start-first"}}}},
		{"update monitor is a duration", func(s *swarm.ServiceSpec) { s.UpdateConfig.Monitor = time.Minute },
			[]Change{{Field: "UpdateConfig.Monitor", Removed: []string{"5s"}, Added: []string{"1m0s"}}}},
		{"rollback config added", func(s *swarm.ServiceSpec) {
			s.RollbackConfig = &swarm.UpdateConfig{FailureAction: "pause"}
		}, []Change{{Field: "RollbackConfig.FailureAction", Added: []string{"pause"}}}},
		{"stop grace period", func(s *swarm.ServiceSpec) { s.TaskTemplate.ContainerSpec.StopGracePeriod = &short },
			[]Change{{Field: "StopGracePeriod", Removed: []string{"30s"}, Added: []string{"5s"}}}},
		{"network", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.Networks = []swarm.NetworkAttachmentConfig{{Target: "backend", Aliases: []string{"db"}}}
		}, []Change{{Field: "Networks", Added: []string{"backend,alias=db"}}}},
		{"secret", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Secrets = []*swarm.SecretReference{{SecretName: "pw", File: &swarm.SecretReferenceFileTarget{Name: "pw"}}}
		}, []Change{{Field: "Secrets", Added: []string{"source=pw,target=pw"}}}},
		{"config", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Configs = []*swarm.ConfigReference{{ConfigName: "conf", File: &swarm.ConfigReferenceFileTarget{Name: "/etc/redis.conf"}}}
		}, []Change{{Field: "Configs", Added: []string{"source=conf,target=/etc/redis.conf"}}}},
		{"force counter, by reflection", func(s *swarm.ServiceSpec) { s.TaskTemplate.ForceUpdate = 1 },
			[]Change{{Field: "ForceUpdate", Added: []string{"1"}}}},
		{"hostname, by reflection", func(s *swarm.ServiceSpec) { s.TaskTemplate.ContainerSpec.Hostname = "h" },
			[]Change{{Field: "ContainerSpec.Hostname", Added: []string{"h"}}}},
		{"healthcheck interval, by reflection", func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec.Healthcheck = &container.HealthConfig{Interval: 2 * time.Second}
		}, []Change{{Field: "ContainerSpec.Healthcheck.Interval", Added: []string{"2s"}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			old := baseSpec()
			n := clone(t, old)
			c.change(&n)
			if got := Diff(old, n); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("Diff =\n%+v\nwant\n%+v", got, c.want)
			}
		})
	}
}

func TestWrite(t *testing.T) {
	var buf bytes.Buffer
	err := Write(&buf, []Change{
		{Field: "Limits.Memory", Added: []string{"100MiB"}},
		{Field: "Mounts", Removed: []string{"type=volume,source=x,target=/data"}},
	})
	want := "Limits.Memory:\n+ 100MiB\nMounts:\n- type=volume,source=x,target=/data\n"
	if err != nil || buf.String() != want {
		t.Fatalf("Write = %q, %v; want %q", buf.String(), err, want)
	}
}

func TestMountString(t *testing.T) {
	for want, m := range map[string]mount.Mount{
		"type=volume,target=/data": {Type: mount.TypeVolume, Target: "/data"},
		"type=volume,source=v-{{.Task.Slot}},target=/data,volume-driver=local,volume-opt=device=:/x,volume-opt=type=nfs": {
			Type: mount.TypeVolume, Source: "v-{{.Task.Slot}}", Target: "/data",
			VolumeOptions: &mount.VolumeOptions{DriverConfig: &mount.Driver{Name: "local", Options: map[string]string{"type": "nfs", "device": ":/x"}}},
		},
		"type=bind,source=/srv,target=/data,readonly": {Type: mount.TypeBind, Source: "/srv", Target: "/data", ReadOnly: true},
		"type=tmpfs,target=/data,tmpfs-size=1024":     {Type: mount.TypeTmpfs, Target: "/data", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 1024}},
	} {
		if got := MountString(m); got != want {
			t.Errorf("MountString = %q, want %q", got, want)
		}
	}
}
