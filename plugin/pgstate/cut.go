package pgstate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// CutOptions tunes Cut.
type CutOptions struct {
	// WaitWriters bounds the wait for write transactions that were open when writes were
	// turned off. Default 30 s.
	WaitWriters time.Duration
	// Progress, if set, receives human-readable wait messages.
	Progress func(string)
}

// Session is a client session that holds (or may hold) a write transaction, or a prepared
// transaction (PID 0, State "prepared transaction", Query its gid).
type Session struct {
	PID         int       `json:"pid"`
	User        string    `json:"user"`
	Database    string    `json:"database"`
	Application string    `json:"application_name,omitempty"`
	ClientAddr  string    `json:"client_addr,omitempty"`
	State       string    `json:"state"`
	XactStart   time.Time `json:"xact_start"`
	HasXID      bool      `json:"has_xid"` // has written in this transaction
	Query       string    `json:"query,omitempty"`
}

func (s Session) String() string {
	if s.PID == 0 && s.State == "prepared transaction" {
		return fmt.Sprintf("prepared transaction %q (%s@%s, since %s: COMMIT PREPARED or ROLLBACK PREPARED it)", s.Query, s.User, s.Database, s.XactStart.UTC().Format("15:04:05"))
	}
	who := fmt.Sprintf("pid %d (%s@%s", s.PID, s.User, s.Database)
	if s.Application != "" {
		who += " " + s.Application
	}
	if s.ClientAddr != "" {
		who += " from " + s.ClientAddr
	}
	q := strings.Join(strings.Fields(s.Query), " ")
	if len(q) > 60 {
		q = q[:57] + "..."
	}
	return fmt.Sprintf("%s, %s, transaction open since %s: %q)", who, s.State, s.XactStart.UTC().Format("15:04:05"), q)
}

// WritersError is returned when write transactions did not end within CutOptions.WaitWriters.
type WritersError struct {
	Waited   time.Duration
	Sessions []Session
}

func (e *WritersError) Error() string {
	parts := make([]string, len(e.Sessions))
	for i, s := range e.Sessions {
		parts[i] = s.String()
	}
	return fmt.Sprintf("%d session(s) still hold a write transaction after %s: %s; end them (pg_terminate_backend(pid)) or retry with a longer wait",
		len(e.Sessions), e.Waited.Round(time.Millisecond), strings.Join(parts, "; "))
}

// CutInfo describes a durable, exact point; stored in Summary.Cut.
type CutInfo struct {
	ServerVersion      string        `json:"server_version"`
	PostmasterStart    time.Time     `json:"postmaster_start"`
	ReadOnlyAt         time.Time     `json:"read_only_at"` // server clock when every new transaction was read-only
	WritersWait        time.Duration `json:"writers_wait_ns"`
	WaitedFor          []Session     `json:"waited_for,omitempty"` // write transactions open at ReadOnlyAt
	CheckpointDuration time.Duration `json:"checkpoint_ns"`
	CheckpointLSN      string        `json:"checkpoint_lsn"` // pg_current_wal_lsn() after CHECKPOINT
	DoneAt             time.Time     `json:"done_at"`
}

// CutHandle keeps new transactions read-only. Release must be called on every path (defer
// it right after Cut); it is idempotent and nil-safe. The setting lives in
// postgresql.auto.conf in the data directory: a server started from this data directory
// before Release starts read-only too, and Resume on that server turns writes back on.
type CutHandle struct {
	Info CutInfo
	c    *Client

	mu       sync.Mutex
	released bool
}

const releaseTimeout = 10 * time.Second

