package commands

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"

	"github.com/docker-stateful/docker-stateful/plugin/drain"
	"github.com/docker-stateful/docker-stateful/plugin/inventory"
	"github.com/docker-stateful/docker-stateful/plugin/meta"
	"github.com/docker-stateful/docker-stateful/plugin/move"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

type drainOptions struct {
	redis    redisFlags
	to       string
	tempPort uint
	method   string
	dryRun   bool
	force    bool
	format   string
	timeout  time.Duration
}

func newDrainCommand(dockerCLI command.Cli) *cobra.Command {
	opts := &drainOptions{}
	cmd := &cobra.Command{
		Use:   "drain [OPTIONS] NODE",
		Short: "Move every service whose data lives on a node to another node, verified, then drain the node",
		Long: `Empty node NODE of the data it holds, then set it to drain.

Every service pinned to NODE with its data on a node-local volume is moved,
one after the other, as "docker stateful move" moves it (writes paused, every
key backed up, restored on the target, verified, the service pinned there),
to --to NODE or to the first Ready, Active node that meets the service's other
placement constraints and resource reservations (managers first, then by
hostname). Only when every one of them is moved and verified is NODE set to
availability drain, as "docker node update --availability drain" does.

A plain drain cannot do this: a pinned task has nowhere to go, and an
unpinned one restarts elsewhere on an empty local volume.

Services that cannot be moved block the drain, nothing changed, each listed
with why: PostgreSQL and images docker stateful does not know (move carries
Redis data only), services that run on NODE with node-local data but are not
pinned, and those no other node fits. --force drains the node anyway after
moving the others (the blocked ones stop, or start on an empty volume).

A move that fails rolls that service back (as move does) and stops the
drain: the services moved before it stay moved and verified, the others are
not touched, and NODE keeps its availability. Ctrl-C stops it the same way.

Exit status: 0 drained (or planned), 1 blocked, refused or a move rolled
back, 2 could not decide, 130 interrupted.`,
		Example: `  docker stateful drain --dry-run node2
  docker stateful drain node2
  docker stateful drain --to node3 --format json node2`,
		Args: cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDrain(cmd.Context(), dockerCLI, opts, args[0])
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&opts.to, "to", "", "Node to move every service to (name, ID, unique ID prefix, or self); default: chosen per service")
	flags.UintVar(&opts.tempPort, "temp-port", move.DefaultTempPort, "Container port Redis listens on while its data is restored (clients cannot reach it)")
	flags.StringVar(&opts.method, "method", move.MethodReplication, `How each Redis moves: "replication" (falls back to copy when it cannot work) or "copy"`)
	flags.BoolVar(&opts.dryRun, "dry-run", false, "Print the plan; change nothing")
	flags.BoolVar(&opts.force, "force", false, "Drain the node even when some services holding data there cannot be moved")
	flags.StringVar(&opts.format, "format", "", `Format the report: "json" or a Go template`)
	flags.DurationVar(&opts.timeout, "timeout", 5*time.Minute, "How long to wait for each step of each move before rolling that move back")
	addRedisFlags(flags, &opts.redis)
	_ = flags.MarkHidden("state-dir")
	_ = flags.MarkHidden("redis-url") // cannot follow a service to another node
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"json"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("method", cobra.FixedCompletions([]string{move.MethodReplication, move.MethodCopy}, cobra.ShellCompDirectiveNoFileComp))
	registerCompletion(dockerCLI, cmd) // complete.go: NODE, --to
	return cmd
}

