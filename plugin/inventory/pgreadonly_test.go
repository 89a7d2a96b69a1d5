package inventory

import (
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
)

// A cut whose process died without resuming writes is reported by check (and so ls)
// and status, with the one command that turns writes back on; a service with no such
// cut is not (probe/pgcuts_test.go: which markers are such cuts).
func TestInterruptedPGCutIsReported(t *testing.T) {
	want := "psql 'postgres://postgres@10.0.0.5:5432/postgres' -c 'ALTER SYSTEM RESET default_transaction_read_only' -c 'SELECT pg_reload_conf()'"
	vol := []mount.Mount{{Type: mount.TypeVolume, Source: "pgdata", Target: "/var/lib/postgresql/data"}}
	pg := func(id string) swarm.Service {
		svc := redisService(id, id, vol, "node.id==n1")
		svc.Spec.TaskTemplate.ContainerSpec.Image = "postgres:16"
		return svc
	}
	s := &Swarm{
		Nodes:  map[string]swarm.Node{"n1": node("n1", "one", swarm.NodeStateReady, swarm.NodeAvailabilityActive)},
		Tasks:  map[string][]swarm.Task{"db": {running("db", "n1")}, "busy": {running("busy", "n1")}},
		PGCuts: []PGCut{{Service: "db", Addr: "10.0.0.5:5432", Since: time.Date(2026, 12, 7, 22, 0, 0, 0, time.UTC), PID: 4242, Resume: want}},
	}
	var got *Finding
	for _, f := range s.Check(pg("db")) {
		if f.Code == CodePGReadOnly {
			got = &f
		}
	}
	if got == nil || !strings.Contains(got.Message, "10.0.0.5:5432 may be read-only") || !strings.HasPrefix(got.Fix, want) {
		t.Fatalf("check: %+v", s.Check(pg("db")))
	}
	if Risk(s.Check(pg("db"))) == RiskSafe {
		t.Fatal("ls says safe")
	}
	st := s.Explain(pg("db"))
	if n := len(st.Findings); n == 0 || st.Findings[n-1].Code != CodePGReadOnly || !strings.HasPrefix(st.Findings[n-1].Fix, want) {
		t.Fatalf("status: %+v", st.Findings)
	}
	for _, f := range append(s.Check(pg("busy")), s.Explain(pg("busy")).Findings...) {
		if f.Code == CodePGReadOnly {
			t.Fatalf("a cut still running is reported: %+v", f)
		}
	}
}
