package stateful

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"unicode"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
)

// Where a data path comes from, shown to the user so that every mount the
// plugin adds and every refusal has a reason.
const (
	OriginLabel = "recorded in the service's labels"
	OriginImage = "VOLUME declared by the image"
	OriginKnown = "known data path of the image"
	OriginFlag  = "--data"
	OriginMount = "a named volume the service mounts"
)

// ValidateDataPath checks a data path the user names (--data): absolute,
// not the container's root, and free of the separators of the labels that
// record it (a comma would come back as two paths, "=" as a path=volume
// pair), so that every later update reads it back as written.
func ValidateDataPath(p string) error {
	switch {
	case !path.IsAbs(p):
		return fmt.Errorf("must be an absolute path in the container (for example /%s)", strings.TrimLeft(p, "./"))
	case path.Clean(p) == "/":
		return errors.New("the container's root cannot be a volume: name the directory that holds the data")
	case strings.ContainsAny(p, ",="):
		return errors.New("a data path cannot contain ',' or '=' (docker stateful records data paths in comma-separated path=volume labels): name a directory without them")
	case strings.ContainsFunc(p, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }):
		return errors.New("a data path cannot contain control characters")
	case strings.TrimSpace(path.Clean(p)) != path.Clean(p):
		return errors.New("a data path cannot begin or end with a space")
	}
	return nil
}

// DataPath is a path that holds a service's state, with why it does.
type DataPath struct {
	Path    string
	Origins []string
}

// Declared reports whether the path holds data for a reason other than a
// volume mounted there: the labels, the image, the known-images table or
// --data say so.
func (d DataPath) Declared() bool {
	return slices.ContainsFunc(d.Origins, func(o string) bool { return o != OriginMount })
}

// DataPathsOf returns every path where a service keeps state, cleaned,
// sorted and without duplicates, each with its origins: the paths recorded
// in its labels, the image's declared VOLUMEs (imageVolumes, looked up by
// the caller), the built-in table of well-known images, the paths the user
// named (--data), and the targets of the writable named volumes it mounts
// (NamedMounts: a service docker stateful did not create may keep its state
// anywhere it mounted a volume).
func DataPathsOf(spec swarm.ServiceSpec, imageVolumes, extra []string) []DataPath {
	byPath := map[string]*DataPath{}
	var out []*DataPath
	add := func(origin string, ps []string) {
		for _, p := range ps {
			p = path.Clean(p)
			dp, ok := byPath[p]
			if !ok {
				dp = &DataPath{Path: p}
				byPath[p] = dp
				out = append(out, dp)
			}
			if !slices.Contains(dp.Origins, origin) {
				dp.Origins = append(dp.Origins, origin)
			}
		}
	}
	add(OriginLabel, LabeledDataPaths(spec.Labels))
	add(OriginImage, imageVolumes)
	if cs := spec.TaskTemplate.ContainerSpec; cs != nil {
		add(OriginKnown, KnownDataPaths(cs.Image))
	}
	add(OriginFlag, extra)
	for _, m := range NamedMounts(spec) {
		add(OriginMount, []string{m.Target})
	}
	if len(out) == 0 {
		return nil
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	res := make([]DataPath, len(out))
	for i, dp := range out {
		res[i] = *dp
	}
	return res
}

// Declared returns the data paths of dps that are Declared.
func Declared(dps []DataPath) []DataPath {
	var out []DataPath
	for _, dp := range dps {
		if dp.Declared() {
			out = append(out, dp)
		}
	}
	return out
}

// Paths returns just the paths of dps.
func Paths(dps []DataPath) []string {
	if len(dps) == 0 {
		return nil
	}
	out := make([]string, len(dps))
	for i, dp := range dps {
		out[i] = dp.Path
	}
	return out
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
