// Package drain empties a node of the data it holds before it is drained:
// every service whose data lives on the node (pinned to it, on node-local
// volumes) is moved, verified, to another node, one after the other, and only
// then is the node's availability set to drain. A plain `docker node update
// --availability drain` cannot do this: a pinned task has nowhere to go, and
// an unpinned one starts elsewhere on an empty local volume.
package drain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/exitcode"
	"github.com/docker-stateful/docker-stateful/plugin/move"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// API is the part of the Docker API drain uses (client.APIClient has it).
type API interface {
	NodeList(ctx context.Context, options swarm.NodeListOptions) ([]swarm.Node, error)
	NodeInspectWithRaw(ctx context.Context, nodeID string) (swarm.Node, []byte, error)
	NodeUpdate(ctx context.Context, nodeID string, version swarm.Version, node swarm.NodeSpec) error
	ServiceList(ctx context.Context, options swarm.ServiceListOptions) ([]swarm.Service, error)
	TaskList(ctx context.Context, options swarm.TaskListOptions) ([]swarm.Task, error)
}

// MoveFunc moves one service to node to (a node ID), or with dryRun only
// plans the move: move.Mover.Run with a flow of that service's own.
type MoveFunc func(ctx context.Context, service, to string, dryRun bool) (*move.Result, error)

// Options are the command's choices.
type Options struct {
	Node   string // the node to drain: name, ID, unique ID prefix or "self"
	To     string // the target of every move, "" = chosen per service
	DryRun bool
	Force  bool // drain even when some services cannot be moved
	// SelfNodeID resolves "self" (Info().Swarm.NodeID), "" when not needed.
	SelfNodeID string
	// Engine names the engine update --verify would check for a service
	// ("redis", "postgres", "" for another image).
	Engine func(swarm.Service) string
	// ImageVolumes returns the VOLUMEs of a service's image (nil when unknown).
	ImageVolumes func(ctx context.Context, image string) []string
	// MoveMethod is move's --method: move.MethodReplication ("" too) or move.MethodCopy.
	MoveMethod string
}

// Item verdicts, beside move's own (moved, planned, rolled_back, failed, refused, error).
const (
	ItemBlocked    = "blocked"     // cannot be moved: Why says why
	ItemNotReached = "not_reached" // drain stopped before its turn
)

// Drain verdicts.
const (
	VerdictDrained     = "drained"     // every service moved (or --force), node drained
	VerdictPlanned     = "planned"     // --dry-run
	VerdictBlocked     = "blocked"     // some services cannot move; nothing changed
	VerdictStopped     = "stopped"     // a move failed; the node was not drained
	VerdictInterrupted = "interrupted" // Ctrl-C; the node was not drained
)

// Item is one service holding data on the node.
type Item struct {
	Service string       `json:"service"`
	Engine  string       `json:"engine"`
	Volumes []string     `json:"volumes"`
	To      string       `json:"to,omitempty"`    // the target's hostname
	ToID    string       `json:"to_id,omitempty"` // and ID, which the move is given
	Method  string       `json:"method,omitempty"`
	Why     string       `json:"why,omitempty"` // why it cannot move (blocked)
	Verdict string       `json:"verdict"`
	Move    *move.Result `json:"move,omitempty"`
}

// Result is what drain reports (--format json).
type Result struct {
	Node    string `json:"node"`
	NodeID  string `json:"node_id"`
	Items   []Item `json:"services"`
	Drained bool   `json:"drained"`
	Verdict string `json:"verdict"`
	Error   string `json:"error,omitempty"`
}

// MethodBackupRestore is how move carries Redis data today: a backup under
// the cut, a verified restore on the target, two task restarts.
const MethodBackupRestore = "backup+restore (writes paused: two task restarts and the copy)"

// MethodReplication is how move carries Redis data by default: a replica on
// the target syncs while clients write, writes pause for one task restart.
const MethodReplication = "replication (writes paused: one task restart; falls back to backup+restore)"

