//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/docker-stateful/docker-stateful/e2e/cluster"
	"github.com/docker-stateful/docker-stateful/plugin/inventory"
)

// opsRun runs `docker stateful ARGS` against the manager and logs its output.
func opsRun(t *testing.T, args ...string) cluster.Result {
	t.Helper()
	r := C.Run(t, 1, append([]string{"stateful"}, args...)...)
	t.Logf("stdout:\n%s\nstderr:\n%s", r.Stdout, r.Stderr)
	return r
}

// opsCheck runs check --format json on svc and returns its exit code and report.
func opsCheck(t *testing.T, svc string) (int, inventory.Report) {
	t.Helper()
	r := opsRun(t, "check", "--format", "json", svc)
	var rep inventory.Report
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("check --format json is not JSON: %v\n%s", err, r.Stdout)
	}
	if len(rep.Services) != 1 || rep.Services[0].Service != svc {
		t.Fatalf("check %s reported %+v", svc, rep.Services)
	}
	return r.ExitCode(), rep
}

// opsRow returns svc's row of ls --format json (one JSON object per line).
func opsRow(t *testing.T, svc string) inventory.Row {
	t.Helper()
	r := opsRun(t, "ls", "--format", "json", "--filter", "name="+svc)
	if r.Err != nil {
		t.Fatalf("ls: %v", r.Err)
	}
	for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		var row inventory.Row
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatalf("ls --format json line is not JSON: %v\n%s", err, line)
		}
		if row.Name == svc {
			if len(row.Data) != 1 || row.Data[0].Path != "/data" {
				t.Fatalf("ls data of %s = %+v, want /data", svc, row.Data)
			}
			return row
		}
	}
	t.Fatalf("ls does not list %s:\n%s", svc, r.Stdout)
	return inventory.Row{}
}

// opsFindings is every finding's code, message and fix, for looking into.
func opsFindings(fs []inventory.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "%s: %s (%s)\n", f.Code, f.Message, f.Fix)
	}
	return b.String()
}

func opsCodes(rep inventory.Report) []string {
	var out []string
	for _, f := range rep.Services[0].Findings {
		out = append(out, f.Code)
	}
	return out
}

