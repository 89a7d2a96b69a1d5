package verifyflow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/engine"
	"github.com/docker-stateful/docker-stateful/plugin/exitcode"
	"github.com/docker-stateful/docker-stateful/plugin/finding"
	"github.com/docker-stateful/docker-stateful/plugin/mysqlstate"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// MYUpdateResult is the report of update --verify for MariaDB/MySQL
// (--format json): the other engines' shape, with the server under "mariadb".
type MYUpdateResult struct {
	Service        string              `json:"service"`
	Engine         string              `json:"engine"` // "mariadb"
	MariaDB        Endpoint            `json:"mariadb"`
	Snapshot       string              `json:"snapshot"`
	Warnings       []finding.Finding   `json:"warnings"`
	Cut            *mysqlstate.CutInfo `json:"cut,omitempty"`
	Report         *mysqlstate.Report  `json:"report,omitempty"`
	RolledBack     bool                `json:"rolled_back"`
	RollbackReport *mysqlstate.Report  `json:"rollback_report,omitempty"`
	Restored       []string            `json:"restored,omitempty"`
	WritesResumed  bool                `json:"writes_resumed"`
	// Phases and WritePauseMs as for the other engines: writes are held
	// from the cut until the old server stopped (old_process), and on the
	// new server while it is checked (new_process).
	Phases       []Phase    `json:"phases"`
	WritePauseMs WritePause `json:"write_pause_ms"`
	Verdict      string     `json:"verdict"`
	Error        string     `json:"error,omitempty"`
}

// Summary of a MariaDB run.
func (r MYUpdateResult) Summary() Summary {
	return Summary{Service: r.Service, Engine: r.Engine, Snapshot: r.Snapshot, RolledBack: r.RolledBack, Verdict: r.Verdict, Error: r.Error}
}

// MYUpdate is update --verify for a MariaDB/MySQL service, with the other
// engines' steps and policy (swarmRun, Decide).
//
//   - Before: locate, preflight (privileges), cut (FLUSH TABLES WITH READ
//     LOCK on the plugin's session: every session's writes wait), fingerprint.
//   - AfterSend: wait for the old task to stop; the server shuts down with
//     writes held (its clean InnoDB shutdown), and the lock goes with it.
//   - After: await a newer server, hold its writes (its own FLUSH TABLES WITH
//     READ LOCK), count what clients wrote before that, fingerprint, compare,
//     release; Decide; roll back and check again on loss.
//   - Abandon: writes back on wherever this run still holds them.
type MYUpdate struct {
	Flow     *MYFlow
	Opt      UpdateOptions
	Converge func(ctx context.Context, serviceID string) error
	Report   io.Writer
	Result   MYUpdateResult

	swarmRun

	c        *mysqlstate.Client
	cut      *mysqlstate.Cut
	cutFrom  time.Time
	newFrom  time.Time
	before   *mysqlstate.Snapshot
	started  time.Time // the start of the server checked last
	wasSent  bool
	newerDue bool // the server seen last is being replaced
}

var _ engine.Run = (*MYUpdate)(nil)

func (u *MYUpdate) say(format string, a ...any) { u.Flow.say(format, a...) }

func (u *MYUpdate) stop(verdict string, err error) error {
	u.Result.Verdict, u.Result.Error = verdict, err.Error()
	u.Result.Phases = u.tl.list()
	return err
}

func (u *MYUpdate) notSent(ctx context.Context, err error) error {
	return u.stop(VerdictError, undecided(ctx, fmt.Errorf("update of service %s not sent: %w (writes resumed)", u.current.Spec.Name, err)))
}

