//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker-stateful/docker-stateful/e2e/cluster"
	"github.com/docker-stateful/docker-stateful/plugin/pgstate"
	"github.com/docker-stateful/docker-stateful/plugin/pgstate/pgtest"
)

// pgvReport is the part of pgstate.Report the tests read.
type pgvReport struct {
	Before       string `json:"before"`
	BeforeTables int64  `json:"before_tables"`
	BeforeRows   int64  `json:"before_rows"`
	DigestEqual  bool   `json:"digest_equal"`
	BeforeRunID  string `json:"before_run_id"`
	AfterRunID   string `json:"after_run_id"`
	Classes      map[string]struct {
		Count int64 `json:"count"`
		Items []struct {
			Database string `json:"database"`
			Object   string `json:"object"`
		} `json:"items"`
	} `json:"classes"`
	Verdict string `json:"verdict"`
}

// pgvUpdateResult is update --verify --format json for PostgreSQL.
type pgvUpdateResult struct {
	Service        string `json:"service"`
	Engine         string `json:"engine"`
	Snapshot       string `json:"snapshot"`
	Postgres       struct{ Addr, Reason string }
	Report         *pgvReport `json:"report"`
	RolledBack     bool       `json:"rolled_back"`
	RollbackReport *pgvReport `json:"rollback_report"`
	Restored       []string   `json:"restored"`
	WritesResumed  bool       `json:"writes_resumed"`
	ResumedAt      time.Time  `json:"resumed_at"`
	Cut            struct {
		ReadOnlyAt time.Time `json:"read_only_at"`
	} `json:"cut"`
	Verdict string `json:"verdict"`
}

// pgvWritable fails unless a new session may write (default_transaction_read_only off).
func pgvWritable(t *testing.T, addr string, port int, password string) {
	t.Helper()
	conn := cluster.Postgres(t, addr, port, password, "postgres")
	defer conn.Close(context.Background())
	var ro string
	if err := conn.QueryRow(context.Background(), "SHOW default_transaction_read_only").Scan(&ro); err != nil || ro != "off" {
		t.Fatalf("PostgreSQL is not writable: default_transaction_read_only = %q (%v)", ro, err)
	}
	// a write that is rolled back: the data stays as it was
	tx, err := conn.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(context.Background(), "INSERT INTO writes (id) VALUES (-2)"); err != nil {
		t.Fatalf("PostgreSQL is not writable: %v", err)
	}
}

