package adopt

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/api/types/volume"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/docker-stateful/docker-stateful/plugin/inventory"
)

type fakeAPI struct {
	svc     swarm.Service
	tasks   []swarm.Task
	updates []swarm.ServiceSpec
	events  *[]string
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
	if f.events != nil {
		*f.events = append(*f.events, "update")
	}
	for i := range f.tasks {
		f.tasks[i].Status.State = swarm.TaskStateShutdown
	}
	if n, _ := inventory.Replicas(spec); n > 0 {
		f.tasks = append(f.tasks, runningTask(fmt.Sprintf("new%d", len(f.updates)), "c2"))
	}
	return swarm.ServiceUpdateResponse{}, nil
}

func (f *fakeAPI) Info(context.Context) (system.Info, error) {
	return system.Info{Swarm: swarm.Info{NodeID: "n1"}}, nil
}

// fakeEngine is a node's engine whose archive API serves one file from the
// task's volume and gives back what was written into a helper container.
type fakeEngine struct {
	mounts    []container.MountPoint
	volumes   map[string]bool
	written   map[string][]byte
	holds     map[string][]mount.Mount
	failWrite bool
	events    *[]string
}

func newEngine(events *[]string, mounts ...container.MountPoint) *fakeEngine {
	return &fakeEngine{mounts: mounts, volumes: map[string]bool{}, written: map[string][]byte{}, holds: map[string][]mount.Mount{}, events: events}
}

func (e *fakeEngine) ContainerInspect(context.Context, string) (container.InspectResponse, error) {
	return container.InspectResponse{Mounts: e.mounts, ContainerJSONBase: &container.ContainerJSONBase{ID: "c1", Image: "sha256:img"}}, nil
}

func (e *fakeEngine) CopyFromContainer(_ context.Context, id, p string) (io.ReadCloser, container.PathStat, error) {
	if b, ok := e.written[id]; ok {
		return io.NopCloser(bytes.NewReader(b)), container.PathStat{}, nil
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Name: "data/dump.rdb", Typeflag: tar.TypeReg, Size: 4, Mode: 0o644})
	_, _ = tw.Write([]byte("REDI"))
	_ = tw.Close()
	return io.NopCloser(&buf), container.PathStat{}, nil
}

func (e *fakeEngine) CopyToContainer(_ context.Context, id, _ string, r io.Reader, _ container.CopyToContainerOptions) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if e.failWrite {
		return errors.New("no space left on device")
	}
	e.written[id] = b
	return nil
}

func (e *fakeEngine) ContainerCreate(_ context.Context, _ *container.Config, hc *container.HostConfig, _ *network.NetworkingConfig, _ *ocispec.Platform, _ string) (container.CreateResponse, error) {
	id := fmt.Sprintf("h%d", len(e.holds)+1)
	e.holds[id] = hc.Mounts
	*e.events = append(*e.events, "create "+hc.Mounts[0].Source)
	return container.CreateResponse{ID: id}, nil
}

func (e *fakeEngine) ContainerRemove(context.Context, string, container.RemoveOptions) error {
	return nil
}

func (e *fakeEngine) VolumeCreate(_ context.Context, o volume.CreateOptions) (volume.Volume, error) {
	e.volumes[o.Name] = true
	return volume.Volume{Name: o.Name}, nil
}

func (e *fakeEngine) VolumeInspect(_ context.Context, name string) (volume.Volume, error) {
	if e.volumes[name] {
		return volume.Volume{Name: name}, nil
	}
	return volume.Volume{}, errors.New("no such volume")
}

func (e *fakeEngine) VolumeRemove(_ context.Context, name string, _ bool) error {
	delete(e.volumes, name)
	return nil
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
	var events []string
	return runOn(t, api, newEngine(&events, container.MountPoint{Type: mount.TypeVolume, Name: "anon123", Destination: "/data"}), vols, opt)
}

func runOn(t *testing.T, api *fakeAPI, eng *fakeEngine, vols []string, opt Options) (string, error) {
	t.Helper()
	var out bytes.Buffer
	opt.Timeout = time.Second
	api.events = eng.events
	_, err := Run(context.Background(), Deps{
		API:          api,
		ImageVolumes: func(context.Context, string) ([]string, bool) { return vols, true },
		NodeEngine:   func(context.Context, string) (Engine, error) { return eng, nil },
		Out:          &out, Log: &out,
	}, opt, "seed")
	return out.String(), err
}

