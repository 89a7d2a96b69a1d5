package verifyflow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/exitcode"
	"github.com/docker-stateful/docker-stateful/plugin/finding"
	"github.com/docker-stateful/docker-stateful/plugin/pgstate"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// PGUpdateResult is the report of update --verify for PostgreSQL (--format
// json): UpdateResult's shape, with the server under "postgres".
type PGUpdateResult struct {
	Service        string            `json:"service"`
	Engine         string            `json:"engine"` // "postgres"
	Postgres       Endpoint          `json:"postgres"`
	Snapshot       string            `json:"snapshot"`
	Warnings       []finding.Finding `json:"warnings"`
	Cut            *pgstate.CutInfo  `json:"cut,omitempty"`
	Report         *pgstate.Report   `json:"report,omitempty"`
	RolledBack     bool              `json:"rolled_back"`
	RollbackReport *pgstate.Report   `json:"rollback_report,omitempty"`
	Restored       []string          `json:"restored,omitempty"`
	WritesResumed  bool              `json:"writes_resumed"`
	// ResumedAt is when writes were turned back on (they were off from
	// cut.read_only_at).
	ResumedAt *time.Time `json:"resumed_at,omitempty"`
	// Phases and WritePauseMs as for Redis (UpdateResult): writes are off
	// from the cut until the new server is verified; old_process is until
	// the old task stopped (or the update was sent, when it replaces none),
	// new_process the rest.
	Phases       []Phase    `json:"phases"`
	WritePauseMs WritePause `json:"write_pause_ms"`
	Verdict      string     `json:"verdict"`
	Error        string     `json:"error,omitempty"`
}

// PGUpdate is update --verify for a PostgreSQL service, with Update's steps
// and policy (Decide). Unlike Redis' pause, writes stay off from the cut
// until the new server is verified: the setting lives in the data
// directory, so the new server starts read-only, is verified exactly as
// loaded, and only then resumed (also after a rollback, whose server runs on
// the same directory).
//
//   - Before: locate, preflight, cut (read-only, wait for writers,
//     CHECKPOINT), fingerprint. An error means nothing may be sent; writes
//     are resumed before it returns.
//   - AfterSend: wait for the old task to stop (its shutdown checkpoint),
//     then, while docker waits for convergence, await the new postmaster
//     (recovery done), verify it and resume writes once it is verified: the
//     check overlaps docker's stability wait, and writes are off only as long
//     as the proof needs.
//   - After: that check's outcome (again if the server changed since), Decide;
//     roll back, verify again and resume on failure.
//   - Abandon, always: resume writes wherever they are still off.
type PGUpdate struct {
	Flow     *PGFlow
	Opt      UpdateOptions
	Converge func(ctx context.Context, serviceID string) error
	Report   io.Writer
	Result   PGUpdateResult

	swarmRun // the Swarm steps (run.go), as for Redis

	c       *pgstate.Client // the server before the update
	lock    *pgstate.CutLock
	cut     *pgstate.CutHandle
	cutFrom time.Time
	newFrom time.Time // writes held on the new server from here (old task stopped)
	before  *pgstate.Snapshot
	dir     string // PGDATA
	wasSent bool
	// last is the newest server seen after the update, and lastStart its
	// postmaster start; awaitNewer: the server to resume must be newer than
	// lastStart (the one seen is being replaced).
	last       *pgstate.Client
	lastStart  time.Time
	awaitNewer bool
	resumed    bool
	early      *earlyCheck
}

// earlyCheck is the check AfterSend starts while docker waits for
// convergence; its lines are held until After prints them, so that they do
// not break docker's progress display.
type earlyCheck struct {
	rep  *pgstate.Report
	err  error
	log  bytes.Buffer
	done chan struct{}
}

func (u *PGUpdate) say(format string, a ...any) { u.Flow.say(format, a...) }

func (u *PGUpdate) stop(verdict string, err error) error {
	u.Result.Verdict, u.Result.Error = verdict, err.Error()
	u.Result.Phases = u.tl.list()
	return err
}

// notSent: nothing was sent; could not decide (2) or interrupted (130).
func (u *PGUpdate) notSent(ctx context.Context, err error) error {
	return u.stop(VerdictError, undecided(ctx, fmt.Errorf("update of service %s not sent: %w (writes resumed)", u.current.Spec.Name, err)))
}

