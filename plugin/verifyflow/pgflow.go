package verifyflow

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/finding"
	"github.com/docker-stateful/docker-stateful/plugin/locate"
	"github.com/docker-stateful/docker-stateful/plugin/pgstate"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// PGOptions are the user's choices for PostgreSQL (the command's flags);
// the rest (state dir, timeouts, Getenv) is Flow's Options.
type PGOptions struct {
	Engine       string // --engine: "" = detect from the service
	URL          string // --pg-url: "" = the service's published port for 5432
	PasswordFile string // "" = PGPASSWORD, else a .pgpass-style file (the driver's)
}

// PGFlow is Flow for a PostgreSQL service: the same Docker steps (tasks,
// rollback, say), the database work of plugin/pgstate.
type PGFlow struct {
	*Flow
	PG    PGOptions
	store *pgstate.Store
	// My is the MariaDB flow snapshot and verify dispatch to (nil: not wired).
	My *MYFlow
}

// PG checks the PostgreSQL options that need no I/O (URL, password file,
// --engine) and returns the PostgreSQL flow sharing f's API, options and log.
func (f *Flow) PG(opt PGOptions) (*PGFlow, error) {
	if err := CheckEngine(opt.Engine); err != nil {
		return nil, err
	}
	var probe pgstate.Options
	if opt.URL != "" {
		var err error
		if probe, err = pgstate.ParseURL(opt.URL); err != nil {
			return nil, fmt.Errorf("--pg-url: %w", err)
		}
	}
	if err := probe.LoadPassword(f.Opt.Getenv, opt.PasswordFile); err != nil {
		return nil, fmt.Errorf("--pg-password-file: %w", err)
	}
	st, err := pgstate.OpenStore(f.Opt.StateDir)
	if err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	return &PGFlow{Flow: f, PG: opt, store: st}, nil
}

// Store is where PostgreSQL snapshots are kept.
func (f *PGFlow) Store() *pgstate.Store { return f.store }

// Engine says which engine serves svc and why (DetectEngine with the flags).
func (f *PGFlow) Engine(svc swarm.Service) (string, string) {
	if f.My != nil && f.My.My.URL != "" && f.PG.Engine == "" && f.PG.URL == "" && f.Opt.RedisURL == "" {
		return EngineMariaDB, "--mysql-url"
	}
	return DetectEngine(svc, f.PG.Engine, f.Opt.RedisURL, f.PG.URL)
}

// Endpoint finds the PostgreSQL of svc: --pg-url, else its published port
// for 5432.
func (f *PGFlow) Endpoint(ctx context.Context, svc swarm.Service) (Endpoint, error) {
	if f.PG.URL != "" {
		o, err := pgstate.ParseURL(f.PG.URL)
		if err != nil {
			return Endpoint{}, err
		}
		return Endpoint{Addr: o.Addr(), Reason: "--pg-url"}, nil
	}
	ep, err := locate.Server(ctx, f.API, svc, "PostgreSQL", PostgresPort, "--pg-url")
	return Endpoint{Addr: ep.Addr, Reason: ep.Reason}, err
}

// client is a pgstate client for addr (the --pg-url's own options when
// given), with the password from the file or PGPASSWORD.
func (f *PGFlow) client(addr string) (*pgstate.Client, error) {
	o := pgstate.Options{User: "postgres", Database: "postgres"}
	if f.PG.URL != "" {
		var err error
		if o, err = pgstate.ParseURL(f.PG.URL); err != nil {
			return nil, err
		}
	} else {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		o.Host, o.Port = host, port
	}
	if err := o.LoadPassword(f.Opt.Getenv, f.PG.PasswordFile); err != nil {
		return nil, err
	}
	return pgstate.NewClient(o)
}

// Connect reaches the PostgreSQL of svc and waits (up to ConnectTimeout)
// until it accepts connections and has finished recovery. Nothing listening
// or a refused password fails at once.
func (f *PGFlow) Connect(ctx context.Context, svc swarm.Service) (*pgstate.Client, *pgstate.ServerInfo, Endpoint, error) {
	ep, err := f.Endpoint(ctx, svc)
	if err != nil {
		return nil, nil, ep, err
	}
	f.say("PostgreSQL of service %s: %s (%s)", svc.Spec.Name, ep.Addr, ep.Reason)
	if len(f.Opt.VerifyKeys) > 0 {
		f.say("warning: --verify-key names Redis keys: ignored for PostgreSQL")
	}
	c, err := f.client(ep.Addr)
	if err != nil {
		return nil, nil, ep, err
	}
	if _, err := c.ServerInfo(ctx); err != nil && (pgstate.IsAuthError(err) || isRefused(err)) {
		return nil, nil, ep, err
	}
	si, err := c.WaitReady(ctx, f.Opt.ConnectTimeout, f.waitProgress())
	if err != nil {
		return nil, nil, ep, err
	}
	return c, si, ep, nil
}

