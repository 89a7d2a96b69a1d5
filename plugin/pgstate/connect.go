package pgstate

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/docker-stateful/docker-stateful/plugin/connerr"
	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Secret is the password type shared with redisstate: it prints and encodes as "***".
type Secret = redisstate.Secret

// DefaultPort is PostgreSQL's port.
const DefaultPort = "5432"

// DefaultConnectTimeout bounds one connection attempt.
const DefaultConnectTimeout = 5 * time.Second

// Options says how to reach one PostgreSQL server. Build it with ParseURL, then
// LoadPassword. String() and JSON never contain the password.
type Options struct {
	Host     string `json:"host"`
	Port     string `json:"port"`
	User     string `json:"user"`
	Database string `json:"database"` // the database to connect to first ("" = the user's name)
	// Params are the URL's query parameters (sslmode, sslrootcert, ...), passed to the driver.
	Params url.Values `json:"params,omitempty"`
	// Password from PasswordFile or PGPASSWORD; "" lets the driver read a .pgpass-style
	// file (PGPASSFILE or ~/.pgpass, or passfile= in the URL).
	Password       Secret        `json:"password,omitempty"`
	ConnectTimeout time.Duration `json:"connect_timeout"`
}

// Addr is host:port.
func (o Options) Addr() string { return net.JoinHostPort(o.Host, o.Port) }

// String renders the options as a URL without the password.
func (o Options) String() string {
	u := url.URL{Scheme: "postgres", Host: o.Addr(), Path: "/" + o.Database}
	if o.User != "" {
		u.User = url.User(o.User)
	}
	if o.Password != "" {
		u.User = url.UserPassword(o.User, "***")
	}
	u.RawQuery = o.Params.Encode()
	s := u.String()
	return strings.Replace(s, "%2A%2A%2A", "***", 1)
}

// GoString redacts as well (%#v).
func (o Options) GoString() string { return "pgstate.Options(" + o.String() + ")" }

// ParseURL parses postgres://[user@]host[:port][/db][?sslmode=...] (or postgresql://). A
// password in the URL is refused: it would sit in argv and shell history.
func ParseURL(raw string) (Options, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Options{}, fmt.Errorf("invalid PostgreSQL URL: %v", err)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return Options{}, fmt.Errorf("invalid PostgreSQL URL: scheme must be postgres:// or postgresql://, got %q", u.Scheme)
	}
	o := Options{Port: u.Port(), Host: u.Hostname(), Params: u.Query()}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			return Options{}, errors.New("invalid PostgreSQL URL: do not put the password in the URL; set PGPASSWORD, use a password file or a .pgpass file")
		}
		o.User = u.User.Username()
	}
	if o.Params.Has("password") {
		return Options{}, errors.New("invalid PostgreSQL URL: do not put the password in the URL; set PGPASSWORD, use a password file or a .pgpass file")
	}
	// The address and the user are the URL's own: a query parameter must not redirect them.
	for _, k := range []string{"host", "hostaddr", "port", "user", "dbname", "database", "service"} {
		if o.Params.Has(k) {
			return Options{}, fmt.Errorf("invalid PostgreSQL URL: give %s in the URL itself (postgres://user@host:port/db), not as ?%s=", k, k)
		}
	}
	if o.Host == "" {
		return Options{}, errors.New("invalid PostgreSQL URL: no host")
	}
	if strings.Contains(o.Host, ",") || strings.Contains(u.Host, ",") {
		return Options{}, errors.New("invalid PostgreSQL URL: one host only")
	}
	if o.Port == "" {
		o.Port = DefaultPort
	}
	if o.User == "" {
		o.User = "postgres"
	}
	o.Database = strings.TrimPrefix(u.Path, "/")
	if strings.Contains(o.Database, "/") {
		return Options{}, fmt.Errorf("invalid PostgreSQL URL: bad database name %q", o.Database)
	}
	if o.Database == "" {
		o.Database = o.User
	}
	if m := o.Params.Get("sslmode"); m != "" {
		switch m {
		case "disable", "allow", "prefer", "require", "verify-ca", "verify-full":
		default:
			return Options{}, fmt.Errorf("invalid PostgreSQL URL: sslmode must be disable, allow, prefer, require, verify-ca or verify-full, got %q", m)
		}
	}
	return o, nil
}

