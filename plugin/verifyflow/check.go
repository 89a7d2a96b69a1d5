package verifyflow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
)

// The check of the data after an update compares the data *as the new Redis
// process loaded it* with the cut, not whatever clients made of it since:
// writes resume on the new process as soon as it has loaded, and a client
// that rewrites a key of the cut (even PFCOUNT, which caches a HyperLogLog's
// count) is not a loss. So the check holds writes on the new process
// (CLIENT PAUSE WRITE) from the first moment it answers — while it is still
// loading when it can, when no client can write yet — fingerprints, and
// releases them. Whether clients wrote before the hold is in the process's
// own counter (rdb_changes_since_last_save, 0 right after an RDB load; after
// an AOF replay it counts the replayed commands, so then the write commands
// of INFO commandstats, which count only clients' calls, Redis 7.0+): when
// they did, keys of the cut that differ may be theirs, and are reported as
// such, never as a loss (unless the load itself came up short:
// rdb_last_load_keys_loaded + _expired below the cut's keys, Redis 7.0+).

// holdFor is how long one CLIENT PAUSE on the new process lasts; it is renewed
// every holdFor/3 while the check runs, and lapses by itself if we die.
var holdFor = 6 * time.Second

// checkOutcome is what the check of the new process found.
type checkOutcome struct {
	rep *redisstate.Report
	err error // the data could not be checked
	// exact: no client wrote to the process before writes were held (or the
	// hold began while it was still loading): every difference is a loss.
	exact            bool
	heldWhileLoading bool
	clientWrites     int64  // rdb_changes_since_last_save when held
	taskFailed       bool   // the connection was lost because its task failed
	loadShort        string // the load itself proves a loss ("" = no)
	held             time.Duration
	ready, done      time.Time // the process answered with its data loaded; the check ended
}

// intact: the keys of the cut are all there, as they were.
func (o *checkOutcome) intact() bool { return o.err == nil && o.rep != nil && o.rep.OK() }

// lostContact: the new process answered with its data loaded, and then the
// connection to it failed during the check (not an answer of Redis).
func (o *checkOutcome) lostContact() bool {
	return o.err != nil && !o.taskFailed && !o.ready.IsZero() && redisstate.LostConnection(o.err)
}

// lostTaskAfter is how long a check that lost its Redis waits for swarm to
// report the task failed: an agent reports a crash within a second.
var lostTaskAfter = 2 * time.Second

