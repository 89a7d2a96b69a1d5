package verifyflow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/exitcode"
	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// UpdateOptions are the choices of update --verify besides Options.
type UpdateOptions struct {
	Force      bool // --force: the preflight's refusals become warnings
	NoRollback bool // --no-rollback
}

// UpdateResult is the report of update --verify (--format json).
type UpdateResult struct {
	Service        string               `json:"service"`
	Engine         string               `json:"engine"` // "redis"
	Redis          Endpoint             `json:"redis"`
	Snapshot       string               `json:"snapshot"`
	Warnings       []redisstate.Finding `json:"warnings"`
	Report         *redisstate.Report   `json:"report,omitempty"`
	RolledBack     bool                 `json:"rolled_back"`
	RollbackReport *redisstate.Report   `json:"rollback_report,omitempty"`
	Restored       []string             `json:"restored,omitempty"`
	// Phases: how long each step took, and which overlapped.
	Phases []Phase `json:"phases"`
	// WritePauseMs: how long client writes were held, old and new process.
	WritePauseMs WritePause `json:"write_pause_ms"`
	// StopSave: whether the old process's shutdown save was "skipped" (the
	// cut's save holds its data) or "kept"; "none" when it has no save points,
	// "" when the update replaces no task.
	StopSave string `json:"stop_save,omitempty"`
	Verdict  string `json:"verdict"`         // Verdict*
	Error    string `json:"error,omitempty"` // why, when not verified
}

// Update is one run of update --verify, around docker's own update. The
// command calls, in this order:
//
//   - Before, once the guard allowed the update, just before it is sent:
//     locate Redis, pre-flight, pause writes, and fingerprint the paused
//     dataset while it is saved (BGSAVE): the cut.
//     An error means nothing may be sent.
//   - AfterSend, once the daemon accepted it: turn off the old Redis's
//     shutdown save (the cut's save holds the data), wait for the old task to
//     stop, then resume writes.
//   - After, once docker's convergence wait returned (or at once with
//     --detach): await the new Redis process, verify, Decide, roll back and
//     verify again.
//   - Abandon, always: resume writes if the update was never sent.
//
// Result holds the report at every step, for --format json.
type Update struct {
	Flow *Flow
	Opt  UpdateOptions
	// Converge waits for the service to converge after the rollback, with
	// docker's own progress (docker/cli's WaitOnService).
	Converge func(ctx context.Context, serviceID string) error
	// Report receives the human report (the command's stdout); nil when the
	// caller prints Result instead (--format).
	Report io.Writer
	Result UpdateResult

	swarmRun // the Swarm steps (run.go)

	cut     *Cut
	before  *redisstate.Snapshot
	pending *pendingSnap // the cut's fingerprint while it is read (BeginStreamCut)
	dir     string       // Redis' data directory

	// the check of the new process, started by AfterSend, joined by After
	checkDone chan struct{}
	out       checkOutcome

	stopCheck    context.CancelFunc // cuts the check short (docker's wait failed); under mu
	checkStopped bool
}

func (u *Update) say(format string, a ...any) { u.Flow.say(format, a...) }

// stop records a verdict reached before anything was sent and returns err.
func (u *Update) stop(verdict string, err error) error {
	u.Result.Verdict, u.Result.Error = verdict, err.Error()
	u.Result.Phases = u.tl.list()
	return err
}

// notSent is an error before the update was sent: could not decide (2), or
// interrupted (130: ctx was cancelled, whatever error the step made of it).
func (u *Update) notSent(ctx context.Context, err error) error {
	msg := fmt.Sprintf("update of service %s not sent: %v", u.current.Spec.Name, err)
	if errors.Is(err, context.Canceled) || errors.Is(ctx.Err(), context.Canceled) {
		msg = fmt.Sprintf("update of service %s not sent: interrupted (writes resumed)", u.current.Spec.Name)
		return u.stop(VerdictError, &exitcode.Error{Code: exitcode.Interrupted, Err: errors.New(msg)})
	}
	return u.stop(VerdictError, exitcode.Undecidable(errors.New(msg)))
}

// cutFailed: the cut could not be taken; nothing was sent.
func (u *Update) cutFailed(ctx context.Context, err error) error {
	var busy *Busy
	if errors.As(err, &busy) {
		return u.stop(VerdictRefused, exitcode.Refused(fmt.Errorf("update of service %s not sent: %w", u.current.Spec.Name, err)))
	}
	return u.notSent(ctx, err)
}

