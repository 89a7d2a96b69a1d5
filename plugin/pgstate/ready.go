package pgstate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ServerInfo identifies the PostgreSQL process that answered.
type ServerInfo struct {
	Version         string    `json:"server_version"`
	VersionNum      int       `json:"server_version_num"`
	PostmasterStart time.Time `json:"postmaster_start"` // differs for every new postmaster
	InRecovery      bool      `json:"in_recovery"`
	User            string    `json:"user"`
	Superuser       bool      `json:"superuser"`
	// DataDirectory is SHOW data_directory ("" when the role may not read it).
	DataDirectory string `json:"data_directory,omitempty"`
	// ReadOnly is the server's default_transaction_read_only as this session sees it.
	ReadOnly bool `json:"default_transaction_read_only"`
}

// RunID is a short identity of the postmaster, like Redis' run_id.
func (s ServerInfo) RunID() string {
	if s.PostmasterStart.IsZero() {
		return ""
	}
	return s.PostmasterStart.UTC().Format("20060102T150405.000000Z")
}

// ServerInfo queries the identity of the server in one round trip.
func (c *Client) ServerInfo(ctx context.Context) (*ServerInfo, error) {
	conn, err := c.Connect(ctx, "")
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return serverInfo(ctx, conn)
}

func serverInfo(ctx context.Context, conn *pgx.Conn) (*ServerInfo, error) {
	var s ServerInfo
	var ro string
	err := conn.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('server_version_num')::int,
		pg_postmaster_start_time(), pg_is_in_recovery(), current_user,
		(SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
		current_setting('default_transaction_read_only'),
		coalesce(CASE WHEN pg_has_role('pg_read_all_settings', 'member') OR
			(SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
			THEN current_setting('data_directory') END, '')`).
		Scan(&s.Version, &s.VersionNum, &s.PostmasterStart, &s.InRecovery, &s.User, &s.Superuser, &ro, &s.DataDirectory)
	if err != nil {
		return nil, fmt.Errorf("cannot read the server's identity: %w", describeErr(conn.Config().Host, err))
	}
	s.ReadOnly = ro == "on"
	return &s, nil
}

// WaitStatus is passed to the progress callback of WaitReady on every poll.
type WaitStatus struct {
	Waiting string // "connect", "recovery", "restart"
	Elapsed time.Duration
	Err     error // last error while waiting to connect
}

func (w WaitStatus) String() string {
	switch w.Waiting {
	case "recovery":
		return "PostgreSQL is still in recovery (pg_is_in_recovery() is true)"
	case "restart":
		return "waiting for the new PostgreSQL process (new postmaster start time)"
	default:
		if w.Err != nil {
			return "waiting for PostgreSQL: " + w.Err.Error()
		}
		return "waiting for PostgreSQL"
	}
}

var pollInterval = 250 * time.Millisecond

// WaitReady waits until the server accepts connections and has finished recovery
// (pg_is_in_recovery() false), for at most deadline (0 = until ctx ends), and returns its
// identity. A refused password fails at once. progress may be nil.
func (c *Client) WaitReady(ctx context.Context, deadline time.Duration, progress func(WaitStatus)) (*ServerInfo, error) {
	return c.waitReady(ctx, time.Time{}, deadline, progress)
}

// WaitRestarted is WaitReady that also waits until the postmaster's start time differs
// from oldStart: the new task's server, not the old one still shutting down.
func (c *Client) WaitRestarted(ctx context.Context, oldStart time.Time, deadline time.Duration, progress func(WaitStatus)) (*ServerInfo, error) {
	return c.waitReady(ctx, oldStart, deadline, progress)
}

func (c *Client) waitReady(ctx context.Context, oldStart time.Time, deadline time.Duration, progress func(WaitStatus)) (*ServerInfo, error) {
	start := time.Now()
	if deadline > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, deadline)
		defer cancel()
	}
	var last WaitStatus
	for {
		st := WaitStatus{Waiting: "connect"}
		si, err := c.ServerInfo(ctx)
		switch {
		case err == nil && si.InRecovery:
			st.Waiting = "recovery"
		case err == nil && !oldStart.IsZero() && si.PostmasterStart.Equal(oldStart):
			st.Waiting = "restart"
		case err == nil:
			return si, nil
		case IsAuthError(err):
			return nil, err
		case ctx.Err() == nil && !IsUnreachable(err) && !isConnErr(err):
			return nil, err
		default:
			st.Err = err
		}
		st.Elapsed = time.Since(start)
		last = st
		if progress != nil {
			progress(st)
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, fmt.Errorf("PostgreSQL at %s not ready after %s: %s", c.Addr(), time.Since(start).Round(time.Second), last)
			}
			return nil, ctx.Err()
		case <-time.After(pollInterval):
		}
	}
}

// isConnErr: errors while connecting that are worth retrying (the server is restarting).
func isConnErr(err error) bool {
	var ce *ConnectError
	return errors.As(err, &ce) && ce.Kind != "auth" && ce.Kind != "other"
}
