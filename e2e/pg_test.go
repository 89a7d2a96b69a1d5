//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/docker-stateful/docker-stateful/e2e/cluster"
	"github.com/docker-stateful/docker-stateful/plugin/pgstate"
	"github.com/docker-stateful/docker-stateful/plugin/pgstate/pgtest"
)

// pgWriter inserts rows into writes(id) in a loop, one transaction per row, reconnecting
// on errors, and remembers every id whose COMMIT succeeded.
type pgWriter struct {
	addr     string
	port     int
	password string

	mu        sync.Mutex
	committed []int64
	readOnly  atomic.Int64 // SQLSTATE 25006: the cut
	roTimes   []time.Time  // when they happened (under mu)
	other     atomic.Int64 // connection errors while the task is replaced, missing table
	lastOther atomic.Value
	stop      chan struct{}
	done      chan struct{}
}

func startWriter(addr string, port int, password string) *pgWriter {
	w := &pgWriter{addr: addr, port: port, password: password, stop: make(chan struct{}), done: make(chan struct{})}
	go w.loop()
	return w
}

func (w *pgWriter) loop() {
	defer close(w.done)
	var conn *pgx.Conn
	next := int64(1)
	for {
		select {
		case <-w.stop:
			if conn != nil {
				conn.Close(context.Background())
			}
			return
		case <-time.After(20 * time.Millisecond):
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		if conn == nil {
			c, err := pgtest.Connect(ctx, w.addr, w.port, "postgres", w.password, "postgres")
			if err != nil {
				cancel()
				w.other.Add(1)
				w.lastOther.Store(err.Error())
				continue
			}
			conn = c
		}
		_, err := conn.Exec(ctx, "INSERT INTO writes (id) VALUES ($1)", next)
		cancel()
		var pe *pgconn.PgError
		switch {
		case err == nil:
			w.mu.Lock()
			w.committed = append(w.committed, next)
			w.mu.Unlock()
			next++
		case errors.As(err, &pe) && pe.Code == "25006":
			w.readOnly.Add(1)
			w.mu.Lock()
			w.roTimes = append(w.roTimes, time.Now())
			w.mu.Unlock()
		case errors.As(err, &pe) && pe.Code == "23505":
			// committed earlier, but the answer was lost with the connection
			w.mu.Lock()
			w.committed = append(w.committed, next)
			w.mu.Unlock()
			next++
		default:
			w.other.Add(1)
			w.lastOther.Store(err.Error())
			conn.Close(context.Background())
			conn = nil
		}
	}
}

func (w *pgWriter) Stop() []int64 {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]int64(nil), w.committed...)
}

func (w *pgWriter) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.committed)
}

