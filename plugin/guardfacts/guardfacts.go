// Package guardfacts gathers what the daemon knows that the rules need
// besides the specs: the image's VOLUMEs, the nodes, where the service's
// tasks run, the cluster volumes. update, stack deploy and create read their
// facts here; the rules themselves (plugin/guard, plugin/createspec) read
// none and link no client.
package guardfacts

import (
	"context"
	"errors"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/system"

	"github.com/docker-stateful/docker-stateful/plugin/createspec"
	"github.com/docker-stateful/docker-stateful/plugin/guard"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// API is the part of the Docker API the facts come from (a
// client.APIClient, or a test's).
type API interface {
	stateful.ImageInspector
	stateful.VolumeInspector
	TaskList(ctx context.Context, options swarm.TaskListOptions) ([]swarm.Task, error)
	NodeList(ctx context.Context, options swarm.NodeListOptions) ([]swarm.Node, error)
}

// Update gathers the guard's input for an update of current to target (for
// a rollback, target is the previous spec the daemon restores). It is the
// one place the guard's facts are gathered: a new fact is one more look-up
// here. Every look-up is best effort: an image that is not on this daemon,
// or a node list we may not read, leaves the guard to reason from the specs.
// Extra adds facts that come from elsewhere than the daemon: the caller
// injects it, so that this package links no database client (the servers'
// versions: serverversion.Gather).
type Extra func(ctx context.Context, current swarm.Service, target swarm.ServiceSpec, in *guard.Input)

func Update(ctx context.Context, api API, current swarm.Service, target swarm.ServiceSpec, data []string, rollback bool, extra ...Extra) guard.Input {
	in := guard.Input{
		Service:      current.Spec.Name,
		Current:      current.Spec,
		New:          target,
		Extra:        data,
		Rollback:     rollback,
		ImageVolumes: map[string][]string{},
	}
	for _, spec := range []swarm.ServiceSpec{current.Spec, target} {
		cs := spec.TaskTemplate.ContainerSpec
		if cs == nil {
			continue
		}
		if _, done := in.ImageVolumes[cs.Image]; done {
			continue
		}
		if vols, err := stateful.LookupImageVolumes(ctx, api, cs.Image); err == nil {
			in.ImageVolumes[cs.Image] = vols
		}
	}
	tasks, err := api.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(
		filters.Arg("service", current.ID), filters.Arg("desired-state", "running"))})
	if err == nil {
		seen := map[string]bool{}
		for _, t := range tasks {
			if t.NodeID != "" && !seen[t.NodeID] {
				seen[t.NodeID] = true
				in.TaskNodes = append(in.TaskNodes, t.NodeID)
			}
		}
	}
	if nodes, err := api.NodeList(ctx, swarm.NodeListOptions{}); err == nil {
		in.Nodes = stateful.NodesFrom(nodes)
	}
	in.ClusterVolumes = stateful.LookupClusterVolumes(ctx, api, current.Spec, target)
	for _, x := range extra {
		x(ctx, current, target, &in)
	}
	return in
}

// CheckUpdate is the guard's verdict on the update (guard.Check of Update's
// input), and for an allowed upgrade the note that going back needs a
// conversion (guard.WayBack; "" when none).
func CheckUpdate(ctx context.Context, api API, current swarm.Service, target swarm.ServiceSpec, data []string, rollback bool, extra ...Extra) (guard.Report, string) {
	in := Update(ctx, api, current, target, data, rollback, extra...)
	return guard.Check(in), guard.WayBack(in)
}

// CreateAPI is what Create reads: API and the daemon's own info.
type CreateAPI interface {
	API
	Info(ctx context.Context) (system.Info, error)
}

// Create looks up what create's rules need (the swarm, the image's VOLUMEs,
// the nodes) and applies them (createspec.Apply) to the spec docker
// computed. Unlike Update's, these look-ups are required: create refuses
// when it cannot tell where the data goes.
func Create(ctx context.Context, api CreateAPI, spec swarm.ServiceSpec, opts createspec.Options) (*createspec.Result, error) {
	info, err := api.Info(ctx)
	if err != nil {
		return nil, err
	}
	switch {
	case info.Swarm.LocalNodeState != swarm.LocalNodeStateActive:
		return nil, errors.New("this docker daemon is not in a swarm: run docker swarm init, or point docker at a swarm manager (--context, -H)")
	case !info.Swarm.ControlAvailable:
		return nil, errors.New("this docker daemon is a swarm worker: services are created on a manager (--context, -H)")
	}

	var image string
	if cs := spec.TaskTemplate.ContainerSpec; cs != nil {
		image = cs.Image
	}
	volumes, err := stateful.LookupImageVolumes(ctx, api, image)
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return nil, fmt.Errorf("image %s is not on this docker daemon (%s), where docker stateful reads its VOLUMEs: docker pull %s first", image, info.Name, image)
		}
		return nil, fmt.Errorf("inspecting image %s: %w", image, err)
	}

	nodes, err := api.NodeList(ctx, swarm.NodeListOptions{})
	if err != nil {
		return nil, err
	}
	res, err := createspec.Apply(spec, volumes, opts, stateful.Cluster{
		SelfNodeID: info.Swarm.NodeID,
		Nodes:      stateful.NodesFrom(nodes),
		Volumes:    stateful.LookupClusterVolumes(ctx, api, spec),
	})
	if err != nil {
		return nil, err
	}
	// The volumes are created on the pinned node when the task first starts
	// there. When that is this daemon's node, say which already exist: the
	// service will start with their data (e.g. after docker service rm).
	if res.Pin.Node != nil && res.Pin.Node.ID == info.Swarm.NodeID {
		for _, name := range createspec.VolumeNames(res.Mounts, max(res.Replicas, 1)) {
			if v, err := api.VolumeInspect(ctx, name); err == nil {
				res.Notes = append(res.Notes, fmt.Sprintf("volume %s already exists on %s (created %s): the service starts with the data in it", name, info.Name, v.CreatedAt))
			}
		}
	}
	return res, nil
}

// NetworkAPI lists the swarm's networks (a stack names them, the spec holds IDs).
type NetworkAPI interface {
	NetworkList(ctx context.Context, options network.ListOptions) ([]network.Summary, error)
}

// NetworkIDs maps the swarm's network names to their IDs (best effort).
func NetworkIDs(ctx context.Context, api NetworkAPI) map[string]string {
	ids := map[string]string{}
	nets, err := api.NetworkList(ctx, network.ListOptions{})
	if err != nil {
		return ids
	}
	for _, n := range nets {
		ids[n.Name] = n.ID
	}
	return ids
}

// ImageVolumesOn looks images up on the daemon of api, as Update does, for
// ls and check (inventory.ImageVolumes); false when the image is not there.
func ImageVolumesOn(api stateful.ImageInspector) func(ctx context.Context, img string) ([]string, bool) {
	return func(ctx context.Context, img string) ([]string, bool) {
		vols, err := stateful.LookupImageVolumes(ctx, api, img)
		return vols, err == nil
	}
}