// Before connects, pre-flights, cuts and fingerprints.
func (u *MYUpdate) Before(ctx context.Context, current swarm.Service, spec *swarm.ServiceSpec) error {
	name := current.Spec.Name
	u.current = current
	u.Result = MYUpdateResult{Service: name, Engine: EngineMariaDB, Warnings: []finding.Finding{}, Phases: []Phase{}}
	u.tl.start()
	c, si, ep, err := u.Flow.Connect(ctx, current)
	if err != nil {
		return u.notSent(ctx, err)
	}
	u.c, u.Result.MariaDB, u.started = c, ep, si.Started
	if err := c.Preflight(ctx); err != nil {
		return u.stop(VerdictRefused, exitcode.Refused(fmt.Errorf("update of service %s refused: %w; nothing was sent", name, err)))
	}
	u.replaces = stateful.ReplacesTasks(current.Spec, *spec)
	if err := u.tasks(ctx, u.Flow.Flow, "MariaDB"); err != nil {
		if exitcode.Code(err) == exitcode.No {
			return u.stop(VerdictRefused, err)
		}
		return u.notSent(ctx, err)
	}
	u.cutFrom = time.Now()
	if u.cut, err = c.StartCut(ctx, u.Flow.Opt.Timeout); err != nil {
		if errors.Is(err, mysqlstate.ErrBusy) {
			return u.stop(VerdictRefused, exitcode.Refused(fmt.Errorf("update of service %s not sent: %w", name, err)))
		}
		return u.notSent(ctx, err)
	}
	fpFrom := time.Now()
	u.tl.add("cut: writes held (FLUSH TABLES WITH READ LOCK)", u.cutFrom, fpFrom)
	u.Result.Cut = &u.cut.Info
	if u.before, err = mysqlstate.TakeSnapshot(ctx, c, u.cut.Conn(), u.Flow.store, name, &u.cut.Info); err != nil {
		u.Abandon()
		return u.notSent(ctx, err)
	}
	u.tl.add("fingerprint the cut", fpFrom, time.Now())
	u.Result.Snapshot = u.before.ID
	_, _ = u.Flow.store.Prune(name, 20)
	u.say("Snapshot %s: %d tables/views, %d rows", u.before.ID, u.before.Summary.TableCount, u.before.Summary.Rows)
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
	u.say("Sending the update (writes held until the old server stopped)")
	return nil
}

// AfterSend waits for the old task to stop: its server shuts down with
// writes held, and the cut ends with its session.
func (u *MYUpdate) AfterSend(ctx context.Context, serviceID string) {
	if u.cut == nil {
		return
	}
	u.sentAt = time.Now()
	if u.base == nil {
		u.base = ctx
	}
	ctx = u.base
	u.wasSent = true
	u.newerDue = u.replaces
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
	err := u.Flow.WaitStopped(ctx, u.oldTasks, stateful.StopGracePeriod(u.current.Spec)+u.Flow.Opt.Timeout)
	oldDone()
	u.tl.add("old task stops (writes held)", u.sentAt, u.newFrom)
	switch {
	case errors.Is(err, ErrNotReplaced):
		u.say("The old task is still meant to run after %s: the update does not replace it", NotReplacedAfter)
		u.replaces, u.newerDue = false, false
	case err != nil:
		u.say("warning: %v", err)
	default:
		// the server is gone, and its session with the lock
		_ = u.cut.Release(context.Background())
		u.Result.WritesResumed = true
	}
}

// Abandon releases the cut if this run still holds it. Safe on nil and more
// than once.
func (u *MYUpdate) Abandon() {
	if u == nil || u.cut == nil {
		return
	}
	if err := u.cut.Release(context.Background()); err != nil {
		u.say("warning: %v", err)
	}
	u.Result.WritesResumed = true
}

// check awaits the service's server (a newer one when the last is being
// replaced) and checks it against the cut with its writes held.
func (u *MYUpdate) check(ctx context.Context, serviceID string) (*mysqlstate.Report, error) {
	var older time.Time
	if u.newerDue {
		older = u.started
	}
	if !u.newerDue && u.cut != nil && u.cut.Alive(ctx) == nil {
		// the same server, still held by our cut: fingerprint on it
		from := time.Now()
		after, err := u.c.Fingerprint(ctx, u.cut.Conn())
		u.tl.add("check the server (writes held)", from, time.Now())
		if err != nil {
			return nil, err
		}
		u.Abandon()
		return mysqlstate.Compare(u.before.ID, u.before.Summary, after), nil
	}
	u.Abandon()
	from := time.Now()
	c, si, err := u.Flow.AwaitNew(ctx, serviceID, older)
	ready := time.Now()
	u.tl.add("wait for the new server", from, ready)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	u.started, u.newerDue = si.Started, false
	rep, err := mysqlstate.Check(ctx, c, u.before)
	done := time.Now()
	u.tl.add("check the new server (writes held)", ready, done)
	if u.Result.WritePauseMs.NewProcess == 0 {
		u.Result.WritePauseMs.NewProcess = done.Sub(ready).Milliseconds()
	}
	return rep, err
}

