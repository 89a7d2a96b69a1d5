// Package adopt turns a running service whose data lives in its task's
// anonymous volume into a safe one without losing that data: it copies the
// data into a named volume on the task's node (an anonymous volume, even
// mounted by its name, keeps the label com.docker.volume.anonymous, and a
// plain docker volume prune deletes it whenever no container uses it), pins
// the service to that node, records docker stateful's labels and defaults.
// For Redis the copy is taken inside the cut (writes paused, saved), and the
// new process is verified with its writes held from the first moment it
// answers; other services are stopped (0 replicas) for the copy, so that
// their files are at rest. It never rolls back (the spec before adopt would
// start the database on a new, empty anonymous volume).
package adopt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/system"

	"github.com/docker-stateful/docker-stateful/plugin/createspec"
	"github.com/docker-stateful/docker-stateful/plugin/inventory"
	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
	"github.com/docker-stateful/docker-stateful/plugin/verifyflow"
)

// API is what adopt uses of the manager's Docker API.
type API interface {
	inventory.API
	ServiceUpdate(ctx context.Context, serviceID string, version swarm.Version, service swarm.ServiceSpec, options swarm.ServiceUpdateOptions) (swarm.ServiceUpdateResponse, error)
	Info(ctx context.Context) (system.Info, error)
}

// Engine is the Docker engine of the node running the task, where the
// container's mounts can be read.
type Engine interface {
	ContainerInspect(ctx context.Context, containerID string) (container.InspectResponse, error)
}

// Refused is a service adopt cannot make safe (exit 1, nothing changed).
type Refused struct{ Reason string }

func (r *Refused) Error() string { return "refused: " + r.Reason }

// Unreachable means adopt could not read what it needs (exit 2).
type Unreachable struct{ Err error }

func (u *Unreachable) Error() string { return u.Err.Error() }
func (u *Unreachable) Unwrap() error { return u.Err }

// Options are adopt's choices.
type Options struct {
	DryRun bool
	// VolumeName names the new volume the data is copied into on the task's
	// node ("" = <service>-data, as create names it).
	VolumeName string
	// Cut says Redis will be cut (writes paused) around the update, so the
	// copy is taken inside the cut; else the task is stopped for it. Run
	// sets it when Deps.Flow is set; a dry run reads it to describe the plan.
	Cut     bool
	Version string // recorded in the version label
	Timeout time.Duration
}

// Deps are adopt's collaborators.
type Deps struct {
	API          API
	ImageVolumes inventory.ImageVolumes
	// NodeEngine returns the engine of the node with this ID; local is the
	// engine of the daemon the CLI talks to.
	NodeEngine func(ctx context.Context, nodeID string) (Engine, error)
	// Flow cuts and verifies Redis (nil: no Redis step).
	Flow *verifyflow.Flow
	Out  io.Writer // the plan and the result
	Log  io.Writer // progress
}

// Move is one data path adopt makes permanent.
type Move struct {
	Path   string `json:"path"`
	Volume string `json:"volume"`         // the named volume mounted on Path
	From   string `json:"from,omitempty"` // the anonymous volume copied into Volume
}

// Plan is what adopt changes.
type Plan struct {
	Service string            `json:"service"`
	Task    string            `json:"task"`
	NodeID  string            `json:"node_id"`
	Node    string            `json:"node"`
	Moves   []Move            `json:"moves"`
	Pin     string            `json:"pin,omitempty"` // constraint added ("" when already pinned there)
	Labels  map[string]string `json:"labels"`
	Changes []string          `json:"defaults"`
	// Stop: the task is stopped (0 replicas) for the copy, since no cut
	// holds its writes.
	Stop   bool `json:"stop_for_copy,omitempty"`
	spec   swarm.ServiceSpec
	keep   swarm.ServiceSpec // the anonymous volumes mounted by name, if a copy fails
	svc    swarm.Service
	engine Engine
	ctr    container.InspectResponse
}

// IsRedis reports whether the service runs Redis (or Valkey), whose data
// adopt cuts before and verifies after.
func IsRedis(spec swarm.ServiceSpec) bool { return inventory.IsRedis(spec) }

