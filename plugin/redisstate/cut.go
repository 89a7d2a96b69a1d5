package redisstate

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// CutOptions tunes Cut.
type CutOptions struct {
	// Pause is how long CLIENT PAUSE ... WRITE lasts unless Extend/Release is called.
	// It is the safety net if this process dies: writes resume by themselves. Default 60 s.
	Pause time.Duration
	// Background uses BGSAVE + polling instead of SAVE (SAVE blocks readers for the
	// duration of the save; BGSAVE only for the fork). With BeginCut the save runs while
	// the caller reads the paused dataset.
	Background bool
	// Progress, if set, receives human-readable wait messages ("saving: ...").
	Progress func(string)
	// External: the caller makes the save, by asking for the server's snapshot the way a
	// replica does (the server forks and saves its RDB file before sending it). BeginCut
	// only pauses; Saved then checks that save as it checks a BGSAVE.
	External bool
}

// CutInfo describes a durable, consistent point; stored in Summary.Cut.
type CutInfo struct {
	RunID        string        `json:"run_id"`
	RedisVersion string        `json:"redis_version"`
	Server       string        `json:"server,omitempty"` // "Redis 7.0.15", "Valkey 8.1.1" (ServerInfo.Describe)
	Method       string        `json:"method"`           // "save", "bgsave", "bgsave-running", "replication" (+ "+aof")
	PausedAt     time.Time     `json:"paused_at"`
	SavedAt      time.Time     `json:"saved_at"`
	SaveDuration time.Duration `json:"save_duration_ns"`
	LastSaveTime int64         `json:"rdb_last_save_time"`
	AOF          bool          `json:"aof_enabled"`
}

// CutHandle keeps writes paused. Release must be called on every path (defer it right after
// a successful Cut); it is idempotent and safe on nil.
type CutHandle struct {
	Info CutInfo
	c    *Client
	si   *ServerInfo
	say  func(string, ...any)

	saveStart time.Time
	bgsave    map[string]string // INFO persistence before our BGSAVE; nil: saved already
	saved     bool              // Saved succeeded

	mu       sync.Mutex
	released bool
	until    time.Time
}

// Cut pauses writes (CLIENT PAUSE <ms> WRITE, Redis 6.2+), makes the dataset durable with
// SAVE (or BGSAVE + poll, or waits for an already running BGSAVE), and records run_id and
// redis_version. Writes stay paused after Cut returns, until Release or the pause expires:
// take the fingerprint and stop the old task meanwhile, extending with Extend as needed.
// On error, writes are unpaused before returning.
func Cut(ctx context.Context, c *Client, opt CutOptions) (*CutHandle, error) {
	h, err := BeginCut(ctx, c, opt)
	if err != nil {
		return nil, err
	}
	if err := h.Saved(ctx); err != nil {
		return nil, err
	}
	return h, nil
}

// BeginCut is Cut up to the save: with opt.Background it returns as soon as BGSAVE has
// forked, so that the caller reads the paused dataset (which the save writes) while the
// child writes it; Saved then waits for the save and checks it. Without Background, or
// when a save already running made the dataset durable, the save is done on return (Saved
// only checks). If BGSAVE cannot start (no fork, another child, ACL), it saves with SAVE.
// On error, writes are unpaused before returning.
func BeginCut(ctx context.Context, c *Client, opt CutOptions) (h *CutHandle, err error) {
	if opt.Pause <= 0 {
		opt.Pause = 60 * time.Second
	}
	h = &CutHandle{c: c, say: func(f string, a ...any) {
		if opt.Progress != nil {
			opt.Progress(fmt.Sprintf(f, a...))
		}
	}}
	if err := h.pause(ctx, opt.Pause); err != nil {
		return nil, err
	}
	h.Info.PausedAt = time.Now().UTC()
	defer func() {
		if err != nil {
			err = h.releaseAfter(err)
			h = nil
		}
	}()

	if h.si, err = c.ServerInfo(ctx); err != nil {
		return h, err
	}
	h.Info.RunID, h.Info.RedisVersion, h.Info.Server = h.si.RunID, h.si.Version, h.si.Describe()
	p, err := c.Info(ctx, "persistence")
	if err != nil {
		return h, err
	}
	h.saveStart = time.Now()
	for attempt := 0; ; attempt++ {
		if p["rdb_bgsave_in_progress"] == "1" {
			h.say("waiting for the running background save to finish")
			if p, err = waitBgsave(ctx, c, p, h.say); err != nil {
				return h, err
			}
			if p["rdb_changes_since_last_save"] == "0" {
				h.Info.Method = "bgsave-running" // it saved the paused dataset
				return h, nil
			}
		}
		if opt.External {
			h.Info.Method, h.bgsave = "replication", p
			return h, nil
		}
		if !opt.Background {
			return h, h.save(ctx)
		}
		h.say("saving in the background (BGSAVE)")
		berr := c.rdb.BgSave(ctx).Err()
		if berr == nil {
			h.Info.Method, h.bgsave = "bgsave", p
			return h, nil
		}
		if derr := c.describe(berr); IsUnreachable(derr) {
			return h, fmt.Errorf("BGSAVE: %w", derr)
		}
		if !strings.Contains(berr.Error(), "already in progress") || attempt > 2 {
			h.say("BGSAVE could not start (%v): saving with SAVE", berr)
			return h, h.save(ctx)
		}
		// a save point's BGSAVE started since INFO: wait for it, then ours
		if p, err = c.Info(ctx, "persistence"); err != nil {
			return h, err
		}
	}
}

