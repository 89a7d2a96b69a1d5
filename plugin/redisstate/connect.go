package redisstate

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/docker-stateful/docker-stateful/plugin/connerr"
)

// Secret holds a password. Every way of printing or encoding it yields "***",
// so an Options value can be logged or put into JSON output safely.
type Secret string

func (s Secret) String() string   { return redact(string(s)) }
func (s Secret) GoString() string { return strconv.Quote(redact(string(s))) }

// Format makes fmt verbs (%v, %s, %q, %#v, %+v) redact too.
func (s Secret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		fmt.Fprint(f, strconv.Quote(redact(string(s))))
	default:
		fmt.Fprint(f, redact(string(s)))
	}
}

// MarshalJSON never emits the password.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(redact(string(s))) }

// MarshalText never emits the password.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redact(string(s))), nil }

// Reveal returns the password itself; only the connection code calls it.
func (s Secret) Reveal() string { return string(s) }

func redact(s string) string {
	if s == "" {
		return ""
	}
	return "***"
}

// Defaults for Options.
const (
	DefaultDialTimeout = 5 * time.Second
	// DefaultReadTimeout is longer than go-redis' 5 s: SAVE of a large dataset and INFO
	// while loading can take seconds.
	DefaultReadTimeout = 60 * time.Second
)

// Options says how to reach one Redis server. Build it with ParseURL or by setting
// Addr, then LoadPassword. String() and JSON never contain the password.
type Options struct {
	Addr     string `json:"addr"`               // host:port
	Username string `json:"username,omitempty"` // ACL user, "" = default
	Password Secret `json:"password,omitempty"` // redacted in every output
	// DB is the database of --verify-key lookups and, with OnlyDB, the only one checked.
	// Without OnlyDB every logical database that holds keys is fingerprinted.
	DB         int    `json:"db"`
	OnlyDB     bool   `json:"only_db"` // set by ParseURL for .../N or ?db=N
	TLS        bool   `json:"tls"`
	CAFile     string `json:"ca_file,omitempty"`     // PEM bundle for rediss://, "" = system roots
	ServerName string `json:"server_name,omitempty"` // TLS SNI/verification name, "" = host of Addr
	// CertFile and KeyFile are a PEM client certificate and its key, presented to a server
	// that asks for one (Redis' default tls-auth-clients yes). Both or neither.
	CertFile string `json:"cert_file,omitempty"`
	KeyFile  string `json:"key_file,omitempty"`
	// TLSInsecure skips verifying the server's certificate. Verification is on unless the
	// user asks for this explicitly; the caller warns when it is set.
	TLSInsecure bool `json:"tls_insecure,omitempty"`

	DialTimeout time.Duration `json:"dial_timeout"` // 0 = DefaultDialTimeout
	ReadTimeout time.Duration `json:"read_timeout"` // 0 = DefaultReadTimeout (also bounds SAVE)

	// Dialer, when set, makes the connections (e.g. through SSH, plugin/sshdial);
	// TLS for rediss:// still runs over what it returns. nil = a direct TCP dial.
	Dialer func(ctx context.Context, network, addr string) (net.Conn, error) `json:"-"`
}

// String renders the options as a URL with the password replaced by ***.
func (o Options) String() string {
	scheme := "redis"
	if o.TLS {
		scheme = "rediss"
	}
	user := ""
	switch {
	case o.Username != "" && o.Password != "":
		user = o.Username + ":***@"
	case o.Username != "":
		user = o.Username + "@"
	case o.Password != "":
		user = ":***@"
	}
	if !o.OnlyDB {
		return fmt.Sprintf("%s://%s%s", scheme, user, o.Addr)
	}
	return fmt.Sprintf("%s://%s%s/%d", scheme, user, o.Addr, o.DB)
}

// GoString redacts as well (%#v).
func (o Options) GoString() string { return "redisstate.Options(" + o.String() + ")" }

