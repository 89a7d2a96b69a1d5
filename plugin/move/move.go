package move

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/system"

	"github.com/docker-stateful/docker-stateful/plugin/exitcode"
	"github.com/docker-stateful/docker-stateful/plugin/redisbackup"
	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
	"github.com/docker-stateful/docker-stateful/plugin/verifyflow"
)

// API is the part of the Docker API move uses (client.APIClient has it).
type API interface {
	verifyflow.API
	stateful.ImageInspector
	Info(ctx context.Context) (system.Info, error)
}

// Options are the command's choices.
type Options struct {
	To        string
	TempPort  uint32
	DryRun    bool
	Generator string
	TempDir   string // for the backup file, "" = os.TempDir()
	// Progress, when set, shows the backup's and the restore's keys, bytes and rate.
	Progress func(redisbackup.Progress)
}

// Verdicts of a move.
const (
	VerdictMoved      = "moved"       // on the new node, verified
	VerdictPlanned    = "planned"     // --dry-run
	VerdictRolledBack = "rolled_back" // failed, back on the old node, verified
	VerdictFailed     = "failed"      // failed, and the rollback could not be verified
	VerdictRefused    = "refused"     // nothing done
	VerdictError      = "error"       // could not start (Redis or the daemon unreachable)
)

// OldVolume is where the data was before the move, and how to remove it.
type OldVolume struct {
	Node   string `json:"node"`
	NodeID string `json:"node_id"`
	Volume string `json:"volume"`
	Remove string `json:"remove"`
}

// Result is what move reports (--format json).
type Result struct {
	Service         string                    `json:"service"`
	From            string                    `json:"from"`
	To              string                    `json:"to"`
	Steps           []string                  `json:"steps,omitempty"`
	DataPaths       []string                  `json:"data_paths"`
	Volumes         []string                  `json:"volumes"`
	Keys            int64                     `json:"keys"`
	Restored        int64                     `json:"restored"`
	Expired         int64                     `json:"expired"`
	MoveMs          int64                     `json:"move_ms"`
	WriteDowntimeMs int64                     `json:"write_downtime_ms"`
	Restore         *redisbackup.Verification `json:"restore_verification,omitempty"`
	Final           *redisbackup.Verification `json:"final_verification,omitempty"`
	Rollback        *redisbackup.Verification `json:"rollback_verification,omitempty"`
	OldVolumes      []OldVolume               `json:"old_volumes,omitempty"`
	Verdict         string                    `json:"verdict"`
	Error           string                    `json:"error,omitempty"`
}

// Mover runs a move with a verifyflow.Flow (its Redis options and timeouts).
type Mover struct {
	Flow *verifyflow.Flow
	API  API
	Opt  Options
	Log  io.Writer
}

func (m *Mover) say(f string, a ...any) {
	if m.Log != nil {
		fmt.Fprintf(m.Log, f+"\n", a...)
	}
}

// Plan reads the service, the nodes and the image, and makes the plan.
func (m *Mover) Plan(ctx context.Context, name string) (*Plan, swarm.Service, error) {
	if m.Flow.Opt.RedisURL != "" {
		return nil, swarm.Service{}, refuse("--redis-url cannot follow the service to another node: move reaches Redis through the service's published port")
	}
	svc, err := m.Flow.Service(ctx, name)
	if err != nil {
		return nil, svc, err
	}
	nodes, err := m.API.NodeList(ctx, swarm.NodeListOptions{})
	if err != nil {
		return nil, svc, exitcode.Undecidable(err)
	}
	cluster := stateful.Cluster{Nodes: stateful.NodesFrom(nodes)}
	if m.Opt.To == "self" {
		info, err := m.API.Info(ctx)
		if err != nil {
			return nil, svc, exitcode.Undecidable(err)
		}
		cluster.SelfNodeID = info.Swarm.NodeID
	}
	in := PlanInput{Service: svc, Cluster: cluster, To: m.Opt.To, RedisPort: m.Flow.Opt.RedisPort, TempPort: m.Opt.TempPort}
	if cs := svc.Spec.TaskTemplate.ContainerSpec; cs != nil {
		ref := cs.Image
		img, err := m.API.ImageInspect(ctx, ref)
		if err != nil {
			if base, _, ok := strings.Cut(ref, "@"); ok {
				img, err = m.API.ImageInspect(ctx, base)
			}
		}
		if err == nil && img.Config != nil {
			in.ImageCmd = img.Config.Cmd
			for v := range img.Config.Volumes {
				in.ImageVols = append(in.ImageVols, v)
			}
		}
	}
	p, err := MakePlan(in)
	return p, svc, err
}

