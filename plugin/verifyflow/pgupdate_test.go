package verifyflow

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/exitcode"
	"github.com/docker-stateful/docker-stateful/plugin/pgstate"
	"github.com/docker-stateful/docker-stateful/plugin/pgstate/pgtest"
)

// pgReadOnly is what a new session of s sees for default_transaction_read_only.
func pgReadOnly(t *testing.T, s *pgtest.Server) bool {
	t.Helper()
	conn, err := s.Connect(context.Background(), "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var ro string
	if err := conn.QueryRow(context.Background(), "SHOW default_transaction_read_only").Scan(&ro); err != nil {
		t.Fatal(err)
	}
	return ro == "on"
}

// TestPGUpdateSequence runs PGUpdate's steps on a real PostgreSQL: writes are off from the
// cut until the server is verified, also across a restart (the new postmaster starts
// read-only); the data kept verifies (exit 0) and writes come back; a change made behind
// the cut fails (exit 1, --no-rollback) and writes still come back; a refusal (data
// directory not on a mount of the new spec) cuts nothing; an update never sent and an
// interrupted check both leave the server writable.
func TestPGUpdateSequence(t *testing.T) {
	s := pgtest.StartT(t)
	ctx := context.Background()
	conn, err := s.Connect(ctx, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := pgtest.Exec(ctx, conn, pgtest.Dataset(2000)...); err != nil {
		t.Fatal(err)
	}
	mounted := []mount.Mount{{Type: mount.TypeVolume, Source: "db-data", Target: s.Data}}
	cur := swarm.Service{ID: "id1", Spec: spec(mounted, nil)}
	cur.Spec.Name = "db"
	cur.Spec.TaskTemplate.ContainerSpec.Image = "postgres:15"
	api := &fakeAPI{svc: cur}
	getenv := func(k string) string {
		if k == "PGPASSWORD" {
			return s.Password
		}
		return ""
	}
	newUpdate := func(opt UpdateOptions) (*PGUpdate, *bytes.Buffer, *bytes.Buffer) {
		var log, report bytes.Buffer
		f, err := New(api, Options{StateDir: t.TempDir(), Getenv: getenv, Timeout: 20 * time.Second}, &log)
		if err != nil {
			t.Fatal(err)
		}
		pf, err := f.PG(PGOptions{URL: s.URL("postgres", "postgres")})
		if err != nil {
			t.Fatal(err)
		}
		return &PGUpdate{Flow: pf, Opt: opt, Report: &report,
			Converge: func(context.Context, string) error { t.Error("Converge without a rollback"); return nil }}, &log, &report
	}

	// An update that replaces the task: the server restarts between send and check.
	u, log, report := newUpdate(UpdateOptions{})
	next := cur.Spec
	next.TaskTemplate.Resources = &swarm.ResourceRequirements{Limits: &swarm.Limit{MemoryBytes: 1 << 30}}
	if err := u.Before(ctx, cur, &next); err != nil {
		t.Fatalf("Before: %v\n%s", err, log)
	}
	if !pgReadOnly(t, s) {
		t.Fatal("writes are on after the cut")
	}
	u.AfterSend(ctx, cur.ID)
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if !pgReadOnly(t, s) {
		t.Fatal("the restarted server does not start read-only")
	}
	err = u.After(ctx, cur.ID)
	u.Abandon()
	if err != nil || u.Result.Verdict != VerdictVerified || !u.Result.WritesResumed || !strings.Contains(report.String(), "Verified: all") ||
		!strings.Contains(log.String(), "read-only until verified") {
		t.Fatalf("restart: err %v, verdict %s, resumed %v\n%s\n%s", err, u.Result.Verdict, u.Result.WritesResumed, log, report)
	}
	if pgReadOnly(t, s) {
		t.Fatal("writes are still off after the verified update")
	}

	// A row deleted behind the cut (a session that overrides read-only): failed,
	// --no-rollback keeps the service, writes come back.
	u, log, report = newUpdate(UpdateOptions{NoRollback: true})
	next = cur.Spec
	if err := u.Before(ctx, cur, &next); err != nil {
		t.Fatalf("Before: %v\n%s", err, log)
	}
	u.AfterSend(ctx, cur.ID)
	conn2, err := s.Connect(ctx, "postgres") // conn died with the restart
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close(ctx)
	if err := pgtest.Exec(ctx, conn2, "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", "DELETE FROM events WHERE id = 7"); err != nil {
		t.Fatal(err)
	}
	err = u.After(ctx, cur.ID)
	u.Abandon()
	if exitcode.Code(err) != 1 || u.Result.Verdict != VerdictFailed || u.Result.RolledBack || !strings.Contains(report.String(), "public.events") {
		t.Fatalf("changed: err %v, verdict %s\n%s", err, u.Result.Verdict, report)
	}
	if pgReadOnly(t, s) || !u.Result.WritesResumed {
		t.Fatal("writes are still off after a failed check")
	}

	// Refused: the new spec has no mount for the data directory; nothing is cut.
	u, log, _ = newUpdate(UpdateOptions{})
	bare := spec(nil, nil)
	err = u.Before(ctx, cur, &bare)
	u.Abandon()
	if exitcode.Code(err) != 1 || u.Result.Verdict != VerdictRefused || !strings.Contains(log.String(), "refused: PostgreSQL keeps its data in "+s.Data) {
		t.Fatalf("refusal: err %v, verdict %s\n%s", err, u.Result.Verdict, log)
	}
	if pgReadOnly(t, s) {
		t.Fatal("a refusal left writes off")
	}

	// Not sent (docker failed after Before): Abandon resumes writes.
	u, log, _ = newUpdate(UpdateOptions{})
	next = cur.Spec
	if err := u.Before(ctx, cur, &next); err != nil {
		t.Fatalf("Before: %v\n%s", err, log)
	}
	u.Abandon()
	if pgReadOnly(t, s) {
		t.Fatal("an update never sent left writes off")
	}

	// Interrupted after the send: exit 130, nothing rolled back, writes resumed.
	u, log, _ = newUpdate(UpdateOptions{})
	if err := u.Before(ctx, cur, &next); err != nil {
		t.Fatalf("Before: %v\n%s", err, log)
	}
	u.AfterSend(ctx, cur.ID)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	err = u.After(cctx, cur.ID)
	u.Abandon()
	if exitcode.Code(err) != exitcode.Interrupted || u.Result.RolledBack || len(api.updates) != 0 {
		t.Fatalf("interrupted: err %v, rolled back %v, updates %v\n%s", err, u.Result.RolledBack, api.updates, log)
	}
	if pgReadOnly(t, s) {
		t.Fatalf("an interrupted check left writes off\n%s", log)
	}
}

func TestPGRollbackOutcome(t *testing.T) {
	named := spec([]mount.Mount{{Type: mount.TypeVolume, Source: "db-data", Target: "/var/lib/postgresql/data"}}, nil)
	ok := &pgstate.Report{Before: "S1", BeforeTables: 5, BeforeRows: 1200, Verdict: "verified"}
	got := strings.Join(PGRollbackOutcome(named, "/var/lib/postgresql/data", ok, nil), "\n")
	if !strings.Contains(got, "re-attached volume db-data on /var/lib/postgresql/data and all 5 tables (1200 rows) of snapshot S1 are back") {
		t.Errorf("restored: %s", got)
	}
	failed := &pgstate.Report{Verdict: "failed", Reasons: []string{"6 object(s) of the cut are missing"}}
	got = strings.Join(PGRollbackOutcome(spec(nil, nil), "/var/lib/postgresql/data", failed, nil), "\n")
	if !strings.Contains(got, "NOT the data") || !strings.Contains(got, "cannot bring back an anonymous volume") {
		t.Errorf("anonymous: %s", got)
	}
	if got := strings.Join(PGRollbackOutcome(named, "/var/lib/postgresql/data", nil, nil), "\n"); !strings.Contains(got, "could not be checked") {
		t.Errorf("unchecked: %s", got)
	}
}
