package commands

import (
	"context"
	"fmt"

	"github.com/docker/cli/cli/connhelper"
	"github.com/docker/docker/client"
)

// dialNode connects to a node's own engine at host (unix://, tcp://,
// ssh://) and returns it with its swarm node ID: adopt and rm reach a
// node's containers and volumes through it when the CLI's daemon is another
// node.
func dialNode(ctx context.Context, host string) (client.APIClient, string, error) {
	opts := []client.Opt{client.WithAPIVersionNegotiation()}
	if h, err := connhelper.GetConnectionHelper(host); err == nil && h != nil {
		opts = append(opts, client.WithHost(h.Host), client.WithDialContext(h.Dialer))
	} else {
		opts = append(opts, client.WithHost(host))
	}
	c, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, "", fmt.Errorf("--node-host %s: %w", host, err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("--node-host %s: %w", host, err)
	}
	if info.Swarm.NodeID == "" {
		return nil, "", fmt.Errorf("--node-host %s: that engine is not a swarm node", host)
	}
	return c, info.Swarm.NodeID, nil
}
