package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/docker/docker/api/types/swarm"
	"github.com/spf13/cobra"

	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
	"github.com/docker-stateful/docker-stateful/plugin/verifyflow"
)

type snapshotOptions struct {
	redis   redisFlags
	format  string
	timeout time.Duration
}

// snapshotResult is what `snapshot --format json` prints.
type snapshotResult struct {
	ID        string               `json:"id"`
	Service   string               `json:"service"`
	Redis     verifyflow.Endpoint  `json:"redis"`
	Keys      int64                `json:"keys"`
	Types     map[string]int64     `json:"types"`
	Digest    string               `json:"digest"`
	RunID     string               `json:"run_id"`
	Version   string               `json:"redis_version"`
	CreatedAt time.Time            `json:"created_at"`
	Dir       string               `json:"dir"`
	Warnings  []redisstate.Finding `json:"warnings"`
}

func newSnapshotCommand(dockerCLI command.Cli) *cobra.Command {
	opts := &snapshotOptions{}
	cmd := &cobra.Command{
		Use:   "snapshot [OPTIONS] SERVICE",
		Short: "Take a durable cut of a service's Redis data and fingerprint it",
		Long: `Take a durable, consistent cut of a service's Redis dataset now: pause
writes (CLIENT PAUSE WRITE, readers keep working), SAVE, fingerprint every
key (type-aware, independent of Redis' per-process hash seed), and resume
writes. The fingerprint is kept in the state directory; print its ID.

Check the data against it later, around any operation (node reboot, engine
upgrade, a plain docker service update) with "docker stateful verify".

Redis is found at the service's published port for 6379 (--redis-port for
another), or --redis-url. The password comes from REDISCLI_AUTH or
--redis-password-file, never from the command line.`,
		Example: `  docker stateful snapshot cache
  REDISCLI_AUTH=... docker stateful snapshot --format json cache
  docker stateful snapshot --redis-url rediss://10.0.0.5:6380 --redis-cacert ca.pem cache`,
		Args: cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSnapshot(cmd.Context(), dockerCLI, opts, args[0])
		},
		ValidArgsFunction: completeServiceNames(dockerCLI),
	}
	flags := cmd.Flags()
	addRedisFlags(flags, &opts.redis)
	flags.StringVar(&opts.format, "format", "", `Format the output: "json" or a Go template`)
	flags.DurationVar(&opts.timeout, "timeout", 2*time.Minute, "How long to wait for Redis to finish loading its dataset")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// openServiceFlow is how snapshot and verify start: the flags checked
// (--format, --timeout, the Redis flags), the verify flow set up from them
// (timeout also bounds connecting), and the service named by name (name or ID).
func openServiceFlow(ctx context.Context, dockerCLI command.Cli, r *redisFlags, format string, timeout time.Duration, verifyKeys []string, name string) (*verifyflow.Flow, swarm.Service, error) {
	if err := checkFormat(format); err != nil {
		return nil, swarm.Service{}, err
	}
	if timeout <= 0 {
		return nil, swarm.Service{}, fmt.Errorf("--timeout %s: must be more than 0", timeout)
	}
	fopt, err := r.options(timeout)
	if err != nil {
		return nil, swarm.Service{}, err
	}
	fopt.ConnectTimeout = timeout
	fopt.VerifyKeys = verifyKeys
	fopt.Dial = sshRedisDialer(dockerCLI, name)
	flow, err := verifyflow.New(dockerCLI.Client(), fopt, dockerCLI.Err())
	if err != nil {
		return nil, swarm.Service{}, err
	}
	svc, _, err := flow.API.ServiceInspectWithRaw(ctx, name, swarm.ServiceInspectOptions{})
	return flow, svc, err
}

func runSnapshot(ctx context.Context, dockerCLI command.Cli, opts *snapshotOptions, name string) error {
	flow, svc, err := openServiceFlow(ctx, dockerCLI, &opts.redis, opts.format, opts.timeout, nil, name)
	if err != nil {
		return err
	}
	c, _, ep, err := flow.Connect(ctx, svc)
	if err != nil {
		return err
	}
	defer c.Close()
	res := snapshotResult{Service: svc.Spec.Name, Redis: ep, Warnings: []redisstate.Finding{}}
	pre, err := flow.Preflight(ctx, c, svc.Spec, svc.Spec)
	var ref *verifyflow.Refused
	switch {
	case errors.As(err, &ref):
		// a snapshot is still worth having: say what an update would lose
		for _, f := range ref.Findings {
			fmt.Fprintf(dockerCLI.Err(), "warning: an update would lose this data: %s\n", f)
		}
		res.Warnings = append(res.Warnings, ref.Findings...)
	case err != nil:
		return err
	}
	if pre != nil {
		res.Warnings = append(res.Warnings, pre.Warnings...)
	}
	cut, err := flow.StartCut(ctx, c, stateful.StopGracePeriod(svc.Spec))
	if err != nil {
		return err
	}
	snap, err := flow.Snapshot(ctx, c, svc.Spec.Name, &cut.Info)
	if rerr := cut.Release(); rerr != nil {
		fmt.Fprintf(dockerCLI.Err(), "warning: %v\n", rerr)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(dockerCLI.Err(), "Writes resumed")
	flow.Prune(svc.Spec.Name, 20)
	s := snap.Summary
	res.ID, res.Keys, res.Types, res.Digest = snap.ID, s.Keys, s.Types, s.Digest.String()
	res.RunID, res.Version, res.CreatedAt, res.Dir = s.RunID, s.RedisVersion, s.CreatedAt, snap.Dir
	return writeFormatted(dockerCLI.Out(), opts.format, res, func(w io.Writer) error {
		_, err := fmt.Fprintln(w, snap.ID)
		return err
	})
}
