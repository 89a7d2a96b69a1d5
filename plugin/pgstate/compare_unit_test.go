package pgstate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeSnapshot stores manifests as Fingerprint would (pure logic: no server).
func fakeSnapshot(t *testing.T, id string, dbs ...*DBManifest) *Snapshot {
	t.Helper()
	dir := filepath.Join(t.TempDir(), id)
	sum := &Summary{Engine: Engine, ID: id, RunID: "run-" + id}
	for i, m := range dbs {
		for j := range m.Tables {
			tb := &m.Tables[j]
			tb.SchemaDigest = linesDigest(append(append(append([]string{tb.Kind, "false"}, tb.Columns...), tb.Indexes...), tb.Constraints...))
		}
		ds := m.sum()
		ds.Shard = shardName(i)
		if err := writeManifest(dir, ds.Shard, m); err != nil {
			t.Fatal(err)
		}
		sum.Databases = append(sum.Databases, ds)
		sum.Tables += int64(ds.Tables)
		sum.Rows += ds.Rows
	}
	return &Snapshot{ID: id, Dir: dir, Summary: sum}
}

func table(name string, rows int64, digest uint64, cols ...string) TableRecord {
	return TableRecord{Schema: "public", Name: name, Kind: "table", Rows: rows, Digest: Hex64(digest), Columns: cols}
}

func TestCompareSequencesAndSchemaPureLogic(t *testing.T) {
	seq := func(v int64, called bool) SequenceRecord {
		return SequenceRecord{Schema: "public", Name: "s", LastValue: v, IsCalled: called, Increment: 1, Definition: "bigint"}
	}
	before := fakeSnapshot(t, "a", &DBManifest{Database: "db",
		Tables:    []TableRecord{table("t", 10, 1, "id integer NOT NULL", "v text"), table("u", 5, 2, "x integer")},
		Sequences: []SequenceRecord{seq(10, false)}})
	// not called at 10: the next value is 10. Called at 10: next 11 (ahead, fine); called at
	// 9: next 10, the same point; called at 8: next 9, values would repeat.
	for _, c := range []struct {
		s     SequenceRecord
		class string
	}{{seq(10, true), ClassAdvanced}, {seq(9, true), ""}, {seq(8, true), ClassChanged}, {seq(10, false), ""}, {seq(11, false), ClassAdvanced}} {
		after := fakeSnapshot(t, "b", &DBManifest{Database: "db",
			Tables:    []TableRecord{table("t", 10, 1, "id integer NOT NULL", "v text"), table("u", 5, 2, "x integer")},
			Sequences: []SequenceRecord{c.s}})
		r, err := Compare(before, after, CompareOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, cl := range Classes {
			if r.Count(cl) > 0 {
				got = cl
			}
		}
		if got != c.class {
			t.Errorf("%+v: class %q, want %q", c.s, got, c.class)
		}
		os.RemoveAll(after.Dir)
	}
	// a column type change: SCHEMA-CHANGED with -/+ and no separate CHANGED for the same rows
	after := fakeSnapshot(t, "c", &DBManifest{Database: "db",
		Tables:    []TableRecord{table("t", 10, 99, "id bigint NOT NULL", "v text"), table("u", 4, 3, "x integer")},
		Sequences: []SequenceRecord{seq(10, false)}})
	r, err := Compare(before, after, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sc := items(r, ClassSchemaChanged)["db/public.t"]
	if !strings.Contains(sc.Detail, "-column id integer NOT NULL; +column id bigint NOT NULL") || !strings.Contains(sc.Detail, "not comparable") {
		t.Fatalf("schema detail %q", sc.Detail)
	}
	ch := items(r, ClassChanged)
	if _, ok := ch["db/public.t"]; ok || len(ch) != 1 || ch["db/public.u"].RowDelta != -1 {
		t.Fatalf("changed: %+v", ch)
	}
	if r.OK() || r.UnchangedTables != 0 {
		t.Fatalf("verdict %s, unchanged %d", r.Verdict, r.UnchangedTables)
	}
}
