//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/docker-stateful/docker-stateful/e2e/cluster"
)

// updStateful runs `docker stateful update ARGS` against the manager.
func updStateful(t *testing.T, args ...string) cluster.Result {
	t.Helper()
	r := C.Run(t, 1, append([]string{"stateful", "update"}, args...)...)
	t.Logf("stdout:\n%s\nstderr:\n%s", r.Stdout, r.Stderr)
	return r
}

// updVersion is the service's spec version: it changes with every update
// the daemon accepted, and only then.
func updVersion(t *testing.T, svc string) string {
	t.Helper()
	return C.Docker(t, 1, "service", "inspect", "-f", "{{.Version.Index}}", svc)
}

func updInspect(t *testing.T, svc, format string) string {
	t.Helper()
	return C.Docker(t, 1, "service", "inspect", "-f", format, svc)
}

// updRefused checks that r was refused: exit status 1, one "refused:" line
// per expected problem, and nothing sent (same spec version, same task).
func updRefused(t *testing.T, r cluster.Result, svc, version string, task cluster.Task, want ...string) {
	t.Helper()
	if r.ExitCode() != 1 {
		t.Errorf("exit status %d, want 1 (refused)", r.ExitCode())
	}
	for _, w := range want {
		if !strings.Contains(r.Stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.Stderr)
		}
	}
	if !strings.Contains(r.Stderr, "nothing was sent") {
		t.Errorf("stderr does not say nothing was sent:\n%s", r.Stderr)
	}
	if v := updVersion(t, svc); v != version {
		t.Errorf("spec version %s -> %s: the refused update was sent", version, v)
	}
	if now := C.WaitRunning(t, svc); now.ID != task.ID {
		t.Errorf("task replaced (%s -> %s) by a refused update", task.ID, now.ID)
	}
}

// TestUpdateRefusesTheSeedService: the seed's service keeps /data in the
// image's anonymous volume, so any update that replaces its task loses the
// data. docker stateful update refuses it, sends nothing, and says how to fix it.
func TestUpdateRefusesTheSeedService(t *testing.T) {
	C.RequirePlugin(t)
	svc, port := C.CreateRedis(t, []string{"service", "create"})
	rdb, task := C.ServiceRedis(t, svc, port)
	cluster.Set(t, rdb, "foo", "bar")
	v0 := updVersion(t, svc)

	r := updStateful(t, "--limit-memory", "100M", svc)
	updRefused(t, r, svc, v0, task,
		"refused: /data is on the anonymous volume of the image's VOLUME",
		"cannot be kept by a plain update",
		fmt.Sprintf("--mount-add type=volume,source=%s-data,target=/data --constraint-add node.id==%s %s", svc, task.Node.ID, svc))
	if lines := strings.Count("\n"+r.Stderr, "\nrefused: "); lines != 1 {
		t.Errorf("%d refusal lines, want 1:\n%s", lines, r.Stderr)
	}
	if v, ok := cluster.Get(t, rdb, "foo"); !ok || v != "bar" {
		t.Errorf("foo = %q (exists %v) after the refused update, want bar", v, ok)
	}
	if mem := updInspect(t, svc, "{{with .Spec.TaskTemplate.Resources}}{{with .Limits}}{{.MemoryBytes}}{{end}}{{end}}"); mem != "" && mem != "0" {
		t.Errorf("memory limit %s set by a refused update", mem)
	}

	// --dry-run: the diff and the verdict, exit 1, nothing sent.
	r = updStateful(t, "--dry-run", "--limit-memory", "100M", svc)
	if r.ExitCode() != 1 {
		t.Errorf("--dry-run of a refused update: exit status %d, want 1", r.ExitCode())
	}
	for _, w := range []string{"Limits.Memory:\n+ 100MiB\n", "Data paths: /data", "Verdict: refused", "/data is on the anonymous volume"} {
		if !strings.Contains(r.Stdout, w) {
			t.Errorf("--dry-run output lacks %q:\n%s", w, r.Stdout)
		}
	}
	if v := updVersion(t, svc); v != v0 {
		t.Errorf("--dry-run sent the update: version %s -> %s", v0, v)
	}

	// --dry-run --format json, for machines.
	r = updStateful(t, "--dry-run", "--format", "json", "--limit-memory", "100M", svc)
	var rep struct {
		Diff []struct {
			Field          string
			Removed, Added []string
		}
		Verdict  string
		Problems []struct{ Code, Path, Message string }
	}
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("--format json: %v\n%s", err, r.Stdout)
	}
	if r.ExitCode() != 1 || rep.Verdict != "refused" || len(rep.Problems) != 1 || rep.Problems[0].Code != "ephemeral-data" ||
		len(rep.Diff) != 1 || rep.Diff[0].Field != "Limits.Memory" || strings.Join(rep.Diff[0].Added, "") != "100MiB" {
		t.Errorf("--format json (exit %d) = %+v", r.ExitCode(), rep)
	}

	if v, ok := cluster.Get(t, rdb, "foo"); !ok || v != "bar" {
		t.Errorf("foo = %q (exists %v) at the end, want bar", v, ok)
	}
}

