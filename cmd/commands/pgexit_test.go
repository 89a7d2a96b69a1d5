package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/mount"

	"github.com/docker-stateful/docker-stateful/plugin/pgstate/pgtest"
)

// TestPostgresVerbs: update --verify, snapshot and verify pick PostgreSQL for a postgres
// image (or --engine), with the same verdicts and exit statuses as for Redis: 0 verified,
// 2 unreachable (nothing sent), and the flags' bad input refused in one line.
func TestPostgresVerbs(t *testing.T) {
	s := pgtest.StartT(t)
	t.Setenv("PGPASSWORD", s.Password)
	svc := updatePinnedRedis()
	svc.Spec.Name = "db"
	svc.Spec.TaskTemplate.ContainerSpec.Image = "postgres:15"
	svc.Spec.TaskTemplate.ContainerSpec.Mounts = []mount.Mount{{Type: mount.TypeVolume, Source: "db-data", Target: s.Data}}
	api := newUpdateFakeAPI(svc)
	state := t.TempDir()
	url := s.URL("postgres", "postgres")

	stdout, stderr, err := runOnAPI(t, api, NewRootCommand, "update", "--detach", "--verify", "--state-dir", state, "--pg-url", url, "--format", "json", "--label-add", "x=1", "db")
	var doc struct {
		Engine        string `json:"engine"`
		Verdict       string `json:"verdict"`
		WritesResumed bool   `json:"writes_resumed"`
		Report        struct {
			DigestEqual bool `json:"digest_equal"`
		} `json:"report"`
	}
	if jerr := json.Unmarshal([]byte(stdout), &doc); jerr != nil || updateStatus(err) != 0 || doc.Engine != "postgres" || doc.Verdict != "verified" || !doc.Report.DigestEqual || !doc.WritesResumed {
		t.Fatalf("update --verify: exit %d (%v), %+v\n%s\n%s", updateStatus(err), err, doc, stdout, stderr)
	}

	stdout, stderr, err = runOnAPI(t, api, NewRootCommand, "snapshot", "--state-dir", state, "--pg-url", url, "db")
	id := strings.TrimSpace(stdout)
	if err != nil || id == "" || !strings.Contains(stderr, "Writes resumed") {
		t.Fatalf("snapshot: %v %q\n%s", err, stdout, stderr)
	}
	stdout, _, err = runOnAPI(t, api, NewRootCommand, "verify", "--state-dir", state, "--pg-url", url, "--against", id, "db")
	if err != nil || !strings.Contains(stdout, "Verified: all 0 tables") || !strings.Contains(stdout, id) {
		t.Fatalf("verify: %v\n%s", err, stdout)
	}

	// the password from a .pgpass-style file (PGPASSFILE), or a password file
	t.Setenv("PGPASSWORD", "")
	passfile := filepath.Join(t.TempDir(), "pgpass")
	if err := os.WriteFile(passfile, []byte(fmt.Sprintf("127.0.0.1:%d:*:postgres:%s\n", s.Port, s.Password)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PGPASSFILE", passfile)
	if _, stderr, err := runOnAPI(t, api, NewRootCommand, "verify", "--state-dir", state, "--pg-url", url, "--against", id, "db"); err != nil {
		t.Fatalf("verify with PGPASSFILE: %v\n%s", err, stderr)
	}
	t.Setenv("PGPASSFILE", filepath.Join(t.TempDir(), "none"))
	pwfile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwfile, []byte(s.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := runOnAPI(t, api, NewRootCommand, "verify", "--state-dir", state, "--pg-url", url, "--pg-password-file", pwfile, "--against", id, "db"); err != nil {
		t.Fatalf("verify with --pg-password-file: %v\n%s", err, stderr)
	}
	d, _, code := runStateful(t, api, "verify", "--state-dir", state, "--pg-url", url, "--against", id, "--format", "json", "db")
	if code != 2 || !strings.Contains(d.Error, "refused the login") {
		t.Fatalf("verify without a password: exit %d, %+v", code, d)
	}
	t.Setenv("PGPASSWORD", s.Password)

	// a role without the rights the check needs: refused, each missing right named, nothing sent
	conn, err := s.Connect(context.Background(), "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "CREATE ROLE app LOGIN PASSWORD 'app-pw'"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PGPASSWORD", "app-pw")
	sent := len(api.sent)
	appURL := strings.Replace(url, "postgres@", "app@", 1)
	_, stderr, err = runOnAPI(t, api, NewRootCommand, "update", "--verify", "--state-dir", state, "--pg-url", appURL, "--label-add", "x=3", "db")
	if updateStatus(err) != 1 || len(api.sent) != sent || !strings.Contains(stderr, "refused: role app may not run CHECKPOINT (GRANT pg_checkpoint TO app)") ||
		!strings.Contains(stderr, "GRANT pg_read_all_data TO app") {
		t.Fatalf("role without rights: exit %d (%v), %d sent\n%s", updateStatus(err), err, len(api.sent)-sent, stderr)
	}
	t.Setenv("PGPASSWORD", s.Password)

	// refused by the guard before the flow ran: still PostgreSQL's report, with a verdict
	stdout, _, err = runOnAPI(t, api, NewRootCommand, "update", "--verify", "--state-dir", state, "--format", "json", "--mount-rm", s.Data, "db")
	doc.Engine, doc.Verdict = "", ""
	if jerr := json.Unmarshal([]byte(stdout), &doc); jerr != nil || updateStatus(err) != 1 || doc.Engine != "postgres" || doc.Verdict != "refused" {
		t.Fatalf("refused by the guard: exit %d (%v), %+v\n%s", updateStatus(err), err, doc, stdout)
	}

	// --engine forces PostgreSQL on an image it does not know; unreachable: 2, nothing sent
	api.svc.Spec.TaskTemplate.ContainerSpec.Image = "example/app"
	bad := "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable"
	d, _, code = runStateful(t, api, "update", "--detach", "--verify", "--engine", "postgres", "--state-dir", state, "--pg-url", bad, "--format", "json", "--label-add", "x=2", "db")
	if code != 2 || d.Verdict != "error" || len(api.sent) != 1 {
		t.Fatalf("unreachable: exit %d, %+v, %d updates sent", code, d, len(api.sent))
	}
	d, _, code = runStateful(t, api, "verify", "--engine", "postgres", "--state-dir", state, "--pg-url", bad, "--format", "json", "db")
	if code != 2 || d.Verdict != "error" || !strings.Contains(d.Error, "cannot reach PostgreSQL") {
		t.Fatalf("verify unreachable: exit %d, %+v", code, d)
	}

	for _, args := range [][]string{
		{"update", "--pg-url", url, "db"},
		{"update", "--engine", "postgres", "db"},
		{"update", "--verify", "--engine", "mysql", "db"},
		{"verify", "--engine", "mysql", "db"},
		{"snapshot", "--pg-url", "postgres://u:secret@h/db", "db"},
	} {
		_, _, err := runOnAPI(t, api, NewRootCommand, append([]string{args[0], "--state-dir", state}, args[1:]...)...)
		if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "--") {
			t.Errorf("%v: error %v, want one line naming the flag", args, err)
		}
	}
}
