// Package locate finds where a service's Redis answers from outside the
// swarm: the port the service publishes for Redis, at the address of the node
// that serves it. It says why it chose that address, since a wrong guess
// would otherwise look like lost data.
package locate

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
)

// DefaultRedisPort is the container port Redis listens on.
const DefaultRedisPort = 6379

// Endpoint is an address to reach the service's Redis at, and why.
type Endpoint struct {
	Addr   string // host:port
	Reason string
}

// API is the part of the Docker API this package uses.
type API interface {
	TaskList(ctx context.Context, options swarm.TaskListOptions) ([]swarm.Task, error)
	NodeInspectWithRaw(ctx context.Context, nodeID string) (swarm.Node, []byte, error)
	NodeList(ctx context.Context, options swarm.NodeListOptions) ([]swarm.Node, error)
}

var _ API = client.APIClient(nil)

// Redis finds the Redis endpoint of svc: the published port whose target is
// targetPort (6379 unless the user said otherwise). Host-mode ports are
// reached at the address the swarm advertises for the node running the task;
// ingress ports at any ready node's address.
func Redis(ctx context.Context, api API, svc swarm.Service, targetPort uint32) (Endpoint, error) {
	if targetPort == 0 {
		targetPort = DefaultRedisPort
	}
	return Server(ctx, api, svc, "Redis", targetPort, "--redis-url")
}

// Server finds where the server called what (for messages: "Redis",
// "PostgreSQL") listening on targetPort in the container answers from
// outside: the port svc publishes for it, at the node's address; urlFlag is
// the flag that names an address instead.
func Server(ctx context.Context, api API, svc swarm.Service, what string, targetPort uint32, urlFlag string) (Endpoint, error) {
	port, ok := publishedPort(svc, targetPort)
	if !ok {
		return Endpoint{}, fmt.Errorf("service %s publishes no port for %s (target port %d): publish one (--publish published=PORT,target=%d,mode=host) or pass %s", svc.Spec.Name, what, targetPort, targetPort, urlFlag)
	}
	if port.PublishMode == swarm.PortConfigPublishModeHost {
		return hostModeEndpoint(ctx, api, svc, targetPort)
	}
	nodes, err := api.NodeList(ctx, swarm.NodeListOptions{})
	if err != nil {
		return Endpoint{}, err
	}
	for _, n := range nodes {
		if n.Status.State == swarm.NodeStateReady && n.Status.Addr != "" && n.Status.Addr != "0.0.0.0" {
			return Endpoint{
				Addr:   net.JoinHostPort(n.Status.Addr, strconv.Itoa(int(port.PublishedPort))),
				Reason: fmt.Sprintf("ingress port %d → %d, reached through node %s (%s)", port.PublishedPort, targetPort, n.Description.Hostname, n.Status.Addr),
			}, nil
		}
	}
	return Endpoint{}, fmt.Errorf("no ready node with an address to reach ingress port %d of service %s", port.PublishedPort, svc.Spec.Name)
}

// Publishes reports whether svc publishes a TCP port for targetPort.
func Publishes(svc swarm.Service, targetPort uint32) bool {
	_, ok := publishedPort(svc, targetPort)
	return ok
}

func publishedPort(svc swarm.Service, target uint32) (swarm.PortConfig, bool) {
	ports := svc.Endpoint.Ports
	if svc.Spec.EndpointSpec != nil && len(ports) == 0 {
		ports = svc.Spec.EndpointSpec.Ports
	}
	for _, p := range ports {
		if p.TargetPort == target && (p.Protocol == "" || p.Protocol == swarm.PortConfigProtocolTCP) {
			return p, true
		}
	}
	return swarm.PortConfig{}, false
}

// hostModeEndpoint reads the published port from the running task itself,
// since a host-mode port may be chosen by the engine when the spec leaves it 0.
func hostModeEndpoint(ctx context.Context, api API, svc swarm.Service, target uint32) (Endpoint, error) {
	task, err := RunningTask(ctx, api, svc.ID)
	if err != nil {
		return Endpoint{}, err
	}
	var published uint32
	for _, p := range task.Status.PortStatus.Ports {
		if p.TargetPort == target {
			published = p.PublishedPort
		}
	}
	if published == 0 {
		return Endpoint{}, fmt.Errorf("task %s of service %s has no published port for %d yet", task.ID, svc.Spec.Name, target)
	}
	node, _, err := api.NodeInspectWithRaw(ctx, task.NodeID)
	if err != nil {
		return Endpoint{}, err
	}
	return Endpoint{
		Addr:   net.JoinHostPort(node.Status.Addr, strconv.Itoa(int(published))),
		Reason: fmt.Sprintf("host-mode port %d → %d on node %s (%s), which runs task %s", published, target, node.Description.Hostname, node.Status.Addr, shortID(task.ID)),
	}, nil
}

// RunningTask returns the service's task that is running now (the newest
// one when several are, as during a start-first update).
func RunningTask(ctx context.Context, api API, serviceID string) (swarm.Task, error) {
	tasks, err := api.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(
		filters.Arg("service", serviceID),
		filters.Arg("desired-state", "running"),
	)})
	if err != nil {
		return swarm.Task{}, err
	}
	var best swarm.Task
	found := false
	for _, t := range tasks {
		if t.Status.State != swarm.TaskStateRunning {
			continue
		}
		if !found || t.Meta.CreatedAt.After(best.Meta.CreatedAt) {
			best, found = t, true
		}
	}
	if !found {
		return swarm.Task{}, fmt.Errorf("service %s has no running task", serviceID)
	}
	return best, nil
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