// cutSnapshot is the cut's fingerprint, waiting for it when it is read from the
// server's snapshot (BeginStreamCut) while the update goes on.
func (u *Update) cutSnapshot(ctx context.Context) (*redisstate.Snapshot, error) {
	if u.before != nil || u.pending == nil {
		return u.before, nil
	}
	snap, err := u.pending.wait(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNoStreamSnapshot, err)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.before == nil {
		u.before = snap
		u.tl.add("fingerprint the cut (the server's snapshot)", u.pending.from, u.pending.to)
		u.Result.Snapshot = snap.ID
		u.Flow.Prune(u.current.Spec.Name, 20)
	}
	return u.before, nil
}

// snapshotID names the cut's fingerprint (it may still be read from the
// server's snapshot).
func (u *Update) snapshotID() string {
	if u.before != nil {
		return u.before.ID
	}
	return "<the cut's snapshot: docker stateful snapshot ls " + u.current.Spec.Name + ">"
}

// Before connects, pre-flights, cuts and fingerprints; spec is what will be
// sent (for a rollback, the previous spec).
func (u *Update) Before(ctx context.Context, current swarm.Service, spec *swarm.ServiceSpec) error {
	name := current.Spec.Name
	u.current = current
	u.Result = UpdateResult{Service: name, Engine: EngineRedis, Warnings: []redisstate.Finding{}, Phases: []Phase{}}
	u.tl.start()
	u.onConvergeFailed = func() {
		// the update failed: the check of a task that will not run is moot
		if u.stopCheck != nil {
			u.checkStopped = true
			u.stopCheck()
		}
	}
	c, _, ep, err := u.Flow.Connect(ctx, current)
	if err != nil {
		return u.notSent(ctx, err)
	}
	u.Result.Redis = ep
	pre, err := u.Flow.Preflight(ctx, c, current.Spec, *spec)
	if err != nil {
		var ref *Refused
		if !errors.As(err, &ref) {
			return u.notSent(ctx, err)
		}
		if !u.Opt.Force {
			for _, f := range ref.Findings {
				u.say("refused: %s", f)
			}
			return u.stop(VerdictRefused, exitcode.Refused(fmt.Errorf("update of service %s refused: its Redis data would not survive it; nothing was sent (--force sends it anyway, and --verify then checks it)", name)))
		}
		for _, f := range ref.Findings {
			u.say("warning: --force overrides: %s", f)
		}
		pre.Warnings = append(pre.Warnings, ref.Findings...)
	}
	u.dir, u.Result.Warnings = pre.Config.Dir, pre.Warnings
	u.replaces = stateful.ReplacesTasks(current.Spec, *spec)
	if err := u.tasks(ctx, u.Flow, "Redis"); err != nil {
		if exitcode.Code(err) == exitcode.No {
			return u.stop(VerdictRefused, err)
		}
		return u.notSent(ctx, err)
	}
	cutFrom := time.Now()
	// The cut's pause lives on the run's context: ctx may be docker's
	// convergence wait, cut at its deadline (BoundWait), which must not
	// unpause the old process while it may still run.
	cutCtx := ctx
	if u.base != nil {
		cutCtx = u.base
	}
	grace := stateful.StopGracePeriod(current.Spec)
	if u.Flow.Opt.StreamCut {
		var why string
		u.cut, u.pending, why, err = u.Flow.BeginStreamCut(cutCtx, c, grace, name)
		if err != nil {
			return u.cutFailed(ctx, err)
		}
		if why != "" {
			u.say("The cut is taken with BGSAVE and a scan of the paused dataset: %s", why)
		}
	}
	if u.cut != nil {
		u.tl.add("cut: pause writes, the server's snapshot", cutFrom, time.Now())
	} else {
		if u.cut, err = u.Flow.BeginCut(cutCtx, c, grace); err != nil {
			return u.cutFailed(ctx, err)
		}
		fpFrom := time.Now()
		u.tl.add("cut: pause writes", cutFrom, fpFrom)
		if u.before, err = u.Flow.SnapshotAtCut(ctx, c, name, u.cut); err != nil {
			u.Abandon()
			return u.notSent(ctx, err)
		}
		// the save (BGSAVE) ran during the fingerprint; SavedAt is when it was seen done
		u.tl.add("save the cut", u.cut.Info.SavedAt.Add(-u.cut.Info.SaveDuration), u.cut.Info.SavedAt)
		s := u.before.Summary
		u.tl.add("fingerprint the cut", fpFrom, s.CreatedAt.Add(time.Duration(s.DurationMs)*time.Millisecond))
		u.Result.Snapshot = u.before.ID
	}
	u.Flow.Prune(name, 20)
	// The last moment before sending: the cut must still be exact (the
	// pause may have lapsed), the node must be able to run the task again,
	// and Ctrl-C means nothing is sent.
	if err := u.cut.Check(ctx); err != nil {
		u.Abandon()
		return u.notSent(ctx, err)
	}
	if err := u.pinReady(ctx, u.Flow); err != nil {
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
	if u.replaces {
		u.say("Sending the update (writes stay paused until the old task has stopped)")
	} else {
		u.say("Sending the update (it replaces no task: writes resume once it is accepted)")
	}
	return nil
}

// AfterSend keeps writes paused until the old task's Redis has exited (after
// its shutdown save), then releases them, saying why. The pause is bounded by
// what the stop can take (the grace period and a margin): a node whose engine
// died must not hold writes for minutes. Ctrl-C releases them at once.
func (u *Update) AfterSend(ctx context.Context, serviceID string) {
	if u.cut == nil {
		return
	}
	u.sentAt = time.Now()
	if u.base == nil {
		u.base = ctx
	}
	// The run's context: ctx may be docker's convergence wait, which the
	// watch below cuts at its deadline; that is no interruption of the stop.
	ctx = u.base
	u.armWatch(u.Flow.Opt.Timeout)
	defer func() {
		u.waitFrom = time.Now()
		u.startCheck(serviceID)
	}()
	u.cut.Sent()
	var stopSave *redisstate.StopSave
	if u.replaces && len(u.oldTasks) == 1 {
		stopSave = u.skipStopSave(ctx)
	}
	u.recordSent(ctx, u.Flow, serviceID)
	why, exited := "the update replaces no task", false
	if u.replaces && len(u.oldTasks) > 0 {
		grace := stateful.StopGracePeriod(u.current.Spec)
		bound := u.cut.pause // PauseFor(grace): one pause outlasts the stop
		var ns *NotStoppedError
		switch ok, err := u.Flow.waitStopped(ctx, u.oldTasks, bound); {
		case err == nil:
			why, exited = "the old task has stopped", ok
		case errors.Is(err, ErrNotReplaced):
			u.say("The old task is still meant to run after %s: the update does not replace it", NotReplacedAfter)
			u.replaces = false
			why = "the update does not replace the old task"
		case ctx.Err() != nil:
			why = "interrupted"
		case errors.As(err, &ns):
			why = fmt.Sprintf("the old task was not seen stopped within %s, the most its stop can take (stop grace period %s + %s; is its node down?): %s", bound, grace, bound-grace, strings.Join(ns.Still, ", "))
		default:
			why = err.Error()
		}
	}
	// writes were held on the old process until it stopped (or until now)
	u.Result.WritePauseMs.OldProcess = time.Since(u.cut.Info.PausedAt).Milliseconds()
	u.tl.add("old task stops (writes held)", u.sentAt, time.Now())
	release := u.cut.ReleaseBecause
	if exited {
		release = u.cut.releaseExited
		stopSave.Close()
	} else if err := stopSave.Restore(context.Background()); err != nil {
		// not seen stopped: it may take writes again, which its shutdown must save
		u.say("warning: %v", err)
	}
	if err := release(why); err != nil {
		u.say("warning: %v", err)
	} else {
		u.say("Writes resumed: %s", u.cut.Why())
	}
	if ctx.Err() != nil {
		u.say("Interrupted: the update of service %s was sent and goes on; check its data later with: docker stateful verify --against %s %s",
			u.current.Spec.Name, u.snapshotID(), u.current.Spec.Name)
	}
}

// skipStopSave spares the old Redis the save it would make when docker stops it:
// the cut's save already holds its data and writes have been paused since, so
// a second save of the same dataset only holds writes longer (about 0.7 s at
// 1M keys). Sent right after the update was accepted; when docker's SIGTERM
// comes first, Redis saves as it always does.
func (u *Update) skipStopSave(ctx context.Context) *redisstate.StopSave {
	ss := redisstate.SkipStopSave(ctx, u.cut.c, u.cut.Info.RunID)
	switch {
	case ss.NoSavePoints:
		u.Result.StopSave = "none"
	case ss.Skipped:
		u.Result.StopSave = "skipped"
		u.say("The old Redis stops without saving again (save points off in its memory): the cut's save holds its data")
	default:
		u.Result.StopSave = "kept"
		u.say("The old Redis keeps its own save as it stops: %s", ss.Why)
	}
	return ss
}

// startCheck runs the check of the new process in the background, from the
// moment the old one has stopped: it overlaps docker's convergence wait.
func (u *Update) startCheck(serviceID string) {
	if u.checkDone != nil || (u.before == nil && u.pending == nil) {
		return
	}
	oldRun := u.cut.Info.RunID
	if !u.replaces {
		oldRun = ""
	}
	ctx, cancel := context.WithCancel(u.base)
	u.mu.Lock()
	u.stopCheck = cancel
	u.mu.Unlock()
	u.checkDone = make(chan struct{})
	go func() {
		defer close(u.checkDone)
		defer cancel()
		if _, err := u.cutSnapshot(ctx); err != nil {
			u.out = checkOutcome{err: err, done: time.Now()}
			return
		}
		from := time.Now()
		u.out = u.Flow.checkHeld(ctx, serviceID, oldRun, u.before, &u.cut.Info)
		if !u.out.ready.IsZero() {
			u.tl.add("new process loads", from, u.out.ready)
			u.tl.add("check the new process (writes held)", u.out.ready, u.out.done)
		} else {
			u.tl.add("wait for the new process", from, u.out.done)
		}
		// a rollback follows: docker's wait is moot; not when the check only
		// lost its Redis: whether the update converged then decides
		if (u.out.err != nil && !u.out.lostContact()) || (u.out.err == nil && !u.out.intact() && !u.out.unattributed()) {
			u.cutWait(errCheckFailed)
		}
	}()
}

// Abandon resumes writes if they are still paused (the update was refused
// or never sent). Safe on nil and more than once.
func (u *Update) Abandon() {
	if u == nil || u.cut == nil {
		return
	}
	u.pending.stop() // the run is over: nothing will compare with it
	if err := u.cut.Release(); err != nil {
		u.say("warning: %v", err)
	}
}

// After checks the data of the updated service against the cut, and rolls
// back as Decide says. Its error carries the exit status.
func (u *Update) After(ctx context.Context, serviceID string) error {
	defer u.Abandon()
	if u.before == nil && u.pending == nil {
		return nil
	}
	u.stopWatch() // docker's wait is over
	if !u.waitFrom.IsZero() {
		u.tl.add("docker's convergence wait", u.waitFrom, time.Now())
	}
	name := u.current.Spec.Name
	f := Facts{Service: name, NoRollback: u.Opt.NoRollback}
	if !u.replaces {
		u.say("The update replaced no task: verifying the same Redis process")
	}
	if u.base == nil {
		u.base = ctx
	}
	u.startCheck(serviceID) // AfterSend was not called (no cut to release)
	<-u.checkDone
	out := u.out
	f.Snapshot = u.snapshotID()
	f.Interrupted = errors.Is(ctx.Err(), context.Canceled)
	f.NotConverged, f.SwarmRolledBack = u.convergence(ctx, u.Flow, serviceID)
	u.Result.WritePauseMs.NewProcess = out.held.Milliseconds()
	u.mu.Lock()
	stopped := u.checkStopped
	u.mu.Unlock()
	if stopped && out.err != nil && f.NotConverged != nil {
		u.say("The check of the new process was stopped: the update failed")
	} else if out.err != nil {
		// What cannot be proven is not verified: with --verify, an update
		// whose new Redis never answers is rolled back like a failed one.
		f.Unchecked = fmt.Errorf("cannot verify the data of service %s after the update: %w", name, out.err)
		f.LostContact = out.lostContact()
	} else {
		rep := out.rep
		u.Result.Report, f.Intact = rep, rep.OK()
		f.ClientWrites = out.clientWrites
		if out.unattributed() {
			f.Unattributed = true
			unattribute(rep, out.clientWrites)
			if u.Report != nil {
				fmt.Fprintln(u.Report)
				renderUnattributed(u.Report, rep)
			}
		} else {
			if out.loadShort != "" {
				rep.Reasons = append(rep.Reasons, out.loadShort)
			}
			u.render("", rep)
		}
	}
	if f.NotConverged != nil && !f.Interrupted {
		u.say("The update of service %s did not converge: %v", name, f.NotConverged)
	}
	d := Decide(f)
	if d.Rollback {
		rbFrom := time.Now()
		if f.Unchecked != nil || f.NotConverged != nil {
			u.say("The update failed: rolling service %s back to its previous spec", name)
		} else {
			u.say("The data did not survive the update: rolling service %s back to its previous spec", name)
		}
		f.RolledBack, f.RollbackErr = u.rollback(ctx, serviceID)
		var sup *SupersededError
		if errors.As(f.RollbackErr, &sup) {
			f.Superseded, f.RollbackErr = sup, nil
		}
		if f.RolledBack {
			f.AnonymousData = u.afterRollback(ctx, serviceID, out.rep, f.Unchecked != nil)
		}
		u.tl.add("roll back and check again", rbFrom, time.Now())
		d = Decide(f)
	} else if f.SwarmRolledBack {
		u.Result.RolledBack = true
		f.AnonymousData = u.afterRollback(ctx, serviceID, out.rep, f.Unchecked != nil)
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

// rollback restores the previous spec, as docker service rollback does, and
// waits for it to converge.
func (u *Update) rollback(ctx context.Context, serviceID string) (bool, error) {
	if err := u.rollbackOurs(ctx, u.Flow, serviceID, u.Converge); err != nil {
		return false, err
	}
	u.Result.RolledBack = true
	return true, nil
}

// afterRollback verifies the data again (as loaded, like the first check)
// and says what the rollback restored; it reports whether the data is still
// gone because it was on an anonymous volume.
func (u *Update) afterRollback(ctx context.Context, serviceID string, failed *redisstate.Report, unchecked bool) bool {
	if _, err := u.cutSnapshot(ctx); err != nil {
		u.say("warning: cannot verify the data after the rollback: %v", err)
		return false
	}
	oldRun := ""
	var newKeys int64 = -1
	if failed != nil {
		oldRun, newKeys = failed.AfterRunID, failed.Count(redisstate.ClassNew)
	}
	out := u.Flow.checkHeld(ctx, serviceID, oldRun, u.before, &u.cut.Info)
	if out.err != nil {
		either := ""
		if unchecked {
			either = " either"
		}
		u.say("warning: cannot verify the data after the rollback%s: %v", either, out.err)
	}
	rep := out.rep
	if rep != nil && out.unattributed() {
		unattribute(rep, out.clientWrites)
	}
	u.Result.RollbackReport = rep
	u.Result.Restored = RollbackOutcome(u.current.Spec, u.dir, rep, newKeys)
	if u.Report != nil && rep != nil {
		if rep.Classes[ClassUnattributed] != nil {
			fmt.Fprintln(u.Report)
			fmt.Fprintln(u.Report, "After the rollback:")
			renderUnattributed(u.Report, rep)
		} else {
			u.render("After the rollback:", rep)
		}
	}
	if u.Report != nil {
		fmt.Fprintln(u.Report)
		for _, l := range u.Result.Restored {
			fmt.Fprintln(u.Report, l)
		}
	}
	return (rep == nil || !rep.OK()) && DataMountOf(u.current.Spec, u.dir).Anonymous()
}

// render prints a report in text, under title, when the caller wants text.
func (u *Update) render(title string, rep *redisstate.Report) {
	renderUnder(u.Report, title, rep, redisstate.RenderText)
}

// renderUnder prints a report in text to w, under title, when the caller
// wants text (w not nil) and there is a report.
func renderUnder[R any](w io.Writer, title string, rep *R, render func(io.Writer, *R) error) {
	if w == nil || rep == nil {
		return
	}
	fmt.Fprintln(w)
	if title != "" {
		fmt.Fprintln(w, title)
	}
	_ = render(w, rep)
}

// Outcome is the report for --format json once the run is over with err:
// when the flow reached no verdict of its own (the guard refused, docker
// failed, a flag was wrong; u may be nil then), err gives it, so that
// every document has a verdict.
func (u *Update) Outcome(service string, err error) UpdateResult {
	r := UpdateResult{Service: service, Engine: EngineRedis, Warnings: []redisstate.Finding{}, Phases: []Phase{}}
	if u != nil && u.Result.Service != "" {
		r = u.Result
	}
	r.Verdict, r.Error = settle(r.Verdict, r.Error, err)
	return r
}

// settle is the verdict and error of a run's document once it is over with
// err: a verdict the flow reached stands (with err said, e.g. verified but
// docker's convergence wait failed); else err gives it, and no err means the
// run ended without the flow being asked to check.
func settle(verdict, msg string, err error) (string, string) {
	switch {
	case verdict == "" && err == nil:
		return VerdictUnverified, "the data was not checked"
	case verdict == "":
		return exitcode.Verdict(err), err.Error()
	case msg == "" && err != nil:
		return verdict, err.Error()
	}
	return verdict, msg
}
