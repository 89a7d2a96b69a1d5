package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	dockeropts "github.com/docker/cli/opts"
	"github.com/docker/docker/api/types/swarm"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/docker-stateful/docker-stateful/plugin/finding"
	"github.com/docker-stateful/docker-stateful/plugin/guardfacts"
	"github.com/docker-stateful/docker-stateful/plugin/intercept"
	"github.com/docker-stateful/docker-stateful/plugin/serverversion"
	"github.com/docker-stateful/docker-stateful/plugin/specdiff"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// updateVerifier is the seam for checking the data itself around an update
// (`update --verify`, issue 5). runUpdate calls it, when there is one:
//
//   - Before, once the guard allowed the update (or --force overrode it) and
//     just before the spec is sent; spec is what will be sent and may be
//     changed. For a rollback, spec is a copy of current.PreviousSpec, the
//     spec the daemon will restore (changing it has no effect). An error
//     stops the update: nothing is sent.
//   - AfterSend, as soon as the daemon accepted the update, before docker
//     waits for convergence (e.g. to release a write pause taken in Before).
//   - After, once docker's own command returned successfully: after the
//     convergence wait, or right after sending with --detach. Its error
//     becomes the command's.
//
// None of them is called for --dry-run, a refused update, or an update the
// daemon rejected. A verifier adds its own flags in newUpdateCommand and is
// built by updateOptions.newVerifier (nil: no verification).
type updateVerifier interface {
	Before(ctx context.Context, current swarm.Service, spec *swarm.ServiceSpec) error
	AfterSend(ctx context.Context, serviceID string)
	After(ctx context.Context, serviceID string) error
}

// waitBounder is a verifier that bounds docker's convergence wait: runUpdate
// runs docker's command on the context it returns.
type waitBounder interface {
	BoundWait(ctx context.Context) context.Context
}

// convergeFailer is a verifier told when docker's convergence wait failed
// (the update was sent): the update failed even if the data survived.
type convergeFailer interface {
	ConvergeFailed(err error)
}

type updateOptions struct {
	dryRun bool
	format string
	data   []string
	verify updateVerifyOptions // updateverify.go

	// newVerifier returns the verifier for this run, or nil when none was
	// asked for. It runs after flag parsing, before docker's command.
	newVerifier func(dockerCLI command.Cli) (updateVerifier, error)
	// wayBack is the guard's note on an allowed upgrade that going back
	// needs a conversion (wayback.go); --verify's report says it.
	wayBack string
}

// newUpdateCommand is docker's own `service update`, run on an intercepting
// client so the new spec can be checked against the current one before it is sent.
func newUpdateCommand(dockerCLI command.Cli) *cobra.Command {
	return buildUpdateCommand(dockerCLI, &updateOptions{})
}

// buildUpdateCommand builds the command around opts (tests preset
// opts.newVerifier; a verifier's flags are added here).
func buildUpdateCommand(dockerCLI command.Cli, opts *updateOptions) *cobra.Command {
	icli := intercept.New(dockerCLI)
	cmd := dockerServiceCommand(icli, "update")
	cmd.Short = "Update a service, refusing changes that would lose its data"
	cmd.Long = `Update a service like "docker service update", with every flag of it, but
refuse (and send nothing) when the update would lose the service's data:

  - a data path left on an anonymous volume or a tmpfs (any update replaces
    the container, and its anonymous volume with it);
  - removing, retargeting, re-sourcing or making read-only the mount that
    holds a data path;
  - removing or changing the pin that keeps the task on the node holding its
    local volume, or leaving such a volume unpinned;
  - --update-order or --rollback-order start-first (two containers on one
    data directory);
  - a stop grace period shorter than the service has, or --stop-signal
    SIGKILL (it may be killed before it has saved);
  - for Redis images, options that lose the data: --appendonly yes at start
    (Redis ignores dump.rdb), another --dir or --workdir, --save "" with
    AOF off;
  - changing node.labels constraints that keep the task near its local
    volume;
  - scaling above one replica when the data volume is not per replica;
  - replacing the task while the node it is pinned to takes no new task
    (drained, paused, down or gone): it would stop and run nowhere.

Data paths come from the service's docker stateful labels, the image's
VOLUMEs (if the image is on this daemon), a table of well-known images, the
named volumes the service mounts, and --data. --rollback is checked against
the previous spec it restores.

--dry-run prints what would change and the verdict, and sends nothing; its
exit status is 0 when the update would be sent, 1 when it would be refused.`
	cmd.Example = `  docker stateful update --limit-memory 200M cache
  docker stateful update --dry-run --image redis:8 cache
  docker stateful update --dry-run --format json --mount-rm /data cache
  docker stateful update --force --constraint-rm node.id==abc123 cache`

	dockerFlags := map[string]bool{}
	cmd.Flags().VisitAll(func(f *pflag.Flag) { dockerFlags[f.Name] = true })

	flags := cmd.Flags()
	flags.BoolVar(&opts.dryRun, "dry-run", false, "Show what the update would change and whether it would be refused; send nothing")
	flags.StringVar(&opts.format, "format", "", `Format the --dry-run output: "json" or a Go template`)
	flags.Var(dockeropts.NewListOptsRef(&opts.data, nil), "data", "Absolute path in the container that holds data, besides those found (repeatable)")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"json"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("data", cobra.NoFileCompletions)
	if f := flags.Lookup("force"); f != nil {
		f.Usage = "Force update even if no changes require it, and send it even if it would lose data (docker stateful's refusal is overridden, with a warning)"
	}

	dockerRunE := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return runUpdate(cmd, icli, dockerRunE, dockerFlags, opts, args)
	}
	// updateverify.go: --verify and its flags, opts.newVerifier
	addUpdateVerifyFlags(dockerCLI, cmd, opts)
	registerCompletion(dockerCLI, cmd) // complete.go: SERVICE/IMAGE argument, --pin, --volume-name
	return cmd
}

