package commands

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/spf13/cobra"
)

// updateFakeAPI is a swarm with one service, recording what is sent to it:
// its fakeAPI answers from svc.
type updateFakeAPI struct {
	*fakeAPI
	svc    swarm.Service
	sent   []swarm.ServiceSpec
	opts   []swarm.ServiceUpdateOptions
	paused bool // the update pauses once sent, as swarm does when the new task fails
}

func newUpdateFakeAPI(svc swarm.Service) *updateFakeAPI {
	f := &updateFakeAPI{svc: svc}
	f.fakeAPI = &fakeAPI{
		serviceInspectFunc: func(id string) (swarm.Service, error) {
			if id != f.svc.ID && id != f.svc.Spec.Name {
				return swarm.Service{}, errors.New("no such service: " + id)
			}
			// A deep copy, as the daemon gives.
			b, _ := json.Marshal(f.svc)
			var s swarm.Service
			_ = json.Unmarshal(b, &s)
			if f.paused && len(f.sent) > 0 {
				s.UpdateStatus = &swarm.UpdateStatus{State: swarm.UpdateStatePaused, Message: "update paused due to failure or early termination of task x"}
			}
			return s, nil
		},
		serviceUpdateFunc: func(_ string, _ swarm.Version, spec swarm.ServiceSpec, opts swarm.ServiceUpdateOptions) (swarm.ServiceUpdateResponse, error) {
			f.sent = append(f.sent, spec)
			f.opts = append(f.opts, opts)
			return swarm.ServiceUpdateResponse{}, nil
		},
		taskListFunc: func(swarm.TaskListOptions) ([]swarm.Task, error) {
			return []swarm.Task{{NodeID: "node1", Status: swarm.TaskStatus{State: swarm.TaskStateRunning}}}, nil
		},
		nodeListFunc: func() ([]swarm.Node, error) {
			return []swarm.Node{{ID: "node1"}, {ID: "node2"}, {ID: "node3"}}, nil
		},
		imageInspectFunc: func(ref string) (image.InspectResponse, error) {
			if ref == "redis" {
				cfg := &dockerspec.DockerOCIImageConfig{}
				cfg.Volumes = map[string]struct{}{"/data": {}}
				return image.InspectResponse{Config: cfg}, nil
			}
			return image.InspectResponse{}, errors.New("no such image")
		},
	}
	return f
}

func updatePinnedRedis() swarm.Service {
	one := uint64(1)
	return swarm.Service{
		ID:   "svc1",
		Meta: swarm.Meta{Version: swarm.Version{Index: 7}},
		Spec: swarm.ServiceSpec{
			Annotations: swarm.Annotations{Name: "cache"},
			TaskTemplate: swarm.TaskSpec{
				ContainerSpec: &swarm.ContainerSpec{Image: "redis", Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: "cache-data", Target: "/data"}}},
				Placement:     &swarm.Placement{Constraints: []string{"node.id==node1"}},
			},
			Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}},
		},
	}
}

func updateSeedRedis() swarm.Service {
	s := updatePinnedRedis()
	s.Spec.TaskTemplate.ContainerSpec.Mounts = nil
	s.Spec.TaskTemplate.Placement = nil
	return s
}

type updateRecorder struct{ calls []string }

func (r *updateRecorder) Before(_ context.Context, _ swarm.Service, spec *swarm.ServiceSpec) error {
	r.calls = append(r.calls, "Before")
	return nil
}
func (r *updateRecorder) AfterSend(context.Context, string) { r.calls = append(r.calls, "AfterSend") }
func (r *updateRecorder) After(_ context.Context, id string) error {
	r.calls = append(r.calls, "After:"+id)
	return nil
}

func runUpdateCmd(t *testing.T, api *updateFakeAPI, v updateVerifier, args ...string) (string, string, error) {
	t.Helper()
	opts := &updateOptions{}
	if v != nil {
		// The seam issue 5 plugs into.
		opts.newVerifier = func(command.Cli) (updateVerifier, error) { return v, nil }
	}
	build := func(c command.Cli) *cobra.Command { return buildUpdateCommand(c, opts) }
	return runOnAPI(t, api, build, append([]string{"--detach"}, args...)...)
}

func updateStatus(err error) int {
	var s cli.StatusError
	if errors.As(err, &s) {
		return s.StatusCode
	}
	if err != nil {
		return -1
	}
	return 0
}

func TestUpdateRefusesSeedServiceAndSendsNothing(t *testing.T) {
	api := newUpdateFakeAPI(updateSeedRedis())
	_, stderr, err := runUpdateCmd(t, api, nil, "--limit-memory", "100M", "cache")
	if updateStatus(err) != 1 || len(api.sent) != 0 {
		t.Fatalf("status %d (%v), sent %d; want 1 and nothing sent", updateStatus(err), err, len(api.sent))
	}
	if !strings.Contains(stderr, "refused: /data is on the anonymous volume of the image's VOLUME") ||
		!strings.Contains(stderr, "--mount-add type=volume,source=cache-data,target=/data --constraint-add node.id==node1 cache") {
		t.Fatalf("stderr = %q", stderr)
	}
	if !strings.Contains(err.Error(), "update of service cache refused: nothing was sent") {
		t.Fatalf("error = %v", err)
	}
}

