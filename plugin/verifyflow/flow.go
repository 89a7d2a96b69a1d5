// Package verifyflow is the proof that a Swarm service's Redis data survived
// an operation, whole: `docker stateful update --verify` (Update: locate →
// preflight → cut → send → wait for the old task → await the new process →
// verify → Decide → roll back → verify again), `snapshot` (SnapshotService)
// and `verify` (VerifyService). The steps find the service's Redis and say
// why there, connect (password from REDISCLI_AUTH or a file only), take a
// durable cut with writes paused until the old task has stopped, and
// fingerprint; the Redis work is plugin/redisstate's. docker's convergence
// wait and the human output are injected; errors carry their exit status
// (plugin/exitcode). No cobra here.
package verifyflow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/locate"
	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// API is the part of the Docker API the flow uses (client.APIClient has it).
type API interface {
	locate.API
	ServiceInspectWithRaw(ctx context.Context, serviceID string, options swarm.ServiceInspectOptions) (swarm.Service, []byte, error)
	TaskInspectWithRaw(ctx context.Context, taskID string) (swarm.Task, []byte, error)
	ServiceUpdate(ctx context.Context, serviceID string, version swarm.Version, service swarm.ServiceSpec, options swarm.ServiceUpdateOptions) (swarm.ServiceUpdateResponse, error)
}

// Options are the user's choices (the command's flags).
type Options struct {
	RedisURL     string // "" = find the service's published Redis port
	CACert       string // for rediss://
	ClientCert   string // client certificate and key for rediss:// (tls-auth-clients yes)
	ClientKey    string
	TLSInsecure  bool   // skip verifying the server's certificate (warned about)
	RedisPort    uint32 // container port of Redis, 0 = 6379
	PasswordFile string // "" = REDISCLI_AUTH
	Getenv       func(string) string
	StateDir     string // "" = $XDG_STATE_HOME/docker-stateful
	VerifyKeys   []string
	MaxKeys      int // keys listed per class, 0 = 20
	// Dial makes Redis connections, nil = direct (sshdial.Fallback for ssh:// hosts).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// ConnectTimeout bounds the first connection (Redis is expected up), default 15 s.
	ConnectTimeout time.Duration
	// Timeout bounds each wait after an update: the new task, its Redis loading,
	// the old task stopping beyond its grace period. Default 5 minutes.
	Timeout time.Duration
	// StreamCut takes update --verify's cut through the server's snapshot for
	// a replica (BeginStreamCut: the fingerprint is read after sending) instead
	// of BGSAVE and a scan of the paused dataset before sending; it falls back
	// to the latter when the server does not serve it.
	StreamCut bool
}

// Flow runs the steps and prints what it does and waits for to Log.
type Flow struct {
	API API
	Opt Options
	Log io.Writer

	store *redisstate.Store
	// pauseFor replaces PauseFor in tests (short pauses).
	pauseFor func(grace time.Duration) time.Duration
}

// New checks the options that need no I/O (URL, password file, state dir), so
// that bad input fails before anything is contacted.
func New(api API, opt Options, log io.Writer) (*Flow, error) {
	if opt.ConnectTimeout <= 0 {
		opt.ConnectTimeout = 15 * time.Second
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 5 * time.Minute
	}
	if opt.MaxKeys <= 0 {
		opt.MaxKeys = 20
	}
	if opt.RedisURL != "" {
		if _, err := redisstate.ParseURL(opt.RedisURL); err != nil {
			return nil, fmt.Errorf("--redis-url: %w", err)
		}
	} else if opt.CACert != "" || opt.ClientCert != "" || opt.ClientKey != "" || opt.TLSInsecure {
		return nil, errors.New("--redis-cacert, --redis-cert, --redis-key and --redis-tls-insecure need a rediss:// --redis-url")
	}
	if (opt.ClientCert == "") != (opt.ClientKey == "") {
		return nil, errors.New("--redis-cert and --redis-key go together")
	}
	var probe redisstate.Options
	if err := probe.LoadPassword(opt.Getenv, opt.PasswordFile); err != nil {
		return nil, fmt.Errorf("--redis-password-file: %w", err)
	}
	st, err := redisstate.OpenStore(opt.StateDir)
	if err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	if log != nil {
		log = &syncWriter{w: log}
	}
	f := &Flow{API: api, Opt: opt, Log: log, store: st}
	if opt.TLSInsecure {
		f.say("warning: --redis-tls-insecure: the Redis server's certificate is not verified")
	}
	return f, nil
}

