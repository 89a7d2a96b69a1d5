package stateful

import (
	"time"

	"github.com/docker/docker/api/types/swarm"
)

// DefaultStopGracePeriod is Swarm's stop grace period when a spec sets none.
const DefaultStopGracePeriod = 10 * time.Second

// StopGracePeriod is how long a task of spec gets between SIGTERM and SIGKILL:
// the spec's value when set (0 kills at once), else Swarm's default.
func StopGracePeriod(spec swarm.ServiceSpec) time.Duration {
	if cs := spec.TaskTemplate.ContainerSpec; cs != nil && cs.StopGracePeriod != nil {
		return *cs.StopGracePeriod
	}
	return DefaultStopGracePeriod
}
