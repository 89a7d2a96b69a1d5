package commands

import (
	"encoding/json"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/api/types/volume"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"

	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// createFakeAPI is a swarm manager with a redis image declaring VOLUME /data;
// its fakeAPI answers from the fields and records what is created.
type createFakeAPI struct {
	*fakeAPI
	info    system.Info
	images  map[string][]string // image → declared VOLUMEs
	volumes []string            // volumes on the CLI's node
	created []swarm.ServiceSpec
}

func newCreateFakeAPI() *createFakeAPI {
	f := &createFakeAPI{
		info: system.Info{Name: "node1", Swarm: swarm.Info{
			NodeID: "id1", LocalNodeState: swarm.LocalNodeStateActive, ControlAvailable: true,
		}},
		images: map[string][]string{"redis": {"/data"}},
	}
	node := func(id, host string) swarm.Node {
		return swarm.Node{ID: id, Description: swarm.NodeDescription{Hostname: host},
			Status: swarm.NodeStatus{State: swarm.NodeStateReady}, Spec: swarm.NodeSpec{Availability: swarm.NodeAvailabilityActive}}
	}
	f.fakeAPI = &fakeAPI{
		infoFunc: func() (system.Info, error) { return f.info, nil },
		imageInspectFunc: func(ref string) (image.InspectResponse, error) {
			vols, ok := f.images[ref]
			if !ok {
				return image.InspectResponse{}, cerrdefs.ErrNotFound.WithMessage("No such image: " + ref)
			}
			cfg := &dockerspec.DockerOCIImageConfig{}
			cfg.Volumes = map[string]struct{}{}
			for _, v := range vols {
				cfg.Volumes[v] = struct{}{}
			}
			return image.InspectResponse{Config: cfg}, nil
		},
		volumeInspectFunc: func(name string) (volume.Volume, error) {
			for _, v := range f.volumes {
				if v == name {
					return volume.Volume{Name: v, CreatedAt: "2026-01-01T00:00:00Z"}, nil
				}
			}
			return volume.Volume{}, cerrdefs.ErrNotFound.WithMessage("no such volume")
		},
		nodeListFunc: func() ([]swarm.Node, error) {
			return []swarm.Node{node("id1", "node1"), node("id2", "node2")}, nil
		},
		serviceCreateFunc: func(spec swarm.ServiceSpec) (swarm.ServiceCreateResponse, error) {
			f.created = append(f.created, spec)
			return swarm.ServiceCreateResponse{ID: "svc123"}, nil
		},
	}
	return f
}

func runCreateCmd(t *testing.T, api *createFakeAPI, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return runOnAPI(t, api, newCreateCommand, args...)
}

func TestCreateSendsTheSafeSpec(t *testing.T) {
	api := newCreateFakeAPI()
	stdout, stderr, err := runCreateCmd(t, api, "-d", "--name", "stateful", "-p", "published=10000,target=6379,mode=host", "--no-resolve-image", "redis")
	if err != nil {
		t.Fatal(err)
	}
	if len(api.created) != 1 {
		t.Fatalf("%d services created, want 1", len(api.created))
	}
	spec := api.created[0]
	m, ok := stateful.MountFor(stateful.Mounts(spec), "/data")
	if !ok || m.Source != "stateful-data" || !stateful.IsPersistent(m) {
		t.Errorf("/data mount = %+v", m)
	}
	if c := stateful.Constraints(spec); len(c) != 1 || c[0] != "node.id==id1" {
		t.Errorf("constraints = %v", c)
	}
	if stdout != "svc123\n" {
		t.Errorf("stdout = %q, want just the service ID", stdout)
	}
	if !strings.Contains(stderr, "docker stateful: stateful keeps /data on volume stateful-data, pinned to node1 by node.id==id1") {
		t.Errorf("stderr lacks the summary:\n%s", stderr)
	}
}

func TestCreateSaysWhenAVolumeAlreadyExists(t *testing.T) {
	api := newCreateFakeAPI()
	api.volumes = []string{"c-data-2"}
	_, stderr, err := runCreateCmd(t, api, "-d", "--name", "c", "--replicas", "2", "redis")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "docker stateful: volume c-data-2 already exists on node1 (created 2026-01-01T00:00:00Z): the service starts with the data in it") || strings.Contains(stderr, "c-data-1 already") {
		t.Errorf("stderr:\n%s", stderr)
	}
}

