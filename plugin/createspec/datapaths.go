package createspec

import (
	"path"
	"slices"
	"sort"

	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// Where a data path comes from, shown to the user so that every mount the
// plugin adds has a reason.
const (
	OriginImage = "VOLUME declared by the image"
	OriginKnown = "known data path of the image"
	OriginFlag  = "--data"
	OriginLabel = "recorded in the service's labels"
)

// DataPath is a path that holds a service's state, with why it does.
type DataPath struct {
	Path    string
	Origins []string
}

// DataPathsFor returns the paths that hold a service's state, cleaned, sorted
// and without duplicates, each with its origins: the paths recorded in the
// service's labels, the image's declared VOLUMEs (imageVolumes, looked up by
// the caller with ImageInspect), the built-in table of well-known images, and
// the paths the user named with --data (extra). It is the same set as
// stateful.DataPaths, with reasons attached.
func DataPathsFor(spec swarm.ServiceSpec, imageVolumes, extra []string) []DataPath {
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
	add(OriginLabel, stateful.LabeledDataPaths(spec.Labels))
	add(OriginImage, imageVolumes)
	if cs := spec.TaskTemplate.ContainerSpec; cs != nil {
		add(OriginKnown, stateful.KnownDataPaths(cs.Image))
	}
	add(OriginFlag, extra)
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	res := make([]DataPath, len(out))
	for i, dp := range out {
		res[i] = *dp
	}
	return res
}

// Paths returns just the paths of dps.
func Paths(dps []DataPath) []string {
	out := make([]string, len(dps))
	for i, dp := range dps {
		out[i] = dp.Path
	}
	return out
}

// ImageVolumes returns the paths of an image's Config.Volumes, sorted.
func ImageVolumes(volumes map[string]struct{}) []string {
	out := make([]string, 0, len(volumes))
	for p := range volumes {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}