// After checks the data of the updated service against the cut and rolls
// back as Decide says. Its error carries the exit status.
func (u *MYUpdate) After(ctx context.Context, serviceID string) error {
	defer u.Abandon()
	if u.before == nil {
		return nil
	}
	u.stopWatch()
	if !u.waitFrom.IsZero() {
		u.tl.add("docker's convergence wait", u.waitFrom, time.Now())
	}
	name := u.current.Spec.Name
	f := Facts{Service: name, Snapshot: u.before.ID, NoRollback: u.Opt.NoRollback}
	if !u.replaces {
		u.say("The update replaced no task: verifying the same MariaDB")
	}
	rep, err := u.check(ctx, serviceID)
	f.Interrupted = errors.Is(ctx.Err(), context.Canceled)
	f.NotConverged, f.SwarmRolledBack = u.convergence(ctx, u.Flow.Flow, serviceID)
	if err != nil {
		f.Unchecked = fmt.Errorf("cannot verify the data of service %s after the update: %w", name, err)
	} else {
		u.Result.Report, f.Intact = rep, rep.OK()
		if rep.Unattributed() {
			f.Unattributed, f.ClientWrites = true, rep.ClientWrites
			f.UnattributedWhy = fmt.Sprintf("clients ran %d data-changing statement(s) on the new server before the check held writes", rep.ClientWrites)
		}
		renderUnder(u.Report, "", rep, mysqlstate.RenderText)
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
			f.AnonymousData = u.afterRollback(ctx, serviceID)
		}
		u.tl.add("roll back and check again", rbFrom, time.Now())
		d = Decide(f)
	case f.SwarmRolledBack && !f.Interrupted:
		u.Result.RolledBack, u.newerDue = true, u.replaces
		f.AnonymousData = u.afterRollback(ctx, serviceID)
		d = Decide(f)
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

func (u *MYUpdate) rollback(ctx context.Context, serviceID string) (bool, error) {
	if err := u.rollbackOurs(ctx, u.Flow.Flow, serviceID, u.Converge); err != nil {
		return false, err
	}
	u.Result.RolledBack, u.newerDue = true, u.replaces
	return true, nil
}

// afterRollback checks the data again and says what the rollback restored;
// it reports whether the data is still gone because it was on an anonymous
// volume.
func (u *MYUpdate) afterRollback(ctx context.Context, serviceID string) bool {
	dir := "/var/lib/mysql"
	if cs := u.current.Spec.TaskTemplate.ContainerSpec; cs != nil {
		if known := engine.KnownDataPaths(cs.Image); len(known) > 0 {
			dir = known[0]
		}
	}
	rep, err := u.check(ctx, serviceID)
	if err != nil {
		u.say("warning: cannot verify the data after the rollback: %v", err)
	}
	u.Result.RollbackReport = rep
	dm := DataMountOf(u.current.Spec, dir)
	switch {
	case rep != nil && rep.OK():
		u.Result.Restored = []string{fmt.Sprintf("The rollback restored the data: the previous spec re-attached %s and all %d tables (%d rows) of snapshot %s are back.", dm, rep.BeforeTables, rep.BeforeRows, rep.Before)}
	case dm.Anonymous():
		u.Result.Restored = []string{fmt.Sprintf("The rollback restored the previous spec, NOT the data: MariaDB's data directory %s was on %s; a spec rollback cannot bring back an anonymous volume.", dir, dm)}
	case rep == nil:
		u.Result.Restored = []string{fmt.Sprintf("The rollback restored the previous spec (%s), but the data could not be checked.", dm)}
	default:
		u.Result.Restored = []string{fmt.Sprintf("The rollback re-attached %s, but the data is NOT all back: %v.", dm, rep.Reasons)}
	}
	renderUnder(u.Report, "After the rollback:", rep, mysqlstate.RenderText)
	if u.Report != nil {
		fmt.Fprintln(u.Report)
		for _, l := range u.Result.Restored {
			fmt.Fprintln(u.Report, l)
		}
	}
	return (rep == nil || !rep.OK()) && dm.Anonymous()
}

// Outcome is the report for --format json once the run is over with err.
func (u *MYUpdate) Outcome(service string, err error) MYUpdateResult {
	r := MYUpdateResult{Service: service, Engine: EngineMariaDB, Warnings: []finding.Finding{}, Phases: []Phase{}}
	if u != nil && u.Result.Service != "" {
		r = u.Result
	}
	r.Verdict, r.Error = settle(r.Verdict, r.Error, err)
	return r
}

// Document is the run's --format json document (engine.Run).
func (u *MYUpdate) Document(service string, err error) Outcome { return u.Outcome(service, err) }
