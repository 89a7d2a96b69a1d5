//go:build e2e

package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// mdbOpen opens addr:port as root once the server answers (up to 2 minutes:
// the first start initializes the data directory).
func mdbOpen(t *testing.T, addr string, port int, password string) *sql.DB {
	t.Helper()
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr = "root", password, "tcp", fmt.Sprintf("%s:%d", addr, port)
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = 3*time.Second, 10*time.Second, 10*time.Second
	cfg.MultiStatements = true
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	t.Cleanup(func() { db.Close() })
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err = db.PingContext(ctx)
		cancel()
		if err == nil {
			return db
		}
		if time.Now().After(deadline) {
			t.Fatalf("MariaDB at %s does not answer: %v", cfg.Addr, err)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// mdbWriter inserts ids into app.writes, one autocommit statement each,
// reconnecting on errors, and remembers every id the server acknowledged.
type mdbWriter struct {
	db        *sql.DB
	mu        sync.Mutex
	committed []int64
	failed    atomic.Int64
	lastErr   atomic.Value
	stop      chan struct{}
	done      chan struct{}
}

func startMDBWriter(db *sql.DB) *mdbWriter {
	w := &mdbWriter{db: db, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		next := int64(1)
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			_, err := w.db.ExecContext(ctx, "INSERT INTO app.writes (id) VALUES (?)", next)
			cancel()
			var me *mysql.MySQLError
			switch {
			case err == nil, errors.As(err, &me) && me.Number == 1062: // acknowledged (now or before a lost answer)
				w.mu.Lock()
				w.committed = append(w.committed, next)
				w.mu.Unlock()
				next++
			default:
				w.failed.Add(1)
				w.lastErr.Store(err.Error())
			}
		}
	}()
	return w
}

func (w *mdbWriter) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.committed)
}

func (w *mdbWriter) Stop() []int64 {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]int64(nil), w.committed...)
}

type mdbUpdateResult struct {
	Engine   string `json:"engine"`
	Snapshot string `json:"snapshot"`
	Report   *struct {
		BeforeTables int64 `json:"before_tables"`
		BeforeRows   int64 `json:"before_rows"`
		ClientWrites int64 `json:"client_writes"`
		Diffs        []struct {
			Table, Class string
		} `json:"diffs"`
	} `json:"report"`
	RolledBack bool   `json:"rolled_back"`
	Verdict    string `json:"verdict"`
	Phases     []struct {
		Name string `json:"name"`
	} `json:"phases"`
}