// TestUpdateSafeService: a service made safe with plain docker (named volume
// on /data, pinned by node ID) takes updates that keep its data, refuses
// those that would lose it, and takes them with --force.
func TestUpdateSafeService(t *testing.T) {
	C.RequirePlugin(t)
	svc := C.ServiceName(t)
	vol := C.VolumeName(t)
	port := cluster.FreePort(t)
	node := C.Node(2)
	pin := "node.id==" + node.ID
	C.Docker(t, 1, "service", "create", "--quiet", "--name", svc,
		"-p", cluster.PublishRedis(port),
		"--mount", "type=volume,source="+vol+",target=/data", "--constraint", pin, "--no-resolve-image", "redis")
	updSafeServiceFlow(t, svc, vol, pin, port)
}

// TestUpdateStatefulCreatedService: the same with a service from
// docker stateful create (its volume and pin are the plugin's own).
func TestUpdateStatefulCreatedService(t *testing.T) {
	C.RequirePlugin(t)
	svc, port := C.CreateRedis(t, []string{"stateful", "create"})
	vol := updInspect(t, svc, "{{range .Spec.TaskTemplate.ContainerSpec.Mounts}}{{.Source}}{{end}}")
	pin := updInspect(t, svc, `{{index .Spec.Labels "io.docker-stateful.pin"}}`)
	if vol == "" || pin == "" {
		t.Fatalf("docker stateful create made no volume (%q) or pin (%q)", vol, pin)
	}
	updSafeServiceFlow(t, svc, vol, "node.id=="+pin, port)
}

