package pgstate

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCutMakesNewTransactionsReadOnlyAndReleaseResumes(t *testing.T) {
	p := startPG(t)
	ctx := context.Background()
	app := p.conn("postgres")
	p.exec(app, "CREATE TABLE t (id int PRIMARY KEY, v text)", "INSERT INTO t VALUES (1, 'a')")

	// A write transaction open before the cut: Cut waits for it and then checkpoints.
	w := p.conn("postgres")
	p.exec(w, "BEGIN", "INSERT INTO t VALUES (2, 'open before the cut')")
	// it commits once Cut waits for it (not on a timer: a loaded machine makes Cut slow)
	var msgs []string
	var once sync.Once
	progress := func(s string) {
		msgs = append(msgs, s)
		if strings.Contains(s, "waiting for 1 write transaction") {
			once.Do(func() {
				go func() {
					time.Sleep(700 * time.Millisecond)
					w.Exec(context.Background(), "COMMIT")
				}()
			})
		}
	}
	h, err := Cut(ctx, p.client(), CutOptions{WaitWriters: 20 * time.Second, Progress: progress})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release(ctx)
	if h.Info.WritersWait < 300*time.Millisecond || len(h.Info.WaitedFor) != 1 || !h.Info.WaitedFor[0].HasXID {
		t.Fatalf("did not wait for the open writer: %+v", h.Info)
	}
	if h.Info.CheckpointLSN == "" || h.Info.ReadOnlyAt.IsZero() {
		t.Fatalf("cut info %+v", h.Info)
	}
	if !strings.Contains(strings.Join(msgs, "\n"), "waiting for 1 write transaction") {
		t.Fatalf("progress did not report the wait: %q", msgs)
	}
	// the committed row of the open writer is in the cut
	var n int
	if err := app.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 2 {
		t.Fatalf("rows after the cut: %d %v", n, err)
	}
	// an existing session's new transaction is read-only, reads work
	if _, err := app.Exec(ctx, "INSERT INTO t VALUES (3, 'x')"); !isReadOnlyErr(err) {
		t.Fatalf("insert during the cut: %v", err)
	}
	if _, err := p.conn("postgres").Exec(ctx, "UPDATE t SET v = 'y'"); !isReadOnlyErr(err) {
		t.Fatalf("update from a new session during the cut: %v", err)
	}
	if err := h.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.Release(ctx); err != nil || !h.Released() {
		t.Fatalf("second release: %v", err)
	}
	waitWritable(t, p)
}

// waitWritable: the reload after resume is asynchronous; writes must work within 5 s.
func waitWritable(t *testing.T, p *testPG) {
	t.Helper()
	c := p.conn("postgres")
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := c.Exec(context.Background(), "CREATE TABLE IF NOT EXISTS writable_probe (x int); INSERT INTO writable_probe VALUES (1)")
		if err == nil {
			return
		}
		if !isReadOnlyErr(err) || time.Now().After(deadline) {
			t.Fatalf("database not writable: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestCutNamesSessionsThatKeepWriting(t *testing.T) {
	p := startPG(t)
	ctx := context.Background()
	w := p.conn("postgres")
	p.exec(w, "SET application_name = 'slow-writer'", "CREATE TABLE t (id int)", "BEGIN", "INSERT INTO t VALUES (1)")
	_, err := Cut(ctx, p.client(), CutOptions{WaitWriters: 500 * time.Millisecond})
	var we *WritersError
	if !errors.As(err, &we) || len(we.Sessions) != 1 || we.Sessions[0].Application != "slow-writer" {
		t.Fatalf("want a WritersError naming slow-writer, got %v", err)
	}
	if !strings.Contains(err.Error(), "pid ") || !strings.Contains(err.Error(), "INSERT INTO t") {
		t.Fatalf("error does not name the session: %v", err)
	}
	p.exec(w, "COMMIT")
	waitWritable(t, p) // resumed on the error path
}

func TestCutResumesWhenInterrupted(t *testing.T) {
	p := startPG(t)
	w := p.conn("postgres")
	p.exec(w, "CREATE TABLE t (id int)", "BEGIN", "INSERT INTO t VALUES (1)")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(600*time.Millisecond, cancel) // Ctrl-C while waiting for the writer
	_, err := Cut(ctx, p.client(), CutOptions{WaitWriters: time.Minute})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	p.exec(w, "COMMIT")
	waitWritable(t, p)

	// Release with an already cancelled context resumes too.
	h, err := Cut(context.Background(), p.client(), CutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Release(ctx); err != nil {
		t.Fatal(err)
	}
	waitWritable(t, p)
}

func TestReadOnlyCarriesOverToTheNextServerUntilResume(t *testing.T) {
	p := startPG(t)
	c := p.client()
	ctx := context.Background()
	h, err := Cut(ctx, c, CutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.restart() // the update: the old server stops with writes off, a new one starts
	si, err := c.WaitRestarted(ctx, h.Info.PostmasterStart, 30*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !si.ReadOnly {
		t.Fatal("the new server does not start read-only")
	}
	if _, err := p.conn("postgres").Exec(ctx, "CREATE TABLE t (id int)"); !isReadOnlyErr(err) {
		t.Fatalf("write on the new server before resume: %v", err)
	}
	was, err := Resume(ctx, c)
	if err != nil || !was {
		t.Fatalf("resume: %v (was read-only %v)", err, was)
	}
	waitWritable(t, p)
	if err := h.Release(ctx); err != nil { // the old handle still works (idempotent reset)
		t.Fatal(err)
	}
}

func TestReleaseOnAStoppedServerSaysResumeIsPending(t *testing.T) {
	p := startPG(t)
	h, err := Cut(context.Background(), p.client(), CutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ctl("-m", "fast", "stop"); err != nil {
		t.Fatal(err)
	}
	err = h.Release(context.Background())
	var rp *ResumePendingError
	if !errors.As(err, &rp) || h.Released() {
		t.Fatalf("want ResumePendingError, got %v", err)
	}
}

func TestCutWaitsForPreparedTransactions(t *testing.T) {
	p := startPG(t, "-c max_prepared_transactions=2")
	c := p.conn("postgres")
	p.exec(c, "CREATE TABLE t (id int)", "BEGIN", "INSERT INTO t VALUES (1)", "PREPARE TRANSACTION 'tm-42'")
	_, err := Cut(context.Background(), p.client(), CutOptions{WaitWriters: 300 * time.Millisecond})
	var we *WritersError
	if !errors.As(err, &we) || !strings.Contains(err.Error(), `prepared transaction "tm-42"`) {
		t.Fatalf("want the prepared transaction named, got %v", err)
	}
	p.exec(c, "COMMIT PREPARED 'tm-42'")
	waitWritable(t, p)
}

func TestResumeWhenReadyWaitsForTheNextServer(t *testing.T) {
	p := startPG(t)
	c := p.client()
	h, err := Cut(context.Background(), c, CutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ctl("-m", "fast", "stop"); err != nil { // the old task stops...
		t.Fatal(err)
	}
	go func() { // ...and the new one comes up a little later
		time.Sleep(time.Second)
		p.StartAgain()
	}()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // interrupted: the wait does not depend on ctx
	was, err := ResumeWhenReady(ctx, c, 30*time.Second)
	if err != nil || !was {
		t.Fatalf("resume: %v (was read-only %v)", err, was)
	}
	waitWritable(t, p)
	h.Release(context.Background())
}
