//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker-stateful/docker-stateful/e2e/cluster"
	"github.com/docker-stateful/docker-stateful/plugin/pgstate/pgtest"
)

// pgtKillDuring runs docker stateful args on node 1 in a process group of its own and
// kills the whole group (docker, the plugin's front and the plugin) with SIGKILL once
// stderr shows marker: as an OOM kill or a closed terminal would end it.
func pgtKillDuring(t *testing.T, marker string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", append([]string{"-H", C.Node(1).Host, "stateful"}, args...)...)
	cmd.Env = C.DockerEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	sc := bufio.NewScanner(pipe)
	killed := false
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if !killed && strings.Contains(sc.Text(), marker) {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			killed = true
		}
	}
	_ = cmd.Wait()
	t.Logf("$ docker stateful %s (killed: %v)\n%s", strings.Join(args, " "), killed, log.String())
	if !killed {
		t.Fatalf("%q never appeared", marker)
	}
	return log.String()
}

// TestPostgresKilledPluginLeavesNoReadOnlyDatabase: the plugin is killed (SIGKILL, its
// whole process group) in the middle of a cut, while it waits for an open write
// transaction with writes off. Its watchdog turns writes back on: a new session may write
// within seconds, and status reports nothing left read-only. Before, the database stayed
// read-only for good (the setting is in postgresql.auto.conf).
func TestPostgresKilledPluginLeavesNoReadOnlyDatabase(t *testing.T) {
	C.RequirePlugin(t)
	C.RequirePostgresImage(t)
	const password = "e2e-pgtrust-secret"
	t.Setenv("PGPASSWORD", password)
	svc, port := C.CreatePostgres(t, []string{"stateful", "create"}, password)
	task := C.WaitRunning(t, svc)
	addr := task.Node.Addr
	ctx := context.Background()
	conn := cluster.Postgres(t, addr, port, password, "postgres")
	if err := pgtest.Exec(ctx, conn, append(pgtest.Dataset(1000), "CREATE TABLE writes (id bigint PRIMARY KEY)")...); err != nil {
		t.Fatal(err)
	}
	// a write transaction the cut waits for
	open := cluster.Postgres(t, addr, port, password, "postgres")
	if err := pgtest.Exec(ctx, open, "BEGIN", "INSERT INTO writes VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	pgtKillDuring(t, "waiting for 1 write transaction", "snapshot", svc)
	var ro string
	if err := conn.QueryRow(ctx, "SELECT current_setting('default_transaction_read_only')").Scan(&ro); err != nil {
		t.Fatal(err)
	}
	t.Logf("right after the kill: default_transaction_read_only = %s", ro)
	if _, err := open.Exec(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		c := cluster.Postgres(t, addr, port, password, "postgres")
		_, err := c.Exec(ctx, "INSERT INTO writes VALUES (2)")
		c.Close(ctx)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("PostgreSQL is still read-only 30 s after the plugin was killed mid-cut: %v", err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	r := C.Run(t, 1, "stateful", "status", svc)
	if strings.Contains(r.Stdout, "pg-read-only") {
		t.Errorf("status reports a read-only database after writes came back:\n%s", r.Stdout)
	}
	pgvWritable(t, addr, port, password)
}