func updSafeServiceFlow(t *testing.T, svc, vol, pin string, port int) {
	rdb, task := C.ServiceRedis(t, svc, port)
	cluster.Set(t, rdb, "foo", "bar")
	if err := rdb.Do(t.Context(), "SAVE").Err(); err != nil {
		t.Fatalf("SAVE: %v", err)
	}
	v0 := updVersion(t, svc)

	// --dry-run of an allowed update: diff, verdict, exit 0, nothing sent.
	r := updStateful(t, "--dry-run", "--limit-memory", "100M", svc)
	if r.ExitCode() != 0 {
		t.Errorf("--dry-run of an allowed update: exit status %d, want 0", r.ExitCode())
	}
	for _, w := range []string{"--- " + svc + " (current)", "Limits.Memory:\n+ 100MiB\n", "Verdict: allowed"} {
		if !strings.Contains(r.Stdout, w) {
			t.Errorf("--dry-run output lacks %q:\n%s", w, r.Stdout)
		}
	}
	if strings.Contains(r.Stdout, "Mounts:") || strings.Contains(r.Stdout, "Constraints:") {
		t.Errorf("--dry-run shows unchanged fields:\n%s", r.Stdout)
	}
	if v := updVersion(t, svc); v != v0 || C.WaitRunning(t, svc).ID != task.ID {
		t.Fatalf("--dry-run sent the update (version %s -> %s)", v0, v)
	}

	// An update that keeps the data: sent, docker's convergence shown, foo kept.
	r = updStateful(t, "--limit-memory", "100M", svc)
	if r.ExitCode() != 0 {
		t.Fatalf("--limit-memory 100M refused or failed: exit status %d", r.ExitCode())
	}
	if !strings.Contains(r.Stdout, "converged") {
		t.Errorf("no convergence progress from docker:\n%s", r.Stdout)
	}
	if mem := updInspect(t, svc, "{{.Spec.TaskTemplate.Resources.Limits.MemoryBytes}}"); mem != fmt.Sprint(100<<20) {
		t.Errorf("memory limit = %s after the update", mem)
	}
	rdb, task2 := C.ServiceRedis(t, svc, port)
	if task2.ID == task.ID {
		t.Fatalf("the update did not replace the task")
	}
	if v, ok := cluster.Get(t, rdb, "foo"); !ok || v != "bar" {
		t.Fatalf("foo = %q (exists %v) after --limit-memory, want bar", v, ok)
	}
	task = task2
	v1 := updVersion(t, svc)

	// --rollback is guarded on the spec it restores: back to no limit, allowed.
	r = updStateful(t, "--rollback", "--dry-run", svc)
	if r.ExitCode() != 0 || !strings.Contains(r.Stdout, "rollback to the previous spec") || !strings.Contains(r.Stdout, "Limits.Memory:\n- 100MiB\n") {
		t.Errorf("--rollback --dry-run: exit %d", r.ExitCode())
	}
	if v := updVersion(t, svc); v != v1 {
		t.Fatalf("--rollback --dry-run sent it (version %s -> %s)", v1, v)
	}
	r = updStateful(t, "--rollback", svc)
	if r.ExitCode() != 0 || !strings.Contains(r.Stdout, "converged") {
		t.Fatalf("--rollback: exit %d", r.ExitCode())
	}
	if mem := updInspect(t, svc, "{{with .Spec.TaskTemplate.Resources}}{{with .Limits}}{{.MemoryBytes}}{{end}}{{end}}"); mem != "" && mem != "0" {
		t.Errorf("memory limit %s after --rollback, want none", mem)
	}
	rdb, task = C.ServiceRedis(t, svc, port)
	if v, ok := cluster.Get(t, rdb, "foo"); !ok || v != "bar" {
		t.Fatalf("foo = %q (exists %v) after --rollback, want bar", v, ok)
	}
	v1 = updVersion(t, svc)

	// Updates that would lose the data: refused, nothing sent.
	r = updStateful(t, "--mount-rm", "/data", svc)
	updRefused(t, r, svc, v1, task, "refused: the update removes volume "+vol+" that holds /data")
	r = updStateful(t, "--constraint-rm", pin, svc)
	updRefused(t, r, svc, v1, task, "refused: the update removes the pin "+pin+" while a local volume holds /data")
	r = updStateful(t, "--dry-run", "--mount-rm", "/data", svc)
	if r.ExitCode() != 1 || !strings.Contains(r.Stdout, "Mounts:\n- type=volume,source="+vol+",target=/data") || !strings.Contains(r.Stdout, "Verdict: refused") {
		t.Errorf("--dry-run --mount-rm: exit %d", r.ExitCode())
	}
	if v := updVersion(t, svc); v != v1 {
		t.Fatalf("--dry-run sent it (version %s -> %s)", v1, v)
	}
	if v, ok := cluster.Get(t, rdb, "foo"); !ok || v != "bar" {
		t.Fatalf("foo = %q (exists %v) after the refusals, want bar", v, ok)
	}

	// --force sends them, saying what it overrides.
	r = updStateful(t, "--force", "--constraint-rm", pin, svc)
	if r.ExitCode() != 0 || !strings.Contains(r.Stderr, "warning: --force overrides: the update removes the pin "+pin) {
		t.Fatalf("--force --constraint-rm: exit %d", r.ExitCode())
	}
	if c := updInspect(t, svc, "{{with .Spec.TaskTemplate.Placement}}{{.Constraints}}{{end}}"); strings.Contains(c, pin) {
		t.Errorf("constraints after --force --constraint-rm: %s", c)
	}
	r = updStateful(t, "--force", "--mount-rm", "/data", svc)
	if r.ExitCode() != 0 || !strings.Contains(r.Stderr, "warning: --force overrides: the update removes volume "+vol) {
		t.Fatalf("--force --mount-rm: exit %d", r.ExitCode())
	}
	if m := updInspect(t, svc, "{{len .Spec.TaskTemplate.ContainerSpec.Mounts}}"); m != "0" {
		t.Errorf("%s mounts after --force --mount-rm /data", m)
	}
	// The refusal was right: the new task has an empty /data.
	rdb, _ = C.ServiceRedis(t, svc, port)
	if v, ok := cluster.Get(t, rdb, "foo"); ok {
		t.Errorf("foo = %q after --force --mount-rm /data: the data should be gone from the new task", v)
	}
}