// Run moves the service (or, with DryRun, only plans it). The result is
// filled also on failure; the error carries the exit status.
func (m *Mover) Run(ctx context.Context, name string) (*Result, error) {
	res := &Result{Service: name, Verdict: VerdictError}
	p, svc, err := m.Plan(ctx, name)
	if err != nil {
		var r *Refusal
		if errors.As(err, &r) {
			res.Verdict = VerdictRefused
			err = exitcode.Refused(err)
		}
		return res, fail(res, err)
	}
	res.From, res.To, res.DataPaths, res.Volumes = p.From.Hostname, p.To.Hostname, p.DataPaths, p.Volumes
	res.Steps = p.Steps()
	if m.Opt.DryRun {
		res.Verdict = VerdictPlanned
		return res, nil
	}
	start := time.Now()
	defer func() { res.MoveMs = time.Since(start).Milliseconds() }()

	// 1. The cut: the backup keeps writes paused on the old Redis.
	c, _, _, err := m.Flow.Connect(ctx, svc)
	if err != nil {
		return res, fail(res, undecided(err))
	}
	defer c.Close()
	oldTasks, err := m.Flow.RunningTasks(ctx, svc.ID)
	if err != nil {
		return res, fail(res, undecided(err))
	}
	dir, err := os.MkdirTemp(m.Opt.TempDir, "docker-stateful-move-")
	if err != nil {
		return res, fail(res, undecided(err))
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, name+".dsbackup")
	m.say("Step 1/5: backup of service %s on node %s", name, p.From.Hostname)
	bk, err := redisbackup.BackupFile(ctx, c, file, redisbackup.Options{
		Service: name, SpecVersion: svc.Version.Index, Generator: m.Opt.Generator, KeepPaused: true,
		Log: func(s string) { m.say("  %s", s) }, Progress: m.Opt.Progress,
	})
	if err != nil {
		return res, fail(res, backupErr(err))
	}
	cutAt := bk.Hold.PausedAt()
	res.Keys = bk.Records
	m.say("  %d keys (%s) held in %s; writes stay paused until the data is verified on node %s",
		bk.Records, dbCounts(bk.Databases), file, p.To.Hostname)

	// 2. The moving update: from here on, a failure rolls back.
	m.say("Step 2/5: updating service %s to run on node %s, Redis on port %d only (clients of port %d get \"connection refused\")",
		name, p.To.Hostname, p.TempPort, p.RedisPort)
	sent := false
	// From the new task on, the steps run on wctx: cancelled when the
	// target node is lost (watchTarget), and the rollback says so.
	wctx := ctx
	var temp *redisstate.Client
	defer func() {
		if temp != nil {
			temp.Close()
		}
	}()
	rollback := func(cause error) (*Result, error) {
		if l := lost(wctx); l != nil {
			cause = exitcode.Refused(l)
		}
		_ = bk.Hold.Release()
		if !sent {
			res.Verdict = VerdictFailed
			res.WriteDowntimeMs = time.Since(cutAt).Milliseconds()
			m.say("Nothing was changed: the service still runs on node %s; writes resumed after %s", p.From.Hostname, time.Since(cutAt).Round(time.Millisecond))
			return res, fail(res, cause)
		}
		return m.rollback(ctx, p, file, res, cutAt, cause)
	}
	if err := m.send(ctx, p.ServiceID, p.Moving); err != nil {
		return rollback(undecided(err))
	}
	sent = true
	grace := stateful.StopGracePeriod(p.Original)
	if err := m.Flow.WaitStopped(ctx, oldTasks, grace+m.Flow.Opt.Timeout); err != nil {
		return rollback(fmt.Errorf("the old task on node %s: %w", p.From.Hostname, err))
	}
	if err := bk.Hold.Release(); err != nil {
		m.say("warning: %v", err)
	}

	// 3. The new Redis, reached through the temporary port only.
	m.say("Step 3/5: waiting (up to --timeout %s) for the new task on node %s and its Redis on port %d", m.Flow.Opt.Timeout, p.To.Hostname, p.TempPort)
	var unwatch context.CancelFunc
	wctx, unwatch = m.watchTarget(ctx, p.To)
	defer unwatch()
	tf := *m.Flow
	tf.Opt.RedisPort = p.TempPort
	temp, tsi, _, err := tf.AwaitNew(wctx, p.ServiceID, bk.Header.RunID)
	if err != nil {
		detail := ": " + err.Error()
		if errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "deadline exceeded") {
			detail = ""
		}
		return rollback(fmt.Errorf("the new task: no Redis of the service answered on node %s within --timeout %s%s%s",
			p.To.Hostname, m.Flow.Opt.Timeout, detail, m.taskWhy(ctx, p.ServiceID)))
	}

	// 4. Restore, verify, SAVE.
	m.say("Step 4/5: restoring %d keys into the new Redis", bk.Records)
	rr, err := redisbackup.Restore(wctx, temp, file, redisbackup.RestoreOptions{Log: func(s string) { m.say("  %s", s) }, Progress: m.Opt.Progress})
	if err != nil {
		var r *redisbackup.RefusedError
		if errors.As(err, &r) && strings.Contains(r.Msg, "is not empty") {
			err = exitcode.Refused(fmt.Errorf("the new Redis on node %s is not empty: volume %s already holds data there (from an earlier move?); nothing was written into it; remove it on node %s when you are sure it is not needed, and move again",
				p.To.Hostname, strings.Join(p.Volumes, ", "), p.To.Hostname))
		}
		return rollback(err)
	}
	res.Restored, res.Expired, res.Restore = rr.Restored, rr.Expired, rr.Verification
	if !rr.OK() {
		m.renderVerification(rr.Verification)
		return rollback(exitcode.Refused(fmt.Errorf("the restored data on node %s is not equal to the cut", p.To.Hostname)))
	}
	m.say("  Verified: the restored keys equal the cut (%d keys)", bk.Records)
	temp.Close()
	temp = nil

	// 5. Back to the service's own arguments and port: the restart loads the saved data.
	m.say("Step 5/5: updating service %s back to its own arguments and ports (Redis saves on SIGTERM, the next task loads it)", name)
	tempTasks, err := m.Flow.RunningTasks(wctx, p.ServiceID)
	if err != nil {
		return rollback(undecided(err))
	}
	if err := m.send(wctx, p.ServiceID, p.Final); err != nil {
		return rollback(undecided(err))
	}
	if err := m.Flow.WaitStopped(wctx, tempTasks, grace+m.Flow.Opt.Timeout); err != nil {
		return rollback(fmt.Errorf("the task on port %d: %w", p.TempPort, err))
	}
	final, _, _, err := m.Flow.AwaitNew(wctx, p.ServiceID, tsi.RunID)
	if err != nil {
		return rollback(fmt.Errorf("the Redis on node %s after the last update: %w", p.To.Hostname, err))
	}
	defer final.Close()
	ver, exact, err := m.check(wctx, final, file)
	res.WriteDowntimeMs = time.Since(cutAt).Milliseconds()
	if err != nil {
		return rollback(err)
	}
	res.Final = ver
	if !ver.OK() {
		m.renderVerification(ver)
		if exact {
			return rollback(exitcode.Refused(fmt.Errorf("the data Redis loaded on node %s is not equal to the cut", p.To.Hostname)))
		}
		m.say("warning: clients wrote before the check could pause them: %d key(s) differ from the cut (CHANGED or MISSING by their writes)", ver.Count(redisstate.ClassChanged)+ver.Count(redisstate.ClassMissing))
	}
	res.Verdict = VerdictMoved
	res.OldVolumes = oldVolumes(p)
	m.say("Moved: service %s runs on node %s with all %d keys of the cut verified; write downtime %s (from the cut to writes open on node %s), move took %s",
		name, p.To.Hostname, bk.Records, time.Duration(res.WriteDowntimeMs)*time.Millisecond, p.To.Hostname, time.Since(start).Round(time.Millisecond))
	m.sayOldVolumes(res.OldVolumes, "The old data stays")
	return res, nil
}

