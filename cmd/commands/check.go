package commands

import (
	"io"
	"time"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/docker/docker/api/types/filters"
	"github.com/spf13/cobra"

	"github.com/docker-stateful/docker-stateful/plugin/inventory"
	"github.com/docker-stateful/docker-stateful/plugin/verifyflow"
)

type checkOptions struct {
	format  string
	redis   bool
	rflags  redisFlags
	timeout time.Duration
}

func newCheckCommand(dockerCLI command.Cli) *cobra.Command {
	o := &checkOptions{}
	cmd := &cobra.Command{
		Use:   "check [OPTIONS] [SERVICE...]",
		Short: "Audit running services for risks to their data",
		Long: `Audit running services (every service that has data paths, or those named)
and explain each risk with the command that fixes it: data on an anonymous
volume, a tmpfs or the container's filesystem; a local volume not pinned to
its node; a pinned node that is down or drained; replicas sharing one volume;
start-first; a stop grace period shorter than 30s; a task failing because its
volume is not on its node.

--redis also asks each running Redis service (found as update --verify finds
it): persistence off (save "" and appendonly no), saves or AOF writes failing,
a data directory on no mount, a save slower than the stop grace period.

Exit status: 0 every service is safe, 1 risks were found, 2 could not check
(daemon error, unknown service, with --redis a Redis not reached).`,
		Example: `  docker stateful check
  docker stateful check --format json cache
  REDISCLI_AUTH=... docker stateful check --redis cache`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCheck(cmd, dockerCLI, o, args)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&o.format, "format", "", `Format the output: "json" or a Go template`)
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
	sw, err := readSwarm(cmd, dockerCLI, filters.NewArgs())
	if err != nil {
		return cli.StatusError{StatusCode: 2, Status: "could not check: " + err.Error()}
	}
	var probe inventory.Probe
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
		probe = inventory.RedisProbe(flow)
	}
	rep, err := sw.Audit(cmd.Context(), names, probe)
	if err != nil {
		return cli.StatusError{StatusCode: 2, Status: "could not check: " + err.Error()}
	}
	if err := writeFormatted(dockerCLI.Out(), o.format, rep, rep.WriteText); err != nil {
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