// anyTaskFailed: swarm reports one of the tasks ids failed (within a
// while), as when the new Redis crashes (an OOM kill, a bad option), unlike
// a node cut off or an engine stopped, whose task the manager still sees
// running (a graceful stop of Redis exits 0: not failed either).
func (f *Flow) anyTaskFailed(ctx context.Context, ids []string, within time.Duration) bool {
	if len(ids) == 0 {
		return false
	}
	for end := time.Now().Add(within); ; {
		for _, id := range ids {
			if t, _, err := f.API.TaskInspectWithRaw(ctx, id); err == nil && t.Status.State == swarm.TaskStateFailed {
				return true
			}
		}
		if time.Now().After(end) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// unattributed: keys of the cut differ and clients may have made them so.
func (o *checkOutcome) unattributed() bool {
	return o.err == nil && o.rep != nil && !o.rep.OK() && !o.exact && o.loadShort == ""
}

// heldProcess is a Redis process whose writes this check holds.
type heldProcess struct {
	c       *redisstate.Client
	si      *redisstate.ServerInfo
	persist map[string]string
	// writeCalls: write commands clients ran on the process (INFO
	// commandstats), -1 if unknown; read with AOF on, whose replay
	// rdb_changes_since_last_save counts as changes
	writeCalls int64
	from       time.Time // writes held from (the pause, or the end of the load)
	loading    bool      // the pause began while it was loading
	stop       chan struct{}
	wg         sync.WaitGroup
	once       sync.Once
}

// holdNew finds the service's Redis (a process other than oldRunID if set),
// pauses its writes as early as it answers, and waits until it has loaded
// its dataset, all within f.Opt.Timeout.
func (f *Flow) holdNew(ctx context.Context, serviceID, oldRunID string) (*heldProcess, error) {
	start := time.Now()
	ep, _, err := f.locateNew(ctx, serviceID, f.Opt.Timeout)
	if err != nil {
		return nil, err
	}
	o, err := f.clientOptions(ep.Addr)
	if err != nil {
		return nil, err
	}
	// A check that gets no answer for --verify-timeout has lost its Redis
	// (a node cut off): it ends then, not after the minute-long read timeout
	// (each read is bounded, so a long fingerprint that progresses is not).
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = redisstate.DefaultReadTimeout
	}
	o.ReadTimeout = min(o.ReadTimeout, f.Opt.Timeout)
	c, err := redisstate.NewClient(o)
	if err != nil {
		return nil, err
	}
	if oldRunID != "" {
		f.say("Redis of the new task: %s (%s); holding its writes as soon as it answers, until it is checked", ep.Addr, ep.Reason)
	}
	dctx, cancel := context.WithTimeout(ctx, f.Opt.Timeout-time.Since(start)+time.Second)
	defer cancel()
	p := newThrottle(f.Log, 2*time.Second)
	var last error
	// gone: the last try found nothing answering (the old process has left
	// this address), so whatever answers next is a new process, and the
	// pause can be the first thing it reads
	gone := false
	for {
		h, err := f.tryHold(dctx, c, oldRunID, gone)
		if err == nil {
			if oldRunID != "" {
				how := "after it had loaded"
				if h.loading {
					how = "while it was loading: no client could write before"
				}
				f.say("New Redis process %s (%s) is ready after %s: %d keys loaded; writes held %s", short(h.si.RunID), h.si.Describe(), time.Since(start).Round(100*time.Millisecond), h.si.Keys, how)
			}
			return h, nil
		}
		if redisstate.IsAuthError(err) {
			c.Close()
			return nil, err
		}
		last = err
		gone = redisstate.IsUnreachable(err)
		var own pauseFirstError
		if gone && !errors.As(err, &own) { // tryHold's INFO describes dial errors
			// a fresh pool: go-redis dials at most once a second after a
			// run of dial errors, which would miss the load
			c.Close()
			var nerr error
			if c, nerr = redisstate.NewClient(o); nerr != nil {
				return nil, nerr
			}
		}
		p.say("hold", "  waiting for the new Redis process: %v (%s)", err, time.Since(start).Round(time.Second))
		select {
		case <-dctx.Done():
			c.Close()
			return nil, fmt.Errorf("Redis at %s: no new process with its dataset loaded within %s (last: %v)", ep.Addr, f.Opt.Timeout, last)
		case <-time.After(retryEvery(err)):
		}
	}
}

var errOldProcess = errors.New("the old Redis process still answers")

// pauseFirstError is an error of PauseFirst's own connection (the client's
// pool was not used).
type pauseFirstError struct{ error }

func (e pauseFirstError) Unwrap() error { return e.error }

// retryEvery: while nothing answers, very quick: a client that retries as
// fast must not reach the new process first; quick while it loads (to hold
// it while it loads), slower while the old one still answers.
func retryEvery(err error) time.Duration {
	switch {
	case errors.Is(err, errOldProcess):
		return 250 * time.Millisecond
	case redisstate.IsUnreachable(err):
		return 2 * time.Millisecond
	}
	return 50 * time.Millisecond
}

// tryHold pauses writes on whatever answers at c, and if it is a new process
// keeps them paused until it has loaded; otherwise it unpauses and errs.
// gone: the old process no longer answers there; the pause then goes out
// first, with the handshake (PauseFirst).
func (f *Flow) tryHold(ctx context.Context, c *redisstate.Client, oldRunID string, gone bool) (*heldProcess, error) {
	rdb := c.Redis()
	var h *heldProcess
	if gone {
		// Nothing answered a moment ago: what answers now is a new process
		// (an old one that still answered would have its writes held for a
		// moment, then released below).
		info, err := pauseFirstRace(ctx, c)
		if err != nil {
			return nil, pauseFirstError{err}
		}
		if oldRunID != "" && info["run_id"] == oldRunID {
			_ = rdb.Do(context.Background(), "CLIENT", "UNPAUSE").Err()
			return nil, errOldProcess
		}
		h = &heldProcess{c: c, from: time.Now(), stop: make(chan struct{}), persist: info}
	} else {
		// Which process answers, before pausing it: the old one (still
		// shutting down, its writes maybe still held by the cut) is left
		// alone. A write between this look and the pause is counted by
		// rdb_changes_since_last_save below.
		srv, err := c.Info(ctx, "server")
		if err != nil {
			return nil, err
		}
		if oldRunID != "" && srv["run_id"] == oldRunID {
			return nil, errOldProcess
		}
		if err := rdb.Do(ctx, "CLIENT", "PAUSE", holdFor.Milliseconds(), "WRITE").Err(); err != nil {
			return nil, err
		}
		h = &heldProcess{c: c, from: time.Now(), stop: make(chan struct{})}
		run := srv["run_id"]
		if srv, err = c.Info(ctx, "server"); err == nil {
			h.persist, err = c.Info(ctx, "persistence")
		}
		if err != nil || srv["run_id"] != run {
			_ = rdb.Do(context.Background(), "CLIENT", "UNPAUSE").Err()
			if err == nil {
				err = errors.New("the Redis process changed while being paused")
			}
			return nil, err
		}
		h.persist["run_id"] = run
	}
	run := h.persist["run_id"]
	var err error
	h.loading = h.persist["loading"] == "1" || h.persist["async_loading"] == "1"
	h.keep()
	if h.loading {
		left := time.Until(deadlineOf(ctx))
		if h.si, err = c.WaitReady(ctx, left, nil); err != nil {
			h.release()
			return nil, err
		}
		h.from = time.Now()
		if h.si.RunID != run { // it died while loading: the one now up is not held
			h.release()
			return nil, errors.New("the Redis process restarted while loading")
		}
		if h.persist, err = c.Info(ctx, "persistence"); err != nil {
			h.release()
			return nil, err
		}
	} else if h.si, err = c.ServerInfo(ctx); err != nil || h.si.RunID != run {
		h.release()
		if err == nil {
			err = errors.New("the Redis process changed while being paused")
		}
		return nil, err
	}
	h.writeCalls = -1
	if h.persist["aof_enabled"] == "1" {
		if n, err := c.WriteCalls(ctx); err == nil {
			h.writeCalls = n
		}
	}
	return h, nil
}

// pauseEvery is how often pauseFirstRace starts another attempt while the
// earlier ones wait for an answer to their connection.
var pauseEvery = 20 * time.Millisecond

// pauseFirstRace runs PauseFirst, starting another attempt every pauseEvery
// while the earlier ones are still connecting: a node that drops connections
// to a port while the container starts (seen on Docker 26) leaves a dial
// waiting for its SYN's retransmission, a second later, while a client that
// dials again meanwhile gets in first. The first attempt that holds the
// process wins; an attempt that fails when no other is pending ends the race.
func pauseFirstRace(ctx context.Context, c *redisstate.Client) (map[string]string, error) {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		info map[string]string
		err  error
	}
	res := make(chan result, 64)
	start := func() {
		go func() {
			info, err := c.PauseFirst(rctx, holdFor)
			res <- result{info, err}
		}()
	}
	start()
	pending := 1
	t := time.NewTicker(pauseEvery)
	defer t.Stop()
	for {
		select {
		case r := <-res:
			pending--
			if r.err == nil || pending == 0 {
				return r.info, r.err
			}
		case <-t.C:
			if pending < cap(res) {
				start()
				pending++
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func deadlineOf(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(time.Hour)
}

// keep renews the pause until release.
func (h *heldProcess) keep() {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		t := time.NewTicker(holdFor / 3)
		defer t.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-t.C:
				ctx, cancel := context.WithTimeout(context.Background(), holdFor/3)
				_ = h.c.Redis().Do(ctx, "CLIENT", "PAUSE", holdFor.Milliseconds(), "WRITE").Err()
				cancel()
			}
		}
	}()
}

// release unpauses writes and says for how long they were held.
func (h *heldProcess) release() time.Duration {
	h.once.Do(func() { close(h.stop) })
	h.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = h.c.Redis().Do(ctx, "CLIENT", "UNPAUSE").Err()
	return time.Since(h.from)
}

// checkHeld verifies the data of the service's Redis against before, with
// writes held: a new process (other than oldRunID), or with oldRunID "" the
// process the cut was taken on (cut gives its last save).
func (f *Flow) checkHeld(ctx context.Context, serviceID, oldRunID string, before *redisstate.Snapshot, cut *redisstate.CutInfo) checkOutcome {
	var out checkOutcome
	h, err := f.holdNew(ctx, serviceID, oldRunID)
	if err != nil {
		out.err, out.done = err, time.Now()
		return out
	}
	defer h.c.Close()
	out.ready, out.heldWhileLoading = h.from, h.loading
	out.clientWrites, _ = strconv.ParseInt(h.persist["rdb_changes_since_last_save"], 10, 64)
	if oldRunID != "" && h.writeCalls >= 0 && h.writeCalls < out.clientWrites {
		// A new process that replayed its AOF counts each replayed command
		// as a change; its command statistics count only clients' writes.
		out.clientWrites = h.writeCalls
	}
	tasks, _ := f.RunningTasks(ctx, serviceID) // the held process' task, if the check loses it
	out.rep, out.err = f.Verify(ctx, h.c, before)
	out.held = h.release()
	out.done = time.Now()
	f.say("Writes released on Redis process %s (held %s)", short(h.si.RunID), out.held.Round(time.Millisecond))
	if out.lostContact() && f.anyTaskFailed(ctx, tasks, lostTaskAfter) {
		// it crashed: a failure of the update, not a Redis out of reach
		out.taskFailed = true
		out.err = fmt.Errorf("its task failed during the check: %w", out.err)
	}
	switch {
	case oldRunID == "" && cut != nil:
		// the same process: exact if nothing was written (nor saved) since the cut
		out.exact = out.clientWrites == 0 && h.persist["rdb_last_save_time"] == strconv.FormatInt(cut.LastSaveTime, 10)
	default:
		out.exact = out.heldWhileLoading || out.clientWrites == 0
	}
	if oldRunID != "" && cut != nil && !cut.AOF && h.si.LastLoadKeys >= 0 && before.Summary != nil {
		// Keys of the cut whose TTL passed before the old process' shutdown
		// save are in no file to load: the compare's EXPIRED counts them
		// (with those expired at load or since), so the load proves a loss
		// only when loaded + expired falls short of the cut.
		expired := h.si.LastLoadExpired
		if out.rep != nil {
			expired = max(expired, out.rep.Count(redisstate.ClassExpired))
		}
		if got := h.si.LastLoadKeys + expired; got < before.Summary.Keys {
			out.loadShort = fmt.Sprintf("the new process loaded %d keys of the cut's %d, and only %d more had expired (rdb_last_load_keys_loaded)", h.si.LastLoadKeys, before.Summary.Keys, expired)
		}
	}
	return out
}

// syncWriter serialises the flow's log lines: the check of the new process
// runs while docker prints its progress.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
