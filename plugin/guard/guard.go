// Package guard decides whether a service update would lose data. It compares
// the service's current spec with the exact spec docker computed for the
// update (or, for a rollback, the previous spec the daemon will restore) and
// lists every problem, one clear sentence each, with the flags that fix it.
//
// The guard reasons from the specs alone (plus facts the caller looks up:
// the image's declared VOLUMEs, the nodes and where the tasks run), with the
// shared model of where each data path lives (stateful.Location) and, for
// images it knows, what their command line does with the data (command.go),
// so it handles services that docker stateful did not create, and is
// unit-tested without a daemon. The hook's hint is its verdict on the next
// update that replaces the task.
package guard

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/createspec"
	"github.com/docker-stateful/docker-stateful/plugin/finding"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// Rules, as reported in Problem.Code (and in --format json).
const (
	// RuleEphemeralData: a data path is (or would be) on an anonymous volume,
	// a tmpfs or the container's own filesystem, which an update throws away.
	RuleEphemeralData = "ephemeral-data"
	// RuleDataMount: the update removes, retargets or re-sources the mount
	// that holds a data path.
	RuleDataMount = "data-mount"
	// RulePin: the update removes or changes the placement that keeps the
	// task on the node holding its local volume.
	RulePin = "pin"
	// RuleUnpinned: a local volume holds the data but nothing keeps the
	// task on its node, so the update may start it elsewhere, empty.
	RuleUnpinned = "unpinned"
	// RuleStartFirst: start-first update (or rollback) order runs two
	// containers on one data directory.
	RuleStartFirst = "start-first"
	// RuleStopGrace: the stop grace period shrinks below what the service
	// had, so it may be killed before it has saved.
	RuleStopGrace = "stop-grace-period"
	// RuleSharedVolume: more than one replica would share one data volume.
	RuleSharedVolume = "shared-volume"
	// RuleNowhere: the update replaces the task, but the node the service is
	// pinned to takes no new task (drained, paused, down or gone): the old
	// task stops and the new one can run nowhere.
	RuleNowhere = "nowhere-to-run"
)

// Input is what the guard looks at.
type Input struct {
	// Service is the service's name, used in the messages.
	Service string
	// Current is the spec the service runs now; New the spec that will apply
	// after the update (for a rollback: the current PreviousSpec).
	Current, New swarm.ServiceSpec
	// ImageVolumes are the VOLUMEs declared by the images of both specs, by
	// image reference, as found on the CLI's daemon (missing when the image
	// is not there: the labels and the known-images table still apply).
	ImageVolumes map[string][]string
	// Extra are data paths named by the user (--data).
	Extra []string
	// TaskNodes are the IDs of the nodes running the service's tasks now.
	TaskNodes []string
	// Nodes are the swarm's nodes (nil when unknown: then the guard assumes
	// there are several).
	Nodes []stateful.Node
	// Rollback is set when New is the previous spec of a rollback.
	Rollback bool
	// ClusterVolumes are the cluster (CSI) volumes the specs mount, by name
	// (stateful.LookupClusterVolumes; missing ones are judged by the mount).
	ClusterVolumes map[string]stateful.CSIVolume
	// Versions are the server versions before and after an image change
	// (versions.go); zero when not gathered.
	Versions Versions
}

// Problem is one reason to refuse (or, as a warning, to worry about) an
// update: docker stateful's one shape of a problem (code, path, message, fix).
type Problem = finding.Finding

// Report is the guard's verdict: the update is allowed when Problems is
// empty. Warnings never block.
type Report struct {
	DataPaths []string  `json:"data_paths"`
	Problems  []Problem `json:"problems"`
	Warnings  []Problem `json:"warnings,omitempty"`
}

// Allowed reports whether the update may be sent without --force.
func (r Report) Allowed() bool { return len(r.Problems) == 0 }

// dataPaths returns the paths that hold the service's state before or after
// the update (stateful.DataPathsOf): every data path of the current spec,
// including the writable named volumes it mounts, since a service docker
// stateful did not create may keep its state anywhere it mounted a volume,
// and the declared data paths of the new spec.
func dataPaths(in Input) []string {
	return stateful.MergePaths(
		stateful.Paths(stateful.DataPathsOf(in.Current, in.ImageVolumes[stateful.Image(in.Current)], in.Extra)),
		stateful.Paths(stateful.Declared(stateful.DataPathsOf(in.New, in.ImageVolumes[stateful.Image(in.New)], in.Extra))))
}