// Store is where snapshots are kept.
func (f *Flow) Store() *redisstate.Store { return f.store }

func (f *Flow) say(format string, a ...any) {
	if f.Log != nil {
		fmt.Fprintf(f.Log, format+"\n", a...)
	}
}

// Endpoint is where the service's Redis is reached, and why there.
type Endpoint struct {
	Addr   string `json:"addr"`
	Reason string `json:"reason"`
}

// Endpoint finds the Redis of svc: --redis-url, else its published port.
func (f *Flow) Endpoint(ctx context.Context, svc swarm.Service) (Endpoint, error) {
	if f.Opt.RedisURL != "" {
		o, err := redisstate.ParseURL(f.Opt.RedisURL)
		if err != nil {
			return Endpoint{}, err
		}
		return Endpoint{Addr: o.Addr, Reason: "--redis-url"}, nil
	}
	ep, err := locate.Redis(ctx, f.API, svc, f.Opt.RedisPort)
	if err != nil {
		return Endpoint{}, err
	}
	return Endpoint{Addr: ep.Addr, Reason: ep.Reason}, nil
}

func (f *Flow) clientOptions(addr string) (redisstate.Options, error) {
	var o redisstate.Options
	if f.Opt.RedisURL != "" {
		var err error
		if o, err = redisstate.ParseURL(f.Opt.RedisURL); err != nil {
			return o, err
		}
	} else {
		o.Addr = addr
	}
	o.CAFile = f.Opt.CACert
	o.CertFile, o.KeyFile, o.TLSInsecure = f.Opt.ClientCert, f.Opt.ClientKey, f.Opt.TLSInsecure
	o.Dialer = f.Opt.Dial
	if err := o.LoadPassword(f.Opt.Getenv, f.Opt.PasswordFile); err != nil {
		return o, err
	}
	return o, nil
}

// Connect reaches the Redis of svc and waits (up to ConnectTimeout) until it
// has loaded its dataset. A refused password fails at once.
func (f *Flow) Connect(ctx context.Context, svc swarm.Service) (*redisstate.Client, *redisstate.ServerInfo, Endpoint, error) {
	ep, err := f.Endpoint(ctx, svc)
	if err != nil {
		return nil, nil, ep, err
	}
	f.say("Redis of service %s: %s (%s)", svc.Spec.Name, ep.Addr, ep.Reason)
	c, si, err := f.dial(ctx, ep.Addr, "", f.Opt.ConnectTimeout, true)
	return c, si, ep, err
}

// dial connects to addr and waits until Redis has loaded its dataset (and,
// with oldRunID, is another process). failFast gives up at once when nothing
// listens there (before an update, the service's Redis is expected up).
func (f *Flow) dial(ctx context.Context, addr, oldRunID string, deadline time.Duration, failFast bool) (*redisstate.Client, *redisstate.ServerInfo, error) {
	o, err := f.clientOptions(addr)
	if err != nil {
		return nil, nil, err
	}
	c, err := redisstate.NewClient(o)
	if err != nil {
		return nil, nil, err
	}
	if failFast {
		pctx, cancel := context.WithTimeout(ctx, redisstate.DefaultDialTimeout+time.Second)
		err := c.Ping(pctx)
		cancel()
		if err != nil && (redisstate.IsUnreachable(err) || redisstate.IsAuthError(err)) {
			c.Close()
			return nil, nil, err
		}
	}
	p := newThrottle(f.Log, 2*time.Second)
	progress := func(st redisstate.WaitStatus) {
		p.say(st.Waiting, "  %s (%s)", st, st.Elapsed.Round(time.Second))
	}
	var si *redisstate.ServerInfo
	if oldRunID == "" {
		si, err = c.WaitReady(ctx, deadline, progress)
	} else {
		si, err = c.WaitRestarted(ctx, oldRunID, deadline, progress)
	}
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, si, nil
}

