package verifyflow

import (
	"context"
	"time"

	"github.com/docker/docker/api/types/swarm"
)

// EngineUpdate is update --verify for whichever engine serves the service:
// Before picks Redis (Update) or PostgreSQL (PGUpdate) from the service
// (DetectEngine), and every later step goes to that one.
type EngineUpdate struct {
	Redis  *Update
	PG     *PGUpdate
	engine string
}

// Engine is the engine chosen by Before ("" before it ran).
func (e *EngineUpdate) Engine() string { return e.engine }

func (e *EngineUpdate) pg() bool { return e.engine == EnginePostgres }

// Before detects the engine and runs its Before.
func (e *EngineUpdate) Before(ctx context.Context, current swarm.Service, spec *swarm.ServiceSpec) error {
	e.engine, _ = e.PG.Flow.Engine(current)
	if e.pg() {
		return e.PG.Before(ctx, current, spec)
	}
	return e.Redis.Before(ctx, current, spec)
}

// AfterSend is the chosen engine's AfterSend.
func (e *EngineUpdate) AfterSend(ctx context.Context, serviceID string) {
	if e.pg() {
		e.PG.AfterSend(ctx, serviceID)
		return
	}
	e.Redis.AfterSend(ctx, serviceID)
}

// After is the chosen engine's After.
func (e *EngineUpdate) After(ctx context.Context, serviceID string) error {
	if e.pg() {
		return e.PG.After(ctx, serviceID)
	}
	return e.Redis.After(ctx, serviceID)
}

// Abandon resumes writes wherever the chosen engine left them off. Safe on
// nil and more than once.
func (e *EngineUpdate) Abandon() {
	if e == nil {
		return
	}
	if e.pg() {
		e.PG.Abandon()
		return
	}
	e.Redis.Abandon()
}

// Outcome is the chosen engine's report for --format json; before Before ran
// (the guard refused, docker failed), the engine of the service as the daemon
// has it, else the one the flags name, else Redis'. e may be nil.
func (e *EngineUpdate) Outcome(service string, err error) Outcome {
	if e == nil {
		return (*Update)(nil).Outcome(service, err)
	}
	if e.engine == "" {
		var svc swarm.Service
		if service != "" {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			svc, _, _ = e.PG.Flow.API.ServiceInspectWithRaw(ctx, service, swarm.ServiceInspectOptions{})
			cancel()
		}
		e.engine, _ = e.PG.Flow.Engine(svc)
	}
	if e.pg() {
		return e.PG.Outcome(service, err)
	}
	return e.Redis.Outcome(service, err)
}

// BoundWait bounds docker's convergence wait (swarmRun.BoundWait). It is
// asked before the engine is known (before Before): the one wait is bound to
// both engines' runs, and the chosen one arms its deadline at the send.
func (e *EngineUpdate) BoundWait(parent context.Context) context.Context {
	ctx, cancel := context.WithCancel(parent)
	e.Redis.bind(parent, cancel)
	e.PG.bind(parent, cancel)
	return ctx
}

// ConvergeFailed tells the engine's update that docker's wait failed.
func (e *EngineUpdate) ConvergeFailed(err error) {
	if e.pg() {
		e.PG.ConvergeFailed(err)
		return
	}
	e.Redis.ConvergeFailed(err)
}

// Outcome is the --format json document of update --verify, whichever the
// engine (UpdateResult, PGUpdateResult): the same fields, and Summary for
// callers that need its verdict.
type Outcome interface {
	Summary() Summary
}

// Summary is what every engine's document says about the run.
type Summary struct {
	Service    string
	Engine     string
	Snapshot   string
	RolledBack bool
	Verdict    string
	Error      string
}

// Summary of a Redis run.
func (r UpdateResult) Summary() Summary {
	return Summary{Service: r.Service, Engine: r.Engine, Snapshot: r.Snapshot, RolledBack: r.RolledBack, Verdict: r.Verdict, Error: r.Error}
}

// Summary of a PostgreSQL run.
func (r PGUpdateResult) Summary() Summary {
	return Summary{Service: r.Service, Engine: r.Engine, Snapshot: r.Snapshot, RolledBack: r.RolledBack, Verdict: r.Verdict, Error: r.Error}
}
