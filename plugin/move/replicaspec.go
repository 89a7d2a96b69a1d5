package move

import (
	"fmt"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// Methods of a move.
const (
	// MethodReplication: a temporary replica on the target syncs while clients
	// write; the handoff pauses writes only for one task restart.
	MethodReplication = "replication"
	// MethodCopy: a backup under paused writes, restored into the moved task
	// through a temporary port (two task restarts plus the copy).
	MethodCopy = "copy"
)

// LabelReplicaOf marks the temporary replica service of a move (its value:
// the service moved), so that a leftover one is recognisable.
const LabelReplicaOf = stateful.LabelPrefix + "move-replica-of"

// ReplicaName is the name of the temporary replica service of service name
// (a service name has at most 63 characters).
func ReplicaName(name string) string {
	const suffix = "-move-replica"
	if len(name)+len(suffix) > 63 {
		name = strings.TrimRight(name[:63-len(suffix)], "-_.")
	}
	return name + suffix
}

// ReplicaSpec is the temporary replica of the move p: the service's own
// container (image, arguments, environment, secrets, mounts) pinned to the
// target node, on the same named volumes (created empty there), with Redis
// listening on the temporary port only, published in host mode (the engine
// picks the port), never restarted, no healthcheck (it probes the usual
// port). why is non-empty when a volume name is a template other than
// {{.Task.Slot}}: the replica would not write where the moved task reads.
func ReplicaSpec(p *Plan) (spec swarm.ServiceSpec, why string) {
	spec = deepCopy(p.Final)
	spec.Annotations = swarm.Annotations{Name: ReplicaName(p.Service), Labels: map[string]string{LabelReplicaOf: p.Service}}
	one := uint64(1)
	spec.Mode = swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}}
	spec.UpdateConfig, spec.RollbackConfig = nil, nil
	spec.EndpointSpec = &swarm.EndpointSpec{Ports: []swarm.PortConfig{{
		Protocol: swarm.PortConfigProtocolTCP, TargetPort: p.TempPort, PublishMode: swarm.PortConfigPublishModeHost}}}
	none := swarm.RestartPolicyConditionNone
	spec.TaskTemplate.RestartPolicy = &swarm.RestartPolicy{Condition: none}
	cs := spec.TaskTemplate.ContainerSpec
	cs.Args = append([]string{}, p.MovingArgs...)
	cs.Healthcheck = &container.HealthConfig{Test: []string{"NONE"}}
	cs.Labels = nil
	for i, m := range cs.Mounts {
		if m.Type != mount.TypeVolume || m.Source == "" {
			continue
		}
		src := strings.ReplaceAll(strings.ReplaceAll(m.Source, " ", ""), "{{.Task.Slot}}", "1")
		if strings.Contains(src, "{{") {
			return spec, fmt.Sprintf("volume %s is named by a template: the replica's task would not use the moved task's volume", m.Source)
		}
		cs.Mounts[i].Source = src
	}
	return spec, ""
}