// isRefused: nothing listens there (before an update the server is expected
// up), or TLS failed (sslmode asks what the server does not offer): waiting
// would not change it.
func isRefused(err error) bool {
	var ce *pgstate.ConnectError
	return errors.As(err, &ce) && (ce.Kind == "tls" || ce.Kind == "unreachable" && strings.Contains(ce.Msg, "connection refused"))
}

func (f *PGFlow) waitProgress() func(pgstate.WaitStatus) {
	p := newThrottle(f.Log, 2*time.Second)
	return func(st pgstate.WaitStatus) {
		p.say(st.Waiting, "  %s (%s)", st, st.Elapsed.Round(time.Second))
	}
}

// pgDataDir is PGDATA as the spec's environment sets it, "" when it does
// not (the server's data_directory is asked then).
func pgDataDir(spec swarm.ServiceSpec) string {
	cs := spec.TaskTemplate.ContainerSpec
	if cs == nil {
		return ""
	}
	for _, kv := range cs.Env {
		if strings.HasPrefix(kv, "PGDATA=") {
			return pgstate.DataDirFromEnv(cs.Env)
		}
	}
	return ""
}

// Preflight checks PostgreSQL against the spec the service will run (next):
// PGDATA on one of next's persistent mounts, fsync/full_page_writes against
// the running task's (cur) stop grace period, the role's rights. It prints
// the warnings; refusals come back as *Refused.
func (f *PGFlow) Preflight(ctx context.Context, c *pgstate.Client, cur, next swarm.ServiceSpec) (*pgstate.PreflightResult, []finding.Finding, error) {
	dir := pgDataDir(next)
	if dir == "" {
		dir = pgDataDir(cur)
	}
	targets := MountTargets(next)
	if targets == nil {
		targets = []string{} // no mount at all is checked too (nil skips the check)
	}
	var env []string
	if cs := next.TaskTemplate.ContainerSpec; cs != nil {
		env = cs.Env // POSTGRES_INITDB_WALDIR: pg_wal must be on a mount too
	}
	pre, err := pgstate.Preflight(ctx, c, pgstate.PreflightInput{
		MountTargets: targets,
		DataDir:      dir,
		StopGrace:    stateful.StopGracePeriod(cur),
		Env:          env,
	})
	if err != nil {
		return nil, nil, err
	}
	warnings := findings(pre.Warnings)
	for _, w := range warnings {
		f.say("warning: %s", w)
	}
	if !pre.OK() {
		return pre, warnings, &Refused{Findings: findings(pre.Refusals)}
	}
	return pre, warnings, nil
}

// findings are pgstate's findings in the one shape (the same fields).
func findings(in []pgstate.Finding) []finding.Finding {
	out := make([]finding.Finding, len(in))
	for i, fd := range in {
		out[i] = finding.Finding(fd)
	}
	return out
}

// LockCut takes the server's cut lock (one cut per server, whoever takes
// it); another run's lock is *Busy.
func (f *PGFlow) LockCut(ctx context.Context, c *pgstate.Client) (*pgstate.CutLock, error) {
	l, err := pgstate.LockCut(ctx, c)
	var le *pgstate.LockedError
	if errors.As(err, &le) {
		return nil, &Busy{Holder: le.Holder, Server: "PostgreSQL"}
	}
	if err != nil {
		return nil, fmt.Errorf("cut lock: %w", err)
	}
	return l, nil
}

// StartCut turns writes off (read-only for new transactions), waits for the
// open write transactions (bounded) and checkpoints. Writes stay off until
// the handle is released or the next server is resumed; a failed or
// interrupted cut resumes them itself.
func (f *PGFlow) StartCut(ctx context.Context, c *pgstate.Client) (*pgstate.CutHandle, error) {
	f.say("Turning writes off (ALTER SYSTEM SET default_transaction_read_only = on: reads keep working), waiting for open write transactions, CHECKPOINT")
	start := time.Now()
	h, err := pgstate.Cut(ctx, c, pgstate.CutOptions{WaitWriters: 30 * time.Second, Progress: func(s string) { f.say("  %s", s) }})
	if err != nil {
		return nil, fmt.Errorf("cut: %w", err)
	}
	i := h.Info
	f.say("Cut in %s: writers waited %s (%d open at the cut), CHECKPOINT in %s at %s (PostgreSQL %s)",
		time.Since(start).Round(time.Millisecond), i.WritersWait.Round(time.Millisecond), len(i.WaitedFor),
		i.CheckpointDuration.Round(time.Millisecond), i.CheckpointLSN, i.ServerVersion)
	return h, nil
}