// TestMariaDBUpdateVerify is issue 23's done-when on the harness: a MariaDB
// service made by docker stateful create, with InnoDB tables with and without
// a primary key, a BLOB, a JSON column and a view, is updated with --verify
// (verified); snapshot and verify agree; a writer through an update loses no
// acknowledged write; a forced update onto the image's anonymous volume is
// caught (tables MISSING), rolled back, and the rows are back.
func TestMariaDBUpdateVerify(t *testing.T) {
	C.RequirePlugin(t)
	C.RequireMariaDBImage(t)
	const password = "e2e-mariadb-secret"
	t.Setenv("MYSQL_PWD", password) // the plugin's only source of the password
	svc, port := C.CreateMariaDB(t, []string{"stateful", "create"}, password)
	task := C.WaitRunning(t, svc)
	addr := task.Node.Addr
	db := mdbOpen(t, addr, port, password)
	db.SetMaxOpenConns(1)
	for _, s := range []string{
		"SET SESSION max_recursive_iterations = 100000",
		"CREATE DATABASE app",
		"CREATE TABLE app.users (id INT PRIMARY KEY, name VARCHAR(50), avatar BLOB, prefs JSON) ENGINE=InnoDB",
		"INSERT INTO app.users WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM s WHERE n < 20000) SELECT n, CONCAT('user', n), UNHEX(MD5(n)), JSON_OBJECT('n', n, 'odd', n % 2) FROM s",
		"CREATE TABLE app.log (at DATETIME, msg VARCHAR(100)) ENGINE=InnoDB",
		"INSERT INTO app.log VALUES ('2024-01-01 00:00:00', 'dup'), ('2024-01-01 00:00:00', 'dup'), ('2024-01-02 00:00:00', 'other')",
		"CREATE VIEW app.odd_users AS SELECT id, name FROM app.users WHERE id % 2 = 1",
		"CREATE TABLE app.writes (id BIGINT PRIMARY KEY) ENGINE=InnoDB",
	} {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	if got := updInspect(t, svc, "{{range .Spec.TaskTemplate.ContainerSpec.Mounts}}{{.Source}}={{.Target}} {{end}}"); !strings.Contains(got, "=/var/lib/mysql") {
		t.Fatalf("create did not put a volume on /var/lib/mysql: %q", got)
	}

	// 1. update --verify, nobody writing: verified
	r := vfyStateful(t, "update", "--verify", "--format", "json", "--limit-memory", "400M", svc)
	var res mdbUpdateResult
	if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil {
		t.Fatalf("update --verify --format json: %v\n%s", err, r.Stdout)
	}
	if r.ExitCode() != 0 || res.Verdict != "verified" || res.Engine != "mariadb" || res.Report == nil || res.Report.BeforeRows != 20003 || len(res.Phases) == 0 {
		t.Fatalf("update --verify: exit %d, %+v", r.ExitCode(), res)
	}

	// 2. snapshot and verify
	if r := vfyStateful(t, "snapshot", svc); r.ExitCode() != 0 {
		t.Fatalf("snapshot: exit %d", r.ExitCode())
	}
	if r := vfyStateful(t, "verify", svc); r.ExitCode() != 0 || !strings.Contains(r.Stdout, "intact") {
		t.Fatalf("verify: exit %d", r.ExitCode())
	}

	// 3. a writer through an update: no acknowledged write lost
	db = mdbOpen(t, addr, port, password)
	w := startMDBWriter(db)
	time.Sleep(time.Second)
	r = vfyStateful(t, "update", "--verify", "--limit-memory", "410M", svc)
	// verified, or (clients wrote to the new server before the check held
	// them) unverified without a rollback; never a loss
	if out := r.Stdout + r.Stderr; r.ExitCode() != 0 && !strings.Contains(out, "could not be verified exactly") {
		t.Errorf("update --verify with a writer: exit %d", r.ExitCode())
	}
	n0 := w.count()
	for deadline := time.Now().Add(60 * time.Second); w.count() <= n0+5 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	committed := w.Stop()
	var present int64
	if err := db.QueryRow("SELECT COUNT(*) FROM app.writes").Scan(&present); err != nil {
		t.Fatal(err)
	}
	t.Logf("writer: %d acknowledged, %d in the table, %d failed attempts (last: %v)", len(committed), present, w.failed.Load(), w.lastErr.Load())
	if len(committed) < 10 || present < int64(len(committed)) {
		t.Fatalf("the writer had %d writes acknowledged, %d are in the table", len(committed), present)
	}

	// 4. a forced update onto the image's anonymous volume: MISSING, rolled back, rows back
	r = vfyStateful(t, "update", "--verify", "--force", "--mount-rm", "/var/lib/mysql", svc)
	out := r.Stdout + r.Stderr
	if r.ExitCode() != 1 {
		t.Fatalf("forced update onto an empty volume: exit %d, want 1", r.ExitCode())
	}
	for _, want := range []string{"MISSING", "`app`.`users`", "rolling service " + svc + " back", "After the rollback:", "The rollback restored the data"} {
		if !strings.Contains(out, want) {
			t.Errorf("forced update: output lacks %q", want)
		}
	}
	db = mdbOpen(t, C.WaitRunning(t, svc).Node.Addr, port, password)
	var users int64
	if err := db.QueryRow("SELECT COUNT(*) FROM app.users").Scan(&users); err != nil || users != 20000 {
		t.Fatalf("after the rollback: %d users (%v), want 20000", users, err)
	}
}
