package mysqlstate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Needed are the privileges the plugin's session needs: RELOAD and LOCK
// TABLES for FLUSH TABLES WITH READ LOCK, SELECT to fingerprint every table,
// PROCESS to see the sessions that hold writes up.
var Needed = []string{"RELOAD", "LOCK TABLES", "SELECT", "PROCESS"}

// Missing returns the privileges of Needed the connected user lacks on *.*
// (ALL PRIVILEGES has them all).
func (c *Client) Missing(ctx context.Context) ([]string, error) {
	rows, err := c.db.QueryContext(ctx, "SHOW GRANTS FOR CURRENT_USER()")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	have := map[string]bool{}
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			return nil, err
		}
		up := strings.ToUpper(g)
		// GRANT <privs> ON *.* TO ...: only global grants hold RELOAD/PROCESS,
		// and a per-database SELECT does not reach every table
		privs, on, ok := strings.Cut(strings.TrimPrefix(up, "GRANT "), " ON ")
		if !ok || !strings.HasPrefix(strings.TrimSpace(on), "*.*") {
			continue
		}
		for _, p := range strings.Split(privs, ",") {
			have[strings.TrimSpace(p)] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if have["ALL PRIVILEGES"] || have["ALL"] {
		return nil, nil
	}
	var miss []string
	for _, p := range Needed {
		if !have[p] {
			miss = append(miss, p)
		}
	}
	return miss, nil
}

// Preflight refuses a server the plugin cannot cut or fingerprint, naming
// what to grant.
func (c *Client) Preflight(ctx context.Context) error {
	miss, err := c.Missing(ctx)
	if err != nil {
		return fmt.Errorf("cannot read the grants of the MariaDB user %s: %w", c.opt.User, err)
	}
	if len(miss) > 0 {
		return fmt.Errorf("the MariaDB user %s lacks %s on *.* (GRANT %s ON *.* TO %s): the cut needs RELOAD and LOCK TABLES, the fingerprint SELECT, the check of other sessions PROCESS",
			c.opt.User, strings.Join(miss, ", "), strings.Join(miss, ", "), c.opt.User)
	}
	return nil
}

// CutLockName is the GET_LOCK name of the one cut a server takes at a time.
const CutLockName = "docker-stateful.cut"

// ErrBusy: another run holds the server's cut.
var ErrBusy = errors.New("another docker stateful run holds a cut on this server")

// CutInfo says when writes were held and on which server.
type CutInfo struct {
	Method   string    `json:"method"` // "FLUSH TABLES WITH READ LOCK"
	LockedAt time.Time `json:"locked_at"`
	HeldMs   int64     `json:"lock_wait_ms"` // waiting for running writes
	Server   string    `json:"server"`
	Started  time.Time `json:"server_started"`
	// Writes is the server's count of data-changing statements and rows
	// since it started, at the cut (see Writes).
	Writes int64 `json:"writes_at_cut"`
}

// Cut holds writes on one server: FLUSH TABLES WITH READ LOCK on a session
// of its own, which keeps it until Release, or until the session ends (the
// server then releases it: a killed plugin leaves no lock behind).
type Cut struct {
	Info CutInfo
	conn *sql.Conn
}

// StartCut takes the server's cut lock (GET_LOCK, refused when another run
// holds it: ErrBusy), then holds writes; lockWait bounds the wait for
// statements already writing (lock_wait_timeout).
func (c *Client) StartCut(ctx context.Context, lockWait time.Duration) (*Cut, error) {
	conn, err := c.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Cut, error) {
		_ = conn.Close()
		return nil, err
	}
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 0)", CutLockName).Scan(&got); err != nil {
		return fail(err)
	}
	if !got.Valid || got.Int64 != 1 {
		return fail(ErrBusy)
	}
	// From here the session holds the lock: a sql.Conn's Close returns the
	// session to the pool, where a lock would outlive this run.
	fail = func(err error) (*Cut, error) {
		_, _ = conn.ExecContext(context.Background(), "DO RELEASE_LOCK(?)", CutLockName)
		_ = conn.Close()
		return nil, err
	}
	secs := max(int(lockWait.Seconds()), 1)
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("SET SESSION lock_wait_timeout = %d", secs)); err != nil {
		return fail(err)
	}
	from := time.Now()
	if _, err := conn.ExecContext(ctx, "FLUSH TABLES WITH READ LOCK"); err != nil {
		return fail(fmt.Errorf("FLUSH TABLES WITH READ LOCK (waiting up to %s for the statements already writing): %w", lockWait, err))
	}
	cut := &Cut{conn: conn, Info: CutInfo{Method: "FLUSH TABLES WITH READ LOCK", LockedAt: time.Now(), HeldMs: time.Since(from).Milliseconds(), Server: c.Addr()}}
	if si, err := c.ServerInfo(ctx); err == nil {
		cut.Info.Started = si.Started
	}
	cut.Info.Writes, _ = writes(ctx, conn)
	return cut, nil
}

// Alive checks that the session holding the cut is still there.
func (k *Cut) Alive(ctx context.Context) error {
	if k == nil || k.conn == nil {
		return errors.New("no cut")
	}
	return k.conn.PingContext(ctx)
}

// Release turns writes back on (UNLOCK TABLES) and ends the session, which
// frees the cut lock. Safe more than once; a server that is gone released
// them itself.
func (k *Cut) Release(ctx context.Context) error {
	if k == nil || k.conn == nil {
		return nil
	}
	conn := k.conn
	k.conn = nil
	_, err := conn.ExecContext(ctx, "UNLOCK TABLES")
	// the cut's lock too: the session goes back to the pool, not away
	_, _ = conn.ExecContext(ctx, "DO RELEASE_LOCK(?)", CutLockName)
	_ = conn.Close()
	if err != nil && !errors.Is(err, sql.ErrConnDone) {
		return fmt.Errorf("UNLOCK TABLES: %w (the server releases the lock when the session ends)", err)
	}
	return nil
}

// writeCounters are the status counters of statements that change data.
var writeCounters = []string{
	"COM_INSERT", "COM_INSERT_SELECT", "COM_UPDATE", "COM_UPDATE_MULTI", "COM_DELETE", "COM_DELETE_MULTI",
	"COM_REPLACE", "COM_REPLACE_SELECT", "COM_LOAD", "COM_TRUNCATE", "COM_DROP_TABLE", "COM_DROP_DB",
	"COM_ALTER_TABLE", "COM_CREATE_TABLE", "COM_RENAME_TABLE", "COM_CREATE_DB",
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// writes is how many data-changing statements the server ran since it
// started: on a new server, above 0 means clients wrote before the check
// held them.
func writes(ctx context.Context, q queryRower) (int64, error) {
	var n sql.NullInt64
	err := q.QueryRowContext(ctx, "SELECT SUM(VARIABLE_VALUE) FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME IN ('"+strings.Join(writeCounters, "','")+"')").Scan(&n)
	return n.Int64, err
}