func (f *PGFlow) fpOptions(what string) pgstate.FingerprintOptions {
	start := time.Now()
	p := newThrottle(f.Log, 2*time.Second)
	return pgstate.FingerprintOptions{Progress: func(pr pgstate.Progress) {
		if time.Since(start) >= 2*time.Second { // a quick fingerprint says nothing until its summary
			p.say("fp", "  %s: %d tables, %d rows so far (%s)", what, pr.TablesDone, pr.Rows, time.Since(start).Round(time.Second))
		}
	}}
}

// Snapshot fingerprints every database into the store.
func (f *PGFlow) Snapshot(ctx context.Context, c *pgstate.Client, service string, cut *pgstate.CutInfo) (*pgstate.Snapshot, error) {
	snap, err := pgstate.TakeSnapshot(ctx, c, f.store, service, cut, f.fpOptions("Fingerprinting"))
	if err != nil {
		return nil, fmt.Errorf("fingerprint: %w", err)
	}
	s := snap.Summary
	f.say("Snapshot %s: %d tables, %d rows, %d sequences in %d databases, digest %s (fingerprinted in %s, %.0f rows/s)",
		snap.ID, s.Tables, s.Rows, s.Sequences, len(s.Databases), s.Digest, time.Duration(s.DurationMs)*time.Millisecond, s.RowsPerSec())
	return snap, nil
}

// Verify fingerprints the running server and compares it with before; the
// after-snapshot is removed once compared.
func (f *PGFlow) Verify(ctx context.Context, c *pgstate.Client, before *pgstate.Snapshot) (*pgstate.Report, error) {
	rep, after, err := pgstate.VerifyAgainst(ctx, c, f.store, before, f.fpOptions("Verifying"),
		pgstate.CompareOptions{MaxItems: f.Opt.MaxKeys})
	if after != nil {
		_ = f.store.Discard(after)
	}
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	return rep, nil
}

// LatestCut is the newest PostgreSQL snapshot of service taken at a cut.
func (f *PGFlow) LatestCut(service string) (*pgstate.Snapshot, error) {
	snap, err := f.store.LatestCut(service)
	if errors.Is(err, pgstate.ErrNotFound) {
		return nil, fmt.Errorf("no PostgreSQL snapshot of service %s in %s: take one with `docker stateful snapshot %s`", service, f.store.StateDir, service)
	}
	return snap, err
}

// Prune keeps the newest keep PostgreSQL snapshots of service.
func (f *PGFlow) Prune(service string, keep int) { _, _ = f.store.Prune(service, keep) }

// AwaitNew finds the PostgreSQL of the service's (new) task and waits until
// a postmaster other than the one started at oldStart (zero: any) accepts
// connections with its recovery done.
func (f *PGFlow) AwaitNew(ctx context.Context, serviceID string, oldStart time.Time) (*pgstate.Client, *pgstate.ServerInfo, error) {
	start := time.Now()
	dctx, cancel := context.WithTimeout(ctx, f.Opt.Timeout)
	defer cancel()
	p := newThrottle(f.Log, 2*time.Second)
	var ep Endpoint
	for {
		svc, _, err := f.API.ServiceInspectWithRaw(dctx, serviceID, swarm.ServiceInspectOptions{})
		if err == nil {
			ep, err = f.Endpoint(dctx, svc)
		}
		if err == nil {
			break
		}
		if dctx.Err() != nil {
			return nil, nil, fmt.Errorf("cannot find the new task's PostgreSQL: %w", err)
		}
		p.say("locate", "  waiting for the new task: %v (%s)", err, time.Since(start).Round(time.Second))
		time.Sleep(500 * time.Millisecond)
	}
	if !oldStart.IsZero() {
		f.say("PostgreSQL of the new task: %s (%s); waiting for a new postmaster with its recovery done", ep.Addr, ep.Reason)
	}
	c, err := f.client(ep.Addr)
	if err != nil {
		return nil, nil, err
	}
	left := max(f.Opt.Timeout-time.Since(start), 10*time.Second)
	si, err := c.WaitRestarted(ctx, oldStart, left, f.waitProgress())
	if err != nil {
		return nil, nil, err
	}
	if !oldStart.IsZero() {
		ro := "writable"
		if si.ReadOnly {
			ro = "read-only until verified"
		}
		f.say("New PostgreSQL %s (postmaster %s) is ready after %s, %s", si.Version, si.RunID(), time.Since(start).Round(100*time.Millisecond), ro)
	}
	return c, si, nil
}