// Check applies every rule to the update described by in.
func Check(in Input) Report {
	r := Report{DataPaths: dataPaths(in)}
	if len(r.DataPaths) == 0 {
		return r
	}
	c := checker{in: in, report: &r}
	c.ephemeralAndMounts()
	c.pins()
	c.clusterVolumes()
	c.placement()
	c.nowhere()
	c.command()
	c.versions()
	c.order()
	c.stopGrace()
	c.replicas()
	return r
}

type checker struct {
	in     Input
	report *Report
}

func (c checker) refuse(rule, p, format string, args ...any) {
	c.report.Problems = append(c.report.Problems, Problem{Code: rule, Path: p, Message: fmt.Sprintf(format, args...)})
}

func (c checker) warn(rule, p, format string, args ...any) {
	c.report.Warnings = append(c.report.Warnings, Problem{Code: rule, Path: p, Message: fmt.Sprintf(format, args...)})
}

// ephemeralAndMounts: every data path must be on persistent storage after the
// update, on the same mount as before.
func (c checker) ephemeralAndMounts() {
	for _, p := range c.report.DataPaths {
		cur, next := c.locate(c.in.Current, p), c.locate(c.in.New, p)
		curSafe, newSafe := cur.Persistent(), next.Persistent()
		live := c.hasCurrentData(p)
		if !curSafe && !newSafe && !c.replacesTasks() {
			c.warn(RuleEphemeralData, p, "%s is on %s: this update leaves the container running, but the next one that replaces it will lose the data. Put it on a named volume: %s",
				p, cur, c.fixCommand(p))
			continue
		}
		switch {
		case !curSafe && !newSafe && !c.isCurrentPath(p):
			c.refuse(RuleEphemeralData, p, "%s, a data path of %s, would be on %s, which any update loses: add --mount-add type=volume,source=%s,target=%s to this update",
				p, stateful.Image(c.in.New), next, c.volumeName(p), p)
		case !curSafe && !newSafe && live:
			c.refuse(RuleEphemeralData, p, "%s is on %s: any update replaces the container and loses it; the data there now cannot be kept by a plain update (it lives only in this task's %s). To keep data from now on, run: %s",
				p, cur, cur.Kind, c.fixCommand(p))
		case !curSafe && !newSafe:
			c.refuse(RuleEphemeralData, p, "%s is on %s: any update replaces the container and loses it. Put it on a named volume: %s",
				p, cur, c.fixCommand(p))
		case !curSafe && newSafe && live:
			c.refuse(RuleEphemeralData, p, "%s is on %s now: this update moves it to %s, but the data there now is not copied and will be lost (it lives only in this task's %s); copy it out first if you need it, then add --force",
				p, cur, next, cur.Kind)
		case !curSafe:
			// No task holds data there now: putting it on a volume is the fix.
		case !newSafe:
			what := "removes"
			if next.Mounted {
				what = "replaces it with " + next.String() + ", removing"
			}
			c.refuse(RuleDataMount, p, "the update %s %s that holds %s: the new task would start with no data (keep the mount, or use --force)", what, cur, p)
		case path.Clean(cur.Mount.Target) != path.Clean(next.Mount.Target):
			c.refuse(RuleDataMount, p, "the update retargets %s: %s would be on %s instead of %s (keep the mount as it is, or use --force)", p, p, next, cur)
		case !sameSource(cur.Mount, next.Mount):
			c.refuse(RuleDataMount, p, "the update re-sources the mount at %s from %s to %s: the data stays behind in the old one (keep the source, or use --force)", cur.Mount.Target, cur, next)
		case next.Mount.ReadOnly && !cur.Mount.ReadOnly:
			c.refuse(RuleDataMount, p, "the update makes %s read-only: the service can no longer write %s, so it cannot save its data (keep it writable, or use --force)", next, p)
		}
	}
}

