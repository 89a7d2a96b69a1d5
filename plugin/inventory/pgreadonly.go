package inventory

import (
	"fmt"
	"time"

	"github.com/docker/docker/api/types/swarm"
)

// CodePGReadOnly: a cut of update --verify or snapshot turned the service's PostgreSQL
// read-only and its process ended without turning writes back on.
const CodePGReadOnly = "pg-read-only"

// PGCut is an interrupted PostgreSQL cut recorded in the state directory (read by
// probe.PGReadOnlyCuts: inventory links no database client).
type PGCut struct {
	Service     string
	Addr        string
	Since       time.Time
	PID         int    // the process that cut
	WatchdogPID int    // its watchdog, when Healing
	Healing     bool   // the watchdog still waits for the server to resume it
	Resume      string // the one command that turns writes back on
}

// pgReadOnly reports the service's PostgreSQL left read-only by an interrupted cut, with
// the one command that ends it.
func (s *Swarm) pgReadOnly(svc swarm.Service) []Finding {
	var out []Finding
	for _, c := range s.PGCuts {
		if c.Service != svc.Spec.Name {
			continue
		}
		msg := fmt.Sprintf("PostgreSQL at %s may be read-only since %s: the docker stateful run that turned writes off (process %d) ended without turning them back on, and default_transaction_read_only = on stays in postgresql.auto.conf across restarts",
			c.Addr, c.Since.UTC().Format(time.RFC3339), c.PID)
		if c.Healing {
			msg += fmt.Sprintf("; its watchdog (process %d) is waiting for the server to turn them back on", c.WatchdogPID)
		}
		out = append(out, Finding{Code: CodePGReadOnly, Message: msg, Fix: c.Resume + " (with PGPASSWORD set)"})
	}
	return out
}