func runUpdate(cmd *cobra.Command, icli *intercept.Cli, dockerRunE func(*cobra.Command, []string) error, dockerFlags map[string]bool, opts *updateOptions, args []string) error {
	flags := cmd.Flags()
	if err := checkUpdateFlags(opts); err != nil {
		return err
	}
	force, _ := flags.GetBool("force")
	if rollback, _ := flags.GetBool("rollback"); rollback {
		// docker refuses --rollback with any other flag it sees set: hide
		// ours (and --force, which only means "override" for a rollback).
		flags.VisitAll(func(f *pflag.Flag) {
			if !dockerFlags[f.Name] || f.Name == "force" {
				f.Changed = false
			}
		})
	}

	var verifier updateVerifier
	if opts.newVerifier != nil && !opts.dryRun {
		v, err := opts.newVerifier(icli.Cli)
		if err != nil {
			return err
		}
		verifier = v
	}

	var serviceID string
	icli.BeforeUpdate = func(ctx context.Context, current swarm.Service, spec *swarm.ServiceSpec, uopts *swarm.ServiceUpdateOptions) error {
		serviceID = current.ID
		target, err := guardUpdate(ctx, icli.Cli, opts, force, current, spec, uopts.Rollback == "previous")
		if err != nil || verifier == nil {
			return err
		}
		return verifier.Before(ctx, current, target)
	}
	sent := false
	icli.AfterSend = func(ctx context.Context, id string) {
		sent = true
		if verifier != nil {
			verifier.AfterSend(ctx, id)
		}
	}

	ctx := cmd.Context()
	if b, ok := verifier.(waitBounder); ok {
		// docker's convergence wait has no deadline: the verifier bounds it
		cmd.SetContext(b.BoundWait(ctx))
	}
	err := dockerRunE(cmd, args)
	cmd.SetContext(ctx)
	if serviceID == "" && len(args) > 0 {
		serviceID = args[0]
	}
	return afterUpdate(ctx, icli.Cli.Err(), verifier, sent, serviceID, err)
}

// afterUpdate is the end of an update: the dry run's status, or --verify's
// check once the update was sent.
func afterUpdate(ctx context.Context, errOut io.Writer, verifier updateVerifier, sent bool, serviceID string, err error) error {
	if stop, ok := intercept.AsStop(err); ok {
		if stop.Status == 0 {
			return nil
		}
		return cli.StatusError{StatusCode: stop.Status, Status: "dry run: the update would be refused (nothing was sent)"}
	}
	if verifier == nil || !sent {
		return err
	}
	if cf, ok := verifier.(convergeFailer); ok && err != nil {
		cf.ConvergeFailed(err)
	}
	if err != nil && ctx.Err() == nil && errors.Is(err, context.Canceled) {
		// the verifier cut docker's wait short (its check failed, or the
		// service did not converge in time): After says why
		return verifier.After(ctx, serviceID)
	}
	if err != nil {
		// Sent, but docker's wait for convergence failed (the update
		// paused, or swarm rolled it back): --verify still proves the data
		// or rolls back, and docker's error stays the exit status.
		// Interrupted: After says what is left to check.
		if !errors.Is(err, context.Canceled) {
			fmt.Fprintf(errOut, "warning: %v\n", err)
		}
		if verr := verifier.After(ctx, serviceID); verr != nil {
			return verr
		}
		return err
	}
	return verifier.After(ctx, serviceID)
}

// checkUpdateFlags refuses update's own flags where they make no sense.
func checkUpdateFlags(opts *updateOptions) error {
	for _, p := range opts.data {
		if err := stateful.ValidateDataPath(p); err != nil {
			return fmt.Errorf("--data %s: %w", p, err)
		}
	}
	if opts.format != "" && !opts.dryRun && !opts.verify.enabled {
		return errors.New("--format only applies with --dry-run or --verify")
	}
	return nil
}

