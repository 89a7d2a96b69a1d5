package commands

import (
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"

	"github.com/docker-stateful/docker-stateful/plugin/intercept"
)

// newUpdateCommand is docker's own `service update`, run on an intercepting
// client so the new spec can be checked against the current one before it is sent.
func newUpdateCommand(dockerCLI command.Cli) *cobra.Command {
	icli := intercept.New(dockerCLI)
	cmd := dockerServiceCommand(icli, "update")
	cmd.Short = "Update a service, refusing changes that would lose its data"
	return cmd
}
