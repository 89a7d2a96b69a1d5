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
	// The temporary replica of a replication move.
	ServiceCreate(ctx context.Context, service swarm.ServiceSpec, options swarm.ServiceCreateOptions) (swarm.ServiceCreateResponse, error)
	ServiceRemove(ctx context.Context, serviceID string) error
}

// Options are the command's choices.
type Options struct {
	To       string
	TempPort uint32
	DryRun   bool
	// Method is MethodReplication (the default, "" too: falls back to
	// MethodCopy when replication cannot work) or MethodCopy.
	Method    string
	Generator string
	TempDir   string // for the backup file, "" = os.TempDir()
	// Progress, when set, shows the backup's and the restore's keys, bytes and rate.
	Progress func(redisbackup.Progress)
}

// Verdicts of a move.
const (
	VerdictMoved      = "moved"       // on the new node, verified
	VerdictPlanned    = "planned"     // --dry-run
	VerdictRolledBack = "rolled_back" // failed, back on the old node (rollback_verification says if verified)
	// VerdictUnverified: on the new node, but keys of the cut differ and
	// clients wrote there before the check paused them (no loss proven, no
	// rollback: it would drop their writes).
	VerdictUnverified = "unverified"
	// VerdictNotRolledBack: failed on the new node, but clients wrote there
	// (or may have): not rolled back, both copies are kept and named.
	VerdictNotRolledBack = "not_rolled_back"
	VerdictFailed        = "failed"  // failed, and the rollback could not be verified
	VerdictRefused       = "refused" // nothing done
	VerdictError         = "error"   // could not start (Redis or the daemon unreachable)
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
	Service string   `json:"service"`
	From    string   `json:"from"`
	To      string   `json:"to"`
	Steps   []string `json:"steps,omitempty"`
	// Method is how the data moved: "replication" or "copy"; Fallback says
	// why replication could not be used when it was asked for.
	Method   string   `json:"method"`
	Fallback string   `json:"fallback_reason,omitempty"`
	Handoff  *Handoff `json:"handoff,omitempty"`
	// HandoffCheck: the new process against the detached replica's
	// fingerprint (replication); RollbackCheck: the rolled-back one against it.
	HandoffCheck    *redisstate.Report        `json:"handoff_verification,omitempty"`
	RollbackCheck   *redisstate.Report        `json:"rollback_check,omitempty"`
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
	replication := m.Opt.Method != MethodCopy
	res.Steps = p.Steps()
	res.Method = MethodCopy
	if replication {
		res.Steps = p.ReplicationSteps()
		res.Method = MethodReplication
	}
	if m.Opt.DryRun {
		res.Verdict = VerdictPlanned
		return res, nil
	}
	start := time.Now()
	defer func() { res.MoveMs = time.Since(start).Milliseconds() }()
	if replication {
		r, err, fb := m.runReplication(ctx, p, svc, res)
		if fb == nil {
			return r, err
		}
		res.Fallback = fb.reason
		res.Handoff = nil
		res.Method = MethodCopy
		res.Steps = p.Steps()
		m.say("Replication cannot be used: %s. Moving by copy instead (--method copy: writes paused from the backup until the restored data is verified)", fb.reason)
	}

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
	// Once the last update is sent, the Redis on node To can answer on the service's own port:
	// a client's write acknowledged there must not be dropped by a rollback
	// (late decides: roll back only while no client wrote there).
	var final *redisstate.Client
	var fc *heldCheck
	late := func(cause error) (*Result, error) {
		if l := lost(wctx); l != nil {
			cause = exitcode.Refused(l)
		}
		return m.late(ctx, p, file, res, cutAt, cause, final, fc, tsi.RunID)
	}
	if err := m.send(wctx, p.ServiceID, p.Final); err != nil {
		return late(undecided(err))
	}
	if err := m.Flow.WaitStopped(wctx, tempTasks, grace+m.Flow.Opt.Timeout); err != nil {
		return late(fmt.Errorf("the task on port %d: %w", p.TempPort, err))
	}
	final, fsi, _, err := m.Flow.AwaitNew(wctx, p.ServiceID, tsi.RunID)
	if err != nil {
		final = nil
		return late(fmt.Errorf("the Redis on node %s after the last update: %w", p.To.Hostname, err))
	}
	defer final.Close()
	fc, err = m.check(wctx, final, fsi, file, bk.Records)
	res.WriteDowntimeMs = time.Since(cutAt).Milliseconds()
	if err != nil {
		return late(err)
	}
	res.Final = fc.ver
	switch decideFinal(fc) {
	case finalRollBack:
		// No client wrote since the load, and none can until its task
		// stops: the rollback drops no acknowledged write.
		m.renderVerification(fc.ver)
		fc.holdFor(ctx, m.rollbackHold(p))
		return m.rollback(ctx, p, file, res, cutAt, exitcode.Refused(fmt.Errorf("the data Redis loaded on node %s is not equal to the cut", p.To.Hostname)))
	case finalStay:
		m.renderVerification(fc.ver)
		fc.release(ctx)
		return m.stay(p, res, exitcode.Refused(fmt.Errorf("the data Redis loaded on node %s is not equal to the cut: %s", p.To.Hostname, fc.loadShort)),
			fmt.Sprintf("clients made %d change(s) there before the check paused them", fc.clientWrites))
	case finalUnverified:
		m.renderVerification(fc.ver)
		fc.release(ctx)
		res.Verdict = VerdictUnverified
		res.OldVolumes = oldVolumes(p)
		err := exitcode.Refused(fmt.Errorf("service %s runs on node %s, but its data could not be verified: %d key(s) of the cut differ, and clients made %d change(s) there before the check paused them, so the differences may be theirs; nothing was rolled back (that would drop their writes); no loss was proven",
			name, p.To.Hostname, fc.ver.Count(redisstate.ClassChanged)+fc.ver.Count(redisstate.ClassMissing), fc.clientWrites))
		m.say("Not verified: %v", err)
		m.sayOldVolumes(res.OldVolumes, "The cut stays")
		return res, fail(res, err)
	}
	fc.release(ctx)
	res.Verdict = VerdictMoved
	res.OldVolumes = oldVolumes(p)
	m.say("Moved: service %s runs on node %s with all %d keys of the cut verified; write downtime %s (from the cut to writes open on node %s), move took %s",
		name, p.To.Hostname, bk.Records, time.Duration(res.WriteDowntimeMs)*time.Millisecond, p.To.Hostname, time.Since(start).Round(time.Millisecond))
	m.sayOldVolumes(res.OldVolumes, "The old data stays")
	return res, nil
}