// TestOpsAdoptSeedService: the seed's service (foo=bar in the image's
// anonymous volume) is listed and checked as at risk, adopted, then safe;
// four plain docker service updates keep foo; draining its node turns check
// red and status explains the stuck task.
func TestOpsAdoptSeedService(t *testing.T) {
	C.RequirePlugin(t)
	svc, port := C.CreateRedis(t, []string{"service", "create"})
	rdb, task := C.ServiceRedis(t, svc, port)
	cluster.Set(t, rdb, "foo", "bar")

	row := opsRow(t, svc)
	if row.Risk != inventory.RiskAtRisk || row.Data[0].Kind != inventory.KindAnonymous {
		t.Errorf("ls of the seed service: risk %s, data %+v; want at-risk on an anonymous volume", row.Risk, row.Data)
	}
	code, rep := opsCheck(t, svc)
	if code != 1 || rep.Verdict != "risks" || !strings.Contains(strings.Join(opsCodes(rep), ","), "ephemeral-data") {
		t.Errorf("check of the seed service: exit %d, %+v; want 1 with ephemeral-data", code, rep)
	}
	if f := rep.Services[0].Findings[0]; f.Fix != "docker stateful adopt "+svc {
		t.Errorf("the seed's fix is %q, want adopt", f.Fix)
	}

	v0 := updVersion(t, svc)
	nodeHost := []string{"--node-host", task.Node.Host}
	if r := opsRun(t, append(append([]string{"adopt", "--dry-run"}, nodeHost...), svc)...); r.ExitCode() != 0 || !strings.Contains(r.Stdout, "copy the task's anonymous volume") {
		t.Errorf("adopt --dry-run: exit %d, want 0 and the plan", r.ExitCode())
	}
	if v := updVersion(t, svc); v != v0 {
		t.Fatalf("adopt --dry-run changed the service (version %s -> %s)", v0, v)
	}
	if r := opsRun(t, append(append([]string{"adopt"}, nodeHost...), svc)...); r.ExitCode() != 0 || !strings.Contains(r.Stdout, "Adopted") {
		t.Fatalf("adopt: exit %d, want 0", r.ExitCode())
	}
	if code, rep := opsCheck(t, svc); code != 0 || rep.Verdict != inventory.RiskSafe {
		t.Errorf("check after adopt: exit %d, %+v; want 0, safe", code, rep)
	}
	if row := opsRow(t, svc); row.Risk != inventory.RiskSafe || row.Data[0].Kind != inventory.KindNamedVolume || len(row.Pinned) != 1 || row.Pinned[0].ID != task.Node.ID {
		t.Errorf("ls after adopt: %+v; want safe, a named volume, pinned to %s", row, task.Node.Hostname)
	}

	for _, u := range [][]string{
		{"--limit-memory", "100M"},
		{"--constraint-add", "node.hostname==" + task.Node.Hostname},
		{"--limit-memory", "200M"},
		{"--force"},
	} {
		C.Docker(t, 1, append(append([]string{"service", "update", "--quiet"}, u...), svc)...)
		rdb, _ = C.ServiceRedis(t, svc, port)
		if v, ok := cluster.Get(t, rdb, "foo"); !ok || v != "bar" {
			t.Fatalf("after docker service update %v: foo = %q (exists %v), want bar", u, v, ok)
		}
	}

	// Drain the pinned node: check turns red, status says why the task waits.
	undrain := func() { C.Run(t, 1, "node", "update", "--availability", "active", task.Node.ID) }
	t.Cleanup(undrain)
	C.Docker(t, 1, "node", "update", "--availability", "drain", task.Node.ID)
	code, rep = opsCheck(t, svc)
	if code != 1 || !strings.Contains(strings.Join(opsCodes(rep), ","), inventory.CodePinnedNode) || !strings.Contains(rep.Services[0].Findings[0].Message, "drain") {
		t.Errorf("check with the pinned node drained: exit %d, %+v; want 1 and %s naming drain", code, rep, inventory.CodePinnedNode)
	}
	var st inventory.Status
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		r := opsRun(t, "status", "--format", "json", svc)
		if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil {
			t.Fatalf("status --format json: %v", err)
		}
		if strings.Contains(opsFindings(st.Findings), inventory.CodeNoNode) {
			break
		}
		time.Sleep(time.Second)
	}
	if f := opsFindings(st.Findings); !strings.Contains(f, inventory.CodeNoNode) || !strings.Contains(f, "drained") || !strings.Contains(f, "docker node update --availability active "+task.Node.Hostname) {
		t.Errorf("status with the pinned node drained: %s; want no-suitable-node, drained, and how to undrain", f)
	}
	undrain()
	rdb, _ = C.ServiceRedis(t, svc, port)
	if v, ok := cluster.Get(t, rdb, "foo"); !ok || v != "bar" {
		t.Errorf("after the drain and undrain: foo = %q (exists %v), want bar", v, ok)
	}
}

