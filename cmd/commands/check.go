package commands

import (
	"bufio"
	"errors"
	"io"
	"time"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/docker/docker/api/types/filters"
	"github.com/spf13/cobra"

	"github.com/docker-stateful/docker-stateful/plugin/inventory"
	"github.com/docker-stateful/docker-stateful/plugin/inventory/probe"
	"github.com/docker-stateful/docker-stateful/plugin/verifyflow"
)

type checkOptions struct {
	composeFiles []string
	fix          bool
	dryRun       bool
	pin          string
	format       string
	redis        bool
	rflags       redisFlags
	timeout      time.Duration
}

func newCheckCommand(dockerCLI command.Cli) *cobra.Command {
	o := &checkOptions{}
	cmd := &cobra.Command{
		Use:   "check [OPTIONS] [SERVICE...]",
		Short: "Audit running services, or a compose file, for risks to their data",
		Long: `Audit running services (every service that has data paths, or those named)
and explain each risk with the command that fixes it: data on an anonymous
volume, a tmpfs or the container's filesystem; a local volume not pinned to
its node; a pinned node that is down or drained; replicas sharing one volume;
start-first; a stop grace period shorter than 30s; a task failing because its
volume is not on its node.

--redis also asks each running Redis service (found as update --verify finds
it): persistence off (save "" and appendonly no), saves or AOF writes failing,
a data directory on no mount, a save slower than the stop grace period.

-c compose.yml (repeatable, as for docker stack deploy) checks the services of
a compose file instead, read with docker's own loader (interpolation,
extends, overrides) and converted to the specs docker stack deploy sends:
the same risks, plus Redis persistence turned off in command:. --fix rewrites
the file so that a plain docker stack deploy keeps the data from then on: a
named volume <service>-data on each data path on no volume (declared in the
top-level volumes:), a node.id placement constraint (the node of the daemon
this CLI talks to, or --pin NODE), stop_grace_period 30s, update order
stop-first; every other line is kept as it was (comments, order,
formatting). --fix --dry-run prints the unified diff instead.

Exit status: 0 every service is safe, 1 risks were found (with --fix: left),
2 could not check (daemon error, unknown service, with --redis a Redis not
reached, a compose file that cannot be read).`,
		Example: `  docker stateful check
  docker stateful check --format json cache
  REDISCLI_AUTH=... docker stateful check --redis cache
  docker stateful check -c compose.yml
  docker stateful check -c compose.yml --fix --dry-run`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCheck(cmd, dockerCLI, o, args)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&o.format, "format", "", `Format the output: "json" or a Go template`)
	flags.StringSliceVarP(&o.composeFiles, "compose-file", "c", nil, `Check the services of this compose file instead of running services (repeatable, "-" for stdin)`)
	flags.BoolVar(&o.fix, "fix", false, "With -c: rewrite the compose file so that a plain docker stack deploy keeps the data")
	flags.BoolVar(&o.dryRun, "dry-run", false, "With --fix: print the change as a unified diff, write nothing")
	flags.StringVar(&o.pin, "pin", "", "With --fix: pin to this node (name, ID or unique ID prefix; default: the node of the daemon this CLI talks to)")
	flags.BoolVar(&o.redis, "redis", false, "Also check the persistence of each running Redis service")
	flags.DurationVar(&o.timeout, "timeout", 10*time.Second, "With --redis: how long to try to reach each Redis")
	addRedisFlags(flags, &o.rflags)
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"json"}, cobra.ShellCompDirectiveNoFileComp))
	registerCompletion(dockerCLI, cmd)
	cmd.ValidArgsFunction = completeServiceNamesAnyArg(dockerCLI)
	return cmd
}

func runCheck(cmd *cobra.Command, dockerCLI command.Cli, o *checkOptions, names []string) error {
	if err := checkFormat(o.format); err != nil {
		return cli.StatusError{StatusCode: 2, Status: err.Error()}
	}
	switch {
	case len(o.composeFiles) > 0 && len(names) > 0:
		return errors.New("-c checks every service of the compose file: name no SERVICE with it")
	case len(o.composeFiles) > 0 && o.redis:
		return errors.New("--redis asks running services: it does not apply with -c")
	case o.fix && len(o.composeFiles) != 1:
		return errors.New("--fix rewrites one compose file: give exactly one -c FILE")
	case o.fix && o.composeFiles[0] == "-":
		return errors.New("--fix rewrites the compose file in place: -c - (stdin) has no file to rewrite")
	case !o.fix && (o.dryRun || o.pin != ""):
		return errors.New("--dry-run and --pin apply with --fix")
	case o.dryRun && o.format != "":
		return errors.New("--fix --dry-run prints a diff: --format does not apply")
	}
	if len(o.composeFiles) > 0 {
		return runCheckCompose(cmd.Context(), dockerCLI, o)
	}
	sw, err := readSwarm(cmd, dockerCLI, filters.NewArgs())
	if err != nil {
		return cli.StatusError{StatusCode: 2, Status: "could not check: " + err.Error()}
	}
	var look inventory.Probe
	if o.redis {
		fopt, err := o.rflags.options(o.timeout)
		if err != nil {
			return cli.StatusError{StatusCode: 2, Status: err.Error()}
		}
		fopt.ConnectTimeout = o.timeout
		flow, err := verifyflow.New(dockerCLI.Client(), fopt, io.Discard)
		if err != nil {
			return cli.StatusError{StatusCode: 2, Status: err.Error()}
		}
		look = probe.Redis(flow)
	}
	rep, err := sw.Audit(cmd.Context(), names, look)
	if err != nil {
		return cli.StatusError{StatusCode: 2, Status: "could not check: " + err.Error()}
	}
	out := bufio.NewWriter(dockerCLI.Out()) // one write, not one a line
	err = writeFormatted(out, o.format, rep, rep.WriteText)
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return cli.StatusError{StatusCode: 2, Status: err.Error()}
	}
	switch rep.Verdict {
	case inventory.VerdictRisks:
		return cli.StatusError{StatusCode: 1}
	case inventory.VerdictUnchecked:
		return cli.StatusError{StatusCode: 2}
	}
	return nil
}
