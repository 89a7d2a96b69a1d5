package probe

import (
	"github.com/docker-stateful/docker-stateful/plugin/inventory"
	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
)

// LatestSnapshots returns the newest snapshot of each service in the state
// directory (stateDir "" = the default); none when it cannot be read.
func LatestSnapshots(stateDir string) map[string]inventory.SnapshotInfo {
	out := map[string]inventory.SnapshotInfo{}
	st, err := redisstate.OpenStore(stateDir)
	if err != nil {
		return out
	}
	all, _ := st.List() // oldest first: later ones overwrite
	for _, snap := range all {
		if s := snap.Summary; s != nil && s.Service != "" {
			out[s.Service] = inventory.SnapshotInfo{ID: snap.ID, Keys: s.Keys, CreatedAt: s.CreatedAt}
		}
	}
	return out
}