// Refused is returned by Preflight when the data cannot survive the update.
type Refused struct{ Findings []redisstate.Finding }

func (r *Refused) Error() string {
	msgs := make([]string, len(r.Findings))
	for i, fd := range r.Findings {
		msgs[i] = fd.String()
	}
	return strings.Join(msgs, "; ")
}

// Preflight checks Redis against the spec the service will run (next): its
// data directory must be on one of next's mounts, AOF must not be turned on
// with the data only in the RDB; the stop grace period is the running task's
// (cur), the one its Redis gets to save on shutdown. It prints the warnings;
// refusals come back as *Refused, for the caller to print one per line.
func (f *Flow) Preflight(ctx context.Context, c *redisstate.Client, cur, next swarm.ServiceSpec) (*redisstate.PreflightResult, error) {
	pre, err := redisstate.Preflight(ctx, c, redisstate.PreflightInput{
		MountTargets:  MountTargets(next),
		StopGrace:     stateful.StopGracePeriod(cur),
		NewAppendOnly: NewAppendOnly(next),
	})
	if err != nil {
		return nil, err
	}
	for _, w := range pre.Warnings {
		f.say("warning: %s", w)
	}
	if !pre.OK() {
		return pre, &Refused{Findings: pre.Refusals}
	}
	return pre, nil
}

// Cut keeps writes paused from a durable save until Release: a keeper renews
// the pause (PauseFor(grace) each time) so that it survives a slow fingerprint
// and the old task's shutdown, and lapses by itself within that time if this
// process dies. A renewal that fails (-BUSY while another client's script
// runs, a dropped connection) is retried until it succeeds or the cut is
// released; Check tells whether the cut is still exact. Release is
// idempotent; it also runs when ctx is cancelled.
type Cut struct {
	Info  redisstate.CutInfo
	h     *redisstate.CutHandle
	c     *redisstate.Client
	lock  *cutLock
	stop  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup
	pause time.Duration

	mu       sync.Mutex
	sent     bool  // the update was sent: the old Redis shuts down, renewals fail quietly
	lapsed   bool  // the pause ran out before a renewal succeeded
	renewErr error // the last failed renewal, nil once one succeeds again
	why      string
}

// cutRetry is how soon a failed renewal of the pause is tried again.
var cutRetry = 200 * time.Millisecond

// StartCut pauses writes (CLIENT PAUSE WRITE) and saves (SAVE): the cut is
// durable on return.
func (f *Flow) StartCut(ctx context.Context, c *redisstate.Client, grace time.Duration) (*Cut, error) {
	start := time.Now()
	saving := make(chan struct{})
	go func() { // SAVE blocks: say that it still runs
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-saving:
				return
			case <-t.C:
				f.say("  still saving the dataset to disk (%s so far, writes paused)", time.Since(start).Round(time.Second))
			}
		}
	}()
	cut, err := f.beginCut(ctx, c, grace, cutSave)
	if err == nil {
		if err = cut.h.Saved(ctx); err != nil {
			_ = cut.Release()
		}
	}
	close(saving)
	if err != nil {
		return nil, err
	}
	cut.Info = cut.h.Info
	f.say("Saved: %s in %s (run_id %s, %s)", cut.Info.Method, time.Since(start).Round(time.Millisecond), short(cut.Info.RunID), cut.Info.Describe())
	return cut, nil
}

// BeginCut pauses writes (CLIENT PAUSE WRITE) and starts the save in the
// background (BGSAVE): SnapshotAtCut fingerprints the paused dataset while
// it is written, and makes sure the save succeeded.
func (f *Flow) BeginCut(ctx context.Context, c *redisstate.Client, grace time.Duration) (*Cut, error) {
	return f.beginCut(ctx, c, grace, cutBackground)
}