// Before connects, pre-flights, cuts and fingerprints; spec is what will be
// sent.
func (u *PGUpdate) Before(ctx context.Context, current swarm.Service, spec *swarm.ServiceSpec) error {
	name := current.Spec.Name
	u.current = current
	u.Result = PGUpdateResult{Service: name, Engine: EnginePostgres, Warnings: []finding.Finding{}, Phases: []Phase{}}
	u.tl.start()
	c, si, ep, err := u.Flow.Connect(ctx, current)
	if err != nil {
		return u.notSent(ctx, err)
	}
	u.c, u.Result.Postgres = c, ep
	pre, warnings, err := u.Flow.Preflight(ctx, c, current.Spec, *spec)
	if err != nil {
		var ref *Refused
		if !errors.As(err, &ref) {
			return u.notSent(ctx, err)
		}
		if !u.Opt.Force {
			for _, f := range ref.Findings {
				u.say("refused: %s", f)
			}
			return u.stop(VerdictRefused, exitcode.Refused(fmt.Errorf("update of service %s refused: its PostgreSQL data would not survive it or cannot be checked; nothing was sent (--force sends it anyway, and --verify then checks it)", name)))
		}
		for _, f := range ref.Findings {
			u.say("warning: --force overrides: %s", f)
		}
		warnings = append(warnings, ref.Findings...)
	}
	u.dir, u.Result.Warnings = pre.DataDirectory, warnings
	u.replaces = stateful.ReplacesTasks(current.Spec, *spec)
	if err := u.tasks(ctx, u.Flow.Flow, "PostgreSQL"); err != nil {
		if exitcode.Code(err) == exitcode.No {
			return u.stop(VerdictRefused, err)
		}
		return u.notSent(ctx, err)
	}
	// one cut per server: taken before writes go off, so that a refused
	// second run never touches the first one's setting
	if u.lock, err = u.Flow.LockCut(ctx, c); err != nil {
		var busy *Busy
		if errors.As(err, &busy) {
			return u.stop(VerdictRefused, exitcode.Refused(fmt.Errorf("update of service %s not sent: %w", name, err)))
		}
		return u.notSent(ctx, err)
	}
	u.cutFrom = time.Now()
	if u.cut, err = u.Flow.StartCut(ctx, c); err != nil {
		u.lock.Unlock()
		return u.notSent(ctx, err)
	}
	fpFrom := time.Now()
	u.tl.add("cut: writes off, checkpoint", u.cutFrom, fpFrom)
	u.Result.Cut = &u.cut.Info
	u.lastStart = si.PostmasterStart
	if u.before, err = u.Flow.Snapshot(ctx, c, name, &u.cut.Info); err != nil {
		u.Abandon()
		return u.notSent(ctx, err)
	}
	u.tl.add("fingerprint the cut", fpFrom, time.Now())
	u.Result.Snapshot = u.before.ID
	u.Flow.Prune(name, 20)
	// The last moment before sending: the node must be able to run the
	// task again, and Ctrl-C means nothing is sent.
	if err := u.pinReady(ctx, u.Flow.Flow); err != nil {
		u.Abandon()
		if exitcode.Code(err) == exitcode.No {
			return u.stop(VerdictRefused, err)
		}
		return u.notSent(ctx, err)
	}
	if ctx.Err() != nil {
		u.Abandon()
		return u.notSent(ctx, ctx.Err())
	}
	u.say("Sending the update (writes stay off until the new server is verified)")
	return nil
}

