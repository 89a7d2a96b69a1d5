package verifyflow

import (
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// MountTargets is stateful.PersistentTargets, kept while flow.go calls it by
// this name: the container paths of a spec's mounts whose data survives the
// container (anonymous volumes and tmpfs do not count).
func MountTargets(spec swarm.ServiceSpec) []string { return stateful.PersistentTargets(spec) }

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
		grace = stateful.SwarmStopGracePeriod
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

// DataMount is where Redis' data directory lives in a spec (stateful.Location).
type DataMount struct{ stateful.Location }

// Anonymous reports whether the data dies with the container (an anonymous
// volume, a tmpfs or no mount): a spec rollback cannot bring it back.
func (d DataMount) Anonymous() bool { return !d.Persistent() }

// String is the location's wording (stateful.Location.String) and, for a
// mount, where it is mounted: "volume cache-data on /data".
func (d DataMount) String() string {
	if d.Mounted {
		return d.Location.String() + " on " + path.Clean(d.Mount.Target)
	}
	return d.Location.String()
}

// DataMountOf is where dir lives in spec (stateful.Locate; the image is not
// inspected here).
func DataMountOf(spec swarm.ServiceSpec, dir string) DataMount {
	return DataMount{stateful.Locate(spec, dir, stateful.ImageFacts{})}
}

// RollbackOutcome says in words what a spec rollback did for the data:
// restoredSpec is the spec rolled back to, dir Redis' data directory, rep the
// verification after the rollback (nil when it could not run), newKeys how
// many keys the check before the rollback found written after the cut (-1:
// not checked).
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
	case rep.Classes[ClassUnattributed] != nil:
		out = append(out, fmt.Sprintf("The rollback re-attached %s; %s.", dm, strings.Join(rep.Reasons, "; ")))
	default:
		out = append(out, fmt.Sprintf("The rollback re-attached %s, but the data is NOT all back: %s.", dm, strings.Join(rep.Reasons, "; ")))
	}
	// Say only what was checked: the first check counted the keys written
	// after the cut (NEW); the check after the rollback counts those it finds.
	switch {
	case newKeys > 0 && rep == nil:
		out = append(out, fmt.Sprintf("%d key(s) written after the cut were on the updated task; whether the restored data holds them was not checked.", newKeys))
	case newKeys > 0 && rep.Count(redisstate.ClassNew) < newKeys:
		out = append(out, fmt.Sprintf("%d key(s) written after the cut were on the updated task; the restored data holds %d key(s) that are not in the cut.", newKeys, rep.Count(redisstate.ClassNew)))
	}
	return out
}