// Drainer drains one node.
type Drainer struct {
	API  API
	Move MoveFunc
	Opt  Options
	Log  io.Writer
}

func (d *Drainer) say(f string, a ...any) {
	if d.Log != nil {
		fmt.Fprintf(d.Log, f+"\n", a...)
	}
}

// Run plans the drain, and unless DryRun moves every service and drains the
// node. The result is filled also on failure; the error carries the exit
// status (1 refused or stopped, 2 undecidable, 130 interrupted).
func (d *Drainer) Run(ctx context.Context) (*Result, error) {
	res := &Result{Node: d.Opt.Node, Verdict: VerdictBlocked}
	nodes, err := d.API.NodeList(ctx, swarm.NodeListOptions{})
	if err != nil {
		return res, d.fail(res, exitcode.Undecidable(err))
	}
	cluster := stateful.Cluster{SelfNodeID: d.Opt.SelfNodeID, Nodes: stateful.NodesFrom(nodes)}
	node, err := cluster.Resolve(d.Opt.Node)
	if err != nil {
		return res, d.fail(res, exitcode.Refused(fmt.Errorf("node %s: %v", d.Opt.Node, err)))
	}
	res.Node, res.NodeID = node.Hostname, node.ID
	var to *swarm.Node
	if d.Opt.To != "" {
		t, err := cluster.Resolve(d.Opt.To)
		if err != nil {
			return res, d.fail(res, exitcode.Refused(fmt.Errorf("--to %s: %v", d.Opt.To, err)))
		}
		if t.ID == node.ID {
			return res, d.fail(res, exitcode.Refused(fmt.Errorf("--to %s: that is the node being drained", d.Opt.To)))
		}
		if why := t.Schedulable(); why != "" {
			return res, d.fail(res, exitcode.Refused(fmt.Errorf("--to %s: node %s %s; nothing was changed", d.Opt.To, t.Hostname, why)))
		}
		to = findNode(nodes, t.ID)
	}
	services, err := d.API.ServiceList(ctx, swarm.ServiceListOptions{})
	if err != nil {
		return res, d.fail(res, exitcode.Undecidable(err))
	}
	tasks, err := d.API.TaskList(ctx, swarm.TaskListOptions{})
	if err != nil {
		return res, d.fail(res, exitcode.Undecidable(err))
	}
	res.Items = d.plan(ctx, node, to, nodes, services, tasks)

	// The plan: each movable service through move's own dry run, which
	// refuses what move cannot do (no published port, several replicas, ...).
	for i := range res.Items {
		it := &res.Items[i]
		if it.Verdict == ItemBlocked {
			continue
		}
		mr, err := d.Move(ctx, it.Service, it.ToID, true)
		if err != nil {
			it.Verdict, it.Why = ItemBlocked, oneLine(err)
			continue
		}
		it.Move, it.Verdict = mr, move.VerdictPlanned
	}
	blocked := 0
	for _, it := range res.Items {
		if it.Verdict == ItemBlocked {
			blocked++
		}
	}
	if d.Opt.DryRun {
		res.Verdict = VerdictPlanned
		if blocked > 0 && !d.Opt.Force {
			// A dry run that would be refused exits 1, as every dry run does.
			return res, d.fail(res, exitcode.Refused(fmt.Errorf("%d service(s) holding data on node %s cannot be moved (%s): node %s would not be drained (--force drains it anyway)",
				blocked, node.Hostname, blockedNames(res.Items), node.Hostname)))
		}
		return res, nil
	}
	if blocked > 0 && !d.Opt.Force {
		err := fmt.Errorf("%d service(s) holding data on node %s cannot be moved (%s): nothing was changed; fix them, or drain anyway with --force (they stop, or start on an empty volume)",
			blocked, node.Hostname, blockedNames(res.Items))
		return res, d.fail(res, exitcode.Refused(err))
	}

	// The moves, one after the other; the first that does not end moved
	// stops the drain before the node is touched.
	for i := range res.Items {
		it := &res.Items[i]
		if it.Verdict == ItemBlocked {
			continue
		}
		if ctx.Err() != nil {
			return d.stop(res, i, VerdictInterrupted, fmt.Errorf("interrupted: %w", ctx.Err()))
		}
		d.say("Service %d/%d: moving %s (%s) from node %s to node %s", i+1, len(res.Items), it.Service, it.Engine, node.Hostname, it.To)
		mr, err := d.Move(ctx, it.Service, it.ToID, false)
		it.Move = mr
		it.Verdict = move.VerdictError
		if mr != nil {
			it.Verdict = mr.Verdict
			switch {
			case mr.Fallback != "":
				it.Method = MethodBackupRestore + "; replication could not be used: " + mr.Fallback
			case mr.Method == move.MethodCopy:
				it.Method = MethodBackupRestore
			}
		}
		if err != nil || it.Verdict != move.VerdictMoved {
			if err == nil {
				err = fmt.Errorf("service %s: move ended %s", it.Service, it.Verdict)
			}
			verdict := VerdictStopped
			if ctx.Err() != nil {
				verdict, err = VerdictInterrupted, fmt.Errorf("interrupted: %w", ctx.Err())
			}
			return d.stop(res, i+1, verdict, fmt.Errorf("service %s was not moved: %w", it.Service, err))
		}
	}

	// Every service is off the node: drain it.
	n, _, err := d.API.NodeInspectWithRaw(ctx, node.ID)
	if err != nil {
		return d.stop(res, len(res.Items), VerdictStopped, exitcode.Undecidable(err))
	}
	if n.Spec.Availability != swarm.NodeAvailabilityDrain {
		spec := n.Spec
		spec.Availability = swarm.NodeAvailabilityDrain
		if err := d.API.NodeUpdate(ctx, n.ID, n.Version, spec); err != nil {
			return d.stop(res, len(res.Items), VerdictStopped, exitcode.Undecidable(fmt.Errorf("setting node %s to drain: %w", node.Hostname, err)))
		}
	}
	res.Drained, res.Verdict = true, VerdictDrained
	d.say("Node %s drained: %d service(s) moved%s", node.Hostname, len(res.Items)-blocked, forced(blocked))
	return res, nil
}

