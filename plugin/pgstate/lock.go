package pgstate

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// One cut per server at a time, whoever takes it (update --verify, snapshot),
// from whichever machine: a second cut's resume would turn writes back on
// under the first one, and a second update would replace the server under
// the first one's check. The lock is a session advisory lock held by a
// connection of its own: closing it, this process dying, or the server
// stopping frees it.
const (
	lockKey1    = 0x64737466 // "dstf"
	lockKey2    = 1
	lockAppName = "docker-stateful-cut"
)

// CutLock is the connection that holds the lock.
type CutLock struct{ conn *pgx.Conn }

// LockedError: another run holds the lock; Holder says who.
type LockedError struct{ Holder string }

func (e *LockedError) Error() string {
	return fmt.Sprintf("another docker stateful run holds a cut on this PostgreSQL (%s): wait until it is done", e.Holder)
}

// LockCut takes the server's cut lock, or returns *LockedError naming the
// session that holds it. Advisory locks are per database: every run takes it
// in the client's database (the same options reach the same one).
func LockCut(ctx context.Context, c *Client) (*CutLock, error) {
	conn, err := c.Connect(ctx, "")
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*CutLock, error) {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	if _, err := conn.Exec(ctx, "SET application_name = '"+lockAppName+"'"); err != nil {
		return fail(describeErr(c.Addr(), err))
	}
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1, $2)", int32(lockKey1), int32(lockKey2)).Scan(&ok); err != nil {
		return fail(fmt.Errorf("pg_try_advisory_lock: %w", describeErr(c.Addr(), err)))
	}
	if !ok {
		holder := "a session of " + lockAppName
		var pid int32
		var from string
		var since time.Time
		err := conn.QueryRow(ctx, `SELECT a.pid, coalesce(host(a.client_addr), 'local'), a.backend_start
			FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
			WHERE l.locktype = 'advisory' AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 2 AND l.granted`,
			int64(lockKey1), int64(lockKey2)).Scan(&pid, &from, &since)
		if err == nil {
			holder = fmt.Sprintf("backend pid %d from %s, for %s", pid, from, time.Since(since).Round(time.Second))
		}
		return fail(&LockedError{Holder: holder})
	}
	return &CutLock{conn: conn}, nil
}

// Unlock frees the lock. Safe on nil and more than once.
func (l *CutLock) Unlock() {
	if l == nil || l.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = l.conn.Close(ctx)
	l.conn = nil
}
