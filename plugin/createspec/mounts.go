package createspec

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/docker/docker/api/types/mount"

	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// SlotTemplate gives every replica of a service a volume of its own: swarm
// expands it to the task's slot number (1, 2, …) on the node that runs it.
const SlotTemplate = "{{.Task.Slot}}"

// VolumeLabelService is set on the volumes docker stateful adds (through the
// mount's volume options, applied when the node creates the volume), so that
// `docker volume ls --filter label=io.docker-stateful.service=NAME` finds them.
const VolumeLabelService = stateful.LabelPrefix + "service"

// Holder is the mount that holds a data path.
type Holder struct {
	Path  string
	Mount mount.Mount
	// Added is true when docker stateful added the mount, false when it is
	// the user's own --mount (left as written).
	Added bool
}

// VolumeSource is the name docker stateful gives the volume of dataPath:
// "<service>-data" when the service has one volume to add, else
// "<service>-data-<path>" ("db-data-var-lib-mysql"); perReplica appends
// "-{{.Task.Slot}}" so that replicas never share a volume.
func VolumeSource(service, dataPath string, single, perReplica bool) string {
	name := service + "-data"
	if !single {
		name += "-" + slug(dataPath)
	}
	if perReplica {
		name += "-" + SlotTemplate
	}
	return name
}

var nonNameChars = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// slug turns a path into a volume-name fragment: /var/lib/mysql → var-lib-mysql.
func slug(p string) string {
	s := nonNameChars.ReplaceAllString(strings.Trim(path.Clean(p), "/"), "-")
	if s = strings.Trim(s, "-"); s == "" {
		s = "root"
	}
	return s
}

// PlanMounts decides which mount holds each data path (paths sorted, as from
// stateful.DataPathsOf). A path under a persistent mount the user wrote (named
// volume, bind or cluster volume at the path or a parent directory) keeps it.
// Every other path gets a named volume (VolumeSource, or volumeName when the
// user chose one); a path under another path that gets a volume is held by
// that volume. A user's anonymous volume or tmpfs exactly at a data path is
// an error: it would lose the data on every update.
//
// It returns the holder of every path and the mounts to add.
func PlanMounts(service string, userMounts []mount.Mount, paths []string, perReplica bool, volumeName string) ([]Holder, []mount.Mount, error) {
	var holders []Holder
	var uncovered []string // paths that need a volume of their own
	for _, p := range paths {
		if m, ok := stateful.MountFor(userMounts, p); ok {
			if stateful.IsPersistent(m) {
				holders = append(holders, Holder{Path: p, Mount: m})
				continue
			}
			if path.Clean(m.Target) == p {
				return nil, nil, fmt.Errorf("--mount type=%s,target=%s: %s holds the service's data and %s dies with the container: give the volume a name (source=NAME), or drop the --mount and docker stateful adds one", m.Type, m.Target, p, stateful.LocateMount(p, m))
			}
			// A tmpfs or anonymous volume at a parent: our volume is mounted inside it.
		}
		uncovered = append(uncovered, p)
	}

	// Paths under another uncovered path are held by that path's volume.
	var top []string
	for _, p := range uncovered {
		if _, ok := parentIn(top, p); ok {
			continue
		}
		top = append(top, p)
	}

	if volumeName != "" && len(top) != 1 {
		if len(top) == 0 {
			return nil, nil, fmt.Errorf("--volume-name %s: every data path (%s) is already on a --mount: drop --volume-name", volumeName, strings.Join(paths, ", "))
		}
		return nil, nil, fmt.Errorf("--volume-name %s names one volume but %d data paths need one (%s): name them with --mount type=volume,source=NAME,target=PATH", volumeName, len(top), strings.Join(top, ", "))
	}

	added := make([]mount.Mount, 0, len(top))
	used := map[string]bool{}
	for _, p := range top {
		src := VolumeSource(service, p, len(top) == 1, perReplica)
		if volumeName != "" {
			src = volumeName
			if perReplica && !stateful.IsPerReplica(mount.Mount{Source: src}) {
				src += "-" + SlotTemplate
			}
		}
		for base, i := src, 2; used[src]; i++ {
			src = fmt.Sprintf("%s-%d", base, i)
		}
		used[src] = true
		added = append(added, mount.Mount{
			Type:   mount.TypeVolume,
			Source: src,
			Target: p,
			VolumeOptions: &mount.VolumeOptions{
				Labels: map[string]string{VolumeLabelService: service},
			},
		})
	}
	for _, p := range uncovered {
		m, _ := stateful.MountFor(added, p)
		holders = append(holders, Holder{Path: p, Mount: m, Added: true})
	}
	sortHolders(holders, paths)
	return holders, added, nil
}

// parentIn reports the entry of list that is p or a parent directory of p.
func parentIn(list []string, p string) (string, bool) {
	for _, q := range list {
		if q == p || strings.HasPrefix(p, strings.TrimSuffix(q, "/")+"/") {
			return q, true
		}
	}
	return "", false
}

// sortHolders puts holders in the order of paths.
func sortHolders(holders []Holder, paths []string) {
	idx := map[string]int{}
	for i, p := range paths {
		idx[p] = i
	}
	for i := 1; i < len(holders); i++ {
		for j := i; j > 0 && idx[holders[j].Path] < idx[holders[j-1].Path]; j-- {
			holders[j], holders[j-1] = holders[j-1], holders[j]
		}
	}
}

// VolumeNames returns the volume names the added mounts expand to on the
// node that runs the service: the source itself, or with {{.Task.Slot}}
// replaced by 1..replicas. Other templates cannot be known before the task
// exists and are skipped.
func VolumeNames(added []mount.Mount, replicas uint64) []string {
	var out []string
	for _, m := range added {
		src := strings.ReplaceAll(m.Source, "{{ .Task.Slot }}", SlotTemplate)
		switch {
		case strings.Contains(src, SlotTemplate):
			if tmp := strings.ReplaceAll(src, SlotTemplate, ""); strings.Contains(tmp, "{{") {
				continue
			}
			for i := uint64(1); i <= replicas; i++ {
				out = append(out, strings.ReplaceAll(src, SlotTemplate, fmt.Sprint(i)))
			}
		case strings.Contains(src, "{{"):
			continue
		default:
			out = append(out, src)
		}
	}
	return out
}
