package commands

import (
	"fmt"
	"strings"
	"time"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/docker/docker/api/types/filters"
	"github.com/spf13/cobra"

	"github.com/docker-stateful/docker-stateful/plugin/inventory"
)

type rmOptions struct {
	volumes   bool
	yes       bool
	nodeHosts []string
}

func newRmCommand(dockerCLI command.Cli) *cobra.Command {
	o := &rmOptions{}
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] SERVICE [SERVICE...]",
		Aliases: []string{"remove"},
		Short:   "Remove services and keep their data volumes",
		Long: `Remove services and keep their data volumes. For each volume, print the node
that holds it and the "docker stateful create" that brings the service back
on its data.

--volumes removes the volumes too, after a prompt that names them (--yes
skips it). Volumes on the node of the daemon the CLI talks to, and on the
nodes named with --node-host, are removed; for volumes on other nodes it says
which remain and where.`,
		Example: `  docker stateful rm cache
  docker stateful rm --volumes --yes cache
  docker stateful rm --volumes --node-host ssh://admin@node2 cache`,
		Args: cli.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRm(cmd, dockerCLI, o, args)
		},
	}
	flags := cmd.Flags()
	flags.BoolVar(&o.volumes, "volumes", false, "Remove the services' data volumes too")
	flags.BoolVarP(&o.yes, "yes", "y", false, "Do not prompt for confirmation before removing volumes")
	flags.StringArrayVar(&o.nodeHosts, "node-host", nil, "With --volumes: the docker host of another node whose volumes to remove (repeatable)")
	registerCompletion(dockerCLI, cmd)
	cmd.ValidArgsFunction = completeServiceNamesAnyArg(dockerCLI)
	return cmd
}

func runRm(cmd *cobra.Command, dockerCLI command.Cli, o *rmOptions, names []string) error {
	ctx := cmd.Context()
	if len(o.nodeHosts) > 0 && !o.volumes {
		return fmt.Errorf("--node-host only applies with --volumes: nothing removed")
	}
	sw, err := readSwarm(cmd, dockerCLI, filters.NewArgs())
	if err != nil {
		return err
	}
	var plans []inventory.Removal
	for _, n := range names {
		svc, err := sw.Find(n)
		if err != nil {
			return fmt.Errorf("%v: nothing removed", err)
		}
		plans = append(plans, sw.PlanRemoval(svc))
	}
	if o.volumes && !o.yes {
		var vols []string
		for _, p := range plans {
			for _, v := range p.Volumes {
				vols = append(vols, fmt.Sprintf("%s (node %s)", v.Name, v.Hostname))
			}
		}
		if len(vols) > 0 {
			ok, err := command.PromptForConfirmation(ctx, dockerCLI.In(), dockerCLI.Out(),
				"This removes the data volumes "+strings.Join(vols, ", ")+": their data is lost.")
			if err != nil {
				return err
			}
			if !ok {
				return cli.StatusError{StatusCode: 1, Status: "nothing removed"}
			}
		}
	}
	engines := map[string]inventory.VolumeRemover{}
	if o.volumes {
		if info, err := dockerCLI.Client().Info(ctx); err == nil && info.Swarm.NodeID != "" {
			engines[info.Swarm.NodeID] = dockerCLI.Client()
		}
		for _, h := range o.nodeHosts {
			c, id, err := dialNode(ctx, h)
			if err != nil {
				return fmt.Errorf("%v: nothing removed", err)
			}
			engines[id] = c
		}
	}
	return inventory.Remove(ctx, dockerCLI.Client(), engines, plans, o.volumes, time.Minute, dockerCLI.Out())
}
