package move

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/exitcode"
	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// Handoff is how a replication move went: the sync before, then the phases
// of the write downtime (each in ms since writes were paused on the source).
type Handoff struct {
	Replica        string `json:"replica_service"`
	SyncMs         int64  `json:"sync_ms"`        // REPLICAOF until in sync (clients writing)
	FullSyncs      int64  `json:"full_syncs"`     // full syncs the source served meanwhile
	Offset         int64  `json:"offset"`         // the source's replication offset at the pause
	CaughtUpMs     int64  `json:"caught_up_ms"`   // the replica reached that offset
	SavedMs        int64  `json:"saved_ms"`       // the replica saved (detached)
	OldStoppedMs   int64  `json:"old_stopped_ms"` // the old task stopped (its Redis saved the cut on the old volume)
	NewReadyMs     int64  `json:"new_ready_ms"`   // the new process loaded: writes accepted again
	ReplicaKeys    int64  `json:"replica_keys"`
	ReplicaDigest  string `json:"replica_digest,omitempty"`
	FingerprintMs  int64  `json:"fingerprint_ms"`  // of the detached replica, while the service restarts
	CheckMs        int64  `json:"check_ms"`        // of the new process against it
	CheckPausedMs  int64  `json:"check_paused_ms"` // writes paused again for a recheck (0: none)
	LoadedKeys     int64  `json:"loaded_keys"`     // rdb_last_load_keys_loaded of the new process (-1: unknown)
	SourceSaved    bool   `json:"source_saved"`    // an explicit SAVE on the source (it has no save points)
	SourceVersion  string `json:"source_version"`  // redis_version
	ReplicaVersion string `json:"replica_version"` // redis_version of the target's image
}

// fallback: replication cannot work for this move; reason says why. Nothing
// was changed: the copy method runs instead.
type fallback struct{ reason string }

func (f *fallback) Error() string { return f.reason }

func fallbackf(format string, a ...any) *fallback {
	return &fallback{reason: fmt.Sprintf(format, a...)}
}

// replicaRun is one replication move's state.
type replicaRun struct {
	m      *Mover
	p      *Plan
	res    *Result
	ho     *Handoff
	src    *redisstate.Client
	rep    *redisstate.Client
	tempID string
	// srcRunID is the source's process: the moved task's is another.
	srcRunID string
	// synced: the replica received data (the target volume is no longer empty).
	synced bool
}

// runReplication moves p by replication. A non-nil *fallback means nothing
// was changed and the copy method should run; otherwise the result and
// error are the move's.
func (m *Mover) runReplication(ctx context.Context, p *Plan, svc swarm.Service, res *Result) (*Result, error, *fallback) {
	r := &replicaRun{m: m, p: p, res: res, ho: &Handoff{LoadedKeys: -1}}
	res.Method = MethodReplication
	res.Handoff = r.ho
	defer func() {
		if r.src != nil {
			r.src.Close()
		}
		if r.rep != nil {
			r.rep.Close()
		}
	}()
	c, si, ep, err := m.Flow.Connect(ctx, svc)
	if err != nil {
		return res, fail(res, undecided(err)), nil
	}
	r.src = c
	r.srcRunID = si.RunID
	r.ho.SourceVersion = si.Version
	if fb := r.checkSource(ctx, si); fb != nil {
		return res, nil, fb
	}
	oldTasks, err := m.Flow.RunningTasks(ctx, svc.ID)
	if err != nil {
		return res, fail(res, undecided(err)), nil
	}
	host, port, err := net.SplitHostPort(ep.Addr)
	if err != nil {
		return res, nil, fallbackf("the source's address %s has no port", ep.Addr)
	}

	// 1. The replica.
	spec, why := ReplicaSpec(p)
	if why != "" {
		return res, nil, fallbackf("%s", why)
	}
	r.ho.Replica = spec.Name
	m.say("Step 1/5: starting a temporary replica, service %s, on node %s (volume %s created empty there), Redis on port %d only",
		spec.Name, p.To.Hostname, strings.Join(p.Volumes, ", "), p.TempPort)
	created, err := m.API.ServiceCreate(ctx, spec, swarm.ServiceCreateOptions{})
	if err != nil {
		if cerrdefs.IsConflict(err) || strings.Contains(err.Error(), "already exists") {
			return res, fail(res, exitcode.Refused(fmt.Errorf("a service %s already exists (left by an earlier move?): remove it (docker service rm %s) when it is not needed, and move again", spec.Name, spec.Name))), nil
		}
		return res, fail(res, undecided(fmt.Errorf("creating the temporary replica: %w", err))), nil
	}
	r.tempID = created.ID
	for _, w := range created.Warnings {
		m.say("warning: %s", w)
	}
	wctx, unwatch := m.watchTarget(ctx, p.To)
	defer unwatch()
	tf := *m.Flow
	tf.Opt.RedisPort = p.TempPort
	rep, rsi, _, err := tf.AwaitNew(wctx, r.tempID, "")
	if err != nil {
		if l := lost(wctx); l != nil {
			err = l
		}
		r.removeReplica(ctx)
		return res, fail(res, exitcode.Refused(fmt.Errorf("the temporary replica did not answer on node %s within --timeout %s: %v%s; nothing was changed",
			p.To.Hostname, m.Flow.Opt.Timeout, err, m.taskWhy(ctx, r.tempID)))), nil
	}
	r.rep = rep
	r.ho.ReplicaVersion = rsi.Version
	if rsi.Keys > 0 {
		r.removeReplica(ctx)
		return res, fail(res, exitcode.Refused(fmt.Errorf("the new Redis on node %s is not empty: volume %s already holds data there (from an earlier move?); nothing was written into it; remove it on node %s when you are sure it is not needed, and move again",
			p.To.Hostname, strings.Join(p.Volumes, ", "), p.To.Hostname))), nil
	}
	if fb := r.checkReplica(ctx, si, rsi); fb != nil {
		r.removeReplica(ctx)
		return res, nil, fb
	}

	// 2. The sync, clients writing.
	m.say("Step 2/5: the replica syncs from %s (clients keep writing to node %s)", ep.Addr, p.From.Hostname)
	if fb, err := r.sync(wctx, host, port); fb != nil || err != nil {
		r.discard(ctx)
		if err != nil {
			if l := lost(wctx); l != nil {
				err = exitcode.Refused(l)
			}
			return res, fail(res, undecided(err)), nil
		}
		return res, nil, fb
	}

	// 3. The handoff: pause, catch up, detach, save.
	res2, err, fb := r.handoff(ctx, wctx, svc, oldTasks, si)
	return res2, err, fb
}