func TestCreateQuietHasNoSummary(t *testing.T) {
	api := newCreateFakeAPI()
	_, stderr, err := runCreateCmd(t, api, "-d", "-q", "--name", "c", "redis")
	if err != nil || stderr != "" || len(api.created) != 1 {
		t.Fatalf("err %v, stderr %q, created %d", err, stderr, len(api.created))
	}
}

func TestCreateDryRunSendsNothing(t *testing.T) {
	api := newCreateFakeAPI()
	stdout, _, err := runCreateCmd(t, api, "--dry-run", "--name", "c", "--pin", "node2", "redis")
	if err != nil {
		t.Fatal(err)
	}
	if len(api.created) != 0 {
		t.Fatalf("dry run created %d services", len(api.created))
	}
	for _, want := range []string{"Dry run, nothing sent", `+         "node.id==id2"`, `+           "Source": "c-data",`, "pin      node.id==id2: node2 (id2), --pin: added"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, stdout)
		}
	}

	stdout, _, err = runCreateCmd(t, api, "--dry-run", "--format", "json", "--name", "c", "redis")
	if err != nil {
		t.Fatal(err)
	}
	var spec swarm.ServiceSpec
	if err := json.Unmarshal([]byte(stdout), &spec); err != nil {
		t.Fatalf("--format json is not a spec: %v\n%s", err, stdout)
	}
	if spec.Name != "c" || spec.Labels[stateful.LabelVolumes] != "/data=c-data" || len(api.created) != 0 {
		t.Errorf("json spec = %+v, created %d", spec, len(api.created))
	}
}

func TestCreateBadInput(t *testing.T) {
	notInSwarm := func(a *createFakeAPI) { a.info.Swarm = swarm.Info{LocalNodeState: swarm.LocalNodeStateInactive} }
	worker := func(a *createFakeAPI) { a.info.Swarm.ControlAvailable = false }
	cases := []struct {
		name  string
		setup func(*createFakeAPI)
		args  []string
		err   string
	}{
		{"unknown --pin", nil, []string{"--name", "c", "--pin", "node9", "redis"}, "--pin node9: no such node in this swarm (nodes: node1, node2)"},
		{"empty --pin", nil, []string{"--name", "c", "--pin", "", "redis"}, "--pin needs a node name or ID"},
		{"relative --data", nil, []string{"--name", "c", "--data", "data", "redis"}, "--data data: must be an absolute path"},
		{"--data with a comma", nil, []string{"--name", "c", "--data", "/srv/app,v2", "redis"}, "--data /srv/app,v2: a data path cannot contain ','"},
		{"--no-pin --pin", nil, []string{"--name", "c", "--no-pin", "--pin", "node2", "redis"}, "--no-pin conflicts with --pin node2"},
		{"image not on the daemon", nil, []string{"--name", "c", "nosuch:1"}, "image nosuch:1 is not on this docker daemon (node1)"},
		{"start-first", nil, []string{"--name", "c", "--update-order", "start-first", "redis"}, "--update-order start-first would run"},
		{"no name", nil, []string{"redis"}, "--name is required"},
		{"--format without --dry-run", nil, []string{"--name", "c", "--format", "json", "redis"}, "--format applies to --dry-run only"},
		{"bad --format template", nil, []string{"--name", "c", "--dry-run", "--format", "{{.Name", "redis"}, `--format "{{.Name": template`},
		{"not in a swarm", notInSwarm, []string{"--name", "c", "redis"}, "this docker daemon is not in a swarm"},
		{"worker", worker, []string{"--name", "c", "redis"}, "this docker daemon is a swarm worker"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			api := newCreateFakeAPI()
			if c.setup != nil {
				c.setup(api)
			}
			stdout, _, err := runCreateCmd(t, api, append([]string{"-d"}, c.args...)...)
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("err = %v, want %q", err, c.err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			if len(api.created) != 0 {
				t.Errorf("created %d services on bad input", len(api.created))
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
		})
	}
}
