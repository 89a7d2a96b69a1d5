package stateful

import (
	"path"
	"strings"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
)

// Kind is the kind of storage a data path lives on.
type Kind int

// The kinds of storage.
const (
	// Unmounted: no mount, and the image could not be inspected: either
	// ImageVolume or ContainerFS, both lost with the container.
	Unmounted Kind = iota
	// NamedVolume: a named volume (of the local driver, or of a driver
	// whose data lives elsewhere, see NodeLocal).
	NamedVolume
	// PerSlotVolume: a named volume whose source is templated per task
	// ({{.Task.Slot}}), so that replicas never share one.
	PerSlotVolume
	// ClusterVolume: a cluster (CSI) volume; its data follows the task.
	ClusterVolume
	// BindMount: a directory of the node.
	BindMount
	// AnonymousVolume: a --mount type=volume without a source.
	AnonymousVolume
	// ImageVolume: no mount, but the image declares the path (or a parent)
	// as a VOLUME: docker gives every container a fresh anonymous volume.
	ImageVolume
	// Tmpfs: memory, gone with the container.
	Tmpfs
	// ContainerFS: no mount and no VOLUME: the container's own writable layer.
	ContainerFS
)

// String is the kind's short name ("anonymous volume", "tmpfs", …).
func (k Kind) String() string {
	switch k {
	case NamedVolume:
		return "volume"
	case PerSlotVolume:
		return "per-slot volume"
	case ClusterVolume:
		return "cluster volume"
	case BindMount:
		return "bind mount"
	case AnonymousVolume, ImageVolume:
		return "anonymous volume"
	case Tmpfs:
		return "tmpfs"
	case ContainerFS:
		return "container filesystem"
	}
	return "anonymous volume or container"
}

// Location is where a data path lives: the mount that holds it (the one at
// the path or its closest parent) and the kind of storage that is.
type Location struct {
	Path string
	// Mount holds Path; meaningful only when Mounted.
	Mount   mount.Mount
	Mounted bool
	Kind    Kind
}

// ImageFacts is what the caller found out about a service's image.
type ImageFacts struct {
	// Volumes are the paths the image declares as VOLUME.
	Volumes []string
	// Inspected is false when the image could not be looked up: then a path
	// on no mount may be on the image's anonymous volume or in the
	// container's filesystem, and Locate says so (Unmounted).
	Inspected bool
}

// Locate returns where path p lives in spec.
func Locate(spec swarm.ServiceSpec, p string, img ImageFacts) Location {
	p = path.Clean(p)
	if m, ok := MountFor(Mounts(spec), p); ok {
		return Location{Path: p, Mount: m, Mounted: true, Kind: mountKind(m)}
	}
	loc := Location{Path: p, Kind: Unmounted}
	switch {
	case underAny(img.Volumes, p):
		loc.Kind = ImageVolume
	case img.Inspected:
		loc.Kind = ContainerFS
	}
	return loc
}

// LocateMount returns where path p lives when mount m holds it.
func LocateMount(p string, m mount.Mount) Location {
	return Location{Path: path.Clean(p), Mount: m, Mounted: true, Kind: mountKind(m)}
}

func mountKind(m mount.Mount) Kind {
	switch m.Type {
	case mount.TypeVolume:
		switch {
		case m.Source == "":
			return AnonymousVolume
		case IsPerReplica(m):
			return PerSlotVolume
		}
		return NamedVolume
	case mount.TypeCluster:
		return ClusterVolume
	case mount.TypeBind, mount.TypeNamedPipe:
		return BindMount
	}
	return Tmpfs
}

// underAny reports whether p is one of dirs or under one of them.
func underAny(dirs []string, p string) bool {
	for _, d := range dirs {
		d = path.Clean(d)
		if d == p || strings.HasPrefix(p, strings.TrimSuffix(d, "/")+"/") {
			return true
		}
	}
	return false
}

// Persistent reports whether the data outlives the task: on a named, per-slot
// or cluster volume or a bind mount.
func (l Location) Persistent() bool {
	switch l.Kind {
	case NamedVolume, PerSlotVolume, ClusterVolume, BindMount:
		return true
	}
	return false
}

// NodeLocal reports whether persistent data lives on one node, so that the
// task must stay there (IsNodeLocal).
func (l Location) NodeLocal() bool {
	return l.Persistent() && IsNodeLocal(l.Mount)
}

// String is the one wording of each kind that every message uses:
// "volume cache-data", "an anonymous volume", "a tmpfs mount", …
func (l Location) String() string {
	switch l.Kind {
	case NamedVolume:
		return "volume " + l.Mount.Source
	case PerSlotVolume:
		return "volume " + l.Mount.Source + " (one per replica)"
	case ClusterVolume:
		return "cluster volume " + l.Mount.Source
	case BindMount:
		return "bind mount " + l.Mount.Source
	case AnonymousVolume:
		return "an anonymous volume"
	case ImageVolume:
		return "the anonymous volume of the image's VOLUME"
	case Tmpfs:
		return "a tmpfs mount"
	case ContainerFS:
		return "the container's own filesystem (no volume is mounted there)"
	}
	return "an anonymous volume or the container's filesystem"
}

// PersistentTargets returns the targets of spec's mounts whose data outlives
// the task (named, per-slot and cluster volumes, bind mounts): where a
// process may keep data across an update. Anonymous volumes and tmpfs do not
// count.
func PersistentTargets(spec swarm.ServiceSpec) []string {
	var out []string
	for _, m := range Mounts(spec) {
		if mountKind(m) != AnonymousVolume && mountKind(m) != Tmpfs {
			out = append(out, m.Target)
		}
	}
	return out
}
