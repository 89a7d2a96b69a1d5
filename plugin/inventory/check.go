package inventory

import (
	"fmt"
	"strings"

	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/finding"
	"github.com/docker-stateful/docker-stateful/plugin/guard"
)

// Finding is one risk to a service's data: the one shape of a problem that
// check (and the update guard's rules it reuses) reports.
type Finding = finding.Finding

// Codes check adds to the guard's rules.
const (
	CodePinnedNode  = "pinned-node-unavailable"
	CodeTaskFailing = "task-failing"
	CodeNoVolume    = "volume-missing"
)

// Risk words of ls and check.
const (
	RiskSafe   = "safe"
	RiskAtRisk = "at-risk"
	RiskStuck  = "stuck" // cannot run: pinned node unusable, task failing
)

// Check lists every risk to the data of svc. A service without data paths
// has none.
func (s *Swarm) Check(svc swarm.Service) []Finding {
	paths := s.DataPaths(svc)
	if len(paths) == 0 {
		return nil
	}
	name := svc.Spec.Name
	var out []Finding
	n, replicated := replicasOf(svc.Spec)
	for _, p := range guardProblems(s, svc) {
		f := Finding{Code: p.Code, Path: p.Path, Message: p.Message, Fix: p.Fix}
		switch p.Code {
		case codeEphemeral:
			if replicated && n == 1 && s.running(svc.ID) == 1 {
				// The guard's message is about an update; check's is about now.
				f.Message = fmt.Sprintf("%s is on %s: the next update that replaces the task loses it (adopt keeps what it holds now)", p.Path, where(paths, p.Path))
				f.Fix = "docker stateful adopt " + name
			}
		case codeUnpinned:
			if nodes := s.runningNodes(svc.ID); len(nodes) > 0 {
				f.Fix = fmt.Sprintf("docker stateful update --constraint-add node.id==%s %s", nodes[0], name)
			}
		case codeStartFirst:
			f.Fix = fmt.Sprintf("docker stateful update --update-order stop-first --rollback-order stop-first %s", name)
		case guard.RuleNowhere:
			continue // said below as it is now (pinned-node-unavailable), not as an update
		}
		out = append(out, f)
	}
	for _, d := range paths {
		if f, ok := s.prunable(name, d); ok {
			out = append(out, f)
		}
	}
	if g := graceOf(svc.Spec); g < recommendedGrace {
		out = append(out, Finding{Code: codeGrace,
			Message: fmt.Sprintf("the stop grace period is %s: a database may be killed (exit 137) before it has saved %s on SIGTERM", g, joinPaths(paths)),
			Fix:     fmt.Sprintf("docker stateful update --stop-grace-period %s %s", recommendedGrace, name)})
	}
	if replicated && n > 1 {
		for _, d := range paths {
			if d.Persistent() && !d.PerReplica() {
				out = append(out, Finding{Code: codeShared, Path: d.Path,
					Message: fmt.Sprintf("%d replicas share %s: two database processes on one data directory corrupt it", n, d),
					Fix:     fmt.Sprintf("docker stateful update --replicas 1 %s (or give each replica its own volume, source=%s-{{.Task.Slot}})", name, d.Source)})
			}
		}
	}
	for _, p := range s.Pinned(svc) {
		if p.Usable() {
			continue
		}
		f := Finding{Code: CodePinnedNode}
		switch {
		case p.State == "":
			f.Message = fmt.Sprintf("the service is pinned by %s, which names no node of the swarm: its task cannot run anywhere", p.Constraint)
		case p.State != string(swarm.NodeStateReady):
			f.Message = fmt.Sprintf("the service is pinned to node %s, which is %s: its task cannot run anywhere else, since its data is there", p.Hostname, p.State)
			f.Fix = fmt.Sprintf("bring node %s back; its data cannot follow the task to another node", p.Hostname)
		default:
			f.Message = fmt.Sprintf("the service is pinned to node %s, whose availability is %s: a new task cannot start there, and no other node has its data", p.Hostname, p.Availability)
			f.Fix = "docker node update --availability active " + p.Hostname
		}
		out = append(out, f)
	}
	if t, ok := s.failingTask(svc.ID); ok {
		f := Finding{Code: CodeTaskFailing, Message: fmt.Sprintf("task %s on node %s is %s: %s", short(t.ID), s.nodeName(t.NodeID), t.Status.State, taskError(t))}
		if isNoSuchVolume(t) {
			f.Code = CodeNoVolume
			f.Message += " (the volume holding the data is not on the node the task was sent to)"
			f.Fix = "pin the service to the node that holds the volume: docker stateful update --constraint-add node.id==<NODE> " + name
		} else {
			f.Fix = "docker stateful status " + name
		}
		out = append(out, f)
	}
	return append(out, s.pgReadOnly(svc)...)
}

// Risk is the one word for a service's findings.
func Risk(findings []Finding) string {
	risk := RiskSafe
	for _, f := range findings {
		switch f.Code {
		case CodePinnedNode, CodeTaskFailing, CodeNoVolume:
			return RiskStuck
		}
		risk = RiskAtRisk
	}
	return risk
}

// failingTask returns the service's newest task that should run but does
// not (rejected, failed, or pending with an error), when no task runs.
func (s *Swarm) failingTask(serviceID string) (swarm.Task, bool) {
	if s.running(serviceID) > 0 {
		return swarm.Task{}, false
	}
	for _, t := range s.Tasks[serviceID] {
		switch t.Status.State {
		case swarm.TaskStateRejected, swarm.TaskStateFailed:
			return t, true
		case swarm.TaskStatePending:
			if t.Status.Err != "" {
				return t, true
			}
		}
	}
	return swarm.Task{}, false
}

func taskError(t swarm.Task) string {
	if t.Status.Err != "" {
		return t.Status.Err
	}
	return t.Status.Message
}

func isNoSuchVolume(t swarm.Task) bool {
	e := strings.ToLower(taskError(t))
	return strings.Contains(e, "no such volume") || strings.Contains(e, "volume not found")
}

func joinPaths(ds []DataPath) string {
	ps := make([]string, len(ds))
	for i, d := range ds {
		ps[i] = d.Path
	}
	return strings.Join(ps, ", ")
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// where says where path lives, as ls does.
func where(paths []DataPath, path string) string {
	for _, d := range paths {
		if d.Path == path {
			if d.Kind == KindAnonymous {
				return "an anonymous volume"
			}
			return "the " + string(d.Kind)
		}
	}
	return "no named volume"
}
