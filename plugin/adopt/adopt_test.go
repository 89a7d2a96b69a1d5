package adopt

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/system"
)

type fakeAPI struct {
	svc     swarm.Service
	tasks   []swarm.Task
	updates []swarm.ServiceSpec
}

func (f *fakeAPI) ServiceList(context.Context, swarm.ServiceListOptions) ([]swarm.Service, error) {
	return []swarm.Service{f.svc}, nil
}

func (f *fakeAPI) NodeList(context.Context, swarm.NodeListOptions) ([]swarm.Node, error) {
	return []swarm.Node{{ID: "n1", Description: swarm.NodeDescription{Hostname: "one"}}}, nil
}

func (f *fakeAPI) TaskList(context.Context, swarm.TaskListOptions) ([]swarm.Task, error) {
	return f.tasks, nil
}

func (f *fakeAPI) ServiceUpdate(_ context.Context, _ string, _ swarm.Version, spec swarm.ServiceSpec, _ swarm.ServiceUpdateOptions) (swarm.ServiceUpdateResponse, error) {
	f.updates = append(f.updates, spec)
	f.tasks = append(f.tasks, runningTask("new", "c2"))
	return swarm.ServiceUpdateResponse{}, nil
}

func (f *fakeAPI) Info(context.Context) (system.Info, error) {
	return system.Info{Swarm: swarm.Info{NodeID: "n1"}}, nil
}

type fakeEngine struct{ mounts []container.MountPoint }

func (e fakeEngine) ContainerInspect(context.Context, string) (container.InspectResponse, error) {
	return container.InspectResponse{Mounts: e.mounts}, nil
}

func runningTask(id, ctr string) swarm.Task {
	return swarm.Task{ID: id, ServiceID: "s", NodeID: "n1", Slot: 1, DesiredState: swarm.TaskStateRunning,
		Status: swarm.TaskStatus{State: swarm.TaskStateRunning, ContainerStatus: &swarm.ContainerStatus{ContainerID: ctr}}}
}

func seedService(replicas uint64, mounts ...mount.Mount) swarm.Service {
	return swarm.Service{ID: "s", Spec: swarm.ServiceSpec{
		Annotations:  swarm.Annotations{Name: "seed"},
		Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &replicas}},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "app", Mounts: mounts}},
	}}
}

func run(t *testing.T, api *fakeAPI, vols []string, opt Options) (string, error) {
	t.Helper()
	var out bytes.Buffer
	opt.Timeout = time.Second
	_, err := Run(context.Background(), Deps{
		API:          api,
		ImageVolumes: func(context.Context, string) ([]string, bool) { return vols, true },
		NodeEngine: func(context.Context, string) (Engine, error) {
			return fakeEngine{mounts: []container.MountPoint{{Type: mount.TypeVolume, Name: "anon123", Destination: "/data"}}}, nil
		},
		Out: &out, Log: &out,
	}, opt, "seed")
	return out.String(), err
}

func TestRunAdoptsAndRefuses(t *testing.T) {
	// The seed: /data in the image's VOLUME, one running task.
	api := &fakeAPI{svc: seedService(1), tasks: []swarm.Task{runningTask("old", "c1")}}
	out, err := run(t, api, []string{"/data"}, Options{DryRun: true})
	if err != nil || len(api.updates) != 0 || !strings.Contains(out, "keep the task's anonymous volume anon123") {
		t.Fatalf("dry run: %v, %d updates sent, out %q", err, len(api.updates), out)
	}
	out, err = run(t, api, []string{"/data"}, Options{})
	if err != nil || len(api.updates) != 1 || !strings.Contains(out, "Adopted") {
		t.Fatalf("adopt: %v, %d updates, out %q", err, len(api.updates), out)
	}
	if m := api.updates[0].TaskTemplate.ContainerSpec.Mounts; len(m) != 1 || m[0].Source != "anon123" {
		t.Errorf("sent mounts %+v", m)
	}

	// The image (redis: data in /data) is not on the CLI's daemon: the
	// container's mounts on its node tell a volume from its own filesystem.
	for _, c := range []struct {
		mounts []container.MountPoint
		want   string
	}{
		{[]container.MountPoint{{Type: mount.TypeVolume, Name: "anon9", Destination: "/data"}}, "keep the task's anonymous volume anon9"},
		{nil, "the data is in the container's filesystem"},
	} {
		redis := seedService(1)
		redis.Spec.TaskTemplate.ContainerSpec.Image = "redis"
		api := &fakeAPI{svc: redis, tasks: []swarm.Task{runningTask("old", "c1")}}
		var out bytes.Buffer
		_, err := Run(context.Background(), Deps{API: api, ImageVolumes: func(context.Context, string) ([]string, bool) { return nil, false },
			NodeEngine: func(context.Context, string) (Engine, error) { return fakeEngine{mounts: c.mounts}, nil },
			Out:        &out, Log: &out}, Options{DryRun: true}, "seed")
		if got := out.String() + fmtErr(err); !strings.Contains(got, c.want) {
			t.Errorf("image not inspected, mounts %+v: %q, want %q", c.mounts, got, c.want)
		}
	}

	var ref *Refused
	for _, c := range []struct {
		name string
		api  *fakeAPI
		vols []string
		opt  Options
		want string
	}{
		{"two replicas", &fakeAPI{svc: seedService(2), tasks: []swarm.Task{runningTask("a", "c1"), runningTask("b", "c2")}}, []string{"/data"}, Options{}, "runs 2 replicas"},
		{"container filesystem", &fakeAPI{svc: swarm.Service{ID: "s", Spec: func() swarm.ServiceSpec {
			s := seedService(1).Spec
			s.Labels = map[string]string{"io.docker-stateful.data": "/srv"}
			return s
		}()}, tasks: []swarm.Task{runningTask("a", "c1")}}, nil, Options{}, "container's filesystem"},
		{"tmpfs", &fakeAPI{svc: seedService(1, mount.Mount{Type: mount.TypeTmpfs, Target: "/data"}), tasks: []swarm.Task{runningTask("a", "c1")}}, []string{"/data"}, Options{}, "tmpfs"},
		{"no running task", &fakeAPI{svc: seedService(1)}, []string{"/data"}, Options{}, "no running task"},
		{"bad volume name", &fakeAPI{svc: seedService(1), tasks: []swarm.Task{runningTask("a", "c1")}}, []string{"/data"}, Options{VolumeName: "a/b"}, "not a valid volume name"},
	} {
		_, err := run(t, c.api, c.vols, c.opt)
		if !errors.As(err, &ref) || !strings.Contains(err.Error(), c.want) || len(c.api.updates) != 0 {
			t.Errorf("%s: %v (%d updates sent), want a refusal naming %q and nothing sent", c.name, err, len(c.api.updates), c.want)
		}
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
