package verifyflow

import (
	"errors"
	"strings"
	"testing"

	"github.com/docker-stateful/docker-stateful/plugin/exitcode"
)

// TestDecide covers every branch of update --verify's policy after the check:
// what it decides (roll back or not), the verdict, the exit status and the
// line that says why.
func TestDecide(t *testing.T) {
	unreachable := errors.New("cannot verify the data of service cache after the update: timeout")
	daemon := errors.New("rollback of service cache: out of sequence")
	superseded := &SupersededError{Service: "cache", Why: "its spec is no longer the one this run sent; version 14, was 10"}
	base := Facts{Service: "cache", Snapshot: "S1"}
	with := func(change func(*Facts)) Facts { f := base; change(&f); return f }
	for _, c := range []struct {
		name     string
		facts    Facts
		verdict  string
		rollback bool
		exit     int
		says     []string
	}{
		{"verified", with(func(f *Facts) { f.Intact = true }),
			VerdictVerified, false, exitcode.OK, nil},
		{"verified, --no-rollback changes nothing", with(func(f *Facts) { f.Intact, f.NoRollback = true, true }),
			VerdictVerified, false, exitcode.OK, nil},
		{"missing or changed keys: roll back", with(func(f *Facts) {}),
			VerdictFailed, true, exitcode.No, nil},
		{"missing or changed keys, rolled back", with(func(f *Facts) { f.RolledBack = true }),
			VerdictFailed, false, exitcode.No, []string{"update of service cache failed: its data did not survive, the service was rolled back"}},
		{"missing or changed keys, --no-rollback", with(func(f *Facts) { f.NoRollback = true }),
			VerdictFailed, false, exitcode.No, []string{"did not survive the update; --no-rollback: the service is left as updated (snapshot S1; docker stateful update --rollback cache restores"}},
		{"missing or changed keys, the rollback fails", with(func(f *Facts) { f.RollbackErr = daemon }),
			VerdictFailed, false, exitcode.No, []string{"did not survive the update, and the rollback failed: rollback of service cache: out of sequence"}},
		{"missing keys, rolled back onto an anonymous volume", with(func(f *Facts) { f.RolledBack, f.AnonymousData = true, true }),
			VerdictFailed, false, exitcode.No, []string{"the service was rolled back", "cannot bring back data that was on an anonymous volume"}},
		{"cannot check: roll back", with(func(f *Facts) { f.Unchecked = unreachable }),
			VerdictUnverified, true, exitcode.No, nil},
		{"cannot check, rolled back", with(func(f *Facts) { f.Unchecked, f.RolledBack = unreachable, true }),
			VerdictUnverified, false, exitcode.No, []string{"update of service cache failed: cannot verify the data of service cache after the update: timeout; the service was rolled back (snapshot S1: docker stateful verify --against S1 cache)"}},
		{"cannot check, --no-rollback", with(func(f *Facts) { f.Unchecked, f.NoRollback = unreachable, true }),
			VerdictUnverified, false, exitcode.No, []string{"after the update: timeout; --no-rollback: the service is left as updated (snapshot S1: docker stateful verify --against S1 cache)"}},
		{"cannot check, the rollback fails", with(func(f *Facts) { f.Unchecked, f.RollbackErr = unreachable, daemon }),
			VerdictUnverified, false, exitcode.No, []string{"timeout, and the rollback failed: rollback of service cache: out of sequence (snapshot S1"}},
		{"cannot check, rolled back onto an anonymous volume", with(func(f *Facts) { f.Unchecked, f.RolledBack, f.AnonymousData = unreachable, true, true }),
			VerdictUnverified, false, exitcode.No, []string{"the service was rolled back", "anonymous volume"}},
		{"interrupted after sending: no rollback, exit 130", with(func(f *Facts) { f.Unchecked, f.Interrupted = unreachable, true }),
			VerdictUnverified, false, exitcode.Interrupted, []string{"interrupted after the update of service cache was sent", "docker stateful verify --against S1 cache"}},
		{"missing keys, someone else updated the service since: not rolled back over it", with(func(f *Facts) { f.Superseded = superseded }),
			VerdictFailed, false, exitcode.No, []string{"did not survive the update, and it was not rolled back: service cache was changed after this run's update", "not rolling back over it (snapshot S1)"}},
		{"cannot check, someone else updated the service since: not rolled back over it", with(func(f *Facts) { f.Unchecked, f.Superseded = unreachable, superseded }),
			VerdictUnverified, false, exitcode.No, []string{"timeout, and the service was not rolled back: service cache was changed", "docker stateful verify --against S1 cache"}},
		{"anonymous data but not rolled back (--no-rollback): nothing about a rollback", with(func(f *Facts) { f.NoRollback, f.AnonymousData = true, true }),
			VerdictFailed, false, exitcode.No, []string{"--no-rollback"}},
		{"clients wrote before the check held writes, keys differ: no loss, no rollback", with(func(f *Facts) { f.Unattributed, f.ClientWrites = true, 3 }),
			VerdictUnverified, false, exitcode.No, []string{"clients made 3 change(s)", "nothing was rolled back", "no loss was proven"}},
		{"PostgreSQL rows written after the cut by sessions that bypassed it: no loss, no rollback", with(func(f *Facts) {
			f.Unattributed, f.ClientWrites, f.UnattributedWhy = true, 49, "sessions that bypassed the read-only cut wrote 49 row(s) after it"
		}), VerdictUnverified, false, exitcode.No, []string{"wrote 49 row(s) after it", "nothing was rolled back", "no loss was proven"}},
		{"clients wrote, keys differ, --no-rollback: the same", with(func(f *Facts) { f.Unattributed, f.ClientWrites, f.NoRollback = true, 3, true }),
			VerdictUnverified, false, exitcode.No, []string{"may be theirs"}},
		{"data intact but the update did not converge: roll back", with(func(f *Facts) { f.Intact, f.NotConverged = true, errors.New("service update paused: task failed") }),
			VerdictUnverified, true, exitcode.No, nil},
		{"did not converge, rolled back", with(func(f *Facts) {
			f.Intact, f.RolledBack, f.NotConverged = true, true, errors.New("service update paused: task failed")
		}),
			VerdictUnverified, false, exitcode.No, []string{"update of service cache did not converge: service update paused: task failed", "the service was rolled back"}},
		{"did not converge, swarm rolled back by itself: no second rollback", with(func(f *Facts) { f.Intact, f.SwarmRolledBack, f.NotConverged = true, true, errors.New("rolled back") }),
			VerdictUnverified, false, exitcode.No, []string{"swarm rolled the service back"}},
		{"did not converge, unattributed differences: the failure wins, roll back", with(func(f *Facts) { f.Unattributed, f.NotConverged = true, errors.New("no suitable node") }),
			VerdictUnverified, true, exitcode.No, nil},
		{"the new process answered, then was lost during the check: could not decide, no rollback", with(func(f *Facts) { f.Unchecked, f.LostContact = unreachable, true }),
			VerdictUnverified, false, exitcode.Undecided, []string{"timeout; could not decide: the update converged and nothing was rolled back", "docker stateful verify --against S1 cache"}},
		{"lost during the check, --no-rollback: the same", with(func(f *Facts) { f.Unchecked, f.LostContact, f.NoRollback = unreachable, true, true }),
			VerdictUnverified, false, exitcode.Undecided, []string{"could not decide"}},
		{"lost during the check and the update did not converge: the failure wins, roll back", with(func(f *Facts) {
			f.Unchecked, f.LostContact, f.NotConverged = unreachable, true, errors.New("no suitable node")
		}),
			VerdictUnverified, true, exitcode.No, nil},
		{"lost during the check, swarm rolled back by itself: exit 1", with(func(f *Facts) {
			f.Unchecked, f.LostContact, f.SwarmRolledBack, f.NotConverged = unreachable, true, true, errors.New("rolled back")
		}),
			VerdictUnverified, false, exitcode.No, []string{"swarm rolled the service back"}},
		{"interrupted although the check verified: exit 130", with(func(f *Facts) { f.Intact, f.Interrupted = true, true }),
			VerdictUnverified, false, exitcode.Interrupted, []string{"interrupted"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := Decide(c.facts)
			if d.Verdict != c.verdict || d.Rollback != c.rollback {
				t.Fatalf("Decide = %+v, want verdict %s, rollback %v", d, c.verdict, c.rollback)
			}
			if d.Rollback && d.Err != nil {
				t.Fatalf("a rollback to do comes with no final error: %v", d.Err)
			}
			if got := exitcode.Code(d.Err); !d.Rollback && got != c.exit {
				t.Errorf("exit status %d (%v), want %d", got, d.Err, c.exit)
			}
			for _, w := range c.says {
				if d.Err == nil || !strings.Contains(d.Err.Error(), w) {
					t.Errorf("error %v, want it to say %q", d.Err, w)
				}
			}
			if !c.facts.RolledBack && d.Err != nil && strings.Contains(d.Err.Error(), "anonymous") {
				t.Errorf("error %v speaks of a rollback that did not happen", d.Err)
			}
		})
	}
}

func TestSettle(t *testing.T) {
	docker := errors.New("docker: the update did not converge")
	for _, c := range []struct {
		verdict, msg string
		err          error
		want         [2]string
	}{
		{"", "", nil, [2]string{VerdictUnverified, "the data was not checked"}},
		{"", "", exitcode.Refused(errors.New("refused: x")), [2]string{VerdictRefused, "refused: x"}},
		{VerdictVerified, "", docker, [2]string{VerdictVerified, docker.Error()}},
		{VerdictFailed, "3 keys MISSING", docker, [2]string{VerdictFailed, "3 keys MISSING"}},
		{VerdictVerified, "", nil, [2]string{VerdictVerified, ""}},
	} {
		v, m := settle(c.verdict, c.msg, c.err)
		if [2]string{v, m} != c.want {
			t.Errorf("settle(%q, %q, %v) = %q, %q, want %q", c.verdict, c.msg, c.err, v, m, c.want)
		}
	}
}
