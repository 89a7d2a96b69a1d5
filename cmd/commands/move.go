package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"

	"github.com/docker-stateful/docker-stateful/plugin/meta"
	"github.com/docker-stateful/docker-stateful/plugin/move"
)

type moveOptions struct {
	redis    redisFlags
	to       string
	tempPort uint
	method   string
	dryRun   bool
	format   string
	timeout  time.Duration
}

func newMoveCommand(dockerCLI command.Cli) *cobra.Command {
	opts := &moveOptions{}
	cmd := &cobra.Command{
		Use:   "move [OPTIONS] SERVICE --to NODE",
		Short: "Move a pinned Redis service and its data to another node, verified",
		Long: `Move a service pinned to one node, with its Redis data, to node NODE.

By replication (--method replication, the default): a temporary replica
service pinned to NODE, on the service's named volume there (created empty),
syncs from the running Redis while clients keep writing. Then the handoff:
writes are paused on the old node, the replica catches up with the source's
replication offset, is detached (REPLICAOF NO ONE) and saved, and the service
is updated to pin NODE: its old task saves and stops, the new one loads the
replica's copy. The write downtime is one task restart plus the load (and the
replica's SAVE); it is printed, with its phases. The detached replica is
fingerprinted while the service restarts (the cut), then removed, and the new
process is checked against that fingerprint. A source password is given to
the replica with CONFIG SET masterauth, never in its arguments.

When replication cannot work, the move falls back to the copy method and says
why: the target image's Redis older than the source's, REPLICAOF, CONFIG,
PSYNC or REPLCONF renamed or disabled (rename-command) or refused (ACL), no
sync within 30 s, a resync loop (client-output-buffer-limit replica too small
for the write rate), a source older than 6.2.

By copy (--method copy): writes are paused and every key is backed up (as "docker stateful backup",
into a temporary file); the service is updated to pin NODE, where its named
volume starts empty, with Redis listening on --temp-port only (published on a
temporary host-mode port), so clients of its usual port get "connection
refused" instead of writing into an empty Redis. The keys are restored through
the temporary port, verified against the cut and saved; then the service is
updated back to its own arguments and ports (the restart loads the saved data)
and verified once more. Writes are out from the cut until then: the write
downtime is printed.

Refused up front, nothing changed: NODE unknown, not Ready, or not Active
(drained or paused). On any later failure the service is updated back to its
original spec (the old node and its untouched volume) and verified against the
cut: the new task's Redis not answering on NODE within --timeout, NODE going
down or being drained during the move (seen within seconds, without waiting out
--timeout), the restore refused or not equal. The old volume is never deleted:
the output says where it is and how to remove it.`,
		Example: `  docker stateful move cache --to node3
  docker stateful move --dry-run cache --to node3
  docker stateful move --format json cache --to node3`,
		Args: cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runMove(cmd.Context(), dockerCLI, opts, args[0])
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&opts.to, "to", "", "Node to move the service to (name, ID, unique ID prefix, or self); must be Ready and Active")
	flags.UintVar(&opts.tempPort, "temp-port", move.DefaultTempPort, "Container port Redis listens on while the data is restored (clients cannot reach it)")
	flags.StringVar(&opts.method, "method", move.MethodReplication, `How the data moves: "replication" (falls back to copy when it cannot work) or "copy"`)
	flags.BoolVar(&opts.dryRun, "dry-run", false, "Print the plan; change nothing")
	flags.StringVar(&opts.format, "format", "", `Format the report: "json" or a Go template`)
	flags.DurationVar(&opts.timeout, "timeout", 5*time.Minute, "How long to wait for each step (a task to stop or start, Redis to load) before rolling back")
	addRedisFlags(flags, &opts.redis)
	_ = flags.MarkHidden("state-dir") // the cut's fingerprint goes into the backup file
	_ = flags.MarkHidden("redis-url") // cannot follow the service to another node
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"json"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("method", cobra.FixedCompletions([]string{move.MethodReplication, move.MethodCopy}, cobra.ShellCompDirectiveNoFileComp))
	registerCompletion(dockerCLI, cmd) // complete.go: SERVICE, --to
	return cmd
}

func runMove(ctx context.Context, dockerCLI command.Cli, opts *moveOptions, name string) error {
	if opts.to == "" {
		return errors.New("--to NODE is required: the node to move the service to")
	}
	if opts.tempPort == 0 || opts.tempPort > 65535 {
		return fmt.Errorf("--temp-port %d: must be a port number (1-65535)", opts.tempPort)
	}
	if err := checkMoveMethod(opts.method); err != nil {
		return err
	}
	flow, err := openRedisFlow(dockerCLI, &opts.redis, opts.format, opts.timeout, nil, name)
	if err != nil {
		return err
	}
	m := &move.Mover{Flow: flow, API: dockerCLI.Client(), Log: dockerCLI.Err(), Opt: move.Options{
		To: opts.to, TempPort: uint32(opts.tempPort), DryRun: opts.dryRun, Method: opts.method,
		Generator: "docker-stateful " + meta.Plugin().Version, Progress: ttyProgress(dockerCLI.Err()),
	}}
	res, err := m.Run(ctx, name)
	if res.Verdict == move.VerdictRefused && opts.format == "" {
		return err // one line
	}
	if werr := writeReport(dockerCLI.Out(), opts.format, res, func(w io.Writer) error {
		if !opts.dryRun {
			return nil // every step was said on stderr as it happened
		}
		fmt.Fprintf(w, "Dry run: move of service %s from node %s to node %s by %s; nothing is changed.\n", res.Service, res.From, res.To, res.Method)
		for i, s := range res.Steps {
			fmt.Fprintf(w, "%d. %s\n", i+1, s)
		}
		return nil
	}); werr != nil && err == nil {
		return werr
	}
	return err
}

func checkMoveMethod(m string) error {
	if m != move.MethodReplication && m != move.MethodCopy {
		return fmt.Errorf("--method %q: must be %q or %q", m, move.MethodReplication, move.MethodCopy)
	}
	return nil
}
