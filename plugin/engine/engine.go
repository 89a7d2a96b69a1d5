package engine

import (
	"context"

	"github.com/docker/docker/api/types/swarm"
)

// Run is one engine's side of one update --verify. The Swarm steps are the
// same for every engine and live once, in verifyflow (the running task and
// the Ready/Active check of its node, the bound on docker's convergence wait,
// the rollback over this run's own update only, the timeline, Decide's
// verdict and exit status); a Run adds what only its engine knows: how to
// reach the server, what it refuses, how writes are held at the cut and on
// the new process, how the data is fingerprinted and compared, and how
// writes come back. verifyflow.EngineUpdate picks the Run of the service's
// engine and calls, in this order:
//
//   - Bind, before the engine is known: docker's convergence wait, which the
//     run cuts once the update cannot converge in time.
//   - Before, just before the update is sent: connect, preflight, take the
//     server's cut lock (one cut per server), hold writes, fingerprint, check
//     the pinned node. An error means nothing may be sent; writes are back.
//   - AfterSend, once the daemon accepted it: wait for the old task to stop,
//     start the check of the new process.
//   - ConvergeFailed, when docker's wait failed.
//   - After, once docker's wait returned: the check's outcome, the verdict,
//     the rollback (over our own update only) and its check.
//   - Abandon, always, more than once: writes back on wherever they are
//     still held.
//   - Document, for --format json, also when Before never ran.
type Run interface {
	Bind(parent context.Context, cancel context.CancelFunc)
	Before(ctx context.Context, current swarm.Service, spec *swarm.ServiceSpec) error
	AfterSend(ctx context.Context, serviceID string)
	ConvergeFailed(err error)
	After(ctx context.Context, serviceID string) error
	Abandon()
	Document(service string, err error) Outcome
}
