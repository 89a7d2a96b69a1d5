// Package stackdeploy holds the rules of `docker stateful stack deploy`:
// docker's own stack deploy recomputes every service spec from the compose
// file, which knows nothing of what docker stateful added when it created a
// service (named volumes on the data paths, the node pin, the defaults, the
// labels). KeepAdditions puts those back into the spec docker computed, so
// that re-deploying the same file changes nothing and a changed file keeps
// the data; Plan records, per service, what the deploy would do and whether
// it is allowed.
//
// Nothing here talks to a daemon.
package stackdeploy

import (
	"slices"
	"strings"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// KeepAdditions restores in next (the spec docker computed from the compose
// file for an existing service) what docker stateful added to current when
// it created the service and what the compose file does not say itself:
//
//   - the mount of every recorded data path (io.docker-stateful.volumes)
//     that no mount of next covers;
//   - the recorded pin (io.docker-stateful.pin), unless next pins by node
//     itself;
//   - the stop grace period and the update/rollback settings, when next
//     leaves them unset (docker's defaults would shorten the grace period
//     and drop the explicit stop-first order);
//   - the io.docker-stateful.* labels.
//
// It returns what it restored, one line each. A service docker stateful did
// not create is left as docker computed it (the guard still checks it).
func KeepAdditions(current swarm.ServiceSpec, next *swarm.ServiceSpec) []string {
	if !stateful.IsManaged(current.Labels) {
		return nil
	}
	var kept []string
	ccs, ncs := current.TaskTemplate.ContainerSpec, next.TaskTemplate.ContainerSpec
	if ccs == nil || ncs == nil {
		return nil
	}

	recorded := stateful.LabeledVolumes(current.Labels)
	for _, p := range stateful.LabeledDataPaths(current.Labels) {
		if _, ok := stateful.MountFor(ncs.Mounts, p); ok {
			continue // the compose file mounts it itself
		}
		src, ok := recorded[p]
		if !ok {
			continue
		}
		if m, ok := mountWithSource(ccs.Mounts, p, src); ok {
			ncs.Mounts = append(ncs.Mounts, m)
			kept = append(kept, "volume "+m.Source+" on "+p)
		}
	}

	if pin := current.Labels[stateful.LabelPin]; pin != "" && len(stateful.Pins(stateful.Constraints(*next))) == 0 {
		c := stateful.PinConstraint(pin)
		if slices.Contains(stateful.Constraints(current), c) {
			if next.TaskTemplate.Placement == nil {
				next.TaskTemplate.Placement = &swarm.Placement{}
			}
			next.TaskTemplate.Placement.Constraints = append(next.TaskTemplate.Placement.Constraints, c)
			kept = append(kept, "pin "+c)
		}
	}

	if ncs.StopGracePeriod == nil && ccs.StopGracePeriod != nil {
		d := *ccs.StopGracePeriod
		ncs.StopGracePeriod = &d
		kept = append(kept, "stop grace period "+d.String())
	}
	if next.UpdateConfig == nil && current.UpdateConfig != nil {
		u := *current.UpdateConfig
		next.UpdateConfig = &u
		kept = append(kept, "update order "+orderOf(u.Order))
	}
	if next.RollbackConfig == nil && current.RollbackConfig != nil {
		r := *current.RollbackConfig
		next.RollbackConfig = &r
	}

	if next.Labels == nil {
		next.Labels = map[string]string{}
	}
	for k, v := range current.Labels {
		if strings.HasPrefix(k, stateful.LabelPrefix) {
			if _, set := next.Labels[k]; !set {
				next.Labels[k] = v
			}
		}
	}
	return kept
}

// mountWithSource returns the mount of mounts on target p from source src.
func mountWithSource(mounts []mount.Mount, p, src string) (mount.Mount, bool) {
	for _, m := range mounts {
		if m.Target == p && m.Source == src {
			return m, true
		}
	}
	return mount.Mount{}, false
}

func orderOf(o string) string {
	if o == "" {
		return swarm.UpdateOrderStopFirst
	}
	return o
}

// ForDiff returns next as the daemon will store it, for comparing with
// current: the defaults the daemon fills in (isolation, endpoint mode,
// runtime) and the network names it resolves to IDs (networkIDs: name → ID)
// are taken over, so that a re-deploy of an unchanged file shows no change.
func ForDiff(current, next swarm.ServiceSpec, networkIDs map[string]string) swarm.ServiceSpec {
	out := next
	if ccs, ncs := current.TaskTemplate.ContainerSpec, next.TaskTemplate.ContainerSpec; ccs != nil && ncs != nil && ncs.Isolation == "" {
		cs := *ncs
		cs.Isolation = ccs.Isolation
		out.TaskTemplate.ContainerSpec = &cs
	}
	if out.TaskTemplate.Runtime == "" {
		out.TaskTemplate.Runtime = current.TaskTemplate.Runtime
	}
	if ce, ne := current.EndpointSpec, next.EndpointSpec; ce != nil && ne != nil && ne.Mode == "" {
		e := *ne
		e.Mode = ce.Mode
		out.EndpointSpec = &e
	}
	if len(next.TaskTemplate.Networks) > 0 {
		nets := make([]swarm.NetworkAttachmentConfig, len(next.TaskTemplate.Networks))
		for i, n := range next.TaskTemplate.Networks {
			if id, ok := networkIDs[n.Target]; ok {
				n.Target = id
			}
			nets[i] = n
		}
		out.TaskTemplate.Networks = nets
	}
	return out
}
