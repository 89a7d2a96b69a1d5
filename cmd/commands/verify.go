package commands

import (
	"context"
	"io"
	"time"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"

	"github.com/docker-stateful/docker-stateful/plugin/verifyflow"
)

type verifyOptions struct {
	redis      redisFlags
	pg         pgFlags
	against    string
	verifyKeys []string
	format     string
	timeout    time.Duration
}

func newVerifyCommand(dockerCLI command.Cli) *cobra.Command {
	opts := &verifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify [OPTIONS] SERVICE",
		Short: "Check a service's Redis or PostgreSQL data against a snapshot",
		Long: `Fingerprint a service's Redis dataset now and compare it with a snapshot
(by default the service's latest, from "docker stateful snapshot" or
"docker stateful update --verify").

Keys of the snapshot that are gone (MISSING) or differ (CHANGED) fail the
check; keys written since (NEW), keys whose TTL passed (EXPIRED) and keys
whose TTL was changed (TTL-CHANGED) are listed but do not fail it.

For PostgreSQL (a postgres image, a published 5432, --pg-url or --engine
postgres), every table and sequence of every database is fingerprinted on the
server: databases, tables, sequences, types or views that are gone (MISSING),
tables whose rows differ (CHANGED, with the row-count difference) or whose
columns, indexes or constraints differ (SCHEMA-CHANGED), and sequences that
went back fail; sequences ahead (ADVANCED) and new objects (NEW) do not.

The exit status is 0 when the data is verified, 1 when it is not, 2 when it
could not be checked (the server or the daemon unreachable, no or an unreadable
snapshot). --format json prints a verdict ("verified", "failed" or "error",
with the error) in every case.`,
		Example: `  docker stateful verify cache
  docker stateful verify --against 20261125T121500-ab12cd cache
  docker stateful verify --format json --verify-key session:42 cache
  PGPASSWORD=... docker stateful verify --pg-url 'postgres://postgres@10.0.0.5:5432/postgres?sslmode=require' db`,
		Args: cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVerify(cmd.Context(), dockerCLI, opts, args[0])
		},
		ValidArgsFunction: completeServiceNames(dockerCLI),
	}
	flags := cmd.Flags()
	addRedisFlags(flags, &opts.redis)
	addPGFlags(cmd, &opts.pg)
	flags.StringVar(&opts.against, "against", "", "ID (or unique prefix) of the snapshot to compare with (default: the service's latest)")
	flags.StringArrayVar(&opts.verifyKeys, "verify-key", nil, "A key that must exist (repeatable)")
	flags.StringVar(&opts.format, "format", "", `Format the report: "json" or a Go template`)
	flags.DurationVar(&opts.timeout, "timeout", 2*time.Minute, "How long to wait for Redis to finish loading its dataset, or PostgreSQL its recovery")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"json"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("against", cobra.NoFileCompletions)
	_ = cmd.RegisterFlagCompletionFunc("verify-key", cobra.NoFileCompletions)
	return cmd
}

func runVerify(ctx context.Context, dockerCLI command.Cli, opts *verifyOptions, name string) error {
	flow, err := openFlow(dockerCLI, &opts.redis, &opts.pg, opts.format, opts.timeout, opts.verifyKeys, name)
	var res any
	var text func(io.Writer) error
	if err == nil {
		res, text, err = flow.VerifyAny(ctx, name, opts.against)
	} else if checkFormat(opts.format) != nil {
		return err // a --format that cannot print the verdict
	} else {
		res = verifyflow.VerifyResult{Service: name, Verdict: verifyflow.VerdictError, Error: err.Error()}
	}
	if text == nil && opts.format == "" {
		return err // nothing to show: the error says why
	}
	// with --format, a verdict document also on error
	if werr := writeReport(dockerCLI.Out(), opts.format, res, text); werr != nil && err == nil {
		return werr
	}
	return err
}