func TestUpdateAllowsSafeUpdateAndCallsTheVerifier(t *testing.T) {
	api := newUpdateFakeAPI(updatePinnedRedis())
	rec := &updateRecorder{}
	_, stderr, err := runUpdateCmd(t, api, rec, "--limit-memory", "100M", "cache")
	if err != nil || len(api.sent) != 1 {
		t.Fatalf("err %v, stderr %q, sent %d", err, stderr, len(api.sent))
	}
	if got := api.sent[0].TaskTemplate.Resources.Limits.MemoryBytes; got != 100<<20 {
		t.Fatalf("memory limit sent = %d", got)
	}
	if got := strings.Join(rec.calls, ","); got != "Before,AfterSend,After:svc1" {
		t.Fatalf("verifier calls = %s", got)
	}
}

func TestUpdateForceOverridesWithWarnings(t *testing.T) {
	api := newUpdateFakeAPI(updatePinnedRedis())
	_, stderr, err := runUpdateCmd(t, api, nil, "--force", "--mount-rm", "/data", "cache")
	if err != nil || len(api.sent) != 1 {
		t.Fatalf("err %v, sent %d", err, len(api.sent))
	}
	if len(api.sent[0].TaskTemplate.ContainerSpec.Mounts) != 0 {
		t.Fatalf("mount not removed: %+v", api.sent[0].TaskTemplate.ContainerSpec.Mounts)
	}
	if !strings.Contains(stderr, "warning: --force overrides: the update removes volume cache-data that holds /data") {
		t.Fatalf("stderr = %q", stderr)
	}
}

func TestUpdateRefusesPinRemoval(t *testing.T) {
	api := newUpdateFakeAPI(updatePinnedRedis())
	rec := &updateRecorder{}
	_, stderr, err := runUpdateCmd(t, api, rec, "--constraint-rm", "node.id==node1", "cache")
	if updateStatus(err) != 1 || len(api.sent) != 0 || len(rec.calls) != 0 {
		t.Fatalf("status %d, sent %d, verifier %v", updateStatus(err), len(api.sent), rec.calls)
	}
	if !strings.Contains(stderr, "refused: the update removes the pin node.id==node1") {
		t.Fatalf("stderr = %q", stderr)
	}
}

