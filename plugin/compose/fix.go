package compose

import (
	"fmt"
	"strings"

	"github.com/docker-stateful/docker-stateful/plugin/guard"
	"github.com/docker-stateful/docker-stateful/plugin/inventory"
	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// Fix is what --fix changes in the file for one service.
type Fix struct {
	Service string   `json:"service"`
	Changes []string `json:"changes"` // one line each, as printed
	Left    []string `json:"left"`    // findings --fix does not change (by hand)
}

// Plan says, per service at risk, what --fix would change: a named volume
// "<service>-data" (…-data-<path> when several) on each data path that is on
// no volume, the node.id pin (pinNode; empty: no pin can be added), the
// stop grace period, the update order. Findings it cannot fix are Left.
func Plan(rep inventory.Report, services []Service, pinNode string) []Fix {
	byName := map[string]Service{}
	for _, s := range services {
		byName[s.Name] = s
	}
	var out []Fix
	for _, sr := range rep.Services {
		s := byName[sr.Service]
		fx := Fix{Service: sr.Service}
		var ephemeral []string
		pin := false
		for _, f := range sr.Findings {
			switch f.Code {
			case guard.RuleEphemeralData:
				if replicas, ok := stateful.Replicas(s.Spec); ok && replicas > 1 {
					fx.Left = append(fx.Left, f.Message+" (several replicas: give each its own volume by hand)")
					continue
				}
				ephemeral = append(ephemeral, f.Path)
				pin = true
			case guard.RuleUnpinned:
				pin = true
			case guard.RuleStopGrace:
				fx.Changes = append(fx.Changes, "stop_grace_period: "+stateful.CreateStopGracePeriod.String())
			case guard.RuleStartFirst:
				fx.Changes = append(fx.Changes, "deploy.update_config.order: stop-first")
				if rc := s.Config.Deploy.RollbackConfig; rc != nil && rc.Order == "start-first" {
					fx.Changes = append(fx.Changes, "deploy.rollback_config.order: stop-first")
				}
			default:
				fx.Left = append(fx.Left, f.Message)
			}
		}
		for _, p := range ephemeral {
			fx.Changes = append(fx.Changes, fmt.Sprintf("volumes: %s:%s", volumeName(sr.Service, p, len(ephemeral) == 1), p))
		}
		if pin && !hasNodePin(s) {
			if pinNode == "" {
				fx.Left = append(fx.Left, "no node to pin to (--pin NODE names it)")
			} else {
				fx.Changes = append(fx.Changes, "deploy.placement.constraints: "+stateful.PinConstraint(pinNode))
			}
		}
		if len(fx.Changes)+len(fx.Left) > 0 {
			out = append(out, fx)
		}
	}
	return out
}

func hasNodePin(s Service) bool {
	return len(stateful.Pins(stateful.Constraints(s.Spec))) > 0
}

// volumeName is the volume --fix adds for path p of service svc; docker stack
// deploy names it STACK_<svc>-data, as docker stateful stack deploy does.
func volumeName(svc, p string, single bool) string {
	if single {
		return svc + "-data"
	}
	return svc + "-data-" + strings.Trim(strings.NewReplacer("/", "-", ".", "-", "_", "-").Replace(p), "-")
}

// Apply makes the planned changes in the compose file data, keeping every
// line it does not change as it was (comments, blank lines, order, quoting).
func Apply(data []byte, fixes []Fix) ([]byte, error) {
	if err := singleDocument(data); err != nil {
		return nil, err
	}
	for _, fx := range fixes {
		for _, c := range fx.Changes {
			key, value, _ := strings.Cut(c, ": ")
			e, err := newEditor(data)
			if err != nil {
				return nil, err
			}
			_, services := get(e.root, "services")
			_, svc := get(services, fx.Service)
			if svc == nil || !block(svc) {
				return nil, fmt.Errorf("service %s is not a block mapping in the file: edit it by hand", fx.Service)
			}
			keys := strings.Split(key, ".")
			if err := mergedKey(svc, fx.Service, keys[0]); err != nil {
				return nil, err
			}
			if err := anchoredOnPath(e.root, svc, fx.Service, keys); err != nil {
				return nil, err
			}
			switch key {
			case "volumes":
				name, target, _ := strings.Cut(value, ":")
				if it := anonymousVolume(svc, target); it != nil {
					err = e.nameAnonymous(it, name)
				} else {
					err = e.appendItem(svc, []string{"volumes"}, value)
				}
				if err == nil {
					err = e.topLevelVolume(name)
				}
			case "deploy.placement.constraints":
				err = e.appendItem(svc, keys, value)
			default:
				err = e.setKey(svc, keys, value)
			}
			if err != nil {
				return nil, fmt.Errorf("service %s: %s: %w", fx.Service, key, err)
			}
			data = e.bytes()
		}
	}
	return data, nil
}

// topLevelVolume declares volume name in the file's top-level volumes:,
// which it adds at the end of the file when there is none.
func (e *editor) topLevelVolume(name string) error {
	key, vols := get(e.root, "volumes")
	switch {
	case key == nil:
		e.inserts[len(e.lines)] = append(e.inserts[len(e.lines)], "volumes:", "  "+name+": {}")
		return nil
	case vols.Kind == 0 || vols.Tag == "!!null":
		e.inserts[key.Line] = append(e.inserts[key.Line], leading(e.lines[key.Line-1])+"  "+name+": {}")
		return nil
	}
	if k, _ := get(vols, name); k != nil {
		return nil
	}
	return e.setKey(e.root, []string{"volumes", name}, "{}")
}
