package pgstate

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/docker-stateful/docker-stateful/plugin/pgstate/pgtest"
)

// loadSchema creates the dataset (pgtest.Dataset) with 100k rows in events.
func loadSchema(t *testing.T, p *testPG, db string) {
	p.exec(p.conn(db), pgtest.Dataset(100000)...)
}

func snapshotOf(t *testing.T, st *Store, c *Client) *Snapshot {
	t.Helper()
	snap, err := TakeSnapshot(context.Background(), c, st, "svc", nil, FingerprintOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func compare(t *testing.T, a, b *Snapshot) *Report {
	t.Helper()
	r, err := Compare(a, b, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func items(r *Report, class string) map[string]Diff {
	m := map[string]Diff{}
	for _, d := range r.Classes[class].Items {
		m[d.Name()] = d
	}
	return m
}

func TestFingerprintSurvivesRestartAndFindsEveryChange(t *testing.T) {
	p := startPG(t)
	ctx := context.Background()
	admin := p.conn("postgres")
	p.exec(admin, "CREATE DATABASE shop", "CREATE DATABASE other")
	loadSchema(t, p, "shop")
	p.exec(p.conn("other"), "CREATE TABLE kv (k text PRIMARY KEY, v jsonb)", `INSERT INTO kv VALUES ('a', '{"b": [1, 2]}')`)
	st, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := p.client()
	before := snapshotOf(t, st, c)
	s := before.Summary
	if len(s.Databases) != 3 || s.Tables != 6 || s.Rows != 1000+100000+500+300+250+1 || s.Sequences != 3 {
		t.Fatalf("summary: %d databases, %d tables, %d rows, %d sequences", len(s.Databases), s.Tables, s.Rows, s.Sequences)
	}
	t.Logf("fingerprint of %d rows in %d ms (%.0f rows/s)", s.Rows, s.DurationMs, s.RowsPerSec())

	// Physical order does not matter: rewrite a row with the same value and rewrite the
	// whole no-PK table (VACUUM FULL), then a fast restart.
	shop := p.conn("shop")
	p.exec(shop, "UPDATE log SET n = n WHERE line = 'line 7'", "UPDATE events SET score = score WHERE id % 1000 = 0", "VACUUM FULL log")
	p.restart()
	if _, err := c.WaitReady(ctx, 30*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	after := snapshotOf(t, st, c)
	r := compare(t, before, after)
	if !r.OK() || !r.DigestEqual || after.Summary.RunID == s.RunID {
		var b bytes.Buffer
		RenderText(&b, r)
		t.Fatalf("not verified across a restart:\n%s", b.String())
	}
	var out bytes.Buffer
	RenderText(&out, r)
	if !strings.HasPrefix(out.String(), "Verified: all 6 tables (102051 rows) and 3 sequences in 3 databases") {
		t.Fatalf("report: %s", out.String())
	}

	// Every kind of change is reported exactly.
	shop = p.conn("shop")
	p.exec(shop,
		`UPDATE docs SET body = jsonb_set(body, '{nested,x}', '7') WHERE id = 42`,                                  // one changed row, same count
		"DELETE FROM log WHERE line = 'same line' AND ctid = (SELECT min(ctid) FROM log WHERE line = 'same line')", // one duplicate gone
		"UPDATE blobs SET data = data || '\\x00'::bytea WHERE id = 3",
		"DROP TABLE events",
		"CREATE TABLE fresh (id int)", "INSERT INTO fresh VALUES (1), (2)",
		"ALTER TABLE users ADD COLUMN email text",
		"SELECT setval('tickets', 5)",
		"SELECT nextval('users_id_seq')",
		"ALTER TYPE mood ADD VALUE 'angry'",
	)
	p.exec(p.conn("postgres"), "DROP DATABASE other", "CREATE DATABASE third")
	changed := snapshotOf(t, st, c)
	r = compare(t, after, changed)
	if r.OK() {
		t.Fatal("changes verified")
	}
	RenderText(&out, r)
	t.Log(out.String())
	want := map[string]map[string]string{
		ClassMissing: {"shop/public.events": "", "shop/public.events_id_seq": "", "other": "", "other/public.kv": ""},
		ClassChanged: {"shop/public.docs": "same 500 rows, contents differ", "shop/public.log": "rows 250 → 249 (-1)",
			"shop/public.blobs": "same 300 rows", "shop/public.tickets": "went back"},
		ClassSchemaChanged: {"shop/public.users": "+column email text", "shop/public.mood": "'angry'"},
		ClassAdvanced:      {"shop/public.users_id_seq": "last_value 1000 → last_value 1001"},
		ClassNew:           {"shop/public.fresh": "", "third": ""},
	}
	for class, objs := range want {
		got := items(r, class)
		if len(got) != len(objs) {
			t.Errorf("%s: got %v, want %v", class, keys(got), keysS(objs))
		}
		for name, detail := range objs {
			d, ok := got[name]
			if !ok {
				t.Errorf("%s: %s not reported (got %v)", class, name, keys(got))
			} else if !strings.Contains(d.Detail, detail) {
				t.Errorf("%s %s: detail %q, want %q", class, name, d.Detail, detail)
			}
		}
	}
	if d := items(r, ClassMissing)["shop/public.events"]; d.BeforeRows != 100000 {
		t.Errorf("missing events: %+v", d)
	}
	var js bytes.Buffer
	RenderJSON(&js, r)
	if !strings.Contains(js.String(), `"before_rows": 100000`) || !strings.Contains(js.String(), `"verdict": "failed"`) {
		t.Errorf("json: %s", js.String())
	}
	// the store finds them again, and only Postgres snapshots
	latest, err := st.Latest("svc")
	if err != nil || latest.ID != changed.ID {
		t.Fatalf("latest: %v %v", latest, err)
	}
	if got, err := st.Load(before.ID[:17]); err != nil || got.ID != before.ID {
		t.Fatalf("load by prefix: %v", err)
	}
}

func keys(m map[string]Diff) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func keysS(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestFingerprintOddNamesPartitionsLargeObjects(t *testing.T) {
	p := startPG(t)
	c := p.client()
	db := p.conn("postgres")
	p.exec(db,
		`CREATE SCHEMA "Odd"`,
		`CREATE TABLE "Odd"."Mixed ""Name""" (dst_row int, "v w" text)`, // a column named like the row alias
		`INSERT INTO "Odd"."Mixed ""Name""" SELECT i, 'v' || i FROM generate_series(1, 100) i`,
		"CREATE TABLE parted (id int, v text) PARTITION BY RANGE (id)",
		"CREATE TABLE parted_low PARTITION OF parted FOR VALUES FROM (0) TO (50)",
		"CREATE TABLE parted_high PARTITION OF parted FOR VALUES FROM (50) TO (100)",
		"INSERT INTO parted SELECT i, 'p' || i FROM generate_series(0, 99) i",
		"CREATE UNLOGGED TABLE scratch (x int)", "INSERT INTO scratch VALUES (1)",
		"CREATE MATERIALIZED VIEW mv AS SELECT id FROM parted WHERE id % 10 = 0",
		"SELECT lo_from_bytea(0, '\\x0102'::bytea)",
	)
	st, _ := OpenStore(t.TempDir())
	before := snapshotOf(t, st, c)
	if s := before.Summary; s.Rows != 100+100+1+10+1 {
		t.Fatalf("rows %d (tables %d)", s.Rows, s.Tables)
	}
	p.restart()
	if _, err := c.WaitReady(context.Background(), 30*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	after := snapshotOf(t, st, c)
	if r := compare(t, before, after); !r.OK() || !r.DigestEqual {
		var b bytes.Buffer
		RenderText(&b, r)
		t.Fatalf("not verified:\n%s", b.String())
	}
	p.exec(p.conn("postgres"),
		`UPDATE "Odd"."Mixed ""Name""" SET "v w" = 'changed' WHERE dst_row = 5`,
		"DELETE FROM parted WHERE id = 70",
		"SELECT lo_put(l.oid, 0, '\\x09'::bytea) FROM pg_largeobject_metadata l")
	r := compare(t, after, snapshotOf(t, st, c))
	got := items(r, ClassChanged)
	for _, name := range []string{`postgres/Odd.Mixed "Name"`, "postgres/public.parted_high", "postgres/pg_catalog.pg_largeobject"} {
		if _, ok := got[name]; !ok {
			t.Errorf("%s not CHANGED: %v", name, keys(got))
		}
	}
	if len(got) != 3 || r.Count(ClassMissing) != 0 || r.Count(ClassNew) != 0 {
		var b bytes.Buffer
		RenderText(&b, r)
		t.Fatalf("report:\n%s", b.String())
	}
}