// checkSource: the source must pause writes only (6.2+) and serve replicas.
func (r *replicaRun) checkSource(ctx context.Context, si *redisstate.ServerInfo) *fallback {
	if !si.AtLeast(6, 2) {
		return fallbackf("the source's Redis %s cannot pause writes only (CLIENT PAUSE WRITE needs 6.2)", si.Version)
	}
	for _, cmd := range []string{"PSYNC", "REPLCONF"} {
		if !r.hasCommand(ctx, r.src, cmd) {
			return fallbackf("the source's Redis does not serve replicas: %s is renamed or disabled (rename-command) there", cmd)
		}
	}
	return nil
}

// checkReplica: the target's image must read the source's RDB and obey REPLICAOF.
func (r *replicaRun) checkReplica(ctx context.Context, src, rep *redisstate.ServerInfo) *fallback {
	if !versionAtLeast(rep.Version, src.Version) {
		return fallbackf("the target's Redis %s is older than the source's %s: it may not read the source's RDB format", rep.Version, src.Version)
	}
	for _, cmd := range []string{"REPLICAOF", "CONFIG"} {
		if !r.hasCommand(ctx, r.rep, cmd) {
			return fallbackf("%s is renamed or disabled (rename-command) in the service's Redis: the target cannot be made a replica", cmd)
		}
	}
	return nil
}

// hasCommand: COMMAND INFO answers nil for a command renamed or disabled by
// rename-command; an ACL that forbids COMMAND leaves it unknown (true: the
// sync then says).
func (r *replicaRun) hasCommand(ctx context.Context, c *redisstate.Client, cmd string) bool {
	v, err := c.Redis().Do(ctx, "COMMAND", "INFO", cmd).Slice()
	if err != nil {
		return true
	}
	return len(v) == 1 && v[0] != nil
}

// versionAtLeast: a is the same major.minor as b or newer.
func versionAtLeast(a, b string) bool {
	pa, pb := strings.SplitN(a, ".", 3), strings.SplitN(b, ".", 3)
	if len(pa) < 2 || len(pb) < 2 {
		return true // not known: the sync says
	}
	ma, _ := strconv.Atoi(pa[0])
	mi, _ := strconv.Atoi(pa[1])
	mb, _ := strconv.Atoi(pb[0])
	nb, _ := strconv.Atoi(pb[1])
	return ma > mb || ma == mb && mi >= nb
}

// replicaNoSyncAfter is how long the replica may go without the source
// starting a sync before the source is taken as refusing it.
var replicaNoSyncAfter = 30 * time.Second

// maxFullSyncs: more full syncs than this for one replica is a resync loop
// (the source drops it: client-output-buffer-limit replica too small).
const maxFullSyncs = 3