// heldCheck is a Redis checked against the cut with its client writes still
// paused: the caller decides (and may roll back) before any client writes.
type heldCheck struct {
	c   *redisstate.Client
	ver *redisbackup.Verification
	// clientWrites is rdb_changes_since_last_save when the writes were
	// paused (0 right after an RDB load): changes clients made since.
	clientWrites int64
	// exact: no client wrote since the load, before or during the check.
	exact bool
	// loadShort proves a loss at load whatever clients did: the process
	// loaded fewer keys than the cut's, expired ones aside (Redis 7.0+,
	// RDB only); "" when not shown.
	loadShort string
}

// Outcomes of the final check.
const (
	finalMoved      = iota // verified
	finalRollBack          // differs and no client wrote: roll back, writes held
	finalStay              // a proven loss, but clients wrote there: no rollback
	finalUnverified        // differs, clients wrote, no loss proven: no rollback
)

func decideFinal(h *heldCheck) int {
	switch {
	case h.ver.OK():
		return finalMoved
	case h.exact:
		return finalRollBack
	case h.loadShort != "":
		return finalStay
	default:
		return finalUnverified
	}
}

// holdFor renews the pause of client writes (the rollback stops the task
// meanwhile; the pause dies with its process).
func (h *heldCheck) holdFor(ctx context.Context, d time.Duration) {
	_ = h.c.Redis().Do(context.WithoutCancel(ctx), "CLIENT", "PAUSE", d.Milliseconds(), "WRITE").Err()
}

func (h *heldCheck) release(ctx context.Context) {
	_ = h.c.Redis().Do(context.WithoutCancel(ctx), "CLIENT", "UNPAUSE").Err()
}

// rollbackHold bounds a pause that must last until the rollback stopped the task.
func (m *Mover) rollbackHold(p *Plan) time.Duration {
	return 2*m.Flow.Opt.Timeout + stateful.StopGracePeriod(p.Original) + 30*time.Second
}

// check verifies c (si: its identity when it answered) against the file's
// cut of keys keys, pausing client writes first (they may reach this Redis
// already); it returns with the writes still paused (h.release ends it; the
// pause lapses by itself after a minute). h is nil only when the pause
// could not be set.
func (m *Mover) check(ctx context.Context, c *redisstate.Client, si *redisstate.ServerInfo, file string, keys int64) (*heldCheck, error) {
	rdb := c.Redis()
	if err := rdb.Do(ctx, "CLIENT", "PAUSE", 60000, "WRITE").Err(); err != nil {
		return nil, undecided(fmt.Errorf("cannot pause writes for the check: %w", err))
	}
	h := &heldCheck{c: c, clientWrites: -1}
	p, err := c.Info(ctx, "persistence")
	if err != nil {
		return h, undecided(err)
	}
	h.clientWrites, err = strconv.ParseInt(p["rdb_changes_since_last_save"], 10, 64)
	if err != nil {
		return h, undecided(fmt.Errorf("INFO persistence: rdb_changes_since_last_save %q", p["rdb_changes_since_last_save"]))
	}
	h.exact = h.clientWrites == 0
	m.say("Verifying the loaded data against the cut (writes paused for the check)")
	h.ver, err = redisbackup.VerifyAgainst(ctx, c, file, m.Flow.Opt.MaxKeys)
	if err != nil {
		return h, err
	}
	// The pause lapses after a minute: a longer check is exact only if still nothing changed.
	if p2, err := c.Info(ctx, "persistence"); err != nil || p2["rdb_changes_since_last_save"] != p["rdb_changes_since_last_save"] {
		h.exact = false
	}
	// An AOF replay counts in rdb_last_load_keys_loaded differently: RDB only.
	if si != nil && si.LastLoadKeys >= 0 && p["aof_enabled"] != "1" {
		expired := max(si.LastLoadExpired, h.ver.Count(redisstate.ClassExpired))
		if si.LastLoadKeys+expired < keys {
			h.loadShort = fmt.Sprintf("it loaded %d keys of the cut's %d, and only %d more had expired (rdb_last_load_keys_loaded)", si.LastLoadKeys, keys, expired)
		}
	}
	return h, nil
}

