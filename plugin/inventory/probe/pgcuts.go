package probe

import (
	"github.com/docker-stateful/docker-stateful/plugin/inventory"
	"github.com/docker-stateful/docker-stateful/plugin/pgstate"
)

// PGReadOnlyCuts lists the interrupted PostgreSQL cuts recorded in the state directory
// (stateDir "" = the default): the databases they may have left read-only.
func PGReadOnlyCuts(stateDir string) []inventory.PGCut {
	pc, _ := pgstate.PendingCuts(stateDir)
	out := make([]inventory.PGCut, 0, len(pc))
	for _, c := range pc {
		out = append(out, inventory.PGCut{Service: c.Service, Addr: c.Addr, Since: c.Since, PID: c.PID,
			WatchdogPID: c.WatchdogPID, Healing: c.Healing, Resume: c.ResumeCommand()})
	}
	return out
}
