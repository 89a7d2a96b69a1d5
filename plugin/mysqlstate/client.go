package mysqlstate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// The driver logs lost connections on its own (a server that restarts under
// the check): the errors it returns say the same, once.
func init() { _ = mysql.SetLogger(log.New(io.Discard, "", 0)) }

// Engine is the "engine" of MariaDB/MySQL snapshots and documents.
const Engine = "mariadb"

// Options say how to reach the server.
type Options struct {
	Host, Port string
	User       string // "root" when empty, as the mysql client
	Password   string
	TLS        bool // tls=true in the URL
	Timeout    time.Duration
}

// Addr is host:port.
func (o Options) Addr() string { return net.JoinHostPort(o.Host, o.Port) }

// ParseURL reads mysql://[user[:password]@]host[:port][?tls=true]. A
// password in the URL is refused: it would be in argv (MYSQL_PWD or
// --mysql-password-file carry it).
func ParseURL(raw string) (Options, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Options{}, fmt.Errorf("%q is not a URL: %v", raw, err)
	}
	if u.Scheme != "mysql" && u.Scheme != "mariadb" {
		return Options{}, fmt.Errorf("%q: the scheme must be mysql:// (mysql://user@host:port)", raw)
	}
	if u.Hostname() == "" {
		return Options{}, fmt.Errorf("%q has no host (mysql://user@host:port)", raw)
	}
	o := Options{Host: u.Hostname(), Port: u.Port(), User: "root"}
	if o.Port == "" {
		o.Port = "3306"
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			return Options{}, fmt.Errorf("%q carries a password: put it in MYSQL_PWD or a file given with --mysql-password-file, not on the command line", u.Redacted())
		}
		if n := u.User.Username(); n != "" {
			o.User = n
		}
	}
	if t := u.Query().Get("tls"); t != "" {
		o.TLS = t == "true" || t == "1" || t == "required"
	}
	return o, nil
}

// LoadPassword sets the password: the file's first line when file is given,
// else MYSQL_PWD from getenv.
func (o *Options) LoadPassword(getenv func(string) string, file string) error {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		o.Password, _, _ = strings.Cut(string(b), "\n")
		o.Password = strings.TrimRight(o.Password, "\r")
		return nil
	}
	if getenv != nil {
		o.Password = getenv("MYSQL_PWD")
	}
	return nil
}

// Client is one server.
type Client struct {
	opt Options
	db  *sql.DB
}

// NewClient opens a pool to the server (no I/O yet).
func NewClient(o Options) (*Client, error) {
	if o.User == "" {
		o.User = "root"
	}
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd = o.User, o.Password
	cfg.Net, cfg.Addr = "tcp", o.Addr()
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = o.Timeout, 0, 0
	cfg.AllowNativePasswords = true
	cfg.ParseTime = true
	if o.TLS {
		cfg.TLSConfig = "skip-verify"
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(4)
	db.SetConnMaxIdleTime(30 * time.Second)
	return &Client{opt: o, db: db}, nil
}

// Addr is the server's host:port.
func (c *Client) Addr() string { return c.opt.Addr() }

// DB is the pool.
func (c *Client) DB() *sql.DB { return c.db }

// Close closes the pool.
func (c *Client) Close() error { return c.db.Close() }

// ServerInfo is who answers.
type ServerInfo struct {
	Version string    `json:"version"`
	Started time.Time `json:"started"` // now - Uptime, to the second
	ID      string    `json:"server_id,omitempty"`
}

// RunID names the server process (its start).
func (s *ServerInfo) RunID() string { return s.Started.UTC().Format(time.RFC3339) }

// ServerInfo asks the server its version and start time.
func (c *Client) ServerInfo(ctx context.Context) (*ServerInfo, error) {
	var si ServerInfo
	var up int64
	var now time.Time
	if err := c.db.QueryRowContext(ctx, "SELECT VERSION(), NOW(6), (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='UPTIME')").Scan(&si.Version, &now, &up); err != nil {
		return nil, err
	}
	si.Started = time.Now().Add(-time.Duration(up) * time.Second).Truncate(time.Second)
	return &si, nil
}

// IsAuthError: the server refused the user or password.
func IsAuthError(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1045 || me.Number == 1698)
}

// WaitStarted waits until a server started after older (zero: any) answers,
// up to timeout; progress is told what stands in the way.
func (c *Client) WaitStarted(ctx context.Context, older time.Time, timeout time.Duration, progress func(string)) (*ServerInfo, error) {
	deadline := time.Now().Add(timeout)
	for {
		qctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		si, err := c.ServerInfo(qctx)
		cancel()
		switch {
		case err == nil && (older.IsZero() || si.Started.After(older.Add(time.Second))):
			return si, nil
		case err != nil && IsAuthError(err):
			return nil, err
		case err == nil:
			err = fmt.Errorf("the server started at %s still answers", si.RunID())
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no new MariaDB at %s within %s: %w", c.Addr(), timeout, err)
		}
		if progress != nil {
			progress(err.Error())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// PasswordEnv is the mysql client's password variable.
const PasswordEnv = "MYSQL_PWD"

// TakeEnvPassword takes MYSQL_PWD out of the process environment (no child
// inherits it) and returns a getenv that still answers it, then asks next.
func TakeEnvPassword(next func(string) string) func(string) string {
	if next == nil {
		next = os.Getenv
	}
	pw, had := os.LookupEnv(PasswordEnv)
	if had {
		os.Unsetenv(PasswordEnv)
	}
	return func(k string) string {
		if k == PasswordEnv && had {
			return pw
		}
		return next(k)
	}
}
