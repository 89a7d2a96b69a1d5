package inventory

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"

	"github.com/docker-stateful/docker-stateful/plugin/pgstate"
)

// A cut whose process died without resuming writes (its marker stays in the state
// directory, its PID is gone) is reported by check (and so ls) and status, with the one
// command that turns writes back on; a cut whose process still runs is not.
func TestInterruptedPGCutIsReported(t *testing.T) {
	state := t.TempDir()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	write := func(name string, pid int) {
		b, _ := json.Marshal(pgstate.PendingCut{Service: name, Addr: "10.0.0.5:5432", URL: "postgres://postgres@10.0.0.5:5432/postgres",
			Since: time.Date(2026, 12, 7, 22, 0, 0, 0, time.UTC), PID: pid, Host: host})
		os.MkdirAll(filepath.Join(state, "pg-readonly"), 0o700)
		if err := os.WriteFile(filepath.Join(state, "pg-readonly", name+".json"), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("db", dead.Process.Pid)
	write("busy", os.Getpid()) // a run still going
	vol := []mount.Mount{{Type: mount.TypeVolume, Source: "pgdata", Target: "/var/lib/postgresql/data"}}
	pg := func(id string) swarm.Service {
		svc := redisService(id, id, vol, "node.id==n1")
		svc.Spec.TaskTemplate.ContainerSpec.Image = "postgres:16"
		return svc
	}
	s := &Swarm{
		Nodes:  map[string]swarm.Node{"n1": node("n1", "one", swarm.NodeStateReady, swarm.NodeAvailabilityActive)},
		Tasks:  map[string][]swarm.Task{"db": {running("db", "n1")}, "busy": {running("busy", "n1")}},
		PGCuts: PGReadOnlyCuts(state),
	}
	want := "psql 'postgres://postgres@10.0.0.5:5432/postgres' -c 'ALTER SYSTEM RESET default_transaction_read_only' -c 'SELECT pg_reload_conf()'"
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
