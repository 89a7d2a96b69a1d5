//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/docker-stateful/docker-stateful/e2e/cluster"
)

// stackCompose is a stack of a redis service with no volumes (the seed's
// mistake, in a compose file) and a stateless service beside it.
func stackCompose(t *testing.T, port int, memory, redisExtra string) string {
	return stackComposeTop(t, port, memory, redisExtra, "")
}

func stackComposeTop(t *testing.T, port int, memory, redisExtra, top string) string {
	t.Helper()
	return cluster.WriteFile(t, "compose.yml", fmt.Sprintf(`version: "3.8"
services:
  redis:
    image: redis
    ports:
      - target: 6379
        published: %d
        mode: host
    deploy:
      resources:
        limits:
          memory: %s
%s
  web:
    image: %s
    environment:
      MEMORY: %s
%s
`, port, memory, redisExtra, C.StatelessImage(t), memory, top))
}

func stackDeploy(t *testing.T, stateful bool, file, stack string, extra ...string) cluster.Result {
	t.Helper()
	args := []string{"stack", "deploy"}
	if stateful {
		args = append([]string{"stateful"}, args...)
	}
	args = append(append(args, "--resolve-image", "never", "-c", file), extra...)
	r := C.Run(t, 1, append(args, stack)...)
	t.Logf("%s:\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.Stdout, r.Stderr)
	return r
}

// TestStackPlainDeployLosesData is the seed's story for stacks: a re-deploy
// of a changed compose file replaces the redis task, and its data with it.
func TestStackPlainDeployLosesData(t *testing.T) {
	stack, port := C.StackName(t), cluster.FreePort(t)
	if r := stackDeploy(t, false, stackCompose(t, port, "100M", ""), stack); r.Err != nil {
		t.Fatalf("docker stack deploy: %v", r.Err)
	}
	rdb, task := C.ServiceRedis(t, stack+"_redis", port)
	cluster.Set(t, rdb, "foo", "bar")
	if r := stackDeploy(t, false, stackCompose(t, port, "200M", ""), stack); r.Err != nil {
		t.Fatalf("docker stack deploy: %v", r.Err)
	}
	rdb2, task2 := C.ServiceRedis(t, stack+"_redis", port)
	if task2.ID == task.ID {
		t.Fatalf("the changed re-deploy did not replace the task")
	}
	if v, ok := cluster.Get(t, rdb2, "foo"); ok {
		t.Errorf("foo = %q survived a plain re-deploy: the problem this command solves is not reproduced", v)
	}
}

// TestStackDeployKeepsData: docker stateful stack deploy puts the redis
// service's /data on a named volume pinned to its node, keeps both through
// re-deploys of changed files (the compose file does not mention them),
// sends no task-replacing update for an unchanged file, refuses a re-deploy
// that would lose the data with nothing of the stack sent, and --dry-run
// judges every service without sending anything.
func TestStackDeployKeepsData(t *testing.T) {
	C.RequirePlugin(t)
	stack, port := C.StackName(t), cluster.FreePort(t)
	svc, web := stack+"_redis", stack+"_web"
	if r := stackDeploy(t, true, stackCompose(t, port, "100M", ""), stack); r.Err != nil {
		t.Fatalf("docker stateful stack deploy: %v", r.Err)
	}
	rdb, task := C.ServiceRedis(t, svc, port)
	cluster.Set(t, rdb, "foo", "bar")
	mounts := updInspect(t, svc, `{{range .Spec.TaskTemplate.ContainerSpec.Mounts}}{{.Type}}:{{.Source}}:{{.Target}} {{end}}`)
	if !strings.Contains(mounts, "volume:"+svc+"-data:/data") {
		t.Fatalf("mounts %q: want volume %s-data on /data", mounts, svc)
	}
	if c := updInspect(t, svc, "{{.Spec.TaskTemplate.Placement.Constraints}}"); !strings.Contains(c, "node.id=="+task.Node.ID) {
		t.Fatalf("constraints %s: want the pin node.id==%s", c, task.Node.ID)
	}
	if m := updInspect(t, web, "{{len .Spec.TaskTemplate.ContainerSpec.Mounts}}"); m != "0" {
		t.Errorf("the stateless service got %s mounts, want none", m)
	}

	for i, mem := range []string{"200M", "300M", "400M"} {
		r := stackDeploy(t, true, stackCompose(t, port, mem, ""), stack)
		if r.Err != nil {
			t.Fatalf("re-deploy %d: %v", i+1, r.Err)
		}
		rdb2, task2 := C.ServiceRedis(t, svc, port)
		if task2.ID == task.ID {
			t.Fatalf("re-deploy %d with --limit-memory %s did not replace the task", i+1, mem)
		}
		if v, ok := cluster.Get(t, rdb2, "foo"); !ok || v != "bar" {
			t.Fatalf("after re-deploy %d: foo = %q (exists %v), want bar", i+1, v, ok)
		}
		rdb, task = rdb2, task2
	}

	// The same file again: nothing that replaces a task is sent.
	unchanged := stackCompose(t, port, "400M", "")
	r := stackDeploy(t, true, unchanged, stack)
	if r.Err != nil {
		t.Fatalf("unchanged re-deploy: %v", r.Err)
	}
	if now := C.WaitRunning(t, svc); now.ID != task.ID {
		t.Errorf("an unchanged re-deploy replaced the task (%s -> %s)", task.ID, now.ID)
	}
	dry := stackDeploy(t, true, unchanged, stack, "--dry-run", "--format", "json")
	var plan struct {
		Verdict  string `json:"verdict"`
		Services []struct {
			Service string `json:"service"`
			Action  string `json:"action"`
			Verdict string `json:"verdict"`
		} `json:"services"`
	}
	if err := json.Unmarshal([]byte(dry.Stdout), &plan); err != nil {
		t.Fatalf("--dry-run --format json is not JSON: %v", err)
	}
	if dry.ExitCode() != 0 || plan.Verdict != "allowed" || len(plan.Services) != 2 {
		t.Fatalf("dry run of the unchanged file: exit %d, plan %+v", dry.ExitCode(), plan)
	}
	for _, s := range plan.Services {
		if s.Action != "unchanged" || s.Verdict != "allowed" {
			t.Errorf("dry run of the unchanged file: %+v, want unchanged and allowed", s)
		}
	}

	// A re-deploy that puts /data on another volume and changes the
	// stateless service too: refused, nothing of the stack is sent.
	vRedis, vWeb := updVersion(t, svc), updVersion(t, web)
	bad := stackComposeTop(t, port, "500M", "    volumes:\n      - other:/data", "volumes:\n  other: {}")
	dry = stackDeploy(t, true, bad, stack, "--dry-run")
	if dry.ExitCode() != 1 || !strings.Contains(dry.Stdout, "Stack verdict: refused ("+svc+")") || !strings.Contains(dry.Stdout, "== "+web+": update") {
		t.Errorf("dry run of the data-losing file: exit %d, want 1 with %s refused and %s updated", dry.ExitCode(), svc, web)
	}
	r = stackDeploy(t, true, bad, stack)
	if r.ExitCode() != 1 || !strings.Contains(r.Stderr, "refused: service "+svc+": ") || !strings.Contains(r.Stderr, "nothing of the stack was sent") {
		t.Errorf("data-losing re-deploy: exit %d, want 1, a refusal naming %s and nothing sent", r.ExitCode(), svc)
	}
	if v := updVersion(t, svc); v != vRedis {
		t.Errorf("%s: spec version %s -> %s: the refused deploy was sent", svc, vRedis, v)
	}
	if v := updVersion(t, web); v != vWeb {
		t.Errorf("%s: spec version %s -> %s: the stateless service was updated by a refused deploy", web, vWeb, v)
	}
	if v, ok := cluster.Get(t, rdb, "foo"); !ok || v != "bar" {
		t.Errorf("foo = %q (exists %v) after the refused deploy, want bar", v, ok)
	}
}

// TestStackHooksHint: with the hooks registered by install.sh --hooks, a
// plain docker stack deploy in a terminal prints the hint for the stack's
// redis service whose /data is on the image's anonymous volume, and nothing
// for a stack whose redis keeps /data on a pinned named volume.
func TestStackHooksHint(t *testing.T) {
	risky, safe := C.StackName(t), C.StackName(t)
	riskyFile := stackCompose(t, cluster.FreePort(t), "100M", "")
	safeFile := stackComposeTop(t, cluster.FreePort(t), "100M",
		"      placement:\n        constraints: [node.id=="+C.Node(1).ID+"]\n    volumes:\n      - data:/data",
		"volumes:\n  data: {}")

	u := newUser(t)
	u.install(t, "--hooks", "--no-completion")
	sh := newTmux(t, append(u.env(), "TERM=xterm"), "bash", "--norc", "--noprofile", "-i")
	run := func(tag, cmdline string) string {
		t.Helper()
		sh.send("clear; echo START-"+tag+"; "+cmdline+"; echo END-"+tag, "Enter")
		return section(t, sh, tag, 3*time.Minute)
	}

	out := run("risky", "docker stack deploy --resolve-image never -c "+riskyFile+" "+risky)
	for _, want := range []string{"What's next:", risky + "_redis: /data is on the anonymous volume of the image's VOLUME", "docker stateful stack deploy"} {
		if !strings.Contains(out, want) {
			t.Errorf("plain docker stack deploy of a stack at risk: no %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, risky+"_web:") {
		t.Errorf("a hint for the stateless service:\n%s", out)
	}
	if out := run("safe", "docker stack deploy --resolve-image never -c "+safeFile+" "+safe); strings.Contains(out, "What's next:") || strings.Contains(out, "docker stateful") {
		t.Errorf("plain docker stack deploy of a safe stack printed a hint:\n%s", out)
	}
}

// TestCheckComposeFix: check -c finds the risks of the unsafe compose file
// (exit 1); --fix rewrites it keeping every line of it (comments too), after
// which check finds none (exit 0), and a plain docker stack deploy of the
// fixed file keeps the data through a changed re-deploy.
func TestCheckComposeFix(t *testing.T) {
	C.RequirePlugin(t)
	stack, port := C.StackName(t), cluster.FreePort(t)
	compose := func(memory string) string {
		return fmt.Sprintf(`version: "3.8"

# The cache, as the slides run it: no volumes.
services:
  redis:
    image: redis   # data in the image's VOLUME
    ports:
      - target: 6379
        published: %d
        mode: host
    deploy:
      resources:
        limits:
          memory: %s

  # a stateless neighbour
  web:
    image: %s
`, port, memory, C.StatelessImage(t))
	}
	original := compose("100M")
	file := cluster.WriteFile(t, "compose.yml", original)
	check := func(args ...string) cluster.Result {
		t.Helper()
		r := C.Run(t, 1, append([]string{"stateful", "check", "-c", file}, args...)...)
		t.Logf("check -c %v: rc=%d\n%s%s", args, r.ExitCode(), r.Stdout, r.Stderr)
		return r
	}

	r := check()
	if r.ExitCode() != 1 || !strings.Contains(r.Stdout, "redis: at-risk") || !strings.Contains(r.Stdout, "ephemeral-data: /data") || strings.Contains(r.Stdout, "web:") {
		t.Fatalf("check -c of the unsafe file: exit %d, want 1 with redis at risk (and nothing of web)", r.ExitCode())
	}
	var rep struct {
		Verdict  string `json:"verdict"`
		Services []struct {
			Service  string `json:"service"`
			Findings []struct {
				Code string `json:"code"`
			} `json:"findings"`
		} `json:"services"`
	}
	if err := json.Unmarshal([]byte(check("--format", "json").Stdout), &rep); err != nil || rep.Verdict != "risks" || len(rep.Services) != 1 {
		t.Fatalf("check -c --format json: %v, %+v", err, rep)
	}

	if r := check("--fix", "--dry-run"); r.ExitCode() != 0 || !strings.Contains(r.Stdout, "+      - redis-data:/data") {
		t.Errorf("--fix --dry-run: exit %d, want the diff adding redis-data", r.ExitCode())
	}
	if got := readFile(t, file); got != original {
		t.Errorf("--fix --dry-run changed the file:\n%s", got)
	}
	if r := check("--fix"); r.ExitCode() != 0 {
		t.Fatalf("check -c --fix: exit %d, want 0 (nothing left)", r.ExitCode())
	}
	fixed := readFile(t, file)
	// Every line of the original is still there, in order.
	rest := fixed
	for _, line := range strings.Split(strings.TrimSuffix(original, "\n"), "\n") {
		i := strings.Index(rest, line+"\n")
		if i < 0 {
			t.Fatalf("--fix lost or moved the line %q:\n%s", line, fixed)
		}
		rest = rest[i+len(line)+1:]
	}
	for _, want := range []string{"      - redis-data:/data", "node.id==" + C.Node(1).ID, "stop_grace_period: 30s", "  redis-data: {}"} {
		if !strings.Contains(fixed, want) {
			t.Errorf("fixed file lacks %q:\n%s", want, fixed)
		}
	}
	if r := check(); r.ExitCode() != 0 {
		t.Errorf("check -c of the fixed file: exit %d, want 0", r.ExitCode())
	}

	// Plain docker deploys the fixed file, and a changed re-deploy keeps foo.
	if r := stackDeploy(t, false, file, stack); r.Err != nil {
		t.Fatalf("docker stack deploy of the fixed file: %v", r.Err)
	}
	rdb, task := C.ServiceRedis(t, stack+"_redis", port)
	cluster.Set(t, rdb, "foo", "bar")
	cluster.WriteFileAt(t, file, strings.Replace(fixed, "memory: 100M", "memory: 200M", 1))
	if r := stackDeploy(t, false, file, stack); r.Err != nil {
		t.Fatalf("re-deploy: %v", r.Err)
	}
	rdb2, task2 := C.ServiceRedis(t, stack+"_redis", port)
	if task2.ID == task.ID {
		t.Fatalf("the changed re-deploy did not replace the task")
	}
	if v, ok := cluster.Get(t, rdb2, "foo"); !ok || v != "bar" {
		t.Errorf("after a plain re-deploy of the fixed file: foo = %q (exists %v), want bar", v, ok)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestStackDeployVerify: stack deploy --verify proves the redis service's
// data survived a changed re-deploy (the stateless one is not checked), and
// rolls back a forced data-losing one, whose keys come back.
func TestStackDeployVerify(t *testing.T) {
	C.RequirePlugin(t)
	stack, port := C.StackName(t), cluster.FreePort(t)
	svc := stack + "_redis"
	if r := stackDeploy(t, true, stackCompose(t, port, "100M", ""), stack); r.Err != nil {
		t.Fatalf("docker stateful stack deploy: %v", r.Err)
	}
	rdb, _ := C.ServiceRedis(t, svc, port)
	cluster.Set(t, rdb, "foo", "bar")
	for i := 0; i < 200; i++ {
		cluster.Set(t, rdb, fmt.Sprintf("k%03d", i), "v")
	}

	r := stackDeploy(t, true, stackCompose(t, port, "200M", ""), stack, "--verify")
	if r.ExitCode() != 0 || !regexp.MustCompile(svc+`\s+redis\s+verified`).MatchString(r.Stdout) || strings.Contains(r.Stdout, stack+"_web   ") {
		t.Fatalf("stack deploy --verify of a changed file: exit %d, want 0 and %s verified (and no row for the stateless service)", r.ExitCode(), svc)
	}
	rdb, _ = C.ServiceRedis(t, svc, port)
	if v, ok := cluster.Get(t, rdb, "foo"); !ok || v != "bar" {
		t.Fatalf("after the verified deploy: foo = %q (exists %v)", v, ok)
	}

	// /data moved to another (empty) volume, forced: MISSING, rolled back.
	bad := stackComposeTop(t, port, "300M", "    volumes:\n      - other:/data", "volumes:\n  other: {}")
	r = stackDeploy(t, true, bad, stack, "--force", "--verify")
	if r.ExitCode() != 1 || !strings.Contains(r.Stdout, "MISSING") || !regexp.MustCompile(svc+`\s+redis\s+failed`).MatchString(r.Stdout) {
		t.Fatalf("forced data-losing deploy --verify: exit %d, want 1 with MISSING keys and %s failed", r.ExitCode(), svc)
	}
	if m := updInspect(t, svc, `{{range .Spec.TaskTemplate.ContainerSpec.Mounts}}{{.Source}} {{end}}`); !strings.Contains(m, svc+"-data") {
		t.Errorf("mounts after the rollback: %q, want %s-data back", m, svc)
	}
	rdb, _ = C.ServiceRedis(t, svc, port)
	if v, ok := cluster.Get(t, rdb, "foo"); !ok || v != "bar" {
		t.Errorf("after the rollback: foo = %q (exists %v), want bar", v, ok)
	}
}
