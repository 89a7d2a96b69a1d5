package verifyflow

import (
	"context"

	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
)

// HeldCheck is what CheckNewHeld found: update --verify's own check of a
// new Redis process (writes held from the first moment it answers) for the
// verbs that replace a task themselves (adopt).
type HeldCheck struct {
	Report *redisstate.Report
	Err    error // the data could not be checked
	// Exact: no client wrote before the hold, every difference is a loss.
	Exact        bool
	ClientWrites int64
	LoadShort    string // the load itself proves a loss ("" = no)
	LostContact  bool
}

// Intact: every key of the cut is there, as it was.
func (h HeldCheck) Intact() bool { return h.Err == nil && h.Report != nil && h.Report.OK() }

// Unattributed: keys of the cut differ, and clients may have made them so.
func (h HeldCheck) Unattributed() bool {
	return h.Err == nil && h.Report != nil && !h.Report.OK() && !h.Exact && h.LoadShort == ""
}

// CheckNewHeld checks the service's new Redis process (other than
// oldRunID) against before, the snapshot of cut, holding its writes from
// the first moment it answers until the check ends.
func (f *Flow) CheckNewHeld(ctx context.Context, serviceID, oldRunID string, before *redisstate.Snapshot, cut *Cut) HeldCheck {
	var info *redisstate.CutInfo
	if cut != nil {
		info = &cut.Info
	}
	o := f.checkHeld(ctx, serviceID, oldRunID, before, info)
	return HeldCheck{Report: o.rep, Err: o.err, Exact: o.exact, ClientWrites: o.clientWrites, LoadShort: o.loadShort, LostContact: o.lostContact()}
}
