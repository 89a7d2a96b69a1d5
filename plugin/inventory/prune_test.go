package inventory

import (
	"strings"
	"testing"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
)

func TestPruneRules(t *testing.T) {
	anon := strings.Repeat("0f", 32)
	for _, c := range []struct {
		version, name string
		labels        map[string]string
		want          bool
	}{
		{"20.10.24+dfsg1", "cache-data", nil, true}, // 20.10: every unused volume
		{"20.10.24+dfsg1", anon, nil, true},
		{"26.1.5+dfsg1", "cache-data", nil, false}, // 23 and later: named volumes are kept
		{"26.1.5+dfsg1", anon, nil, true},          // anonymous by its name
		{"26.1.5+dfsg1", "x1", map[string]string{AnonymousLabel: ""}, true},
		{"23.0.0", "cache-data", nil, false},
		{"", "cache-data", nil, true}, // unknown: counted as before 23
	} {
		if got := PruneDeletes(c.version, c.name, c.labels); got != c.want {
			t.Errorf("PruneDeletes(%q, %q, %v) = %v, want %v", c.version, c.name, c.labels, got, c.want)
		}
	}
	if AnonymousName("cache-data") || AnonymousName(strings.Repeat("A", 64)) || !AnonymousName(anon) {
		t.Errorf("AnonymousName: wrong on a named, an upper-case, or a generated name")
	}
}

func engineNode(id, host, version string) swarm.Node {
	n := node(id, host, swarm.NodeStateReady, swarm.NodeAvailabilityActive)
	n.Description.Engine.EngineVersion = version
	return n
}

// TestRmPruneWarnings: rm names each kept volume a plain prune deletes on
// its node's engine, and no other.
func TestRmPruneWarnings(t *testing.T) {
	anon := strings.Repeat("0f", 32)
	for _, c := range []struct {
		version, source string
		want            string // "" = no warning
	}{
		{"26.1.5", "cache-data", ""},
		{"26.1.5", anon, "it is an anonymous volume"},
		{"20.10.24+dfsg1", "cache-data", "Docker 20.10.24+dfsg1 deletes every unused volume, named or not"},
		{"20.10.24+dfsg1", anon, "it is an anonymous volume"},
	} {
		s := &Swarm{Nodes: map[string]swarm.Node{"n1": engineNode("n1", "one", c.version)}, Tasks: map[string][]swarm.Task{}, ImageVolumes: map[string][]string{"redis": {"/data"}}}
		r := s.PlanRemoval(redisService("a", "cache", []mount.Mount{{Type: mount.TypeVolume, Source: c.source, Target: "/data"}}, "node.id==n1"))
		got := strings.Join(r.Prune, "\n")
		if c.want == "" {
			if got != "" {
				t.Errorf("%s, volume %s: warning %q, want none", c.version, c.source, got)
			}
			continue
		}
		if !strings.Contains(got, c.want) || !strings.Contains(got, "not protected against prune") || !strings.Contains(got, "on node one") {
			t.Errorf("%s, volume %s: warning %q, want %q naming the node", c.version, c.source, got, c.want)
		}
		if c.source == anon && !strings.Contains(got, "-v "+anon+":/from:ro -v cache-data:/to") {
			t.Errorf("anonymous volume: %q, want the copy command into cache-data", got)
		}
	}
}

// TestCheckFlagsPrunable: data on an anonymous volume mounted by its name
// is a risk (check and ls), with adopt as the fix; a named volume is not.
func TestCheckFlagsPrunable(t *testing.T) {
	anon := strings.Repeat("0f", 32)
	s := &Swarm{Nodes: map[string]swarm.Node{"n1": engineNode("n1", "one", "26.1.5")},
		Tasks:        map[string][]swarm.Task{"a": {running("a", "n1")}, "b": {running("b", "n1")}},
		ImageVolumes: map[string][]string{"redis": {"/data"}}}
	up := func(svc swarm.Service) swarm.Service {
		svc.Spec.UpdateConfig = &swarm.UpdateConfig{Order: swarm.UpdateOrderStopFirst}
		svc.Spec.RollbackConfig = &swarm.UpdateConfig{Order: swarm.UpdateOrderStopFirst}
		return svc
	}
	adopted := up(redisService("a", "cache", []mount.Mount{{Type: mount.TypeVolume, Source: anon, Target: "/data"}}, "node.id==n1"))
	fs := s.Check(adopted)
	if len(fs) != 1 || fs[0].Code != CodePrunable || fs[0].Path != "/data" || !strings.Contains(fs[0].Message, "docker volume prune -f") || fs[0].Fix != "docker stateful adopt cache (copies the data into a named volume, which a plain prune keeps on Docker 23 and later)" {
		t.Fatalf("findings %+v, want one %s with adopt as the fix", fs, CodePrunable)
	}
	if Risk(fs) != RiskAtRisk {
		t.Errorf("risk %s, want at-risk", Risk(fs))
	}
	if d := s.DataPaths(adopted); len(d) != 1 || !d[0].Prunable {
		t.Errorf("data paths %+v, want /data prunable", d)
	}
	named := up(redisService("b", "db", []mount.Mount{{Type: mount.TypeVolume, Source: "db-data", Target: "/data"}}, "node.id==n1"))
	if fs := s.Check(named); len(fs) != 0 {
		t.Errorf("named volume: findings %+v, want none", fs)
	}
}
