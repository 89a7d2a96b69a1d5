package commands

import (
	"context"
	"io"
	"time"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"

	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
	"github.com/docker-stateful/docker-stateful/plugin/verifyflow"
)

type verifyOptions struct {
	redis      redisFlags
	against    string
	verifyKeys []string
	format     string
	timeout    time.Duration
}

func newVerifyCommand(dockerCLI command.Cli) *cobra.Command {
	opts := &verifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify [OPTIONS] SERVICE",
		Short: "Check a service's Redis data against a snapshot",
		Long: `Fingerprint a service's Redis dataset now and compare it with a snapshot
(by default the service's latest, from "docker stateful snapshot" or
"docker stateful update --verify").

Keys of the snapshot that are gone (MISSING) or differ (CHANGED) fail the
check; keys written since (NEW), keys whose TTL passed (EXPIRED) and keys
whose TTL was changed (TTL-CHANGED) are listed but do not fail it.

The exit status is 0 when the data is verified, 1 when it is not, 2 when it
could not be checked (Redis or the daemon unreachable, no or an unreadable
snapshot). --format json prints a verdict ("verified", "failed" or "error",
with the error) in every case.`,
		Example: `  docker stateful verify cache
  docker stateful verify --against 20261125T121500-ab12cd cache
  docker stateful verify --format json --verify-key session:42 cache`,
		Args: cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVerify(cmd.Context(), dockerCLI, opts, args[0])
		},
		ValidArgsFunction: completeServiceNames(dockerCLI),
	}
	flags := cmd.Flags()
	addRedisFlags(flags, &opts.redis)
	flags.StringVar(&opts.against, "against", "", "ID (or unique prefix) of the snapshot to compare with (default: the service's latest)")
	flags.StringArrayVar(&opts.verifyKeys, "verify-key", nil, "A key that must exist (repeatable)")
	flags.StringVar(&opts.format, "format", "", `Format the report: "json" or a Go template`)
	flags.DurationVar(&opts.timeout, "timeout", 2*time.Minute, "How long to wait for Redis to finish loading its dataset")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"json"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("against", cobra.NoFileCompletions)
	_ = cmd.RegisterFlagCompletionFunc("verify-key", cobra.NoFileCompletions)
	return cmd
}

func runVerify(ctx context.Context, dockerCLI command.Cli, opts *verifyOptions, name string) error {
	flow, err := openFlow(dockerCLI, &opts.redis, opts.format, opts.timeout, opts.verifyKeys, name)
	res := verifyflow.VerifyResult{Service: name, Verdict: verifyflow.VerdictError}
	if err == nil {
		res, err = flow.VerifyService(ctx, name, opts.against)
	} else if checkFormat(opts.format) != nil {
		return err // a --format that cannot print the verdict
	} else {
		res.Error = err.Error()
	}
	if res.Report == nil && opts.format == "" {
		return err // nothing to show: the error says why
	}
	// with --format, a verdict document also on error
	if werr := writeReport(dockerCLI.Out(), opts.format, res, func(w io.Writer) error {
		return redisstate.RenderText(w, res.Report)
	}); werr != nil && err == nil {
		return werr
	}
	return err
}
