package createspec

import (
	"fmt"

	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

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
	Node *stateful.Node
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
func PlanPin(constraints []string, holders []Holder, global bool, opts Options, cl stateful.Cluster) (PinPlan, error) {
	home, homeVol, err := clusterHome(holders, cl)
	if err != nil {
		return PinPlan{}, err
	}
	plan := PinPlan{Needed: (NeedsPin(holders) || home != nil) && !global}
	if global {
		if opts.Pin != "" {
			return plan, fmt.Errorf("--pin %s: a global service runs one task on every node, each with its own volume: drop --pin, or use --mode replicated", opts.Pin)
		}
		return plan, nil
	}

	if own := stateful.Pins(constraints); len(own) > 0 {
		p := own[0]
		plan.Constraint, plan.By = p.Constraint, PinByConstraint
		if n, ok := cl.PinnedNode(p); ok {
			plan.Node = &n
		}
		if opts.Pin != "" {
			want, err := cl.Resolve(opts.Pin)
			if err != nil {
				return plan, fmt.Errorf("--pin %s: %w", opts.Pin, err)
			}
			for _, q := range own {
				if !q.Matches(want) {
					return plan, fmt.Errorf("--pin %s conflicts with --constraint %s: keep one of them", opts.Pin, q.Constraint)
				}
			}
			plan.Node = &want
		}
		if home != nil && !p.Matches(*home) {
			return plan, fmt.Errorf("--constraint %s keeps the service off %s, where cluster volume %s lives (its topology is that node's): drop the constraint, or use a volume of that node", p.Constraint, home, homeVol)
		}
		if plan.Node == nil {
			plan.Warning = fmt.Sprintf("--constraint %s names no node of this swarm (nodes: %s): the task stays pending until one joins", p.Constraint, cl.Hostnames())
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

	var node stateful.Node
	if opts.Pin != "" {
		n, err := cl.Resolve(opts.Pin)
		if err != nil {
			return plan, fmt.Errorf("--pin %s: %w", opts.Pin, err)
		}
		if home != nil && n.ID != home.ID {
			return plan, fmt.Errorf("--pin %s: cluster volume %s lives on %s (its topology is that node's): pin there, or drop --pin", opts.Pin, homeVol, home)
		}
		if why := n.Schedulable(); why != "" {
			return plan, fmt.Errorf("--pin %s: node %s %s: pin to another node, or fix that one first", opts.Pin, n, why)
		}
		node, plan.By = n, PinByFlag
	} else if home != nil {
		// Swarm does not place a task by its volume's topology: the pin does.
		if why := home.Schedulable(); why != "" {
			return plan, fmt.Errorf("cluster volume %s lives on %s, which %s: make that node take tasks first", homeVol, home, why)
		}
		node, plan.By = *home, PinByClusterVolume+" "+homeVol
	} else {
		if cl.SelfNodeID == "" {
			return plan, fmt.Errorf("cannot tell which swarm node this docker CLI talks to: choose one with --pin NODE")
		}
		n, err := cl.Resolve(cl.SelfNodeID)
		if err != nil {
			// Info knows the ID but NodeList does not: trust Info.
			n = stateful.Node{ID: cl.SelfNodeID, State: swarm.NodeStateReady}
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