// check verifies c against the file's cut while it pauses client writes (they
// are reaching this Redis already); exact is false when a client wrote between
// the load and the pause, so a difference may be theirs.
func (m *Mover) check(ctx context.Context, c *redisstate.Client, file string) (*redisbackup.Verification, bool, error) {
	rdb := c.Redis()
	if err := rdb.Do(ctx, "CLIENT", "PAUSE", 60000, "WRITE").Err(); err != nil {
		m.say("warning: cannot pause writes for the check: %v", err)
	}
	defer rdb.Do(context.WithoutCancel(ctx), "CLIENT", "UNPAUSE")
	p, err := c.Info(ctx, "persistence")
	if err != nil {
		return nil, false, undecided(err)
	}
	exact := p["rdb_changes_since_last_save"] == "0"
	m.say("Verifying the loaded data against the cut (writes paused for the check)")
	ver, err := redisbackup.VerifyAgainst(ctx, c, file, m.Flow.Opt.MaxKeys)
	if err != nil {
		return nil, exact, err
	}
	// The pause lapses after a minute: a longer check is exact only if still nothing changed.
	if p, err := c.Info(ctx, "persistence"); err != nil || p["rdb_changes_since_last_save"] != "0" {
		exact = false
	}
	return ver, exact, nil
}