// TestPostgresCutFingerprintVerifyThroughUpdates drives pgstate against the harness's
// postgres image as a swarm service created by docker stateful: an update keeps the data
// (verified, digest equal, the new server starts read-only until resumed, a writer loses
// no committed row), a forced update onto the image's anonymous volume is caught (MISSING
// tables) and the rollback verifies again.
func TestPostgresCutFingerprintVerifyThroughUpdates(t *testing.T) {
	C.RequirePlugin(t)
	C.RequirePostgresImage(t)
	const password = "e2e-pg-secret"
	svc, port := C.CreatePostgres(t, []string{"stateful", "create"}, password)
	task := C.WaitRunning(t, svc)
	addr := task.Node.Addr
	conn := cluster.Postgres(t, addr, port, password, "postgres")
	ctx := context.Background()
	if err := pgtest.Exec(ctx, conn, append(pgtest.Dataset(100000), "CREATE TABLE writes (id bigint PRIMARY KEY)")...); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	opt, err := pgstate.ParseURL(fmt.Sprintf("postgres://postgres@%s:%d/postgres?sslmode=disable", addr, port))
	if err != nil {
		t.Fatal(err)
	}
	if err := opt.LoadPassword(func(k string) string {
		if k == "PGPASSWORD" {
			return password
		}
		return ""
	}, ""); err != nil {
		t.Fatal(err)
	}
	pg, err := pgstate.NewClient(opt)
	if err != nil {
		t.Fatal(err)
	}
	st, err := pgstate.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	targets := strings.Fields(C.Docker(t, 1, "service", "inspect", svc, "--format",
		"{{range .Spec.TaskTemplate.ContainerSpec.Mounts}}{{.Target}} {{end}}"))
	pre, err := pgstate.Preflight(ctx, pg, pgstate.PreflightInput{MountTargets: targets, StopGrace: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !pre.OK() || pre.DataDirectory != pgstate.DefaultDataDir {
		t.Fatalf("preflight: %+v", pre)
	}
	// the same check against a spec without the data mount refuses
	if pre2, _ := pgstate.Preflight(ctx, pg, pgstate.PreflightInput{MountTargets: []string{}}); pre2.OK() {
		t.Fatal("preflight accepts a spec without a mount for the data directory")
	}

	// A plain update first, for the time to compare with.
	t0 := time.Now()
	C.Docker(t, 1, "stateful", "update", "--quiet", "--limit-memory", "300M", svc)
	if _, err := pg.WaitReady(ctx, 2*time.Minute, nil); err != nil {
		t.Fatal(err)
	}
	plain := time.Since(t0)

	w := startWriter(addr, port, password)
	time.Sleep(500 * time.Millisecond)

	// update --verify, as the integration will do it.
	var windows [][2]time.Time // from Cut to Resume: the only time writes may fail read-only
	t1 := time.Now()
	si, err := pg.WaitReady(ctx, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	cut, err := pgstate.Cut(ctx, pg, pgstate.CutOptions{WaitWriters: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cut.Cleanup()
	before, err := pgstate.TakeSnapshot(ctx, pg, st, svc, &cut.Info, pgstate.FingerprintOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tCut := time.Since(t1)
	C.Docker(t, 1, "stateful", "update", "--quiet", "--limit-memory", "200M", svc)
	si2, err := pg.WaitRestarted(ctx, si.PostmasterStart, 2*time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !si2.ReadOnly {
		t.Fatal("the new server did not start read-only (postgresql.auto.conf)")
	}
	rep, _, err := pgstate.VerifyAgainst(ctx, pg, st, before, pgstate.FingerprintOptions{}, pgstate.CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pgstate.Resume(ctx, pg); err != nil {
		t.Fatal(err)
	}
	verified := time.Since(t1)
	windows = append(windows, [2]time.Time{t1, time.Now()})
	var out bytes.Buffer
	pgstate.RenderText(&out, rep)
	t.Logf("update --verify (library): cut+fingerprint %s, total %s; plain update %s (ratio %.2f)\n%s",
		tCut.Round(time.Millisecond), verified.Round(time.Millisecond), plain.Round(time.Millisecond),
		verified.Seconds()/plain.Seconds(), out.String())
	if !rep.OK() || !rep.DigestEqual || rep.BeforeRows < pgtest.DatasetRows(100000) {
		t.Fatalf("not verified:\n%s", out.String())
	}
	n0 := w.count()
	deadline := time.Now().Add(20 * time.Second)
	for w.count() <= n0+5 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if w.count() <= n0+5 {
		t.Fatalf("the writer does not write after resume (last error: %v)", w.lastOther.Load())
	}

	// A forced update onto the image's anonymous volume: the new server is empty.
	t3 := time.Now()
	si3, err := pg.WaitReady(ctx, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	cut2, err := pgstate.Cut(ctx, pg, pgstate.CutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer cut2.Cleanup()
	before2, err := pgstate.TakeSnapshot(ctx, pg, st, svc, &cut2.Info, pgstate.FingerprintOptions{})
	if err != nil {
		t.Fatal(err)
	}
	C.Docker(t, 1, "stateful", "update", "--quiet", "--force", "--mount-rm", pgstate.DefaultDataDir, svc)
	si4, err := pg.WaitRestarted(ctx, si3.PostmasterStart, 2*time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep2, _, err := pgstate.VerifyAgainst(ctx, pg, st, before2, pgstate.FingerprintOptions{}, pgstate.CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	pgstate.RenderText(&out, rep2)
	t.Logf("after the forced update:\n%s", out.String())
	missing := map[string]bool{}
	for _, d := range rep2.Classes[pgstate.ClassMissing].Items {
		missing[d.Name()] = true
	}
	for _, tbl := range []string{"users", "events", "docs", "blobs", "log", "writes"} {
		if !missing["postgres/public."+tbl] {
			t.Errorf("table %s not reported MISSING", tbl)
		}
	}
	if rep2.OK() || si4.ReadOnly {
		t.Fatalf("forced update onto an empty volume: verdict %s, read-only %v", rep2.Verdict, si4.ReadOnly)
	}
	// Roll back: the old volume (still read-only from the cut) verifies again.
	C.Docker(t, 1, "service", "rollback", "--quiet", svc)
	si5, err := pg.WaitRestarted(ctx, si4.PostmasterStart, 2*time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep3, _, err := pgstate.VerifyAgainst(ctx, pg, st, before2, pgstate.FingerprintOptions{}, pgstate.CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep3.OK() || !rep3.DigestEqual || !si5.ReadOnly {
		out.Reset()
		pgstate.RenderText(&out, rep3)
		t.Fatalf("after the rollback (read-only %v):\n%s", si5.ReadOnly, out.String())
	}
	if _, err := pgstate.Resume(ctx, pg); err != nil {
		t.Fatal(err)
	}
	windows = append(windows, [2]time.Time{t3, time.Now()})
	time.Sleep(time.Second)
	committed := w.Stop()

	// Every committed row is there; read-only errors happened only during the cuts.
	conn = cluster.Postgres(t, addr, port, password, "postgres")
	var n, present int64
	if err := conn.QueryRow(ctx, "SELECT count(*), count(*) FILTER (WHERE id = ANY($1)) FROM writes", committed).Scan(&n, &present); err != nil {
		t.Fatal(err)
	}
	t.Logf("writer: %d rows committed, %d read-only errors (during the cuts), %d other errors (task replaced)", len(committed), w.readOnly.Load(), w.other.Load())
	if present != int64(len(committed)) {
		t.Fatalf("writer committed %d rows, only %d of them are in the table (%d rows)", len(committed), present, n)
	}
	if w.readOnly.Load() == 0 {
		t.Fatal("the writer never saw the cut")
	}
	// pg_reload_conf() after Resume reaches the writer's backend within moments
	const slack = time.Second
	for _, at := range w.roTimes {
		in := false
		for _, win := range windows {
			in = in || (!at.Before(win[0]) && !at.After(win[1].Add(slack)))
		}
		if !in {
			t.Errorf("read-only error at %s outside the cuts %v", at.Format("15:04:05.000"), windows)
		}
	}
}
