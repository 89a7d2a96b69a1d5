// Package pgtest starts a real, throwaway PostgreSQL server (initdb + pg_ctl on 127.0.0.1,
// a free port, a temp dir, password authentication) and holds the test dataset, for
// pgstate's tests, the e2e tests and the benchmark.
package pgtest

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
)

// Server is a running local PostgreSQL.
type Server struct {
	Bin      string // directory of initdb, pg_ctl, postgres
	Dir      string // temp dir: data/, log, the socket
	Data     string
	Port     int
	Password string // of the superuser "postgres"
	opts     string // postgres options of pg_ctl start -o
	cred     *syscall.Credential
}

// BinDir finds initdb/pg_ctl: PATH first, then Debian's /usr/lib/postgresql/<newest>/bin.
func BinDir() (string, error) {
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
	ver := func(p string) int { v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p)))); return v }
	sort.Slice(m, func(i, j int) bool { return ver(m[i]) < ver(m[j]) })
	return filepath.Dir(m[len(m)-1]), nil
}

// FreePort returns a free TCP port on 127.0.0.1.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start initdb's and starts a server with extra postgres options (e.g. "-c fsync=off").
// As root it runs the server as the postgres user (initdb refuses root). Stop removes it.
func Start(extra ...string) (*Server, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	s := &Server{Bin: bin, Port: port, Password: fmt.Sprintf("pw-%d-%d", os.Getpid(), time.Now().UnixNano()%1e6)}
	if s.Dir, err = os.MkdirTemp("", "pgtest-"); err != nil {
		return nil, err
	}
	s.Data = filepath.Join(s.Dir, "data")
	fail := func(err error) (*Server, error) { os.RemoveAll(s.Dir); return nil, err }
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fail(errors.New("running as root and there is no postgres user to run the server as (apt-get install postgresql-15 creates it)"))
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(s.Dir, uid, gid); err != nil {
			return fail(err)
		}
	}
	pw := filepath.Join(s.Dir, "pw")
	if err := os.WriteFile(pw, []byte(s.Password+"\n"), 0o600); err != nil {
		return fail(err)
	}
	if s.cred != nil {
		os.Chown(pw, int(s.cred.Uid), int(s.cred.Gid))
	}
	err = s.run("initdb", "-D", s.Data, "-U", "postgres", "-E", "UTF8", "--no-locale", "-N",
		"--auth-local=trust", "--auth-host=scram-sha-256", "--pwfile="+pw)
	os.Remove(pw)
	if err != nil {
		return fail(err)
	}
	s.opts = fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 %s", s.Port, s.Dir, strings.Join(extra, " "))
	if err := s.StartAgain(); err != nil {
		return fail(err)
	}
	return s, nil
}

// StartAgain starts the server (stopped with Ctl("-m", "fast", "stop")) with its options.
func (s *Server) StartAgain() error {
	return s.run("pg_ctl", "-D", s.Data, "-l", filepath.Join(s.Dir, "log"), "-o", s.opts, "-w", "-t", "60", "start")
}

// StartT is Start for a test: it skips when the binaries are missing (fails when
// CI=true) and stops the server at cleanup.
func StartT(t testing.TB, extra ...string) *Server {
	t.Helper()
	if _, err := BinDir(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v (CI=true)", err)
		}
		t.Skip(err.Error())
	}
	s, err := Start(extra...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Stop stops the server at once and removes its directory.
func (s *Server) Stop() {
	_ = s.Ctl("-m", "immediate", "stop")
	os.RemoveAll(s.Dir)
}

func (s *Server) cmd(name string, args ...string) *exec.Cmd {
	c := exec.Command(filepath.Join(s.Bin, name), args...)
	c.Dir = s.Dir
	c.Env = append(os.Environ(), "LC_ALL=C")
	if s.cred != nil {
		c.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return c
}

func (s *Server) run(name string, args ...string) error {
	out, err := s.cmd(name, args...).CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(s.Dir, "log"))
		return fmt.Errorf("%s %s: %v\n%s\n%s", name, strings.Join(args, " "), err, out, log)
	}
	return nil
}

