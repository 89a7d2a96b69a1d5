package stateful

import (
	"path"
	"sort"
	"strings"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
)

// DataPaths returns the paths that hold a service's state, cleaned, sorted and
// without duplicates: those recorded in its labels, the image's declared
// VOLUMEs (looked up by the caller), the built-in table of well-known images,
// and extra paths the user named (--data).
func DataPaths(spec swarm.ServiceSpec, imageVolumes, extra []string) []string {
	var known []string
	if cs := spec.TaskTemplate.ContainerSpec; cs != nil {
		known = KnownDataPaths(cs.Image)
	}
	return MergePaths(LabeledDataPaths(spec.Labels), imageVolumes, known, extra)
}

// NamedMounts returns the writable named volumes (volume or cluster) that
// spec mounts: where a service that docker stateful did not create may keep
// its state.
func NamedMounts(spec swarm.ServiceSpec) []mount.Mount {
	var out []mount.Mount
	for _, m := range Mounts(spec) {
		if (m.Type == mount.TypeVolume || m.Type == mount.TypeCluster) && m.Source != "" && !m.ReadOnly {
			out = append(out, m)
		}
	}
	return out
}

// StatePaths returns every path where the service may keep state, as the
// update guard and the hook's hint see it: its DataPaths plus the targets of
// its NamedMounts; cleaned, sorted and without duplicates.
func StatePaths(spec swarm.ServiceSpec, imageVolumes, extra []string) []string {
	var targets []string
	for _, m := range NamedMounts(spec) {
		targets = append(targets, m.Target)
	}
	return MergePaths(DataPaths(spec, imageVolumes, extra), targets)
}

// MergePaths returns the paths of all lists, cleaned, sorted and without
// duplicates (nil when there are none).
func MergePaths(lists ...[]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, ps := range lists {
		for _, p := range ps {
			p = path.Clean(p)
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Mounts returns the service's mounts (nil for a non-container service).
func Mounts(spec swarm.ServiceSpec) []mount.Mount {
	if cs := spec.TaskTemplate.ContainerSpec; cs != nil {
		return cs.Mounts
	}
	return nil
}

// MountFor returns the mount that holds dataPath: the one whose target is the
// path itself or its closest parent directory.
func MountFor(mounts []mount.Mount, dataPath string) (mount.Mount, bool) {
	dataPath = path.Clean(dataPath)
	best, found := mount.Mount{}, false
	for _, m := range mounts {
		t := path.Clean(m.Target)
		if t == dataPath || strings.HasPrefix(dataPath, strings.TrimSuffix(t, "/")+"/") {
			if !found || len(t) > len(path.Clean(best.Target)) {
				best, found = m, true
			}
		}
	}
	return best, found
}

// IsPersistent reports whether a mount outlives the task that uses it: a
// named volume, a bind mount or a cluster (CSI) volume. An anonymous volume
// (no source) and tmpfs die with the container.
func IsPersistent(m mount.Mount) bool {
	switch m.Type {
	case mount.TypeBind, mount.TypeCluster:
		return true
	case mount.TypeVolume:
		return m.Source != ""
	}
	return false
}

// IsNodeLocal reports whether a persistent mount's data lives on one node, so
// that the task must stay there: bind mounts, and volumes of the local driver
// unless its options make it a network filesystem (type=nfs, cifs, …).
func IsNodeLocal(m mount.Mount) bool {
	switch m.Type {
	case mount.TypeBind:
		return true
	case mount.TypeVolume:
		if m.VolumeOptions == nil || m.VolumeOptions.DriverConfig == nil {
			return true
		}
		dc := m.VolumeOptions.DriverConfig
		if dc.Name != "" && dc.Name != "local" {
			return false
		}
		switch dc.Options["type"] {
		case "nfs", "nfs4", "cifs", "smb", "glusterfs", "ceph":
			return false
		}
		return true
	}
	return false
}

// IsPerReplica reports whether a volume source gives every replica a volume
// of its own (a {{.Task.Slot}} or {{.Task.ID}}/{{.Task.Name}} template).
func IsPerReplica(m mount.Mount) bool {
	s := strings.ReplaceAll(m.Source, " ", "")
	return strings.Contains(s, "{{.Task.Slot}}") || strings.Contains(s, "{{.Task.ID}}") || strings.Contains(s, "{{.Task.Name}}")
}
