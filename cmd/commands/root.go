// Package commands holds the cobra commands of `docker stateful`, one file per
// verb. The logic they share lives in plugin/, which has no cobra in it.
package commands

import (
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"
)

// NewRootCommand returns the `stateful` command that plugin.Run nests under
// docker's own root (which owns -H, --context, TLS and the client set-up).
func NewRootCommand(dockerCLI command.Cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "stateful",
		Short: "Swarm services whose data survives every update",
		Long: `Create and update Swarm services so that their data survives every update.

docker service update replaces a service's containers on every change; data
kept in the image's anonymous VOLUME is lost each time. docker stateful puts
the data on named volumes, pins the service to the node that holds them,
refuses updates that would lose data, and can prove that the data survived.`,
		Args:          cobra.NoArgs,
		RunE:          command.ShowHelp(dockerCLI.Err()),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.AddCommand(
		newCreateCommand(dockerCLI),
		newUpdateCommand(dockerCLI),
		newSnapshotCommand(dockerCLI),
		newVerifyCommand(dockerCLI),
		newStackCommand(dockerCLI),
		newLsCommand(dockerCLI),
		newCheckCommand(dockerCLI),
		newStatusCommand(dockerCLI),
		newRmCommand(dockerCLI),
		newAdoptCommand(dockerCLI),
		newBackupCommand(dockerCLI),
		newRestoreCommand(dockerCLI),
		newMoveCommand(dockerCLI),
		newDrainCommand(dockerCLI),
		newVersionCommand(dockerCLI),
		newHooksCommand(nil),
		newConfigHooksCommand(),
		newCompletionCommand(),
	)
	withExitStatus(cmd) // exit.go: one exit status per outcome
	return cmd
}
