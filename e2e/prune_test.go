//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/docker-stateful/docker-stateful/e2e/cluster"
	"github.com/docker-stateful/docker-stateful/plugin/inventory"
)

// pruneWaitUnused waits until no container of the service is left on node n
// (rm removes them asynchronously), so that its volumes are unused.
func pruneWaitUnused(t *testing.T, n int, svc string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if strings.TrimSpace(C.Run(t, n, "ps", "-aq", "--filter", "label=com.docker.swarm.service.name="+svc).Stdout) == "" {
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("containers of %s still on node %d after a minute", svc, n)
}

func pruneHasVolume(t *testing.T, n int, name string) bool {
	t.Helper()
	return C.Run(t, n, "volume", "inspect", name).Err == nil
}

// TestPruneAfterAdoptAndRm: adopt puts the seed's data on a named volume
// (not the task's anonymous one), rm keeps it, and a plain docker volume
// prune -f on its node then keeps it on Docker 23 and later (the data comes
// back in a new service); on 20.10, where prune deletes every unused volume,
// rm says so before the prune that then deletes it.
func TestPruneAfterAdoptAndRm(t *testing.T) {
	C.RequirePlugin(t)
	svc, port := C.CreateRedis(t, []string{"service", "create"})
	rdb, task := C.ServiceRedis(t, svc, port)
	cluster.Set(t, rdb, "foo", "bar")
	anon := strings.TrimSpace(C.Docker(t, task.Node.Index, "inspect", "--format", `{{range .Mounts}}{{if eq .Destination "/data"}}{{.Name}}{{end}}{{end}}`, task.Container))
	if !inventory.AnonymousName(anon) {
		t.Fatalf("the seed's /data is on volume %q, want an anonymous one", anon)
	}

	if r := opsRun(t, "adopt", "--node-host", task.Node.Host, svc); r.ExitCode() != 0 {
		t.Fatalf("adopt: exit %d, want 0", r.ExitCode())
	}
	row := opsRow(t, svc)
	vol := row.Data[0].Source // what the service mounts: the rest follows it
	if vol != svc+"-data" || row.Data[0].Prunable || row.Risk != inventory.RiskSafe {
		t.Errorf("ls after adopt: %+v; want safe on named volume %s-data, not prunable", row, svc)
	}

	r := opsRun(t, "rm", svc)
	if r.ExitCode() != 0 || !strings.Contains(r.Stdout, "kept volume "+vol) {
		t.Fatalf("rm: exit %d, want 0 and volume %s kept", r.ExitCode(), vol)
	}
	warned := strings.Contains(r.Stdout, "volume "+vol+" on node "+task.Node.Hostname+" is not protected against prune")
	pruneAll := C.Generation < 23
	if warned != pruneAll {
		t.Errorf("rm on Docker %d: prune warning %v, want %v", C.Generation, warned, pruneAll)
	}
	if pruneAll && !strings.Contains(r.Stdout, "deletes every unused volume, named or not") {
		t.Errorf("rm on Docker %d: the warning does not say why", C.Generation)
	}

	pruneWaitUnused(t, task.Node.Index, svc)
	C.Docker(t, task.Node.Index, "volume", "prune", "-f")
	if pruneAll {
		// What rm warned about: 20.10 deletes every unused volume.
		if pruneHasVolume(t, task.Node.Index, vol) {
			t.Errorf("Docker %d kept volume %s through prune; rm's warning is wrong", C.Generation, vol)
		}
		return
	}
	if !pruneHasVolume(t, task.Node.Index, vol) {
		t.Fatalf("docker volume prune -f on node %s deleted volume %s: the adopted data is gone", task.Node.Hostname, vol)
	}
	back, port2 := C.CreateRedis(t, []string{"service", "create", "--mount", "type=volume,source=" + vol + ",target=/data", "--constraint", "node.id==" + task.Node.ID})
	rdb, _ = C.ServiceRedis(t, back, port2)
	if v, ok := cluster.Get(t, rdb, "foo"); !ok || v != "bar" {
		t.Errorf("after adopt, rm and prune: foo = %q (exists %v), want bar", v, ok)
	}
}

// TestPruneFlagsAnonymousMountedByName: a service whose data is on its
// task's anonymous volume mounted by its name (as adopt did before it
// copied) is flagged by ls and check, with adopt as the fix; adopt then
// copies it into a named volume and the finding is gone, data kept.
func TestPruneFlagsAnonymousMountedByName(t *testing.T) {
	C.RequirePlugin(t)
	svc, port := C.CreateRedis(t, []string{"service", "create", "--update-order", "stop-first", "--rollback-order", "stop-first", "--stop-grace-period", "30s"})
	rdb, task := C.ServiceRedis(t, svc, port)
	cluster.Set(t, rdb, "foo", "bar")
	if _, err := rdb.Save(t.Context()).Result(); err != nil {
		t.Fatalf("SAVE: %v", err)
	}
	anon := strings.TrimSpace(C.Docker(t, task.Node.Index, "inspect", "--format", `{{range .Mounts}}{{if eq .Destination "/data"}}{{.Name}}{{end}}{{end}}`, task.Container))
	C.Docker(t, 1, "service", "update", "--quiet", "--mount-add", "type=volume,source="+anon+",target=/data", "--constraint-add", "node.id=="+task.Node.ID, svc)

	row := opsRow(t, svc)
	if !row.Data[0].Prunable || row.Risk != inventory.RiskAtRisk || !strings.Contains(opsFindings(row.Findings), inventory.CodePrunable) {
		t.Errorf("ls of data on an anonymous volume mounted by name: %+v; want prunable, at-risk, %s", row, inventory.CodePrunable)
	}
	code, rep := opsCheck(t, svc)
	var f inventory.Finding
	for _, x := range rep.Services[0].Findings {
		if x.Code == inventory.CodePrunable {
			f = x
		}
	}
	if code != 1 || f.Path != "/data" || !strings.Contains(f.Message, "docker volume prune -f") || !strings.HasPrefix(f.Fix, "docker stateful adopt "+svc) {
		t.Errorf("check: exit %d, finding %+v; want 1 and %s on /data with adopt as the fix", code, f, inventory.CodePrunable)
	}

	rdb, task = C.ServiceRedis(t, svc, port)
	if r := opsRun(t, "adopt", "--node-host", task.Node.Host, svc); r.ExitCode() != 0 || !strings.Contains(r.Stderr, "Copied /data into volume "+svc+"-data") {
		t.Fatalf("adopt of the anonymous volume mounted by name: exit %d, want 0 and the copy", r.ExitCode())
	}
	if row := opsRow(t, svc); row.Data[0].Prunable || row.Data[0].Source != svc+"-data" || strings.Contains(opsFindings(row.Findings), inventory.CodePrunable) {
		t.Errorf("ls after adopt: %+v; want the named volume, no %s", row, inventory.CodePrunable)
	}
	rdb, _ = C.ServiceRedis(t, svc, port)
	if v, ok := cluster.Get(t, rdb, "foo"); !ok || v != "bar" {
		t.Errorf("after adopt: foo = %q (exists %v), want bar", v, ok)
	}
}

// TestPruneAdoptWithoutCutStopsForCopy: with no cut to hold writes
// (--no-verify; other databases), adopt stops the task for the copy (a
// helper holds the anonymous volume, which swarm would otherwise delete with
// the stopped task's container) and brings the service back on the copy.
func TestPruneAdoptWithoutCutStopsForCopy(t *testing.T) {
	C.RequirePlugin(t)
	svc, port := C.CreateRedis(t, []string{"service", "create"})
	rdb, task := C.ServiceRedis(t, svc, port)
	cluster.Set(t, rdb, "foo", "bar")
	r := opsRun(t, "adopt", "--no-verify", "--node-host", task.Node.Host, svc)
	if r.ExitCode() != 0 || !strings.Contains(r.Stderr, "0 replicas") || !strings.Contains(r.Stderr, "Copied /data into volume "+svc+"-data") || !strings.Contains(r.Stdout, "for the copy") {
		t.Fatalf("adopt --no-verify: exit %d, want 0, the task stopped for the copy, and the downtime", r.ExitCode())
	}
	if src := updInspect(t, svc, "{{range .Spec.TaskTemplate.ContainerSpec.Mounts}}{{.Source}}{{end}}"); src != svc+"-data" {
		t.Errorf("mount source %q, want %s-data", src, svc)
	}
	if n := updInspect(t, svc, "{{.Spec.Mode.Replicated.Replicas}}"); n != "1" {
		t.Errorf("replicas %s after adopt, want 1", n)
	}
	rdb, _ = C.ServiceRedis(t, svc, port)
	if v, ok := cluster.Get(t, rdb, "foo"); !ok || v != "bar" {
		t.Errorf("after adopt --no-verify: foo = %q (exists %v), want bar", v, ok)
	}
}
