package verifyflow

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/docker-stateful/docker-stateful/plugin/rdbstream"
	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
)

// pendingSnap is the cut's fingerprint, read from the server's own snapshot while
// the update goes on (BeginStreamCut).
type pendingSnap struct {
	done     chan struct{}
	snap     *redisstate.Snapshot
	err      error
	from, to time.Time
	file     *os.File
	once     sync.Once
}

// stop ends the read if it still runs (the run is over: nothing will compare
// with it) and waits for it, so that no file of the store is left half written.
func (p *pendingSnap) stop() {
	if p == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	p.once.Do(func() { _ = p.file.Close() }) // the parse fails at its next read
	<-p.done
}

// wait returns the fingerprint once it is read.
func (p *pendingSnap) wait(ctx context.Context) (*redisstate.Snapshot, error) {
	select {
	case <-p.done:
		return p.snap, p.err
	case <-ctx.Done():
		return nil, fmt.Errorf("fingerprinting the cut: %w", ctx.Err())
	}
}

// BeginStreamCut pauses writes and asks the server for its snapshot the way a replica
// does, saved to disk first: the server forks and writes its RDB file, as BGSAVE does,
// then sends that file. The save is the cut's; the payload, spooled here as fast as the
// connection goes, is its exact content. Before it returns, the snapshot is proven to
// be the cut: the replication id and offset of the snapshot are those of the paused
// server, and the save succeeded with no change since (Saved). The fingerprint is then
// read from the spooled payload in the background, while the update is sent and the
// old task stops: writes are held on the old process for the save and the transfer,
// not for a scan of the dataset.
//
// A non-empty fallback says why the stream cannot serve (a server older than 7.0, the
// replication protocol refused, a snapshot that is not the cut): nothing is held any
// more and the caller cuts the classic way (BeginCut, SnapshotAtCut).
func (f *Flow) BeginStreamCut(ctx context.Context, c *redisstate.Client, grace time.Duration, service string) (cut *Cut, pending *pendingSnap, fallback string, err error) {
	si, err := c.ServerInfo(ctx)
	if err != nil {
		return nil, nil, "", err
	}
	switch {
	case !si.AtLeast(7, 0):
		return nil, nil, fmt.Sprintf("%s: the snapshot through replication needs Redis 7.0 or later", si.Describe()), nil
	case c.Options().OnlyDB:
		return nil, nil, "the cut covers one database (--redis-url .../N)", nil
	}
	if cut, err = f.beginCut(ctx, c, grace, cutExternal); err != nil {
		return nil, nil, "", err
	}
	release := func(why string) (*Cut, *pendingSnap, string, error) {
		if err := cut.ReleaseBecause(why); err != nil {
			return nil, nil, "", err
		}
		return nil, nil, why, nil
	}
	repl, err := c.Info(ctx, "replication")
	if err != nil {
		_ = cut.Release()
		return nil, nil, "", err
	}
	start := time.Now()
	f.say("  saving in the background: the server's snapshot for a replica (PSYNC), then received")
	waiting := make(chan struct{})
	go func() { // the server saves before it sends: say that it still runs
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-waiting:
				return
			case <-t.C:
				f.say("  waiting for the background save (the server's snapshot, %s so far)", time.Since(start).Round(time.Second))
			}
		}
	}()
	// The server sends a newline every second while it saves: a read that
	// waits 10 s has lost it.
	s, err := rdbstream.Start(ctx, c, rdbstream.Options{Timeout: 10 * time.Second})
	close(waiting)
	if err != nil {
		if rdbstream.IsRefused(err) {
			return release(err.Error())
		}
		if perr := c.Ping(ctx); perr != nil {
			_ = cut.Release()
			return nil, nil, "", fmt.Errorf("the server's snapshot: %w (%v)", err, perr)
		}
		return release(fmt.Sprintf("the server's snapshot could not start: %v", err))
	}
	defer s.Close()
	// The offset proves it: writes are paused, so the offset of the paused server is
	// the cut's. The id changes once, when the first replica of a server without a
	// backlog connects (Redis makes a new replication history then).
	sameID := s.ReplID == repl["master_replid"] || repl["repl_backlog_active"] == "0"
	if !sameID || fmt.Sprint(s.Offset) != repl["master_repl_offset"] {
		return release(fmt.Sprintf("the server's snapshot is not the cut (replication %s at offset %d, the paused server is at %s offset %s)",
			short(s.ReplID), s.Offset, short(repl["master_replid"]), repl["master_repl_offset"]))
	}
	tmp, err := os.CreateTemp("", "docker-stateful-cut-*.rdb")
	if err != nil {
		_ = cut.Release()
		return nil, nil, "", fmt.Errorf("cannot create a temporary file: %w", err)
	}
	keep := false
	defer func() {
		if !keep {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	n, err := s.Spool(tmp)
	if err != nil {
		_ = cut.Release()
		return nil, nil, "", err
	}
	s.Close() // the server drops this replica
	if err := cut.h.Saved(ctx); err != nil {
		_ = cut.Release()
		return nil, nil, "", err
	}
	cut.Info = cut.h.Info
	f.say("Saved: the server's snapshot at its fork (%s on its disk, %d bytes received) in %s (run_id %s, %s)",
		cut.Info.Method, n, time.Since(start).Round(time.Millisecond), short(cut.Info.RunID), cut.Info.Describe())
	if _, err := tmp.Seek(0, 0); err != nil {
		_ = cut.Release()
		return nil, nil, "", err
	}
	keep = true
	pending = &pendingSnap{done: make(chan struct{}), from: time.Now(), file: tmp}
	info := cut.Info
	go func() {
		defer close(pending.done)
		defer os.Remove(tmp.Name())
		defer pending.once.Do(func() { _ = tmp.Close() })
		pending.snap, pending.err = f.store.Take(service, func(dir string) (*redisstate.Summary, error) {
			mb, err := redisstate.NewManifestBuilder(dir)
			if err != nil {
				return nil, err
			}
			_, dbs, err := rdbstream.Manifest(bufio.NewReaderSize(tmp, 1<<20), s.ServerTimeMs, mb)
			if err != nil {
				mb.Abort()
				return nil, fmt.Errorf("reading the server's snapshot: %w", err)
			}
			sum := &redisstate.Summary{CreatedAt: pending.from.UTC(), Addr: c.Addr(), RunID: si.RunID, RedisVersion: si.Version,
				Server: si.Describe(), ScanStartMs: s.ServerTimeMs, ScanEndMs: s.ServerTimeMs, Cut: &info}
			if dbs == nil {
				dbs = []int{}
			}
			if err := mb.Finish(sum, dbs); err != nil {
				return nil, err
			}
			sum.DurationMs = time.Since(pending.from).Milliseconds()
			return sum, nil
		})
		pending.to = time.Now()
		if pending.err == nil {
			sm := pending.snap.Summary
			f.say("Snapshot %s: %d keys, digest %s (%s), read from the server's snapshot in %s", pending.snap.ID, sm.Keys, sm.Digest, typeCounts(sm.Types), pending.to.Sub(pending.from).Round(time.Millisecond))
		}
	}()
	return cut, pending, "", nil
}

// errNoStreamSnapshot: the fingerprint of a stream cut failed after the update was sent.
var errNoStreamSnapshot = errors.New("no fingerprint of the cut")