// locate is where p lives in spec (stateful.Locate), with what is known of
// spec's image.
func (c checker) locate(spec swarm.ServiceSpec, p string) stateful.Location {
	vols, inspected := c.in.ImageVolumes[stateful.Image(spec)]
	return stateful.Locate(spec, p, stateful.ImageFacts{Volumes: vols, Inspected: inspected})
}

// replacesTasks reports whether the update replaces the service's tasks
// (stateful.ReplacesTasks).
func (c checker) replacesTasks() bool {
	return stateful.ReplacesTasks(c.in.Current, c.in.New)
}

// FixCommand is the update that puts the data paths ps of the service in
// on named volumes, pinned to the node running its task unless its
// placement already keeps it there: the fix the guard suggests, and the one
// the hook's hint prints.
func FixCommand(in Input, ps ...string) string {
	r := Report{DataPaths: dataPaths(in)}
	return checker{in: in, report: &r}.fixCommand(ps...)
}

// PinCommand is the update that pins the service in to the node running its
// task: the fix for RuleUnpinned.
func PinCommand(in Input) string {
	r := Report{DataPaths: dataPaths(in)}
	c := checker{in: in, report: &r}
	return fmt.Sprintf("docker stateful update --constraint-add %s %s", stateful.PinConstraint(c.pinNode()), c.name())
}

func (c checker) fixCommand(ps ...string) string {
	var b strings.Builder
	b.WriteString("docker stateful update")
	if slices.ContainsFunc(ps, c.hasCurrentData) {
		b.WriteString(" --force")
	}
	for _, p := range ps {
		fmt.Fprintf(&b, " --mount-add type=volume,source=%s,target=%s", c.volumeName(p), p)
	}
	if !c.global() && !stateful.Placed(stateful.Constraints(c.in.New)) {
		fmt.Fprintf(&b, " --constraint-add %s", stateful.PinConstraint(c.pinNode()))
	}
	b.WriteString(" " + c.name())
	return b.String()
}

// hasCurrentData reports whether a running task holds data in p now: then
// even the fix loses what is in its anonymous volume, hence --force.
func (c checker) hasCurrentData(p string) bool {
	return len(c.in.TaskNodes) > 0 && c.isCurrentPath(p)
}

// isCurrentPath reports whether p holds data in the current spec (and not
// only in the new one, e.g. a path of a new image).
func (c checker) isCurrentPath(p string) bool {
	for _, dp := range stateful.DataPathsOf(c.in.Current, c.in.ImageVolumes[stateful.Image(c.in.Current)], c.in.Extra) {
		if dp.Path == p {
			return true
		}
	}
	_, named := stateful.MountFor(stateful.NamedMounts(c.in.Current), p)
	return named
}

func (c checker) name() string {
	if c.in.Service != "" {
		return c.in.Service
	}
	return c.in.New.Name
}

// volumeName is the named volume suggested for p, named as docker stateful
// create names it: <service>-data, per path when there are several, per
// replica when there are several replicas.
func (c checker) volumeName(p string) string {
	n, _ := stateful.Replicas(c.in.New)
	return createspec.VolumeSource(c.name(), p, len(c.report.DataPaths) == 1, n > 1)
}

// pinNode is the node the fix should pin to: where the task runs now.
func (c checker) pinNode() string {
	if len(c.in.TaskNodes) > 0 {
		return c.in.TaskNodes[0]
	}
	for _, p := range stateful.Pins(stateful.Constraints(c.in.Current)) {
		if id := c.nodeID(p); id != "" {
			return id
		}
	}
	return "<NODE-ID>"
}

func (c checker) global() bool {
	_, replicated := stateful.Replicas(c.in.New)
	return !replicated
}

