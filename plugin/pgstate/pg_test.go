package pgstate

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// testPG is a real PostgreSQL server (initdb + pg_ctl) on 127.0.0.1 with a free port, in a
// temp dir, with password (scram) authentication over TCP.
type testPG struct {
	t        testing.TB
	bin      string // directory of initdb, pg_ctl, postgres
	Dir      string
	Data     string
	Port     int
	Password string
	cred     *syscall.Credential // run as postgres when the test runs as root
}

// pgBinDir finds initdb/pg_ctl: PATH first, then Debian's /usr/lib/postgresql/*/bin.
func pgBinDir() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), "initdb")); err == nil {
			return filepath.Dir(p), nil
		}
	}
	m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(m) == 0 {
		return "", errors.New("PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql-15 (hack/install-deps.sh does)")
	}
	sort.Slice(m, func(i, j int) bool { return verOf(m[i]) < verOf(m[j]) })
	return filepath.Dir(m[len(m)-1]), nil
}

func verOf(p string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))
	return v
}

func needPG(t testing.TB) string {
	dir, err := pgBinDir()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v (CI=true)", err)
		}
		t.Skip(err.Error())
	}
	return dir
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startPG initdb's and starts a server; it is stopped and removed at test cleanup.
func startPG(t testing.TB, extra ...string) *testPG {
	t.Helper()
	p := &testPG{t: t, bin: needPG(t), Port: freePort(t), Password: "s3cret-" + strconv.Itoa(os.Getpid())}
	dir, err := os.MkdirTemp("", "pgstate-test-")
	if err != nil {
		t.Fatal(err)
	}
	p.Dir, p.Data = dir, filepath.Join(dir, "data")
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 { // initdb and postgres refuse to run as root
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("running as root and there is no postgres user to run the server as (apt-get install postgresql-15 creates it)")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte(p.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if p.cred != nil {
		os.Chown(pw, int(p.cred.Uid), int(p.cred.Gid))
	}
	p.run("initdb", "-D", p.Data, "-U", "postgres", "-E", "UTF8", "--no-locale", "-N",
		"--auth-local=trust", "--auth-host=scram-sha-256", "--pwfile="+pw)
	os.Remove(pw)
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 %s", p.Port, dir, strings.Join(extra, " "))
	p.run("pg_ctl", "-D", p.Data, "-l", filepath.Join(dir, "log"), "-o", opts, "-w", "-t", "60", "start")
	t.Cleanup(func() { p.ctl("-m", "immediate", "stop") })
	return p
}

func (p *testPG) cmd(name string, args ...string) *exec.Cmd {
	c := exec.Command(filepath.Join(p.bin, name), args...)
	c.Dir = p.Dir
	c.Env = append(os.Environ(), "LC_ALL=C")
	if p.cred != nil {
		c.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	}
	return c
}

func (p *testPG) run(name string, args ...string) {
	p.t.Helper()
	out, err := p.cmd(name, args...).CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(p.Dir, "log"))
		p.t.Fatalf("%s %s: %v\n%s\n%s", name, strings.Join(args, " "), err, out, log)
	}
}

func (p *testPG) ctl(args ...string) error {
	return p.cmd("pg_ctl", append([]string{"-D", p.Data, "-w", "-t", "60"}, args...)...).Run()
}

// restart is a fast shutdown (as SIGINT from docker stop) and a new postmaster.
func (p *testPG) restart() {
	p.t.Helper()
	p.run("pg_ctl", "-D", p.Data, "-l", filepath.Join(p.Dir, "log"), "-m", "fast", "-w", "-t", "60", "restart")
}

// URL is the server's postgres:// URL for user.
func (p *testPG) URL(user, db string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s", user, p.Port, db)
}

// client returns a pgstate Client as postgres with the password.
func (p *testPG) client() *Client {
	p.t.Helper()
	return p.clientAs("postgres", p.Password)
}

func (p *testPG) clientAs(user, password string) *Client {
	p.t.Helper()
	o, err := ParseURL(p.URL(user, "postgres") + "?sslmode=disable")
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
	c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d/%s?sslmode=disable", p.Password, p.Port, db))
	if err != nil {
		p.t.Fatalf("connect %s: %v", db, err)
	}
	p.t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// exec runs SQL statements, failing the test on error.
func (p *testPG) exec(c *pgx.Conn, sql ...string) {
	p.t.Helper()
	for _, s := range sql {
		if _, err := c.Exec(context.Background(), s); err != nil {
			p.t.Fatalf("%s: %v", s, err)
		}
	}
}

// isReadOnlyErr reports SQLSTATE 25006 (cannot execute ... in a read-only transaction).
func isReadOnlyErr(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "25006"
}
