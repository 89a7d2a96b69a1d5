// Command pgbench measures pgstate's fingerprint for bench/pg.sh: it starts a throwaway
// PostgreSQL (pgtest: initdb + pg_ctl on 127.0.0.1), loads the dataset with
// -rows rows in its big table, then alternates, -rounds times, `SELECT count(*)` of every
// table the fingerprint hashes (the server's floor for reading those rows) and a
// fingerprint, and prints rows/s of both (best and median) and their ratio, plus the time
// to compare two snapshots that differ in one row.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/docker-stateful/docker-stateful/plugin/pgstate"
	"github.com/docker-stateful/docker-stateful/plugin/pgstate/pgtest"
	"github.com/jackc/pgx/v5"
)

func main() {
	rows := flag.Int("rows", 1000000, "rows in the big table")
	rounds := flag.Int("rounds", 3, "alternating rounds of count(*) and fingerprint")
	workers := flag.Int("workers", 2, "fingerprint connections per database")
	flag.Parse()
	if err := run(*rows, *rounds, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "pgbench:", err)
		os.Exit(1)
	}
}

func run(bigRows, rounds, workers int) error {
	ctx := context.Background()
	// Loading is not measured: no fsync for it. Reads are what the figures are about.
	srv, err := pgtest.Start("-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off")
	if err != nil {
		return err
	}
	defer srv.Stop()
	conn, err := srv.Connect(ctx, "postgres")
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var ver string
	conn.QueryRow(ctx, "SHOW server_version").Scan(&ver)
	fmt.Printf("PostgreSQL %s on 127.0.0.1:%d (%s)\n", ver, srv.Port, srv.Dir)
	t0 := time.Now()
	if err := pgtest.Exec(ctx, conn, append(pgtest.Dataset(bigRows), "VACUUM ANALYZE")...); err != nil {
		return err
	}
	total := pgtest.DatasetRows(bigRows)
	var size string
	conn.QueryRow(ctx, "SELECT pg_size_pretty(pg_database_size('postgres'))").Scan(&size)
	fmt.Printf("loaded %d rows (%s) in %s\n", total, size, time.Since(t0).Round(time.Millisecond))

	var tables []string
	r, err := conn.Query(ctx, `SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'm') AND n.nspname = 'public'`)
	if err == nil {
		tables, err = pgx.CollectRows(r, pgx.RowTo[string])
	}
	if err != nil {
		return err
	}
	o, err := pgstate.ParseURL(srv.URL("postgres", "postgres"))
	if err != nil {
		return err
	}
	o.Password = pgstate.Secret(srv.Password)
	c, err := pgstate.NewClient(o)
	if err != nil {
		return err
	}
	st, err := pgstate.OpenStore(srv.Dir + "/state")
	if err != nil {
		return err
	}
	var counts, texts, fps []float64
	var last *pgstate.Snapshot
	for i := 1; i <= rounds; i++ {
		// count(*) of the same tables, one after another, in one snapshot like the fingerprint
		t := time.Now()
		var n int64
		for _, tbl := range tables {
			var k int64
			if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+tbl).Scan(&k); err != nil {
				return err
			}
			n += k
		}
		cr := float64(n) / time.Since(t).Seconds()
		// every value read as text (what the row digest hashes), for where the time goes
		t = time.Now()
		for _, tbl := range tables {
			var k int64
			if err := conn.QueryRow(ctx, "SELECT count(r::text) FROM "+tbl+" AS r").Scan(&k); err != nil {
				return err
			}
		}
		tr := float64(n) / time.Since(t).Seconds()
		snap, err := pgstate.TakeSnapshot(ctx, c, st, "bench", nil, pgstate.FingerprintOptions{Workers: workers})
		if err != nil {
			return err
		}
		if snap.Summary.Rows != total {
			return fmt.Errorf("fingerprint saw %d rows, want %d", snap.Summary.Rows, total)
		}
		fr := float64(snap.Summary.Rows) / (float64(snap.Summary.DurationMs) / 1000)
		fmt.Printf("round %d: count(*) %.0f rows/s, count(row::text) %.0f rows/s, fingerprint %.0f rows/s (%.2f of count(*)) in %d ms\n",
			i, cr, tr, fr, fr/cr, snap.Summary.DurationMs)
		counts, texts, fps = append(counts, cr), append(texts, tr), append(fps, fr)
		last = snap
	}
	if _, err := conn.Exec(ctx, "UPDATE events SET score = score + 1 WHERE id = 4242"); err != nil {
		return err
	}
	changed, err := pgstate.TakeSnapshot(ctx, c, st, "bench", nil, pgstate.FingerprintOptions{Workers: workers})
	if err != nil {
		return err
	}
	rep, err := pgstate.Compare(last, changed, pgstate.CompareOptions{})
	if err != nil {
		return err
	}
	if rep.OK() || rep.Count(pgstate.ClassChanged) != 1 {
		return fmt.Errorf("compare after one changed row: verdict %s, %d changed", rep.Verdict, rep.Count(pgstate.ClassChanged))
	}

	fmt.Println()
	rowsOut := [][2]string{
		{fmt.Sprintf("SELECT count(*) of the %d tables (best / median)", len(tables)), fmt.Sprintf("%.0fK / %.0fK rows/s", best(counts)/1e3, median(counts)/1e3)},
		{"SELECT count(row::text), every value as text (best / median)", fmt.Sprintf("%.0fK / %.0fK rows/s", best(texts)/1e3, median(texts)/1e3)},
		{fmt.Sprintf("fingerprint, %d rows, %d workers (best / median)", total, workers), fmt.Sprintf("%.0fK / %.0fK rows/s", best(fps)/1e3, median(fps)/1e3)},
		{"fingerprint / count(*) (best / median)", fmt.Sprintf("%.2f / %.2f", best(fps)/best(counts), median(fps)/median(counts))},
		{"fingerprint / count(row::text) (best / median)", fmt.Sprintf("%.2f / %.2f", best(fps)/best(texts), median(fps)/median(texts))},
		{"compare, one changed row", fmt.Sprintf("%s (CHANGED %s: %s)", rep.Elapsed.Round(time.Microsecond), rep.Classes[pgstate.ClassChanged].Items[0].Name(), rep.Classes[pgstate.ClassChanged].Items[0].Detail)},
	}
	w := 0
	for _, r := range rowsOut {
		w = max(w, len(r[0]))
	}
	fmt.Printf("%-*s  %s\n", w, "MEASURE (PostgreSQL)", "RESULT")
	for _, r := range rowsOut {
		fmt.Printf("%-*s  %s\n", w, r[0], r[1])
	}
	return nil
}

func best(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}