// sync makes the replica a replica of the source at host:port and waits
// until it is in sync.
func (r *replicaRun) sync(ctx context.Context, host, port string) (*fallback, error) {
	m := r.m
	rdb := r.rep.Redis()
	o := r.src.Options()
	if o.Password != "" {
		if o.Username != "" {
			if err := rdb.Do(ctx, "CONFIG", "SET", "masteruser", o.Username).Err(); err != nil {
				return fallbackf("the replica refused CONFIG SET masteruser: %v", err), nil
			}
		}
		// Set at run time: the password never appears in the replica's arguments.
		if err := rdb.Do(ctx, "CONFIG", "SET", "masterauth", o.Password.Reveal()).Err(); err != nil {
			return fallbackf("the replica refused CONFIG SET masterauth: %v", err), nil
		}
	}
	st0, err := r.src.Info(ctx, "stats")
	if err != nil {
		return nil, err
	}
	full0 := infoInt(st0, "sync_full")
	start := time.Now()
	if err := rdb.Do(ctx, "REPLICAOF", host, port).Err(); err != nil {
		return fallbackf("the replica refused REPLICAOF %s %s: %v", host, port, err), nil
	}
	r.synced = true
	p := newSay(m, 2*time.Second)
	started := false
	for {
		ri, err := r.rep.Info(ctx, "replication")
		if err != nil {
			return nil, fmt.Errorf("the replica: %w", err)
		}
		st, err := r.src.Info(ctx, "stats")
		if err != nil {
			return nil, fmt.Errorf("the source: %w", err)
		}
		r.ho.FullSyncs = infoInt(st, "sync_full") - full0
		if ri["master_sync_in_progress"] == "1" || r.ho.FullSyncs > 0 {
			started = true
		}
		if ri["master_link_status"] == "up" && ri["master_sync_in_progress"] == "0" {
			r.ho.SyncMs = time.Since(start).Milliseconds()
			m.say("  In sync after %s (%d full sync(s) served by the source)", time.Since(start).Round(time.Millisecond), r.ho.FullSyncs)
			return nil, nil
		}
		switch {
		case r.ho.FullSyncs > maxFullSyncs:
			return fallbackf("the source served %d full syncs to the replica without it getting in sync: a resync loop (its client-output-buffer-limit replica is too small for the write rate?)", r.ho.FullSyncs), nil
		case !started && time.Since(start) > replicaNoSyncAfter:
			return fallbackf("the source did not start a sync for the replica within %s (PSYNC/SYNC refused by an ACL or rename-command, or the replica cannot reach %s:%s from node %s?)",
				replicaNoSyncAfter, host, port, r.p.To.Hostname), nil
		case time.Since(start) > m.Flow.Opt.Timeout:
			return fallbackf("the replica was not in sync within --timeout %s", m.Flow.Opt.Timeout), nil
		}
		p.say("  syncing: link %s, sync in progress %s (%s)", ri["master_link_status"], ri["master_sync_in_progress"], time.Since(start).Round(time.Second))
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// handoff pauses writes on the source, waits until the replica has every
// write, detaches it and makes it durable, then updates the service onto the
// target node and checks the new process against the replica's fingerprint.
func (r *replicaRun) handoff(ctx, wctx context.Context, svc swarm.Service, oldTasks []string, si *redisstate.ServerInfo) (*Result, error, *fallback) {
	m, p, res, ho := r.m, r.p, r.res, r.ho
	grace := stateful.StopGracePeriod(p.Original)
	hold := 2*m.Flow.Opt.Timeout + grace + 30*time.Second
	m.say("Step 3/5: handoff: writes paused on node %s (clients' writes wait); the replica catches up, detaches and saves", p.From.Hostname)
	srdb := r.src.Redis()
	if err := srdb.Do(ctx, "CLIENT", "PAUSE", hold.Milliseconds(), "WRITE").Err(); err != nil {
		r.discard(ctx)
		return res, nil, fallbackf("the source refused CLIENT PAUSE WRITE: %v", err)
	}
	cutAt := time.Now()
	since := func() int64 { return time.Since(cutAt).Milliseconds() }
	unpause := func() {
		_ = srdb.Do(context.WithoutCancel(ctx), "CLIENT", "UNPAUSE").Err()
		res.WriteDowntimeMs = since()
	}
	// Before the update: undo everything, the service was never touched.
	abort := func(err error) (*Result, error, *fallback) {
		unpause()
		r.discard(ctx)
		res.Verdict = VerdictFailed
		m.say("Nothing was changed: the service still runs on node %s; writes resumed after %s", p.From.Hostname, time.Duration(res.WriteDowntimeMs)*time.Millisecond)
		if l := lost(wctx); l != nil {
			err = exitcode.Refused(l)
		}
		return res, fail(res, undecided(err)), nil
	}
	ri, err := r.src.Info(ctx, "replication")
	if err != nil {
		return abort(fmt.Errorf("the source: %w", err))
	}
	ho.Offset = infoInt(ri, "master_repl_offset")
	srcReplID := ri["master_replid"]
	// The source pings its replicas even while paused: its offset may move
	// on, but not its data: the replica has every write once it reaches ho.Offset.
	deadline := time.Now().Add(30 * time.Second)
	for {
		rr, err := r.rep.Info(wctx, "replication")
		if err != nil {
			return abort(fmt.Errorf("the replica: %w", err))
		}
		off, _ := strconv.ParseInt(rr["slave_repl_offset"], 10, 64)
		if rr["master_link_status"] == "up" && rr["master_replid"] == srcReplID && off >= ho.Offset {
			break
		}
		if time.Now().After(deadline) {
			unpause()
			r.discard(ctx)
			return res, nil, fallbackf("the replica did not reach the source's offset %d within 30 s with writes paused (at %d, link %s)", ho.Offset, off, rr["master_link_status"])
		}
		time.Sleep(5 * time.Millisecond)
	}
	ho.CaughtUpMs = since()
	rsi, err := r.rep.ServerInfo(wctx)
	if err != nil {
		return abort(fmt.Errorf("the replica: %w", err))
	}
	ssi, err := r.src.ServerInfo(ctx)
	if err != nil {
		return abort(fmt.Errorf("the source: %w", err))
	}
	if d := dbDiff(ssi.Databases, rsi.Databases); d != "" {
		return abort(exitcode.Refused(fmt.Errorf("the replica caught up with the source's offset but its keys differ: %s", d)))
	}
	ho.ReplicaKeys = rsi.Keys
	res.Keys = rsi.Keys
	m.say("  Caught up at offset %d after %d ms: %d keys (%s) on both", ho.Offset, ho.CaughtUpMs, rsi.Keys, dbKeys(rsi.Databases))

	// Detached, the replica can no longer resync from anything (the service's
	// new task included); it stays read by nobody but this move.
	rrdb := r.rep.Redis()
	if err := rrdb.Do(wctx, "REPLICAOF", "NO", "ONE").Err(); err != nil {
		return abort(fmt.Errorf("the replica refused REPLICAOF NO ONE: %w", err))
	}
	saved := make(chan error, 1)
	srcSave := make(chan error, 1)
	// A source without save points would not save on SIGTERM: its volume
	// must hold the cut for a rollback.
	go func() {
		cfg, err := srdb.ConfigGet(ctx, "save").Result()
		if err == nil && strings.TrimSpace(cfg["save"]) == "" {
			ho.SourceSaved = true
			err = srdb.Do(ctx, "SAVE").Err()
		}
		srcSave <- err
	}()
	go func() { saved <- r.makeDurable(wctx) }()
	if err := <-saved; err != nil {
		<-srcSave
		return abort(fmt.Errorf("the replica could not be made durable: %w", err))
	}
	if err := <-srcSave; err != nil {
		return abort(fmt.Errorf("the source's SAVE (it has no save points, and the old volume must hold the cut for a rollback): %w", err))
	}
	ho.SavedMs = since()

	// 4. The update onto the target: one task restart.
	m.say("Step 4/5: updating service %s to run on node %s (the old task's Redis saves the cut into %s on node %s; the new one loads the replica's copy)",
		p.Service, p.To.Hostname, strings.Join(p.Volumes, ", "), p.From.Hostname)
	// start-first: the new task starts on the target while the old one,
	// writes paused, still runs on the source. They never share a volume
	// (one node each), and the paused old process accepts no write: its
	// stop is taken out of the write downtime. The service's own order is
	// sent back once the old task stopped (an update order alone restarts
	// no task).
	if err := m.send(ctx, p.ServiceID, startFirst(p.Final)); err != nil {
		return abort(err)
	}
	orderBack := func() {
		if err := m.send(context.WithoutCancel(ctx), p.ServiceID, p.Final); err != nil {
			m.say("warning: the service's own update order could not be set back (%v): run docker service update --update-order %s %s", err, orderOf(p.Final), p.Service)
		}
	}
	// The replica's fingerprint: the cut, taken while the service restarts.
	type fpResult struct {
		snap *redisstate.Snapshot
		err  error
	}
	fpc := make(chan fpResult, 1)
	go func() {
		start := time.Now()
		snap, err := redisstate.TakeSnapshot(wctx, r.rep, m.Flow.Store(), p.Service, nil, redisstate.FingerprintOptions{})
		ho.FingerprintMs = time.Since(start).Milliseconds()
		if snap != nil {
			ho.ReplicaDigest = snap.Summary.Digest.String()
		}
		fpc <- fpResult{snap, err}
	}()
	var snap *redisstate.Snapshot
	var snapErr error
	fpDone := false
	waitFP := func() (*redisstate.Snapshot, error) {
		if !fpDone {
			f := <-fpc
			snap, snapErr, fpDone = f.snap, f.err, true
			if snapErr == nil {
				m.say("  Fingerprint of the replica (the cut): %d keys, digest %s, in %d ms", snap.Summary.Keys, snap.Summary.Digest, ho.FingerprintMs)
			}
			r.removeReplica(ctx)
		}
		return snap, snapErr
	}
	defer func() {
		if s, _ := waitFP(); s != nil {
			_ = m.Flow.Store().Discard(s)
		}
	}()

	var final *redisstate.Client
	defer func() {
		if final != nil {
			final.Close()
		}
	}()
	// After the update: a failure rolls back to the old volume unless
	// clients wrote on the target.
	late := func(cause error) (*Result, error, *fallback) {
		if l := lost(wctx); l != nil {
			cause = exitcode.Refused(l)
		}
		s, _ := waitFP()
		r2, err := r.late(ctx, s, cutAt, cause, final)
		return r2, err, nil
	}
	if err := r.awaitNewTask(wctx, oldTasks); err != nil {
		return late(fmt.Errorf("the new task on node %s: %w%s", p.To.Hostname, err, m.taskWhy(ctx, p.ServiceID)))
	}
	final, fsi, _, err := m.Flow.AwaitNew(wctx, p.ServiceID, si.RunID)
	if err != nil {
		final = nil
		return late(fmt.Errorf("the Redis on node %s after the update: %w%s", p.To.Hostname, err, m.taskWhy(ctx, p.ServiceID)))
	}
	ho.NewReadyMs = since()
	// The old task stops once the new one runs; its Redis stays paused until then.
	if err := m.Flow.WaitStopped(wctx, oldTasks, grace+m.Flow.Opt.Timeout); err != nil {
		m.say("warning: the old task on node %s: %v (its Redis keeps writes paused for up to %s after the handoff)", p.From.Hostname, err, hold)
	} else {
		ho.OldStoppedMs = since()
	}
	orderBack()
	res.WriteDowntimeMs = ho.NewReadyMs
	ho.LoadedKeys = fsi.LastLoadKeys
	m.say("  Writes open again on node %s: write downtime %s (caught up %d ms, replica saved %d ms, new process loaded %d ms; the old task stopped at %d ms)",
		p.To.Hostname, time.Duration(res.WriteDowntimeMs)*time.Millisecond, ho.CaughtUpMs, ho.SavedMs, ho.NewReadyMs, ho.OldStoppedMs)

	// 5. The check of the new process against the replica's fingerprint.
	m.say("Step 5/5: checking the new process against the replica's fingerprint (clients write meanwhile: keys they add are NEW, not differences)")
	s, err := waitFP()
	if err != nil {
		return late(fmt.Errorf("the fingerprint of the replica: %w", err))
	}
	return r.checkFinal(ctx, wctx, final, fsi, s, cutAt)
}

// startFirst is spec with update order start-first.
func startFirst(spec swarm.ServiceSpec) swarm.ServiceSpec {
	out := deepCopy(spec)
	if out.UpdateConfig == nil {
		out.UpdateConfig = &swarm.UpdateConfig{}
	}
	out.UpdateConfig.Order = swarm.UpdateOrderStartFirst
	return out
}

func orderOf(spec swarm.ServiceSpec) string {
	if spec.UpdateConfig == nil || spec.UpdateConfig.Order == "" {
		return swarm.UpdateOrderStopFirst
	}
	return spec.UpdateConfig.Order
}

// awaitNewTask waits until a task of the service other than oldTasks runs
// (with start-first, the old one runs meanwhile: its address is not the
// new Redis').
func (r *replicaRun) awaitNewTask(ctx context.Context, oldTasks []string) error {
	m := r.m
	ctx, cancel := context.WithTimeout(ctx, m.Flow.Opt.Timeout)
	defer cancel()
	old := map[string]bool{}
	for _, id := range oldTasks {
		old[id] = true
	}
	for {
		ids, err := m.Flow.RunningTasks(ctx, r.p.ServiceID)
		if err == nil {
			for _, id := range ids {
				if !old[id] {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no new task ran within --timeout %s", m.Flow.Opt.Timeout)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// makeDurable saves the detached replica and keeps it from writing its
// files again (no save points, AOF off): the new task loads them while it
// may still run.
func (r *replicaRun) makeDurable(ctx context.Context) error {
	rdb := r.rep.Redis()
	pi, err := r.rep.Info(ctx, "persistence")
	if err != nil {
		return err
	}
	aof := pi["aof_enabled"] == "1"
	// After a sync a replica with AOF rewrites it: its files are complete once that ends.
	for aof && (pi["aof_rewrite_in_progress"] == "1" || pi["aof_rewrite_scheduled"] == "1") {
		time.Sleep(50 * time.Millisecond)
		if pi, err = r.rep.Info(ctx, "persistence"); err != nil {
			return err
		}
	}
	if err := rdb.Do(ctx, "SAVE").Err(); err != nil {
		return fmt.Errorf("SAVE: %w", err)
	}
	if err := rdb.ConfigSet(ctx, "save", "").Err(); err != nil {
		return fmt.Errorf("CONFIG SET save: %w", err)
	}
	if aof {
		// Turning AOF off flushes and fsyncs it.
		if err := rdb.ConfigSet(ctx, "appendonly", "no").Err(); err != nil {
			return fmt.Errorf("CONFIG SET appendonly no: %w", err)
		}
	}
	return nil
}

// checkFinal verifies the new process against the replica's snapshot:
// first with clients writing (they only add NEW keys, or change keys, which
// shows), then, if keys differ, with writes paused, to tell whose the
// differences are.
func (r *replicaRun) checkFinal(ctx, wctx context.Context, final *redisstate.Client, fsi *redisstate.ServerInfo, snap *redisstate.Snapshot, cutAt time.Time) (*Result, error, *fallback) {
	m, p, res, ho := r.m, r.p, r.res, r.ho
	start := time.Now()
	copt := redisstate.CompareOptions{MaxKeys: m.Flow.Opt.MaxKeys}
	rep, after, err := redisstate.VerifyAgainst(wctx, final, m.Flow.Store(), snap, redisstate.FingerprintOptions{}, copt)
	if after != nil {
		_ = m.Flow.Store().Discard(after)
	}
	ho.CheckMs = time.Since(start).Milliseconds()
	if err != nil {
		res2, err := r.late(ctx, snap, cutAt, fmt.Errorf("the check of the new process: %w", err), final)
		return res2, err, nil
	}
	res.HandoffCheck = rep
	if rep.OK() {
		return r.moved(), nil, nil
	}
	// Keys differ: pause and look again, knowing whether clients wrote.
	m.say("  %d key(s) of the cut differ with clients writing: checking again with writes paused", rep.Count(redisstate.ClassMissing)+rep.Count(redisstate.ClassChanged))
	rdb := final.Redis()
	if err := rdb.Do(wctx, "CLIENT", "PAUSE", 60000, "WRITE").Err(); err != nil {
		res2, err := r.late(ctx, snap, cutAt, fmt.Errorf("cannot pause writes for the check: %w", err), final)
		return res2, err, nil
	}
	pausedAt := time.Now()
	pi, err := final.Info(wctx, "persistence")
	changes := int64(-1)
	if err == nil {
		changes = infoInt(pi, "rdb_changes_since_last_save")
	}
	rep, after, err = redisstate.VerifyAgainst(wctx, final, m.Flow.Store(), snap, redisstate.FingerprintOptions{}, copt)
	if after != nil {
		_ = m.Flow.Store().Discard(after)
	}
	ho.CheckPausedMs = time.Since(pausedAt).Milliseconds()
	if err != nil {
		_ = rdb.Do(context.WithoutCancel(ctx), "CLIENT", "UNPAUSE").Err()
		return res, fail(res, undecided(fmt.Errorf("the check of the new process: %w", err))), nil
	}
	res.HandoffCheck = rep
	if rep.OK() {
		_ = rdb.Do(context.WithoutCancel(ctx), "CLIENT", "UNPAUSE").Err()
		return r.moved(), nil, nil
	}
	renderReport(m, rep)
	short := ""
	if fsi.LastLoadKeys >= 0 {
		exp := max(fsi.LastLoadExpired, rep.Count(redisstate.ClassExpired))
		if fsi.LastLoadKeys+exp < ho.ReplicaKeys {
			short = fmt.Sprintf("it loaded %d keys of the cut's %d, and only %d more had expired (rdb_last_load_keys_loaded)", fsi.LastLoadKeys, ho.ReplicaKeys, exp)
		}
	}
	switch {
	case changes == 0:
		// No client wrote since the load: the rollback drops nothing. The
		// pause holds until the rollback stopped this task.
		_ = rdb.Do(context.WithoutCancel(ctx), "CLIENT", "PAUSE", m.rollbackHold(p).Milliseconds(), "WRITE").Err()
		r2, err := r.rollback(ctx, snap, cutAt, exitcode.Refused(fmt.Errorf("the data Redis loaded on node %s is not equal to the cut", p.To.Hostname)))
		return r2, err, nil
	case short != "":
		_ = rdb.Do(context.WithoutCancel(ctx), "CLIENT", "UNPAUSE").Err()
		r2, err := m.stay(p, res, exitcode.Refused(fmt.Errorf("the data Redis loaded on node %s is not equal to the cut: %s", p.To.Hostname, short)),
			fmt.Sprintf("clients made %d change(s) there before the check paused them", changes))
		return r2, err, nil
	}
	_ = rdb.Do(context.WithoutCancel(ctx), "CLIENT", "UNPAUSE").Err()
	res.Verdict = VerdictUnverified
	res.OldVolumes = oldVolumes(p)
	err = exitcode.Refused(fmt.Errorf("service %s runs on node %s, but its data could not be verified: %d key(s) of the cut differ, and clients made %d change(s) there before the check paused them, so the differences may be theirs; nothing was rolled back (that would drop their writes); no loss was proven",
		p.Service, p.To.Hostname, rep.Count(redisstate.ClassChanged)+rep.Count(redisstate.ClassMissing), changes))
	m.say("Not verified: %v", err)
	m.sayOldVolumes(res.OldVolumes, "The cut stays")
	return res, fail(res, err), nil
}

func (r *replicaRun) moved() *Result {
	m, p, res, ho := r.m, r.p, r.res, r.ho
	res.Verdict = VerdictMoved
	res.OldVolumes = oldVolumes(p)
	m.say("Moved by replication: service %s runs on node %s with all %d keys of the cut verified (the new process against the detached replica's fingerprint, %s); write downtime %s (writes paused on node %s until the new process on node %s loaded)",
		p.Service, p.To.Hostname, ho.ReplicaKeys, ho.ReplicaDigest, time.Duration(res.WriteDowntimeMs)*time.Millisecond, p.From.Hostname, p.To.Hostname)
	m.sayOldVolumes(res.OldVolumes, "The old data stays")
	return res
}

// late handles a failure after the update was sent (final: the new process
// if it answered): like the copy method's, it rolls back only when no client
// wrote on the target.
func (r *replicaRun) late(ctx context.Context, snap *redisstate.Snapshot, cutAt time.Time, cause error, final *redisstate.Client) (*Result, error) {
	m, p := r.m, r.p
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	c := final
	if c == nil {
		// A process other than the source's (stopping) one, if any answers.
		tf := *m.Flow
		tf.Opt.Timeout = 10 * time.Second
		if c2, _, _, err := tf.AwaitNew(pctx, p.ServiceID, r.srcRunID); err == nil {
			defer c2.Close()
			c = c2
		}
	}
	if c != nil {
		_ = c.Redis().Do(pctx, "CLIENT", "PAUSE", m.rollbackHold(p).Milliseconds(), "WRITE").Err()
		pi, err := c.Info(pctx, "persistence")
		if err == nil && pi["rdb_changes_since_last_save"] == "0" && pi["loading"] == "0" {
			m.say("No client wrote to the Redis on node %s (rdb_changes_since_last_save:0); its writes stay paused until the rollback stops it", p.To.Hostname)
			return r.rollback(ctx, snap, cutAt, cause)
		}
		_ = c.Redis().Do(pctx, "CLIENT", "UNPAUSE").Err()
		if err == nil {
			return m.stay(p, r.res, cause, fmt.Sprintf("clients made %s change(s) there (rdb_changes_since_last_save)", pi["rdb_changes_since_last_save"]))
		}
		return m.stay(p, r.res, cause, "it answered clients on the service's port, and whether they wrote there cannot be told now")
	}
	m.say("The Redis on node %s never answered after the update: no client could write there", p.To.Hostname)
	return r.rollback(ctx, snap, cutAt, cause)
}

// rollback sends the original spec (the old node, whose volume holds the
// cut saved under the pause) and checks the Redis there against the
// replica's fingerprint (when it was taken).
func (r *replicaRun) rollback(ctx context.Context, snap *redisstate.Snapshot, cutAt time.Time, cause error) (*Result, error) {
	m, p, res := r.m, r.p, r.res
	m.say("Move failed: %v", cause)
	m.say("Rolling back: updating service %s to its original spec (node %s, volume %s)", p.Service, p.From.Hostname, strings.Join(p.Volumes, ", "))
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*m.Flow.Opt.Timeout+stateful.StopGracePeriod(p.Original))
	defer cancel()
	r.removeReplica(rctx)
	res.Verdict = VerdictFailed
	res.OldVolumes = oldVolumes(p)
	tasks, _ := m.Flow.RunningTasks(rctx, p.ServiceID)
	if err := m.send(rctx, p.ServiceID, p.Original); err != nil {
		m.say("error: the rollback could not be sent: %v; run: docker service update --constraint-rm node.id==%s --constraint-add node.id==%s %s", err, p.To.ID, p.From.ID, p.Service)
		return res, fail(res, cause)
	}
	if len(tasks) > 0 {
		_ = m.Flow.WaitStopped(rctx, tasks, stateful.StopGracePeriod(p.Original)+m.Flow.Opt.Timeout)
	}
	c, csi, _, err := m.Flow.AwaitNew(rctx, p.ServiceID, "")
	res.WriteDowntimeMs = time.Since(cutAt).Milliseconds()
	if err != nil {
		m.say("error: after the rollback, Redis on node %s: %v", p.From.Hostname, err)
		return res, fail(res, cause)
	}
	defer c.Close()
	if csi.RunID == r.srcRunID {
		// The new task never ran (start-first kept the old one): its Redis
		// still holds the handoff's pause, which this move must end.
		defer func() { _ = c.Redis().Do(rctx, "CLIENT", "UNPAUSE").Err() }()
	}
	if snap == nil {
		m.say("Rolled back: service %s runs on node %s again (not verified: the replica's fingerprint was not taken)", p.Service, p.From.Hostname)
		res.Verdict = VerdictRolledBack
		return res, fail(res, exitcode.Refused(cause))
	}
	rep, after, err := redisstate.VerifyAgainst(rctx, c, m.Flow.Store(), snap, redisstate.FingerprintOptions{}, redisstate.CompareOptions{MaxKeys: m.Flow.Opt.MaxKeys})
	if after != nil {
		_ = m.Flow.Store().Discard(after)
	}
	res.RollbackCheck = rep
	switch {
	case err != nil:
		m.say("error: after the rollback, the data could not be checked: %v", err)
	case rep.OK():
		res.Verdict = VerdictRolledBack
		m.say("Rolled back: service %s runs on node %s again; all %d keys of the cut verified", p.Service, p.From.Hostname, res.Keys)
	default:
		renderReport(m, rep)
		m.say("error: after the rollback, the data on node %s is not equal to the cut", p.From.Hostname)
	}
	m.say("Write downtime: %s (from the pause to writes open again on node %s)", time.Duration(res.WriteDowntimeMs)*time.Millisecond, p.From.Hostname)
	if !errors.As(cause, new(*exitcode.Error)) {
		cause = exitcode.Refused(cause)
	}
	return res, fail(res, cause)
}

// discard empties the target volume the replica may have written (a
// partial or complete sync) and removes the replica: nothing of the move is
// left but the empty volume.
func (r *replicaRun) discard(ctx context.Context) {
	ctx = context.WithoutCancel(ctx)
	if r.synced && r.rep != nil {
		rdb := r.rep.Redis()
		err := rdb.Do(ctx, "REPLICAOF", "NO", "ONE").Err()
		if err == nil {
			err = rdb.Do(ctx, "FLUSHALL").Err()
		}
		if err == nil {
			err = rdb.Do(ctx, "SAVE").Err()
		}
		if err != nil {
			r.m.say("warning: the partial copy on node %s could not be emptied (%v): volume %s there may hold data; remove it before moving again: %s",
				r.p.To.Hostname, err, strings.Join(r.p.Volumes, ", "), removeCmd(r.p.To, r.p.Volumes))
		}
	}
	if r.rep != nil {
		// No save on its way out: the next task on the volume is the service's.
		_ = r.rep.Redis().ConfigSet(ctx, "save", "").Err()
	}
	r.removeReplica(ctx)
}

// removeReplica removes the temporary replica service and waits (bounded)
// until its container is gone.
func (r *replicaRun) removeReplica(ctx context.Context) {
	if r.tempID == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
	defer cancel()
	m := r.m
	tasks, _ := m.API.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", r.tempID))})
	if err := m.API.ServiceRemove(ctx, r.tempID); err != nil && !cerrdefs.IsNotFound(err) {
		m.say("warning: the temporary replica %s could not be removed: %v (docker service rm %s)", r.ho.Replica, err, r.ho.Replica)
		return
	}
	r.tempID = ""
	// Its tasks leave the store before the container exits: the replica's
	// Redis refusing connections says it is gone.
	if r.rep != nil {
		for ctx.Err() == nil {
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := r.rep.Redis().Ping(pctx).Err()
			cancel()
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		return
	}
	var ids []string
	for _, t := range tasks {
		ids = append(ids, t.ID)
	}
	if len(ids) > 0 {
		_ = m.Flow.WaitStopped(ctx, ids, 50*time.Second)
	}
}

func dbDiff(a, b []redisstate.DBKeys) string {
	am, bm := map[int]int64{}, map[int]int64{}
	for _, d := range a {
		am[d.DB] = d.Keys
	}
	for _, d := range b {
		bm[d.DB] = d.Keys
	}
	var out []string
	for db, n := range am {
		if bm[db] != n {
			out = append(out, fmt.Sprintf("db%d: %d on the source, %d on the replica", db, n, bm[db]))
		}
	}
	for db, n := range bm {
		if _, ok := am[db]; !ok {
			out = append(out, fmt.Sprintf("db%d: 0 on the source, %d on the replica", db, n))
		}
	}
	return strings.Join(out, "; ")
}

func dbKeys(dbs []redisstate.DBKeys) string {
	parts := make([]string, len(dbs))
	for i, d := range dbs {
		parts[i] = "db" + strconv.Itoa(d.DB) + ": " + strconv.FormatInt(d.Keys, 10)
	}
	if len(parts) == 0 {
		return "empty"
	}
	return strings.Join(parts, ", ")
}

func infoInt(m map[string]string, k string) int64 {
	v, _ := strconv.ParseInt(m[k], 10, 64)
	return v
}

func renderReport(m *Mover, rep *redisstate.Report) {
	if m.Log != nil && rep != nil {
		_ = redisstate.RenderText(m.Log, rep)
	}
}

// sayEvery repeats a progress line at most every d.
type sayEvery struct {
	m    *Mover
	d    time.Duration
	last time.Time
}

func newSay(m *Mover, d time.Duration) *sayEvery { return &sayEvery{m: m, d: d, last: time.Now()} }

func (s *sayEvery) say(f string, a ...any) {
	if time.Since(s.last) >= s.d {
		s.last = time.Now()
		s.m.say(f, a...)
	}
}