func TestRunAdoptsAndRefuses(t *testing.T) {
	// The seed: /data in the image's VOLUME, one running task.
	api := &fakeAPI{svc: seedService(1), tasks: []swarm.Task{runningTask("old", "c1")}}
	out, err := run(t, api, []string{"/data"}, Options{DryRun: true})
	if err != nil || len(api.updates) != 0 || !strings.Contains(out, "copy the task's anonymous volume anon123 into a new named volume seed-data") || !strings.Contains(out, "stopped (0 replicas)") {
		t.Fatalf("dry run: %v, %d updates sent, out %q", err, len(api.updates), out)
	}
	if out, _ := run(t, api, []string{"/data"}, Options{DryRun: true, Cut: true}); !strings.Contains(out, "inside the cut") {
		t.Errorf("dry run of a cut service: %q, want the copy inside the cut", out)
	}
	out, err = run(t, api, []string{"/data"}, Options{})
	if err != nil || len(api.updates) != 2 || !strings.Contains(out, "Adopted") {
		t.Fatalf("adopt: %v, %d updates, out %q", err, len(api.updates), out)
	}
	if n, _ := inventory.Replicas(api.updates[0]); n != 0 {
		t.Errorf("first update: %d replicas, want 0 (the task stopped for the copy)", n)
	}
	if m := api.updates[1].TaskTemplate.ContainerSpec.Mounts; len(m) != 1 || m[0].Source != "seed-data" {
		t.Errorf("sent mounts %+v, want the named copy seed-data", m)
	}

	// The image (redis: data in /data) is not on the CLI's daemon: the
	// container's mounts on its node tell a volume from its own filesystem.
	for _, c := range []struct {
		mounts []container.MountPoint
		want   string
	}{
		{[]container.MountPoint{{Type: mount.TypeVolume, Name: "anon9", Destination: "/data"}}, "copy the task's anonymous volume anon9"},
		{nil, "the data is in the container's filesystem"},
	} {
		redis := seedService(1)
		redis.Spec.TaskTemplate.ContainerSpec.Image = "redis"
		api := &fakeAPI{svc: redis, tasks: []swarm.Task{runningTask("old", "c1")}}
		var out bytes.Buffer
		_, err := Run(context.Background(), Deps{API: api, ImageVolumes: func(context.Context, string) ([]string, bool) { return nil, false },
			NodeEngine: func(context.Context, string) (Engine, error) { return newEngine(new([]string), c.mounts...), nil },
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

// TestAdoptStopCopyStart: without a cut, a helper holds the anonymous volume
// before the task is stopped (swarm removes a stopped task's container with
// its anonymous volumes), the copy is taken at rest, and the service comes
// back on the copy; a failed copy brings it back on the anonymous volume.
func TestAdoptStopCopyStart(t *testing.T) {
	var events []string
	eng := newEngine(&events, container.MountPoint{Type: mount.TypeVolume, Name: "anon123", Destination: "/data"})
	api := &fakeAPI{svc: seedService(1), tasks: []swarm.Task{runningTask("old", "c1")}}
	if _, err := runOn(t, api, eng, []string{"/data"}, Options{}); err != nil {
		t.Fatal(err)
	}
	if len(events) < 2 || events[0] != "create anon123" || events[1] != "update" {
		t.Errorf("events %v: want the holder of anon123 created before the first update", events)
	}
	if !eng.volumes["seed-data"] {
		t.Errorf("volume seed-data not created")
	}

	events = nil
	eng = newEngine(&events, container.MountPoint{Type: mount.TypeVolume, Name: "anon123", Destination: "/data"})
	eng.failWrite = true
	api = &fakeAPI{svc: seedService(1), tasks: []swarm.Task{runningTask("old", "c1")}}
	_, err := runOn(t, api, eng, []string{"/data"}, Options{})
	var unr *Unreachable
	if !errors.As(err, &unr) || !strings.Contains(err.Error(), "started again on its anonymous volume anon123") {
		t.Fatalf("failed copy: %v, want the service back on anon123", err)
	}
	if m := api.updates[len(api.updates)-1].TaskTemplate.ContainerSpec.Mounts; len(m) != 1 || m[0].Source != "anon123" {
		t.Errorf("after a failed copy the service mounts %+v, want anon123", m)
	}
	if eng.volumes["seed-data"] {
		t.Errorf("the failed copy's volume was left behind")
	}
}

// TestAdoptCopiesAnonymousMountedByName: a service adopted by an older
// version (its anonymous volume mounted by its name, which prune deletes) is
// copied into a named volume; a taken default name is refused.
func TestAdoptCopiesAnonymousMountedByName(t *testing.T) {
	anon := strings.Repeat("ab", 32)
	svc := seedService(1, mount.Mount{Type: mount.TypeVolume, Source: anon, Target: "/data"})
	svc.Spec.Labels = map[string]string{"io.docker-stateful.data": "/data"}
	var events []string
	eng := newEngine(&events, container.MountPoint{Type: mount.TypeVolume, Name: anon, Destination: "/data"})
	api := &fakeAPI{svc: svc, tasks: []swarm.Task{runningTask("old", "c1")}}
	out, err := runOn(t, api, eng, []string{"/data"}, Options{DryRun: true})
	if err != nil || !strings.Contains(out, "copy the task's anonymous volume "+anon[:12]+" into a new named volume seed-data") {
		t.Fatalf("dry run: %v, %q; want a copy into seed-data", err, out)
	}
	if _, err := runOn(t, api, eng, []string{"/data"}, Options{}); err != nil {
		t.Fatal(err)
	}
	if m := api.updates[len(api.updates)-1].TaskTemplate.ContainerSpec.Mounts; len(m) != 1 || m[0].Source != "seed-data" || m[0].Target != "/data" {
		t.Errorf("sent mounts %+v, want only seed-data on /data (swarm refuses two mounts on one target)", m)
	}
	api = &fakeAPI{svc: svc, tasks: []swarm.Task{runningTask("old", "c1")}}
	_, err = runOn(t, api, eng, []string{"/data"}, Options{})
	var ref *Refused
	if !errors.As(err, &ref) || !strings.Contains(err.Error(), "volume seed-data already exists on node one") || !strings.Contains(err.Error(), "--volume-name") || len(api.updates) != 0 {
		t.Errorf("default name taken: %v (%d updates), want a refusal naming --volume-name", err, len(api.updates))
	}
}
