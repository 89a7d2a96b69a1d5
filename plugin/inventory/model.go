package inventory

// This file is the one place where inventory reads where a data path lives
// from today's plugin/stateful helpers (DataPaths, StatePaths, MountFor,
// IsPersistent, IsNodeLocal, IsPerReplica) and the guard. When
// plugin/stateful gains its one model of a data path (path, mount, kind,
// Persistent, NodeLocal, String), switch dataPathsOf and the Kind constants
// here to it; nothing else in the package reads mounts.

import (
	"slices"
	"strings"
	"time"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/createspec"
	"github.com/docker-stateful/docker-stateful/plugin/guard"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// Kind is where a data path lives.
type Kind string

// The kinds of home a data path has, as ls prints them.
const (
	KindNamedVolume   Kind = "named local volume"
	KindPerSlot       Kind = "per-slot volumes"
	KindDriverVolume  Kind = "volume (network driver)"
	KindCluster       Kind = "cluster volume"
	KindBind          Kind = "bind"
	KindAnonymous     Kind = "anonymous volume"
	KindTmpfs         Kind = "tmpfs"
	KindContainerFS   Kind = "container filesystem"
	KindNotPersistent Kind = "no named volume" // image not inspected: anonymous volume or container filesystem
)

// DataPath is one path that holds a service's state and where it lives.
type DataPath struct {
	Path   string `json:"path"`
	Kind   Kind   `json:"kind"`
	Source string `json:"source,omitempty"` // volume name (template), bind source
	mount  mount.Mount
	found  bool
}

// Persistent reports whether the data outlives the task.
func (d DataPath) Persistent() bool { return d.found && stateful.IsPersistent(d.mount) }

// NodeLocal reports whether the data stays on one node.
func (d DataPath) NodeLocal() bool { return d.Persistent() && stateful.IsNodeLocal(d.mount) }

// PerReplica reports whether every replica gets a volume of its own.
func (d DataPath) PerReplica() bool { return d.found && stateful.IsPerReplica(d.mount) }

// Mount is the mount holding the path (false when none).
func (d DataPath) Mount() (mount.Mount, bool) { return d.mount, d.found }

func (d DataPath) String() string {
	if d.Source != "" {
		return d.Path + " on " + string(d.Kind) + " " + d.Source
	}
	return d.Path + " on " + string(d.Kind)
}

// dataPathsOf returns every state path of spec (stateful.StatePaths: labels,
// image VOLUMEs, well-known images, named mounts) with where it lives.
// imageVolumes is nil with inspected false when the image could not be
// looked up.
func dataPathsOf(spec swarm.ServiceSpec, imageVolumes []string, inspected bool) []DataPath {
	var out []DataPath
	mounts := stateful.Mounts(spec)
	for _, p := range stateful.StatePaths(spec, imageVolumes, nil) {
		d := DataPath{Path: p}
		d.mount, d.found = stateful.MountFor(mounts, p)
		m := d.mount
		switch {
		case !d.found && slices.Contains(imageVolumes, p):
			d.Kind = KindAnonymous
		case !d.found && inspected:
			d.Kind = KindContainerFS
		case !d.found:
			d.Kind = KindNotPersistent
		case m.Type == mount.TypeTmpfs:
			d.Kind = KindTmpfs
		case m.Type == mount.TypeVolume && m.Source == "":
			d.Kind = KindAnonymous
		case m.Type == mount.TypeBind:
			d.Kind, d.Source = KindBind, m.Source
		case m.Type == mount.TypeCluster:
			d.Kind, d.Source = KindCluster, m.Source
		case m.Type == mount.TypeVolume && !stateful.IsNodeLocal(m):
			d.Kind, d.Source = KindDriverVolume, m.Source
		case stateful.IsPerReplica(m):
			d.Kind, d.Source = KindPerSlot, m.Source
		case m.Type == mount.TypeVolume:
			d.Kind, d.Source = KindNamedVolume, m.Source
		default:
			d.Kind = Kind(m.Type)
		}
		out = append(out, d)
	}
	return out
}

// pinsOf returns the service's single-node constraints as key, value pairs.
func pinsOf(spec swarm.ServiceSpec) []stateful.Pin {
	return stateful.Pins(stateful.Constraints(spec))
}

// replicasOf is the replica count (0, false for global services).
func replicasOf(spec swarm.ServiceSpec) (uint64, bool) { return stateful.Replicas(spec) }

// graceOf is the service's stop grace period.
func graceOf(spec swarm.ServiceSpec) time.Duration { return stateful.StopGracePeriod(spec) }

// recommendedGrace is the grace period create gives a database.
const recommendedGrace = createspec.DefaultStopGracePeriod

// guardProblems runs the update guard's rules on the service as if it were
// updated now with --force (an update that replaces its tasks): what the
// guard would refuse is what the next update would lose.
func guardProblems(s *Swarm, svc swarm.Service) []guard.Problem {
	next := svc.Spec
	next.TaskTemplate.ForceUpdate++
	in := guard.Input{
		Service:      svc.Spec.Name,
		Current:      svc.Spec,
		New:          next,
		ImageVolumes: s.ImageVolumes,
		TaskNodes:    s.runningNodes(svc.ID),
	}
	for _, n := range s.Nodes {
		in.Nodes = append(in.Nodes, guard.Node{ID: n.ID, Hostname: n.Description.Hostname})
	}
	return guard.Check(in).Problems
}

// The guard's rule names that check reports under the same code.
const (
	codeEphemeral  = guard.RuleEphemeralData
	codeUnpinned   = guard.RuleUnpinned
	codeStartFirst = guard.RuleStartFirst
	codeShared     = guard.RuleSharedVolume
	codeGrace      = guard.RuleStopGrace
)

// Replicas is the service's replica count (0, false for a global service).
func Replicas(spec swarm.ServiceSpec) (uint64, bool) { return replicasOf(spec) }

// StopGrace is the service's stop grace period.
func StopGrace(spec swarm.ServiceSpec) time.Duration { return graceOf(spec) }

// IsRedis reports whether the service runs Redis (or Valkey).
func IsRedis(spec swarm.ServiceSpec) bool {
	repo := stateful.RepositoryName(image(spec))
	return strings.Contains(repo, "redis") || strings.Contains(repo, "valkey")
}