// save saves with SAVE (it blocks every client until written).
func (h *CutHandle) save(ctx context.Context) error {
	h.say("saving (SAVE)")
	if err := h.c.rdb.Save(ctx).Err(); err != nil {
		return saveErr(h.c, err)
	}
	h.Info.Method = "save"
	return nil
}

// releaseAfter unpauses writes after err.
func (h *CutHandle) releaseAfter(err error) error {
	if rerr := h.Release(context.Background()); rerr != nil {
		return fmt.Errorf("%w (and unpausing failed: %v)", err, rerr)
	}
	return err
}

// Saved waits for the save BeginCut started and checks that the dataset is durable as
// paused: the save succeeded (rdb_last_bgsave_status), it is ours that finished (no RDB
// child runs since our BGSAVE was acknowledged, rdb_last_save_time did not go back, and
// on 7.0+ rdb_saves advanced), no write reached Redis since (rdb_changes_since_last_save
// is 0), and with AOF on, the AOF is fsynced. It fills in Info. On error, writes are
// unpaused before returning.
func (h *CutHandle) Saved(ctx context.Context) (err error) {
	if h.saved {
		return nil
	}
	defer func() {
		if err != nil {
			err = h.releaseAfter(err)
		}
	}()
	var p map[string]string
	if before := h.bgsave; before != nil {
		if p, err = waitBgsave(ctx, h.c, before, h.say); err != nil {
			if errors.Is(err, errBgsaveFailed) {
				return errors.New("BGSAVE failed (rdb_last_bgsave_status:err): Redis could not write its RDB file; check the Redis log (disk space, permissions, data directory)")
			}
			return err
		}
		if last, last0 := infoInt(p, "rdb_last_save_time"), infoInt(before, "rdb_last_save_time"); last < last0 {
			return fmt.Errorf("the save that finished is not the cut's (rdb_last_save_time %d, before the cut's BGSAVE %d)", last, last0)
		}
	}
	h.Info.SaveDuration = time.Since(h.saveStart)
	if p, err = h.c.Info(ctx, "persistence"); err != nil {
		return err
	}
	if p["rdb_last_bgsave_status"] == "err" {
		return errors.New("Redis reports the last save failed (rdb_last_bgsave_status:err)")
	}
	if p["rdb_changes_since_last_save"] != "0" {
		return fmt.Errorf("writes happened after the save (rdb_changes_since_last_save:%s) although writes are paused", p["rdb_changes_since_last_save"])
	}
	h.Info.LastSaveTime = infoInt(p, "rdb_last_save_time")
	if p["aof_enabled"] == "1" {
		h.Info.AOF = true
		h.Info.Method += "+aof"
		if err := waitAOF(ctx, h.c, h.si, h.say); err != nil {
			return err
		}
	}
	h.Info.SavedAt = time.Now().UTC()
	h.saved = true
	return nil
}

func saveErr(c *Client, err error) error {
	if strings.Contains(err.Error(), "NOPERM") {
		return fmt.Errorf("the Redis user may not run SAVE (%v): the cut needs it (ACL SETUSER <user> +save)", err)
	}
	err = c.describe(err)
	if _, ok := err.(*ConnectError); ok {
		return fmt.Errorf("SAVE failed: %w", err)
	}
	return fmt.Errorf("SAVE failed (%v): Redis could not write its RDB file; check the Redis log (disk space, permissions, data directory)", err)
}

// errBgsaveFailed: the background save waited for ended in error.
var errBgsaveFailed = errors.New("background save failed (rdb_last_bgsave_status:err)")

