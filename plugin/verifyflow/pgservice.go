package verifyflow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/exitcode"
	"github.com/docker-stateful/docker-stateful/plugin/finding"
	"github.com/docker-stateful/docker-stateful/plugin/pgstate"
	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
)

// PGSnapshotResult is the report of `snapshot` for PostgreSQL (--format json).
type PGSnapshotResult struct {
	ID        string            `json:"id"`
	Service   string            `json:"service"`
	Engine    string            `json:"engine"` // "postgres"
	Postgres  Endpoint          `json:"postgres"`
	Databases int               `json:"databases"`
	Tables    int64             `json:"tables"`
	Rows      int64             `json:"rows"`
	Sequences int64             `json:"sequences"`
	Digest    string            `json:"digest"`
	RunID     string            `json:"run_id"`
	Version   string            `json:"server_version"`
	CreatedAt time.Time         `json:"created_at"`
	Dir       string            `json:"dir"`
	Cut       *pgstate.CutInfo  `json:"cut,omitempty"`
	Warnings  []finding.Finding `json:"warnings"`
}

// SnapshotService takes a durable cut of the PostgreSQL data of svc
// (read-only, open writers waited for, CHECKPOINT), fingerprints it into the
// store and turns writes back on, on every path. As for Redis, what an
// update would refuse is only a warning here.
func (f *PGFlow) SnapshotService(ctx context.Context, svc swarm.Service) (PGSnapshotResult, error) {
	res := PGSnapshotResult{Service: svc.Spec.Name, Engine: EnginePostgres, Warnings: []finding.Finding{}}
	c, _, ep, err := f.Connect(ctx, svc)
	if err != nil {
		return res, undecided(ctx, err)
	}
	res.Postgres = ep
	_, warnings, err := f.Preflight(ctx, c, svc.Spec, svc.Spec)
	var ref *Refused
	switch {
	case errors.As(err, &ref):
		for _, fd := range ref.Findings {
			f.say("warning: an update would lose this data or could not check it: %s", fd)
		}
		res.Warnings = append(res.Warnings, ref.Findings...)
	case err != nil:
		return res, undecided(ctx, err)
	}
	res.Warnings = append(res.Warnings, warnings...)
	lock, err := f.LockCut(ctx, c)
	if err != nil {
		return res, undecided(ctx, err)
	}
	defer lock.Unlock()
	cut, err := f.StartCut(ctx, c)
	if err != nil {
		return res, undecided(ctx, err)
	}
	snap, err := f.Snapshot(ctx, c, svc.Spec.Name, &cut.Info)
	if rerr := cut.Release(context.Background()); rerr != nil {
		f.say("warning: %v", rerr)
	} else {
		f.say("Writes resumed")
	}
	if err != nil {
		return res, undecided(ctx, err)
	}
	f.Prune(svc.Spec.Name, 20)
	s := snap.Summary
	res.ID, res.Databases, res.Tables, res.Rows, res.Sequences = snap.ID, len(s.Databases), s.Tables, s.Rows, s.Sequences
	res.Digest, res.RunID, res.Version, res.CreatedAt, res.Dir, res.Cut = s.Digest.String(), s.RunID, s.ServerVersion, s.CreatedAt, snap.Dir, s.Cut
	return res, nil
}

// PGVerifyResult is the report of `verify` for PostgreSQL (--format json).
type PGVerifyResult struct {
	Service  string          `json:"service"`
	Engine   string          `json:"engine"` // "postgres"
	Postgres Endpoint        `json:"postgres"`
	Against  string          `json:"against"`
	Report   *pgstate.Report `json:"report"`
	Verdict  string          `json:"verdict"`
	Error    string          `json:"error,omitempty"`
}

