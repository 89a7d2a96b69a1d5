package redisstate

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// StopSave lets the process of a cut stop without saving its dataset a second time.
//
// Redis saves on SIGTERM when save points are configured. After a cut that save is
// redundant: the cut's own save wrote the dataset and writes have been paused since
// (rdb_changes_since_last_save is 0), yet at 1M keys it makes the old task's stop, and
// the time client writes are held, 0.5-1 s longer. SkipStopSave turns the save points off
// in the old process's memory (CONFIG SET save "", its config file is not touched) in
// one MULTI with the proof that its disk holds everything; Restore puts them back when
// the process did not stop after all.
type StopSave struct {
	rdb     *redis.Client
	conn    *redis.Conn
	orig    string
	Skipped bool
	// NoSavePoints: the process saves nothing when it stops (save ""), nothing to skip.
	NoSavePoints bool
	Why          string // why the save is kept, when it is
}

const stopSaveTimeout = 2 * time.Second

// SkipStopSave turns off the shutdown save of the process whose run id is runID, if
// its last save holds every change (none since) and succeeded. It talks over a
// connection of its own that is never dialled again: a retry must not reach the
// process that replaces this one at the same address.
func SkipStopSave(ctx context.Context, c *Client, runID string) *StopSave {
	o := *c.rdb.Options()
	dial := o.Dialer
	if dial == nil {
		dial = redis.NewDialer(&o)
	}
	var dialled atomic.Bool
	o.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dialled.Swap(true) {
			return nil, errors.New("the connection to the old process is gone")
		}
		return dial(ctx, network, addr)
	}
	o.PoolSize, o.MinIdleConns, o.MaxRetries = 1, 0, -1
	// a lost node must not hold up the wait for the old task's stop
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout = stopSaveTimeout, stopSaveTimeout, stopSaveTimeout
	s := &StopSave{rdb: redis.NewClient(&o)}
	s.conn = s.rdb.Conn()
	orig, err := s.conn.ConfigGet(ctx, "save").Result()
	if err != nil {
		s.Why = fmt.Sprintf("reading its save points failed: %v", c.describe(err))
		s.Close()
		return s
	}
	s.orig = orig["save"]
	if s.orig == "" {
		s.NoSavePoints, s.Why = true, "it has no save points"
		s.Close()
		return s
	}
	var pers, srv *redis.StringCmd
	_, err = s.conn.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ConfigSet(ctx, "save", "")
		pers = p.Info(ctx, "persistence")
		srv = p.Info(ctx, "server")
		return nil
	})
	if err != nil {
		// nothing was set (NOPERM aborts the MULTI), or the answer was lost: put the
		// save points back if the connection still works
		s.Why = fmt.Sprintf("turning off the shutdown save failed: %v", c.describe(err))
		_ = s.conn.ConfigSet(ctx, "save", s.orig).Err()
		s.Close()
		return s
	}
	p, sv := parseInfo(pers.Val()), parseInfo(srv.Val())
	switch {
	case sv["run_id"] != runID:
		s.Why = "another process answers at its address"
	case p["rdb_changes_since_last_save"] != "0" || p["rdb_last_bgsave_status"] != "ok" || p["rdb_bgsave_in_progress"] != "0":
		s.Why = fmt.Sprintf("its disk does not hold every change (rdb_changes_since_last_save:%s, rdb_last_bgsave_status:%s)",
			p["rdb_changes_since_last_save"], p["rdb_last_bgsave_status"])
	default:
		s.Skipped = true
		return s
	}
	_ = s.conn.ConfigSet(ctx, "save", s.orig).Err()
	s.Close()
	return s
}

// Restore puts the save points back (the process did not stop as expected: it may go on
// taking writes that its shutdown must save) and closes the connection.
func (s *StopSave) Restore(ctx context.Context) error {
	if s == nil || !s.Skipped {
		return nil
	}
	s.Skipped = false
	defer s.Close()
	if err := s.conn.ConfigSet(ctx, "save", s.orig).Err(); err != nil {
		return fmt.Errorf("the old Redis may stop without saving: CONFIG SET save %q failed: %w", s.orig, err)
	}
	return nil
}

// Close drops the connection (the process stopped: nothing to restore).
func (s *StopSave) Close() {
	if s != nil && s.rdb != nil {
		_ = s.conn.Close()
		_ = s.rdb.Close()
	}
}