// waitBgsave polls INFO persistence until no RDB child runs and the last save is ok.
// before is INFO persistence from before the save waited for: one running then
// (rdb_bgsave_in_progress:1), or one started after it (BGSAVE acknowledged, so its child
// ran); with rdb_saves (7.0+, counted when a save starts) the latter must have started.
func waitBgsave(ctx context.Context, c *Client, before map[string]string, say func(string, ...any)) (map[string]string, error) {
	savesBefore, haveSaves := before["rdb_saves"]
	haveSaves = haveSaves && before["rdb_bgsave_in_progress"] != "1"
	t0, said := time.Now(), time.Now()
	for {
		p, err := c.Info(ctx, "persistence")
		if err != nil {
			return nil, err
		}
		doneSaves := !haveSaves || p["rdb_saves"] != savesBefore
		if p["rdb_bgsave_in_progress"] == "0" && doneSaves {
			if p["rdb_last_bgsave_status"] != "ok" {
				return nil, errBgsaveFailed
			}
			return p, nil
		}
		if time.Since(said) > 2*time.Second {
			said = time.Now()
			say("waiting for the background save (%s so far)", time.Since(t0).Round(time.Second))
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the background save: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitAOF makes sure the AOF has everything written before the pause on disk. The new
// process loads only the AOF when appendonly is on.
func waitAOF(ctx context.Context, c *Client, si *ServerInfo, say func(string, ...any)) error {
	if si.AtLeast(7, 2) {
		say("waiting for the AOF fsync (WAITAOF)")
		res, err := c.rdb.Do(ctx, "WAITAOF", 1, 0, 10000).Slice()
		if err != nil {
			return fmt.Errorf("WAITAOF: %w", c.describe(err))
		}
		if len(res) > 0 {
			if n, _ := strconv.Atoi(fmt.Sprint(res[0])); n < 1 {
				return errors.New("the AOF was not fsynced within 10 s (WAITAOF)")
			}
		}
		return nil
	}
	// appendfsync everysec: give the background fsync two seconds, then check.
	say("waiting 2 s for the AOF fsync")
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(2 * time.Second):
	}
	for i := 0; i < 50; i++ {
		p, err := c.Info(ctx, "persistence")
		if err != nil {
			return err
		}
		if p["aof_last_write_status"] == "err" {
			return errors.New("Redis reports the AOF write failed (aof_last_write_status:err)")
		}
		if p["aof_pending_bio_fsync"] == "0" || p["aof_pending_bio_fsync"] == "" {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("the AOF fsync is still pending after 7 s (aof_pending_bio_fsync)")
}

func (h *CutHandle) pause(ctx context.Context, d time.Duration) error {
	ms := d.Milliseconds()
	if ms < 1 {
		ms = 1
	}
	if err := h.c.rdb.Do(ctx, "CLIENT", "PAUSE", ms, "WRITE").Err(); err != nil {
		if strings.Contains(err.Error(), "syntax error") || strings.Contains(err.Error(), "timeout is not") {
			return fmt.Errorf("CLIENT PAUSE WRITE is not supported by this Redis (needs 6.2+): %v", err)
		}
		return fmt.Errorf("CLIENT PAUSE: %w", h.c.describe(err))
	}
	h.until = time.Now().Add(d)
	return nil
}

// Extend keeps writes paused for d from now (CLIENT PAUSE again; Redis keeps the later
// end time). Call it before the pause runs out while waiting for the old task to stop.
func (h *CutHandle) Extend(ctx context.Context, d time.Duration) error {
	if h == nil {
		return errors.New("no cut")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.released {
		return errors.New("cut already released")
	}
	return h.pause(ctx, d)
}

// PausedUntil is when the current pause ends by itself.
func (h *CutHandle) PausedUntil() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.until
}

// Exited records that the paused process has exited (its task stopped): its pause died
// with it, so Release sends nothing — a new connection would reach whatever process
// answers at the address now.
func (h *CutHandle) Exited() {
	if h == nil {
		return
	}
	h.mu.Lock()
	h.released = true
	h.mu.Unlock()
}

// Release unpauses writes (CLIENT UNPAUSE). Idempotent, nil-safe; uses its own timeout so
// it works with an already cancelled context. A Redis that went away is not an error (its
// pause died with it).
func (h *CutHandle) Release(ctx context.Context) error {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.released {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := h.c.rdb.Do(ctx, "CLIENT", "UNPAUSE").Err()
	if err != nil {
		if IsUnreachable(h.c.describe(err)) {
			h.released = true
			return nil
		}
		return fmt.Errorf("CLIENT UNPAUSE: %w", h.c.describe(err))
	}
	h.released = true
	return nil
}