func forced(blocked int) string {
	if blocked == 0 {
		return ""
	}
	return fmt.Sprintf(", %d left behind (--force)", blocked)
}

// stop ends a drain that did not finish: the services from index next on
// were not reached, and the node keeps its availability.
func (d *Drainer) stop(res *Result, next int, verdict string, err error) (*Result, error) {
	for i := next; i < len(res.Items); i++ {
		if res.Items[i].Verdict != ItemBlocked {
			res.Items[i].Verdict = ItemNotReached
		}
	}
	res.Verdict = verdict
	var moved []string
	for _, it := range res.Items {
		if it.Verdict == move.VerdictMoved {
			moved = append(moved, it.Service+" → "+it.To)
		}
	}
	what := "no service was moved"
	if len(moved) > 0 {
		what = "moved and verified: " + strings.Join(moved, ", ")
	}
	d.say("Drain of node %s stopped: %s; node %s was not drained (its availability is unchanged)", res.Node, what, res.Node)
	return res, d.fail(res, err)
}

func (d *Drainer) fail(res *Result, err error) error {
	res.Error = oneLine(err)
	return err
}

// plan lists the services whose data lives on node: pinned to it with data
// on node-local volumes (movable when a target is found), and services with
// node-local data that run there unpinned (a drain would restart them on an
// empty volume elsewhere: blocked, with the fix).
func (d *Drainer) plan(ctx context.Context, node stateful.Node, to *swarm.Node, nodes []swarm.Node, services []swarm.Service, tasks []swarm.Task) []Item {
	runsOn := map[string]bool{} // service ID → a running task on node
	for _, t := range tasks {
		if t.NodeID == node.ID && t.DesiredState == swarm.TaskStateRunning {
			runsOn[t.ServiceID] = true
		}
	}
	cluster := stateful.Cluster{Nodes: stateful.NodesFrom(nodes)}
	var items []Item
	for _, svc := range services {
		spec := svc.Spec
		var imgVols []string
		if d.Opt.ImageVolumes != nil {
			imgVols = d.Opt.ImageVolumes(ctx, stateful.Image(spec))
		}
		vols, local := nodeLocalData(spec, imgVols)
		if !local {
			continue
		}
		pins := stateful.Pins(stateful.Constraints(spec))
		pinnedHere := false
		for _, p := range pins {
			if n, ok := cluster.PinnedNode(p); ok && n.ID == node.ID {
				pinnedHere = true
			}
		}
		if !pinnedHere && !runsOn[svc.ID] {
			continue
		}
		it := Item{Service: spec.Name, Volumes: vols, Verdict: move.VerdictPlanned}
		if d.Opt.Engine != nil {
			it.Engine = d.Opt.Engine(svc)
		}
		switch {
		case !pinnedHere:
			it.Verdict, it.Why = ItemBlocked, fmt.Sprintf("runs on node %s with its data on a node-local volume but is not pinned: drained, it would restart elsewhere on an empty volume (pin it first: docker stateful adopt %s)", node.Hostname, spec.Name)
		case it.Engine != "redis":
			it.Verdict, it.Why = ItemBlocked, blockedEngine(it.Engine)
		default:
			target, why := chooseTarget(spec, node.ID, to, nodes)
			if why != "" {
				it.Verdict, it.Why = ItemBlocked, why
			} else {
				it.To, it.ToID, it.Method = target.Description.Hostname, target.ID, MethodReplication
				if d.Opt.MoveMethod == move.MethodCopy {
					it.Method = MethodBackupRestore
				}
			}
		}
		items = append(items, it)
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].Service < items[j].Service })
	return items
}

