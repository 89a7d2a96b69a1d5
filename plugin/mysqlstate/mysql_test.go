package mysqlstate

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker-stateful/docker-stateful/plugin/mysqlstate/mysqltest"
)

func client(t *testing.T, s *mysqltest.Server, user, pw string) *Client {
	t.Helper()
	o, err := ParseURL("mysql://" + user + "@" + s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	o.Password = pw
	c, err := NewClient(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func exec(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// fixture: InnoDB with and without a primary key (with two equal rows), a
// BLOB, a JSON column, NULLs, a view, a MEMORY table.
func fixture(t *testing.T, db *sql.DB) {
	exec(t, db,
		"CREATE DATABASE app",
		"CREATE TABLE app.users (id INT PRIMARY KEY, name VARCHAR(50), bio TEXT NULL, avatar BLOB, prefs JSON)",
		"INSERT INTO app.users VALUES (1,'ann',NULL,x'00ff10','{\"a\":1}'), (2,'bob','',x'','[1,2]'), (3,'cy','x',NULL,NULL)",
		"CREATE TABLE app.log (at DATETIME(6), msg VARCHAR(100)) ENGINE=InnoDB",
		"INSERT INTO app.log VALUES ('2024-01-01 00:00:00','dup'), ('2024-01-01 00:00:00','dup'), ('2024-01-02 00:00:00','x')",
		"CREATE VIEW app.names AS SELECT name FROM app.users",
		"CREATE TABLE app.cache (k INT) ENGINE=MEMORY",
		"INSERT INTO app.cache VALUES (1)",
		"CREATE DATABASE other",
		"CREATE TABLE other.t (a INT PRIMARY KEY, b DOUBLE)",
		"INSERT INTO other.t VALUES (1, 0.1), (2, NULL)",
	)
}

func snapshot(t *testing.T, c *Client) *Snapshot {
	t.Helper()
	st, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	k, err := c.StartCut(ctx, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Release(ctx)
	snap, err := TakeSnapshot(ctx, c, k.Conn(), st, "db", &k.Info)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func TestFingerprintSurvivesRestartAndCatchesLoss(t *testing.T) {
	s := mysqltest.Start(t)
	c := client(t, s, "root", mysqltest.Password)
	fixture(t, c.DB())
	ctx := context.Background()
	snap := snapshot(t, c)
	sum := snap.Summary
	if sum.Rows != 8 || sum.TableCount != 5 {
		t.Fatalf("fingerprint: %d rows, %d tables: %+v", sum.Rows, sum.TableCount, sum.Tables)
	}
	kinds := map[string]string{}
	for _, tb := range sum.Tables {
		kinds[tb.Key()] = tb.Kind
	}
	if kinds["`app`.`names`"] != KindView || kinds["`app`.`cache`"] != KindMemory || kinds["`app`.`log`"] != KindTable {
		t.Fatalf("kinds %v", kinds)
	}

	s.Restart()
	rep, err := Check(ctx, c, snap)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.ClientWrites != 0 || !slices.Equal(rep.NotCompared, []string{"`app`.`cache`"}) {
		t.Fatalf("after a clean restart: %+v", rep)
	}

	// each change is caught, one at a time
	for _, tc := range []struct {
		do, undo, table, class string
	}{
		{"UPDATE app.users SET avatar=x'00ff11' WHERE id=1", "UPDATE app.users SET avatar=x'00ff10' WHERE id=1", "`app`.`users`", ClassChanged},
		{"UPDATE app.users SET bio=NULL WHERE id=2", "UPDATE app.users SET bio='' WHERE id=2", "`app`.`users`", ClassChanged},
		{"UPDATE app.users SET prefs='{\"a\":2}' WHERE id=1", "UPDATE app.users SET prefs='{\"a\":1}' WHERE id=1", "`app`.`users`", ClassChanged},
		// two equal rows become one (XOR alone would not see it; the count does) and
		// then a third equal row less: same count, other rows
		{"DELETE FROM app.log WHERE msg='dup' LIMIT 1", "INSERT INTO app.log VALUES ('2024-01-01 00:00:00','dup')", "`app`.`log`", ClassChanged},
		{"UPDATE app.log SET msg='dup' WHERE msg='x'", "UPDATE app.log SET msg='x' WHERE at='2024-01-02 00:00:00'", "`app`.`log`", ClassChanged},
		{"UPDATE other.t SET b=0.2 WHERE a=1", "UPDATE other.t SET b=0.1 WHERE a=1", "`other`.`t`", ClassChanged},
		{"DROP VIEW app.names", "CREATE VIEW app.names AS SELECT name FROM app.users", "`app`.`names`", ClassMissing},
		{"RENAME TABLE other.t TO other.t2", "RENAME TABLE other.t2 TO other.t", "`other`.`t`", ClassMissing},
	} {
		exec(t, c.DB(), tc.do)
		rep, err := Check(ctx, c, snap)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range rep.Diffs {
			if d.Class != ClassAdded {
				got = append(got, d.Class+" "+d.Table)
			}
		}
		if rep.OK() || !slices.Equal(got, []string{tc.class + " " + tc.table}) {
			t.Errorf("%s: diffs %v, want %s %s", tc.do, got, tc.class, tc.table)
		}
		if rep.ClientWrites == 0 {
			t.Errorf("%s: no client writes counted", tc.do)
		}
		exec(t, c.DB(), tc.undo)
		if rep, _ := Check(ctx, c, snap); !rep.OK() {
			t.Fatalf("after %s: %+v", tc.undo, rep)
		}
	}

	// a new, empty data directory: every table MISSING
	exec(t, c.DB(), "DROP DATABASE app", "DROP DATABASE other")
	rep, err = Check(ctx, c, snap)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Count(ClassMissing) != 5 || rep.OK() || rep.Unattributed() {
		t.Fatalf("empty server: %+v", rep)
	}
	var b strings.Builder
	_ = RenderText(&b, rep)
	if !strings.Contains(b.String(), "MISSING  table `app`.`users` (rows 3 -> 0)") {
		t.Errorf("report:\n%s", b.String())
	}
}

// TestCutHoldsEverySession: FLUSH TABLES WITH READ LOCK stops a SUPER
// session's writes, a second cut is refused, and a plugin session that dies
// takes the lock with it.
func TestCutHoldsEverySession(t *testing.T) {
	s := mysqltest.Start(t)
	c := client(t, s, "root", mysqltest.Password)
	other := client(t, s, "root", mysqltest.Password) // SUPER, another pool
	exec(t, c.DB(), "CREATE DATABASE w", "CREATE TABLE w.t (a INT PRIMARY KEY)")
	ctx := context.Background()
	k, err := c.StartCut(ctx, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	_, err = other.DB().ExecContext(wctx, "INSERT INTO w.t VALUES (1)")
	cancel()
	if err == nil {
		t.Fatal("a SUPER session wrote through the cut")
	}
	if _, err := other.StartCut(ctx, time.Second); !errors.Is(err, ErrBusy) {
		t.Fatalf("second cut: %v, want ErrBusy", err)
	}
	// the plugin dies: its session goes, and with it the lock
	var id int64
	if err := k.Conn().QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	killer := client(t, s, "root", mysqltest.Password)
	exec(t, killer.DB(), "KILL "+itoa(id))
	deadline := time.Now().Add(5 * time.Second)
	for {
		wctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err = other.DB().ExecContext(wctx, "INSERT INTO w.t VALUES (2)")
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("writes still held after the cut's session died: %v", err)
		}
	}
	_ = k.Release(ctx) // the session is gone: no error that matters
	k2, err := other.StartCut(ctx, time.Second)
	if err != nil {
		t.Fatalf("cut after the first one died: %v", err)
	}
	if err := k2.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := other.DB().ExecContext(ctx, "INSERT INTO w.t VALUES (3)"); err != nil {
		t.Fatalf("writes not back after Release: %v", err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestPreflightNamesMissingPrivileges(t *testing.T) {
	s := mysqltest.Start(t)
	root := client(t, s, "root", mysqltest.Password)
	exec(t, root.DB(),
		"CREATE USER reader@'127.0.0.1' IDENTIFIED BY 'r'", "GRANT SELECT ON *.* TO reader@'127.0.0.1'",
		"CREATE USER ops@'127.0.0.1' IDENTIFIED BY 'o'", "GRANT SELECT, RELOAD, LOCK TABLES, PROCESS ON *.* TO ops@'127.0.0.1'")
	ctx := context.Background()
	if err := root.Preflight(ctx); err != nil {
		t.Fatalf("root: %v", err)
	}
	if err := client(t, s, "ops", "o").Preflight(ctx); err != nil {
		t.Fatalf("ops: %v", err)
	}
	err := client(t, s, "reader", "r").Preflight(ctx)
	if err == nil || !strings.Contains(err.Error(), "lacks RELOAD, LOCK TABLES, PROCESS on *.*") {
		t.Fatalf("reader: %v", err)
	}
	if _, err := client(t, s, "root", "wrong").ServerInfo(ctx); !IsAuthError(err) {
		t.Fatalf("wrong password: %v", err)
	}
}

func TestParseURL(t *testing.T) {
	o, err := ParseURL("mysql://app@db.local:3307?tls=true")
	if err != nil || o.User != "app" || o.Addr() != "db.local:3307" || !o.TLS {
		t.Fatalf("%+v %v", o, err)
	}
	if o, _ := ParseURL("mysql://10.0.0.1"); o.User != "root" || o.Port != "3306" {
		t.Fatalf("defaults %+v", o)
	}
	for _, bad := range []string{"mysql://root:secret@h", "postgres://h", "mysql://"} {
		if _, err := ParseURL(bad); err == nil {
			t.Errorf("%s accepted", bad)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: error shows the password: %v", bad, err)
		}
	}
	var o2 Options
	_ = o2.LoadPassword(func(k string) string { return map[string]string{"MYSQL_PWD": "p"}[k] }, "")
	if o2.Password != "p" {
		t.Fatal("MYSQL_PWD not read")
	}
}
