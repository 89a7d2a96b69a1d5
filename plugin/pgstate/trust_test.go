package pgstate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker-stateful/docker-stateful/plugin/pgstate/pgtest"
	"github.com/jackc/pgx/v5"
)

func pgtestDataset() []string { return pgtest.Dataset(2000) }

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

// bypassWriter inserts a row into table every interval through a session that overrides the
// read-only default (as SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE and
// options=-c default_transaction_read_only=off do), reconnecting when the server restarts.
// It returns a stop function that reports how many inserts were acknowledged.
func bypassWriter(t *testing.T, p *testPG, table string, interval time.Duration) (stop func() int) {
	t.Helper()
	done := make(chan struct{})
	res := make(chan int, 1)
	go func() {
		acked := 0
		defer func() { res <- acked }()
		var conn *pgx.Conn
		for {
			select {
			case <-done:
				if conn != nil {
					conn.Close(context.Background())
				}
				return
			case <-time.After(interval):
			}
			if conn == nil {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				c, err := p.Connect(ctx, "postgres")
				cancel()
				if err != nil {
					continue
				}
				if _, err := c.Exec(context.Background(), "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE"); err != nil {
					c.Close(context.Background())
					continue
				}
				conn = c
			}
			if _, err := conn.Exec(context.Background(), "INSERT INTO "+table+" (v) VALUES ('after the cut')"); err != nil {
				conn.Close(context.Background())
				conn = nil
				continue
			}
			acked++
		}
	}()
	return func() int { close(done); return <-res }
}

// A session that overrides the read-only default keeps writing after the cut, on the old
// server and on the new one: its rows are not a loss. The check attributes them (rows
// written after the cut's snapshot) and says "unverified", never "failed"; a difference no
// write explains still fails.
func TestWritesThatBypassTheCutAreNotALoss(t *testing.T) {
	p := startPG(t)
	ctx := context.Background()
	app := p.conn("postgres")
	p.exec(app, pgtestDataset()...)
	p.exec(app, "CREATE TABLE orders (id serial PRIMARY KEY, v text)", "INSERT INTO orders (v) SELECT 'before' FROM generate_series(1, 100)")
	c := p.client()
	h, err := Cut(ctx, c, CutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release(ctx)
	stop := bypassWriter(t, p, "orders", 20*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	st, _ := OpenStore(t.TempDir())
	before, err := TakeSnapshot(ctx, c, st, "svc", &h.Info, FingerprintOptions{})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	p.restart() // the update: the new server starts read-only, the writer reconnects and overrides it again
	if _, err := c.WaitRestarted(ctx, h.Info.PostmasterStart, 30*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	acked := stop()
	rep, _, err := VerifyAgainst(ctx, c, st, before, FingerprintOptions{}, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var inCut, now int64
	for _, d := range rep.Classes[ClassChanged].Items {
		if d.Object == "public.orders" {
			inCut, now = d.BeforeRows, d.AfterRows
		}
	}
	if rep.Verdict != VerdictUnverified || !rep.Unattributed() || rep.Count(ClassChanged) != 1 {
		t.Fatalf("writes that bypassed the cut (%d acknowledged) judged %s: %v", acked, rep.Verdict, rep.Reasons)
	}
	if inCut < 100 || now != 100+int64(acked) || rep.WrittenAfterCut != now-inCut {
		t.Fatalf("rows in the cut %d, now %d, acknowledged %d, attributed %d", inCut, now, acked, rep.WrittenAfterCut)
	}
	var out strings.Builder
	RenderText(&out, rep)
	if !strings.Contains(out.String(), "NOT VERIFIED (no loss proven)") || !strings.Contains(out.String(), "written after the cut") {
		t.Fatalf("report:\n%s", out.String())
	}
	t.Logf("%d inserts acknowledged after the cut, %d after the snapshot: %s", acked, rep.WrittenAfterCut, rep.Reasons[0])

	// rows deleted after the cut leave no row behind: nothing explains them, it fails
	w := p.conn("postgres")
	p.exec(w, "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", "DELETE FROM log WHERE n > 100")
	rep, _, err = VerifyAgainst(ctx, c, st, before, FingerprintOptions{}, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != VerdictFailed || rep.Count(ClassChanged) != 2 {
		t.Fatalf("an unexplained difference is not a failure: %s %v", rep.Verdict, rep.Reasons)
	}
}

// Data outside PGDATA — a tablespace's directory, a pg_wal moved by POSTGRES_INITDB_WALDIR —
// must be on a mount of the service too; a database that refuses connections cannot be
// fingerprinted and is reported, never skipped silently.
func TestPreflightDataOutsidePGDATA(t *testing.T) {
	p := startPG(t)
	ctx := context.Background()
	ts := filepath.Join(p.Dir, "ts")
	if err := os.Mkdir(ts, 0o700); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(p.Dir); err == nil {
		sys := st.Sys().(*syscall.Stat_t)
		os.Chown(ts, int(sys.Uid), int(sys.Gid))
	}
	admin := p.conn("postgres")
	p.exec(admin, "CREATE TABLESPACE fast LOCATION '"+ts+"'", "CREATE TABLE hot (id int) TABLESPACE fast", "INSERT INTO hot VALUES (1)",
		"CREATE DATABASE archive", "ALTER DATABASE archive ALLOW_CONNECTIONS false")
	c := p.client()
	env := []string{"PGDATA=" + p.Data, "POSTGRES_INITDB_WALDIR=/var/lib/postgresql/wal/"}
	r, err := Preflight(ctx, c, PreflightInput{MountTargets: []string{p.Data}, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	ref, warn := codes(r.Refusals), codes(r.Warnings)
	if f, ok := ref[CodeTablespace]; !ok || f.Path != ts || !strings.Contains(f.Message, "tablespace fast") || !strings.Contains(f.Fix, "target="+ts) {
		t.Errorf("tablespace outside the mounts not refused: %+v", r.Refusals)
	}
	if f, ok := ref[CodeWALNotOnVolume]; !ok || f.Path != "/var/lib/postgresql/wal" {
		t.Errorf("pg_wal outside the mounts not refused: %+v", r.Refusals)
	}
	if f, ok := warn[CodeNoConnections]; !ok || f.Path != "archive" || f.Fix != "ALTER DATABASE archive ALLOW_CONNECTIONS true, to have it checked" {
		t.Errorf("a database refusing connections not reported: %+v", r.Warnings)
	}
	r, err = Preflight(ctx, c, PreflightInput{MountTargets: []string{p.Data, ts, "/var/lib/postgresql/wal"}, Env: env})
	if err != nil || !r.OK() {
		t.Fatalf("everything on a mount: %v %+v", err, r.Refusals)
	}
	st, _ := OpenStore(t.TempDir())
	snap, err := TakeSnapshot(ctx, c, st, "", nil, FingerprintOptions{})
	if err != nil || len(snap.Summary.Skipped) != 1 || snap.Summary.Skipped[0] != "archive" {
		t.Fatalf("skipped databases: %v %+v", err, snap.Summary.Skipped)
	}
	rep, _, err := VerifyAgainst(ctx, c, st, snap, FingerprintOptions{}, CompareOptions{})
	var out strings.Builder
	if err == nil {
		RenderText(&out, rep)
	}
	if !strings.Contains(out.String(), "Not checked: database(s) archive refuse connections") {
		t.Fatalf("report: %v\n%s", err, out.String())
	}
}
