package commands

import (
	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/docker/docker/api/types/filters"
	"github.com/spf13/cobra"
)

type checkOptions struct {
	format string
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

Exit status: 0 every service is safe, 1 risks were found, 2 could not check
(daemon error, unknown service).`,
		Example: `  docker stateful check
  docker stateful check --format json cache`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCheck(cmd, dockerCLI, o, args)
		},
	}
	cmd.Flags().StringVar(&o.format, "format", "", `Format the output: "json" or a Go template`)
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
	rep, err := sw.Audit(names)
	if err != nil {
		return cli.StatusError{StatusCode: 2, Status: "could not check: " + err.Error()}
	}
	if err := writeFormatted(dockerCLI.Out(), o.format, rep, rep.WriteText); err != nil {
		return cli.StatusError{StatusCode: 2, Status: err.Error()}
	}
	if !rep.Safe() {
		return cli.StatusError{StatusCode: 1}
	}
	return nil
}