// How a cut saves: SAVE, BGSAVE while the caller fingerprints, or the server's
// snapshot for a replica (BeginStreamCut).
type cutMode int

const (
	cutSave cutMode = iota
	cutBackground
	cutExternal
)

func (f *Flow) beginCut(ctx context.Context, c *redisstate.Client, grace time.Duration, mode cutMode) (*Cut, error) {
	pause := PauseFor(grace)
	if f.pauseFor != nil {
		pause = f.pauseFor(grace)
	}
	how := map[cutMode]string{cutSave: "saving", cutBackground: "saving in the background while fingerprinting",
		cutExternal: "asking for the server's snapshot as a replica does (it saves, then sends it)"}[mode]
	f.say("Pausing writes (CLIENT PAUSE %s WRITE, renewed until the old task has stopped) and %s", pause, how)
	lock, err := lockCut(ctx, c)
	if err != nil {
		return nil, err
	}
	h, err := redisstate.BeginCut(ctx, c, redisstate.CutOptions{Pause: pause, Background: mode == cutBackground, External: mode == cutExternal, Progress: func(s string) { f.say("  %s", s) }})
	if err != nil {
		lock.unlock()
		return nil, err
	}
	cut := &Cut{Info: h.Info, h: h, c: c, lock: lock, stop: make(chan struct{}), pause: pause}
	renew := pause / 3
	if renew > 10*time.Second {
		renew = 10 * time.Second
	}
	cut.wg.Add(1)
	go cut.keep(ctx, f, renew)
	return cut, nil
}

// keep renews the pause every interval, retrying a failed renewal every
// cutRetry, until the cut is released or ctx is cancelled (Ctrl-C: unpause
// now).
func (c *Cut) keep(ctx context.Context, f *Flow, every time.Duration) {
	defer c.wg.Done()
	next := every
	for {
		select {
		case <-c.stop:
			return
		case <-ctx.Done():
			_ = c.release("interrupted", false)
			return
		case <-time.After(next):
		}
		ectx, cancel := context.WithTimeout(context.Background(), every)
		err := c.h.Extend(ectx, c.pause)
		cancel()
		c.mu.Lock()
		switch {
		case err == nil:
			if c.renewErr != nil && !c.sent {
				f.say("  write pause renewed again after: %v", c.renewErr)
			}
			c.renewErr, next = nil, every
		default:
			if c.renewErr == nil && !c.sent {
				f.say("  renewing the write pause failed (%v): retrying", err)
			}
			if time.Now().After(c.h.PausedUntil()) {
				c.lapsed = true
			}
			c.renewErr, next = err, cutRetry
		}
		c.mu.Unlock()
	}
}

// Check tells whether the cut is still exact: no write has reached Redis
// since the save (rdb_changes_since_last_save is 0). A pause that lapsed
// while its renewal failed lets writes through that the fingerprint did not
// see. -BUSY answers (a script runs) are retried for up to 10 s.
func (c *Cut) Check(ctx context.Context) error {
	c.mu.Lock()
	lapsed, renewErr := c.lapsed, c.renewErr
	c.mu.Unlock()
	var p map[string]string
	var err error
	for start := time.Now(); ; {
		p, err = c.c.Info(ctx, "persistence")
		if err == nil || !strings.Contains(err.Error(), "BUSY") || time.Since(start) > 10*time.Second {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(cutRetry):
		}
	}
	if err != nil {
		return fmt.Errorf("cannot check that the cut is still exact: %w", err)
	}
	if n := p["rdb_changes_since_last_save"]; n != "0" {
		why := "although writes are paused"
		if lapsed {
			why = "the write pause ran out while renewing it failed"
			if renewErr != nil {
				why += fmt.Sprintf(" (%v)", renewErr)
			}
		}
		return fmt.Errorf("the cut is no longer exact: %s change(s) reached Redis after the save (rdb_changes_since_last_save:%s; %s)", n, n, why)
	}
	return nil
}

