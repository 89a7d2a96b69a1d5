package commands

import (
	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/docker/docker/api/types/filters"
	"github.com/spf13/cobra"
)

type statusOptions struct {
	format string
}

func newStatusCommand(dockerCLI command.Cli) *cobra.Command {
	o := &statusOptions{}
	cmd := &cobra.Command{
		Use:   "status [OPTIONS] SERVICE",
		Short: "Say why a service's update is stuck or failed, and the next step",
		Long: `Say in words why a service's task runs or does not and what to do next: the
task's error (no suitable node because the pinned node is down or drained, no
such volume), a task killed with exit 137 at the end of its stop grace period
(the database could not save), a restart loop, and the state of the last
update (in progress, paused, rolled back).

Exit status: 0 when it could tell, 2 when it could not read the service.`,
		Example: `  docker stateful status cache
  docker stateful status --format json cache`,
		Args: cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStatus(cmd, dockerCLI, o, args[0])
		},
	}
	cmd.Flags().StringVar(&o.format, "format", "", `Format the output: "json" or a Go template`)
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"json"}, cobra.ShellCompDirectiveNoFileComp))
	registerCompletion(dockerCLI, cmd)
	return cmd
}

func runStatus(cmd *cobra.Command, dockerCLI command.Cli, o *statusOptions, name string) error {
	if err := checkFormat(o.format); err != nil {
		return cli.StatusError{StatusCode: 2, Status: err.Error()}
	}
	sw, err := readSwarm(cmd, dockerCLI, filters.NewArgs())
	if err != nil {
		return cli.StatusError{StatusCode: 2, Status: "could not read the swarm: " + err.Error()}
	}
	svc, err := sw.Find(name)
	if err != nil {
		return cli.StatusError{StatusCode: 2, Status: err.Error()}
	}
	st := sw.Explain(svc)
	return writeFormatted(dockerCLI.Out(), o.format, st, st.WriteText)
}