// rollback sends the original spec (the old node and its untouched volume)
// and verifies the Redis there against the cut.
func (m *Mover) rollback(ctx context.Context, p *Plan, file string, res *Result, cutAt time.Time, cause error) (*Result, error) {
	m.say("Move failed: %v", cause)
	m.say("Rolling back: updating service %s to its original spec (node %s, volume %s)", p.Service, p.From.Hostname, strings.Join(p.Volumes, ", "))
	// An interrupted move still rolls back, on a context of its own.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*m.Flow.Opt.Timeout+stateful.StopGracePeriod(p.Original))
	defer cancel()
	res.Verdict = VerdictFailed
	res.OldVolumes = oldVolumes(p)
	tasks, _ := m.Flow.RunningTasks(rctx, p.ServiceID)
	if err := m.send(rctx, p.ServiceID, p.Original); err != nil {
		m.say("error: the rollback could not be sent: %v; run: docker service update --constraint-rm node.id==%s --constraint-add node.id==%s %s", err, p.To.ID, p.From.ID, p.Service)
		return res, fail(res, cause)
	}
	if len(tasks) > 0 {
		if err := m.Flow.WaitStopped(rctx, tasks, stateful.StopGracePeriod(p.Original)+m.Flow.Opt.Timeout); err != nil && !errors.Is(err, verifyflow.ErrNotReplaced) {
			m.say("warning: %v", err)
		}
	}
	c, _, _, err := m.Flow.AwaitNew(rctx, p.ServiceID, "")
	if err != nil {
		m.say("error: after the rollback, Redis on node %s: %v", p.From.Hostname, err)
		return res, fail(res, cause)
	}
	defer c.Close()
	ver, exact, err := m.check(rctx, c, file)
	res.WriteDowntimeMs = time.Since(cutAt).Milliseconds()
	if err != nil {
		m.say("error: after the rollback, the data could not be checked: %v", err)
		return res, fail(res, cause)
	}
	res.Rollback = ver
	if ver.OK() || !exact {
		res.Verdict = VerdictRolledBack
		m.say("Rolled back: service %s runs on node %s again; all %d keys of the cut verified", p.Service, p.From.Hostname, res.Keys)
	} else {
		m.renderVerification(ver)
		m.say("error: after the rollback, the data on node %s is not equal to the cut", p.From.Hostname)
	}
	m.say("Write downtime: %s (from the cut to writes open again on node %s)", time.Duration(res.WriteDowntimeMs)*time.Millisecond, p.From.Hostname)
	m.sayOldVolumes([]OldVolume{{Node: p.To.Hostname, NodeID: p.To.ID, Volume: strings.Join(p.Volumes, " "), Remove: removeCmd(p.To, p.Volumes)}},
		"If the moved task started on node "+p.To.Hostname+", a partial copy stays")
	if !errors.As(cause, new(*exitcode.Error)) {
		cause = exitcode.Refused(cause)
	}
	return res, fail(res, cause)
}

