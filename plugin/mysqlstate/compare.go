package mysqlstate

import (
	"fmt"
	"io"
	"strings"
)

// Classes of a table in a report.
const (
	ClassMissing = "MISSING" // in the cut, not on the server
	ClassChanged = "CHANGED" // rows (or columns, or a view's definition) differ
	ClassAdded   = "ADDED"   // on the server only (not a loss)
)

// TableDiff is one table that differs.
type TableDiff struct {
	Table      string `json:"table"`
	Kind       string `json:"kind"`
	Class      string `json:"class"`
	BeforeRows int64  `json:"before_rows"`
	AfterRows  int64  `json:"after_rows"`
}

// Report is the check of a server against a snapshot.
type Report struct {
	Before       string      `json:"before"`
	BeforeTables int64       `json:"before_tables"`
	BeforeRows   int64       `json:"before_rows"`
	AfterTables  int64       `json:"after_tables"`
	AfterRows    int64       `json:"after_rows"`
	Diffs        []TableDiff `json:"diffs"`
	NotCompared  []string    `json:"not_compared,omitempty"` // MEMORY tables
	// ClientWrites: data-changing statements the server ran before the
	// check held writes (clients wrote to the new server first).
	ClientWrites int64    `json:"client_writes"`
	Reasons      []string `json:"reasons"`
}

// OK: nothing of the cut is missing or changed.
func (r *Report) OK() bool { return r.Count(ClassMissing)+r.Count(ClassChanged) == 0 }

// Count is the number of tables of class.
func (r *Report) Count(class string) int {
	n := 0
	for _, d := range r.Diffs {
		if d.Class == class {
			n++
		}
	}
	return n
}

// Unattributed: tables differ, none is missing, and clients wrote to the
// server before the check held them: the differences may be theirs.
func (r *Report) Unattributed() bool {
	return !r.OK() && r.Count(ClassMissing) == 0 && r.ClientWrites > 0
}

// Compare checks after (the server now) against before (the cut).
func Compare(beforeID string, before, after *Summary) *Report {
	r := &Report{Before: beforeID, BeforeTables: before.TableCount, BeforeRows: before.Rows, AfterTables: after.TableCount, AfterRows: after.Rows, Diffs: []TableDiff{}, Reasons: []string{}}
	b, a := byKey(before.Tables), byKey(after.Tables)
	for _, k := range sortedKeys(b) {
		bt := b[k]
		at, ok := a[k]
		switch {
		case !ok:
			r.Diffs = append(r.Diffs, TableDiff{Table: k, Kind: bt.Kind, Class: ClassMissing, BeforeRows: bt.Rows})
		case bt.Kind == KindMemory || at.Kind == KindMemory:
			r.NotCompared = append(r.NotCompared, k)
		case bt.Digest != at.Digest || bt.Kind != at.Kind:
			r.Diffs = append(r.Diffs, TableDiff{Table: k, Kind: bt.Kind, Class: ClassChanged, BeforeRows: bt.Rows, AfterRows: at.Rows})
		}
	}
	for _, k := range sortedKeys(a) {
		if _, ok := b[k]; !ok {
			r.Diffs = append(r.Diffs, TableDiff{Table: k, Kind: a[k].Kind, Class: ClassAdded, AfterRows: a[k].Rows})
		}
	}
	if n := r.Count(ClassMissing); n > 0 {
		r.Reasons = append(r.Reasons, fmt.Sprintf("%d table(s) of the cut are MISSING", n))
	}
	if n := r.Count(ClassChanged); n > 0 {
		r.Reasons = append(r.Reasons, fmt.Sprintf("%d table(s) CHANGED", n))
	}
	return r
}

// RenderText writes the report for people.
func RenderText(w io.Writer, r *Report) error {
	if r == nil {
		return nil
	}
	if r.OK() {
		fmt.Fprintf(w, "MariaDB data verified against snapshot %s: all %d tables/views (%d rows) intact\n", r.Before, r.BeforeTables, r.BeforeRows)
	} else {
		fmt.Fprintf(w, "MariaDB data differs from snapshot %s: %s (cut: %d tables, %d rows; now: %d tables, %d rows)\n", r.Before, strings.Join(r.Reasons, "; "), r.BeforeTables, r.BeforeRows, r.AfterTables, r.AfterRows)
	}
	for _, d := range r.Diffs {
		fmt.Fprintf(w, "  %-8s %s %s (rows %d -> %d)\n", d.Class, d.Kind, d.Table, d.BeforeRows, d.AfterRows)
	}
	for _, n := range r.NotCompared {
		fmt.Fprintf(w, "  not compared: MEMORY table %s (empty after every restart by design)\n", n)
	}
	if r.ClientWrites > 0 {
		fmt.Fprintf(w, "  clients ran %d data-changing statement(s) on this server before the check held writes\n", r.ClientWrites)
	}
	return nil
}
