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
		Long: `Make a running service safe without losing the data it holds now: copy the
running task's anonymous volume into a named volume on the same node, mount it
on the data path, pin the service to that node (node.id), record docker
stateful's labels, and set stop-first and a 30s stop grace period unless set.
Later updates, plain docker service update included, keep the data.

Why a copy: an anonymous volume keeps its label com.docker.volume.anonymous
even when mounted by its name, and on Docker 23 and later a plain
"docker volume prune -f" deletes such a volume whenever no container uses it
(between two tasks, or after rm); it keeps named volumes. (On Docker 20.10,
prune deletes every unused volume, named or not.) The new volume is
<service>-data (--volume-name NAME names it). The files come out through the
Docker archive API (no tool in the image needed), go into a helper container
that mounts the new volume, and are read back and compared before the update
is sent. The anonymous volume is left as it was. A service already mounting
an anonymous volume by its name (adopted by an older version) is copied the
same way.

The volume's name is read from the task's container on its node: from the
daemon the CLI talks to when the task runs there, else from --node-host (the
docker host of that node, e.g. ssh://user@node2).

For Redis, the data is cut first (writes paused, SAVE, fingerprint), the copy
is taken inside the cut (reads go on; writes wait for the copy, the restart
and the check), and the new process is verified with its writes held until
it is checked. It is never rolled back: the spec before adopt would start
Redis on a new, empty volume. Other services (and --no-verify) are stopped
(0 replicas) for the copy so that their files are at rest: the service is
down for the copy, and the time is printed.

Refused (exit 1, nothing changed): more than one replica on anonymous volumes,
data in the container's filesystem or a tmpfs, no running task, a service that
is already safe, a new volume's name already taken on the node. Exit 2 when
the node's engine or Redis cannot be reached.`,
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
	flags.StringVar(&o.volumeName, "volume-name", "", "Name of the new volume the data is copied into on the task's node (default <service>-data)")
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
	cut := false
	if !o.noVerify {
		svc, _, err := api.ServiceInspectWithRaw(ctx, name, swarm.ServiceInspectOptions{})
		if err != nil {
			return cli.StatusError{StatusCode: 2, Status: err.Error()}
		}
		cut = adopt.IsRedis(svc.Spec)
		if cut && !o.dryRun {
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
	_, err := adopt.Run(ctx, d, adopt.Options{DryRun: o.dryRun, Cut: cut, VolumeName: o.volumeName, Version: version.Version, Timeout: o.timeout}, name)
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
