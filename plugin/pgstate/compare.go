package pgstate

import (
	"fmt"
	"slices"
	"sort"
	"time"
)

// Difference classes.
const (
	ClassMissing       = "MISSING"        // database, table, sequence or type/view of the cut is gone: fails
	ClassChanged       = "CHANGED"        // rows (count or contents) differ, or a sequence went back: fails
	ClassSchemaChanged = "SCHEMA-CHANGED" // columns, indexes, constraints or a definition differ: fails
	ClassAdvanced      = "ADVANCED"       // a sequence is ahead (values skipped, as after a crash): reported, fine
	ClassNew           = "NEW"            // not in the cut: fine
)

// Verdicts of a Report.
const (
	VerdictVerified   = "verified"
	VerdictFailed     = "failed"
	VerdictUnverified = "unverified" // differences explained by writes after the cut (AttributeWrites)
)

// Classes in report order.
var Classes = []string{ClassMissing, ClassChanged, ClassSchemaChanged, ClassAdvanced, ClassNew}

func classFails(c string) bool {
	return c == ClassMissing || c == ClassChanged || c == ClassSchemaChanged
}

// CompareOptions tunes Compare.
type CompareOptions struct {
	MaxItems int // items listed per class, default 20 (counts are always complete)
}

// Diff is one differing object.
type Diff struct {
	Database   string `json:"database"`
	Object     string `json:"object,omitempty"` // schema.name; "" for a whole database
	Kind       string `json:"kind"`             // "database", "table", "partitioned", "matview", "sequence", "type", "view"
	Class      string `json:"class"`
	BeforeRows int64  `json:"before_rows,omitempty"`
	AfterRows  int64  `json:"after_rows,omitempty"`
	RowDelta   int64  `json:"row_delta,omitempty"`
	Detail     string `json:"detail,omitempty"`
	// WrittenAfterCut counts the table's row versions written by transactions the cut's
	// snapshot did not see (AttributeWrites): evidence that clients wrote to it.
	WrittenAfterCut int64 `json:"written_after_cut,omitempty"`
}

// Name is database/schema.name (or the database).
func (d Diff) Name() string {
	if d.Object == "" {
		return d.Database
	}
	return d.Database + "/" + d.Object
}

// ClassReport holds the count and the first MaxItems objects of one class.
type ClassReport struct {
	Count int64  `json:"count"`
	Items []Diff `json:"items"`
}

// Report is the outcome of Compare. Verdict is "verified" or "failed".
type Report struct {
	Engine          string                  `json:"engine"`
	Before          string                  `json:"before"` // snapshot ids
	After           string                  `json:"after"`
	BeforeRunID     string                  `json:"before_run_id"`
	AfterRunID      string                  `json:"after_run_id"`
	BeforeTables    int64                   `json:"before_tables"`
	AfterTables     int64                   `json:"after_tables"`
	BeforeRows      int64                   `json:"before_rows"`
	AfterRows       int64                   `json:"after_rows"`
	BeforeSequences int64                   `json:"before_sequences"`
	Databases       int                     `json:"databases"`
	DigestEqual     bool                    `json:"digest_equal"`
	DifferingDBs    []string                `json:"differing_databases"`
	Classes         map[string]*ClassReport `json:"classes"`
	UnchangedTables int64                   `json:"unchanged_tables"`
	Verdict         string                  `json:"verdict"`
	Reasons         []string                `json:"reasons,omitempty"`
	Elapsed         time.Duration           `json:"elapsed_ns"`
	// WrittenAfterCut is the number of row versions, in the tables that differ, written
	// after the cut's snapshot (AttributeWrites; 0 when not attributed).
	WrittenAfterCut int64 `json:"written_after_cut,omitempty"`
	// Skipped are the databases the cut could not fingerprint (they refuse connections):
	// not checked.
	Skipped []string `json:"skipped_databases,omitempty"`

	failing []*Diff // every failing difference, for AttributeWrites
}

// OK reports whether the verdict passed.
func (r *Report) OK() bool { return r.Verdict == "verified" }

// Count returns the number of objects in a class.
func (r *Report) Count(class string) int64 {
	if c := r.Classes[class]; c != nil {
		return c.Count
	}
	return 0
}

func (r *Report) add(opt CompareOptions, d Diff) {
	c := r.Classes[d.Class]
	c.Count++
	if classFails(d.Class) {
		r.failing = append(r.failing, &d)
	}
	if len(c.Items) < opt.MaxItems {
		c.Items = append(c.Items, d)
	}
}

// Unattributed reports the "unverified" verdict of AttributeWrites: objects of the cut
// differ, but each of them holds rows written after the cut, so the differences may be
// those writes. Not a proven loss: no rollback (it would drop those writes).
func (r *Report) Unattributed() bool { return r.Verdict == VerdictUnverified }