// Run adopts the service ref.
func Run(ctx context.Context, d Deps, opt Options, ref string) (*Plan, error) {
	sw, err := inventory.Read(ctx, d.API, d.ImageVolumes, filters.NewArgs())
	if err != nil {
		return nil, &Unreachable{err}
	}
	svc, err := sw.Find(ref)
	if err != nil {
		return nil, &Unreachable{err}
	}
	opt.Cut = opt.Cut || d.Flow != nil
	p, err := plan(ctx, d, sw, svc, opt)
	if err != nil {
		return nil, err
	}
	p.Write(d.Out)
	if opt.DryRun {
		fmt.Fprintln(d.Out, "Dry run: nothing was changed.")
		return p, nil
	}
	return p, apply(ctx, d, opt, p)
}

func plan(ctx context.Context, d Deps, sw *inventory.Swarm, svc swarm.Service, opt Options) (*Plan, error) {
	name := svc.Spec.Name
	paths := sw.DataPaths(svc)
	if len(paths) == 0 {
		return nil, &Refused{fmt.Sprintf("service %s has no data path (no image VOLUME, known image or named volume); nothing to adopt", name)}
	}
	var ephemeral []inventory.DataPath
	for _, dp := range paths {
		switch dp.Kind {
		case inventory.KindContainerFS:
			return nil, &Refused{fmt.Sprintf("%s of service %s is in the container's filesystem, not on a volume: no mount can keep it, only a copy can (docker cp it out of the running container, then create the service on a volume holding the copy)", dp.Path, name)}
		case inventory.KindTmpfs:
			return nil, &Refused{fmt.Sprintf("%s of service %s is on a tmpfs: it lives in the task's memory, and only a copy can save it", dp.Path, name)}
		case inventory.KindAnonymous, inventory.KindNotPersistent:
			// Not persistent: the container on the node says whether a volume
			// (the image's VOLUME, when the image is not on the CLI's daemon)
			// or its own filesystem holds it.
			ephemeral = append(ephemeral, dp)
		case inventory.KindNamedVolume:
			// An anonymous volume mounted by its name (adopt before it
			// copied): still deleted by a plain prune, so copied too.
			if dp.Prunable {
				ephemeral = append(ephemeral, dp)
			}
		}
	}
	n, replicated := inventory.Replicas(svc.Spec)
	if !replicated || n != 1 {
		if len(ephemeral) > 0 {
			return nil, &Refused{fmt.Sprintf("service %s runs %s, each with its own anonymous volume on %s: adopt keeps one task's data, not several. To keep slot 1's by hand: read its volume name (docker -H <its node> inspect <its container> --format '{{json .Mounts}}'), then docker stateful update --replicas 1 --mount-add type=volume,source=<that volume>,target=%s --constraint-add node.id==<its node> %s; the other slots' data is lost",
				name, replicasText(n, replicated), ephemeral[0].Path, ephemeral[0].Path, name)}
		}
	}
	var task swarm.Task
	found := 0
	for _, t := range sw.Tasks[svc.ID] {
		if t.DesiredState == swarm.TaskStateRunning && t.Status.State == swarm.TaskStateRunning {
			task, found = t, found+1
		}
	}
	if found > 1 {
		return nil, &Refused{fmt.Sprintf("service %s runs %d tasks: adopt pins one task's data to its node", name, found)}
	}
	if found != 1 || task.Status.ContainerStatus == nil || task.Status.ContainerStatus.ContainerID == "" {
		return nil, &Refused{fmt.Sprintf("service %s has no running task (%d running): its data is where its last task ran; start it first (docker stateful status %s says why it does not run)", name, found, name)}
	}
	node := task.NodeID
	p := &Plan{Service: name, Task: task.ID, NodeID: node, Node: hostname(sw, node), svc: svc}
	if len(ephemeral) > 0 {
		eng, err := d.NodeEngine(ctx, node)
		if err != nil {
			return nil, &Unreachable{fmt.Errorf("task %s runs on node %s: %w", short(task.ID), p.Node, err)}
		}
		ctr, err := eng.ContainerInspect(ctx, task.Status.ContainerStatus.ContainerID)
		if err != nil {
			return nil, &Unreachable{fmt.Errorf("cannot read the mounts of task %s's container on node %s: %w", short(task.ID), p.Node, err)}
		}
		p.engine, p.ctr = eng, ctr
		if opt.VolumeName != "" && len(ephemeral) != 1 {
			return nil, &Refused{fmt.Sprintf("--volume-name names one volume, and service %s has %d data paths on anonymous volumes", name, len(ephemeral))}
		}
		for _, dp := range ephemeral {
			vol := ""
			for _, m := range ctr.Mounts {
				if m.Type == mount.TypeVolume && m.Destination == dp.Path {
					vol = m.Name
				}
			}
			if vol == "" {
				return nil, &Refused{fmt.Sprintf("no volume is mounted at %s in task %s's container on node %s: the data is in the container's filesystem, and only a copy can save it", dp.Path, short(task.ID), p.Node)}
			}
			target := opt.VolumeName
			if target == "" {
				target = createspec.VolumeSource(name, dp.Path, len(ephemeral) == 1, false)
			}
			if err := checkNewVolume(ctx, eng, target, p.Node, opt.VolumeName != ""); err != nil {
				return nil, err
			}
			p.Moves = append(p.Moves, Move{Path: dp.Path, Volume: target, From: vol})
		}
		p.Stop = !opt.Cut
	} else if opt.VolumeName != "" {
		return nil, &Refused{fmt.Sprintf("--volume-name: service %s has no data on an anonymous volume to copy", name)}
	}
	p.spec, p.Pin, p.Labels, p.Changes = safeSpec(svc.Spec, p.Moves, node, paths, opt.Version, sw)
	keep := slices.Clone(p.Moves)
	for i := range keep {
		keep[i].Volume = keep[i].From
	}
	p.keep, _, _, _ = safeSpec(svc.Spec, keep, node, paths, opt.Version, sw)
	if len(p.Moves) == 0 && p.Pin == "" && len(p.Changes) == 0 {
		return nil, &Refused{fmt.Sprintf("service %s is already safe: its data is on persistent mounts and it is pinned where needed (docker stateful check %s)", name, name)}
	}
	return p, nil
}

