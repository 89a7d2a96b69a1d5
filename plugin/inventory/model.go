package inventory

// This file is the one place where inventory reads where a data path lives:
// from plugin/stateful's one model (DataPathsOf, Locate) and the guard;
// nothing else in the package reads mounts.

import (
	"context"
	"time"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/engine"
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

// DataPath is one path that holds a service's state and where it lives
// (stateful.Location, the one model), with the kind as ls prints it.
type DataPath struct {
	Path   string `json:"path"`
	Kind   Kind   `json:"kind"`
	Source string `json:"source,omitempty"` // volume name (template), bind source
	// Prunable: the volume is an anonymous one mounted by its name, which a
	// plain docker volume prune -f deletes whenever no container uses it.
	Prunable bool `json:"prunable,omitempty"`
	loc      stateful.Location
}

// Persistent reports whether the data outlives the task.
func (d DataPath) Persistent() bool { return d.loc.Persistent() }

// NodeLocal reports whether the data stays on one node.
func (d DataPath) NodeLocal() bool { return d.loc.NodeLocal() }

// PerReplica reports whether every replica gets a volume of its own.
func (d DataPath) PerReplica() bool { return d.loc.Kind == stateful.PerSlotVolume }

// Location is where the path lives, in the shared model's words.
func (d DataPath) Location() stateful.Location { return d.loc }

// Mount is the mount holding the path (false when none).
func (d DataPath) Mount() (mount.Mount, bool) { return d.loc.Mount, d.loc.Mounted }

func (d DataPath) String() string {
	if d.Source != "" {
		return d.Path + " on " + string(d.Kind) + " " + d.Source
	}
	return d.Path + " on " + string(d.Kind)
}

// dataPathsOf returns every data path of spec (stateful.DataPathsOf: labels,
// image VOLUMEs, well-known images, named mounts) with where it lives.
// imageVolumes is nil with inspected false when the image could not be
// looked up.
func dataPathsOf(spec swarm.ServiceSpec, imageVolumes []string, inspected bool) []DataPath {
	var out []DataPath
	facts := stateful.ImageFacts{Volumes: imageVolumes, Inspected: inspected}
	for _, p := range stateful.Paths(stateful.DataPathsOf(spec, imageVolumes, nil)) {
		loc := stateful.Locate(spec, p, facts)
		d := DataPath{Path: p, loc: loc}
		switch loc.Kind {
		case stateful.NamedVolume:
			d.Kind, d.Source = KindNamedVolume, loc.Mount.Source
			if !loc.NodeLocal() {
				d.Kind = KindDriverVolume
			}
			d.Prunable = d.Kind == KindNamedVolume && AnonymousName(d.Source)
		case stateful.PerSlotVolume:
			d.Kind, d.Source = KindPerSlot, loc.Mount.Source
		case stateful.ClusterVolume:
			d.Kind, d.Source = KindCluster, loc.Mount.Source
		case stateful.BindMount:
			d.Kind, d.Source = KindBind, loc.Mount.Source
		case stateful.AnonymousVolume, stateful.ImageVolume:
			d.Kind = KindAnonymous
		case stateful.Tmpfs:
			d.Kind = KindTmpfs
		case stateful.ContainerFS:
			d.Kind = KindContainerFS
		default:
			d.Kind = KindNotPersistent
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
const recommendedGrace = stateful.CreateStopGracePeriod

// guardProblems runs the update guard's rules on the service as if it were
// updated now with --force (an update that replaces its tasks): what the
// guard would refuse is what the next update would lose.
func guardProblems(s *Swarm, svc swarm.Service) []guard.Problem {
	next := svc.Spec
	next.TaskTemplate.ForceUpdate++
	in := guard.Input{
		Service:        svc.Spec.Name,
		Current:        svc.Spec,
		New:            next,
		ImageVolumes:   s.ImageVolumes,
		TaskNodes:      s.runningNodes(svc.ID),
		ClusterVolumes: s.ClusterVolumes,
	}
	for _, n := range s.Nodes {
		in.Nodes = append(in.Nodes, stateful.NodesFrom([]swarm.Node{n})...)
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
// (the engine registry: by image, else by its server program).
func IsRedis(spec swarm.ServiceSpec) bool { return engine.IsRedis(spec) }

// Probe looks inside a running service (its Redis) for risks the spec does
// not show; an error means it could not look (plugin/inventory/probe).
type Probe func(ctx context.Context, svc swarm.Service) ([]Finding, error)