// guardUpdate runs the guard on the spec docker computed (for a rollback,
// the previous spec the daemon restores, which it returns as the target):
// --dry-run prints the verdict and stops; a refusal stops the update unless
// --force, which turns the problems into warnings.
func guardUpdate(ctx context.Context, dockerCLI command.Cli, opts *updateOptions, force bool, current swarm.Service, spec *swarm.ServiceSpec, rollback bool) (*swarm.ServiceSpec, error) {
	target := spec
	if rollback {
		if current.PreviousSpec == nil {
			return nil, fmt.Errorf("service %s does not have a previous spec to roll back to", current.Spec.Name)
		}
		prev := *current.PreviousSpec
		target = &prev
	}
	report, wayBack := guardfacts.CheckUpdate(ctx, dockerCLI.Client(), current, *target, opts.data, rollback,
		serverversion.Extra(dockerCLI.Client(), serverversion.Options{Getenv: redisGetenv}))
	opts.wayBack = wayBack
	if opts.dryRun {
		return nil, updateDryRun(dockerCLI.Out(), opts.format, current, *target, rollback, report.DataPaths, report.Problems, report.Warnings, force)
	}
	errOut := dockerCLI.Err()
	for _, w := range report.Warnings {
		fmt.Fprintf(errOut, "warning: %s\n", w.Message)
	}
	if report.Allowed() {
		return target, nil
	}
	if !force {
		for _, p := range report.Problems {
			fmt.Fprintf(errOut, "refused: %s\n", p.Message)
		}
		return nil, cli.StatusError{StatusCode: 1, Status: fmt.Sprintf(
			"update of service %s refused: nothing was sent (--dry-run shows the change, --force sends it anyway)", current.Spec.Name)}
	}
	for _, p := range report.Problems {
		fmt.Fprintf(errOut, "warning: --force overrides: %s\n", p.Message)
	}
	return target, nil
}

// updateDryRunReport is what --dry-run --format json prints.
type updateDryRunReport struct {
	Service   string            `json:"service"`
	ID        string            `json:"id"`
	Version   uint64            `json:"version"`
	Rollback  bool              `json:"rollback,omitempty"`
	Diff      []specdiff.Change `json:"diff"`
	Verdict   string            `json:"verdict"` // allowed, refused, or forced (refused, overridden by --force)
	DataPaths []string          `json:"data_paths"`
	Problems  []finding.Finding `json:"problems"`
	Warnings  []finding.Finding `json:"warnings,omitempty"`
}

const (
	updateVerdictAllowed = "allowed"
	updateVerdictRefused = "refused"
	updateVerdictForced  = "forced"
)

// updateDryRun prints the change and the verdict, and stops before sending: exit
// status 0 when the update would be sent, 1 when it would be refused.
func updateDryRun(w io.Writer, format string, current swarm.Service, target swarm.ServiceSpec, rollback bool, dataPaths []string, problems, warnings []finding.Finding, force bool) error {
	r := updateDryRunReport{
		Service:   current.Spec.Name,
		ID:        current.ID,
		Version:   current.Version.Index,
		Rollback:  rollback,
		Diff:      specdiff.Diff(current.Spec, target),
		Verdict:   updateVerdictAllowed,
		DataPaths: dataPaths,
		Problems:  problems,
		Warnings:  warnings,
	}
	if r.Diff == nil {
		r.Diff = []specdiff.Change{}
	}
	if r.DataPaths == nil {
		r.DataPaths = []string{}
	}
	if r.Problems == nil {
		r.Problems = []finding.Finding{}
	}
	status := 0
	if len(problems) > 0 {
		r.Verdict, status = updateVerdictRefused, 1
		if force {
			r.Verdict, status = updateVerdictForced, 0
		}
	}
	if err := writeReport(w, format, r, r.writeText); err != nil {
		return err
	}
	return intercept.Stop{Status: status}
}

// writeText is the dry run in words: the diff, the data paths, the verdict.
func (r updateDryRunReport) writeText(w io.Writer) error {
	what := "update"
	if r.Rollback {
		what = "rollback to the previous spec"
	}
	fmt.Fprintf(w, "Dry run: %s of service %s (ID %s, version %d); nothing is sent.\n\n", what, r.Service, updateShortID(r.ID), r.Version)
	fmt.Fprintf(w, "--- %s (current)\n+++ %s (after the %s)\n", r.Service, r.Service, what)
	if err := specdiff.Write(w, r.Diff); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if len(r.DataPaths) > 0 {
		fmt.Fprintf(w, "Data paths: %s\n", strings.Join(r.DataPaths, ", "))
	} else {
		fmt.Fprintln(w, "Data paths: none found (the image declares no VOLUME and is not a known database; --data names one)")
	}
	for _, p := range r.Warnings {
		fmt.Fprintf(w, "warning: %s\n", p.Message)
	}
	switch r.Verdict {
	case updateVerdictAllowed:
		fmt.Fprintln(w, "Verdict: allowed, the update keeps the data.")
	case updateVerdictRefused:
		fmt.Fprintln(w, "Verdict: refused:")
	case updateVerdictForced:
		fmt.Fprintln(w, "Verdict: refused, but --force would send it anyway, overriding:")
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  - %s\n", p.Message)
	}
	return nil
}

func updateShortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
