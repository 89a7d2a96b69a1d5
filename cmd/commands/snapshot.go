package commands

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"

	"github.com/docker-stateful/docker-stateful/plugin/verifyflow"
)

type snapshotOptions struct {
	redis   redisFlags
	pg      pgFlags
	format  string
	timeout time.Duration
}

func newSnapshotCommand(dockerCLI command.Cli) *cobra.Command {
	opts := &snapshotOptions{}
	cmd := &cobra.Command{
		Use:   "snapshot [OPTIONS] SERVICE",
		Short: "Take a durable cut of a service's Redis or PostgreSQL data and fingerprint it",
		Long: `Take a durable, consistent cut of a service's Redis dataset now: pause
writes (CLIENT PAUSE WRITE, readers keep working), SAVE, fingerprint every
key (type-aware, independent of Redis' per-process hash seed), and resume
writes. The fingerprint is kept in the state directory; print its ID.

Check the data against it later, around any operation (node reboot, engine
upgrade, a plain docker service update) with "docker stateful verify".

Redis is found at the service's published port for 6379 (--redis-port for
another), or --redis-url. The password comes from REDISCLI_AUTH or
--redis-password-file, never from the command line.

For PostgreSQL (a postgres image, a published 5432, --pg-url or --engine
postgres): turn writes off (ALTER SYSTEM SET default_transaction_read_only =
on, reads keep working), wait for open write transactions, CHECKPOINT,
fingerprint every table and sequence of every database on the server (row
counts and order-independent digests computed by the server) and the schema,
and turn writes back on. The password comes from PGPASSWORD,
--pg-password-file or a .pgpass file.

The exit status is 0 when the snapshot is taken, 2 when the server or the
daemon cannot be reached.`,
		Example: `  docker stateful snapshot cache
  REDISCLI_AUTH=... docker stateful snapshot --format json cache
  docker stateful snapshot --redis-url rediss://10.0.0.5:6380 --redis-cacert ca.pem cache
  PGPASSWORD=... docker stateful snapshot db`,
		Args: cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSnapshot(cmd.Context(), dockerCLI, opts, args[0])
		},
		ValidArgsFunction: completeServiceNames(dockerCLI),
	}
	flags := cmd.Flags()
	addRedisFlags(flags, &opts.redis)
	addPGFlags(cmd, &opts.pg)
	flags.StringVar(&opts.format, "format", "", `Format the output: "json" or a Go template`)
	flags.DurationVar(&opts.timeout, "timeout", 2*time.Minute, "How long to wait for Redis to finish loading its dataset, or PostgreSQL its recovery")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// openFlow is how snapshot and verify start: the flags checked (--format,
// --timeout, the Redis and PostgreSQL flags) and the verify flow set up from
// them (timeout also bounds connecting; service names the service in what is
// said).
func openFlow(dockerCLI command.Cli, r *redisFlags, pg *pgFlags, format string, timeout time.Duration, verifyKeys []string, service string) (*verifyflow.PGFlow, error) {
	flow, err := openRedisFlow(dockerCLI, r, format, timeout, verifyKeys, service)
	if err != nil {
		return nil, err
	}
	pgFlow, err := flow.PG(pg.options())
	if err != nil {
		return nil, err
	}
	if _, err := pg.wireMySQL(pgFlow); err != nil {
		return nil, err
	}
	return pgFlow, nil
}

// openRedisFlow is openFlow for the verbs that know Redis only (backup,
// restore, move).
func openRedisFlow(dockerCLI command.Cli, r *redisFlags, format string, timeout time.Duration, verifyKeys []string, service string) (*verifyflow.Flow, error) {
	if err := checkFormat(format); err != nil {
		return nil, err
	}
	if timeout <= 0 {
		return nil, fmt.Errorf("--timeout %s: must be more than 0", timeout)
	}
	fopt, err := r.options(timeout)
	if err != nil {
		return nil, err
	}
	fopt.ConnectTimeout = timeout
	fopt.VerifyKeys = verifyKeys
	fopt.Dial = sshRedisDialer(dockerCLI, service)
	return verifyflow.New(dockerCLI.Client(), fopt, dockerCLI.Err())
}

func runSnapshot(ctx context.Context, dockerCLI command.Cli, opts *snapshotOptions, name string) error {
	flow, err := openFlow(dockerCLI, &opts.redis, &opts.pg, opts.format, opts.timeout, nil, name)
	if err != nil {
		return err
	}
	res, id, err := flow.SnapshotAny(ctx, name)
	if err != nil {
		return err
	}
	return writeReport(dockerCLI.Out(), opts.format, res, func(w io.Writer) error {
		_, err := fmt.Fprintln(w, id)
		return err
	})
}