// Compare proves after against before. Equal digests verify at once; otherwise only the
// databases whose digests differ are loaded and compared table by table.
func Compare(before, after *Snapshot, opt CompareOptions) (*Report, error) {
	start := time.Now()
	if opt.MaxItems <= 0 {
		opt.MaxItems = 20
	}
	b, a := before.Summary, after.Summary
	if b == nil || a == nil {
		return nil, errNoSummary
	}
	r := &Report{Engine: Engine, Before: b.ID, After: a.ID, BeforeRunID: b.RunID, AfterRunID: a.RunID,
		BeforeTables: b.Tables, AfterTables: a.Tables, BeforeRows: b.Rows, AfterRows: a.Rows,
		BeforeSequences: b.Sequences, Databases: len(b.Databases),
		Classes: map[string]*ClassReport{}, DifferingDBs: []string{}, Skipped: b.Skipped}
	for _, c := range Classes {
		r.Classes[c] = &ClassReport{Items: []Diff{}}
	}
	r.DigestEqual = b.Digest == a.Digest && b.Rows == a.Rows && b.Tables == a.Tables
	afterDB := map[string]DBSum{}
	for _, d := range a.Databases {
		afterDB[d.Name] = d
	}
	for _, bd := range b.Databases {
		ad, ok := afterDB[bd.Name]
		delete(afterDB, bd.Name)
		if ok && ad.Digest == bd.Digest {
			r.UnchangedTables += int64(bd.Tables)
			continue
		}
		r.DifferingDBs = append(r.DifferingDBs, bd.Name)
		bm, err := LoadManifest(before, bd)
		if err != nil {
			return nil, err
		}
		if !ok {
			r.add(opt, Diff{Database: bd.Name, Kind: "database", Class: ClassMissing, BeforeRows: bd.Rows, RowDelta: -bd.Rows,
				Detail: fmt.Sprintf("%d tables, %d rows, %d sequences", bd.Tables, bd.Rows, bd.Sequences)})
			compareDB(r, opt, bm, &DBManifest{Database: bd.Name})
			continue
		}
		am, err := LoadManifest(after, ad)
		if err != nil {
			return nil, err
		}
		compareDB(r, opt, bm, am)
	}
	var newDBs []string
	for name := range afterDB {
		newDBs = append(newDBs, name)
	}
	sort.Strings(newDBs)
	for _, name := range newDBs {
		ad := afterDB[name]
		r.add(opt, Diff{Database: name, Kind: "database", Class: ClassNew, AfterRows: ad.Rows, RowDelta: ad.Rows,
			Detail: fmt.Sprintf("%d tables, %d rows", ad.Tables, ad.Rows)})
	}
	for _, c := range []struct{ class, what string }{
		{ClassMissing, "object(s) of the cut are missing"},
		{ClassChanged, "table(s) or sequence(s) of the cut changed"},
		{ClassSchemaChanged, "object(s) of the cut have a different definition"},
	} {
		if n := r.Count(c.class); n > 0 {
			r.Reasons = append(r.Reasons, fmt.Sprintf("%d %s", n, c.what))
		}
	}
	r.Verdict = "verified"
	if len(r.Reasons) > 0 {
		r.Verdict = "failed"
	}
	r.Elapsed = time.Since(start)
	return r, nil
}

