package commands

import (
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"

	"github.com/docker-stateful/docker-stateful/plugin/intercept"
)

// newCreateCommand is docker's own `service create`, run on an intercepting
// client so the spec can be made safe for state before it is sent.
func newCreateCommand(dockerCLI command.Cli) *cobra.Command {
	icli := intercept.New(dockerCLI)
	cmd := dockerServiceCommand(icli, "create")
	cmd.Short = "Create a service whose data survives every update"
	return cmd
}
