package commands

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
	"github.com/spf13/cobra"

	"github.com/docker-stateful/docker-stateful/plugin/adopt"
	"github.com/docker-stateful/docker-stateful/plugin/guardfacts"
	"github.com/docker-stateful/docker-stateful/plugin/verifyflow"
	"github.com/docker-stateful/docker-stateful/plugin/version"
)

type adoptOptions struct {
	dryRun     bool
	volumeName string
	nodeHost   string
	noVerify   bool
	timeout    time.Duration
	redis      redisFlags
}

func newAdoptCommand(dockerCLI command.Cli) *cobra.Command {
	o := &adoptOptions{}
	cmd := &cobra.Command{
		Use:   "adopt [OPTIONS] SERVICE",
		Short: "Make a running service safe, keeping the data it holds now",
		Long: `Make a running service safe without losing the data it holds now: mount the
running task's anonymous volume by its name on the data path, pin the service
to the node that holds it (node.id), record docker stateful's labels, and set
stop-first and a 30s stop grace period unless set. Later updates, plain
docker service update included, keep the data.

The volume's name is read from the task's container on its node: from the
daemon the CLI talks to when the task runs there, else from --node-host (the
docker host of that node, e.g. ssh://user@node2).

--volume-name NAME copies the data into a new volume NAME on the same node
instead: the container's files come out through the Docker archive API (no
tool in the image needed), go into a helper container that mounts NAME, and
are read back and compared before the update is sent; the service then mounts
NAME.

For Redis, the data is cut first (writes paused, SAVE, fingerprint) and
verified after the update; on a mismatch the service is rolled back.

Refused (exit 1, nothing changed): more than one replica on anonymous volumes,
data in the container's filesystem or a tmpfs, no running task, a service that
is already safe. Exit 2 when the node's engine or Redis cannot be reached.`,
		Example: `  docker stateful adopt --dry-run cache
  docker stateful adopt cache
  docker stateful adopt --volume-name cache-data cache
  docker stateful adopt --node-host ssh://admin@node2 cache`,
		Args: cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAdopt(cmd.Context(), dockerCLI, o, args[0])
		},
	}
	flags := cmd.Flags()
	flags.BoolVar(&o.dryRun, "dry-run", false, "Show the plan; change nothing")
	flags.StringVar(&o.volumeName, "volume-name", "", "Copy the data into a new volume of this name on the task's node (verified) instead of keeping the anonymous volume")
	flags.StringVar(&o.nodeHost, "node-host", "", "Docker host of the node running the task, when it is not the CLI's daemon")
	flags.BoolVar(&o.noVerify, "no-verify", false, "Do not cut and verify Redis data around the update")
	flags.DurationVar(&o.timeout, "timeout", 2*time.Minute, "How long to wait for the new task (and its Redis)")
	addRedisFlags(flags, &o.redis)
	registerCompletion(dockerCLI, cmd)
	return cmd
}

func runAdopt(ctx context.Context, dockerCLI command.Cli, o *adoptOptions, name string) error {
	if o.timeout <= 0 {
		return fmt.Errorf("--timeout %s: must be more than 0", o.timeout)
	}
	api := dockerCLI.Client()
	d := adopt.Deps{
		API:          api,
		ImageVolumes: guardfacts.ImageVolumesOn(api),
		NodeEngine:   nodeEngine(api, o.nodeHost),
		Out:          dockerCLI.Out(),
		Log:          dockerCLI.Err(),
	}
	if !o.dryRun && !o.noVerify {
		svc, _, err := api.ServiceInspectWithRaw(ctx, name, swarm.ServiceInspectOptions{})
		if err != nil {
			return cli.StatusError{StatusCode: 2, Status: err.Error()}
		}
		if adopt.IsRedis(svc.Spec) {
			fopt, err := o.redis.options(o.timeout)
			if err != nil {
				return err
			}
			fopt.ConnectTimeout = o.timeout
			if d.Flow, err = verifyflow.New(api, fopt, dockerCLI.Err()); err != nil {
				return err
			}
		}
	}
	_, err := adopt.Run(ctx, d, adopt.Options{DryRun: o.dryRun, VolumeName: o.volumeName, Version: version.Version, Timeout: o.timeout}, name)
	var ref *adopt.Refused
	var unr *adopt.Unreachable
	switch {
	case errors.As(err, &ref):
		return cli.StatusError{StatusCode: 1, Status: err.Error()}
	case errors.As(err, &unr):
		return cli.StatusError{StatusCode: 2, Status: err.Error()}
	}
	return err
}

// nodeEngine reaches the engine of the task's node: the CLI's daemon when
// it is that node, else --node-host.
func nodeEngine(api client.APIClient, host string) func(context.Context, string) (adopt.Engine, error) {
	return func(ctx context.Context, nodeID string) (adopt.Engine, error) {
		if info, err := api.Info(ctx); err == nil && info.Swarm.NodeID == nodeID {
			return api, nil
		}
		if host == "" {
			return nil, errors.New("the CLI's daemon is on another node and cannot read the task's container: give --node-host with the docker host of the task's node (e.g. ssh://user@node)")
		}
		c, id, err := dialNode(ctx, host)
		if err != nil {
			return nil, err
		}
		if id != nodeID {
			return nil, fmt.Errorf("--node-host %s is node %s, but the task runs on node %s", host, id, nodeID)
		}
		return c, nil
	}
}