// Release unpauses writes (a Redis that is gone counts as released) and stops
// the keeper. Safe on nil and more than once.
func (c *Cut) Release() error { return c.release("", true) }

// ReleaseBecause is Release, recording why writes resume (Why says it).
func (c *Cut) ReleaseBecause(why string) error { return c.release(why, true) }

// releaseExited is ReleaseBecause once the paused process has exited: its
// pause died with it, and nothing is sent — a connection now would reach
// whatever answers at its address (the new task's Redis), and only after
// the SYN retransmits of a port between two containers (1 s).
func (c *Cut) releaseExited(why string) error {
	c.h.Exited()
	return c.release(why, true)
}

// release unpauses; wait: for the keeper to end (not when it is the caller).
func (c *Cut) release(why string, wait bool) error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	if c.why == "" {
		c.why = why
	}
	c.mu.Unlock()
	c.once.Do(func() { close(c.stop) })
	err := c.h.Release(context.Background())
	if err == nil {
		c.lock.unlock()
	}
	if wait {
		c.wg.Wait()
	}
	return err
}

// Sent records that the update was sent: the old Redis is about to shut
// down, so renewals that fail from now on are expected and not reported.
func (c *Cut) Sent() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.sent = true
	c.mu.Unlock()
}

// Why is the reason writes were resumed, as first given ("" when none was).
func (c *Cut) Why() string {
	if c == nil {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.why
}

// SnapshotAtCut fingerprints the dataset that cut holds paused into the
// store, with scan progress, while its save runs; it returns once both are
// done and the save is known good (else writes are resumed and the error
// says why; Release is still safe).
func (f *Flow) SnapshotAtCut(ctx context.Context, c *redisstate.Client, service string, cut *Cut) (*redisstate.Snapshot, error) {
	snap, err := redisstate.TakeSnapshotAtCut(ctx, c, f.store, service, cut.h, f.fpOptions("Fingerprinting"))
	if err != nil {
		return nil, err
	}
	cut.Info = cut.h.Info
	i := cut.Info
	f.say("Saved: %s in %s (run_id %s, %s)", i.Method, i.SaveDuration.Round(time.Millisecond), short(i.RunID), i.Describe())
	s := snap.Summary
	f.say("Snapshot %s: %d keys, digest %s (%s)", snap.ID, s.Keys, s.Digest, typeCounts(s.Types))
	return snap, nil
}

func (f *Flow) fpOptions(what string) redisstate.FingerprintOptions {
	return redisstate.FingerprintOptions{
		ProgressEvery: 2 * time.Second,
		Progress: func(p redisstate.ScanProgress) {
			if p.Done {
				f.say("  %s: %d keys scanned in %s (%.0f keys/s)", what, p.Keys, p.Elapsed.Round(time.Millisecond), p.KeysPerSec)
				return
			}
			f.say("  %s: %d keys scanned so far (%.0f keys/s)", what, p.Keys, p.KeysPerSec)
		},
	}
}

// Verify fingerprints the running dataset and compares it with before. The
// after-snapshot is removed once compared (the cut is what is kept).
func (f *Flow) Verify(ctx context.Context, c *redisstate.Client, before *redisstate.Snapshot) (*redisstate.Report, error) {
	rep, after, err := redisstate.VerifyAgainst(ctx, c, f.store, before, f.fpOptions("Verifying"),
		redisstate.CompareOptions{MaxKeys: f.Opt.MaxKeys, MustExist: f.Opt.VerifyKeys})
	if after != nil {
		_ = f.store.Discard(after)
	}
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	return rep, nil
}

// LatestCut is the newest snapshot of service taken at a cut (by snapshot or
// update --verify).
func (f *Flow) LatestCut(service string) (*redisstate.Snapshot, error) {
	snap, err := f.store.LatestCut(service)
	if errors.Is(err, redisstate.ErrNotFound) {
		return nil, fmt.Errorf("no snapshot of service %s in %s: take one with `docker stateful snapshot %s`", service, f.store.StateDir, service)
	}
	return snap, err
}

// Prune keeps the newest keep snapshots of service.
func (f *Flow) Prune(service string, keep int) { _, _ = f.store.Prune(service, keep) }

// RunningTasks are the IDs of the service's tasks that run now.
func (f *Flow) RunningTasks(ctx context.Context, serviceID string) ([]string, error) {
	tasks, err := f.API.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(
		filters.Arg("service", serviceID), filters.Arg("desired-state", "running"))})
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, t := range tasks {
		if t.Status.State == swarm.TaskStateRunning {
			ids = append(ids, t.ID)
		}
	}
	return ids, nil
}