func TestUpdateDryRun(t *testing.T) {
	t.Run("allowed", func(t *testing.T) {
		api := newUpdateFakeAPI(updatePinnedRedis())
		out, _, err := runUpdateCmd(t, api, nil, "--dry-run", "--limit-memory", "100M", "cache")
		if err != nil || len(api.sent) != 0 {
			t.Fatalf("err %v, sent %d", err, len(api.sent))
		}
		for _, want := range []string{"--- cache (current)", "Limits.Memory:\n+ 100MiB\n", "Verdict: allowed"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("refused, json", func(t *testing.T) {
		api := newUpdateFakeAPI(updatePinnedRedis())
		out, _, err := runUpdateCmd(t, api, nil, "--dry-run", "--format", "json", "--mount-rm", "/data", "cache")
		if updateStatus(err) != 1 || len(api.sent) != 0 {
			t.Fatalf("status %d, sent %d", updateStatus(err), len(api.sent))
		}
		var r updateDryRunReport
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if r.Verdict != "refused" || len(r.Problems) != 1 || r.Problems[0].Code != "data-mount" || len(r.Diff) != 1 || r.Diff[0].Field != "Mounts" {
			t.Fatalf("report = %+v", r)
		}
	})
	t.Run("refused but forced", func(t *testing.T) {
		api := newUpdateFakeAPI(updatePinnedRedis())
		out, _, err := runUpdateCmd(t, api, nil, "--dry-run", "--force", "--mount-rm", "/data", "cache")
		if err != nil || len(api.sent) != 0 || !strings.Contains(out, "--force would send it anyway") {
			t.Fatalf("err %v, sent %d, out %s", err, len(api.sent), out)
		}
	})
}

func TestUpdateRollbackIsGuardedOnThePreviousSpec(t *testing.T) {
	svc := updatePinnedRedis()
	prev := updateSeedRedis().Spec
	svc.PreviousSpec = &prev
	api := newUpdateFakeAPI(svc)
	out, _, err := runUpdateCmd(t, api, nil, "--rollback", "--dry-run", "cache")
	if updateStatus(err) != 1 || len(api.sent) != 0 {
		t.Fatalf("status %d (%v), sent %d", updateStatus(err), err, len(api.sent))
	}
	if !strings.Contains(out, "rollback to the previous spec") || !strings.Contains(out, "removes volume cache-data") {
		t.Fatalf("out = %s", out)
	}
	_, stderr, err := runUpdateCmd(t, api, nil, "--rollback", "--force", "cache")
	if err != nil || len(api.sent) != 1 || api.opts[0].Rollback != "previous" {
		t.Fatalf("forced rollback: err %v, sent %d, stderr %s", err, len(api.sent), stderr)
	}
}

func TestUpdateBadInput(t *testing.T) {
	api := newUpdateFakeAPI(updatePinnedRedis())
	for _, args := range [][]string{
		{"--data", "data", "cache"},
		{"--data", "/srv/app,v2", "--limit-memory", "100M", "cache"},
		{"--format", "json", "cache"},
	} {
		if _, _, err := runUpdateCmd(t, api, nil, args...); err == nil || len(api.sent) != 0 {
			t.Errorf("%v: err %v, sent %d", args, err, len(api.sent))
		}
	}
}

func TestUpdateDataFlagNamesADataPath(t *testing.T) {
	svc := updateSeedRedis()
	svc.Spec.TaskTemplate.ContainerSpec.Image = "example/app"
	api := newUpdateFakeAPI(svc)
	if _, stderr, err := runUpdateCmd(t, api, nil, "--limit-memory", "100M", "cache"); err != nil || len(api.sent) != 1 {
		t.Fatalf("no data path known: err %v, stderr %s, sent %d", err, stderr, len(api.sent))
	}
	_, stderr, err := runUpdateCmd(t, api, nil, "--data", "/srv/state", "--data", "/srv/more", "--limit-memory", "100M", "cache")
	if updateStatus(err) != 1 || len(api.sent) != 1 {
		t.Fatalf("with --data: status %d, sent %d", updateStatus(err), len(api.sent))
	}
	if !strings.Contains(stderr, "refused: /srv/more is on") || !strings.Contains(stderr, "refused: /srv/state is on") {
		t.Fatalf("stderr = %q", stderr)
	}
}

func TestUpdateRollbackWithoutPreviousSpecSendsNothing(t *testing.T) {
	api := newUpdateFakeAPI(updatePinnedRedis())
	for _, args := range [][]string{{"--rollback", "--dry-run", "cache"}, {"--rollback", "cache"}} {
		_, _, err := runUpdateCmd(t, api, nil, args...)
		if err == nil || !strings.Contains(err.Error(), "does not have a previous spec") || len(api.sent) != 0 {
			t.Fatalf("%v: err %v, sent %d", args, err, len(api.sent))
		}
	}
}

// TestUpdateVerifyBadFormatOrTimeoutSendsNothing: a --format template that
// cannot be parsed, or a --verify-timeout that is not positive, stops the
// update before the verifier pauses writes and before anything is sent (not
// after the update, when the report is printed).
func TestUpdateVerifyBadFormatOrTimeoutSendsNothing(t *testing.T) {
	for _, args := range [][]string{
		{"--verify", "--format", "{{.Verdict", "--limit-memory", "100M", "cache"},
		{"--dry-run", "--format", "{{.Verdict", "--limit-memory", "100M", "cache"},
		{"--verify", "--verify-timeout", "0s", "--limit-memory", "100M", "cache"},
		{"--verify", "--verify-timeout", "-1s", "--limit-memory", "100M", "cache"},
	} {
		api := newUpdateFakeAPI(updatePinnedRedis())
		rec := &updateRecorder{}
		_, _, err := runUpdateCmd(t, api, rec, args...)
		if err == nil || len(api.sent) != 0 || len(rec.calls) != 0 {
			t.Errorf("%v: err %v, sent %d, verifier calls %v; want an error, nothing sent, no verifier call", args, err, len(api.sent), rec.calls)
			continue
		}
		if want := args[1]; !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error %q, want one line naming %s", args, err, want)
		}
	}
}

// TestUpdateVerifiesWhenConvergenceFails: once the update is sent, --verify
// proves the data (or rolls back) even when docker's wait for convergence
// fails; docker's error is still the exit status.
func TestUpdateVerifiesWhenConvergenceFails(t *testing.T) {
	api := newUpdateFakeAPI(updatePinnedRedis())
	api.paused = true
	rec := &updateRecorder{}
	opts := &updateOptions{newVerifier: func(command.Cli) (updateVerifier, error) { return rec, nil }}
	build := func(c command.Cli) *cobra.Command { return buildUpdateCommand(c, opts) }
	_, _, err := runOnAPI(t, api, build, "--quiet", "--limit-memory", "100M", "cache") // not --detach: docker waits
	if err == nil || !strings.Contains(err.Error(), "service update paused") {
		t.Fatalf("err = %v, want docker's 'service update paused'", err)
	}
	if len(api.sent) != 1 {
		t.Fatalf("sent %d updates, want 1", len(api.sent))
	}
	if got := strings.Join(rec.calls, ","); got != "Before,AfterSend,After:svc1" {
		t.Fatalf("verifier calls = %s, want the data verified after the failed convergence", got)
	}
}