// TestOpsAdoptVolumeName: adopt --volume-name copies the seed's data into a
// new named volume on the task's node; four plain updates keep foo.
func TestOpsAdoptVolumeName(t *testing.T) {
	C.RequirePlugin(t)
	svc, port := C.CreateRedis(t, []string{"service", "create"})
	rdb, task := C.ServiceRedis(t, svc, port)
	cluster.Set(t, rdb, "foo", "bar")
	vol := C.VolumeName(t)
	r := opsRun(t, "adopt", "--node-host", task.Node.Host, "--volume-name", vol, svc)
	if r.ExitCode() != 0 || !strings.Contains(r.Stderr, "Copied /data into volume "+vol) || !strings.Contains(r.Stderr, "read back identical") {
		t.Fatalf("adopt --volume-name: exit %d, want 0 and the verified copy", r.ExitCode())
	}
	if src := updInspect(t, svc, "{{range .Spec.TaskTemplate.ContainerSpec.Mounts}}{{.Source}}{{end}}"); src != vol {
		t.Errorf("mount source %q, want %s", src, vol)
	}
	for _, u := range [][]string{{"--limit-memory", "100M"}, {"--constraint-add", "node.hostname==" + task.Node.Hostname}, {"--limit-memory", "200M"}, {"--force"}} {
		C.Docker(t, 1, append(append([]string{"service", "update", "--quiet"}, u...), svc)...)
	}
	rdb, _ = C.ServiceRedis(t, svc, port)
	if v, ok := cluster.Get(t, rdb, "foo"); !ok || v != "bar" {
		t.Errorf("after adopt --volume-name and four updates: foo = %q (exists %v), want bar", v, ok)
	}
	if r := opsRun(t, "adopt", "--node-host", task.Node.Host, "--volume-name", vol, svc); r.ExitCode() != 1 {
		t.Errorf("adopt of an adopted service: exit %d, want 1 (already safe)", r.ExitCode())
	}
}

// TestOpsAdoptRefusesTwoReplicas: two replicas on anonymous volumes are
// refused with nothing changed.
func TestOpsAdoptRefusesTwoReplicas(t *testing.T) {
	C.RequirePlugin(t)
	svc, _ := C.CreateRedis(t, []string{"service", "create", "--replicas", "2"})
	tasks := C.WaitTasks(t, svc, 2)
	v0 := updVersion(t, svc)
	r := opsRun(t, "adopt", svc)
	if r.ExitCode() != 1 || !strings.Contains(r.Stderr, "runs 2 replicas") || !strings.Contains(r.Stderr, "by hand") {
		t.Errorf("adopt of two replicas: exit %d, want 1 and a refusal that says how to do it by hand", r.ExitCode())
	}
	if v := updVersion(t, svc); v != v0 {
		t.Errorf("refused adopt changed the service (version %s -> %s)", v0, v)
	}
	now := C.WaitTasks(t, svc, 2)
	for i := range now {
		if now[i].ID != tasks[0].ID && now[i].ID != tasks[1].ID {
			t.Errorf("task %s is new: the refused adopt replaced a task", now[i].ID)
		}
	}

	// The new verbs complete service names (through docker, as a shell asks), ls --filter node= nodes.
	for _, verb := range []string{"adopt", "check", "rm", "status"} {
		if got, _ := completions(t, "stateful", verb, ""); indexOf(got, svc) < 0 {
			t.Errorf("docker __complete stateful %s '': %q, want %s", verb, got, svc)
		}
	}
	if got, _ := completions(t, "stateful", "rm", svc, ""); indexOf(got, svc) < 0 {
		t.Errorf("docker __complete stateful rm %s '': %q, want services again", svc, got)
	}
	if got, _ := completions(t, "stateful", "ls", "--filter", "node="); indexOf(got, "node="+tasks[0].Node.Hostname) < 0 {
		t.Errorf("docker __complete stateful ls --filter node=: %q, want node=%s", got, tasks[0].Node.Hostname)
	}
}

