//go:build e2e

package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-stateful/docker-stateful/e2e/cluster"
)

// TestStackDeploySecretsConfigsNetworks: a stack with a new secret, a new
// config, an overlay network and an external volume is judged (--dry-run,
// which creates nothing) and deployed; its data on the external volume
// survives a re-deploy. Before, the judging pass created no secret and
// docker's converter failed: "service redis: secret not found".
func TestStackDeploySecretsConfigsNetworks(t *testing.T) {
	C.RequirePlugin(t)
	stack, port := C.StackName(t), cluster.FreePort(t)
	svc := stack + "_redis"
	vol := C.VolumeName(t)
	C.Docker(t, 1, "volume", "create", vol)
	compose := cluster.WriteFile(t, "compose.yml", "")
	dir := filepath.Dir(compose)
	cluster.WriteFileAt(t, filepath.Join(dir, "pw.txt"), "s3cret\n")
	cluster.WriteFileAt(t, filepath.Join(dir, "extra.conf"), "# extra\n")
	write := func(memory string) {
		cluster.WriteFileAt(t, compose, fmt.Sprintf(`version: "3.8"
services:
  redis:
    image: redis
    ports:
      - target: 6379
        published: %d
        mode: host
    secrets: [app_pw]
    configs:
      - source: redis_conf
        target: /etc/redis-extra.conf
    networks: [back]
    volumes:
      - data:/data
    deploy:
      resources:
        limits:
          memory: %s
networks:
  back:
    driver: overlay
secrets:
  app_pw:
    file: ./pw.txt
configs:
  redis_conf:
    file: ./extra.conf
volumes:
  data:
    external: true
    name: %s
`, port, memory, vol))
	}
	write("100M")

	r := stackDeploy(t, true, compose, stack, "--dry-run")
	if r.ExitCode() != 0 {
		t.Fatalf("dry run: exit %d; want 0 (a new secret and config are created by the deploy)", r.ExitCode())
	}
	if out := C.Docker(t, 1, "secret", "ls", "--format", "{{.Name}}"); strings.Contains(out, stack+"_app_pw") {
		t.Fatalf("the dry run created the secret: %s", out)
	}
	if r := stackDeploy(t, true, compose, stack); r.Err != nil {
		t.Fatalf("deploy: %v", r.Err)
	}
	for _, want := range []string{stack + "_app_pw"} {
		if out := C.Docker(t, 1, "secret", "ls", "--format", "{{.Name}}"); !strings.Contains(out, want) {
			t.Errorf("secret %s not created: %s", want, out)
		}
	}
	if out := C.Docker(t, 1, "config", "ls", "--format", "{{.Name}}"); !strings.Contains(out, stack+"_redis_conf") {
		t.Errorf("config not created: %s", out)
	}
	if got := updInspect(t, svc, "{{range .Spec.TaskTemplate.ContainerSpec.Secrets}}{{.SecretName}} {{end}}"); !strings.Contains(got, stack+"_app_pw") {
		t.Errorf("service secrets %q", got)
	}
	if got := updInspect(t, svc, "{{range .Spec.TaskTemplate.Networks}}{{.Target}} {{end}}"); strings.TrimSpace(got) == "" {
		t.Errorf("service has no network")
	}
	rdb, task := C.ServiceRedis(t, svc, port)
	if task.Node.Index != 1 {
		t.Fatalf("the service runs on node %d, want 1 (where its external volume is)", task.Node.Index)
	}
	cluster.Set(t, rdb, "foo", "bar")
	if c := updInspect(t, svc, "{{.Spec.TaskTemplate.Placement.Constraints}}"); !strings.Contains(c, "node.id=="+task.Node.ID) {
		t.Errorf("constraints %s: want the pin to node1", c)
	}

	write("200M")
	if r := stackDeploy(t, true, compose, stack); r.Err != nil {
		t.Fatalf("re-deploy: %v", r.Err)
	}
	rdb2, task2 := C.ServiceRedis(t, svc, port)
	if task2.ID == task.ID {
		t.Fatalf("the re-deploy did not replace the task")
	}
	if v, ok := cluster.Get(t, rdb2, "foo"); !ok || v != "bar" {
		t.Fatalf("after the re-deploy foo = %q (exists %v), want bar", v, ok)
	}
}
