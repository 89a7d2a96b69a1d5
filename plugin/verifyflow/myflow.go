package verifyflow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/engine"
	"github.com/docker-stateful/docker-stateful/plugin/exitcode"
	"github.com/docker-stateful/docker-stateful/plugin/locate"
	"github.com/docker-stateful/docker-stateful/plugin/mysqlstate"
)

// EngineMariaDB is MariaDB and MySQL.
const EngineMariaDB = engine.NameMariaDB

// MariaDBPort is the container port MariaDB/MySQL listen on.
var MariaDBPort = engine.ByName(engine.NameMariaDB).Port

// MYOptions are the user's choices for MariaDB/MySQL.
type MYOptions struct {
	URL          string // --mysql-url: "" = root@ the service's published port for 3306
	PasswordFile string // "" = MYSQL_PWD
}

// MYFlow is Flow for a MariaDB/MySQL service: the same Docker steps, the
// database work of plugin/mysqlstate.
type MYFlow struct {
	*Flow
	My    MYOptions
	store *mysqlstate.Store
}

// MySQL checks the MariaDB options that need no I/O and returns the
// MariaDB flow sharing f's API, options and log.
func (f *Flow) MySQL(opt MYOptions) (*MYFlow, error) {
	var probe mysqlstate.Options
	if opt.URL != "" {
		var err error
		if probe, err = mysqlstate.ParseURL(opt.URL); err != nil {
			return nil, fmt.Errorf("--mysql-url: %w", err)
		}
	}
	if err := probe.LoadPassword(f.Opt.Getenv, opt.PasswordFile); err != nil {
		return nil, fmt.Errorf("--mysql-password-file: %w", err)
	}
	st, err := mysqlstate.OpenStore(f.Opt.StateDir)
	if err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	return &MYFlow{Flow: f, My: opt, store: st}, nil
}

// Store is where MariaDB snapshots are kept.
func (f *MYFlow) Store() *mysqlstate.Store { return f.store }

// Endpoint finds the MariaDB of svc: --mysql-url, else its published port
// for 3306.
func (f *MYFlow) Endpoint(ctx context.Context, svc swarm.Service) (Endpoint, error) {
	if f.My.URL != "" {
		o, err := mysqlstate.ParseURL(f.My.URL)
		if err != nil {
			return Endpoint{}, err
		}
		return Endpoint{Addr: o.Addr(), Reason: "--mysql-url"}, nil
	}
	ep, err := locate.Server(ctx, f.API, svc, "MariaDB", MariaDBPort, "--mysql-url")
	return Endpoint{Addr: ep.Addr, Reason: ep.Reason}, err
}

func (f *MYFlow) client(addr string) (*mysqlstate.Client, error) {
	o := mysqlstate.Options{User: "root"}
	if f.My.URL != "" {
		var err error
		if o, err = mysqlstate.ParseURL(f.My.URL); err != nil {
			return nil, err
		}
	} else {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		o.Host, o.Port = host, port
	}
	if err := o.LoadPassword(f.Opt.Getenv, f.My.PasswordFile); err != nil {
		return nil, err
	}
	return mysqlstate.NewClient(o)
}

// Connect reaches the MariaDB of svc and waits (up to ConnectTimeout) until
// it answers; a refused password fails at once.
func (f *MYFlow) Connect(ctx context.Context, svc swarm.Service) (*mysqlstate.Client, *mysqlstate.ServerInfo, Endpoint, error) {
	ep, err := f.Endpoint(ctx, svc)
	if err != nil {
		return nil, nil, ep, err
	}
	f.say("MariaDB of service %s: %s (%s)", svc.Spec.Name, ep.Addr, ep.Reason)
	c, err := f.client(ep.Addr)
	if err != nil {
		return nil, nil, ep, err
	}
	timeout := f.Opt.ConnectTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	si, err := c.WaitStarted(ctx, time.Time{}, timeout, nil)
	if err != nil {
		if mysqlstate.IsAuthError(err) {
			err = fmt.Errorf("%w (the password comes from MYSQL_PWD or --mysql-password-file; the user from --mysql-url, root by default)", err)
		}
		return nil, nil, ep, err
	}
	return c, si, ep, nil
}

// AwaitNew finds the MariaDB of the service's (new) task and waits until a
// server started after older (zero: any) answers.
func (f *MYFlow) AwaitNew(ctx context.Context, serviceID string, older time.Time) (*mysqlstate.Client, *mysqlstate.ServerInfo, error) {
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
			return nil, nil, fmt.Errorf("cannot find the new task's MariaDB: %w", err)
		}
		p.say("locate", "  waiting for the new task: %v (%s)", err, time.Since(start).Round(time.Second))
		time.Sleep(500 * time.Millisecond)
	}
	c, err := f.client(ep.Addr)
	if err != nil {
		return nil, nil, err
	}
	left := max(f.Opt.Timeout-time.Since(start), 10*time.Second)
	si, err := c.WaitStarted(ctx, older, left, func(why string) {
		p.say("wait", "  waiting for the new MariaDB: %s (%s)", why, time.Since(start).Round(time.Second))
	})
	if err != nil {
		return nil, nil, err
	}
	if !older.IsZero() {
		f.say("New MariaDB %s (started %s) answers after %s", si.Version, si.RunID(), time.Since(start).Round(100*time.Millisecond))
	}
	return c, si, nil
}

