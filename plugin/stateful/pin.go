package stateful

import (
	"strings"

	"github.com/docker/docker/api/types/swarm"
)

// Pin is a placement constraint that keeps a service's tasks on one node.
type Pin struct {
	Constraint string // as written, e.g. "node.id==abc"
	Key        string // "node.id" or "node.hostname"
	Value      string
}

// PinConstraint is the constraint docker stateful adds to pin to a node ID.
// Node IDs, unlike hostnames, do not change and cannot repeat.
func PinConstraint(nodeID string) string { return "node.id==" + nodeID }

// Pins returns the constraints that name exactly one node (node.id== or
// node.hostname==).
func Pins(constraints []string) []Pin {
	var out []Pin
	for _, c := range constraints {
		key, value, ok := strings.Cut(c, "==")
		if !ok {
			continue
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if key == "node.id" || key == "node.hostname" {
			out = append(out, Pin{Constraint: c, Key: key, Value: value})
		}
	}
	return out
}

// Constraints returns the service's placement constraints.
func Constraints(spec swarm.ServiceSpec) []string {
	if p := spec.TaskTemplate.Placement; p != nil {
		return p.Constraints
	}
	return nil
}

// Replicas returns the replica count of a replicated service; 0 with false
// for global services (one task per node: each has its own local volume).
func Replicas(spec swarm.ServiceSpec) (uint64, bool) {
	if r := spec.Mode.Replicated; r != nil && r.Replicas != nil {
		return *r.Replicas, true
	}
	if spec.Mode.Replicated != nil {
		return 1, true
	}
	return 0, false
}

// Matches reports whether the pin names node n.
func (p Pin) Matches(n Node) bool {
	if p.Key == "node.id" {
		return p.Value == n.ID
	}
	return p.Value == n.Hostname
}

// Placed reports whether constraints keep the tasks on chosen nodes: a pin
// (node.id== or node.hostname==), or a node.labels constraint, taken as a
// deliberate placement since it cannot be evaluated without node labels.
func Placed(constraints []string) bool {
	if len(Pins(constraints)) > 0 {
		return true
	}
	for _, con := range constraints {
		k, _, ok := strings.Cut(con, "==")
		if ok && strings.HasPrefix(strings.TrimSpace(k), "node.labels.") {
			return true
		}
	}
	return false
}