// Cut turns off writes for new transactions (ALTER SYSTEM SET default_transaction_read_only
// = on + pg_reload_conf()), waits for the write transactions that were already open to end
// (bounded, naming the sessions on timeout) and runs CHECKPOINT, so that everything
// committed is in the data files. Reads keep working. On error writes are resumed before
// returning.
func Cut(ctx context.Context, c *Client, opt CutOptions) (h *CutHandle, err error) {
	if opt.WaitWriters <= 0 {
		opt.WaitWriters = 30 * time.Second
	}
	say := func(f string, a ...any) {
		if opt.Progress != nil {
			opt.Progress(fmt.Sprintf(f, a...))
		}
	}
	conn, err := c.Connect(ctx, "")
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	si, err := serverInfo(ctx, conn)
	if err != nil {
		return nil, err
	}
	if si.InRecovery {
		return nil, fmt.Errorf("PostgreSQL at %s is in recovery (a standby?): cut the primary", c.Addr())
	}
	// Without pg_reload_conf() the setting would only take effect at the next start.
	var canReload bool
	if err := conn.QueryRow(ctx, "SELECT has_function_privilege('pg_reload_conf()', 'EXECUTE')").Scan(&canReload); err != nil {
		return nil, describeErr(c.Addr(), err)
	}
	if !canReload {
		return nil, fmt.Errorf("role %s may not call pg_reload_conf(): GRANT EXECUTE ON FUNCTION pg_reload_conf() TO %s", si.User, si.User)
	}
	h = &CutHandle{c: c, Info: CutInfo{ServerVersion: si.Version, PostmasterStart: si.PostmasterStart}}
	// before writes go off: if this process dies from here on, the watchdog resumes them
	startWatchdog(c)
	say("turning off writes (ALTER SYSTEM SET default_transaction_read_only = on)")
	if _, err := conn.Exec(ctx, "ALTER SYSTEM SET default_transaction_read_only = on"); err != nil {
		disarmWatchdogs()
		return nil, fmt.Errorf("ALTER SYSTEM: %w", describeErr(c.Addr(), err))
	}
	defer func() {
		if err != nil {
			if rerr := h.Release(context.WithoutCancel(ctx)); rerr != nil {
				err = fmt.Errorf("%w (and resuming writes failed: %v)", err, rerr)
			}
			h = nil
		}
	}()
	if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		return h, fmt.Errorf("pg_reload_conf(): %w", describeErr(c.Addr(), err))
	}
	// pg_reload_conf() only signals the postmaster. A new backend forked after the
	// postmaster re-read its configuration sees the setting, and every backend had its
	// reload flag set before that fork: any command they process after that sees it.
	at, err := waitReloaded(ctx, c)
	if err != nil {
		return h, err
	}
	h.Info.ReadOnlyAt = at
	t0 := time.Now()
	var lastSay time.Time
	var first []Session
	for {
		ss, err := openWriters(ctx, conn, at)
		if err != nil {
			return h, err
		}
		if first == nil {
			first = ss
			if first == nil {
				first = []Session{}
			}
		}
		if len(ss) == 0 {
			break
		}
		if time.Since(t0) > opt.WaitWriters {
			return h, &WritersError{Waited: time.Since(t0), Sessions: ss}
		}
		if time.Since(lastSay) >= time.Second {
			say("waiting for %d write transaction(s) to end (%s so far): %s", len(ss), time.Since(t0).Round(time.Second), ss[0])
			lastSay = time.Now()
		}
		select {
		case <-ctx.Done():
			return h, fmt.Errorf("waiting for write transactions: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	h.Info.WritersWait = time.Since(t0)
	h.Info.WaitedFor = first
	say("checkpoint (CHECKPOINT)")
	t1 := time.Now()
	if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
		return h, fmt.Errorf("CHECKPOINT: %w", describeErr(c.Addr(), err))
	}
	h.Info.CheckpointDuration = time.Since(t1)
	if err := conn.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text, clock_timestamp()").Scan(&h.Info.CheckpointLSN, &h.Info.DoneAt); err != nil {
		return h, describeErr(c.Addr(), err)
	}
	return h, nil
}

// waitReloaded returns the server time at which a fresh backend sees
// default_transaction_read_only = on (bounded: 10 s).
func waitReloaded(ctx context.Context, c *Client) (time.Time, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := c.Connect(ctx, "")
		if err != nil {
			return time.Time{}, err
		}
		var ro string
		var at time.Time
		err = conn.QueryRow(ctx, "SELECT current_setting('default_transaction_read_only'), clock_timestamp()").Scan(&ro, &at)
		conn.Close(context.WithoutCancel(ctx))
		if err != nil {
			return time.Time{}, describeErr(c.Addr(), err)
		}
		if ro == "on" {
			return at, nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, errors.New("a new session still has default_transaction_read_only = off 10 s after pg_reload_conf(): is it set for this role or database (ALTER ROLE/DATABASE ... SET)?")
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// openWriters lists client sessions whose transaction may still write: begun before the
// server turned read-only, or holding a transaction id (a session that overrides the
// default with SET ... READ WRITE).
func openWriters(ctx context.Context, conn *pgx.Conn, readOnlyAt time.Time) ([]Session, error) {
	rows, err := conn.Query(ctx, `SELECT pid, coalesce(usename, ''), coalesce(datname, ''), coalesce(application_name, ''),
			coalesce(host(client_addr), ''), coalesce(state, ''), xact_start, backend_xid IS NOT NULL, coalesce(query, '')
		FROM pg_stat_activity
		WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND xact_start IS NOT NULL
			AND (xact_start < $1 OR backend_xid IS NOT NULL)
		ORDER BY xact_start`, readOnlyAt)
	if err != nil {
		return nil, fmt.Errorf("cannot list open transactions (pg_stat_activity): %w", err)
	}
	ss, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Session, error) {
		var s Session
		err := r.Scan(&s.PID, &s.User, &s.Database, &s.Application, &s.ClientAddr, &s.State, &s.XactStart, &s.HasXID, &s.Query)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("cannot list open transactions (pg_stat_activity): %w", err)
	}
	// A prepared transaction may still be committed (COMMIT PREPARED is allowed in a
	// read-only transaction): its writes would land after the cut.
	rows, err = conn.Query(ctx, `SELECT gid, owner, database, prepared FROM pg_prepared_xacts ORDER BY prepared`)
	if err != nil {
		return nil, fmt.Errorf("cannot list prepared transactions: %w", err)
	}
	prep, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Session, error) {
		s := Session{State: "prepared transaction", HasXID: true}
		err := r.Scan(&s.Query, &s.User, &s.Database, &s.XactStart)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("cannot list prepared transactions: %w", err)
	}
	return append(ss, prep...), nil
}

