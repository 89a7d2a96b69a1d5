package stateful

import (
	"sort"
	"strings"
)

// Labels docker-stateful records on a service it created, so that update,
// the hooks and completion can find what it added later.
const (
	LabelPrefix = "io.docker-stateful."
	// LabelDataPaths lists the data paths, comma separated.
	LabelDataPaths = LabelPrefix + "data"
	// LabelVolumes lists path=volume-source pairs, comma separated.
	LabelVolumes = LabelPrefix + "volumes"
	// LabelPin is the ID of the node the service was pinned to ("" when --no-pin).
	LabelPin = LabelPrefix + "pin"
	// LabelVersion is the plugin version that created the service.
	LabelVersion = LabelPrefix + "version"
)

// IsManaged reports whether the service was created by docker stateful.
func IsManaged(labels map[string]string) bool {
	_, ok := labels[LabelDataPaths]
	return ok
}

// LabeledDataPaths returns the data paths recorded on the service.
func LabeledDataPaths(labels map[string]string) []string {
	return splitList(labels[LabelDataPaths])
}

// LabeledVolumes returns the path → volume source pairs recorded on the service.
func LabeledVolumes(labels map[string]string) map[string]string {
	out := map[string]string{}
	for _, kv := range splitList(labels[LabelVolumes]) {
		if path, src, ok := strings.Cut(kv, "="); ok {
			out[path] = src
		}
	}
	return out
}

// FormatVolumes renders path → source pairs for LabelVolumes, sorted by path.
func FormatVolumes(vols map[string]string) string {
	paths := make([]string, 0, len(vols))
	for p := range vols {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	parts := make([]string, len(paths))
	for i, p := range paths {
		parts[i] = p + "=" + vols[p]
	}
	return strings.Join(parts, ",")
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
