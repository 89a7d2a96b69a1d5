package pgstate

import (
	"context"
	"strings"
	"testing"
)

// A role with pg_read_all_data does not bypass row-level security: a table with RLS on and
// no policy shows it no rows. Preflight must refuse such a role, naming the table and the
// statement that fixes it, and the fingerprint must never count the hidden rows as 0.
func TestRowLevelSecurityIsNotAnEmptyTable(t *testing.T) {
	p := startPG(t)
	ctx := context.Background()
	admin := p.conn("postgres")
	p.exec(admin, "CREATE DATABASE app")
	app := p.conn("app")
	p.exec(app, "CREATE TABLE secrets (id int PRIMARY KEY, v text)",
		"INSERT INTO secrets SELECT i, 'row ' || i FROM generate_series(1, 40) i",
		"ALTER TABLE secrets ENABLE ROW LEVEL SECURITY",
		"CREATE TABLE open (id int)", "INSERT INTO open VALUES (1)")
	p.exec(admin, "CREATE ROLE checker LOGIN PASSWORD 'pw'",
		"GRANT EXECUTE ON FUNCTION pg_reload_conf() TO checker",
		"GRANT ALTER SYSTEM ON PARAMETER default_transaction_read_only TO checker",
		"GRANT pg_checkpoint, pg_read_all_data, pg_read_all_stats, pg_read_all_settings TO checker")
	c := p.clientAs("checker", "pw")
	r, err := Preflight(ctx, c, PreflightInput{})
	if err != nil {
		t.Fatal(err)
	}
	f, ok := codes(r.Refusals)[CodeRowSecurity]
	if !ok || !strings.Contains(f.Message, "app.public.secrets") || strings.Contains(f.Message, "open") || f.Fix != "ALTER ROLE checker BYPASSRLS" {
		t.Fatalf("RLS table not refused with its name and fix: %+v", r.Refusals)
	}
	st, _ := OpenStore(t.TempDir())
	if snap, err := TakeSnapshot(ctx, c, st, "", nil, FingerprintOptions{}); err == nil {
		t.Fatalf("the fingerprint counted a table whose rows RLS hides: %d rows in all", snap.Summary.Rows)
	} else if !strings.Contains(err.Error(), "secrets") {
		t.Fatalf("fingerprint error does not name the table: %v", err)
	}
	// the fix the refusal names is enough
	p.exec(admin, f.Fix)
	r, err = Preflight(ctx, c, PreflightInput{})
	if err != nil || !r.OK() {
		t.Fatalf("after %s: %v %+v", f.Fix, err, r)
	}
	snap, err := TakeSnapshot(ctx, c, st, "", nil, FingerprintOptions{})
	if err != nil || snap.Summary.Rows != 41 {
		t.Fatalf("fingerprint with BYPASSRLS: %v", err)
	}
}
