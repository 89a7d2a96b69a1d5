package commands

import (
	"context"

	"github.com/docker/cli/cli/command"
	//lint:ignore SA1019 see dockerServiceCommand
	"github.com/docker/cli/cli/command/service"
	//lint:ignore SA1019 see dockerServiceCommand
	"github.com/docker/cli/cli/command/stack"
	//lint:ignore SA1019 see dockerServiceCommand
	"github.com/docker/cli/cli/command/stack/loader"
	//lint:ignore SA1019 see dockerServiceCommand
	"github.com/docker/cli/cli/command/stack/options"
	composetypes "github.com/docker/cli/cli/compose/types"
	"github.com/spf13/cobra"
)

// dockerServiceCommand returns docker's own `docker service <verb>` command
// (create or update), built on dockerCLI.
//
// We run docker's command in process instead of re-implementing it so that
// every flag, validation, error message and the convergence progress behave
// exactly as in docker. service.NewServiceCommand is deprecated upstream ("do
// not import commands directly", gone in docker/cli v29), so this is the only
// file that imports it: moving to v29 means replacing this one function (for
// example by re-executing the docker CLI) and nothing else.
func dockerServiceCommand(dockerCLI command.Cli, verb string) *cobra.Command {
	return dockerSubcommand(service.NewServiceCommand(dockerCLI), verb) //nolint:staticcheck // SA1019, see above
}

// dockerStackCommand returns docker's own `docker stack <verb>` command
// (deploy), built on dockerCLI, for the same reasons as dockerServiceCommand.
func dockerStackCommand(dockerCLI command.Cli, verb string) *cobra.Command {
	return dockerSubcommand(stack.NewStackCommand(dockerCLI), verb) //nolint:staticcheck // SA1019, see dockerServiceCommand
}

// loadComposeFiles reads compose files exactly as docker stack deploy does
// (docker's own loader: interpolation, extends, overrides, "-" for stdin).
func loadComposeFiles(dockerCLI command.Cli, files []string) (*composetypes.Config, error) {
	return loader.LoadComposefile(dockerCLI, options.Deploy{Composefiles: files}) //nolint:staticcheck // SA1019, see dockerServiceCommand
}

func dockerSubcommand(noun *cobra.Command, verb string) *cobra.Command {
	cmd, _, err := noun.Find([]string{verb})
	if err != nil || cmd == noun {
		panic("docker/cli has no `docker " + noun.Name() + " " + verb + "` command")
	}
	noun.RemoveCommand(cmd)
	return cmd
}

// waitOnService waits for a service to converge with docker's own progress
// display (what `docker service update` and `docker service rollback` show);
// quiet discards the progress.
func waitOnService(ctx context.Context, dockerCLI command.Cli, serviceID string, quiet bool) error {
	return service.WaitOnService(ctx, dockerCLI, serviceID, quiet) //nolint:staticcheck // SA1019, see dockerServiceCommand
}
