// Package probe looks at what the specs do not say, for ls and check:
// inside running services (through verifyflow) and in the snapshot store.
// inventory judges specs and links no database client; what reaches an
// engine or reads its snapshots is here.
package probe

import (
	"context"
	"errors"

	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/engine"
	"github.com/docker-stateful/docker-stateful/plugin/inventory"
	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
	"github.com/docker-stateful/docker-stateful/plugin/verifyflow"
)

// redisCodes are the Redis pre-flight findings that put data at risk now
// (the others are about an update in progress).
var redisCodes = map[string]bool{
	redisstate.CodeNoPersistence:      true,
	redisstate.CodeSaveFailing:        true,
	redisstate.CodeAOFFailing:         true,
	redisstate.CodeDirNotOnVolume:     true,
	redisstate.CodeSaveSlowerThanStop: true,
}

// Redis checks a Redis service's persistence with update --verify's
// pre-flight (found and reached as update --verify reaches it): persistence
// off, saves or AOF writes failing, a data directory on no mount, a save
// slower than the stop grace period. Other services are not probed.
func Redis(flow *verifyflow.Flow) inventory.Probe {
	return func(ctx context.Context, svc swarm.Service) ([]inventory.Finding, error) {
		if !engine.IsRedis(svc.Spec) {
			return nil, nil
		}
		c, _, _, err := flow.Connect(ctx, svc)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		pre, err := flow.Preflight(ctx, c, svc.Spec, svc.Spec)
		var ref *verifyflow.Refused
		if err != nil && !errors.As(err, &ref) {
			return nil, err
		}
		var out []inventory.Finding
		for _, list := range [][]redisstate.Finding{pre.Refusals, pre.Warnings} {
			for _, f := range list {
				if !redisCodes[f.Code] {
					continue
				}
				fix := f.Fix
				if f.Code == redisstate.CodeNoPersistence {
					fix = "turn persistence on: save points or appendonly yes in the service's redis-server arguments"
				}
				out = append(out, inventory.Finding{Code: "redis-" + f.Code, Message: "Redis: " + f.Message, Fix: fix})
			}
		}
		return out, nil
	}
}
