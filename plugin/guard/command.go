package guard

import (
	"path"
	"slices"
	"strings"

	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
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

// commandRules are what the guard knows about the command lines of
// well-known images, by repository (stateful.RepositoryName): how a change
// of options would lose the data. The place to add Postgres, MySQL, Mongo.
var commandRules = map[string]func(c checker, cur, next swarm.ServiceSpec){
	"redis":             redisCommand,
	"redis/redis-stack": redisCommand,
	"valkey/valkey":     redisCommand,
	"bitnami/redis":     redisCommand,
}

// command: the new spec's command must keep saving the data where it was.
func (c checker) command() {
	if rule := commandRules[stateful.RepositoryName(stateful.Image(c.in.New))]; rule != nil && c.replacesTasks() {
		rule(c, c.in.Current, c.in.New)
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

// redisCommand: Redis loses its data when the update turns AOF on at start
// (it then loads only the new, empty AOF, ignores dump.rdb, and overwrites
// it on its next save), moves --dir away from the data, or turns the RDB
// saves off with AOF off.
func redisCommand(c checker, cur, next swarm.ServiceSpec) {
	ca, na := serverArgs(cur), serverArgs(next)
	if !na.Found {
		return
	}
	on := func(b *bool) bool { return b != nil && *b }
	if on(na.AppendOnly) && !on(ca.AppendOnly) {
		c.refuse(RuleCommand, "", "--appendonly yes at start makes Redis load only its (new, empty) append-only file and ignore dump.rdb, which it then overwrites: every key is lost. Turn AOF on at runtime first (redis-cli CONFIG SET appendonly yes, which writes the AOF from memory), then update (or use --force)")
	}
	sameImage := stateful.RepositoryName(stateful.Image(cur)) == stateful.RepositoryName(stateful.Image(next))
	if curDir, newDir := redisDir(cur, ca), redisDir(next, na); sameImage && curDir != newDir {
		c.refuse(RuleCommand, "", "the update moves Redis' data directory from %s to %s (--dir, --workdir): Redis starts there with no data (keep it in %s, or use --force)", curDir, newDir, curDir)
	}
	if na.Save != nil && *na.Save == "" && !on(na.AppendOnly) && (ca.Save == nil || *ca.Save != "") {
		c.refuse(RuleCommand, "", `--save "" with appendonly off turns persistence off: Redis writes nothing to %s and the next restart loses every key (keep the save schedule, turn AOF on at runtime first, or use --force)`, redisDir(next, na))
	}
}

func serverArgs(spec swarm.ServiceSpec) redisstate.ServerArgs {
	if cs := spec.TaskTemplate.ContainerSpec; cs != nil {
		return redisstate.ParseServerArgs(cs.Command, cs.Args)
	}
	return redisstate.ServerArgs{}
}

// redisDir is Redis' data directory: --dir (relative to the working
// directory, which the image sets to its data path), else the image's data
// path.
func redisDir(spec swarm.ServiceSpec, sa redisstate.ServerArgs) string {
	base := "/data"
	if known := stateful.KnownDataPaths(stateful.Image(spec)); len(known) > 0 {
		base = known[0]
	}
	if cs := spec.TaskTemplate.ContainerSpec; cs != nil && cs.Dir != "" {
		base = cs.Dir
	}
	dir := strings.Trim(sa.Dir, `"'`)
	if dir == "" {
		return path.Clean(base)
	}
	if !path.IsAbs(dir) {
		dir = path.Join(base, dir)
	}
	return path.Clean(dir)
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