// TestUpdateRefusesWhenThePinnedNodeTakesNoTask: when the node a service is
// pinned to takes no new task (paused here; drained and down are the same
// rule), an update that replaces the task would stop it and start none. The
// guard refuses it, --dry-run says so, nothing is sent; an update that
// replaces no task still goes through. (Pause, not drain: the node keeps
// running the tasks of other tests on a shared cluster.)
func TestUpdateRefusesWhenThePinnedNodeTakesNoTask(t *testing.T) {
	C.RequirePlugin(t)
	node := C.Node(3)
	svc, port := C.CreateRedis(t, []string{"stateful", "create", "--pin", node.Hostname})
	_, task := C.ServiceRedis(t, svc, port)
	v0 := updVersion(t, svc)

	C.Docker(t, 1, "node", "update", "--availability", "pause", node.ID)
	t.Cleanup(func() { C.Docker(t, 1, "node", "update", "--availability", "active", node.ID) })

	want := "the task can run nowhere: the service is pinned by node.id==" + node.ID + " to node " + node.Hostname + " (" + node.ID + "), which has availability pause"
	r := updStateful(t, "--dry-run", "--limit-memory", "100M", svc)
	if r.ExitCode() != 1 || !strings.Contains(r.Stdout, "Verdict: refused") || !strings.Contains(r.Stdout, want) {
		t.Errorf("--dry-run with the pinned node paused: exit %d, want 1 and %q", r.ExitCode(), want)
	}
	r = updStateful(t, "--limit-memory", "100M", svc)
	updRefused(t, r, svc, v0, task, "refused: "+want)

	// Labels replace no task: allowed on a paused node.
	if r = updStateful(t, "--label-add", "owner=e2e", svc); r.ExitCode() != 0 {
		t.Errorf("--label-add with the pinned node paused: exit %d, want 0", r.ExitCode())
	}
}

// TestUpdateRefusesWhatRedisWouldLose: options that make Redis lose its
// data though its volume and pin stay (AOF on at start ignores dump.rdb,
// another --dir, saves off, SIGKILL, a read-only data volume) are refused,
// nothing sent, the data there.
func TestUpdateRefusesWhatRedisWouldLose(t *testing.T) {
	C.RequirePlugin(t)
	svc, port := C.CreateRedis(t, []string{"stateful", "create"})
	vol := updInspect(t, svc, "{{range .Spec.TaskTemplate.ContainerSpec.Mounts}}{{.Source}}{{end}}")
	rdb, task := C.ServiceRedis(t, svc, port)
	cluster.Set(t, rdb, "foo", "bar")
	v0 := updVersion(t, svc)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--args", "--appendonly yes"}, "refused: --appendonly yes at start makes Redis load only its (new, empty) append-only file and ignore dump.rdb"},
		{[]string{"--args", "--dir /tmp"}, "refused: the update moves Redis' data directory from /data to /tmp"},
		{[]string{"--args", `--save ""`}, `refused: --save "" with appendonly off turns persistence off`},
		{[]string{"--stop-signal", "SIGKILL"}, "refused: --stop-signal SIGKILL kills the service at once"},
		{[]string{"--mount-add", "type=volume,source=" + vol + ",target=/data,readonly"}, "refused: the update makes volume " + vol + " read-only"},
	} {
		updRefused(t, updStateful(t, append(c.args, svc)...), svc, v0, task, c.want)
	}
	if v, ok := cluster.Get(t, rdb, "foo"); !ok || v != "bar" {
		t.Errorf("foo = %q (exists %v) after the refusals, want bar", v, ok)
	}
}