// Ctl runs pg_ctl -D <data> -w with args.
func (s *Server) Ctl(args ...string) error {
	return s.run("pg_ctl", append([]string{"-D", s.Data, "-w", "-t", "60"}, args...)...)
}

// Restart is a fast shutdown (what SIGINT from docker stop does) and a new postmaster.
func (s *Server) Restart() error {
	return s.run("pg_ctl", "-D", s.Data, "-l", filepath.Join(s.Dir, "log"), "-m", "fast", "-w", "-t", "60", "restart")
}

// URL is the server's postgres:// URL for user and db (no password, sslmode=disable).
func (s *Server) URL(user, db string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", user, s.Port, db)
}

// Connect opens a plain pgx connection as postgres.
func (s *Server) Connect(ctx context.Context, db string) (*pgx.Conn, error) {
	return Connect(ctx, "127.0.0.1", s.Port, "postgres", s.Password, db)
}

// Connect opens a pgx connection with a password (tests only: the URL holds it).
func Connect(ctx context.Context, host string, port int, user, password, db string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable", user, net.JoinHostPort(host, strconv.Itoa(port)), db))
	if err != nil {
		return nil, err
	}
	cfg.Password = password
	return pgx.ConnectConfig(ctx, cfg)
}

// Exec runs statements in order and stops at the first error.
func Exec(ctx context.Context, c *pgx.Conn, sql ...string) error {
	for _, s := range sql {
		if _, err := c.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", strings.SplitN(s, "\n", 2)[0], err)
		}
	}
	return nil
}

// Dataset is the schema: 5 tables — users (1000 rows, an enum, timestamptz),
// events (bigRows rows, identity, float, numeric, a foreign key and an index), docs (JSONB),
// blobs (bytea), log (no primary key, with 50 identical rows) — sequences, an enum type
// and a view. Rows: 1000 + bigRows + 500 + 300 + 250.
func Dataset(bigRows int) []string {
	return []string{
		"CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')",
		"CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL UNIQUE, mood mood, created timestamptz DEFAULT '2026-01-02 03:04:05+02')",
		"CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, user_id int REFERENCES users(id), at timestamptz, score double precision, amount numeric(12,3))",
		"CREATE INDEX events_user ON events (user_id, at)",
		"CREATE TABLE docs (id int PRIMARY KEY, body jsonb NOT NULL)",
		"CREATE TABLE blobs (id int PRIMARY KEY, data bytea)",
		"CREATE TABLE log (line text, n int)",
		"CREATE SEQUENCE tickets START 1000",
		"CREATE VIEW happy_users AS SELECT id, name FROM users WHERE mood = 'happy'",
		"INSERT INTO users (name, mood) SELECT 'user' || i, (ARRAY['sad','ok','happy'])[1 + i % 3]::mood FROM generate_series(1, 1000) i",
		fmt.Sprintf(`INSERT INTO events (user_id, at, score, amount) SELECT 1 + i %% 1000, '2026-01-01'::timestamptz + i * interval '1 second',
			i / 7.0, i * 1.001 FROM generate_series(1, %d) i`, bigRows),
		`INSERT INTO docs SELECT i, jsonb_build_object('i', i, 'tags', jsonb_build_array('a', i % 5), 'nested', jsonb_build_object('x', i * 0.5)) FROM generate_series(1, 500) i`,
		"INSERT INTO blobs SELECT i, decode(md5(i::text) || '00ff', 'hex') FROM generate_series(1, 300) i",
		"INSERT INTO log SELECT 'same line', 1 FROM generate_series(1, 50)",
		"INSERT INTO log SELECT 'line ' || i, i FROM generate_series(1, 200) i",
		"SELECT nextval('tickets'), nextval('tickets')",
	}
}

// DatasetRows is the number of rows Dataset(bigRows) inserts.
func DatasetRows(bigRows int) int64 { return int64(1000 + bigRows + 500 + 300 + 250) }
