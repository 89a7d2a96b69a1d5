package guard

import (
	"fmt"
	"slices"

	"github.com/docker/docker/api/types/mount"

	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// RuleClusterAccess: a cluster (CSI) volume holds data but its access mode
// lets two tasks write it (--sharing all), or it cannot hold a data directory
// (block, read-only); as a warning, --scope multi.
const RuleClusterAccess = "cluster-access"

// clusterVolumes: every cluster volume that holds a data path after the
// update must let one task write at a time, and a volume of one node (its
// topology names it) needs the service pinned there, since swarm does not
// place tasks by a volume's topology.
func (c checker) clusterVolumes() {
	seen := map[string]bool{}
	for _, p := range c.report.DataPaths {
		loc := c.locate(c.in.New, p)
		if !loc.Mounted || loc.Mount.Type != mount.TypeCluster || seen[loc.Mount.Source] {
			continue
		}
		seen[loc.Mount.Source] = true
		v, ok := c.in.ClusterVolumes[loc.Mount.Source]
		if !ok {
			continue
		}
		if why := v.Refusal(); why != "" {
			c.refuse(RuleClusterAccess, p, "%s holds %s, but %s (or use --force)", loc, p, why)
			continue
		}
		if w := v.Warning(); w != "" {
			c.warn(RuleClusterAccess, p, "%s", w)
		}
		c.clusterHome(p, v)
	}
}

func (c checker) clusterHome(p string, v stateful.CSIVolume) {
	if c.global() || len(c.in.Nodes) == 0 || !c.replacesTasks() {
		return
	}
	cl := stateful.Cluster{Nodes: c.in.Nodes}
	home, ok := v.HomeNode(cl)
	if !ok {
		return
	}
	pins := stateful.Pins(stateful.Constraints(c.in.New))
	if slices.ContainsFunc(pins, func(q stateful.Pin) bool { return q.Matches(home) }) {
		return
	}
	what := "nothing pins the service there"
	if len(pins) > 0 {
		what = "the service is pinned by " + joinConstraints(pins) + " elsewhere"
	}
	c.refuse(RulePin, p, "cluster volume %s, which holds %s, lives on %s (topology %s), but %s: swarm does not place tasks by a volume's topology, so the new task may start where the volume cannot be mounted (%s)",
		v.Name, p, home, v.TopologyString(), what, fmt.Sprintf("pin it with --constraint-add %s, or use --force", stateful.PinConstraint(home.ID)))
}
