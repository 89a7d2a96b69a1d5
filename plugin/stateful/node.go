package stateful

import (
	"fmt"
	"sort"
	"strings"

	"github.com/docker/docker/api/types/swarm"
)

// Node is what the rules need to know about a swarm node.
type Node struct {
	ID           string
	Hostname     string
	State        swarm.NodeState
	Availability swarm.NodeAvailability
}

// NodesFrom converts the API's nodes (NodeList).
func NodesFrom(nodes []swarm.Node) []Node {
	out := make([]Node, len(nodes))
	for i, n := range nodes {
		out[i] = Node{ID: n.ID, Hostname: n.Description.Hostname, State: n.Status.State, Availability: n.Spec.Availability}
	}
	return out
}

// String names a node for people: "hostname (ID)".
func (n Node) String() string {
	if n.Hostname == "" {
		return n.ID
	}
	return n.Hostname + " (" + n.ID + ")"
}

// Schedulable reports why new tasks cannot start on the node ("" if they
// can, or if its state is not known).
func (n Node) Schedulable() string {
	if n.State != "" && n.State != swarm.NodeStateReady {
		return fmt.Sprintf("is %s, not ready", n.State)
	}
	if n.Availability != "" && n.Availability != swarm.NodeAvailabilityActive {
		return fmt.Sprintf("has availability %s: no new task starts there", n.Availability)
	}
	return ""
}

// Cluster is what the rules need to know about the swarm.
type Cluster struct {
	// SelfNodeID is the node of the daemon the CLI talks to (Info().Swarm.NodeID).
	SelfNodeID string
	Nodes      []Node
	// Volumes are the cluster (CSI) volumes the service mounts, by name
	// (LookupClusterVolumes; nil when not looked up).
	Volumes map[string]CSIVolume
}

// Resolve finds a node by ID, hostname or unique ID prefix, or "self" for
// the CLI's node, as `docker node inspect` does.
func (c Cluster) Resolve(ref string) (Node, error) {
	if ref == "self" {
		ref = c.SelfNodeID
	}
	for _, n := range c.Nodes {
		if n.ID == ref {
			return n, nil
		}
	}
	var byName, byPrefix []Node
	for _, n := range c.Nodes {
		if n.Hostname == ref {
			byName = append(byName, n)
		}
		if strings.HasPrefix(n.ID, ref) {
			byPrefix = append(byPrefix, n)
		}
	}
	switch {
	case len(byName) == 1:
		return byName[0], nil
	case len(byName) > 1:
		return Node{}, fmt.Errorf("%d nodes are named %s (%s): pin by node ID", len(byName), ref, nodeIDs(byName))
	case len(byPrefix) == 1:
		return byPrefix[0], nil
	case len(byPrefix) > 1:
		return Node{}, fmt.Errorf("node ID prefix %s is ambiguous (%s)", ref, nodeIDs(byPrefix))
	}
	return Node{}, fmt.Errorf("no such node in this swarm (nodes: %s)", c.Hostnames())
}

// PinnedNode returns the one node that pin p names (false when it names
// none or several).
func (c Cluster) PinnedNode(p Pin) (Node, bool) {
	var found []Node
	for _, n := range c.Nodes {
		if p.Matches(n) {
			found = append(found, n)
		}
	}
	if len(found) == 1 {
		return found[0], true
	}
	return Node{}, false
}

// Hostnames lists the nodes' hostnames, sorted, for messages.
func (c Cluster) Hostnames() string {
	names := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		names[i] = n.Hostname
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func nodeIDs(nodes []Node) string {
	ids := make([]string, len(nodes))
	for i, n := range nodes {
		ids[i] = n.ID
	}
	return strings.Join(ids, ", ")
}
