package probe

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/docker-stateful/docker-stateful/plugin/inventory"
	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
)

// LatestSnapshots returns the newest snapshot of each of services in the
// state directory (stateDir "" = the default); none when it cannot be read.
//
// It is the newest of the service's that loads (as Store.List has them,
// damaged ones left out), found without loading them all: loading checks
// every shard file (256 stats a snapshot), which made ls slow with a few
// dozen snapshots (issue 19 item 8). Each summary's header says its service
// and time; then only the candidates of the services asked for, newest
// first, are loaded until one is whole.
func LatestSnapshots(stateDir string, services []string) map[string]inventory.SnapshotInfo {
	out := map[string]inventory.SnapshotInfo{}
	st, err := redisstate.OpenStore(stateDir)
	if err != nil {
		return out
	}
	ents, err := os.ReadDir(st.Root())
	if err != nil {
		return out
	}
	type candidate struct {
		dir, id string
		at      time.Time
	}
	bySvc := map[string][]candidate{}
	for _, name := range services {
		bySvc[name] = nil
	}
	for _, e := range ents {
		if !e.IsDir() || strings.HasSuffix(e.Name(), ".partial") {
			continue
		}
		dir := filepath.Join(st.Root(), e.Name())
		b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
		if err != nil {
			continue
		}
		var h struct {
			Engine    string    `json:"engine"`
			ID        string    `json:"id"`
			Service   string    `json:"service"`
			CreatedAt time.Time `json:"created_at"`
		}
		if json.Unmarshal(b, &h) != nil || h.Engine != "" {
			continue // damaged or another engine's: List leaves them out too
		}
		if _, wanted := bySvc[h.Service]; !wanted || h.Service == "" {
			continue
		}
		bySvc[h.Service] = append(bySvc[h.Service], candidate{dir: dir, id: h.ID, at: h.CreatedAt})
	}
	for svc, cs := range bySvc {
		// newest first, in List's order (time, then ID)
		sort.Slice(cs, func(i, j int) bool {
			if !cs[i].at.Equal(cs[j].at) {
				return cs[i].at.After(cs[j].at)
			}
			return cs[i].id > cs[j].id
		})
		for _, c := range cs {
			snap, err := redisstate.LoadSnapshotDir(c.dir)
			if err != nil || snap.Summary.Service != svc {
				continue
			}
			s := snap.Summary
			out[svc] = inventory.SnapshotInfo{ID: snap.ID, Keys: s.Keys, CreatedAt: s.CreatedAt}
			break
		}
	}
	return out
}
