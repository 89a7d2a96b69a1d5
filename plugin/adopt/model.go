package adopt

// This file is where adopt reads and writes docker stateful's conventions
// (labels, defaults, pins) from today's plugin/stateful and plugin/createspec;
// switch it to the one data-path model when that lands.

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/createspec"
	"github.com/docker-stateful/docker-stateful/plugin/inventory"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// safeSpec is spec with each move's volume mounted by name, pinned to node
// (unless a pin already keeps it there), docker stateful's labels, and the
// defaults create applies when they are not set.
func safeSpec(spec swarm.ServiceSpec, moves []Move, node string, paths []inventory.DataPath, version string, sw *inventory.Swarm) (swarm.ServiceSpec, string, map[string]string, []string) {
	out := spec
	cs := *spec.TaskTemplate.ContainerSpec
	cs.Mounts = slices.Clone(cs.Mounts)
	out.TaskTemplate.ContainerSpec = &cs
	for _, mv := range moves {
		done := false
		for i, m := range cs.Mounts {
			// The image's VOLUME made explicit (no source), or the
			// anonymous volume mounted by its name: both become the copy.
			if m.Type == mount.TypeVolume && (m.Source == "" || m.Source == mv.From) && m.Target == mv.Path {
				cs.Mounts[i].Source, done = mv.Volume, true
			}
		}
		if !done {
			cs.Mounts = append(cs.Mounts, mount.Mount{Type: mount.TypeVolume, Source: mv.Volume, Target: mv.Path})
		}
	}
	pin := ""
	pinned := false
	for _, p := range sw.Pinned(swarm.Service{Spec: spec}) {
		pinned = pinned || p.ID == node
	}
	if !pinned {
		pin = stateful.PinConstraint(node)
		pl := swarm.Placement{}
		if spec.TaskTemplate.Placement != nil {
			pl = *spec.TaskTemplate.Placement
		}
		pl.Constraints = append(slices.Clone(pl.Constraints), pin)
		out.TaskTemplate.Placement = &pl
	}
	var changes []string
	if cs.StopGracePeriod == nil {
		g := stateful.CreateStopGracePeriod
		cs.StopGracePeriod = &g
		changes = append(changes, fmt.Sprintf("stop grace period %s (time for the database to save on SIGTERM)", g))
	}
	for _, x := range []struct {
		cfg  **swarm.UpdateConfig
		flag string
	}{{&out.UpdateConfig, "update"}, {&out.RollbackConfig, "rollback"}} {
		c := swarm.UpdateConfig{}
		if *x.cfg != nil {
			c = **x.cfg
		}
		if c.Order != swarm.UpdateOrderStopFirst {
			changes = append(changes, fmt.Sprintf("%s order stop-first (was %s)", x.flag, orDefault(string(c.Order))))
			c.Order = swarm.UpdateOrderStopFirst
			*x.cfg = &c
		}
	}
	labels := maps.Clone(spec.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	vols := stateful.LabeledVolumes(spec.Labels)
	var dataPaths []string
	for _, d := range paths {
		dataPaths = append(dataPaths, d.Path)
		if m, ok := stateful.MountFor(cs.Mounts, d.Path); ok && m.Type == mount.TypeVolume && m.Source != "" {
			vols[d.Path] = m.Source
		}
	}
	added := map[string]string{
		stateful.LabelDataPaths: strings.Join(dataPaths, ","),
		stateful.LabelVolumes:   stateful.FormatVolumes(vols),
		stateful.LabelPin:       node,
		stateful.LabelVersion:   version,
	}
	maps.Copy(labels, added)
	out.Labels = labels
	return out, pin, added, changes
}

func orDefault(order string) string {
	if order == "" {
		return "unset"
	}
	return order
}

// serviceLabel marks a volume adopt made with the service it holds data for.
const serviceLabel = stateful.LabelPrefix + "service"

// validVolumeName is create's rule for --volume-name.
func validVolumeName(name string) error {
	if err := createspec.ValidateVolumeName(name); err != nil || strings.Contains(name, "{{") {
		return fmt.Errorf("--volume-name %q: not a valid volume name: use letters, digits, '_', '.', '-' (at least 2 characters, starting with a letter or digit)", name)
	}
	return nil
}

// replacesTasks reports whether sending next replaces the service's task.
func replacesTasks(cur, next swarm.ServiceSpec) bool { return stateful.ReplacesTasks(cur, next) }
