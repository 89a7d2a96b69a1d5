// Package move moves a pinned Redis service to another node with its data:
// a backup under the cut, an update that pins the new node (where its named
// volume starts empty) and keeps clients out, a verified restore, and an
// update back to the service's own spec; any failure rolls back to the old
// node and its untouched volume.
package move

import (
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// DefaultTempPort is the container port the new Redis listens on while the
// data is restored: not the one clients reach.
const DefaultTempPort = 6380

// PlanInput is what the plan is made from (read by the caller).
type PlanInput struct {
	Service   swarm.Service
	Cluster   stateful.Cluster
	To        string   // node name, ID, unique prefix or "self"
	ImageCmd  []string // the image's CMD, used when the spec sets neither command nor args
	ImageVols []string // the image's VOLUMEs
	RedisPort uint32   // container port clients reach, 0 = 6379
	TempPort  uint32   // 0 = DefaultTempPort
}

// Plan is a move, computed without I/O.
type Plan struct {
	Service   string
	ServiceID string
	From      stateful.Node
	To        stateful.Node
	DataPaths []string
	// Volumes are the named volumes of the data paths, as the tasks name them
	// (a {{.Task.Slot}} source rendered for slot 1).
	Volumes   []string
	RedisPort uint32
	TempPort  uint32
	// Original is the spec now (the rollback target), Moving the spec that
	// pins To and makes Redis listen on TempPort only (published on a
	// host-mode port the engine chooses), Final the spec that pins To and is
	// otherwise Original.
	Original, Moving, Final swarm.ServiceSpec
	MovingArgs              []string
}

// Refusal is a move refused before anything is done (exit 1).
type Refusal struct{ Msg string }

func (r *Refusal) Error() string { return r.Msg }

func refuse(f string, a ...any) error { return &Refusal{Msg: fmt.Sprintf(f, a...)} }

// MakePlan checks that the service can be moved to in.To and computes the specs.
func MakePlan(in PlanInput) (*Plan, error) {
	svc := in.Service
	spec := svc.Spec
	name := spec.Name
	if in.RedisPort == 0 {
		in.RedisPort = 6379
	}
	if in.TempPort == 0 {
		in.TempPort = DefaultTempPort
	}
	if in.TempPort == in.RedisPort {
		return nil, refuse("the temporary port %d is Redis' own port: choose another --temp-port", in.TempPort)
	}
	cs := spec.TaskTemplate.ContainerSpec
	if cs == nil {
		return nil, refuse("service %s is not a container service", name)
	}
	if r, ok := stateful.Replicas(spec); !ok || r != 1 {
		what := "global"
		if ok {
			what = strconv.FormatUint(r, 10) + " replicas"
		}
		return nil, refuse("service %s has %s: move takes a service with one replica (its Redis is reached through one published port)", name, what)
	}
	pins := stateful.Pins(stateful.Constraints(spec))
	if len(pins) != 1 {
		return nil, refuse("service %s is pinned to %d nodes (node.id==/node.hostname== constraints): move takes a service pinned to one node", name, len(pins))
	}
	from, ok := in.Cluster.PinnedNode(pins[0])
	if !ok {
		return nil, refuse("service %s is pinned by %s, which names no node of this swarm", name, pins[0].Constraint)
	}
	to, err := in.Cluster.Resolve(in.To)
	if err != nil {
		return nil, refuse("--to %s: %v", in.To, err)
	}
	if to.ID == from.ID {
		return nil, refuse("service %s is already pinned to node %s", name, to.Hostname)
	}
	if why := to.Schedulable(); why != "" {
		return nil, refuse("--to %s: node %s %s; nothing was changed", in.To, to.Hostname, why)
	}
	if !publishes(spec, in.RedisPort) {
		return nil, refuse("service %s publishes no port for Redis (target port %d): move reaches Redis through it (publish one, or --redis-port)", name, in.RedisPort)
	}
	if publishes(spec, in.TempPort) {
		return nil, refuse("service %s already publishes target port %d: choose another --temp-port", name, in.TempPort)
	}
	if len(cs.Command) > 0 && path.Base(cs.Command[0]) != "redis-server" {
		return nil, refuse("service %s runs %q: move passes --port %d to redis-server as arguments and cannot with another command", name, strings.Join(cs.Command, " "), in.TempPort)
	}
	base := cs.Args
	if len(cs.Command) == 0 && len(cs.Args) == 0 {
		if len(in.ImageCmd) == 0 {
			return nil, refuse("service %s sets no arguments and its image's CMD is not known: cannot add --port %d", name, in.TempPort)
		}
		base = in.ImageCmd
	}

	p := &Plan{Service: name, ServiceID: svc.ID, From: from, To: to, RedisPort: in.RedisPort, TempPort: in.TempPort, Original: spec}
	mounts := stateful.Mounts(spec)
	for _, dp := range stateful.DataPathsOf(spec, in.ImageVols, nil) {
		m, ok := stateful.MountFor(mounts, dp.Path)
		if !ok || !stateful.IsPersistent(m) {
			return nil, refuse("service %s keeps %s on no named volume: its data would not outlive the move's restarts (make it safe first: docker stateful adopt %s)", name, dp.Path, name)
		}
		p.DataPaths = append(p.DataPaths, dp.Path)
		if m.Source != "" {
			p.Volumes = appendUnique(p.Volumes, strings.ReplaceAll(strings.ReplaceAll(m.Source, " ", ""), "{{.Task.Slot}}", "1"))
		}
	}
	if len(p.DataPaths) == 0 {
		return nil, refuse("service %s has no data path: there is nothing to move (a plain docker service update --constraint-add moves it)", name)
	}

	p.Final = repin(spec, pins[0].Constraint, to.ID)
	p.Moving = repin(spec, pins[0].Constraint, to.ID)
	p.MovingArgs = append(append([]string{}, base...), "--port", strconv.Itoa(int(in.TempPort)))
	p.Moving.TaskTemplate.ContainerSpec.Args = p.MovingArgs
	if p.Moving.EndpointSpec == nil {
		p.Moving.EndpointSpec = &swarm.EndpointSpec{}
	}
	p.Moving.EndpointSpec.Ports = append(p.Moving.EndpointSpec.Ports, swarm.PortConfig{
		Protocol: swarm.PortConfigProtocolTCP, TargetPort: in.TempPort, PublishMode: swarm.PortConfigPublishModeHost})
	return p, nil
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

func publishes(spec swarm.ServiceSpec, target uint32) bool {
	if spec.EndpointSpec == nil {
		return false
	}
	for _, pc := range spec.EndpointSpec.Ports {
		if pc.TargetPort == target && (pc.Protocol == "" || pc.Protocol == swarm.PortConfigProtocolTCP) {
			return true
		}
	}
	return false
}

// repin returns a deep copy of spec with the pin constraint old replaced by
// node.id==nodeID and the pin label (when recorded) set to nodeID.
func repin(spec swarm.ServiceSpec, old, nodeID string) swarm.ServiceSpec {
	out := deepCopy(spec)
	cons := out.TaskTemplate.Placement.Constraints
	for i, c := range cons {
		if c == old {
			cons[i] = stateful.PinConstraint(nodeID)
		}
	}
	if _, ok := out.Labels[stateful.LabelPin]; ok {
		out.Labels[stateful.LabelPin] = nodeID
	}
	return out
}

// deepCopy copies a spec through JSON: a spec has pointers and slices at
// every level, and the API sends it as JSON anyway.
func deepCopy(spec swarm.ServiceSpec) swarm.ServiceSpec {
	b, err := json.Marshal(spec)
	if err != nil {
		panic(err) // a spec read from the API always marshals
	}
	var out swarm.ServiceSpec
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

// Steps says what the move will do, one line each (the --dry-run plan).
func (p *Plan) Steps() []string {
	vols := strings.Join(p.Volumes, ", ")
	return []string{
		fmt.Sprintf("Back up every key of service %s's Redis on node %s (writes paused from here: the cut)", p.Service, p.From.Hostname),
		fmt.Sprintf("Update the service: pin node.id==%s (node %s); Redis listens on port %d only, published on a temporary host-mode port, so clients of port %d get \"connection refused\"; volume %s is created empty there", p.To.ID, p.To.Hostname, p.TempPort, p.RedisPort, vols),
		fmt.Sprintf("Wait for the old task to stop (its Redis saves the cut into %s on node %s) and for the new Redis", vols, p.From.Hostname),
		"Restore the keys through the temporary port, verify them against the cut's fingerprint, SAVE",
		fmt.Sprintf("Update the service back to its own arguments and ports (still pinned to %s): the new Redis loads the restored data; verify again; writes are open again (the write downtime ends)", p.To.Hostname),
		fmt.Sprintf("Keep the old volume %s on node %s (never deleted by move)", vols, p.From.Hostname),
		fmt.Sprintf("On any failure: update the service back to its original spec (node %s and its untouched volume) and verify it against the cut", p.From.Hostname),
	}
}

// ReplicationSteps says what a replication move will do (the --dry-run plan).
func (p *Plan) ReplicationSteps() []string {
	vols := strings.Join(p.Volumes, ", ")
	return []string{
		fmt.Sprintf("Start a temporary replica service %s pinned to node %s (volume %s created empty there), Redis on port %d only, published on a temporary host-mode port", ReplicaName(p.Service), p.To.Hostname, vols, p.TempPort),
		fmt.Sprintf("Make it a replica of the service's Redis on node %s and wait until it is in sync (clients keep writing)", p.From.Hostname),
		fmt.Sprintf("Handoff: pause writes on node %s (the write downtime starts), wait until the replica has the source's replication offset, detach it (REPLICAOF NO ONE) and SAVE it", p.From.Hostname),
		fmt.Sprintf("Update the service to pin node.id==%s (node %s), order start-first for this update only (the tasks are on two nodes, two volumes): the new task loads the replica's copy while the old one, paused, still runs; writes are open again (the write downtime ends); the old task then stops, its Redis saving the cut into %s on node %s; the service's own update order is set back", p.To.ID, p.To.Hostname, vols, p.From.Hostname),
		"Meanwhile fingerprint the detached replica (the cut), then remove it; check the new process against that fingerprint",
		fmt.Sprintf("Keep the old volume %s on node %s (never deleted by move)", vols, p.From.Hostname),
		fmt.Sprintf("On any failure: update the service back to its original spec (node %s and its untouched volume) and verify it against the cut; when replication cannot work (old target image, REPLICAOF/PSYNC renamed or refused, a resync loop), move by copy instead and say why", p.From.Hostname),
	}
}
