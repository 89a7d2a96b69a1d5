package guardfacts

import (
	"context"

	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/createspec"
	"github.com/docker-stateful/docker-stateful/plugin/specdiff"
	"github.com/docker-stateful/docker-stateful/plugin/stackdeploy"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// StackAPI is what StackJudge reads.
type StackAPI interface {
	CreateAPI
	NetworkAPI
}

// StackJudge is stack deploy's stackdeploy.Judge on a daemon: create's
// rules for a service the stack creates, update's guard for one it updates,
// on the facts gathered here.
type StackJudge struct {
	API   StackAPI
	Extra []Extra // facts from elsewhere (Update)
}

// Create applies create's rules to a service the stack creates. A service
// without data paths is left as docker computed it (res nil).
func (j StackJudge) Create(ctx context.Context, spec swarm.ServiceSpec) (stackdeploy.Service, *createspec.Result) {
	s := stackdeploy.Service{Name: spec.Name, Action: stackdeploy.ActionCreate, Verdict: stackdeploy.VerdictAllowed}
	var image string
	if cs := spec.TaskTemplate.ContainerSpec; cs != nil {
		image = cs.Image
	}
	vols, _ := stateful.LookupImageVolumes(ctx, j.API, image)
	if len(stateful.DataPathsOf(spec, vols, nil)) == 0 {
		return s, nil
	}
	res, err := Create(ctx, j.API, spec, createspec.Options{})
	if err != nil {
		s.Verdict = stackdeploy.VerdictRefused
		s.Problems = []stackdeploy.Problem{{Code: "create", Message: err.Error()}}
		return s, nil
	}
	s.DataPaths = stateful.Paths(res.DataPaths)
	s.Added = createspec.Summary(res)
	s.Warnings = res.Warnings
	return s, res
}

// Update keeps what docker stateful added to the service, then applies
// update's guard to the spec docker computed from the compose file.
func (j StackJudge) Update(ctx context.Context, current swarm.Service, spec *swarm.ServiceSpec, force bool) stackdeploy.Service {
	s := stackdeploy.Service{Name: current.Spec.Name, Action: stackdeploy.ActionUpdate, Verdict: stackdeploy.VerdictAllowed}
	s.Added = stackdeploy.KeepAdditions(current.Spec, spec)
	s.Diff = specdiff.Diff(current.Spec, stackdeploy.ForDiff(current.Spec, *spec, NetworkIDs(ctx, j.API)))
	if len(s.Diff) == 0 {
		s.Action = stackdeploy.ActionUnchanged
	}
	report, _ := CheckUpdate(ctx, j.API, current, *spec, nil, false, j.Extra...)
	s.DataPaths = report.DataPaths
	for _, w := range report.Warnings {
		s.Warnings = append(s.Warnings, w.Message)
	}
	s.Problems = report.Problems
	if len(s.Problems) > 0 {
		s.Verdict = stackdeploy.VerdictRefused
		if force {
			s.Verdict = stackdeploy.VerdictForced
		}
	}
	return s
}

var _ stackdeploy.Judge = StackJudge{}
