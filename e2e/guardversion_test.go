//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/docker-stateful/docker-stateful/e2e/cluster"
)

// imageEnv is the value of the variable name in image's configuration on node 1.
func imageEnv(t *testing.T, image, name string) string {
	t.Helper()
	v := strings.TrimSpace(C.Docker(t, 1, "image", "inspect", "--format",
		`{{range .Config.Env}}{{if eq (index (split . "=") 0) "`+name+`"}}{{index (split . "=") 1}}{{end}}{{end}}`, image))
	if v == "" {
		t.Fatalf("%s has no %s", image, name)
	}
	return v
}

// gvDryRunJSON is update --dry-run --format json's verdict and problems.
type gvDryRunJSON struct {
	Verdict  string `json:"verdict"`
	Problems []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"problems"`
	Warnings []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"warnings"`
}

func gvDryRun(t *testing.T, args ...string) (cluster.Result, gvDryRunJSON) {
	t.Helper()
	r := vfyStateful(t, append([]string{"update", "--dry-run", "--format", "json"}, args...)...)
	var rep gvDryRunJSON
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("update --dry-run --format json: %v\n%s", err, r.Stdout)
	}
	return r, rep
}

// TestGuardRefusesRedis8ToRedis7: a Redis 8 service (it writes RDB 12) updated to
// redis:7 (Debian 12's Redis 7.0, which reads RDB up to 10, as its REDIS_VERSION
// says) is refused by the guard, in update, update --dry-run and stack deploy, with
// the versions, where each was read (the running server itself) and the way out;
// the spec is unchanged. The way up (redis:7 → redis:8) stays allowed, and its
// update --verify says that going back needs a conversion.
func TestGuardRefusesRedis8ToRedis7(t *testing.T) {
	C.RequirePlugin(t)
	C.RequireImage(t, cluster.Redis8Image)
	v8, v7 := imageEnv(t, cluster.Redis8Image, "REDIS_VERSION"), imageEnv(t, cluster.Redis7Image, "REDIS_VERSION")
	svc, port := C.CreateRedisImage(t, []string{"stateful", "create"}, cluster.Redis8Image)
	rdb, task := C.ServiceRedis(t, svc, port)
	cluster.Set(t, rdb, "foo", "bar")
	version := updVersion(t, svc)
	want := fmt.Sprintf("%s runs Redis %s (the server), which writes RDB format 12; image %s runs Redis %s (REDIS_VERSION of image %s), which reads RDB formats up to 10: the new task would refuse the data and not start",
		svc, v8, cluster.Redis7Image, v7, cluster.Redis7Image)
	way := fmt.Sprintf("docker stateful backup %s, then docker stateful restore that backup into a service running %s", svc, cluster.Redis7Image)

	r := vfyStateful(t, "update", "--dry-run", "--image", cluster.Redis7Image, svc)
	if r.ExitCode() != 1 || !strings.Contains(r.Stdout, "Verdict: refused") || !strings.Contains(r.Stdout, want) {
		t.Errorf("update --dry-run --image %s: exit %d, want 1, refused: %s", cluster.Redis7Image, r.ExitCode(), want)
	}
	r, rep := gvDryRun(t, "--image", cluster.Redis7Image, svc)
	if r.ExitCode() != 1 || rep.Verdict != "refused" || len(rep.Problems) != 1 || rep.Problems[0].Code != "version" || !strings.Contains(rep.Problems[0].Message, way) {
		t.Errorf("update --dry-run --format json: exit %d, %+v; want one version problem with %q", r.ExitCode(), rep, way)
	}

	r = vfyStateful(t, "update", "--image", cluster.Redis7Image, svc)
	updRefused(t, r, svc, version, task, "refused: "+want, way)
	if img := updInspect(t, svc, "{{.Spec.TaskTemplate.ContainerSpec.Image}}"); img != cluster.Redis8Image {
		t.Errorf("image %s after the refused update, want %s", img, cluster.Redis8Image)
	}
	if v, ok := cluster.Get(t, rdb, "foo"); !ok || v != "bar" {
		t.Errorf("foo = %q (exists %v) after the refused update, want bar", v, ok)
	}

	// --force sends it anyway, saying what it overrides (not run: the task would
	// crash-loop); the same image is no version change at all.
	r = vfyStateful(t, "update", "--dry-run", "--image", cluster.Redis8Image, "--limit-memory", "200M", svc)
	if r.ExitCode() != 0 || strings.Contains(r.Stdout+r.Stderr, "RDB format") {
		t.Errorf("update --dry-run of the same image: exit %d, want 0 and no version rule", r.ExitCode())
	}

	// The way up: redis:7 → redis:8 is allowed, and --verify says how to go back.
	up, upPort := C.CreateRedisImage(t, []string{"stateful", "create"}, cluster.Redis7Image)
	rdbUp, _ := C.ServiceRedis(t, up, upPort)
	cluster.Set(t, rdbUp, "foo", "bar")
	r, rep = gvDryRun(t, "--image", cluster.Redis8Image, up)
	if r.ExitCode() != 0 || rep.Verdict != "allowed" || len(rep.Warnings) != 0 {
		t.Errorf("update --dry-run --image %s of a Redis %s service: exit %d, %+v; want allowed, no warning", cluster.Redis8Image, v7, r.ExitCode(), rep)
	}
	r = vfyStateful(t, "update", "--verify", "--format", "json", "--image", cluster.Redis8Image, up)
	var doc struct {
		Verdict string `json:"verdict"`
		WayBack string `json:"way_back"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &doc); err != nil {
		t.Fatalf("update --verify --format json: %v\n%s", err, r.Stdout)
	}
	wantBack := fmt.Sprintf("going back to Redis %s needs a conversion: Redis %s writes RDB format 12, which Redis %s (RDB 10) cannot read", v7, v8, v7)
	if r.ExitCode() != 0 || doc.Verdict != "verified" || !strings.Contains(doc.WayBack, wantBack) || !strings.Contains(doc.WayBack, "docker stateful backup "+up) {
		t.Errorf("update --verify of the upgrade: exit %d, %+v; want verified and way_back %q", r.ExitCode(), doc, wantBack)
	}
	// ... and the rollback it warns of is now refused by the guard.
	r = vfyStateful(t, "update", "--rollback", up)
	if r.ExitCode() != 1 || !strings.Contains(r.Stderr, "which reads RDB formats up to 10") {
		t.Errorf("update --rollback to Redis %s: exit %d, want 1, refused by the version rule", v7, r.ExitCode())
	}
}

// TestGuardRefusesPostgres15ToPostgres17: a PostgreSQL 15 service updated to
// postgres:17 is refused (another major version needs pg_upgrade or a dump), the
// version read from the server with PGPASSWORD, the spec unchanged.
func TestGuardRefusesPostgres15ToPostgres17(t *testing.T) {
	C.RequirePlugin(t)
	C.RequirePostgresImage(t)
	C.RequireImage(t, cluster.Postgres17Image)
	const password = "e2e-guardversion-secret"
	t.Setenv("PGPASSWORD", password)
	svc, port := C.CreatePostgres(t, []string{"stateful", "create"}, password)
	task := C.WaitRunning(t, svc)
	cluster.Postgres(t, task.Node.Addr, port, password, "postgres")
	version := updVersion(t, svc)
	want := fmt.Sprintf("image %s runs PostgreSQL 17 (PG_MAJOR of image %s), which refuses a data directory of another major version: the new task would not start. Upgrade the data first: pg_upgrade",
		cluster.Postgres17Image, cluster.Postgres17Image)

	r := vfyStateful(t, "update", "--dry-run", "--image", cluster.Postgres17Image, svc)
	if r.ExitCode() != 1 || !strings.Contains(r.Stdout, "Verdict: refused") || !strings.Contains(r.Stdout, want) || !strings.Contains(r.Stdout, svc+" runs PostgreSQL 15.") || !strings.Contains(r.Stdout, "(the server)") {
		t.Errorf("update --dry-run --image %s: exit %d, want 1, refused, PostgreSQL 15 read from the server: %s", cluster.Postgres17Image, r.ExitCode(), want)
	}
	r = vfyStateful(t, "update", "--image", cluster.Postgres17Image, svc)
	updRefused(t, r, svc, version, task, want)
	if img := updInspect(t, svc, "{{.Spec.TaskTemplate.ContainerSpec.Image}}"); img != cluster.PostgresImage {
		t.Errorf("image %s after the refused update, want %s", img, cluster.PostgresImage)
	}

	// Without the password the server cannot be asked: the image's PG_MAJOR says 15.
	t.Setenv("PGPASSWORD", "")
	r = vfyStateful(t, "update", "--dry-run", "--image", cluster.Postgres17Image, svc)
	if r.ExitCode() != 1 || !strings.Contains(r.Stdout, svc+" runs PostgreSQL 15 (PG_MAJOR of image "+cluster.PostgresImage+")") {
		t.Errorf("update --dry-run without the password: exit %d, want 1 and PostgreSQL 15 from the image", r.ExitCode())
	}
}

// TestGuardVersionStackDeploy: stack deploy goes through the same guard: a
// re-deploy that turns the stack's Redis 8 into redis:7 is refused, nothing sent.
func TestGuardVersionStackDeploy(t *testing.T) {
	C.RequirePlugin(t)
	C.RequireImage(t, cluster.Redis8Image)
	stack, port := C.StackName(t), cluster.FreePort(t)
	svc := stack + "_redis"
	compose := func(image string) string {
		return cluster.WriteFile(t, "compose.yml", fmt.Sprintf(`version: "3.8"
services:
  redis:
    image: %s
    ports:
      - target: 6379
        published: %d
        mode: host
`, image, port))
	}
	if r := stackDeploy(t, true, compose(cluster.Redis8Image), stack); r.Err != nil {
		t.Fatalf("docker stateful stack deploy: %v", r.Err)
	}
	rdb, _ := C.ServiceRedis(t, svc, port)
	cluster.Set(t, rdb, "foo", "bar")
	version := updVersion(t, svc)
	r := stackDeploy(t, true, compose(cluster.Redis7Image), stack)
	if r.ExitCode() != 1 || !strings.Contains(r.Stderr, "refused: service "+svc+": ") || !strings.Contains(r.Stderr, "which reads RDB formats up to 10") {
		t.Errorf("re-deploy with %s: exit %d, want 1 and the version refusal", cluster.Redis7Image, r.ExitCode())
	}
	if v := updVersion(t, svc); v != version {
		t.Errorf("spec version %s -> %s: the refused deploy was sent", version, v)
	}
}