// TestPostgresUpdateVerify is the scenario through the commands, on one postgres
// service made by docker stateful create: update --verify verifies (digest equal) in a
// time close to a plain update's while a writer keeps inserting (no committed row lost,
// read-only errors only while an update runs); a forced update onto the image's anonymous
// volume fails with MISSING tables, is rolled back and verified again; Ctrl-C during the
// cut leaves the database writable and sends nothing; snapshot and verify find a change.
func TestPostgresUpdateVerify(t *testing.T) {
	C.RequirePlugin(t)
	C.RequirePostgresImage(t)
	const password = "e2e-pgverify-secret"
	t.Setenv("PGPASSWORD", password) // the plugin's only source of the password here
	svc, port := C.CreatePostgres(t, []string{"stateful", "create"}, password)
	task := C.WaitRunning(t, svc)
	addr := task.Node.Addr
	ctx := context.Background()
	conn := cluster.Postgres(t, addr, port, password, "postgres")
	if err := pgtest.Exec(ctx, conn, append(pgtest.Dataset(100000), "CREATE TABLE writes (id bigint PRIMARY KEY)")...); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	opt, _ := pgstate.ParseURL(fmt.Sprintf("postgres://postgres@%s:%d/postgres?sslmode=disable", addr, port))
	opt.Password = pgstate.Secret(password)
	pg, err := pgstate.NewClient(opt)
	if err != nil {
		t.Fatal(err)
	}
	si, err := pg.WaitReady(ctx, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}

	w := startWriter(addr, port, password)
	defer func() {
		select {
		case <-w.done:
		default:
			w.Stop()
		}
	}()
	time.Sleep(500 * time.Millisecond)
	var windows [][2]time.Time // from the start of an update to its resume: the only time writes may fail read-only

	// Plain updates and update --verify in turn, twice (the machine is shared: the
	// fastest of each is compared). A plain update lasts until docker returns and the
	// new server is ready; update --verify until it has verified: digest equal, the new
	// server started read-only, writes resumed.
	var plain, verified []time.Duration
	for i, mem := range []string{"300M", "200M"} {
		t0 := time.Now()
		C.Docker(t, 1, "stateful", "update", "--quiet", "--limit-memory", mem, svc)
		if si, err = pg.WaitRestarted(ctx, si.PostmasterStart, 2*time.Minute, nil); err != nil {
			t.Fatal(err)
		}
		plain = append(plain, time.Since(t0))
		pgWaitWrites(t, w)

		t1 := time.Now()
		r := vfyStateful(t, "update", "--verify", "--format", "json", "--limit-memory", fmt.Sprintf("%dM", 250+i), svc)
		verified = append(verified, time.Since(t1))
		var res pgvUpdateResult
		vfyJSON(t, r.Stdout, &res)
		windows = append(windows, [2]time.Time{t1, res.ResumedAt})
		t.Logf("writes were off for %s (cut to resume)", res.ResumedAt.Sub(res.Cut.ReadOnlyAt).Round(time.Millisecond))
		if r.ExitCode() != 0 || res.Verdict != "verified" || res.Engine != "postgres" || res.Report == nil || !res.Report.DigestEqual ||
			res.Report.BeforeRows < pgtest.DatasetRows(100000) || res.Report.BeforeRunID == res.Report.AfterRunID || !res.WritesResumed {
			t.Fatalf("update --verify: exit %d, %+v", r.ExitCode(), res)
		}
		for _, want := range []string{"PostgreSQL of service " + svc, "Cut in ", "Snapshot " + res.Snapshot, "New PostgreSQL", "read-only until verified", "Writes resumed"} {
			if !strings.Contains(r.Stderr, want) {
				t.Errorf("update --verify: stderr lacks %q", want)
			}
		}
		if si, err = pg.WaitReady(ctx, time.Minute, nil); err != nil {
			t.Fatal(err)
		}
		pgWaitWrites(t, w)
	}
	ratio := slices.Min(verified).Seconds() / slices.Min(plain).Seconds()
	t.Logf("update --verify took %v, a plain update %v: ratio of the fastest %.2f", verified, plain, ratio)
	if ratio > 1.3 {
		t.Errorf("update --verify took %.2f× a plain update (target ≤ 1.3)", ratio)
	}

	// A forced update onto the image's anonymous volume: MISSING tables, rolled back,
	// verified again, writable.
	t2 := time.Now()
	r := vfyStateful(t, "update", "--verify", "--force", "--mount-rm", pgstate.DefaultDataDir, svc)
	windows = append(windows, [2]time.Time{t2, time.Now()})
	if r.ExitCode() != 1 {
		t.Fatalf("forced update onto the anonymous volume: exit %d, want 1", r.ExitCode())
	}
	for _, want := range []string{"warning: --force overrides: PostgreSQL keeps its data in " + pgstate.DefaultDataDir, "MISSING", "public.events", "Verdict: FAILED", "rolling service " + svc + " back",
		"After the rollback:", "Verdict: verified", "The rollback restored the data"} {
		if !strings.Contains(r.Stdout+r.Stderr, want) {
			t.Errorf("forced update: output lacks %q", want)
		}
	}
	if got := updInspect(t, svc, "{{range .Spec.TaskTemplate.ContainerSpec.Mounts}}{{.Target}} {{end}}"); !strings.Contains(got, pgstate.DefaultDataDir) {
		t.Errorf("after the rollback the spec mounts %q", got)
	}
	pgWaitWrites(t, w)

	// Ctrl-C once the update was sent: nothing rolled back, and the new server, which
	// starts read-only, gets its writes back (0 if the check had already verified it).
	t3 := time.Now()
	code, stderr := pgvInterrupt(t, "Old task stopped", "update", "--verify", "--limit-memory", "220M", svc)
	windows = append(windows, [2]time.Time{t3, time.Now()})
	if (code != 130 && code != 0) || !strings.Contains(stderr, "Writes resumed") || strings.Contains(stderr, "rolling service") {
		t.Errorf("Ctrl-C after the send: exit %d, want 130 (or 0), writes resumed, no rollback", code)
	}
	pgvWritable(t, addr, port, password)
	pgWaitWrites(t, w)
	committed := w.Stop()
	conn = cluster.Postgres(t, addr, port, password, "postgres")
	var present int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FILTER (WHERE id = ANY($1)) FROM writes", committed).Scan(&present); err != nil {
		t.Fatal(err)
	}
	t.Logf("writer: %d rows committed, %d read-only errors (all between a cut and its resume), %d connection errors (task replaced)",
		len(committed), w.readOnly.Load(), w.other.Load())
	if present != int64(len(committed)) {
		t.Fatalf("the writer committed %d rows, only %d are in the table", len(committed), present)
	}
	if w.readOnly.Load() == 0 {
		t.Error("the writer never met the cut")
	}
	for _, at := range w.roTimes {
		in := false
		for _, win := range windows {
			in = in || (!at.Before(win[0]) && !at.After(win[1].Add(time.Second)))
		}
		if !in {
			t.Errorf("read-only error at %s outside the cuts %v", at.Format("15:04:05.000"), windows)
		}
	}

	// Ctrl-C during the cut (it waits for an open write transaction): nothing sent,
	// exit 130, writable.
	version := updVersion(t, svc)
	holder := cluster.Postgres(t, addr, port, password, "postgres")
	tx, err := holder.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO writes (id) VALUES (-1)"); err != nil {
		t.Fatal(err)
	}
	code, stderr = pgvInterrupt(t, "waiting for 1 write transaction", "update", "--verify", "--limit-memory", "250M", svc)
	_ = tx.Rollback(ctx)
	if code != 130 {
		t.Errorf("Ctrl-C during the cut: exit %d, want 130\n%s", code, stderr)
	}
	if v := updVersion(t, svc); v != version {
		t.Errorf("Ctrl-C during the cut: the service changed (version %s → %s)", version, v)
	}
	pgvWritable(t, addr, port, password)

	// snapshot, verify, a change found; --pg-url and --engine.
	r = vfyStateful(t, "snapshot", svc)
	id := strings.TrimSpace(r.Stdout)
	if r.ExitCode() != 0 || id == "" {
		t.Fatalf("snapshot: exit %d", r.ExitCode())
	}
	pgvWritable(t, addr, port, password)
	r = vfyStateful(t, "verify", svc)
	if r.ExitCode() != 0 || !strings.Contains(r.Stdout, "Verified: all") {
		t.Fatalf("verify: exit %d", r.ExitCode())
	}
	if _, err := conn.Exec(ctx, "DELETE FROM events WHERE id <= 10"); err != nil {
		t.Fatal(err)
	}
	r = vfyStateful(t, "verify", "--format", "json", "--engine", "postgres", "--against", id,
		"--pg-url", fmt.Sprintf("postgres://postgres@%s:%d/postgres?sslmode=disable", addr, port), svc)
	var vr struct {
		Engine  string     `json:"engine"`
		Report  *pgvReport `json:"report"`
		Verdict string     `json:"verdict"`
	}
	vfyJSON(t, r.Stdout, &vr)
	if r.ExitCode() != 1 || vr.Verdict != "failed" || vr.Engine != "postgres" || vr.Report == nil || vr.Report.Classes["CHANGED"].Count != 1 {
		t.Fatalf("verify after a DELETE: exit %d, %+v", r.ExitCode(), vr)
	}
	// sslmode is honoured: this server has no TLS
	r = vfyStateful(t, "verify", "--pg-url", fmt.Sprintf("postgres://postgres@%s:%d/postgres?sslmode=require", addr, port), svc)
	if r.ExitCode() != 2 || !strings.Contains(r.Stderr, "TLS") {
		t.Errorf("verify with sslmode=require on a server without TLS: exit %d, want 2 and a TLS error", r.ExitCode())
	}
}

// pgWaitWrites waits until the writer commits again (writes were resumed).
func pgWaitWrites(t *testing.T, w *pgWriter) {
	t.Helper()
	n0 := w.count()
	deadline := time.Now().Add(20 * time.Second)
	for w.count() <= n0+5 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if w.count() <= n0+5 {
		t.Fatalf("the writer does not commit after the update (last error: %v)", w.lastOther.Load())
	}
}

// pgvInterrupt runs docker stateful args on node 1, sends SIGINT to docker (Ctrl-C)
// once stderr shows marker, and returns the exit code and stderr.
func pgvInterrupt(t *testing.T, marker string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", append([]string{"-H", C.Node(1).Host, "stateful"}, args...)...)
	cmd.Env = C.DockerEnv()
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	sc := bufio.NewScanner(pipe)
	sent := false
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if !sent && strings.Contains(sc.Text(), marker) {
			_ = cmd.Process.Signal(syscall.SIGINT)
			sent = true
		}
	}
	err = cmd.Wait()
	t.Logf("$ docker stateful %s (interrupted: %v)\n%s", strings.Join(args, " "), sent, log.String())
	if !sent {
		t.Fatalf("%q never appeared", marker)
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), log.String()
	}
	return 0, log.String()
}
