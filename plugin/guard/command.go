package guard

import (
	"slices"
	"strings"

	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/engine"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

const (
	// RuleCommand: the update changes what the service's command does with
	// its data (for an image whose options the guard knows) so that it
	// loses it.
	RuleCommand = "command"
	// RuleStopSignal: the update makes the stop signal SIGKILL, which skips
	// the save on shutdown.
	RuleStopSignal = "stop-signal"
)

// command: the new spec's command must keep saving the data where it was.
func (c checker) command() {
	// The engine registry holds the rules for each engine's server arguments.
	if k := engine.ForSpec(c.in.New); k != nil && k.ServerArgRules != nil && c.replacesTasks() {
		for _, msg := range k.ServerArgRules(c.in.Current, c.in.New) {
			c.refuse(RuleCommand, "", "%s", msg)
		}
	}
	c.stopSignal()
}

// stopSignal: SIGKILL as the stop signal kills the service without the
// shutdown save the grace period is there for.
func (c checker) stopSignal() {
	if killSignal(stopSignalOf(c.in.New)) && !killSignal(stopSignalOf(c.in.Current)) {
		c.refuse(RuleStopSignal, "", "--stop-signal %s kills the service at once, without the save on shutdown that keeps %s: the update loses every write since its last save (keep SIGTERM, or use --force)",
			stopSignalOf(c.in.New), strings.Join(c.report.DataPaths, ", "))
	}
}

func stopSignalOf(spec swarm.ServiceSpec) string {
	if cs := spec.TaskTemplate.ContainerSpec; cs != nil {
		return cs.StopSignal
	}
	return ""
}

func killSignal(s string) bool {
	s = strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), "SIG")
	return s == "KILL" || s == "9"
}

// placement: a service placed by node labels (not pinned) on a local volume
// must keep those constraints: others may put the task on another node.
func (c checker) placement() {
	if c.global() || len(c.localDataPaths()) == 0 {
		return
	}
	cur, next := labelConstraints(c.in.Current), labelConstraints(c.in.New)
	// No labels left and no pin: the unpinned rule says it (pins). Every
	// label kept: the placement only narrows.
	kept := !slices.ContainsFunc(cur, func(con string) bool { return !slices.Contains(next, con) })
	if len(stateful.Pins(stateful.Constraints(c.in.Current))) > 0 || len(cur) == 0 || len(next) == 0 || kept {
		return
	}
	c.refuse(RulePin, "", "the update changes the placement %s to %s while a local volume holds %s: the task may start on another node, with an empty volume (keep the constraints, or use --force)",
		strings.Join(cur, ", "), strings.Join(next, ", "), strings.Join(c.localDataPaths(), ", "))
}

func labelConstraints(spec swarm.ServiceSpec) []string {
	var out []string
	for _, con := range stateful.Constraints(spec) {
		if strings.HasPrefix(strings.TrimSpace(con), "node.labels.") {
			out = append(out, strings.ReplaceAll(con, " ", ""))
		}
	}
	slices.Sort(out)
	return out
}
