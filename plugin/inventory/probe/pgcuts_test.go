package probe

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker-stateful/docker-stateful/plugin/pgstate"
)

// A marker whose process is gone is an interrupted cut, listed with the command that
// ends it; a marker of a run still going is not.
func TestPGReadOnlyCuts(t *testing.T) {
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
	cuts := PGReadOnlyCuts(state)
	if len(cuts) != 1 || cuts[0].Service != "db" || cuts[0].Addr != "10.0.0.5:5432" ||
		!strings.HasPrefix(cuts[0].Resume, "psql 'postgres://postgres@10.0.0.5:5432/postgres' -c 'ALTER SYSTEM RESET default_transaction_read_only'") {
		t.Fatalf("cuts %+v, want db only, with its resume command", cuts)
	}
}