func blockedEngine(engine string) string {
	switch engine {
	case "":
		return "no engine docker stateful can move and verify (an image it does not know): move its data by hand, then pin it to another node"
	case "postgres":
		return "PostgreSQL services cannot be moved yet (docker stateful move carries Redis data only): back it up and restore it on another node by hand"
	}
	return engine + " services cannot be moved yet (docker stateful move carries Redis data only)"
}

// nodeLocalData returns the volumes (or bind sources) of the service's data
// paths that live on one node, and whether there is any.
func nodeLocalData(spec swarm.ServiceSpec, imageVolumes []string) ([]string, bool) {
	mounts := stateful.Mounts(spec)
	var out []string
	local := false
	for _, dp := range stateful.DataPathsOf(spec, imageVolumes, nil) {
		m, ok := stateful.MountFor(mounts, dp.Path)
		if !ok || !stateful.IsPersistent(m) || !stateful.IsNodeLocal(m) {
			continue
		}
		local = true
		if m.Source != "" {
			out = append(out, m.Source)
		}
	}
	return out, local
}

// chooseTarget is --to, or the first Ready, Active node (managers first,
// then by hostname) other than the drained one that meets the service's
// other placement constraints and its resource reservations.
func chooseTarget(spec swarm.ServiceSpec, drained string, to *swarm.Node, nodes []swarm.Node) (swarm.Node, string) {
	var others []string
	for _, c := range stateful.Constraints(spec) {
		if len(stateful.Pins([]string{c})) == 0 {
			others = append(others, c)
		}
	}
	if to != nil {
		if why := fits(*to, others, spec); why != "" {
			return swarm.Node{}, fmt.Sprintf("--to %s: %s", to.Description.Hostname, why)
		}
		return *to, ""
	}
	cands := append([]swarm.Node(nil), nodes...)
	sort.SliceStable(cands, func(i, j int) bool {
		mi, mj := cands[i].Spec.Role == swarm.NodeRoleManager, cands[j].Spec.Role == swarm.NodeRoleManager
		if mi != mj {
			return mi
		}
		return cands[i].Description.Hostname < cands[j].Description.Hostname
	})
	var whys []string
	for _, n := range cands {
		if n.ID == drained {
			continue
		}
		if why := stateful.NodesFrom([]swarm.Node{n})[0].Schedulable(); why != "" {
			whys = append(whys, n.Description.Hostname+" "+why)
			continue
		}
		if why := fits(n, others, spec); why != "" {
			whys = append(whys, n.Description.Hostname+": "+why)
			continue
		}
		return n, ""
	}
	if len(whys) == 0 {
		return swarm.Node{}, "no other node in this swarm"
	}
	return swarm.Node{}, "no other node fits: " + strings.Join(whys, "; ")
}