// Write prints the plan.
func (p *Plan) Write(w io.Writer) {
	fmt.Fprintf(w, "Adopting service %s: its task %s runs on node %s\n", p.Service, short(p.Task), p.Node)
	for _, m := range p.Moves {
		fmt.Fprintf(w, "  %s: copy the task's anonymous volume %s into a new named volume %s on node %s, which a plain docker volume prune keeps on Docker 23 and later (through the Docker archive API, read back and compared), then mount it (type=volume,source=%s,target=%s)\n",
			m.Path, short(m.From), m.Volume, p.Node, m.Volume, m.Path)
	}
	switch {
	case len(p.Moves) > 0 && p.Stop:
		fmt.Fprintf(w, "  the task is stopped (0 replicas) while its data is copied, so that the files are at rest: the service is down until the new task runs\n")
	case len(p.Moves) > 0:
		fmt.Fprintf(w, "  the copy is taken inside the cut (writes paused, data saved), which lasts until the new process is checked\n")
	}
	if p.Pin != "" {
		fmt.Fprintf(w, "  pin to node %s: --constraint-add %s\n", p.Node, p.Pin)
	}
	for _, c := range p.Changes {
		fmt.Fprintf(w, "  %s\n", c)
	}
	keys := make([]string, 0, len(p.Labels))
	for k := range p.Labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  label %s=%s\n", k, p.Labels[k])
	}
}