func compareDB(r *Report, opt CompareOptions, bm, am *DBManifest) {
	db := bm.Database
	at := map[string]TableRecord{}
	for _, t := range am.Tables {
		at[t.QualifiedName()] = t
	}
	for _, bt := range bm.Tables {
		name := bt.QualifiedName()
		t, ok := at[name]
		delete(at, name)
		if !ok {
			r.add(opt, Diff{Database: db, Object: name, Kind: bt.Kind, Class: ClassMissing, BeforeRows: bt.Rows, RowDelta: -max(bt.Rows, 0)})
			continue
		}
		changed := false
		colsChanged := !slices.Equal(bt.Columns, t.Columns)
		if bt.SchemaDigest != t.SchemaDigest {
			changed = true
			detail := schemaDetail(bt, t)
			if colsChanged && bt.Rows == t.Rows && bt.Digest != t.Digest {
				// Each row's text has other columns now: its digest cannot be compared.
				detail += fmt.Sprintf(" (same %d rows; contents not comparable)", t.Rows)
			}
			r.add(opt, Diff{Database: db, Object: name, Kind: bt.Kind, Class: ClassSchemaChanged, BeforeRows: bt.Rows, AfterRows: t.Rows,
				Detail: detail})
		}
		if bt.Rows != t.Rows || (bt.Digest != t.Digest && !colsChanged) {
			changed = true
			d := Diff{Database: db, Object: name, Kind: bt.Kind, Class: ClassChanged, BeforeRows: bt.Rows, AfterRows: t.Rows, RowDelta: t.Rows - bt.Rows}
			if bt.Rows != t.Rows {
				d.Detail = fmt.Sprintf("rows %d → %d (%+d)", bt.Rows, t.Rows, t.Rows-bt.Rows)
			} else {
				d.Detail = fmt.Sprintf("same %d rows, contents differ", t.Rows)
			}
			if bt.Unlogged {
				d.Detail += " (unlogged table: emptied by crash recovery)"
			}
			r.add(opt, d)
		}
		if !changed {
			r.UnchangedTables++
		}
	}
	for _, t := range sortedTables(at) {
		r.add(opt, Diff{Database: db, Object: t.QualifiedName(), Kind: t.Kind, Class: ClassNew, AfterRows: t.Rows, RowDelta: max(t.Rows, 0)})
	}

	as := map[string]SequenceRecord{}
	for _, s := range am.Sequences {
		as[s.QualifiedName()] = s
	}
	for _, bs := range bm.Sequences {
		name := bs.QualifiedName()
		s, ok := as[name]
		delete(as, name)
		switch {
		case !ok:
			r.add(opt, Diff{Database: db, Object: name, Kind: "sequence", Class: ClassMissing, Detail: seqState(bs)})
		case bs.Definition != s.Definition:
			r.add(opt, Diff{Database: db, Object: name, Kind: "sequence", Class: ClassSchemaChanged, Detail: bs.Definition + " → " + s.Definition})
		case seqAhead(bs, s) < 0:
			r.add(opt, Diff{Database: db, Object: name, Kind: "sequence", Class: ClassChanged,
				Detail: seqState(bs) + " → " + seqState(s) + ": went back, values would repeat"})
		case seqAhead(bs, s) > 0:
			r.add(opt, Diff{Database: db, Object: name, Kind: "sequence", Class: ClassAdvanced,
				Detail: seqState(bs) + " → " + seqState(s) + ": values skipped, none repeat"})
		}
	}
	for _, name := range sortedKeys(as) {
		r.add(opt, Diff{Database: db, Object: name, Kind: "sequence", Class: ClassNew, Detail: seqState(as[name])})
	}

	ao := map[string]ObjectRecord{}
	for _, o := range am.Objects {
		ao[o.Kind+" "+o.Name] = o
	}
	for _, bo := range bm.Objects {
		o, ok := ao[bo.Kind+" "+bo.Name]
		delete(ao, bo.Kind+" "+bo.Name)
		switch {
		case !ok:
			r.add(opt, Diff{Database: db, Object: bo.Name, Kind: bo.Kind, Class: ClassMissing})
		case o.Definition != bo.Definition:
			r.add(opt, Diff{Database: db, Object: bo.Name, Kind: bo.Kind, Class: ClassSchemaChanged, Detail: clip(bo.Definition) + " → " + clip(o.Definition)})
		}
	}
	for _, k := range sortedKeys(ao) {
		r.add(opt, Diff{Database: db, Object: ao[k].Name, Kind: ao[k].Kind, Class: ClassNew})
	}
}

// seqAhead is how far the sequence moved in its own direction: > 0 ahead (values skipped),
// < 0 back (values would repeat).
func seqAhead(before, after SequenceRecord) int64 {
	d := after.Next() - before.Next()
	if before.Increment < 0 {
		return -d
	}
	return d
}

func seqState(s SequenceRecord) string {
	if s.IsCalled {
		return fmt.Sprintf("last_value %d", s.LastValue)
	}
	return fmt.Sprintf("next value %d", s.LastValue)
}

// schemaDetail lists what was removed (-) and added (+) among columns, indexes and constraints.
func schemaDetail(b, a TableRecord) string {
	var parts []string
	diff := func(what string, bl, al []string) {
		bs, as := map[string]bool{}, map[string]bool{}
		for _, x := range bl {
			bs[x] = true
		}
		for _, x := range al {
			as[x] = true
		}
		for _, x := range bl {
			if !as[x] {
				parts = append(parts, "-"+what+" "+clip(x))
			}
		}
		for _, x := range al {
			if !bs[x] {
				parts = append(parts, "+"+what+" "+clip(x))
			}
		}
	}
	if b.Kind != a.Kind {
		parts = append(parts, b.Kind+" → "+a.Kind)
	}
	if b.Unlogged != a.Unlogged {
		parts = append(parts, fmt.Sprintf("unlogged %t → %t", b.Unlogged, a.Unlogged))
	}
	diff("column", b.Columns, a.Columns)
	diff("index", b.Indexes, a.Indexes)
	diff("constraint", b.Constraints, a.Constraints)
	if len(parts) == 0 {
		return "column order"
	}
	s := ""
	for i, p := range parts {
		if i > 0 {
			s += "; "
		}
		s += p
	}
	return s
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

func sortedTables(m map[string]TableRecord) []TableRecord {
	out := make([]TableRecord, 0, len(m))
	for _, t := range m {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].QualifiedName() < out[j].QualifiedName() })
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
