package verifyflow

import (
	"fmt"

	"github.com/docker-stateful/docker-stateful/plugin/exitcode"
)

// The verdicts of update --verify (UpdateResult.Verdict).
const (
	VerdictVerified   = "verified"   // every key of the cut is intact
	VerdictFailed     = "failed"     // keys of the cut are missing or changed
	VerdictUnverified = "unverified" // the data could not be checked after the update
	VerdictRefused    = "refused"    // nothing sent: the update would lose the data
	VerdictError      = "error"      // nothing sent, or stopped: could not decide
)

// Facts are what update --verify knows after its check of the data (and,
// once it rolled back, after the rollback): the input of Decide.
type Facts struct {
	Service  string
	Snapshot string // the cut's snapshot ID
	// Unchecked is why the data could not be checked at all after the
	// update (nil: it was checked, and Intact says how it went).
	Unchecked error
	Intact    bool
	// LostContact: Unchecked because the connection to the new process was
	// lost during its check (a network cut, its node going away), after it
	// had answered with its dataset loaded. The data is unproven, not shown
	// missing: could not decide (exit 2), and no rollback, which would
	// restart Redis on no evidence and could drop the writes it acknowledged
	// meanwhile — unless the update itself did not converge.
	LostContact bool
	// Unattributed: keys of the cut differ, but clients wrote to the new
	// process before the check could hold their writes
	// (rdb_changes_since_last_save > 0, and nothing proves a loss at load): the
	// differences may be theirs. Never a loss, never a rollback (it would
	// drop their writes).
	Unattributed bool
	// ClientWrites is rdb_changes_since_last_save when the check held writes.
	ClientWrites int64
	// UnattributedWhy, when set, says instead of Redis's words what the
	// clients wrote (PostgreSQL: rows written after the cut).
	UnattributedWhy string
	// NotConverged is why the update did not converge (docker's wait failed,
	// or did not end within --verify-timeout): the update failed even if the
	// data checked out, and is rolled back.
	NotConverged error
	// SwarmRolledBack: swarm rolled the update back by itself
	// (--update-failure-action rollback): nothing more to roll back.
	SwarmRolledBack bool
	// NoRollback is --no-rollback.
	NoRollback bool
	// Interrupted: the run was interrupted (Ctrl-C) after the update was
	// sent; the update goes on without us, nothing is rolled back.
	Interrupted bool
	// RolledBack: the rollback was sent; RollbackErr: it could not be.
	RolledBack  bool
	RollbackErr error
	// Superseded: the rollback was not sent because the service changed
	// after this run's update (someone else's update, or swarm's own
	// rollback): its previous spec is not the one this run replaced.
	Superseded error
	// AnonymousData: the data directory is on an anonymous volume (or none)
	// in the spec a rollback restores, and the check after it did not find
	// the data back: a spec rollback cannot bring such data back.
	AnonymousData bool
}

// Decision is what to do with Facts: roll back now, or end with Verdict and
// Err (nil when verified; its exit status is exitcode.Code(Err)).
type Decision struct {
	Verdict  string
	Rollback bool
	Err      error
}