// VerifyService checks the PostgreSQL data of svc now against the snapshot
// against (an ID or unique prefix; "" = the service's latest cut), with
// VerifyService's verdicts and exit statuses.
func (f *PGFlow) VerifyService(ctx context.Context, svc swarm.Service, against string) (PGVerifyResult, error) {
	res := PGVerifyResult{Service: svc.Spec.Name, Engine: EnginePostgres}
	fail := func(err error) (PGVerifyResult, error) {
		res.Verdict, res.Error = VerdictError, err.Error()
		return res, err
	}
	var before *pgstate.Snapshot
	var err error
	if against != "" {
		if before, err = f.store.Load(against); err != nil {
			return fail(undecided(ctx, fmt.Errorf("--against %s: %w (in %s)", against, err, f.store.StateDir)))
		}
		if s := before.Summary.Service; s != "" && s != svc.Spec.Name {
			f.say("warning: snapshot %s is of service %s, not %s", before.ID, s, svc.Spec.Name)
		}
	} else if before, err = f.LatestCut(svc.Spec.Name); err != nil {
		return fail(undecided(ctx, err))
	}
	res.Against = before.ID
	s := before.Summary
	f.say("Against snapshot %s (%s, %d tables, %d rows)", before.ID, s.CreatedAt.Local().Format(time.DateTime), s.Tables, s.Rows)
	c, _, ep, err := f.Connect(ctx, svc)
	if err != nil {
		return fail(undecided(ctx, err))
	}
	res.Postgres = ep
	rep, err := f.Verify(ctx, c, before)
	if err != nil {
		return fail(undecided(ctx, err))
	}
	res.Report, res.Verdict = rep, rep.Verdict
	if !rep.OK() {
		err = exitcode.Refused(fmt.Errorf("the data of service %s is not verified against snapshot %s", res.Service, before.ID))
		res.Error = err.Error()
		return res, err
	}
	return res, nil
}

// VerifyAny is `verify` for whichever engine serves the service name names:
// the document for --format (VerifyResult or PGVerifyResult, always with a
// verdict) and its text rendering (nil when there is no report to show).
func (f *PGFlow) VerifyAny(ctx context.Context, name, against string) (any, func(io.Writer) error, error) {
	svc, err := f.Service(ctx, name)
	if err != nil {
		if eng, _ := f.Engine(swarm.Service{}); eng == EnginePostgres {
			return PGVerifyResult{Service: name, Engine: EnginePostgres, Verdict: VerdictError, Error: err.Error()}, nil, err
		}
		return VerifyResult{Service: name, Verdict: VerdictError, Error: err.Error()}, nil, err
	}
	if eng, _ := f.Engine(svc); eng == EngineMariaDB && f.My != nil {
		return f.My.VerifyAny(ctx, svc, against)
	}
	if eng, _ := f.Engine(svc); eng == EnginePostgres {
		res, err := f.VerifyService(ctx, svc, against)
		if res.Report == nil {
			return res, nil, err
		}
		return res, func(w io.Writer) error { return pgstate.RenderText(w, res.Report) }, err
	}
	res, err := f.Flow.VerifyService(ctx, name, against)
	if res.Report == nil {
		return res, nil, err
	}
	return res, func(w io.Writer) error { return redisstate.RenderText(w, res.Report) }, err
}

// SnapshotAny is `snapshot` for whichever engine serves the service name
// names: the document for --format (SnapshotResult or PGSnapshotResult) and
// its ID.
func (f *PGFlow) SnapshotAny(ctx context.Context, name string) (any, string, error) {
	svc, err := f.Service(ctx, name)
	if err != nil {
		return nil, "", err
	}
	if eng, _ := f.Engine(svc); eng == EngineMariaDB && f.My != nil {
		res, err := f.My.SnapshotService(ctx, svc)
		return res, res.ID, err
	}
	if eng, _ := f.Engine(svc); eng == EnginePostgres {
		res, err := f.SnapshotService(ctx, svc)
		return res, res.ID, err
	}
	res, err := f.Flow.SnapshotService(ctx, name)
	return res, res.ID, err
}
