package verifyflow

import (
	"context"
	"fmt"
	"time"

	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/engine"
)

// EngineUpdate is update --verify for whichever engine serves the service:
// Before picks the engine's Run (Redis: Update, PostgreSQL: PGUpdate) from
// the service (DetectEngine), and every later step goes to that one. The
// Swarm steps every Run shares are swarmRun's (run.go).
type EngineUpdate struct {
	Redis  *Update
	PG     *PGUpdate
	MY     *MYUpdate // MariaDB/MySQL; nil: not wired (the engine is then refused)
	engine string
}

// Engine is the engine chosen by Before ("" before it ran).
func (e *EngineUpdate) Engine() string { return e.engine }

// runs are the engines' Runs by name.
func (e *EngineUpdate) runs() map[string]engine.Run {
	m := map[string]engine.Run{EngineRedis: e.Redis, EnginePostgres: e.PG}
	if e.MY != nil {
		m[EngineMariaDB] = e.MY
	}
	return m
}

// run is the chosen engine's Run (Redis' before Before ran).
func (e *EngineUpdate) run() engine.Run {
	if r, ok := e.runs()[e.engine]; ok {
		return r
	}
	return e.Redis
}

// Before detects the engine and runs its Before.
func (e *EngineUpdate) Before(ctx context.Context, current swarm.Service, spec *swarm.ServiceSpec) error {
	e.engine, _ = e.PG.Flow.Engine(current)
	if _, ok := e.runs()[e.engine]; !ok {
		return fmt.Errorf("update of service %s not sent: it runs %s, which this verifier cannot check", current.Spec.Name, e.engine)
	}
	return e.run().Before(ctx, current, spec)
}

// AfterSend is the chosen engine's AfterSend.
func (e *EngineUpdate) AfterSend(ctx context.Context, serviceID string) {
	e.run().AfterSend(ctx, serviceID)
}

// After is the chosen engine's After.
func (e *EngineUpdate) After(ctx context.Context, serviceID string) error {
	return e.run().After(ctx, serviceID)
}

// Abandon resumes writes wherever the chosen engine left them off. Safe on
// nil and more than once.
func (e *EngineUpdate) Abandon() {
	if e == nil {
		return
	}
	e.run().Abandon()
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
	return e.run().Document(service, err)
}

// BoundWait bounds docker's convergence wait (swarmRun.BoundWait). It is
// asked before the engine is known (before Before): the one wait is bound to
// every engine's Run, and the chosen one arms its deadline at the send.
func (e *EngineUpdate) BoundWait(parent context.Context) context.Context {
	ctx, cancel := context.WithCancel(parent)
	e.Redis.Bind(parent, cancel)
	e.PG.Bind(parent, cancel)
	if e.MY != nil {
		e.MY.Bind(parent, cancel)
	}
	return ctx
}

// ConvergeFailed tells the chosen engine's Run that docker's wait failed.
func (e *EngineUpdate) ConvergeFailed(err error) { e.run().ConvergeFailed(err) }

// Outcome is the --format json document of update --verify, whichever the
// engine (UpdateResult, PGUpdateResult).
type Outcome = engine.Outcome

// Summary is what every engine's document says about the run.
type Summary = engine.Summary

// Summary of a Redis run.
func (r UpdateResult) Summary() Summary {
	return Summary{Service: r.Service, Engine: r.Engine, Snapshot: r.Snapshot, RolledBack: r.RolledBack, Verdict: r.Verdict, Error: r.Error}
}

// Summary of a PostgreSQL run.
func (r PGUpdateResult) Summary() Summary {
	return Summary{Service: r.Service, Engine: r.Engine, Snapshot: r.Snapshot, RolledBack: r.RolledBack, Verdict: r.Verdict, Error: r.Error}
}

// Document is the run's --format json document (engine.Run).
func (u *Update) Document(service string, err error) Outcome { return u.Outcome(service, err) }

// Document is the run's --format json document (engine.Run).
func (u *PGUpdate) Document(service string, err error) Outcome { return u.Outcome(service, err) }

// Every engine's update --verify is an engine.Run.
var (
	_ engine.Run = (*Update)(nil)
	_ engine.Run = (*PGUpdate)(nil)
)