// ParseURL parses redis://[user@]host[:port][/db] or rediss://... A password inside the URL
// is refused: it would sit in argv and shell history; use REDISCLI_AUTH or a password file.
// A database (/N or ?db=N) means "check only this database" (Options.OnlyDB); without one
// every database that holds keys is checked. Any other query parameter is refused.
func ParseURL(raw string) (Options, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Options{}, fmt.Errorf("invalid Redis URL: %v", stripURLPassword(err))
	}
	var o Options
	switch u.Scheme {
	case "redis":
	case "rediss":
		o.TLS = true
	default:
		return Options{}, fmt.Errorf("invalid Redis URL: scheme must be redis:// or rediss://, got %q", u.Scheme)
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			return Options{}, errors.New("invalid Redis URL: do not put the password in the URL; set REDISCLI_AUTH or use a password file")
		}
		o.Username = u.User.Username()
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return Options{}, errors.New("invalid Redis URL: no host")
	}
	if !validHost(host) {
		return Options{}, fmt.Errorf("invalid Redis URL: %q is not a host name or IP address", host)
	}
	if port == "" {
		port = "6379"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return Options{}, fmt.Errorf("invalid Redis URL: port must be 1-65535, got %q", port)
	}
	o.Addr = net.JoinHostPort(host, port)
	dbs := []string{}
	if p := strings.Trim(u.Path, "/"); p != "" {
		dbs = append(dbs, p)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Options{}, fmt.Errorf("invalid Redis URL: bad query: %v", err)
	}
	for name, vals := range q {
		if name != "db" {
			return Options{}, fmt.Errorf("invalid Redis URL: unknown parameter %q (only db=N is understood)", name)
		}
		dbs = append(dbs, vals...)
	}
	for _, p := range dbs {
		db, err := strconv.Atoi(p)
		if err != nil || db < 0 {
			return Options{}, fmt.Errorf("invalid Redis URL: database must be a number, got %q", p)
		}
		if o.OnlyDB && db != o.DB {
			return Options{}, fmt.Errorf("invalid Redis URL: two databases given (%d and %d)", o.DB, db)
		}
		o.DB, o.OnlyDB = db, true
	}
	return o, nil
}

