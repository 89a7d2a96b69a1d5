package commands

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/command/formatter"
	"github.com/docker/cli/opts"
	"github.com/docker/docker/api/types/filters"
	"github.com/spf13/cobra"

	"github.com/docker-stateful/docker-stateful/plugin/guardfacts"
	"github.com/docker-stateful/docker-stateful/plugin/inventory"
	"github.com/docker-stateful/docker-stateful/plugin/inventory/probe"
)

type lsOptions struct {
	quiet    bool
	format   string
	filter   opts.FilterOpt
	stateDir string
}

func newLsCommand(dockerCLI command.Cli) *cobra.Command {
	o := &lsOptions{filter: opts.NewFilterOpt()}
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List the services that hold data, where it lives and whether it is at risk",
		Long: `List every service that has data paths: where each path lives (named local
volume, per-slot volumes, cluster volume, bind, or an anonymous volume — at
risk), the node it is pinned to with its state, replicas, the newest snapshot,
and a one-word risk: safe, at-risk (the next update may lose data) or stuck
(the task cannot run). "docker stateful check" explains each risk.

Filters: the daemon's service filters (name=, id=, label=, mode=),
risk=safe|at-risk|stuck, and node=NODE (pinned to or running on it).`,
		Example: `  docker stateful ls
  docker stateful ls --filter risk=at-risk --quiet
  docker stateful ls --format json
  docker stateful ls --format '{{.Name}} {{.Risk}}'`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLs(cmd, dockerCLI, o)
		},
		ValidArgsFunction: cobra.NoFileCompletions,
	}
	flags := cmd.Flags()
	flags.BoolVarP(&o.quiet, "quiet", "q", false, "Only display IDs")
	flags.StringVar(&o.format, "format", "", `Format output using a custom template:
'table':            Print output in table format with column headers (default)
'table TEMPLATE':   Print output in table format using the given Go template
'json':             Print in JSON format
'TEMPLATE':         Print output using the given Go template`)
	flags.VarP(&o.filter, "filter", "f", "Filter output based on conditions provided")
	flags.StringVar(&o.stateDir, "state-dir", "", "Read snapshots from this directory (default $XDG_STATE_HOME/docker-stateful)")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"table", "json"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("filter", completeLsFilter(dockerCLI))
	registerCompletion(dockerCLI, cmd)
	return cmd
}

func runLs(cmd *cobra.Command, dockerCLI command.Cli, o *lsOptions) error {
	f := o.filter.Value()
	var rf inventory.RowFilter
	for key, dst := range map[string]*string{"risk": &rf.Risk, "node": &rf.Node} {
		vals := f.Get(key)
		if len(vals) > 1 {
			return fmt.Errorf("--filter %s: give one value, not %d", key, len(vals))
		}
		if len(vals) == 1 {
			*dst = vals[0]
			f.Del(key, vals[0])
		}
	}
	switch rf.Risk {
	case "", inventory.RiskSafe, inventory.RiskAtRisk, inventory.RiskStuck:
	default:
		return fmt.Errorf("--filter risk=%s: use safe, at-risk or stuck", rf.Risk)
	}
	sw, err := readSwarm(cmd, dockerCLI, f)
	if err != nil {
		return err
	}
	names := make([]string, len(sw.Services))
	for i, svc := range sw.Services {
		names[i] = svc.Spec.Name
	}
	sw.Snapshots = probe.LatestSnapshots(o.stateDir, names)
	sw.PGCuts = probe.PGReadOnlyCuts(o.stateDir)
	// one write for the table, not one per cell (docker's tabwriter
	// writes each cell to its output)
	out := bufio.NewWriter(dockerCLI.Out())
	if err := inventory.WriteLs(formatter.Context{
		Output: out,
		Format: inventory.LsFormat(o.format, o.quiet),
	}, sw.Rows(rf)); err != nil {
		return err
	}
	return out.Flush()
}

// readSwarm reads the services (filtered by the daemon), nodes and tasks
// once each, with the image look-up update's guard uses.
func readSwarm(cmd *cobra.Command, dockerCLI command.Cli, f filters.Args) (*inventory.Swarm, error) {
	api := dockerCLI.Client()
	sw, err := inventory.Read(cmd.Context(), api, guardfacts.ImageVolumesOn(api), f)
	if err == nil {
		sw.PGCuts = probe.PGReadOnlyCuts("") // ls reads its --state-dir's instead
	}
	return sw, err
}

// completeLsFilter offers ls' filter keys, risk words, and node names after node=.
func completeLsFilter(dockerCLI command.Cli) cobra.CompletionFunc {
	nodes := completeNodeNames(dockerCLI)
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if rest, ok := strings.CutPrefix(toComplete, "node="); ok {
			names, dir := nodes(cmd, args, rest)
			for i, n := range names {
				names[i] = "node=" + n
			}
			return names, dir
		}
		return []string{"name=", "id=", "label=", "mode=", "node=", "risk=safe", "risk=at-risk", "risk=stuck"}, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}
}