// AfterSend waits for the old task to stop: its server checkpoints on
// shutdown, read-only since the cut. Writes stay off.
func (u *PGUpdate) AfterSend(ctx context.Context, serviceID string) {
	if u.cut == nil {
		return
	}
	u.sentAt = time.Now()
	if u.base == nil {
		u.base = ctx
	}
	// The run's context: ctx may be docker's convergence wait, which the
	// watch cuts at its deadline; that is no interruption of the stop.
	ctx = u.base
	u.wasSent = true
	u.awaitNewer = u.replaces
	u.armWatch(u.Flow.Opt.Timeout)
	u.recordSent(ctx, u.Flow.Flow, serviceID)
	defer func() { u.waitFrom = time.Now() }()
	oldDone := func() {
		u.newFrom = time.Now()
		u.Result.WritePauseMs.OldProcess = u.newFrom.Sub(u.cutFrom).Milliseconds()
	}
	if !u.replaces || len(u.oldTasks) == 0 {
		oldDone()
		return
	}
	deadline := stateful.StopGracePeriod(u.current.Spec) + u.Flow.Opt.Timeout
	err := u.Flow.WaitStopped(ctx, u.oldTasks, deadline)
	oldDone()
	u.tl.add("old task stops (writes held)", u.sentAt, u.newFrom)
	switch {
	case errors.Is(err, ErrNotReplaced):
		u.say("The old task is still meant to run after %s: the update does not replace it", NotReplacedAfter)
		u.replaces, u.awaitNewer = false, false
		return
	case err != nil:
		u.say("warning: %v", err)
		return
	}
	u.say("Verifying the new server while docker waits for the service to converge")
	e := &earlyCheck{done: make(chan struct{})}
	base := *u.Flow.Flow
	base.Log = &e.log
	fl := &PGFlow{Flow: &base, PG: u.Flow.PG, store: u.Flow.store}
	u.early = e
	go func() {
		defer close(e.done)
		e.rep, e.err = u.checkWith(ctx, fl, serviceID)
		if e.err == nil && e.rep.OK() {
			u.resumeWith(fl, u.last)
		}
	}()
}

// Abandon turns writes back on wherever they are still off: on the server
// of the cut when the update was not sent, else on the service's server
// now (waiting for it, when it is being replaced). Safe on nil and more
// than once.
func (u *PGUpdate) Abandon() {
	if u == nil || u.cut == nil {
		return
	}
	defer u.lock.Unlock() // the run is over
	if e := u.early; e != nil {
		<-e.done // its resume, if any, comes first
	}
	if u.resumed {
		return
	}
	if !u.wasSent {
		if err := u.cut.Release(context.Background()); err != nil {
			u.say("warning: %v", err)
			return
		}
		u.resumedNow()
		return
	}
	u.resumeLatest()
}

// resumeLatest resumes writes on the service's server once the update was
// sent, whatever the caller's context says: the next server on the data
// directory starts read-only and nothing else would turn writes back on.
func (u *PGUpdate) resumeLatest() {
	c := u.last
	if c == nil {
		c = u.c
		// the task may have moved: ask the daemon where it runs now
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if svc, _, err := u.Flow.API.ServiceInspectWithRaw(ctx, u.current.ID, swarm.ServiceInspectOptions{}); err == nil {
			if ep, err := u.Flow.Endpoint(ctx, svc); err == nil {
				if nc, err := u.Flow.client(ep.Addr); err == nil {
					c = nc
				}
			}
		}
		cancel()
	}
	deadline := u.Flow.Opt.Timeout
	u.say("Resuming writes on the service's PostgreSQL (%s; waiting up to %s for it)", c.Addr(), deadline)
	ctx := context.Background()
	if u.awaitNewer {
		if _, err := c.WaitRestarted(ctx, u.lastStart, deadline, u.Flow.waitProgress()); err != nil {
			u.say("warning: no new PostgreSQL after the one started at %s: %v; resuming the one that answers", u.lastStart.UTC().Format(time.RFC3339), err)
		}
	}
	if _, err := pgstate.ResumeWhenReady(ctx, c, deadline); err != nil {
		u.say("warning: %v", err)
		return
	}
	u.resumedNow()
	u.say("Writes resumed")
}

// resume turns writes back on for the server c just verified.
func (u *PGUpdate) resume(c *pgstate.Client) { u.resumeWith(u.Flow, c) }

