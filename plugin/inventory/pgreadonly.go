package inventory

import (
	"fmt"
	"time"

	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/pgstate"
)

// CodePGReadOnly: a cut of update --verify or snapshot turned the service's PostgreSQL
// read-only and its process ended without turning writes back on.
const CodePGReadOnly = "pg-read-only"

// PGReadOnlyCuts lists the interrupted PostgreSQL cuts recorded in the state directory
// (stateDir "" = the default): the databases they may have left read-only. Never nil.
func PGReadOnlyCuts(stateDir string) []pgstate.PendingCut {
	pc, _ := pgstate.PendingCuts(stateDir)
	if pc == nil {
		pc = []pgstate.PendingCut{}
	}
	return pc
}

// pgReadOnly reports the service's PostgreSQL left read-only by an interrupted cut, with
// the one command that ends it. s.PGCuts nil: the default state directory is read.
func (s *Swarm) pgReadOnly(svc swarm.Service) []Finding {
	if s.PGCuts == nil {
		s.PGCuts = PGReadOnlyCuts("")
	}
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
		out = append(out, Finding{Code: CodePGReadOnly, Message: msg, Fix: c.ResumeCommand() + " (with PGPASSWORD set)"})
	}
	return out
}
