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

	"github.com/docker-stateful/docker-stateful/plugin/redisbackup"
	"github.com/docker-stateful/docker-stateful/plugin/verifyflow"
)

type restoreOptions struct {
	redis   redisFlags
	replace bool
	format  string
	timeout time.Duration
}

// restoreResult is what `restore --format json` prints.
type restoreResult struct {
	Service string              `json:"service"`
	Redis   verifyflow.Endpoint `json:"redis"`
	*redisbackup.RestoreResult
}

func newRestoreCommand(dockerCLI command.Cli) *cobra.Command {
	opts := &restoreOptions{}
	cmd := &cobra.Command{
		Use:   "restore [OPTIONS] SERVICE FILE",
		Short: "Restore a backup into a service's Redis and prove it equal to the backup",
		Long: `Restore a file of "docker stateful backup" into a service's Redis.

The whole file is checked first (format, checksums, record counts): a
truncated, corrupt or foreign file is refused before anything is written, as
is a Redis that holds keys (unless --replace). Then one payload of every kind
in the file (each type, each module type) is tried on the target in a
throwaway key that the same MULTI deletes: a target that cannot load a kind
(a module it lacks) is refused, naming it, with nothing written.

Every key is restored with its absolute expire time (RESTORE ... ABSTTL);
keys whose expire time has passed since the backup are skipped and listed as
EXPIRED. A target older than the server that wrote the backup (Redis 8's
RDB 12 into Redis 7 or Valkey 8) cannot load its payloads: every key is then
written by type instead (SET, RPUSH, SADD, ZADD, HSET, XADD with the
stream's groups, consumers and pending entries), keeping its expire time,
after checking that every key can be (a module type, or a hash whose fields
have their own expire times, is refused up front). The report says how many
keys were converted, from which RDB version to which.

The result is fingerprinted and compared with the fingerprint in the file,
as "docker stateful verify" does, and Redis saves (SAVE) before the command
returns. FILE "-" reads the backup from stdin (copied to a temporary file
first: it is read several times).

The exit status is 0 when the restored data is verified equal to the
backup, 1 when it is not or the restore was refused, 2 when the file cannot
be used or Redis cannot be reached.`,
		Example: `  docker stateful restore cache cache-20261125T121500.dsbackup
  docker stateful restore --replace --format json cache cache.dsbackup
  ssh backup-host 'cat cache.dsbackup' | docker stateful restore cache -`,
		Args: cli.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRestore(cmd.Context(), dockerCLI, opts, args[0], args[1])
		},
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			if len(args) == 1 { // FILE
				return nil, cobra.ShellCompDirectiveDefault
			}
			return completeServiceNames(dockerCLI)(cmd, args, toComplete)
		},
	}
	flags := cmd.Flags()
	addRedisFlags(flags, &opts.redis)
	_ = flags.MarkHidden("state-dir") // restore keeps no snapshot
	flags.BoolVar(&opts.replace, "replace", false, "Restore into a Redis that holds keys: keys of the backup overwrite keys of the same name, other keys stay")
	flags.StringVar(&opts.format, "format", "", `Format the report: "json" or a Go template`)
	flags.DurationVar(&opts.timeout, "timeout", 2*time.Minute, "How long to wait for Redis to finish loading its dataset")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func runRestore(ctx context.Context, dockerCLI command.Cli, opts *restoreOptions, name, file string) error {
	flow, err := openRedisFlow(dockerCLI, &opts.redis, opts.format, opts.timeout, nil, name)
	if err != nil {
		return backupExit(err)
	}
	svc, err := flow.Service(ctx, name)
	if err != nil {
		return backupExit(err)
	}
	if file == "-" {
		if dockerCLI.In().IsTerminal() {
			return backupExit(errors.New("restore -: stdin is a terminal; pipe the backup in, or name the file"))
		}
	} else if err := redisbackup.CheckReadable(file); err != nil { // before Redis is contacted
		return backupExit(err)
	}
	c, _, ep, err := flow.Connect(ctx, svc)
	if err != nil {
		return backupExit(err)
	}
	defer c.Close()
	res, err := redisbackup.Restore(ctx, c, file, redisbackup.RestoreOptions{
		Replace:  opts.replace,
		Stdin:    dockerCLI.In(),
		Log:      func(s string) { fmt.Fprintln(dockerCLI.Err(), s) },
		Progress: ttyProgress(dockerCLI.Err()),
	})
	if err != nil {
		return backupExit(err)
	}
	if err := writeFormatted(dockerCLI.Out(), opts.format, restoreResult{Service: svc.Spec.Name, Redis: ep, RestoreResult: res},
		func(w io.Writer) error { return redisbackup.RenderVerification(w, res.Verification) }); err != nil {
		return err
	}
	if !res.OK() {
		return cli.StatusError{StatusCode: 1, Status: fmt.Sprintf("the data restored into service %s is not equal to the backup %s", svc.Spec.Name, file)}
	}
	return nil
}