// Decide is the policy of update --verify after the check: verified data
// ends it (exit 0); missing or changed keys, or data that could not be
// checked, roll the service back unless --no-rollback, and end with exit 1
// whatever the rollback did, except a converged update whose new process
// answered and was then lost during the check (exit 2, no rollback); an interruption ends it at once (exit 130, no
// rollback, the command to check later).
func Decide(f Facts) Decision {
	hint := fmt.Sprintf("snapshot %s: docker stateful verify --against %s %s", f.Snapshot, f.Snapshot, f.Service)
	if f.Interrupted && !f.RolledBack {
		return Decision{Verdict: VerdictUnverified, Err: &exitcode.Error{Code: exitcode.Interrupted, Err: fmt.Errorf(
			"interrupted after the update of service %s was sent: the update goes on, its data is not verified and nothing was rolled back (%s)", f.Service, hint)}}
	}
	if f.Unchecked == nil && f.Intact && f.NotConverged == nil {
		return Decision{Verdict: VerdictVerified}
	}
	if f.Unchecked != nil && f.LostContact && f.NotConverged == nil && !f.SwarmRolledBack {
		return Decision{Verdict: VerdictUnverified, Err: exitcode.Undecidable(fmt.Errorf(
			"%v; could not decide: the update converged and nothing was rolled back (no loss was shown, and a rollback would restart Redis and could drop writes it acknowledged since); once Redis is reachable, check its data with: docker stateful verify --against %s %s", f.Unchecked, f.Snapshot, f.Service))}
	}
	if f.NotConverged != nil && f.Unchecked == nil {
		// the data may be intact, but the update itself failed: treat it as
		// unchecked (the task that failed is not the one that will run)
		f.Unchecked = fmt.Errorf("update of service %s did not converge: %w", f.Service, f.NotConverged)
	}
	if f.SwarmRolledBack && !f.RolledBack {
		f.RolledBack, f.NoRollback = true, false
	}
	if f.Unchecked == nil && f.Unattributed && f.UnattributedWhy != "" {
		return Decision{Verdict: VerdictUnverified, Err: exitcode.Refused(fmt.Errorf(
			"the data of service %s could not be verified exactly: %s, so the objects of the cut that differ may be theirs; nothing was rolled back (that would drop their writes); no loss was proven (%s)", f.Service, f.UnattributedWhy, hint))}
	}
	if f.Unchecked == nil && f.Unattributed {
		// Differences clients may have made are not a loss: no rollback.
		return Decision{Verdict: VerdictUnverified, Err: exitcode.Refused(fmt.Errorf(
			"the data of service %s could not be verified exactly: clients made %d change(s) after writes resumed, before the check held them, so the keys of the cut that differ may be theirs; nothing was rolled back (that would drop their writes); no loss was proven (%s)", f.Service, f.ClientWrites, hint))}
	}
	d := Decision{Verdict: VerdictFailed}
	if f.Unchecked != nil {
		d.Verdict = VerdictUnverified
	}
	if !f.NoRollback && !f.RolledBack && f.RollbackErr == nil && f.Superseded == nil {
		d.Rollback = true
		return d
	}
	var msg string
	switch {
	case f.Unchecked == nil && f.NoRollback:
		msg = fmt.Sprintf("the data of service %s did not survive the update; --no-rollback: the service is left as updated (snapshot %s; docker stateful update --rollback %s restores the previous spec)", f.Service, f.Snapshot, f.Service)
	case f.Unchecked == nil && f.Superseded != nil:
		msg = fmt.Sprintf("the data of service %s did not survive the update, and it was not rolled back: %v (snapshot %s)", f.Service, f.Superseded, f.Snapshot)
	case f.Superseded != nil:
		msg = fmt.Sprintf("%v, and the service was not rolled back: %v (%s)", f.Unchecked, f.Superseded, hint)
	case f.Unchecked == nil && f.RollbackErr != nil:
		msg = fmt.Sprintf("the data of service %s did not survive the update, and the rollback failed: %v", f.Service, f.RollbackErr)
	case f.Unchecked == nil:
		msg = fmt.Sprintf("update of service %s failed: its data did not survive, the service was rolled back", f.Service)
	case f.NoRollback:
		msg = fmt.Sprintf("%v; --no-rollback: the service is left as updated (%s)", f.Unchecked, hint)
	case f.RollbackErr != nil:
		msg = fmt.Sprintf("%v, and the rollback failed: %v (%s)", f.Unchecked, f.RollbackErr, hint)
	case f.SwarmRolledBack:
		msg = fmt.Sprintf("update of service %s failed: %v; swarm rolled the service back (%s)", f.Service, f.Unchecked, hint)
	default:
		msg = fmt.Sprintf("update of service %s failed: %v; the service was rolled back (%s)", f.Service, f.Unchecked, hint)
	}
	if f.RolledBack && f.AnonymousData {
		msg += "; a spec rollback cannot bring back data that was on an anonymous volume"
	}
	d.Err = exitcode.Refused(fmt.Errorf("%s", msg))
	return d
}
