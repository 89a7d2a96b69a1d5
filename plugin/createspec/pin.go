package createspec

import (
	"fmt"
	"sort"
	"strings"

	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// Node is what the pin rules need to know about a swarm node.
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

// Schedulable reports why new tasks cannot start on the node ("" if they can).
func (n Node) Schedulable() string {
	if n.State != swarm.NodeStateReady {
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
	return Node{}, fmt.Errorf("no such node in this swarm (nodes: %s)", c.hostnames())
}

func (c Cluster) hostnames() string {
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

// How a service came to be pinned.
const (
	PinBySelf       = "the node this docker CLI talks to"
	PinByFlag       = "--pin"
	PinByConstraint = "the service's own --constraint"
)

// PinPlan is the outcome of PlanPin.
type PinPlan struct {
	// Constraint pins the service ("" when it is not pinned).
	Constraint string
	// Node is the node it pins to, when known.
	Node *Node
	// Added is true when docker stateful adds Constraint.
	Added bool
	// By says how the node was chosen (PinBySelf, PinByFlag, PinByConstraint).
	By string
	// Needed is true when a data path is on node-local storage.
	Needed bool
	// Warning is set when the service is left unpinned though it needs a pin,
	// or pinned to a node that cannot be found.
	Warning string
}

// NeedsPin reports whether any holder keeps its data on one node (a local
// volume or a bind mount), so that the service's tasks must stay there.
func NeedsPin(holders []Holder) bool {
	for _, h := range holders {
		if stateful.IsNodeLocal(h.Mount) {
			return true
		}
	}
	return false
}

// PlanPin decides the placement constraint that keeps the service on the
// node holding its data: the user's own node.id==/node.hostname== constraint
// when there is one, else --pin NODE, else the CLI's own node, all by node ID
// (hostnames change and can repeat). --no-pin leaves the service unpinned
// with a warning; a global service runs one task per node, each with the
// volume of its node, and is never pinned.
func PlanPin(constraints []string, holders []Holder, global bool, opts Options, cl Cluster) (PinPlan, error) {
	plan := PinPlan{Needed: NeedsPin(holders) && !global}
	if global {
		if opts.Pin != "" {
			return plan, fmt.Errorf("--pin %s: a global service runs one task on every node, each with its own volume: drop --pin, or use --mode replicated", opts.Pin)
		}
		return plan, nil
	}

	if own := stateful.Pins(constraints); len(own) > 0 {
		p := own[0]
		plan.Constraint, plan.By = p.Constraint, PinByConstraint
		if n, ok := matchPin(cl.Nodes, p); ok {
			plan.Node = &n
		}
		if opts.Pin != "" {
			want, err := cl.Resolve(opts.Pin)
			if err != nil {
				return plan, fmt.Errorf("--pin %s: %w", opts.Pin, err)
			}
			for _, q := range own {
				if !pinMatches(q, want) {
					return plan, fmt.Errorf("--pin %s conflicts with --constraint %s: keep one of them", opts.Pin, q.Constraint)
				}
			}
			plan.Node = &want
		}
		if plan.Node == nil {
			plan.Warning = fmt.Sprintf("--constraint %s names no node of this swarm (nodes: %s): the task stays pending until one joins", p.Constraint, cl.hostnames())
		}
		return plan, nil
	}

	if opts.NoPin {
		if plan.Needed {
			plan.Warning = "--no-pin: the data stays on the node that first ran the task; if swarm reschedules the task elsewhere (node drained or down, a constraint changed), it starts there with an empty volume"
		}
		return plan, nil
	}
	if !plan.Needed && opts.Pin == "" {
		return plan, nil // cluster or network volumes: the data follows the task
	}

	var node Node
	if opts.Pin != "" {
		n, err := cl.Resolve(opts.Pin)
		if err != nil {
			return plan, fmt.Errorf("--pin %s: %w", opts.Pin, err)
		}
		if why := n.Schedulable(); why != "" {
			return plan, fmt.Errorf("--pin %s: node %s %s: pin to another node, or fix that one first", opts.Pin, n, why)
		}
		node, plan.By = n, PinByFlag
	} else {
		if cl.SelfNodeID == "" {
			return plan, fmt.Errorf("cannot tell which swarm node this docker CLI talks to: choose one with --pin NODE")
		}
		n, err := cl.Resolve(cl.SelfNodeID)
		if err != nil {
			// Info knows the ID but NodeList does not: trust Info.
			n = Node{ID: cl.SelfNodeID, State: swarm.NodeStateReady}
		}
		if why := n.Schedulable(); why != "" {
			return plan, fmt.Errorf("this node, %s, %s: choose where the service and its data live with --pin NODE", n, why)
		}
		node, plan.By = n, PinBySelf
	}
	plan.Node, plan.Added = &node, true
	plan.Constraint = stateful.PinConstraint(node.ID)
	return plan, nil
}

func matchPin(nodes []Node, p stateful.Pin) (Node, bool) {
	var found []Node
	for _, n := range nodes {
		if pinMatches(p, n) {
			found = append(found, n)
		}
	}
	if len(found) == 1 {
		return found[0], true
	}
	return Node{}, false
}

func pinMatches(p stateful.Pin, n Node) bool {
	if p.Key == "node.id" {
		return p.Value == n.ID
	}
	return p.Value == n.Hostname
}
