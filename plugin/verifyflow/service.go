package verifyflow

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/exitcode"
	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// undecided marks err as "could not decide" (exit 2), or as an interruption
// (130) when ctx was cancelled, whatever error the step made of it.
func undecided(ctx context.Context, err error) error {
	if err != nil && errors.Is(ctx.Err(), context.Canceled) {
		return &exitcode.Error{Code: exitcode.Interrupted, Err: err}
	}
	return exitcode.Undecidable(err)
}

// Service looks up the service name (name or ID) names; a daemon that does
// not answer, or has no such service, leaves nothing to decide on (exit 2).
func (f *Flow) Service(ctx context.Context, name string) (swarm.Service, error) {
	svc, _, err := f.API.ServiceInspectWithRaw(ctx, name, swarm.ServiceInspectOptions{})
	return svc, undecided(ctx, err)
}

// VerifyResult is the report of `verify` (--format json).
type VerifyResult struct {
	Service string             `json:"service"`
	Redis   Endpoint           `json:"redis"`
	Against string             `json:"against"`
	Report  *redisstate.Report `json:"report"`
	Verdict string             `json:"verdict"`         // verified, failed, error
	Error   string             `json:"error,omitempty"` // why, when not verified
}

// VerifyService checks the Redis data of the service name names now against
// the snapshot against (an ID or unique prefix; "" = the service's latest
// cut). The result always has a verdict; the error carries the exit status:
// 1 when the data is not verified, 2 when it could not be checked.
func (f *Flow) VerifyService(ctx context.Context, name, against string) (VerifyResult, error) {
	res := VerifyResult{Service: name}
	fail := func(err error) (VerifyResult, error) {
		res.Verdict, res.Error = VerdictError, err.Error()
		return res, err
	}
	svc, err := f.Service(ctx, name)
	if err != nil {
		return fail(err)
	}
	res.Service = svc.Spec.Name
	var before *redisstate.Snapshot
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
	f.say("Against snapshot %s (%s, %d keys)", before.ID, before.Summary.CreatedAt.Local().Format(time.DateTime), before.Summary.Keys)
	c, _, ep, err := f.Connect(ctx, svc)
	if err != nil {
		return fail(undecided(ctx, err))
	}
	defer c.Close()
	res.Redis = ep
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

// SnapshotResult is the report of `snapshot` (--format json).
type SnapshotResult struct {
	ID        string               `json:"id"`
	Service   string               `json:"service"`
	Redis     Endpoint             `json:"redis"`
	Keys      int64                `json:"keys"`
	Types     map[string]int64     `json:"types"`
	Digest    string               `json:"digest"`
	RunID     string               `json:"run_id"`
	Version   string               `json:"redis_version"`
	Server    string               `json:"server"` // "Redis 7.0.15", "Valkey 8.1.1"
	CreatedAt time.Time            `json:"created_at"`
	Dir       string               `json:"dir"`
	Warnings  []redisstate.Finding `json:"warnings"`
}

// SnapshotService takes a durable cut of the Redis data of the service name
// names and fingerprints it into the store (the newest 20 per service are
// kept). An update that would lose the data is a warning here: a snapshot
// is still worth having.
func (f *Flow) SnapshotService(ctx context.Context, name string) (SnapshotResult, error) {
	svc, err := f.Service(ctx, name)
	if err != nil {
		return SnapshotResult{}, err
	}
	c, _, ep, err := f.Connect(ctx, svc)
	if err != nil {
		return SnapshotResult{}, undecided(ctx, err)
	}
	defer c.Close()
	res := SnapshotResult{Service: svc.Spec.Name, Redis: ep, Warnings: []redisstate.Finding{}}
	pre, err := f.Preflight(ctx, c, svc.Spec, svc.Spec)
	var ref *Refused
	switch {
	case errors.As(err, &ref):
		for _, fd := range ref.Findings {
			f.say("warning: an update would lose this data: %s", fd)
		}
		res.Warnings = append(res.Warnings, ref.Findings...)
	case err != nil:
		return res, undecided(ctx, err)
	}
	if pre != nil {
		res.Warnings = append(res.Warnings, pre.Warnings...)
	}
	cut, err := f.BeginCut(ctx, c, stateful.StopGracePeriod(svc.Spec))
	if err != nil {
		return res, undecided(ctx, err)
	}
	snap, err := f.SnapshotAtCut(ctx, c, svc.Spec.Name, cut)
	if rerr := cut.Release(); rerr != nil {
		f.say("warning: %v", rerr)
	}
	if err != nil {
		return res, undecided(ctx, err)
	}
	f.say("Writes resumed")
	f.Prune(svc.Spec.Name, 20)
	s := snap.Summary
	res.ID, res.Keys, res.Types, res.Digest = snap.ID, s.Keys, s.Types, s.Digest.String()
	res.RunID, res.Version, res.Server, res.CreatedAt, res.Dir = s.RunID, s.RedisVersion, s.Describe(), s.CreatedAt, snap.Dir
	return res, nil
}
