package inventory

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docker/docker/api/types/swarm"
)

// Codes of status' explanations.
const (
	CodeRunning     = "running"
	CodeNoNode      = "no-suitable-node"
	CodeKilled      = "killed-after-grace"
	CodeRestartLoop = "restart-loop"
	CodeUpdate      = "update"
)

// Status is what `docker stateful status` says about one service.
type Status struct {
	Service       string    `json:"service"`
	ID            string    `json:"id"`
	Running       int       `json:"running"`
	Desired       string    `json:"desired"`
	UpdateState   string    `json:"update_state,omitempty"`
	UpdateMessage string    `json:"update_message,omitempty"`
	Findings      []Finding `json:"findings"`
}

// restartLoopFailures is how many failed tasks make a restart loop.
const restartLoopFailures = 3

// Explain says, in words, why the service's task runs or does not, what
// stopped its last task, and the state of its last update.
func (s *Swarm) Explain(svc swarm.Service) Status {
	name := svc.Spec.Name
	st := Status{Service: name, ID: svc.ID, Running: s.running(svc.ID), Desired: "global", Findings: []Finding{}}
	if n, ok := replicasOf(svc.Spec); ok {
		st.Desired = fmt.Sprint(n)
	}
	add := func(code, fix, format string, a ...any) {
		st.Findings = append(st.Findings, Finding{Code: code, Message: fmt.Sprintf(format, a...), Fix: fix})
	}
	if u := svc.UpdateStatus; u != nil && u.State != "" {
		st.UpdateState, st.UpdateMessage = string(u.State), u.Message
		switch u.State {
		case swarm.UpdateStatePaused:
			add(CodeUpdate, "fix the cause below, then docker stateful update --rollback "+name+" (or docker service update "+name+" to resume)",
				"the last update is paused: %s", u.Message)
		case swarm.UpdateStateRollbackPaused:
			add(CodeUpdate, "fix the cause below, then docker service update --rollback "+name, "the rollback of the last update is paused: %s", u.Message)
		case swarm.UpdateStateRollbackCompleted:
			add(CodeUpdate, "see the task errors below; docker stateful update --dry-run shows what the update changes",
				"the last update was rolled back: %s", u.Message)
		case swarm.UpdateStateUpdating, swarm.UpdateStateRollbackStarted:
			add(CodeUpdate, "", "an update is in progress (%s): %s", u.State, u.Message)
		}
	}
	var current []swarm.Task
	for _, t := range s.Tasks[svc.ID] {
		if t.DesiredState == swarm.TaskStateRunning || t.DesiredState == swarm.TaskStateReady {
			current = append(current, t)
		}
	}
	for _, t := range current {
		switch {
		case t.Status.State == swarm.TaskStateRunning:
			add(CodeRunning, "", "task %s runs on node %s since %s", short(t.ID), s.nodeName(t.NodeID), t.Status.Timestamp.UTC().Format(time.RFC3339))
		case strings.Contains(t.Status.Err, "no suitable node"):
			s.explainNoNode(svc, t, add)
		case isNoSuchVolume(t):
			add(CodeNoVolume, "pin the service to the node that holds its volume: docker stateful update --constraint-add node.id==<NODE> "+name,
				"task %s on node %s cannot start: %s; the volume holding the data is on another node (the task moved, or the pin changed)", short(t.ID), s.nodeName(t.NodeID), t.Status.Err)
		case t.Status.State == swarm.TaskStateFailed || t.Status.State == swarm.TaskStateRejected || t.Status.Err != "":
			add(CodeTaskFailing, "docker service logs "+name, "task %s on node %s is %s: %s", short(t.ID), s.nodeName(t.NodeID), t.Status.State, taskError(t))
		default:
			add(CodeTaskFailing, "", "task %s is %s: %s", short(t.ID), t.Status.State, t.Status.Message)
		}
	}
	s.explainKilled(svc, add)
	failed, last := 0, swarm.Task{}
	for _, t := range s.Tasks[svc.ID] {
		if t.Status.State == swarm.TaskStateFailed {
			if failed == 0 {
				last = t
			}
			failed++
		}
	}
	if failed >= restartLoopFailures {
		add(CodeRestartLoop, "docker service logs "+name, "restart loop: %d of the service's tasks failed, the last on node %s: %s", failed, s.nodeName(last.NodeID), taskError(last))
	}
	st.Findings = append(st.Findings, s.pgReadOnly(svc)...)
	return st
}

// explainNoNode says why no node takes the task: its pin.
func (s *Swarm) explainNoNode(svc swarm.Service, t swarm.Task, add func(code, fix, format string, a ...any)) {
	for _, p := range s.Pinned(svc) {
		switch {
		case p.State == "":
			add(CodeNoNode, "pin it to the node that holds its data: docker stateful update --constraint-rm '"+p.Constraint+"' --constraint-add node.id==<NODE> "+svc.Spec.Name,
				"task %s waits for a node: the service is pinned by %s, which names no node of the swarm", short(t.ID), p.Constraint)
			return
		case p.State != string(swarm.NodeStateReady):
			add(CodeNoNode, "bring node "+p.Hostname+" back: its data cannot follow the task to another node",
				"task %s waits for a node (no suitable node): the service is pinned to node %s, which is %s, and only that node has its data", short(t.ID), p.Hostname, p.State)
			return
		case p.Availability != string(swarm.NodeAvailabilityActive):
			add(CodeNoNode, "docker node update --availability active "+p.Hostname,
				"task %s waits for a node (no suitable node): the service is pinned to node %s, which is drained (availability %s), and only that node has its data", short(t.ID), p.Hostname, p.Availability)
			return
		}
	}
	add(CodeNoNode, "docker service inspect "+svc.Spec.Name+" (placement, resources)", "task %s waits for a node: %s", short(t.ID), t.Status.Err)
}

// explainKilled reports the newest task that a stop killed with SIGKILL at
// the end of its grace period (exit 137 while being shut down).
func (s *Swarm) explainKilled(svc swarm.Service, add func(code, fix, format string, a ...any)) {
	for _, t := range s.Tasks[svc.ID] {
		cs := t.Status.ContainerStatus
		if cs == nil || cs.ExitCode != 137 {
			continue
		}
		g := graceOf(svc.Spec)
		fix := fmt.Sprintf("give it time to save: docker stateful update --stop-grace-period %s %s", max(recommendedGrace, 2*g), svc.Spec.Name)
		if t.DesiredState == swarm.TaskStateShutdown || t.DesiredState == swarm.TaskStateRemove {
			add(CodeKilled, fix, "task %s on node %s was killed (exit 137) at the end of its %s stop grace period: the database had not exited after its stop signal, so it may not have finished saving; what it wrote since its last save is lost",
				short(t.ID), s.nodeName(t.NodeID), g)
		} else {
			add(CodeKilled, "check its memory limit (docker service inspect "+svc.Spec.Name+")", "task %s on node %s was killed (exit 137) while it should run: out of memory or a SIGKILL", short(t.ID), s.nodeName(t.NodeID))
		}
		return
	}
}

// WriteText prints the status for people.
func (st Status) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "service %s: %d/%s running\n", st.Service, st.Running, st.Desired)
	for _, f := range st.Findings {
		fmt.Fprintf(w, "  %s: %s\n", f.Code, f.Message)
		if f.Fix != "" {
			fmt.Fprintf(w, "    next: %s\n", f.Fix)
		}
	}
	return nil
}
