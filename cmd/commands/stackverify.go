package commands

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/docker/cli/cli/command"
	"github.com/docker/docker/api/types/swarm"
	"github.com/spf13/cobra"

	"github.com/docker-stateful/docker-stateful/plugin/exitcode"
	"github.com/docker-stateful/docker-stateful/plugin/inventory"
	"github.com/docker-stateful/docker-stateful/plugin/stackdeploy"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
	"github.com/docker-stateful/docker-stateful/plugin/verifyflow"
)

// stackVerifier is stack deploy --verify: update --verify's verifier for
// each updated database service, one at a time, inside docker's deploy loop.
type stackVerifier struct {
	dockerCLI command.Cli
	opts      *stackDeployOptions
	quiet     bool

	active  *verifyflow.EngineUpdate // cut taken, update not yet checked
	name    string
	engine  string
	wait    context.Context // docker's convergence wait, bounded by the verifier
	base    context.Context
	results []stackVerified
}

type stackVerified struct {
	Service string
	Engine  string
	Verdict string
	Err     error
}

// checkStackVerifyFlags refuses the --verify flags where they do not apply.
func checkStackVerifyFlags(cmd *cobra.Command, opts *stackDeployOptions) error {
	v := opts.verify
	if !v.enabled {
		if n := v.redis.changed(cmd.Flags()); n != "" {
			return fmt.Errorf("--%s only applies with --verify", n)
		}
		if n := v.pg.changed(cmd.Flags()); n != "" {
			return fmt.Errorf("--%s only applies with --verify", n)
		}
		for _, n := range []string{"verify-key", "no-rollback", "verify-timeout", "verify-cut"} {
			if cmd.Flags().Changed(n) {
				return fmt.Errorf("--%s only applies with --verify", n)
			}
		}
		return nil
	}
	if v.timeout <= 0 {
		return fmt.Errorf("--verify-timeout %s: must be more than 0", v.timeout)
	}
	if v.cut != "bgsave" && v.cut != "replication" {
		return fmt.Errorf("--verify-cut %q: must be bgsave or replication", v.cut)
	}
	return nil
}

var _ stackdeploy.Verifier = (*stackVerifier)(nil)

// Before takes the cut of a service the deploy is about to update, when
// --verify asks and the update replaces the task of a database. An error
// stops the deploy here: nothing of this service is sent.
func (sv *stackVerifier) Before(ctx context.Context, current swarm.Service, spec *swarm.ServiceSpec, s stackdeploy.Service) error {
	engine := inventory.Engine(current)
	if !sv.opts.verify.enabled || sv.opts.dryRun || engine == "" || len(s.DataPaths) == 0 || !stateful.ReplacesTasks(current.Spec, *spec) {
		return nil
	}
	u, err := buildVerifier(sv.dockerCLI, sv.opts.verify, current.Spec.Name, sv.quiet, sv.opts.force)
	if err != nil {
		return err
	}
	u.Redis.Report, u.PG.Report, u.MY.Report = sv.dockerCLI.Out(), sv.dockerCLI.Out(), sv.dockerCLI.Out()
	sv.base, sv.wait = ctx, u.BoundWait(ctx)
	fmt.Fprintf(sv.dockerCLI.Out(), "Verifying service %s (%s):\n", current.Spec.Name, engine)
	if err := u.Before(ctx, current, spec); err != nil {
		u.Abandon()
		sv.record(u, current.Spec.Name, engine, err)
		return fmt.Errorf("service %s: %w (the services deployed before it are left as they are)", current.Spec.Name, err)
	}
	sv.active, sv.name, sv.engine = u, current.Spec.Name, engine
	return nil
}

// AfterSend runs once the daemon accepted a create or an update: for the
// service being verified, wait for the old task to stop, converge (docker's
// own wait, bounded), check the new task's data and roll back as update
// --verify does, before the deploy goes on to the next service.
func (sv *stackVerifier) AfterSend(_ context.Context, serviceID string) {
	u := sv.active
	if u == nil {
		return
	}
	sv.active = nil
	u.AfterSend(sv.base, serviceID)
	werr := waitOnService(sv.wait, sv.dockerCLI, serviceID, false)
	err := afterUpdate(sv.base, sv.dockerCLI.Err(), u, true, serviceID, werr)
	sv.record(u, sv.name, sv.engine, err)
}

func (sv *stackVerifier) record(u *verifyflow.EngineUpdate, name, engine string, err error) {
	verdict := u.Outcome(name, err).Summary().Verdict
	if verdict == "" {
		verdict = verifyflow.VerdictVerified
		if err != nil {
			verdict = exitcode.Verdict(err)
		}
	}
	sv.results = append(sv.results, stackVerified{Service: name, Engine: engine, Verdict: verdict, Err: err})
}

// Abandon resumes writes of a cut whose update was never sent.
func (sv *stackVerifier) Abandon() {
	if sv.active != nil {
		sv.active.Abandon()
		sv.active = nil
	}
}

// Summary prints each verified service's verdict and returns the error of
// the first that was not verified (its exit status), nil when all were.
func (sv *stackVerifier) Summary(stack string) error {
	if !sv.opts.verify.enabled {
		return nil
	}
	out := sv.dockerCLI.Out()
	if len(sv.results) == 0 {
		fmt.Fprintf(out, "Verification of stack %s: no update replaced the task of a Redis or PostgreSQL service, nothing to verify\n", stack)
		return nil
	}
	fmt.Fprintf(out, "\nVerification of stack %s:\n", stack)
	tw := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tENGINE\tVERDICT")
	var first error
	failed := 0
	for _, r := range sv.results {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Service, r.Engine, r.Verdict)
		if r.Err != nil {
			failed++
			if first == nil {
				first = r.Err
			}
		}
	}
	_ = tw.Flush()
	if first == nil {
		return nil
	}
	return &exitcode.Error{Code: exitcode.Code(first), Err: fmt.Errorf(
		"deploy of stack %s: %d of %d verified services not verified (the first: %w)", stack, failed, len(sv.results), first)}
}