// TestOpsRm: rm keeps the volume and prints the create that brings the data
// back; rm --volumes --yes removes it.
func TestOpsRm(t *testing.T) {
	C.RequirePlugin(t)
	svc, port := C.CreateRedis(t, []string{"stateful", "create"})
	rdb, task := C.ServiceRedis(t, svc, port)
	cluster.Set(t, rdb, "foo", "bar")
	rdb.Save(t.Context())

	r := opsRun(t, "rm", svc)
	if r.ExitCode() != 0 || !strings.Contains(r.Stdout, fmt.Sprintf("kept volume %s-data (/data) on node %s", svc, task.Node.Hostname)) {
		t.Fatalf("rm: exit %d, want 0 and the kept volume on %s", r.ExitCode(), task.Node.Hostname)
	}
	_, create, ok := strings.Cut(r.Stdout, "bring it back on its data: docker ")
	if !ok {
		t.Fatalf("rm prints no create command")
	}
	create, _, _ = strings.Cut(create, "\n") // its line (a prune warning may follow)
	args := strings.Fields(strings.TrimSpace(create))
	if !strings.Contains(create, "--volume-name "+svc+"-data") || !strings.Contains(create, "--pin "+task.Node.ID) {
		t.Errorf("create command %q lacks --volume-name %s-data or --pin %s", create, svc, task.Node.ID)
	}
	// the printed create, as printed (plus --no-resolve-image: no registry here)
	C.Docker(t, 1, append(append(append([]string{}, args[:2]...), "--quiet", "--no-resolve-image"), args[2:]...)...)
	rdb, _ = C.ServiceRedis(t, svc, port)
	if v, ok := cluster.Get(t, rdb, "foo"); !ok || v != "bar" {
		t.Errorf("after rm and the printed create: foo = %q (exists %v), want bar", v, ok)
	}

	r = opsRun(t, "rm", "--volumes", "--yes", svc)
	if r.ExitCode() != 0 || !strings.Contains(r.Stdout, "removed volume "+svc+"-data") {
		t.Errorf("rm --volumes --yes: exit %d, want 0 and the volume removed", r.ExitCode())
	}
	if vols := C.Docker(t, task.Node.Index, "volume", "ls", "-q", "--filter", "name="+svc); vols != "" {
		t.Errorf("volumes left on %s: %s", task.Node.Hostname, vols)
	}

	// A volume on another node than the CLI's: removed through --node-host.
	other := C.Node(2)
	svc2, _ := C.CreateRedis(t, []string{"stateful", "create", "--pin", other.Hostname})
	C.WaitRunning(t, svc2)
	r = opsRun(t, "rm", "--volumes", "--yes", "--node-host", other.Host, svc2)
	if r.ExitCode() != 0 || !strings.Contains(r.Stdout, fmt.Sprintf("removed volume %s-data on node %s", svc2, other.Hostname)) {
		t.Errorf("rm --volumes --node-host: exit %d, want 0 and the volume removed on %s", r.ExitCode(), other.Hostname)
	}
	if vols := C.Docker(t, other.Index, "volume", "ls", "-q", "--filter", "name="+svc2); vols != "" {
		t.Errorf("volumes left on %s: %s", other.Hostname, vols)
	}
}

// TestOpsStatusKilledAfterGrace: a database that does not stop on its stop
// signal is killed at the end of its grace period (exit 137); status says so.
func TestOpsStatusKilledAfterGrace(t *testing.T) {
	C.RequirePlugin(t)
	svc := C.ServiceName(t)
	// Redis ignores SIGWINCH: the stop waits out the 1s grace and kills it.
	C.Docker(t, 1, "service", "create", "--quiet", "--name", svc, "--no-resolve-image", "--stop-signal", "SIGWINCH", "--stop-grace-period", "1s", "redis")
	C.Docker(t, 1, "service", "update", "--quiet", "--force", svc)
	r := opsRun(t, "status", svc)
	if r.ExitCode() != 0 || !strings.Contains(r.Stdout, "killed-after-grace") || !strings.Contains(r.Stdout, "was killed (exit 137) at the end of its 1s stop grace period") ||
		!strings.Contains(r.Stdout, "--stop-grace-period 30s "+svc) {
		t.Errorf("status after a kill at the end of the grace period: exit %d, want 0 and the explanation", r.ExitCode())
	}
}

