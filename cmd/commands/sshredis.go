package commands

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/docker/cli/cli/command"

	"github.com/docker-stateful/docker-stateful/plugin/sshdial"
)

// sshRedisDialer is how --verify, snapshot and verify reach Redis when the
// docker host is ssh://: directly, else through the same SSH host (ssh -W),
// saying so once. nil (a direct dial) for any other docker host.
func sshRedisDialer(dockerCLI command.Cli, service string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	via, ok := sshdial.FromDockerHost(dockerCLI.DockerEndpoint().Host)
	if !ok {
		return nil
	}
	f := &sshdial.Fallback{Via: via, Reached: func(addr string, via *sshdial.Via, direct error) {
		var oe *net.OpError
		if errors.As(direct, &oe) {
			direct = oe.Err
		}
		fmt.Fprintf(dockerCLI.Err(), "Redis of service %s: reached through %s (direct connection to %s failed: %v)\n", service, via, addr, direct)
	}}
	return f.Dial
}
