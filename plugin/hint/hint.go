// Package hint decides what docker stateful says after a plain `docker
// service create` or `docker service update` (through docker's CLI hooks):
// nothing when the service keeps its data safely, else one line naming the
// risk and the `docker stateful` command that fixes it.
//
// The risk is the update guard's verdict on the next update that replaces
// the service's task (guard.Check), with its fix (guard.FixCommand,
// guard.PinCommand) and its words for where the data lives
// (stateful.Location). Template renders the hints as a docker CLI hook reply.
// No cobra and no daemon here: the caller looks the facts up.
package hint

import (
	"fmt"
	"strings"

	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/guard"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// Kinds of risk.
const (
	// Ephemeral: a data path is on an anonymous volume, a tmpfs or the
	// container's own filesystem; every update replaces the container and
	// loses it (guard.RuleEphemeralData).
	Ephemeral = guard.RuleEphemeralData
	// Unpinned: a node-local volume holds the data but no constraint keeps
	// the task on its node; an update may start it elsewhere, empty
	// (guard.RuleUnpinned).
	Unpinned = guard.RuleUnpinned
)

// Service is what a hint looks at.
type Service struct {
	ID   string
	Spec swarm.ServiceSpec
	// ImageVolumes are the VOLUMEs the service's image declares; nil when
	// the caller could not look them up (the known-images table applies
	// anyway).
	ImageVolumes []string
	// TaskNode is the ID of the node running the service's task now ("" when
	// none runs or it is unknown): the node to pin to.
	TaskNode string
	// Nodes are the swarm's nodes (nil when unknown). With one node, an
	// unpinned service cannot move.
	Nodes []stateful.Node
}

// Risk is one reason a service may lose its data on the next update.
type Risk struct {
	Kind string
	// Path is the data path at risk (Ephemeral) or the first of the paths on
	// unpinned local volumes (Unpinned).
	Path string
	// Location is where Path lives.
	Location stateful.Location
}

// nextUpdate is what the guard is asked about: the service's next update
// that replaces its task (any plain `docker service update` but a few).
func nextUpdate(s Service) guard.Input {
	next := s.Spec
	next.TaskTemplate.ForceUpdate++
	in := guard.Input{Service: s.Spec.Name, Current: s.Spec, New: next, Nodes: s.Nodes}
	if s.ImageVolumes != nil {
		in.ImageVolumes = map[string][]string{stateful.Image(s.Spec): s.ImageVolumes}
	}
	if s.TaskNode != "" {
		in.TaskNodes = []string{s.TaskNode}
	}
	return in
}

// Risks lists what puts the service's data at risk (nil when it is safe):
// the guard's refusals of the next update that replaces the task, for data
// on ephemeral storage or on an unpinned local volume.
func Risks(s Service) []Risk {
	if s.Spec.TaskTemplate.ContainerSpec == nil {
		return nil
	}
	in := nextUpdate(s)
	report := guard.Check(in)
	facts := stateful.ImageFacts{Volumes: s.ImageVolumes, Inspected: s.ImageVolumes != nil}
	var risks []Risk
	for _, p := range report.Problems {
		switch p.Code {
		case Ephemeral:
			risks = append(risks, Risk{Kind: Ephemeral, Path: p.Path, Location: stateful.Locate(s.Spec, p.Path, facts)})
		case Unpinned:
			for _, dp := range report.DataPaths {
				if loc := stateful.Locate(s.Spec, dp, facts); loc.NodeLocal() {
					risks = append(risks, Risk{Kind: Unpinned, Path: dp, Location: loc})
					break
				}
			}
		}
	}
	return risks
}

// Text is the one-line hint for the service, "" when its data is safe.
func Text(s Service) string {
	risks := Risks(s)
	if len(risks) == 0 {
		return ""
	}
	name := s.Spec.Name
	var eph []string
	for _, r := range risks {
		if r.Kind == Ephemeral {
			eph = append(eph, r.Path)
		}
	}
	if len(eph) > 0 {
		keep := "to keep it from now on"
		if s.TaskNode != "" {
			// The data in the anonymous volume cannot be carried over: the
			// update guard refuses the fix unless forced.
			keep += " (what is there now cannot be carried over)"
		}
		return fmt.Sprintf("%s: %s %s on %s, lost on every update; %s: %s",
			name, strings.Join(eph, ", "), isAre(len(eph)), risks[0].Location, keep, guard.FixCommand(nextUpdate(s), eph...))
	}
	r := risks[0]
	return fmt.Sprintf("%s: %s on local %s, but nothing pins the service to its node: an update may restart it elsewhere with an empty volume; pin it: %s",
		name, r.Path, r.Location, guard.PinCommand(nextUpdate(s)))
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}