// pins: while a node-local volume holds the data, the task must stay on the
// node that has it.
func (c checker) pins() {
	if c.global() {
		return // one task per node, each with its own local volume
	}
	local := c.localDataPaths()
	if len(local) == 0 {
		return
	}
	what := fmt.Sprintf("%s (on %s)", strings.Join(local, ", "), c.localVolumes())
	curPins := stateful.Pins(stateful.Constraints(c.in.Current))
	newPins := stateful.Pins(stateful.Constraints(c.in.New))
	curNodes, newNodes := c.pinnedNodes(curPins), c.pinnedNodes(newPins)
	switch {
	case len(curPins) > 0 && len(newPins) == 0:
		c.refuse(RulePin, "", "the update removes the pin %s while a local volume holds %s: the task could start on another node with an empty volume (keep the constraint, or use --force)",
			joinConstraints(curPins), what)
	case len(curPins) > 0 && !slices.Equal(curNodes, newNodes):
		c.refuse(RulePin, "", "the update moves the pin from %s to %s while a local volume holds %s: the task would start on a node whose volume is empty (keep the constraint, or use --force)",
			joinConstraints(curPins), joinConstraints(newPins), what)
	case len(curPins) == 0 && len(newPins) > 0:
		// Pinning now: fine if it pins to where the data is.
		if running := c.runningNode(); running != "" && !slices.Contains(newNodes, running) {
			c.refuse(RulePin, "", "the update pins the service with %s, but its task runs on node %s, whose local volume holds %s: the task would restart on the pinned node, on that node's own volume, empty or holding other data (pin with --constraint-add %s instead, or use --force)",
				joinConstraints(newPins), running, what, stateful.PinConstraint(running))
		}
	case len(newPins) == 0 && !stateful.Placed(stateful.Constraints(c.in.New)):
		if c.singleNode() {
			return
		}
		fix := "pin it with --constraint-add " + stateful.PinConstraint(c.pinNode())
		if stateful.IsManaged(c.in.Current.Labels) && c.in.Current.Labels[stateful.LabelPin] == "" {
			c.warn(RuleUnpinned, "", "%s is on a local volume and the service was created with --no-pin: the update may start the task on another node with an empty volume (%s)", what, fix)
			return
		}
		c.refuse(RuleUnpinned, "", "a local volume holds %s but nothing pins the service to its node: the update may start the task on another node with an empty volume (%s, or use --force)", what, fix)
	}
}

// localDataPaths are the data paths held by persistent node-local mounts in
// the new spec (when the mount is ephemeral, other rules already refuse).
func (c checker) localDataPaths() []string {
	var out []string
	for _, p := range c.report.DataPaths {
		if c.locate(c.in.New, p).NodeLocal() {
			out = append(out, p)
		}
	}
	return out
}