// ErrNotReplaced is returned by WaitStopped when Swarm keeps the task running
// (its desired state stays running): the update does not replace it.
var ErrNotReplaced = errors.New("the update does not replace the running task")

// NotReplacedAfter is how long WaitStopped lets a task keep its desired state
// "running" before concluding that the update does not replace it.
var NotReplacedAfter = 15 * time.Second

// WaitStopped waits until every task of ids has stopped (its Redis has saved
// and exited), up to deadline. Only a task in a stopped state or one the
// daemon no longer knows counts as stopped: any other error (the swarm has
// no leader for a moment, the daemon does not answer) is retried until the
// deadline, since writes must stay paused while the old Redis may still run.
// A cancelled ctx (Ctrl-C) returns ctx's error, never "did not stop".
func (f *Flow) WaitStopped(ctx context.Context, ids []string, deadline time.Duration) error {
	_, err := f.waitStopped(ctx, ids, deadline)
	return err
}

// waitStopped is WaitStopped; exited: every task ended in a state its node
// reports once the container has exited (complete, shutdown, failed,
// rejected) or is gone, not orphaned (its node may be down, the container
// still running).
func (f *Flow) waitStopped(ctx context.Context, ids []string, deadline time.Duration) (exited bool, err error) {
	start := time.Now()
	dctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	p := newThrottle(f.Log, 2*time.Second)
	for {
		var running []string
		kept := true // every remaining task is still desired running
		exited = true
		for _, id := range ids {
			t, _, err := f.API.TaskInspectWithRaw(dctx, id)
			if err != nil {
				if dctx.Err() != nil {
					running = append(running, short(id)+" (unknown)")
					break
				}
				if cerrdefs.IsNotFound(err) {
					continue // gone: stopped
				}
				running = append(running, fmt.Sprintf("%s (cannot inspect it: %v)", short(id), err))
				kept = false
				continue
			}
			if !TaskStopped(t.Status.State) {
				running = append(running, short(id)+" "+string(t.Status.State))
				if t.DesiredState != "" && t.DesiredState != swarm.TaskStateRunning {
					kept = false
				}
			} else if s := t.Status.State; s == swarm.TaskStateOrphaned || s == swarm.TaskStateRemove {
				exited = false
			}
		}
		if ctx.Err() != nil {
			return false, fmt.Errorf("waiting for the old task to stop: %w", ctx.Err())
		}
		if len(running) == 0 && dctx.Err() == nil {
			f.say("Old task stopped after %s", time.Since(start).Round(100*time.Millisecond))
			return exited, nil
		}
		if kept && time.Since(start) > NotReplacedAfter && dctx.Err() == nil {
			return false, ErrNotReplaced
		}
		p.say("stop", "  waiting for the old task to stop and its server to exit: %s (%s)", strings.Join(running, ", "), time.Since(start).Round(time.Second))
		select {
		case <-ctx.Done():
			return false, fmt.Errorf("waiting for the old task to stop: %w", ctx.Err())
		case <-dctx.Done():
			return false, &NotStoppedError{After: deadline, Still: running}
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// NotStoppedError: the old task was not seen stopped within the bound.
type NotStoppedError struct {
	After time.Duration
	Still []string // the tasks not seen stopped, and why
}

func (e *NotStoppedError) Error() string {
	return fmt.Sprintf("the old task did not stop within %s (%s)", e.After, strings.Join(e.Still, ", "))
}

// AwaitNew finds the Redis of the service's (new) task and waits until a
// process other than oldRunID answers there with its dataset loaded.
func (f *Flow) AwaitNew(ctx context.Context, serviceID, oldRunID string) (*redisstate.Client, *redisstate.ServerInfo, Endpoint, error) {
	start := time.Now()
	ep, svcName, err := f.locateNew(ctx, serviceID, f.Opt.Timeout)
	if err != nil {
		return nil, nil, ep, err
	}
	if oldRunID != "" {
		f.say("Redis of the new task: %s (%s); waiting for a new Redis process (run_id ≠ %s) with its dataset loaded", ep.Addr, ep.Reason, short(oldRunID))
	} else {
		f.say("Redis of service %s: %s (%s)", svcName, ep.Addr, ep.Reason)
	}
	left := f.Opt.Timeout - time.Since(start)
	if left < 10*time.Second {
		left = 10 * time.Second
	}
	c, si, err := f.dial(ctx, ep.Addr, oldRunID, left, false)
	if err != nil {
		return nil, nil, ep, err
	}
	if oldRunID != "" {
		f.say("New Redis process %s (%s) is ready after %s: %d keys loaded", short(si.RunID), si.Describe(), time.Since(start).Round(100*time.Millisecond), si.Keys)
	}
	return c, si, ep, nil
}

// locateNew finds where the service's (new) task's Redis answers, waiting up
// to timeout for a task to run; it returns the service's name too.
func (f *Flow) locateNew(ctx context.Context, serviceID string, timeout time.Duration) (Endpoint, string, error) {
	start := time.Now()
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	p := newThrottle(f.Log, 2*time.Second)
	var ep Endpoint
	var last error
	svcName := serviceID
	for {
		svc, _, err := f.API.ServiceInspectWithRaw(dctx, serviceID, swarm.ServiceInspectOptions{})
		if err == nil {
			svcName = svc.Spec.Name
			ep, err = f.Endpoint(dctx, svc)
		}
		if err == nil {
			return ep, svcName, nil
		}
		if dctx.Err() != nil {
			if last == nil || ctx.Err() != nil {
				last = err
			}
			return ep, svcName, fmt.Errorf("cannot find the new task's Redis within %s: %w", timeout, last)
		}
		last = err
		p.say("locate", "  waiting for the new task: %v (%s)", err, time.Since(start).Round(time.Second))
		select {
		case <-dctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Rollback asks the daemon to roll the service back to its previous spec
// (what `docker service rollback` sends), whoever made the last update.
func (f *Flow) Rollback(ctx context.Context, serviceID string) (swarm.Service, error) {
	return f.rollback(ctx, serviceID, nil)
}

// SupersededError: the service is no longer as the update of this run left
// it (someone else updated it, or swarm rolled it back itself), so its
// previous spec is not the one this run replaced: rolling back would undo
// someone else's update or restore an unchecked spec.
type SupersededError struct {
	Service string
	Why     string
}

func (e *SupersededError) Error() string {
	return fmt.Sprintf("service %s was changed after this run's update (%s): not rolling back over it", e.Service, e.Why)
}

// RollbackOurs is Rollback, only while the service is as this run left it:
// its previous spec is replaced (the spec this run's update replaced) and,
// when sent is known (the service inspected right after the update was
// sent), its spec is still the one sent. Otherwise *SupersededError.
func (f *Flow) RollbackOurs(ctx context.Context, serviceID string, replaced swarm.ServiceSpec, sent *swarm.Service) (swarm.Service, error) {
	return f.rollback(ctx, serviceID, func(svc swarm.Service) error {
		switch {
		case sent != nil && !reflect.DeepEqual(svc.Spec, sent.Spec):
			return &SupersededError{Service: svc.Spec.Name, Why: fmt.Sprintf("its spec is no longer the one this run sent; version %d, was %d", svc.Version.Index, sent.Version.Index)}
		case sent != nil && svc.PreviousSpec != nil && sent.PreviousSpec != nil && !reflect.DeepEqual(*svc.PreviousSpec, *sent.PreviousSpec):
			return &SupersededError{Service: svc.Spec.Name, Why: "its previous spec is no longer the one this run replaced"}
		case sent == nil && svc.PreviousSpec != nil && !reflect.DeepEqual(*svc.PreviousSpec, replaced):
			return &SupersededError{Service: svc.Spec.Name, Why: "its previous spec is not the one this run replaced"}
		}
		return nil
	})
}

func (f *Flow) rollback(ctx context.Context, serviceID string, ours func(swarm.Service) error) (swarm.Service, error) {
	svc, _, err := f.API.ServiceInspectWithRaw(ctx, serviceID, swarm.ServiceInspectOptions{})
	if err != nil {
		return svc, err
	}
	if svc.PreviousSpec == nil {
		return svc, fmt.Errorf("service %s has no previous spec to roll back to", svc.Spec.Name)
	}
	if ours != nil {
		if err := ours(svc); err != nil {
			return svc, err
		}
	}
	// The version makes the daemon refuse the rollback if the service
	// changes between this inspect and the rollback (out of sequence).
	resp, err := f.API.ServiceUpdate(ctx, svc.ID, svc.Version, svc.Spec, swarm.ServiceUpdateOptions{Rollback: "previous"})
	if err != nil {
		return svc, fmt.Errorf("rollback of service %s: %w", svc.Spec.Name, err)
	}
	for _, w := range resp.Warnings {
		f.say("warning: %s", w)
	}
	return svc, nil
}

// NodeNotReady: the node that runs the old task cannot run a new one.
type NodeNotReady struct{ Node, State, Availability string }

func (e *NodeNotReady) Error() string {
	return fmt.Sprintf("the node that runs the task, %s, is %s and %s: the update would stop the task and its replacement could not start there", e.Node, e.State, e.Availability)
}

// NodeReady checks, right before the update is sent, that the node of the
// task taskID is Ready and Active (else *NodeNotReady).
func (f *Flow) NodeReady(ctx context.Context, taskID string) error {
	t, _, err := f.API.TaskInspectWithRaw(ctx, taskID)
	if err != nil {
		return fmt.Errorf("task %s: %w", short(taskID), err)
	}
	if t.NodeID == "" {
		return nil
	}
	n, _, err := f.API.NodeInspectWithRaw(ctx, t.NodeID)
	if err != nil {
		return fmt.Errorf("node %s of task %s: %w", short(t.NodeID), short(taskID), err)
	}
	if n.Status.State != swarm.NodeStateReady || n.Spec.Availability != swarm.NodeAvailabilityActive {
		name := n.Description.Hostname
		if name == "" {
			name = short(n.ID)
		}
		return &NodeNotReady{Node: name, State: string(n.Status.State), Availability: string(n.Spec.Availability)}
	}
	return nil
}

func typeCounts(m map[string]int64) string {
	var parts []string
	for _, t := range []string{"string", "hash", "list", "set", "zset", "stream"} {
		if n := m[t]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, t))
		}
	}
	for t, n := range m {
		switch t {
		case "string", "hash", "list", "set", "zset", "stream":
		default:
			if n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", n, t))
			}
		}
	}
	if len(parts) == 0 {
		return "empty"
	}
	return strings.Join(parts, ", ")
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// throttle prints a progress line at most every interval for the same kind of
// wait, and at once when the kind changes.
type throttle struct {
	w        io.Writer
	every    time.Duration
	lastKind string
	last     time.Time
}

func newThrottle(w io.Writer, every time.Duration) *throttle { return &throttle{w: w, every: every} }

func (t *throttle) say(kind, format string, a ...any) {
	if t.w == nil {
		return
	}
	now := time.Now()
	if kind == t.lastKind && now.Sub(t.last) < t.every {
		return
	}
	t.lastKind, t.last = kind, now
	fmt.Fprintf(t.w, format+"\n", a...)
}