// validHost accepts an IP address (IPv6 without a zone) or a DNS name.
func validHost(h string) bool {
	if strings.Contains(h, ":") {
		a, err := netip.ParseAddr(h)
		return err == nil && a.Zone() == ""
	}
	if len(h) > 253 {
		return false
	}
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

func stripURLPassword(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// PasswordEnv is the environment variable LoadPassword reads (as redis-cli does).
const PasswordEnv = "REDISCLI_AUTH"

// TakeEnvPassword removes REDISCLI_AUTH from this process' environment and returns a
// getenv for LoadPassword that still answers it, from memory. Processes started later
// (docker's ssh connection helper for ssh:// hosts, credential helpers) then do not
// inherit the password. Call it first thing in main.
func TakeEnvPassword() func(string) string {
	pw, had := os.LookupEnv(PasswordEnv)
	if had {
		os.Unsetenv(PasswordEnv)
	}
	return func(k string) string {
		if k == PasswordEnv && had {
			return pw
		}
		return os.Getenv(k) // also REDISCLI_AUTH set later in this process (tests)
	}
}

// LoadPassword sets o.Password from passwordFile when given (a Docker secret or a file with
// the password; one trailing newline is stripped), else from the REDISCLI_AUTH variable
// looked up with getenv (os.Getenv when nil). Neither source is argv.
func (o *Options) LoadPassword(getenv func(string) string, passwordFile string) error {
	if passwordFile != "" {
		b, err := os.ReadFile(passwordFile)
		if err != nil {
			return fmt.Errorf("cannot read Redis password file: %w", err)
		}
		o.Password = Secret(strings.TrimRight(string(b), "\r\n"))
		return nil
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	if p := getenv(PasswordEnv); p != "" {
		o.Password = Secret(p)
	}
	return nil
}

// Client is a connection (pool) to one Redis server.
type Client struct {
	opt Options
	rdb *redis.Client

	mu  sync.Mutex
	dbs map[int]*redis.Client // one pool per other logical database (SELECT is per connection)
}

// NewClient builds a client; it does no I/O. Call WaitReady (or Ping) next.
func NewClient(o Options) (*Client, error) {
	if o.Addr == "" {
		return nil, errors.New("no Redis address")
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	ro := &redis.Options{
		Addr:            o.Addr,
		Username:        o.Username,
		Password:        o.Password.Reveal(),
		DB:              o.DB,
		Protocol:        2,
		DisableIdentity: true, // no CLIENT SETINFO: keeps the ACL minimal
		DialTimeout:     o.DialTimeout,
		ReadTimeout:     o.ReadTimeout,
		WriteTimeout:    10 * time.Second,
		MaxRetries:      1,
		DialerRetries:   1, // WaitReady retries with progress; no hidden 5× dial loop
		PoolSize:        8,
	}
	quietOnce.Do(func() { redis.SetLogger(quietLogger{}) })
	if o.TLS {
		host, _, err := net.SplitHostPort(o.Addr)
		if err != nil {
			host = o.Addr
		}
		tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
		if o.ServerName != "" {
			tc.ServerName = o.ServerName
		}
		if o.CAFile != "" {
			pem, err := os.ReadFile(o.CAFile)
			if err != nil {
				return nil, fmt.Errorf("cannot read Redis CA file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("no PEM certificate in Redis CA file %s", o.CAFile)
			}
			tc.RootCAs = pool
		}
		if (o.CertFile == "") != (o.KeyFile == "") {
			return nil, errors.New("a Redis client certificate needs both the certificate and its key (--redis-cert and --redis-key)")
		}
		if o.CertFile != "" {
			pair, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("cannot load the Redis client certificate: %w", err)
			}
			tc.Certificates = []tls.Certificate{pair}
		}
		tc.InsecureSkipVerify = o.TLSInsecure
		ro.TLSConfig = tc
	} else if o.CertFile != "" || o.KeyFile != "" || o.TLSInsecure {
		return nil, errors.New("a Redis client certificate or skipping verification needs TLS (rediss://)")
	}
	if o.Dialer != nil {
		ro.Dialer = tlsOver(o.Dialer, ro.TLSConfig)
	}
	return &Client{opt: o, rdb: redis.NewClient(ro)}, nil
}

// tlsOver runs the TLS handshake over dial's connections: go-redis applies
// its TLSConfig only with its own dialer.
func tlsOver(dial func(context.Context, string, string) (net.Conn, error), tc *tls.Config) func(context.Context, string, string) (net.Conn, error) {
	if tc == nil {
		return dial
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		t := tls.Client(c, tc)
		if err := t.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, err
		}
		return t, nil
	}
}

// db returns a client whose connections have database n selected.
func (c *Client) db(n int) *redis.Client {
	if n == c.opt.DB {
		return c.rdb
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.dbs[n]; ok {
		return r
	}
	ro := *c.rdb.Options()
	ro.DB = n
	r := redis.NewClient(&ro)
	if c.dbs == nil {
		c.dbs = map[int]*redis.Client{}
	}
	c.dbs[n] = r
	return r
}

// go-redis logs dial failures to stderr on its own; every error is returned to the caller
// as one line instead, so the library's logger is silenced.
var quietOnce sync.Once

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...interface{}) {}

// Options returns the options (password redacted when printed).
func (c *Client) Options() Options { return c.opt }

// Addr is host:port of the server.
func (c *Client) Addr() string { return c.opt.Addr }

// Redis exposes the underlying go-redis client (for tests and advanced callers).
func (c *Client) Redis() *redis.Client { return c.rdb }

// Close closes the pools.
func (c *Client) Close() error {
	c.mu.Lock()
	for _, r := range c.dbs {
		r.Close()
	}
	c.dbs = nil
	c.mu.Unlock()
	return c.rdb.Close()
}

// Ping checks reachability and credentials; errors are one-line ConnectErrors.
func (c *Client) Ping(ctx context.Context) error {
	if err := c.rdb.Ping(ctx).Err(); err != nil {
		return c.describe(err)
	}
	return nil
}

// ConnectError is a one-line, user-facing connection/auth failure.
type ConnectError = connerr.Error // Kind: "unreachable", "auth", "noauth", "tls", "other"

// IsAuthError reports whether err is a refused/missing password.
func IsAuthError(err error) bool {
	var ce *ConnectError
	return errors.As(err, &ce) && (ce.Kind == "auth" || ce.Kind == "noauth")
}

// IsUnreachable reports whether err means Redis could not be reached.
func IsUnreachable(err error) bool {
	var ce *ConnectError
	return errors.As(err, &ce) && ce.Kind == "unreachable"
}

// LostConnection reports whether err, however it was wrapped, means the
// connection to Redis failed (refused, reset, closed, timed out) rather than
// Redis answering with an error: the server may be fine, we lost sight of it.
func LostConnection(err error) bool { return err != nil && IsUnreachable(describeErr("", err)) }

// describe turns a go-redis/net error into a ConnectError when it is a connection or
// authentication problem; other errors are returned unchanged.
func (c *Client) describe(err error) error { return describeErr(c.opt.Addr, err) }

func describeErr(addr string, err error) error {
	if err == nil {
		return nil
	}
	var ce *ConnectError
	if errors.As(err, &ce) {
		return err
	}
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "WRONGPASS"), strings.Contains(msg, "invalid password"),
		strings.Contains(msg, "invalid username-password pair"):
		return &ConnectError{Addr: addr, Kind: "auth", Err: err,
			Msg: fmt.Sprintf("Redis at %s refused the password (WRONGPASS)", addr)}
	case strings.HasPrefix(msg, "NOAUTH"):
		return &ConnectError{Addr: addr, Kind: "noauth", Err: err,
			Msg: fmt.Sprintf("Redis at %s requires a password (NOAUTH): set REDISCLI_AUTH or use a password file", addr)}
	case strings.Contains(msg, "AUTH <password> called without any password configured"),
		strings.Contains(msg, "without any password configured"):
		return &ConnectError{Addr: addr, Kind: "auth", Err: err,
			Msg: fmt.Sprintf("Redis at %s has no password set but one was given", addr)}
	case strings.HasPrefix(msg, "NOPERM"):
		return &ConnectError{Addr: addr, Kind: "other", Err: err,
			Msg: fmt.Sprintf("Redis at %s: the user lacks a permission: %s", addr, msg)}
	}
	var recErr tls.RecordHeaderError
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &recErr) || errors.As(err, &certErr) || strings.Contains(msg, "tls:") || strings.Contains(msg, "x509:") {
		return &ConnectError{Addr: addr, Kind: "tls", Err: err,
			Msg: fmt.Sprintf("TLS handshake with Redis at %s failed: %s", addr, connerr.LastPart(msg))}
	}
	reason := connerr.Unreachable(err)
	if reason == "" && errors.Is(err, redis.ErrClosed) {
		reason = "client closed"
	}
	if reason != "" {
		return &ConnectError{Addr: addr, Kind: "unreachable", Err: err,
			Msg: fmt.Sprintf("cannot reach Redis at %s: %s", addr, reason)}
	}
	return err
}

// Info runs INFO <section> and returns its fields.
func (c *Client) Info(ctx context.Context, section string) (map[string]string, error) {
	s, err := c.rdb.Info(ctx, section).Result()
	if err != nil {
		return nil, c.describe(err)
	}
	return parseInfo(s), nil
}

func parseInfo(s string) map[string]string {
	m := make(map[string]string, 64)
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = v
		}
	}
	return m
}

func infoInt(m map[string]string, k string) int64 {
	v, _ := strconv.ParseInt(m[k], 10, 64)
	return v
}

func infoFloat(m map[string]string, k string) float64 {
	v, _ := strconv.ParseFloat(m[k], 64)
	return v
}
