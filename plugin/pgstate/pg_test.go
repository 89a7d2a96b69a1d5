package pgstate

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/docker-stateful/docker-stateful/plugin/pgstate/pgtest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// testPG is a real PostgreSQL server for one test (pgtest.Server plus test helpers).
type testPG struct {
	*pgtest.Server
	t testing.TB
}

func startPG(t testing.TB, extra ...string) *testPG {
	t.Helper()
	pg := &testPG{Server: pgtest.StartT(t, extra...), t: t}
	// a cut the test leaves unresumed (its server stopped) would keep a watchdog waiting
	t.Cleanup(disarmWatchdogs)
	return pg
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (p *testPG) ctl(args ...string) error { return p.Ctl(args...) }

func (p *testPG) restart() {
	p.t.Helper()
	if err := p.Restart(); err != nil {
		p.t.Fatal(err)
	}
}

// client returns a pgstate Client as postgres with the password.
func (p *testPG) client() *Client {
	p.t.Helper()
	return p.clientAs("postgres", p.Password)
}

func (p *testPG) clientAs(user, password string) *Client {
	p.t.Helper()
	o, err := ParseURL(p.URL(user, "postgres"))
	if err != nil {
		p.t.Fatal(err)
	}
	o.Password = Secret(password)
	c, err := NewClient(o)
	if err != nil {
		p.t.Fatal(err)
	}
	return c
}

// conn is a plain pgx connection for the test's own statements.
func (p *testPG) conn(db string) *pgx.Conn {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := p.Connect(ctx, db)
	if err != nil {
		p.t.Fatalf("connect %s: %v", db, err)
	}
	p.t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// exec runs SQL statements, failing the test on error.
func (p *testPG) exec(c *pgx.Conn, sql ...string) {
	p.t.Helper()
	if err := pgtest.Exec(context.Background(), c, sql...); err != nil {
		p.t.Fatal(err)
	}
}

// isReadOnlyErr reports SQLSTATE 25006 (cannot execute ... in a read-only transaction).
func isReadOnlyErr(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "25006"
}