// LoadPassword sets o.Password from passwordFile when given (a Docker secret or a file with
// just the password; one trailing newline is stripped), else from PGPASSWORD looked up with
// getenv (os.Getenv when nil). With neither, the driver reads a .pgpass-style file.
func (o *Options) LoadPassword(getenv func(string) string, passwordFile string) error {
	if passwordFile != "" {
		b, err := os.ReadFile(passwordFile)
		if err != nil {
			return fmt.Errorf("cannot read PostgreSQL password file: %w", err)
		}
		o.Password = Secret(strings.TrimRight(string(b), "\r\n"))
		return nil
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	if p := getenv("PGPASSWORD"); p != "" {
		o.Password = Secret(p)
	}
	return nil
}

// Client reaches one server; it opens a connection per database when needed.
type Client struct {
	opt  Options
	base *pgx.ConnConfig
}

// canonicalParams make a row's text form independent of the client and the server's
// defaults: the row digests hash row::text.
var canonicalParams = map[string]string{
	"DateStyle":          "ISO, YMD",
	"TimeZone":           "UTC",
	"IntervalStyle":      "postgres",
	"extra_float_digits": "3",
	"bytea_output":       "hex",
	"lc_monetary":        "C",
	// regclass values and index/constraint definitions qualify names by the search path
	"search_path": "pg_catalog",
	// a query that row-level security would filter fails instead: hidden rows never
	// fingerprint as absent ones (superusers and BYPASSRLS roles are not filtered)
	"row_security":     "off",
	"application_name": "docker-stateful",
}

// NewClient validates the options; it does no I/O.
func NewClient(o Options) (*Client, error) {
	if o.Host == "" {
		return nil, errors.New("no PostgreSQL host")
	}
	if o.Port == "" {
		o.Port = DefaultPort
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	u := url.URL{Scheme: "postgres", Host: o.Addr(), Path: "/" + o.Database, User: url.User(o.User)}
	q := url.Values{}
	for k, v := range o.Params {
		q[k] = v
	}
	q.Set("connect_timeout", fmt.Sprint(max(1, int(o.ConnectTimeout.Round(time.Second)/time.Second)))) // 0 would mean no limit
	u.RawQuery = q.Encode()
	cfg, err := pgx.ParseConfig(u.String())
	if err != nil {
		return nil, fmt.Errorf("invalid PostgreSQL options: %v", err)
	}
	if o.Password != "" {
		cfg.Password = o.Password.Reveal()
	}
	for k, v := range canonicalParams {
		cfg.RuntimeParams[k] = v
	}
	return &Client{opt: o, base: cfg}, nil
}

// Options returns the options (password redacted when printed).
func (c *Client) Options() Options { return c.opt }

// Addr is host:port of the server.
func (c *Client) Addr() string { return c.opt.Addr() }

// Connect opens a connection to database db ("" = the options' database). Errors are
// one-line ConnectErrors where the cause is the connection or the password.
func (c *Client) Connect(ctx context.Context, db string) (*pgx.Conn, error) {
	cfg := c.base.Copy()
	if db != "" {
		cfg.Database = db
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, c.describe(err)
	}
	return conn, nil
}

// ConnectError is a one-line, user-facing connection/auth failure.
type ConnectError = connerr.Error // Kind: "unreachable", "starting", "auth", "tls", "other"

// IsAuthError reports whether err is a refused or missing password / unknown role.
func IsAuthError(err error) bool {
	var ce *ConnectError
	return errors.As(err, &ce) && ce.Kind == "auth"
}

// IsUnreachable reports whether err means the server could not be reached or is not
// accepting connections yet (starting up, shutting down, in crash recovery).
func IsUnreachable(err error) bool {
	var ce *ConnectError
	return errors.As(err, &ce) && (ce.Kind == "unreachable" || ce.Kind == "starting")
}

func (c *Client) describe(err error) error { return describeErr(c.opt.Addr(), err) }

func describeErr(addr string, err error) error {
	if err == nil {
		return nil
	}
	var ce *ConnectError
	if errors.As(err, &ce) {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "28P01", "28000":
			return &ConnectError{Addr: addr, Kind: "auth", Err: err,
				Msg: fmt.Sprintf("PostgreSQL at %s refused the login: %s (set PGPASSWORD, a password file or a .pgpass entry)", addr, pe.Message)}
		case "57P03", "57P01", "57P02", "57P05":
			return &ConnectError{Addr: addr, Kind: "starting", Err: err,
				Msg: fmt.Sprintf("PostgreSQL at %s is not accepting connections: %s", addr, pe.Message)}
		case "3D000":
			return &ConnectError{Addr: addr, Kind: "other", Err: err,
				Msg: fmt.Sprintf("PostgreSQL at %s: %s", addr, pe.Message)}
		}
		return err
	}
	msg := err.Error()
	if strings.Contains(msg, "tls:") || strings.Contains(msg, "x509:") || strings.Contains(msg, "server refused TLS") {
		return &ConnectError{Addr: addr, Kind: "tls", Err: err,
			Msg: fmt.Sprintf("TLS with PostgreSQL at %s failed: %s", addr, connerr.LastPart(msg))}
	}
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		return &ConnectError{Addr: addr, Kind: "tls", Err: err,
			Msg: fmt.Sprintf("TLS with PostgreSQL at %s failed: %s", addr, connerr.LastPart(msg))}
	}
	reason := connerr.Unreachable(err)
	switch {
	case reason != "":
	case errors.Is(err, context.DeadlineExceeded):
		reason = "timed out"
	case strings.Contains(msg, "failed to connect"):
		reason = connerr.LastPart(msg)
	}
	if reason != "" {
		return &ConnectError{Addr: addr, Kind: "unreachable", Err: err,
			Msg: fmt.Sprintf("cannot reach PostgreSQL at %s: %s", addr, reason)}
	}
	return err
}

// PasswordEnv is the variable LoadPassword reads, as psql does.
const PasswordEnv = "PGPASSWORD"

// TakeEnvPassword removes PGPASSWORD from the process environment, so that no process the
// plugin starts inherits it, and returns a getenv that still answers it (and asks next, or
// os.Getenv when nil, for everything else). Call it once, at start.
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