func (u *PGUpdate) resumeWith(f *PGFlow, c *pgstate.Client) {
	if u.resumed {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := pgstate.Resume(ctx, c); err != nil {
		f.say("warning: %v", err)
		return
	}
	u.resumedNow()
	f.say("Writes resumed")
}

// joinEarly waits for AfterSend's check and prints its lines. A verified
// server that is no longer the one running (the task was replaced since)
// does not count: the caller checks again.
func (u *PGUpdate) joinEarly(ctx context.Context) (rep *pgstate.Report, err error, ok bool) {
	e := u.early
	if e == nil {
		return nil, nil, false
	}
	u.early = nil
	<-e.done
	if u.Flow.Log != nil {
		_, _ = u.Flow.Log.Write(e.log.Bytes())
	}
	if e.err != nil {
		return nil, e.err, true
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	si, serr := u.last.ServerInfo(sctx)
	cancel()
	if serr != nil || !si.PostmasterStart.Equal(u.lastStart) {
		u.say("The server verified is no longer the one running (the task was replaced since): verifying again")
		u.awaitNewer = false
		return nil, nil, false
	}
	return e.rep, nil, true
}

// After checks the data of the updated service against the cut, resumes
// writes, and rolls back as Decide says. Its error carries the exit status.
func (u *PGUpdate) After(ctx context.Context, serviceID string) error {
	defer u.Abandon()
	if u.before == nil {
		return nil
	}
	u.stopWatch() // docker's wait is over
	if !u.waitFrom.IsZero() {
		u.tl.add("docker's convergence wait", u.waitFrom, time.Now())
	}
	name := u.current.Spec.Name
	f := Facts{Service: name, Snapshot: u.before.ID, NoRollback: u.Opt.NoRollback}
	if !u.replaces {
		u.say("The update replaced no task: verifying the same PostgreSQL")
	}
	rep, err, ok := u.joinEarly(ctx)
	if !ok {
		rep, err = u.check(ctx, serviceID)
	}
	f.Interrupted = errors.Is(ctx.Err(), context.Canceled)
	f.NotConverged, f.SwarmRolledBack = u.convergence(ctx, u.Flow.Flow, serviceID)
	if err != nil {
		f.Unchecked = fmt.Errorf("cannot verify the data of service %s after the update: %w", name, err)
	} else {
		u.Result.Report, f.Intact = rep, rep.OK()
		// Rows written after the cut by sessions that bypassed it (their
		// xmin is past the cut's snapshot) are clients' writes, not a loss.
		if rep.Unattributed() {
			f.Unattributed, f.ClientWrites = true, rep.WrittenAfterCut
			f.UnattributedWhy = fmt.Sprintf("sessions that bypassed the read-only cut wrote %d row(s) after it", rep.WrittenAfterCut)
		}
		u.render("", rep)
	}
	if f.NotConverged != nil && !f.Interrupted {
		u.say("The update of service %s did not converge: %v", name, f.NotConverged)
	}
	d := Decide(f)
	switch {
	case d.Rollback:
		rbFrom := time.Now()
		switch {
		case f.Unchecked != nil:
			u.say("%v: rolling service %s back to its previous spec", f.Unchecked, name)
		case f.NotConverged != nil:
			u.say("The update failed: rolling service %s back to its previous spec", name)
		default:
			u.say("The data did not survive the update: rolling service %s back to its previous spec", name)
		}
		f.RolledBack, f.RollbackErr = u.rollback(ctx, serviceID)
		var sup *SupersededError
		if errors.As(f.RollbackErr, &sup) {
			f.Superseded, f.RollbackErr = sup, nil
		}
		if f.RolledBack {
			f.AnonymousData = u.afterRollback(ctx, serviceID, rep)
		}
		u.tl.add("roll back and check again", rbFrom, time.Now())
		d = Decide(f)
	case f.SwarmRolledBack && !f.Interrupted:
		u.Result.RolledBack, u.awaitNewer = true, u.replaces
		f.AnonymousData = u.afterRollback(ctx, serviceID, rep)
		d = Decide(f)
	case !f.Interrupted && u.last != nil:
		// verified, or failed and kept (--no-rollback): the service runs this server
		u.resume(u.last)
	}
	u.Result.Phases = u.tl.list()
	if u.Report != nil {
		renderTiming(u.Report, u.Result.Phases, u.Result.WritePauseMs)
	}
	u.Result.Verdict = d.Verdict
	if d.Err != nil {
		u.Result.Error = d.Err.Error()
	}
	return d.Err
}

// check awaits the service's PostgreSQL (a postmaster newer than the last
// one seen, when that one is being replaced) and verifies it against the cut.
func (u *PGUpdate) check(ctx context.Context, serviceID string) (*pgstate.Report, error) {
	return u.checkWith(ctx, u.Flow, serviceID)
}

func (u *PGUpdate) checkWith(ctx context.Context, f *PGFlow, serviceID string) (*pgstate.Report, error) {
	var older time.Time
	if u.awaitNewer {
		older = u.lastStart
	}
	from := time.Now()
	c, si, err := f.AwaitNew(ctx, serviceID, older)
	ready := time.Now()
	u.tl.add("wait for the new server (recovery)", from, ready)
	if err != nil {
		return nil, err
	}
	u.last, u.lastStart, u.awaitNewer = c, si.PostmasterStart, false
	rep, err := f.Verify(ctx, c, u.before)
	u.tl.add("check the server (writes held)", ready, time.Now())
	return rep, err
}

// rollback restores the previous spec and waits for it to converge; the
// server seen last is then being replaced.
func (u *PGUpdate) rollback(ctx context.Context, serviceID string) (bool, error) {
	if err := u.rollbackOurs(ctx, u.Flow.Flow, serviceID, u.Converge); err != nil {
		return false, err
	}
	u.Result.RolledBack, u.awaitNewer = true, u.replaces
	return true, nil
}

// afterRollback verifies the data again, resumes writes on the restored
// server, and says what the rollback restored; it reports whether the data
// is still gone because it was on an anonymous volume.
func (u *PGUpdate) afterRollback(ctx context.Context, serviceID string, failed *pgstate.Report) bool {
	rep, err := u.check(ctx, serviceID)
	if err != nil {
		u.say("warning: cannot verify the data after the rollback: %v", err)
	} else if !errors.Is(ctx.Err(), context.Canceled) {
		u.resume(u.last)
	}
	u.Result.RollbackReport = rep
	u.Result.Restored = PGRollbackOutcome(u.current.Spec, u.dir, rep, failed)
	u.render("After the rollback:", rep)
	if u.Report != nil {
		fmt.Fprintln(u.Report)
		for _, l := range u.Result.Restored {
			fmt.Fprintln(u.Report, l)
		}
	}
	return (rep == nil || !rep.OK()) && DataMountOf(u.current.Spec, u.dir).Anonymous()
}

// PGRollbackOutcome says in words what a spec rollback did for PostgreSQL's
// data directory dir: rep is the verification after the rollback (nil when
// it could not run), failed the one before it (rows written after the cut
// went to the replaced data).
func PGRollbackOutcome(restoredSpec swarm.ServiceSpec, dir string, rep, failed *pgstate.Report) []string {
	dm := DataMountOf(restoredSpec, dir)
	var out []string
	switch {
	case rep != nil && rep.OK():
		out = append(out, fmt.Sprintf("The rollback restored the data: the previous spec re-attached %s and all %d tables (%d rows) of snapshot %s are back.", dm, rep.BeforeTables, rep.BeforeRows, rep.Before))
	case dm.Anonymous():
		out = append(out, fmt.Sprintf("The rollback restored the previous spec, NOT the data: PostgreSQL's data directory %s was on %s; a spec rollback cannot bring back an anonymous volume (the new task gets an empty one).", dir, dm))
	case rep == nil:
		out = append(out, fmt.Sprintf("The rollback restored the previous spec (%s), but the data could not be checked.", dm))
	default:
		out = append(out, fmt.Sprintf("The rollback re-attached %s, but the data is NOT all back: %s.", dm, strings.Join(rep.Reasons, "; ")))
	}
	if failed != nil && failed.AfterRows > failed.BeforeRows && failed.Count(pgstate.ClassMissing) == 0 {
		out = append(out, fmt.Sprintf("%d row(s) written to the updated server are not in the restored data.", failed.AfterRows-failed.BeforeRows))
	}
	return out
}

func (u *PGUpdate) render(title string, rep *pgstate.Report) {
	renderUnder(u.Report, title, rep, pgstate.RenderText)
}

// Outcome is the report for --format json once the run is over with err
// (see Update.Outcome): every document has a verdict.
func (u *PGUpdate) Outcome(service string, err error) PGUpdateResult {
	r := PGUpdateResult{Service: service, Engine: EnginePostgres, Warnings: []finding.Finding{}, Phases: []Phase{}}
	if u != nil && u.Result.Service != "" {
		r = u.Result
	}
	r.Verdict, r.Error = settle(r.Verdict, r.Error, err)
	return r
}

func (u *PGUpdate) resumedNow() {
	now := time.Now()
	u.resumed, u.Result.WritesResumed, u.Result.ResumedAt = true, true, &now
	if u.newFrom.IsZero() {
		u.Result.WritePauseMs.OldProcess = now.Sub(u.cutFrom).Milliseconds() // never sent
	} else {
		u.Result.WritePauseMs.NewProcess = now.Sub(u.newFrom).Milliseconds()
	}
}