// TestOpsCheckRedis: check --redis finds a Redis that does not persist (save
// "" and appendonly no), which the spec alone does not show; exit 2 when
// Redis cannot be reached.
func TestOpsCheckRedis(t *testing.T) {
	C.RequirePlugin(t)
	svc, _ := C.CreateRedis(t, []string{"stateful", "create"}, "redis-server", "--protected-mode", "no", "--save", "", "--appendonly", "no")
	C.WaitRunning(t, svc)
	if code, _ := opsCheck(t, svc); code != 0 {
		t.Errorf("check without --redis: exit %d, want 0 (the spec is safe)", code)
	}
	r := opsRun(t, "check", "--redis", "--format", "json", svc)
	var rep inventory.Report
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("check --redis --format json: %v", err)
	}
	if r.ExitCode() != 1 || len(rep.Services) != 1 || !strings.Contains(fmt.Sprint(opsCodes(rep)), "redis-no-persistence") {
		t.Errorf("check --redis: exit %d, %+v; want 1 and redis-no-persistence", r.ExitCode(), rep)
	}
	if r := opsRun(t, "check", "--redis", "--redis-url", "redis://127.0.0.1:1", "--timeout", "2s", svc); r.ExitCode() != 2 || !strings.Contains(r.Stdout, "could not check") {
		t.Errorf("check --redis with Redis unreachable: exit %d, want 2", r.ExitCode())
	}
}

// TestOpsAdoptUnderWriter: adopt of a busy seed Redis (20,000 keys, a
// client doing INCR about 200 times a second throughout) ends adopted on
// its anonymous volume, never rolled back onto an empty one: every key and
// every acknowledged INCR is there after it; its exit is 0 (verified) or 1
// with the clients' writes named (not verified, nothing rolled back).
func TestOpsAdoptUnderWriter(t *testing.T) {
	C.RequirePlugin(t)
	svc, port := C.CreateRedis(t, []string{"service", "create"})
	rdb, task := C.ServiceRedis(t, svc, port)
	ctx := context.Background()
	if err := rdb.Set(ctx, "counter", 0, 0).Err(); err != nil {
		t.Fatal(err)
	}
	pipe := rdb.Pipeline()
	for i := 0; i < 20000; i++ {
		pipe.Set(ctx, fmt.Sprintf("key:%05d", i), i, 0)
		if i%1000 == 999 {
			if _, err := pipe.Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	addr := fmt.Sprintf("%s:%d", task.Node.Addr, port)
	var mu sync.Mutex
	var acked int64
	var failed int
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		cl := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second, ReadTimeout: 3 * time.Second, MaxRetries: -1, PoolSize: 1})
		defer cl.Close()
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			v, err := cl.Incr(ctx, "counter").Result()
			mu.Lock()
			if err == nil {
				acked = max(acked, v)
			} else {
				failed++
			}
			mu.Unlock()
		}
	}()
	time.Sleep(500 * time.Millisecond)
	r := opsRun(t, "adopt", "--node-host", task.Node.Host, svc)
	time.Sleep(time.Second)
	close(stop)
	<-done
	t.Logf("adopt under a writer: exit %d; the writer's last acknowledged INCR %d, %d failed attempts", r.ExitCode(), acked, failed)
	if r.ExitCode() != 0 && r.ExitCode() != 1 {
		t.Fatalf("adopt: exit %d", r.ExitCode())
	}
	out := r.Stdout + r.Stderr
	if strings.Contains(out, "rolled back") && !strings.Contains(out, "not rolled back") && !strings.Contains(out, "nothing was rolled back") {
		t.Errorf("adopt rolled the service back")
	}
	if r.ExitCode() == 1 && !strings.Contains(out, "clients") {
		t.Errorf("adopt exit 1 without naming the clients' writes")
	}
	if src := updInspect(t, svc, "{{range .Spec.TaskTemplate.ContainerSpec.Mounts}}{{.Source}}{{end}}"); src == "" {
		t.Errorf("the service is not adopted: no volume mounted by name")
	}
	rdb, now := C.ServiceRedis(t, svc, port)
	if now.Node.ID != task.Node.ID {
		t.Fatalf("the service runs on node %s after adopt, want %s", now.Node.Hostname, task.Node.Hostname)
	}
	if n := rdb.DBSize(ctx).Val(); n != 20001 {
		t.Errorf("%d keys after adopt, want 20001", n)
	}
	if v, err := rdb.Get(ctx, "counter").Int64(); err != nil || v < acked {
		t.Errorf("counter %d (%v) after adopt: the acknowledged INCRs up to %d are lost", v, err, acked)
	}
}
