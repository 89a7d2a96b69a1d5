package stateful

import (
	"time"

	"github.com/docker/docker/api/types/swarm"
)

// SwarmStopGracePeriod is Swarm's stop grace period when a spec sets none.
const SwarmStopGracePeriod = 10 * time.Second

// CreateStopGracePeriod is the stop grace period docker stateful create sets
// when the user chose none (--stop-grace-period): Swarm's 10s can cut a
// database's final save short; anything above 60s buys nothing, because with
// stop-first swarmkit starts the replacement task after at most one minute
// anyway (the two would then share the data directory). 30s leaves room for
// a large save and for the time the stop order takes to reach the node.
const CreateStopGracePeriod = 30 * time.Second

// StopGracePeriod is how long a task of spec gets between SIGTERM and SIGKILL:
// the spec's value when set (0 kills at once), else Swarm's default.
func StopGracePeriod(spec swarm.ServiceSpec) time.Duration {
	if cs := spec.TaskTemplate.ContainerSpec; cs != nil && cs.StopGracePeriod != nil {
		return *cs.StopGracePeriod
	}
	return SwarmStopGracePeriod
}