func runDrain(ctx context.Context, dockerCLI command.Cli, opts *drainOptions, node string) error {
	if err := checkFormat(opts.format); err != nil {
		return err
	}
	if opts.tempPort == 0 || opts.tempPort > 65535 {
		return fmt.Errorf("--temp-port %d: must be a port number (1-65535)", opts.tempPort)
	}
	if err := checkMoveMethod(opts.method); err != nil {
		return err
	}
	if opts.timeout <= 0 {
		return fmt.Errorf("--timeout %s: must be more than 0", opts.timeout)
	}
	api := dockerCLI.Client()
	d := &drain.Drainer{API: api, Log: dockerCLI.Err(), Opt: drain.Options{
		Node: node, To: opts.to, DryRun: opts.dryRun, Force: opts.force, MoveMethod: opts.method,
		Engine: inventory.Engine,
		ImageVolumes: func(ctx context.Context, image string) []string {
			vols, _ := stateful.LookupImageVolumes(ctx, api, image)
			return vols
		},
	}}
	if node == "self" || opts.to == "self" {
		info, err := api.Info(ctx)
		if err != nil {
			return err
		}
		d.Opt.SelfNodeID = info.Swarm.NodeID
	}
	d.Move = func(ctx context.Context, service, to string, dryRun bool) (*move.Result, error) {
		flow, err := openRedisFlow(dockerCLI, &opts.redis, opts.format, opts.timeout, nil, service)
		if err != nil {
			return nil, err
		}
		var log io.Writer = dockerCLI.Err()
		if dryRun {
			log = io.Discard // the plan's table says it
		}
		m := &move.Mover{Flow: flow, API: api, Log: log, Opt: move.Options{
			To: to, TempPort: uint32(opts.tempPort), DryRun: dryRun, Method: opts.method,
			Generator: "docker-stateful " + meta.Plugin().Version, Progress: ttyProgress(dockerCLI.Err()),
		}}
		return m.Run(ctx, service)
	}
	res, err := d.Run(ctx)
	if werr := writeReport(dockerCLI.Out(), opts.format, res, func(w io.Writer) error {
		return writeDrainText(w, res, opts.dryRun)
	}); werr != nil && err == nil {
		return werr
	}
	return err
}

// writeDrainText prints the plan (--dry-run) or the summary: one row per
// service holding data on the node, then the blocked ones with why.
func writeDrainText(w io.Writer, res *drain.Result, dryRun bool) error {
	if res.NodeID == "" {
		return nil // refused before the node was known: the error says it
	}
	if dryRun {
		fmt.Fprintf(w, "Dry run: drain of node %s; nothing is changed.\n", res.Node)
	} else {
		fmt.Fprintf(w, "Drain of node %s: %s\n", res.Node, res.Verdict)
	}
	if len(res.Items) == 0 {
		fmt.Fprintf(w, "No service keeps data on node %s.\n", res.Node)
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
		if dryRun {
			fmt.Fprintln(tw, "SERVICE\tENGINE\tVOLUMES\tTARGET\tMETHOD")
		} else {
			fmt.Fprintln(tw, "SERVICE\tENGINE\tTARGET\tVERDICT\tKEYS\tWRITE DOWNTIME")
		}
		for _, it := range res.Items {
			engine, to := it.Engine, it.To
			if engine == "" {
				engine = "-"
			}
			if to == "" {
				to = "-"
			}
			if dryRun {
				method := it.Method
				if it.Verdict == drain.ItemBlocked {
					method = "cannot move (below)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", it.Service, engine, strings.Join(it.Volumes, ","), to, method)
				continue
			}
			keys, down := "-", "-"
			if it.Move != nil && it.Verdict != drain.ItemBlocked && it.Verdict != drain.ItemNotReached && it.Move.Keys > 0 {
				keys = fmt.Sprint(it.Move.Keys)
				down = (time.Duration(it.Move.WriteDowntimeMs) * time.Millisecond).String()
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", it.Service, engine, to, it.Verdict, keys, down)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, it := range res.Items {
		if it.Verdict == drain.ItemBlocked {
			fmt.Fprintf(w, "Cannot move %s: %s\n", it.Service, it.Why)
		}
	}
	switch {
	case res.Drained:
		fmt.Fprintf(w, "Node %s is drained.\n", res.Node)
	case dryRun && res.Error != "":
		fmt.Fprintf(w, "Node %s would not be drained.\n", res.Node)
	case dryRun:
		fmt.Fprintf(w, "Then node %s would be set to drain.\n", res.Node)
	default:
		fmt.Fprintf(w, "Node %s was not drained.\n", res.Node)
	}
	return nil
}
