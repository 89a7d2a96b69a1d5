package createspec

import (
	"fmt"

	"github.com/docker/docker/api/types/mount"

	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// PinByClusterVolume: the node a cluster volume's topology names.
const PinByClusterVolume = "the topology of cluster volume"

// clusterHome is the node where the cluster volumes holding the data live,
// when their topology names one node (stateful.ClusterVolume.HomeNode); an
// error when two such volumes live on different nodes.
func clusterHome(holders []Holder, cl stateful.Cluster) (*stateful.Node, string, error) {
	var home *stateful.Node
	var from string
	for _, h := range holders {
		if h.Mount.Type != mount.TypeCluster {
			continue
		}
		v, ok := cl.Volumes[h.Mount.Source]
		if !ok {
			continue
		}
		n, ok := v.HomeNode(cl)
		if !ok {
			continue
		}
		if home != nil && home.ID != n.ID {
			return nil, "", fmt.Errorf("cluster volume %s lives on %s and cluster volume %s on %s: one task cannot run on both; put the data on volumes of one node", from, home, v.Name, n)
		}
		home, from = &n, v.Name
	}
	return home, from, nil
}

// checkClusterVolumes refuses a cluster volume that cannot hold the data
// safely (block, read-only, --sharing all) and returns the warnings for the
// others (--scope multi).
func checkClusterVolumes(holders []Holder, cl stateful.Cluster) ([]string, error) {
	var warnings []string
	seen := map[string]bool{}
	for _, h := range holders {
		if h.Mount.Type != mount.TypeCluster || seen[h.Mount.Source] {
			continue
		}
		seen[h.Mount.Source] = true
		v, ok := cl.Volumes[h.Mount.Source]
		if !ok {
			if cl.Volumes != nil {
				warnings = append(warnings, fmt.Sprintf("cluster volume %s, which holds %s, could not be read on this manager: its access mode and topology are not checked", h.Mount.Source, h.Path))
			}
			continue
		}
		if why := v.Refusal(); why != "" {
			return nil, fmt.Errorf("--mount type=cluster,source=%s holds %s, but %s", v.Name, h.Path, why)
		}
		if w := v.Warning(); w != "" {
			warnings = append(warnings, w)
		}
	}
	return warnings, nil
}