// Release resumes writes (ALTER SYSTEM RESET default_transaction_read_only +
// pg_reload_conf()). Idempotent and nil-safe; it uses its own timeout, so it works with an
// already cancelled context. When the server cannot be reached (its task stopped), the
// setting stays in postgresql.auto.conf: the error says so, and Resume on the next server
// started from that data directory turns writes back on.
func (h *CutHandle) Release(ctx context.Context) error {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.released {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	if _, err := Resume(ctx, h.c); err != nil {
		return err
	}
	h.released = true
	return nil
}

// Cleanup is Release with no context at all: for defer and signal handlers.
func (h *CutHandle) Cleanup() error { return h.Release(context.Background()) }

// Released reports whether Release succeeded.
func (h *CutHandle) Released() bool {
	if h == nil {
		return true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.released
}

// ResumePendingError: writes could not be resumed because the server was unreachable; the
// setting is still in postgresql.auto.conf of its data directory.
type ResumePendingError struct{ Err error }

func (e *ResumePendingError) Error() string {
	return fmt.Sprintf("writes not resumed: %v; default_transaction_read_only = on stays in postgresql.auto.conf, so the next server on this data directory starts read-only until resumed (ALTER SYSTEM RESET default_transaction_read_only; SELECT pg_reload_conf())", e.Err)
}
func (e *ResumePendingError) Unwrap() error { return e.Err }

// Resume turns writes back on for the server c reaches: ALTER SYSTEM RESET
// default_transaction_read_only + pg_reload_conf(). Call it on the new server after
// verification (it started read-only because the setting is in its data directory), or to
// clean up after an interrupted cut. wasReadOnly reports whether the server had the
// setting on. ALTER SYSTEM is allowed in a read-only transaction.
func Resume(ctx context.Context, c *Client) (wasReadOnly bool, err error) {
	conn, err := c.Connect(ctx, "")
	if err != nil {
		if IsUnreachable(err) {
			return false, &ResumePendingError{Err: err}
		}
		return false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var ro string
	if err := conn.QueryRow(ctx, "SELECT current_setting('default_transaction_read_only')").Scan(&ro); err != nil {
		return false, describeErr(c.Addr(), err)
	}
	if _, err := conn.Exec(ctx, "ALTER SYSTEM RESET default_transaction_read_only"); err != nil {
		return false, fmt.Errorf("resuming writes: ALTER SYSTEM RESET: %w", describeErr(c.Addr(), err))
	}
	if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		return false, fmt.Errorf("resuming writes: pg_reload_conf(): %w", describeErr(c.Addr(), err))
	}
	disarmWatchdogs()
	return ro == "on", nil
}

// ResumeWhenReady waits (up to deadline, whatever ctx says) for a server to accept
// connections and resumes writes on it. For paths that end while the service's task is
// being replaced (an interrupt after the update was sent): the next server on the data
// directory starts read-only, and nothing else would turn writes back on.
func ResumeWhenReady(ctx context.Context, c *Client, deadline time.Duration) (wasReadOnly bool, err error) {
	ctx = context.WithoutCancel(ctx)
	if _, err := c.WaitReady(ctx, deadline, nil); err != nil {
		return false, &ResumePendingError{Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, releaseTimeout)
	defer cancel()
	return Resume(ctx, c)
}