// late handles a failure once the Redis on node To could answer clients on
// the service's port (c: the one that answered, fc: its check holding
// writes, if any). It rolls back only when no client wrote there: the
// writes stay paused there until the rollback stops it. When clients wrote
// there, or it answered and can no longer be asked, it does not roll back
// and says where the data is.
func (m *Mover) late(ctx context.Context, p *Plan, file string, res *Result, cutAt time.Time, cause error, c *redisstate.Client, fc *heldCheck, tempRunID string) (*Result, error) {
	answered := c != nil
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	if c == nil {
		tf := *m.Flow
		tf.Opt.Timeout = 10 * time.Second
		if c2, _, _, err := tf.AwaitNew(pctx, p.ServiceID, tempRunID); err == nil {
			defer c2.Close()
			c, answered = c2, true
		}
	}
	if c != nil {
		h := fc
		if h == nil {
			h = &heldCheck{c: c}
		}
		h.holdFor(pctx, m.rollbackHold(p))
		pi, err := c.Info(pctx, "persistence")
		if err == nil && pi["rdb_changes_since_last_save"] == "0" && pi["loading"] == "0" {
			m.say("No client wrote to the Redis on node %s (rdb_changes_since_last_save:0); its writes stay paused until the rollback stops it", p.To.Hostname)
			return m.rollback(ctx, p, file, res, cutAt, cause)
		}
		if err == nil {
			h.release(pctx)
			return m.stay(p, res, cause, fmt.Sprintf("clients made %s change(s) there (rdb_changes_since_last_save)", pi["rdb_changes_since_last_save"]))
		}
	}
	if !answered {
		m.say("The Redis on node %s never answered after the last update: no client could write there", p.To.Hostname)
		return m.rollback(ctx, p, file, res, cutAt, cause)
	}
	return m.stay(p, res, cause, "it answered clients on the service's port, and whether they wrote there cannot be told now")
}

// stay ends a failed move without a rollback, because the Redis on node To
// may hold writes acknowledged to clients: it says where each copy is.
func (m *Mover) stay(p *Plan, res *Result, cause error, why string) (*Result, error) {
	res.Verdict = VerdictNotRolledBack
	res.OldVolumes = oldVolumes(p)
	vols := strings.Join(p.Volumes, ", ")
	m.say("Move failed: %v", cause)
	m.say("Not rolled back: service %s stays on node %s, because %s; a rollback to node %s would drop the writes acknowledged there. Its data, with those writes, is in volume %s on node %s.",
		p.Service, p.To.Hostname, why, p.From.Hostname, vols, p.To.Hostname)
	m.sayOldVolumes(res.OldVolumes, "The cut stays intact")
	m.say("To go back to the cut anyway (dropping the writes made on node %s): docker service update --constraint-rm node.id==%s --constraint-add node.id==%s %s", p.To.Hostname, p.To.ID, p.From.ID, p.Service)
	return res, fail(res, exitcode.Refused(fmt.Errorf("%v; not rolled back: %s (service %s stays on node %s, the cut is intact in volume %s on node %s)", cause, why, p.Service, p.To.Hostname, vols, p.From.Hostname)))
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
	c, si, _, err := m.Flow.AwaitNew(rctx, p.ServiceID, "")
	if err != nil {
		m.say("error: after the rollback, Redis on node %s: %v", p.From.Hostname, err)
		return res, fail(res, cause)
	}
	defer c.Close()
	h, err := m.check(rctx, c, si, file, res.Keys)
	if h != nil {
		h.release(rctx)
	}
	res.WriteDowntimeMs = time.Since(cutAt).Milliseconds()
	if err != nil {
		m.say("error: after the rollback, the data could not be checked: %v", err)
		return res, fail(res, cause)
	}
	ver := h.ver
	res.Rollback = ver
	switch decideFinal(h) {
	case finalMoved:
		res.Verdict = VerdictRolledBack
		m.say("Rolled back: service %s runs on node %s again; all %d keys of the cut verified", p.Service, p.From.Hostname, res.Keys)
	case finalUnverified:
		res.Verdict = VerdictRolledBack
		m.renderVerification(ver)
		m.say("Rolled back: service %s runs on node %s again, not verified: %d key(s) of the cut differ, and clients made %d change(s) before the check paused them, so the differences may be theirs (no loss was proven)",
			p.Service, p.From.Hostname, ver.Count(redisstate.ClassChanged)+ver.Count(redisstate.ClassMissing), h.clientWrites)
	default:
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