func (c checker) localVolumes() string {
	var out []string
	for _, p := range c.localDataPaths() {
		if d := c.locate(c.in.New, p).String(); !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return strings.Join(out, ", ")
}

// nodeID resolves a pin to a node ID ("" when it names no known node and is
// not a node.id pin).
func (c checker) nodeID(p stateful.Pin) string {
	if n, ok := (stateful.Cluster{Nodes: c.in.Nodes}).PinnedNode(p); ok {
		return n.ID
	}
	if p.Key == "node.id" {
		return p.Value
	}
	return ""
}

// pinnedNodes resolves pins to node IDs where possible, else keeps them as
// written, so that node.hostname==n1 and node.id==<n1's ID> compare equal.
func (c checker) pinnedNodes(pins []stateful.Pin) []string {
	var out []string
	for _, p := range pins {
		if id := c.nodeID(p); id != "" {
			out = append(out, id)
		} else {
			out = append(out, p.Key+"=="+p.Value)
		}
	}
	sort.Strings(out)
	return out
}

func (c checker) runningNode() string {
	if len(c.in.TaskNodes) > 0 {
		return c.in.TaskNodes[0]
	}
	return ""
}

func (c checker) singleNode() bool { return len(c.in.Nodes) == 1 }

// nowhere: an update that replaces the task needs a node that takes it. A
// pinned node that is drained, paused or down (or no longer in the swarm)
// takes none: docker would stop the running task and the new one would stay
// pending, the service down, until the node is back.
func (c checker) nowhere() {
	if c.global() || len(c.in.Nodes) == 0 || !c.replacesTasks() {
		return
	}
	cl := stateful.Cluster{Nodes: c.in.Nodes}
	for _, p := range stateful.Pins(stateful.Constraints(c.in.New)) {
		n, ok := cl.PinnedNode(p)
		switch {
		case !ok && p.Key == "node.id":
			c.refuse(RuleNowhere, "", "the task can run nowhere: the service is pinned by %s to a node that is not in this swarm (nodes: %s), so the update would stop the running task and start none (pin it to the node that holds the data, or use --force)",
				p.Constraint, cl.Hostnames())
		case ok && n.Schedulable() != "":
			c.refuse(RuleNowhere, "", "the task can run nowhere: the service is pinned by %s to node %s, which %s; the update would stop the running task and start none until the node takes tasks again (make it Ready and Active first, e.g. docker node update --availability active %s, or use --force)",
				p.Constraint, n, n.Schedulable(), n.Hostname)
		}
	}
}

// order: start-first starts the new container before the old one stopped,
// two processes on one data directory.
func (c checker) order() {
	if c.in.Rollback {
		// A rollback runs with the rollback config of the spec being left.
		if rc := c.in.Current.RollbackConfig; rc != nil && rc.Order == swarm.UpdateOrderStartFirst {
			c.refuse(RuleStartFirst, "", "the service rolls back start-first: the rollback would run two containers on %s at once (set --rollback-order stop-first first, or use --force)", strings.Join(c.report.DataPaths, ", "))
		}
		return
	}
	for _, x := range []struct {
		cfg  *swarm.UpdateConfig
		old  *swarm.UpdateConfig
		flag string
		verb string
	}{
		{c.in.New.UpdateConfig, c.in.Current.UpdateConfig, "--update-order", "updates"},
		{c.in.New.RollbackConfig, c.in.Current.RollbackConfig, "--rollback-order", "rollbacks"},
	} {
		if x.cfg == nil || x.cfg.Order != swarm.UpdateOrderStartFirst {
			continue
		}
		if x.old != nil && x.old.Order == swarm.UpdateOrderStartFirst {
			c.refuse(RuleStartFirst, "", "the service %s start-first: this would run two containers on %s at once (add %s stop-first, or use --force)", x.verb, strings.Join(c.report.DataPaths, ", "), x.flag)
		} else {
			c.refuse(RuleStartFirst, "", "%s start-first would run two containers on %s at once, and the database in the new one may refuse the data or corrupt it (keep stop-first, or use --force)", x.flag, strings.Join(c.report.DataPaths, ", "))
		}
	}
}

// stopGrace: the service must keep at least the time it had to save on SIGTERM.
func (c checker) stopGrace() {
	cur, next := stateful.StopGracePeriod(c.in.Current), stateful.StopGracePeriod(c.in.New)
	if next < cur {
		c.refuse(RuleStopGrace, "", "the stop grace period would shrink from %s to %s: the service may be killed before it has saved %s (keep --stop-grace-period %s or more, or use --force)",
			cur, next, strings.Join(c.report.DataPaths, ", "), cur)
	}
}

// replicas: scaling above one replica is safe only when every data volume is
// per replica ({{.Task.Slot}} and the like).
func (c checker) replicas() {
	n, ok := stateful.Replicas(c.in.New)
	if !ok || n <= 1 {
		return
	}
	if old, ok := stateful.Replicas(c.in.Current); ok && old >= n {
		return // not scaling up: this update adds no sharing
	}
	for _, p := range c.report.DataPaths {
		loc := c.locate(c.in.New, p)
		if !loc.Persistent() || loc.Kind == stateful.PerSlotVolume {
			continue // ephemeral: refused above; per replica: fine
		}
		c.refuse(RuleSharedVolume, p, "%d replicas would share %s holding %s: two database processes on one data directory corrupt it (use a per-replica source such as source=%s-{{.Task.Slot}}, keep --replicas 1, or use --force)",
			n, loc, p, loc.Mount.Source)
	}
}

func sameSource(a, b mount.Mount) bool {
	return a.Type == b.Type && a.Source == b.Source && subpath(a) == subpath(b)
}

func subpath(m mount.Mount) string {
	if m.VolumeOptions != nil {
		return m.VolumeOptions.Subpath
	}
	return ""
}

func joinConstraints(pins []stateful.Pin) string {
	out := make([]string, len(pins))
	for i, p := range pins {
		out[i] = p.Constraint
	}
	return strings.Join(out, ", ")
}
