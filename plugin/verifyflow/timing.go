package verifyflow

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
)

// Phase is one step of update --verify, in milliseconds from the start of
// the run; phases whose spans overlap ran at the same time (the check of the
// new process and docker's convergence wait).
type Phase struct {
	Name    string `json:"name"`
	StartMs int64  `json:"start_ms"`
	EndMs   int64  `json:"end_ms"`
}

// WritePause is how long update --verify held the writes of clients.
type WritePause struct {
	// OldProcess: from the cut's CLIENT PAUSE until the old task had stopped.
	OldProcess int64 `json:"old_process"`
	// NewProcess: from the new process' load (or the pause, if later) until
	// its check was done.
	NewProcess int64 `json:"new_process"`
}

// timeline records the phases of a run.
type timeline struct {
	mu     sync.Mutex
	t0     time.Time
	phases []Phase
}

func (t *timeline) start() { t.t0 = time.Now(); t.phases = nil }

func (t *timeline) add(name string, from, to time.Time) {
	if t.t0.IsZero() || from.IsZero() || to.IsZero() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.phases = append(t.phases, Phase{Name: name, StartMs: from.Sub(t.t0).Milliseconds(), EndMs: to.Sub(t.t0).Milliseconds()})
}

func (t *timeline) list() []Phase {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Phase{}, t.phases...)
}

// renderTiming prints the phases and the write pauses.
func renderTiming(w io.Writer, phases []Phase, wp WritePause) {
	if len(phases) == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Timing (ms from the start; overlapping spans ran at the same time):")
	for _, p := range phases {
		fmt.Fprintf(w, "  %-38s %7d – %-7d (%s)\n", p.Name, p.StartMs, p.EndMs, (time.Duration(p.EndMs-p.StartMs) * time.Millisecond).String())
	}
	fmt.Fprintf(w, "Writes held: %s on the old process, %s on the new one\n",
		time.Duration(wp.OldProcess)*time.Millisecond, time.Duration(wp.NewProcess)*time.Millisecond)
}

// ClassUnattributed holds the keys of the cut that differ after an update
// when clients wrote to the new process before the check held their writes:
// they may be the clients' doing, so they are not reported as MISSING or
// CHANGED (a loss).
const ClassUnattributed = "DIFFERS-AFTER-CLIENT-WRITES"

// unattribute moves the MISSING and CHANGED keys of rep into
// ClassUnattributed and says why.
func unattribute(rep *redisstate.Report, writes int64) {
	u := &redisstate.ClassReport{Keys: []redisstate.KeyDiff{}}
	for _, cl := range []string{redisstate.ClassMissing, redisstate.ClassChanged} {
		if cr := rep.Classes[cl]; cr != nil {
			u.Count += cr.Count
			u.Keys = append(u.Keys, cr.Keys...)
		}
		rep.Classes[cl] = &redisstate.ClassReport{Keys: []redisstate.KeyDiff{}}
	}
	rep.Classes[ClassUnattributed] = u
	rep.Verdict = VerdictUnverified
	rep.Reasons = []string{fmt.Sprintf("%d key(s) of the cut differ, but clients wrote %d change(s) to the new Redis process before the check held writes: the differences may be theirs (not a proven loss)", u.Count, writes)}
}

// renderUnattributed is the text of a report that unattribute changed.
func renderUnattributed(w io.Writer, rep *redisstate.Report) {
	u := rep.Classes[ClassUnattributed]
	fmt.Fprintf(w, "Compared snapshot %s (%d keys, run %s) with %s (%d keys, run %s)\n", rep.Before, rep.BeforeKeys, short(rep.BeforeRunID), rep.After, rep.AfterKeys, short(rep.AfterRunID))
	fmt.Fprintf(w, "  %-13s %d\n", "UNCHANGED", rep.Unchanged)
	fmt.Fprintf(w, "  %-13s %d (may have been written by clients: not counted as a loss)\n", "DIFFERING", u.Count)
	fmt.Fprintf(w, "  %-13s %d (written after the cut: fine)\n", redisstate.ClassNew, rep.Count(redisstate.ClassNew))
	fmt.Fprintf(w, "  %-13s %d (expected)\n", "EXPIRED", rep.Count(redisstate.ClassExpired))
	for _, d := range u.Keys {
		t := d.BeforeType
		if t == 0 {
			t = d.AfterType
		}
		fmt.Fprintf(w, "  %-40s %-6s %s\n", redisstate.QuoteKey(d.Key), t, d.Detail)
	}
	fmt.Fprintf(w, "\nVerdict: not verified: %s\n", rep.Reasons[0])
}
