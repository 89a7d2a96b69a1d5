// Package compose is `docker stateful check -c compose.yml [--fix]`: the
// services of a compose file, converted by docker's own converter to the
// specs `docker stack deploy` sends, judged with check's rules (plugin/
// inventory, which reuses the update guard's), and the compose file
// rewritten in place so that a plain `docker stack deploy` keeps the data.
package compose

import (
	"fmt"
	"sort"
	"strings"

	"github.com/docker/cli/cli/compose/convert"
	composetypes "github.com/docker/cli/cli/compose/types"
	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/engine"
	"github.com/docker-stateful/docker-stateful/plugin/guard"
	"github.com/docker-stateful/docker-stateful/plugin/inventory"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// Namespace is the stack name the specs are converted under: a compose file
// does not say which stack it will be deployed as.
const Namespace = "STACK"

// Service is a compose service and the spec docker stack deploy sends for it.
type Service struct {
	Name   string // as in the compose file
	Spec   swarm.ServiceSpec
	Config composetypes.ServiceConfig
}

// Services converts the compose file's services as docker stack deploy does
// (secrets and configs left out: they hold no data, and would need a daemon).
func Services(cfg *composetypes.Config, apiVersion string) ([]Service, error) {
	ns := convert.NewNamespace(Namespace)
	var out []Service
	for _, sc := range cfg.Services {
		spec, err := convert.Service(apiVersion, ns, sc, cfg.Networks, cfg.Volumes, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", sc.Name, err)
		}
		out = append(out, Service{Name: sc.Name, Spec: spec, Config: sc})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// CodeRedisPersistenceOff: the Redis command turns every save off.
const CodeRedisPersistenceOff = "redis-persistence-off"

// Check judges every service with data paths as if it were deployed now on
// the swarm sw describes (its nodes and the image VOLUMEs it could look up;
// no tasks), and adds the Redis persistence rule of the compose command. The
// findings name the compose services and say how to fix the file.
func Check(sw *inventory.Swarm, services []Service) inventory.Report {
	sw.Services = nil
	for _, s := range services {
		sw.Services = append(sw.Services, swarm.Service{Spec: s.Spec})
	}
	r := inventory.Report{Verdict: inventory.RiskSafe, Services: []inventory.ServiceReport{}}
	for i, s := range services {
		svc := sw.Services[i]
		paths := sw.DataPaths(svc)
		if len(paths) == 0 {
			continue
		}
		var fs []inventory.Finding
		for _, f := range sw.Check(svc) {
			fs = append(fs, composeWording(s, f, paths))
		}
		if f, ok := persistenceOff(s); ok {
			fs = append(fs, f)
		}
		if fs == nil {
			fs = []inventory.Finding{}
		}
		sr := inventory.ServiceReport{Service: s.Name, Engine: inventory.Engine(svc), Risk: inventory.Risk(fs), Findings: fs}
		if len(fs) > 0 {
			r.Verdict = inventory.VerdictRisks
		}
		r.Services = append(r.Services, sr)
	}
	return r
}

// composeWording says a finding of the file, not of a running service: the
// fix is in the compose file (or check --fix), not an update.
func composeWording(s Service, f inventory.Finding, paths []inventory.DataPath) inventory.Finding {
	where := func(p string) string {
		for _, d := range paths {
			if d.Path == p {
				return d.Location().String()
			}
		}
		return "an anonymous volume"
	}
	switch f.Code {
	case guard.RuleEphemeralData:
		f.Message = fmt.Sprintf("%s is on %s: every deploy that changes the service replaces its task and loses it", f.Path, where(f.Path))
		f.Fix = fmt.Sprintf("a named volume on %s and a node.id placement constraint (check --fix adds them)", f.Path)
	case guard.RuleUnpinned:
		f.Fix = "a node.id placement constraint for the node that holds the volume (check --fix adds it)"
	case guard.RuleStopGrace:
		f.Fix = fmt.Sprintf("stop_grace_period: %s (check --fix sets it)", stateful.CreateStopGracePeriod)
	case guard.RuleStartFirst:
		f.Fix = "deploy.update_config.order: stop-first (check --fix sets it)"
	case guard.RuleSharedVolume:
		f.Fix = "replicas: 1, or a volume per replica (by hand: a volume named with {{.Task.Slot}})"
	}
	if f.Path == "" && strings.Contains(f.Message, Namespace+"_") {
		f.Message = strings.ReplaceAll(f.Message, Namespace+"_", "")
	}
	return f
}

// persistenceOff: a Redis told `--save ""` with AOF off writes nothing, not
// even on SIGTERM: every deploy that replaces the task loses every key.
func persistenceOff(s Service) (inventory.Finding, bool) {
	cs := s.Spec.TaskTemplate.ContainerSpec
	if cs == nil || !engine.IsRedis(s.Spec) {
		return inventory.Finding{}, false
	}
	sa := engine.ParseRedisArgs(cs.Command, cs.Args)
	if sa.Save == nil || strings.Trim(*sa.Save, `"'`) != "" || (sa.AppendOnly != nil && *sa.AppendOnly) {
		return inventory.Finding{}, false
	}
	return inventory.Finding{
		Code:    CodeRedisPersistenceOff,
		Message: `command: --save "" with appendonly off: Redis saves nothing, not even on SIGTERM, so every deploy that replaces the task loses every key`,
		Fix:     `remove --save "" from command: (or add --appendonly yes); check --fix leaves commands to you`,
	}, true
}
