//go:build e2e

package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/docker-stateful/docker-stateful/e2e/cluster"
)

// TestValkeyReportedAsValkey: a Valkey 8 service (Debian 13's valkey-server, which
// answers redis_version:7.2.4) is verified through an update and named Valkey with its
// own version by update --verify and snapshot, never "Redis 7.2.4".
func TestValkeyReportedAsValkey(t *testing.T) {
	C.RequirePlugin(t)
	C.RequireImage(t, cluster.Valkey8Image)
	svc, port := C.CreateRedisImage(t, []string{"stateful", "create"}, cluster.Valkey8Image)
	rdb, _ := C.ServiceRedis(t, svc, port)
	n := vfyLoad(t, rdb, 500)
	want := "Valkey " + strings.TrimSpace(C.Docker(t, 1, "image", "inspect", "--format",
		`{{range .Config.Env}}{{if eq (index (split . "=") 0) "VALKEY_VERSION"}}{{index (split . "=") 1}}{{end}}{{end}}`, cluster.Valkey8Image))
	if want == "Valkey " {
		t.Fatalf("%s has no VALKEY_VERSION", cluster.Valkey8Image)
	}
	state := t.TempDir()

	r := vfyStateful(t, "update", "--verify", "--state-dir", state, "--limit-memory", "200M", svc)
	if r.ExitCode() != 0 {
		t.Fatalf("update --verify of the Valkey service: exit %d", r.ExitCode())
	}
	out := r.Stdout + r.Stderr
	if !strings.Contains(out, "("+want+")") || !strings.Contains(out, ", "+want+")") || strings.Contains(out, "Redis 7.2.4") {
		t.Errorf("update --verify does not name the server %s (saved, new process):\n%s", want, out)
	}

	r = vfyStateful(t, "snapshot", "--state-dir", state, "--format", "json", svc)
	if r.ExitCode() != 0 {
		t.Fatalf("snapshot: exit %d", r.ExitCode())
	}
	var snap struct {
		Server  string `json:"server"`
		Version string `json:"redis_version"`
		Keys    int64  `json:"keys"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &snap); err != nil {
		t.Fatalf("snapshot --format json: %v\n%s", err, r.Stdout)
	}
	if snap.Server != want || snap.Version != "7.2.4" || snap.Keys != n {
		t.Errorf("snapshot: server %q, redis_version %q, %d keys; want %s, 7.2.4, %d keys", snap.Server, snap.Version, snap.Keys, want, n)
	}
}
