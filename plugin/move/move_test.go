package move

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/client"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/docker-stateful/docker-stateful/plugin/exitcode"
	"github.com/docker-stateful/docker-stateful/plugin/verifyflow"
)

// fakeAPI answers the reads of a plan; any update is counted (none may be sent).
type fakeAPI struct {
	client.APIClient // nil: a call the test does not expect panics
	svc              swarm.Service
	updates          int
}

func (f *fakeAPI) ServiceInspectWithRaw(context.Context, string, swarm.ServiceInspectOptions) (swarm.Service, []byte, error) {
	return f.svc, nil, nil
}

func (f *fakeAPI) NodeList(context.Context, swarm.NodeListOptions) ([]swarm.Node, error) {
	var out []swarm.Node
	for _, n := range cluster().Nodes {
		out = append(out, swarm.Node{ID: n.ID, Description: swarm.NodeDescription{Hostname: n.Hostname},
			Status: swarm.NodeStatus{State: n.State}, Spec: swarm.NodeSpec{Availability: n.Availability}})
	}
	return out, nil
}

func (f *fakeAPI) ImageInspect(context.Context, string, ...client.ImageInspectOption) (image.InspectResponse, error) {
	return image.InspectResponse{Config: &dockerspec.DockerOCIImageConfig{ImageConfig: ocispec.ImageConfig{Cmd: []string{"redis-server", "--protected-mode", "no"}}}}, nil
}

func (f *fakeAPI) Info(context.Context) (system.Info, error) {
	return system.Info{Swarm: swarm.Info{NodeID: "id1"}}, nil
}

func (f *fakeAPI) ServiceUpdate(context.Context, string, swarm.Version, swarm.ServiceSpec, swarm.ServiceUpdateOptions) (swarm.ServiceUpdateResponse, error) {
	f.updates++
	return swarm.ServiceUpdateResponse{}, nil
}

func mover(t *testing.T, api *fakeAPI, opt Options) *Mover {
	var log bytes.Buffer
	fl, err := verifyflow.New(api, verifyflow.Options{StateDir: t.TempDir(), Getenv: func(string) string { return "" }}, &log)
	if err != nil {
		t.Fatal(err)
	}
	return &Mover{Flow: fl, API: api, Opt: opt, Log: &log}
}

func TestRunDryRunAndRefusalsSendNothing(t *testing.T) {
	api := &fakeAPI{svc: service()}
	res, err := mover(t, api, Options{To: "node3", DryRun: true}).Run(context.Background(), "cache")
	if err != nil || res.Verdict != VerdictPlanned || res.From != "node1" || res.To != "node3" || len(res.Steps) == 0 || api.updates != 0 {
		t.Fatalf("dry run: %v %+v, %d updates", err, res, api.updates)
	}
	for _, to := range []string{"node2", "self", "nowhere"} {
		res, err := mover(t, api, Options{To: to}).Run(context.Background(), "cache")
		if exitcode.Code(err) != exitcode.No || res.Verdict != VerdictRefused || res.Error == "" || api.updates != 0 {
			t.Fatalf("--to %s: exit %d %v %+v, %d updates", to, exitcode.Code(err), err, res, api.updates)
		}
	}
	fl := mover(t, api, Options{To: "node3"})
	fl.Flow.Opt.RedisURL = "redis://10.0.0.1:6379"
	if _, err := fl.Run(context.Background(), "cache"); exitcode.Code(err) != exitcode.No || !strings.Contains(err.Error(), "--redis-url") || api.updates != 0 {
		t.Fatalf("--redis-url: %v", err)
	}
}