// MYSnapshotResult is the report of `snapshot` for MariaDB (--format json).
type MYSnapshotResult struct {
	ID        string              `json:"id"`
	Service   string              `json:"service"`
	Engine    string              `json:"engine"` // "mariadb"
	MariaDB   Endpoint            `json:"mariadb"`
	Tables    int64               `json:"tables"`
	Rows      int64               `json:"rows"`
	Version   string              `json:"server_version"`
	CreatedAt time.Time           `json:"created_at"`
	Dir       string              `json:"dir"`
	Cut       *mysqlstate.CutInfo `json:"cut,omitempty"`
}

// SnapshotService holds writes on the MariaDB of svc, fingerprints it into
// the store and turns writes back on, on every path.
func (f *MYFlow) SnapshotService(ctx context.Context, svc swarm.Service) (MYSnapshotResult, error) {
	res := MYSnapshotResult{Service: svc.Spec.Name, Engine: EngineMariaDB}
	c, _, ep, err := f.Connect(ctx, svc)
	if err != nil {
		return res, undecided(ctx, err)
	}
	defer c.Close()
	res.MariaDB = ep
	if err := c.Preflight(ctx); err != nil {
		return res, undecided(ctx, err)
	}
	cut, err := c.StartCut(ctx, f.Opt.Timeout)
	if err != nil {
		return res, undecided(ctx, cutErr(err))
	}
	snap, err := mysqlstate.TakeSnapshot(ctx, c, cut.Conn(), f.store, svc.Spec.Name, &cut.Info)
	if rerr := cut.Release(context.Background()); rerr != nil {
		f.say("warning: %v", rerr)
	} else {
		f.say("Writes resumed")
	}
	if err != nil {
		return res, undecided(ctx, err)
	}
	_, _ = f.store.Prune(svc.Spec.Name, 20)
	s := snap.Summary
	res.ID, res.Tables, res.Rows, res.Version, res.CreatedAt, res.Dir, res.Cut = snap.ID, s.TableCount, s.Rows, s.ServerVersion, s.CreatedAt, snap.Dir, s.Cut
	return res, nil
}

func cutErr(err error) error {
	if errors.Is(err, mysqlstate.ErrBusy) {
		return exitcode.Refused(err)
	}
	return err
}

// MYVerifyResult is the report of `verify` for MariaDB (--format json).
type MYVerifyResult struct {
	Service string             `json:"service"`
	Engine  string             `json:"engine"` // "mariadb"
	MariaDB Endpoint           `json:"mariadb"`
	Against string             `json:"against"`
	Report  *mysqlstate.Report `json:"report"`
	Verdict string             `json:"verdict"`
	Error   string             `json:"error,omitempty"`
}

// VerifyService checks the MariaDB data of svc now (writes held while it
// is fingerprinted) against the snapshot against ("" = the latest cut).
func (f *MYFlow) VerifyService(ctx context.Context, svc swarm.Service, against string) (MYVerifyResult, error) {
	res := MYVerifyResult{Service: svc.Spec.Name, Engine: EngineMariaDB}
	fail := func(err error) (MYVerifyResult, error) {
		res.Verdict, res.Error = VerdictError, err.Error()
		return res, err
	}
	var before *mysqlstate.Snapshot
	var err error
	if against != "" {
		before, err = f.store.Load(against)
	} else {
		before, err = f.store.LatestCut(svc.Spec.Name)
	}
	if err != nil {
		return fail(undecided(ctx, fmt.Errorf("snapshot of service %s: %w (in %s)", svc.Spec.Name, err, f.store.StateDir)))
	}
	res.Against = before.ID
	f.say("Against snapshot %s (%s, %d tables, %d rows)", before.ID, before.Summary.CreatedAt.Local().Format(time.DateTime), before.Summary.TableCount, before.Summary.Rows)
	c, _, ep, err := f.Connect(ctx, svc)
	if err != nil {
		return fail(undecided(ctx, err))
	}
	defer c.Close()
	res.MariaDB = ep
	rep, err := mysqlstate.Check(ctx, c, before)
	if err != nil {
		return fail(undecided(ctx, cutErr(err)))
	}
	res.Report, res.Verdict = rep, VerdictVerified
	if !rep.OK() {
		res.Verdict = VerdictFailed
		err = exitcode.Refused(fmt.Errorf("the data of service %s is not verified against snapshot %s: %v", res.Service, before.ID, rep.Reasons))
		res.Error = err.Error()
		return res, err
	}
	return res, nil
}

// VerifyAny is verify for MariaDB with its text rendering.
func (f *MYFlow) VerifyAny(ctx context.Context, svc swarm.Service, against string) (any, func(io.Writer) error, error) {
	res, err := f.VerifyService(ctx, svc, against)
	if res.Report == nil {
		return res, nil, err
	}
	return res, func(w io.Writer) error { return mysqlstate.RenderText(w, res.Report) }, err
}
