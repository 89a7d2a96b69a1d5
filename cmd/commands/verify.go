package commands

import (
	"context"
	"fmt"
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

// verifyResult is what `verify --format json` prints.
type verifyResult struct {
	Service string              `json:"service"`
	Redis   verifyflow.Endpoint `json:"redis"`
	Against string              `json:"against"`
	Report  *redisstate.Report  `json:"report"`
	Verdict string              `json:"verdict"`
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

The exit status is 0 when the data is verified, 1 when it is not.`,
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
	flow, svc, err := openServiceFlow(ctx, dockerCLI, &opts.redis, opts.format, opts.timeout, opts.verifyKeys, name)
	if err != nil {
		return err
	}
	var before *redisstate.Snapshot
	if opts.against != "" {
		if before, err = flow.Store().Load(opts.against); err != nil {
			return fmt.Errorf("--against %s: %w (in %s)", opts.against, err, flow.Store().StateDir)
		}
		if s := before.Summary.Service; s != "" && s != svc.Spec.Name {
			fmt.Fprintf(dockerCLI.Err(), "warning: snapshot %s is of service %s, not %s\n", before.ID, s, svc.Spec.Name)
		}
	} else if before, err = flow.LatestCut(svc.Spec.Name); err != nil {
		return err
	}
	fmt.Fprintf(dockerCLI.Err(), "Against snapshot %s (%s, %d keys)\n", before.ID, before.Summary.CreatedAt.Local().Format(time.DateTime), before.Summary.Keys)
	c, _, ep, err := flow.Connect(ctx, svc)
	if err != nil {
		return err
	}
	defer c.Close()
	rep, err := flow.Verify(ctx, c, before)
	if err != nil {
		return err
	}
	res := verifyResult{Service: svc.Spec.Name, Redis: ep, Against: before.ID, Report: rep, Verdict: rep.Verdict}
	if err := writeFormatted(dockerCLI.Out(), opts.format, res, func(w io.Writer) error {
		return redisstate.RenderText(w, rep)
	}); err != nil {
		return err
	}
	if !rep.OK() {
		return cli.StatusError{StatusCode: 1}
	}
	return nil
}