// fits says why the service cannot run on n ("" when it can): a placement
// constraint n does not meet, or a reservation larger than n's resources.
func fits(n swarm.Node, constraints []string, spec swarm.ServiceSpec) string {
	for _, c := range constraints {
		ok, known := Matches(c, n)
		if known && !ok {
			return "does not meet constraint " + c
		}
	}
	if r := spec.TaskTemplate.Resources; r != nil && r.Reservations != nil {
		res := n.Description.Resources
		if r.Reservations.NanoCPUs > 0 && res.NanoCPUs > 0 && r.Reservations.NanoCPUs > res.NanoCPUs {
			return fmt.Sprintf("has %.2f CPUs, the service reserves %.2f", float64(res.NanoCPUs)/1e9, float64(r.Reservations.NanoCPUs)/1e9)
		}
		if r.Reservations.MemoryBytes > 0 && res.MemoryBytes > 0 && r.Reservations.MemoryBytes > res.MemoryBytes {
			return fmt.Sprintf("has %d MiB of memory, the service reserves %d MiB", res.MemoryBytes>>20, r.Reservations.MemoryBytes>>20)
		}
	}
	return ""
}

// Matches evaluates one swarm placement constraint (KEY==VALUE or
// KEY!=VALUE) against node n, as swarmkit does for the keys it knows:
// node.id, node.hostname, node.role, node.platform.os/arch, node.labels.*,
// engine.labels.*. known is false for a key it does not know (taken as met).
func Matches(constraint string, n swarm.Node) (ok, known bool) {
	eq := true
	key, value, found := strings.Cut(constraint, "==")
	if !found {
		key, value, found = strings.Cut(constraint, "!=")
		eq = false
	}
	if !found {
		return false, false
	}
	key, value = strings.TrimSpace(key), strings.TrimSpace(value)
	var have string
	var present bool
	switch lk := strings.ToLower(key); {
	case lk == "node.id":
		have, present = n.ID, true
	case lk == "node.hostname":
		have, present = n.Description.Hostname, true
	case lk == "node.role":
		have, present = string(n.Spec.Role), true
	case lk == "node.platform.os":
		have, present = n.Description.Platform.OS, true
	case lk == "node.platform.arch":
		have, present = n.Description.Platform.Architecture, true
	case strings.HasPrefix(lk, "node.labels."):
		have, present = n.Spec.Labels[key[len("node.labels."):]]
	case strings.HasPrefix(lk, "engine.labels."):
		have, present = n.Description.Engine.Labels[key[len("engine.labels."):]]
	default:
		return false, false
	}
	// swarmkit compares case-insensitively; a missing label never equals.
	same := present && strings.EqualFold(have, value)
	if eq {
		return same, true
	}
	return !same, true
}

func findNode(nodes []swarm.Node, id string) *swarm.Node {
	for i := range nodes {
		if nodes[i].ID == id {
			return &nodes[i]
		}
	}
	return nil
}

func blockedNames(items []Item) string {
	var names []string
	for _, it := range items {
		if it.Verdict == ItemBlocked {
			names = append(names, it.Service)
		}
	}
	return strings.Join(names, ", ")
}

func oneLine(err error) string {
	if err == nil {
		return ""
	}
	var r *move.Refusal
	if errors.As(err, &r) {
		return r.Msg
	}
	return strings.ReplaceAll(err.Error(), "\n", " ")
}
