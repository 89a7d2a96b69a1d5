// Package hint decides what docker stateful says after a plain `docker
// service create` or `docker service update` (through docker's CLI hooks):
// nothing when the service keeps its data safely, else one line naming the
// risk and the `docker stateful` command that fixes it.
//
// It reasons from a service's spec plus a few facts the caller looks up (the
// image's declared VOLUMEs, the node running the task, the number of nodes),
// with the same rules as the update guard, and has no cobra and no daemon in
// it. Template renders the hints as a docker CLI hook template.
package hint

import (
	"fmt"
	"path"
	"strings"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/createspec"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// Kinds of risk.
const (
	// Ephemeral: a data path is on an anonymous volume, a tmpfs or the
	// container's own filesystem; every update replaces the container and
	// loses it.
	Ephemeral = "ephemeral"
	// Unpinned: a node-local volume holds the data but no constraint keeps
	// the task on its node; an update may start it elsewhere, empty.
	Unpinned = "unpinned"
)

// Service is what a hint looks at.
type Service struct {
	ID   string
	Spec swarm.ServiceSpec
	// ImageVolumes are the VOLUMEs the service's image declares, when the
	// caller could look them up (the known-images table applies anyway).
	ImageVolumes []string
	// TaskNode is the ID of the node running the service's task now ("" when
	// none runs or it is unknown): the node to pin to.
	TaskNode string
	// Nodes is the number of nodes in the swarm (0 when unknown). With one
	// node, an unpinned service cannot move.
	Nodes int
}

// Risk is one reason a service may lose its data on the next update.
type Risk struct {
	Kind string
	// Path is the data path at risk (Ephemeral) or the first of the paths on
	// unpinned local volumes (Unpinned).
	Path string
	// Mount is the mount holding Path, if any.
	Mount    mount.Mount
	HasMount bool
}

// DataPaths are the paths holding the service's state, as the update guard
// sees them (stateful.StatePaths: labels, image VOLUMEs, known images, and
// every writable named volume it mounts).
func DataPaths(s Service) []string {
	return stateful.StatePaths(s.Spec, s.ImageVolumes, nil)
}

// Risks lists what puts the service's data at risk (nil when it is safe).
func Risks(s Service) []Risk {
	if s.Spec.TaskTemplate.ContainerSpec == nil {
		return nil
	}
	var risks []Risk
	var local []Risk
	mounts := stateful.Mounts(s.Spec)
	for _, p := range DataPaths(s) {
		m, ok := stateful.MountFor(mounts, p)
		switch {
		case !ok || !stateful.IsPersistent(m):
			risks = append(risks, Risk{Kind: Ephemeral, Path: p, Mount: m, HasMount: ok})
		case stateful.IsNodeLocal(m):
			local = append(local, Risk{Kind: Unpinned, Path: p, Mount: m, HasMount: true})
		}
	}
	if len(local) > 0 && !pinned(s) {
		risks = append(risks, local[0])
	}
	return risks
}

// pinned reports whether the service stays where its local volumes are: it
// is global (one task per node), the swarm has one node, it has a node.id
// or node.hostname pin, or a node.labels constraint (a deliberate placement
// we cannot evaluate). A service created with --no-pin counts as pinned: its
// owner chose so and was warned.
func pinned(s Service) bool {
	if _, replicated := stateful.Replicas(s.Spec); !replicated || s.Nodes == 1 {
		return true
	}
	if stateful.IsManaged(s.Spec.Labels) && s.Spec.Labels[stateful.LabelPin] == "" {
		return true
	}
	cons := stateful.Constraints(s.Spec)
	if len(stateful.Pins(cons)) > 0 {
		return true
	}
	for _, c := range cons {
		if k, _, ok := strings.Cut(c, "=="); ok && strings.HasPrefix(strings.TrimSpace(k), "node.labels.") {
			return true
		}
	}
	return false
}

// Text is the one-line hint for the service, "" when its data is safe.
func Text(s Service) string {
	risks := Risks(s)
	if len(risks) == 0 {
		return ""
	}
	name := s.Spec.Name
	var eph []Risk
	for _, r := range risks {
		if r.Kind == Ephemeral {
			eph = append(eph, r)
		}
	}
	if len(eph) > 0 {
		paths := make([]string, len(eph))
		cmd := "docker stateful update"
		if s.TaskNode != "" {
			// The data in the anonymous volume cannot be carried over: the
			// update guard refuses the fix unless forced.
			cmd += " --force"
		}
		for i, r := range eph {
			paths[i] = r.Path
			cmd += fmt.Sprintf(" --mount-add type=volume,source=%s,target=%s", volumeName(s, r.Path, len(DataPaths(s)) > 1), r.Path)
		}
		if !pinned(s) {
			cmd += " --constraint-add " + stateful.PinConstraint(pinNode(s))
		}
		cmd += " " + name
		keep := "to keep it from now on"
		if s.TaskNode != "" {
			keep += " (what is there now cannot be carried over)"
		}
		return fmt.Sprintf("%s: %s %s on %s, lost on every update; %s: %s",
			name, strings.Join(paths, ", "), isAre(len(paths)), describeEphemeral(s, eph[0]), keep, cmd)
	}
	r := risks[0]
	return fmt.Sprintf("%s: %s on local volume %s, but nothing pins the service to its node: an update may restart it elsewhere with an empty volume; pin it: docker stateful update --constraint-add %s %s",
		name, r.Path, r.Mount.Source, stateful.PinConstraint(pinNode(s)), name)
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

func describeEphemeral(s Service, r Risk) string {
	switch {
	case r.HasMount && r.Mount.Type == mount.TypeTmpfs:
		return "a tmpfs"
	case r.HasMount:
		return "an anonymous volume"
	}
	for _, v := range s.ImageVolumes {
		if path.Clean(v) == r.Path {
			return "an anonymous volume"
		}
	}
	return "an anonymous volume or the container's filesystem"
}

// volumeName is the named volume suggested for p, named as docker stateful
// create and the update guard name them.
func volumeName(s Service, p string, several bool) string {
	n, ok := stateful.Replicas(s.Spec)
	return createspec.VolumeSource(s.Spec.Name, p, !several, ok && n > 1)
}

func pinNode(s Service) string {
	if s.TaskNode != "" {
		return s.TaskNode
	}
	return "<NODE-ID>"
}
