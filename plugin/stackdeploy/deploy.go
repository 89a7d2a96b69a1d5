package stackdeploy

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/docker/cli/cli"
	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/createspec"
	"github.com/docker-stateful/docker-stateful/plugin/intercept"
)

// Judge decides what the deploy does to each service of the stack and
// whether that keeps its data: guardfacts.StackJudge asks the daemon for
// the facts; a test's judge answers from a table.
type Judge interface {
	// Create applies create's rules to a service the stack creates; the
	// result is nil for a service left as docker computed it (no data path).
	Create(ctx context.Context, spec swarm.ServiceSpec) (Service, *createspec.Result)
	// Update keeps what docker stateful added to the service (in spec) and
	// applies update's guard to the spec docker computed.
	Update(ctx context.Context, current swarm.Service, spec *swarm.ServiceSpec, force bool) Service
}

// Verifier is --verify: it checks each updated database inside docker's
// deploy loop, one service after the other.
type Verifier interface {
	// Before runs just before an update is sent (the second pass only); an
	// error stops the deploy there.
	Before(ctx context.Context, current swarm.Service, spec *swarm.ServiceSpec, s Service) error
	// AfterSend runs once the daemon accepted a create or an update.
	AfterSend(ctx context.Context, serviceID string)
	// Abandon resumes writes of a cut whose update was never sent.
	Abandon()
	// Summary prints the verdicts and returns the deploy's error, if any.
	Summary(stack string) error
}

// Deploy is `docker stateful stack deploy`'s protocol: docker's own stack
// deploy runs twice on an intercepting client, first with nothing sent to
// judge every service of the stack, then for real when all are allowed (or
// Force); all or nothing.
type Deploy struct {
	Stack                string
	DryRun, Force, Quiet bool
	Out, Err             io.Writer

	// Client is the intercepting client docker's deploy runs on: Run sets
	// its hooks.
	Client *intercept.Cli
	// RunDocker runs docker's own deploy on Client. send false is the
	// judging pass: Client.NoSend, docker's output discarded, no wait.
	RunDocker func(send bool) error
	Judge     Judge
	Verifier  Verifier // nil: no --verify
	// WritePlan prints the --dry-run plan (text, JSON or a template).
	WritePlan func(p *Plan) error
}

// Run deploys the stack: the plan and exit status 1 when refused with
// DryRun; else nothing sent when any service is refused (exit status 1),
// or the stack deployed.
func (d *Deploy) Run() error {
	plan := &Plan{Stack: d.Stack}
	judging := false
	var created []*createspec.Result
	d.Client.BeforeCreate = func(ctx context.Context, spec *swarm.ServiceSpec, _ *swarm.ServiceCreateOptions) error {
		s, res := d.Judge.Create(ctx, *spec)
		if judging {
			plan.Add(s)
			return nil
		}
		if s.Verdict == VerdictRefused {
			return fmt.Errorf("service %s: %s", s.Name, s.Problems[0].Message)
		}
		if res != nil {
			*spec = res.Spec
			created = append(created, res)
		}
		return nil
	}
	d.Client.BeforeUpdate = func(ctx context.Context, current swarm.Service, spec *swarm.ServiceSpec, _ *swarm.ServiceUpdateOptions) error {
		s := d.Judge.Update(ctx, current, spec, d.Force)
		if judging {
			plan.Add(s)
			return nil
		}
		if s.Verdict == VerdictRefused { // changed since the first pass
			return fmt.Errorf("service %s changed while the stack was judged: %s", s.Name, s.Problems[0].Message)
		}
		if d.Verifier == nil {
			return nil
		}
		return d.Verifier.Before(ctx, current, spec, s)
	}

	// Pass 1: judge every service, send nothing, print nothing of docker's.
	judging = true
	err := d.RunDocker(false)
	judging = false
	if err != nil {
		return err
	}
	if d.Force {
		for i := range plan.Services {
			if plan.Services[i].Verdict == VerdictRefused {
				plan.Services[i].Verdict = VerdictForced
			}
		}
	}
	plan.Finish()
	if d.DryRun {
		if err := d.WritePlan(plan); err != nil {
			return err
		}
		if plan.Verdict != VerdictAllowed {
			return cli.StatusError{StatusCode: 1, Status: "dry run: the deploy would be refused (nothing was sent)"}
		}
		return nil
	}
	if refused := plan.Refused(); len(refused) > 0 {
		names := make([]string, len(refused))
		for i, s := range refused {
			names[i] = s.Name
			for _, p := range s.Problems {
				fmt.Fprintf(d.Err, "refused: service %s: %s\n", s.Name, p.Message)
			}
		}
		return cli.StatusError{StatusCode: 1, Status: fmt.Sprintf(
			"deploy of stack %s refused (%s): nothing of the stack was sent (--dry-run shows every service, --force sends anyway)",
			plan.Stack, strings.Join(names, ", "))}
	}
	for _, s := range plan.Services {
		if s.Verdict == VerdictForced {
			for _, p := range s.Problems {
				fmt.Fprintf(d.Err, "warning: --force overrides: service %s: %s\n", s.Name, p.Message)
			}
		}
		for _, w := range s.Warnings {
			fmt.Fprintf(d.Err, "warning: service %s: %s\n", s.Name, w)
		}
	}

	// Pass 2: for real, with the same rules; --verify checks each updated
	// database as soon as its update was sent (intercept's AfterSend runs
	// inside docker's deploy loop: one service after the other).
	if d.Verifier != nil {
		d.Client.AfterSend = d.Verifier.AfterSend
	}
	err = d.RunDocker(true)
	if d.Verifier != nil {
		d.Verifier.Abandon()
	}
	if err != nil {
		return err
	}
	var verr error
	if d.Verifier != nil {
		verr = d.Verifier.Summary(plan.Stack)
	}
	if !d.Quiet {
		for _, res := range created {
			for _, l := range createspec.Summary(res) {
				fmt.Fprintln(d.Err, "docker stateful: "+l)
			}
		}
		for _, s := range plan.Services {
			if s.Action == ActionUpdate && len(s.Added) > 0 {
				fmt.Fprintf(d.Err, "docker stateful: %s kept what docker stateful added: %s\n", s.Name, strings.Join(s.Added, ", "))
			}
		}
	}
	return verr
}