// apply cuts Redis (when there is a flow), sends the update, verifies and
// rolls back on failure.
func apply(ctx context.Context, d Deps, opt Options, p *Plan) error {
	svc := p.svc
	say := func(format string, a ...any) { fmt.Fprintf(d.Log, format+"\n", a...) }
	if !replacesTasks(svc.Spec, p.spec) {
		// Only labels and update settings change: the task and its data stay.
		if _, err := d.API.ServiceUpdate(ctx, svc.ID, svc.Version, p.spec, swarm.ServiceUpdateOptions{}); err != nil {
			return &Unreachable{fmt.Errorf("update of service %s not sent: %w", svc.Spec.Name, err)}
		}
		fmt.Fprintf(d.Out, "Adopted: service %s keeps its data on node %s (its task was not replaced)\n", svc.Spec.Name, p.Node)
		return nil
	}
	if d.Flow == nil && len(p.Moves) > 0 {
		return stopCopyStart(ctx, d, opt, p, say)
	}
	var (
		c      *redisstate.Client
		cut    *verifyflow.Cut
		before *redisstate.Snapshot
		err    error
	)
	if d.Flow != nil {
		if c, _, _, err = d.Flow.Connect(ctx, svc); err != nil {
			return &Unreachable{fmt.Errorf("nothing changed: %w", err)}
		}
		defer c.Close()
		if cut, err = d.Flow.BeginCut(ctx, c, inventory.StopGrace(svc.Spec)); err != nil {
			return &Unreachable{fmt.Errorf("nothing changed: %w", err)}
		}
		defer func() { _ = cut.Release() }()
		if before, err = d.Flow.SnapshotAtCut(ctx, c, svc.Spec.Name, cut); err != nil {
			return &Unreachable{fmt.Errorf("nothing changed: %w", err)}
		}
		d.Flow.Prune(svc.Spec.Name, 20)
	}
	if err := copyMoves(ctx, p, p.ctr.ID, say); err != nil {
		return &Unreachable{fmt.Errorf("nothing changed: %w", err)}
	}
	say("Sending the update")
	if _, err := d.API.ServiceUpdate(ctx, svc.ID, svc.Version, p.spec, swarm.ServiceUpdateOptions{}); err != nil {
		removeCopies(ctx, p)
		return &Unreachable{fmt.Errorf("nothing changed: update of service %s not sent: %w", svc.Spec.Name, err)}
	}
	if d.Flow == nil {
		if err := waitNewTask(ctx, d.API, svc.ID, p.Task, opt.Timeout); err != nil {
			return fmt.Errorf("service %s was updated, but %w (docker stateful status %s)", svc.Spec.Name, err, svc.Spec.Name)
		}
		fmt.Fprintf(d.Out, "Adopted: service %s keeps its data on node %s\n", svc.Spec.Name, p.Node)
		return nil
	}
	cut.Sent()
	if err := d.Flow.WaitStopped(ctx, []string{p.Task}, inventory.StopGrace(svc.Spec)+opt.Timeout); err != nil {
		say("warning: %v", err)
	}
	// The old process is gone, and its pause with it; the new one's writes
	// are held from the first moment it answers until it is checked.
	if err := cut.Release(); err != nil {
		say("warning: %v", err)
	}
	hc := d.Flow.CheckNewHeld(ctx, svc.ID, cut.Info.RunID, before, cut)
	return adoptVerdict(d.Out, p, before, hc)
}

// adoptVerdict ends an adopt whose update was sent, from the check of the
// new Redis. It never rolls back: the spec before adopt keeps the data on
// an anonymous volume, so a rollback starts Redis on a new, empty one while
// the data (and any write clients made since) stays in the adopted volume.
func adoptVerdict(out io.Writer, p *Plan, before *redisstate.Snapshot, hc verifyflow.HeldCheck) error {
	name := p.Service
	if hc.Report != nil && !hc.Intact() {
		_ = redisstate.RenderText(out, hc.Report)
	}
	where := fmt.Sprintf("its data is in volume %s on node %s (copied from %s, left in place); check it with: docker stateful verify --against %s %s", volumes(p), p.Node, sources(p), before.ID, name)
	const noRollback = "not rolled back: the spec before adopt keeps the data on an anonymous volume, so a rollback would start Redis on a new, empty one"
	switch {
	case hc.Intact():
		_ = redisstate.RenderText(out, hc.Report)
		fmt.Fprintf(out, "Adopted: service %s keeps its data on node %s (all %d keys of snapshot %s verified)\n", name, p.Node, before.Summary.Keys, before.ID)
		return nil
	case hc.Err != nil:
		return &Unreachable{fmt.Errorf("service %s was adopted (updated), but its data could not be checked: %w; %s; %s", name, hc.Err, noRollback, where)}
	case hc.Unattributed():
		fmt.Fprintf(out, "Adopted: service %s keeps its data on node %s; not verified: clients made %d change(s) before the check held their writes, so the keys of the cut that differ may be theirs (no loss was proven)\n", name, p.Node, hc.ClientWrites)
		return &Refused{fmt.Sprintf("service %s was adopted, but its data could not be verified exactly: clients made %d change(s) before the check held their writes (no loss was proven; nothing was rolled back, that would drop their writes); %s", name, hc.ClientWrites, where)}
	default:
		why := "keys of the cut are missing or changed"
		if hc.LoadShort != "" {
			why = hc.LoadShort
		}
		return &Refused{fmt.Sprintf("adopt of service %s failed: after the restart %s; %s; %s", name, why, noRollback, where)}
	}
}

