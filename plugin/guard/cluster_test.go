package guard

import (
	"testing"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// onCluster is safe() with /data on cluster volume db, pinned to n1.
func onCluster() swarm.ServiceSpec {
	s := safe()
	s.TaskTemplate.ContainerSpec.Mounts = []mount.Mount{{Type: mount.TypeCluster, Source: "db", Target: "/data"}}
	return s
}

func withVolume(v stateful.CSIVolume) func(*Input) {
	return func(in *Input) { in.ClusterVolumes = map[string]stateful.CSIVolume{v.Name: v} }
}

func TestRuleClusterAccess(t *testing.T) {
	onNode1 := stateful.CSIVolume{Name: "db", Scope: "single", Sharing: "none", Topology: []map[string]string{{"node": "host1"}}}
	run(t, RuleClusterAccess, []tcase{
		{name: "sharing none: allowed", current: onCluster, change: limitMemory, input: withVolume(onNode1)},
		{name: "sharing onewriter: allowed", current: onCluster, change: limitMemory, input: withVolume(stateful.CSIVolume{Name: "db", Scope: "single", Sharing: "onewriter"})},
		{name: "sharing all: refused", current: onCluster, change: limitMemory, input: withVolume(stateful.CSIVolume{Name: "db", Scope: "single", Sharing: "all"}),
			refused: []string{"cluster volume db holds /data, but cluster volume db has --sharing all"}},
		{name: "block: refused", current: onCluster, change: limitMemory, input: withVolume(stateful.CSIVolume{Name: "db", Scope: "single", Sharing: "none", Block: true}),
			refused: []string{"block volume"}},
		{name: "scope multi: warned", current: onCluster, change: limitMemory, input: withVolume(stateful.CSIVolume{Name: "db", Scope: "multi", Sharing: "none"}),
			warned: "--scope multi"},
		{name: "not looked up: the mount alone", current: onCluster, change: limitMemory},
	})
}

func TestRuleClusterVolumeHome(t *testing.T) {
	onNode1 := withVolume(stateful.CSIVolume{Name: "db", Scope: "single", Sharing: "none", Topology: []map[string]string{{"node": "host1"}}})
	unpin := func(s *swarm.ServiceSpec) { limitMemory(s); s.TaskTemplate.Placement = nil }
	run(t, RulePin, []tcase{
		{name: "pinned to the volume's node", current: onCluster, change: limitMemory, input: onNode1},
		{name: "pin removed", current: onCluster, change: unpin, input: onNode1,
			refused: []string{"cluster volume db, which holds /data, lives on host1 (n1) (topology node=host1), but nothing pins the service there"}},
		{name: "pinned elsewhere", current: onCluster, change: func(s *swarm.ServiceSpec) {
			limitMemory(s)
			s.TaskTemplate.Placement.Constraints = []string{"node.hostname==host2"}
		}, input: onNode1, refused: []string{"pinned by node.hostname==host2 elsewhere"}},
		{name: "no topology: no pin needed", current: onCluster, change: unpin,
			input: withVolume(stateful.CSIVolume{Name: "db", Scope: "single", Sharing: "none"})},
	})
}