// taskWhy says why the service's newest task does not run (its state and
// the scheduler's or engine's message), "" when it cannot be told.
func (m *Mover) taskWhy(ctx context.Context, serviceID string) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	tasks, err := m.API.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", serviceID))})
	if err != nil || len(tasks) == 0 {
		return ""
	}
	newest := tasks[0]
	for _, t := range tasks {
		if t.Meta.CreatedAt.After(newest.Meta.CreatedAt) {
			newest = t
		}
	}
	why := newest.Status.Err
	if why == "" {
		why = newest.Status.Message
	}
	return fmt.Sprintf(" (its task is %s: %s)", newest.Status.State, why)
}

func (m *Mover) send(ctx context.Context, id string, spec swarm.ServiceSpec) error {
	svc, _, err := m.API.ServiceInspectWithRaw(ctx, id, swarm.ServiceInspectOptions{})
	if err != nil {
		return err
	}
	resp, err := m.API.ServiceUpdate(ctx, id, svc.Version, spec, swarm.ServiceUpdateOptions{})
	if err != nil {
		return fmt.Errorf("update of service %s: %w", svc.Spec.Name, err)
	}
	for _, w := range resp.Warnings {
		m.say("warning: %s", w)
	}
	return nil
}

func (m *Mover) renderVerification(v *redisbackup.Verification) {
	if m.Log != nil && v != nil {
		_ = redisbackup.RenderVerification(m.Log, v)
	}
}

func (m *Mover) sayOldVolumes(vs []OldVolume, what string) {
	for _, v := range vs {
		m.say("%s on node %s in volume %s (move never deletes it). When you are sure, remove it on that node: %s", what, v.Node, v.Volume, v.Remove)
	}
}

func oldVolumes(p *Plan) []OldVolume {
	out := make([]OldVolume, 0, len(p.Volumes))
	for _, v := range p.Volumes {
		out = append(out, OldVolume{Node: p.From.Hostname, NodeID: p.From.ID, Volume: v, Remove: removeCmd(p.From, []string{v})})
	}
	return out
}

func removeCmd(n stateful.Node, vols []string) string {
	return fmt.Sprintf("docker -H <%s's docker host> volume rm %s", n.Hostname, strings.Join(vols, " "))
}

func dbCounts(dbs []redisbackup.DatabaseCount) string {
	parts := make([]string, len(dbs))
	for i, d := range dbs {
		parts[i] = "db" + strconv.Itoa(d.DB) + ": " + strconv.FormatInt(d.Records, 10)
	}
	if len(parts) == 0 {
		return "empty"
	}
	return strings.Join(parts, ", ")
}

// fail records err in the result and returns it.
func fail(res *Result, err error) error {
	if err != nil {
		res.Error = err.Error()
	}
	return err
}

// undecided marks err as "could not decide" (exit 2) unless it is an interrupt.
func undecided(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.As(err, new(*exitcode.Error)) {
		return err
	}
	return exitcode.Undecidable(err)
}

// backupErr gives a failed backup its status: 2 for Redis or the file, 1 otherwise.
func backupErr(err error) error {
	var fe *redisbackup.FileError
	if redisstate.IsUnreachable(err) || errors.As(err, &fe) || errors.Is(err, context.DeadlineExceeded) {
		return exitcode.Undecidable(err)
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return exitcode.Refused(err)
}