// waitNewTask waits until a task other than old runs.
func waitNewTask(ctx context.Context, api API, serviceID, old string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		tasks, err := api.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", serviceID), filters.Arg("desired-state", "running"))})
		if err == nil {
			for _, t := range tasks {
				if t.ID != old && t.Status.State == swarm.TaskStateRunning {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
	return fmt.Errorf("its new task does not run after %s", timeout)
}

func volumes(p *Plan) string {
	var v []string
	for _, m := range p.Moves {
		v = append(v, m.Volume)
	}
	return strings.Join(v, ", ")
}

func sources(p *Plan) string {
	var v []string
	for _, m := range p.Moves {
		v = append(v, short(m.From))
	}
	return strings.Join(v, ", ")
}

func replicasText(n uint64, replicated bool) string {
	if !replicated {
		return "globally (one task per node)"
	}
	return fmt.Sprintf("%d replicas", n)
}

func hostname(sw *inventory.Swarm, id string) string {
	if n, ok := sw.Nodes[id]; ok && n.Description.Hostname != "" {
		return n.Description.Hostname
	}
	return id
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// checkNewVolume refuses a --volume-name that is not a volume name, or a
// volume that already exists on the node.
func checkNewVolume(ctx context.Context, eng Engine, name, node string, given bool) error {
	if err := validVolumeName(name); err != nil {
		return &Refused{err.Error()}
	}
	ce, ok := eng.(CopyEngine)
	if !ok {
		return &Unreachable{errors.New("the node's engine cannot copy volumes")}
	}
	if _, err := ce.VolumeInspect(ctx, name); err == nil {
		if !given {
			return &Refused{fmt.Sprintf("volume %s already exists on node %s: adopt copies the data into a new volume and does not overwrite one; name a new one with --volume-name", name, node)}
		}
		return &Refused{fmt.Sprintf("--volume-name %s: the volume already exists on node %s; name a new one (adopt does not overwrite data)", name, node)}
	}
	return nil
}

// copyMoves copies each move's data out of container src (the running task
// after the cut, or a helper holding its anonymous volumes while the task is
// stopped) and says what it copied.
func copyMoves(ctx context.Context, p *Plan, src string, say func(string, ...any)) error {
	for _, m := range p.Moves {
		ce := p.engine.(CopyEngine)
		c, err := copyVolume(ctx, ce, src, p.ctr.Image, m.Path, m.Volume, map[string]string{serviceLabel: p.Service})
		if err != nil {
			return fmt.Errorf("copy of %s into volume %s failed: %w", m.Path, m.Volume, err)
		}
		say("Copied %s into volume %s on node %s: %d files, %d bytes, read back identical (digest %s)", m.Path, m.Volume, p.Node, c.Files, c.Bytes, c.Digest)
	}
	return nil
}

// stopCopyStart adopts a service whose writes no cut holds: a helper
// container takes hold of the task's anonymous volumes (so that removing
// the stopped task's container, which swarm does with its anonymous volumes,
// cannot delete them), the service goes to 0 replicas, the data is copied at
// rest, and the service comes back on the copies. When the copy fails, it
// comes back on the anonymous volumes mounted by their names instead.
func stopCopyStart(ctx context.Context, d Deps, opt Options, p *Plan, say func(string, ...any)) error {
	svc := p.svc
	name := svc.Spec.Name
	ce := p.engine.(CopyEngine)
	var holds []mount.Mount
	for _, m := range p.Moves {
		holds = append(holds, mount.Mount{Type: mount.TypeVolume, Source: m.From, Target: m.Path})
	}
	holder, err := ce.ContainerCreate(ctx, &container.Config{Image: p.ctr.Image, Entrypoint: []string{"/nonexistent"}, Labels: map[string]string{serviceLabel: name}},
		&container.HostConfig{Mounts: holds}, nil, nil, "")
	if err != nil {
		return &Unreachable{fmt.Errorf("nothing changed: create a helper container holding the task's volumes: %w", err)}
	}
	defer func() {
		_ = ce.ContainerRemove(context.WithoutCancel(ctx), holder.ID, container.RemoveOptions{Force: true})
	}()
	zero := svc.Spec
	var none uint64
	rep := *svc.Spec.Mode.Replicated
	rep.Replicas = &none
	zero.Mode.Replicated = &rep
	say("Stopping task %s (0 replicas) so that its data is copied at rest: the service is down until the new task runs", short(p.Task))
	if _, err := d.API.ServiceUpdate(ctx, svc.ID, svc.Version, zero, swarm.ServiceUpdateOptions{}); err != nil {
		return &Unreachable{fmt.Errorf("nothing changed: update of service %s to 0 replicas not sent: %w", name, err)}
	}
	start := time.Now()
	err = waitGone(ctx, d.API, svc.ID, p.Task, inventory.StopGrace(svc.Spec)+opt.Timeout)
	if err == nil {
		err = copyMoves(ctx, p, holder.ID, say)
	}
	next, verdict := p.spec, ""
	if err != nil {
		next = p.keep
		verdict = fmt.Sprintf("adopt of service %s: %v; the service was started again on its anonymous volume %s mounted by its name and pinned to node %s (docker volume prune on that node deletes it whenever unused: run docker stateful adopt %s again)", name, err, sources(p), p.Node, name)
	}
	version, verr := currentVersion(ctx, d.API, svc.ID)
	if verr != nil {
		return &Unreachable{fmt.Errorf("service %s is at 0 replicas, its data on node %s in volume %s: %w; bring it back with docker service update --replicas 1 %s", name, p.Node, sources(p), verr, name)}
	}
	say("Sending the update")
	if _, err := d.API.ServiceUpdate(ctx, svc.ID, version, next, swarm.ServiceUpdateOptions{}); err != nil {
		return &Unreachable{fmt.Errorf("service %s is at 0 replicas, its data on node %s in volume %s: update not sent: %w; bring it back with docker service update --replicas 1 %s", name, p.Node, sources(p), err, name)}
	}
	if err := waitNewTask(ctx, d.API, svc.ID, p.Task, opt.Timeout); err != nil {
		return fmt.Errorf("service %s was updated, but %w (docker stateful status %s)", name, err, name)
	}
	if verdict != "" {
		return &Unreachable{errors.New(verdict)}
	}
	fmt.Fprintf(d.Out, "Adopted: service %s keeps its data in volume %s on node %s (down %s for the copy; the anonymous volume %s is left as it was)\n", name, volumes(p), p.Node, time.Since(start).Round(100*time.Millisecond), sources(p))
	return nil
}

// waitGone waits until task old of the service no longer runs.
func waitGone(ctx context.Context, api API, serviceID, old string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		tasks, err := api.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", serviceID))})
		if err == nil {
			gone := true
			for _, t := range tasks {
				if t.ID == old && !stopped(t.Status.State) {
					gone = false
				}
			}
			if gone {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
	return fmt.Errorf("task %s still runs %s after the update to 0 replicas", short(old), timeout)
}

func stopped(s swarm.TaskState) bool {
	switch s {
	case swarm.TaskStateShutdown, swarm.TaskStateComplete, swarm.TaskStateFailed, swarm.TaskStateRejected, swarm.TaskStateRemove, swarm.TaskStateOrphaned:
		return true
	}
	return false
}

// currentVersion is the service's version now (after an update).
func currentVersion(ctx context.Context, api API, id string) (swarm.Version, error) {
	svcs, err := api.ServiceList(ctx, swarm.ServiceListOptions{Filters: filters.NewArgs(filters.Arg("id", id))})
	if err != nil {
		return swarm.Version{}, err
	}
	for _, s := range svcs {
		if s.ID == id {
			return s.Version, nil
		}
	}
	return swarm.Version{}, fmt.Errorf("service %s not found", id)
}

// removeCopies removes the copies made for an update that was not sent
// (no container uses them), so that adopt can run again.
func removeCopies(ctx context.Context, p *Plan) {
	ce, ok := p.engine.(CopyEngine)
	if !ok {
		return
	}
	for _, m := range p.Moves {
		_ = ce.VolumeRemove(context.WithoutCancel(ctx), m.Volume, false)
	}
}
