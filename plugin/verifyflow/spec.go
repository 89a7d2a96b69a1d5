package verifyflow

import (
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// MountTargets returns the container paths of a spec's named volume, bind and
// cluster mounts: where data survives the container. tmpfs and npipe mounts do
// not count, nor anonymous volumes (no Source): each new task gets a new one.
func MountTargets(spec swarm.ServiceSpec) []string {
	cs := spec.TaskTemplate.ContainerSpec
	if cs == nil {
		return nil
	}
	var out []string
	for _, m := range cs.Mounts {
		if (m.Type == mount.TypeVolume && m.Source != "") || m.Type == mount.TypeBind || m.Type == mount.TypeCluster {
			out = append(out, m.Target)
		}
	}
	return out
}

// NewAppendOnly is whether the spec's redis-server command line sets
// --appendonly (nil: it does not say, AOF stays as it is).
func NewAppendOnly(spec swarm.ServiceSpec) *bool {
	cs := spec.TaskTemplate.ContainerSpec
	if cs == nil {
		return nil
	}
	return redisstate.ParseServerArgs(cs.Command, cs.Args).AppendOnly
}

// PauseMargin is added to the stop grace period for the write pause: sending
// the update, swarmkit scheduling the shutdown, and the old task reporting it.
const PauseMargin = 30 * time.Second

// PauseFor is how long each write pause (CLIENT PAUSE WRITE) lasts: long enough
// that, once the old Redis is shutting down and cannot be asked to extend it,
// the pause still outlasts the grace period. Renewed while we wait; if this
// process dies, writes resume by themselves after at most this long.
func PauseFor(grace time.Duration) time.Duration {
	if grace <= 0 {
		grace = stateful.DefaultStopGracePeriod
	}
	return grace + PauseMargin
}

// TaskStopped reports whether a task in state s has stopped (its container no
// longer runs).
func TaskStopped(s swarm.TaskState) bool {
	switch s {
	case swarm.TaskStateComplete, swarm.TaskStateShutdown, swarm.TaskStateFailed,
		swarm.TaskStateRejected, swarm.TaskStateRemove, swarm.TaskStateOrphaned:
		return true
	}
	return false
}

// DataMount describes the mount of spec that holds dir.
type DataMount struct {
	Target string // "" = dir is on no volume or bind mount
	Type   mount.Type
	Source string // "" for an anonymous volume
}

// Anonymous reports whether the data is on an anonymous volume (or none).
func (d DataMount) Anonymous() bool {
	return d.Target == "" || (d.Type == mount.TypeVolume && d.Source == "")
}

func (d DataMount) String() string {
	switch {
	case d.Target == "":
		return "no mount of the service (the image's anonymous VOLUME or the container's own filesystem)"
	case d.Type == mount.TypeVolume && d.Source == "":
		return "an anonymous volume on " + d.Target
	case d.Type == mount.TypeBind:
		return fmt.Sprintf("bind mount %s on %s", d.Source, d.Target)
	default:
		return fmt.Sprintf("%s %s on %s", d.Type, d.Source, d.Target)
	}
}

// DataMountOf finds the volume or bind mount of spec that covers dir (the
// deepest one).
func DataMountOf(spec swarm.ServiceSpec, dir string) DataMount {
	cs := spec.TaskTemplate.ContainerSpec
	if cs == nil || dir == "" {
		return DataMount{}
	}
	dir = path.Clean(dir)
	var best DataMount
	for _, m := range cs.Mounts {
		if m.Type != mount.TypeVolume && m.Type != mount.TypeBind && m.Type != mount.TypeCluster {
			continue
		}
		t := path.Clean(m.Target)
		if dir == t || t == "/" || strings.HasPrefix(dir, t+"/") {
			if len(t) > len(best.Target) {
				best = DataMount{Target: t, Type: m.Type, Source: m.Source}
			}
		}
	}
	return best
}

// RollbackOutcome says in words what a spec rollback did for the data:
// restoredSpec is the spec rolled back to, dir Redis' data directory, rep the
// verification after the rollback (nil when it could not run), newKeys how
// many keys were written after the cut (they were on the replaced data).
func RollbackOutcome(restoredSpec swarm.ServiceSpec, dir string, rep *redisstate.Report, newKeys int64) []string {
	dm := DataMountOf(restoredSpec, dir)
	var out []string
	switch {
	case rep != nil && rep.OK():
		out = append(out, fmt.Sprintf("The rollback restored the data: the previous spec re-attached %s and all %d keys of snapshot %s are back.", dm, rep.BeforeKeys, rep.Before))
	case dm.Anonymous():
		out = append(out, fmt.Sprintf("The rollback restored the previous spec, NOT the data: Redis' data directory %s was on %s; a spec rollback cannot bring back an anonymous volume (the new task gets an empty one).", dir, dm))
	case rep == nil:
		out = append(out, fmt.Sprintf("The rollback restored the previous spec (%s), but the data could not be checked.", dm))
	default:
		out = append(out, fmt.Sprintf("The rollback re-attached %s, but the data is NOT all back: %s.", dm, strings.Join(rep.Reasons, "; ")))
	}
	if newKeys > 0 {
		out = append(out, fmt.Sprintf("%d key(s) written after the cut went to the updated task's data and are not in the restored data.", newKeys))
	}
	return out
}
