//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker-stateful/docker-stateful/e2e/cluster"
)

// sshDocker runs the real docker with DOCKER_HOST=ssh://root@node1:port: the
// CLI and the plugin reach the daemon through sshd in node1 (docker's
// connection helper: ssh … docker system dial-stdio).
func sshDocker(t *testing.T, s *cluster.SSH, args ...string) cluster.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = s.Env(C)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := cluster.Result{Stdout: out.String(), Stderr: errb.String(), Err: err}
	t.Logf("$ DOCKER_HOST=%s docker %s (rc=%d)\nstdout:\n%s\nstderr:\n%s", s.Host, strings.Join(args, " "), r.ExitCode(), vfyTrim(r.Stdout), vfyTrim(r.Stderr))
	return r
}

// TestSSHHost: with DOCKER_HOST=ssh://, as from a laptop, create pins to the
// node behind the SSH host, completion lists the service, and update --verify
// reaches Redis directly; with the Redis port closed to this machine (the SSH
// port open), it reaches Redis through the same SSH host, says so, and
// verifies, where a unix:// docker host gets no further than "unreachable".
func TestSSHHost(t *testing.T) {
	C.RequirePlugin(t)
	s := C.StartSSH(t, 1)
	node := C.Node(1)
	svc, port := C.ServiceName(t), cluster.FreePort(t)

	r := sshDocker(t, s, "stateful", "create", "--name", svc, "-p", cluster.PublishRedis(port), "--no-resolve-image", "redis")
	if r.ExitCode() != 0 || !strings.Contains(r.Stderr, "pinned to "+node.Hostname) {
		t.Fatalf("create through ssh://: exit %d, want 0 and pinned to %s (the SSH host's node)", r.ExitCode(), node.Hostname)
	}
	rdb, _ := C.ServiceRedis(t, svc, port)
	n := vfyLoad(t, rdb, 2000)

	// Completion through ssh: docker asks the plugin, the front hands the
	// ssh:// host to the full binary.
	r = sshDocker(t, s, "__complete", "stateful", "update", "")
	if r.ExitCode() != 0 || !strings.Contains(r.Stdout, svc+"\t") && !strings.Contains(r.Stdout, svc+"\n") {
		t.Errorf("docker __complete stateful update '' through ssh:// lacks %s", svc)
	}

	verify := func(label string) cluster.Result {
		t.Helper()
		r := sshDocker(t, s, "stateful", "update", "--verify", "--state-dir", t.TempDir(), "--format", "json", "--limit-memory", label, svc)
		if r.ExitCode() != 0 {
			t.Fatalf("update --verify through ssh:// (%s): exit %d", label, r.ExitCode())
		}
		var res vfyUpdateResult
		vfyJSON(t, r.Stdout, &res)
		if res.Verdict != "verified" || res.Report == nil || res.Report.BeforeKeys != n || res.Report.AfterKeys != n || !res.Report.DigestEqual {
			t.Fatalf("update --verify through ssh:// (%s): %+v, want all %d keys verified", label, res, n)
		}
		return r
	}
	if r := verify("200M"); strings.Contains(r.Stderr, "reached through ssh") {
		t.Errorf("Redis went through ssh while %s:%d is reachable directly", node.Addr, port)
	}

	// Close the Redis port to this machine, as a laptop's firewall would.
	s.Block(t, C, port)
	redisAddr := net.JoinHostPort(node.Addr, strconv.Itoa(port))
	if c, err := net.DialTimeout("tcp", redisAddr, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still reachable directly: the block does not work, the test would prove nothing", redisAddr)
	}
	// A unix:// docker host has no SSH host to fall back on: unreachable, exit 2.
	r = C.Run(t, 1, "stateful", "snapshot", "--state-dir", t.TempDir(), "--timeout", "15s", svc)
	if r.ExitCode() == 0 || !strings.Contains(r.Stderr, "cannot reach Redis at "+redisAddr) {
		t.Errorf("snapshot over unix:// with the port blocked: exit %d, stderr %q; want a failure naming %s", r.ExitCode(), r.Stderr, redisAddr)
	}
	r = verify("300M")
	want := "Redis of service " + svc + ": reached through ssh root@" + node.Addr + " -p " + strconv.Itoa(s.Port) +
		" (direct connection to " + redisAddr + " failed: "
	if !strings.Contains(r.Stderr, want) {
		t.Errorf("stderr does not say that Redis was reached through ssh: want %q", want)
	}
	if mem := strings.TrimSpace(C.Docker(t, 1, "service", "inspect", "--format", "{{.Spec.TaskTemplate.Resources.Limits.MemoryBytes}}", svc)); mem != strconv.Itoa(300<<20) {
		t.Errorf("memory limit %s, want 300M", mem)
	}
}
