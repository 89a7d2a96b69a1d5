package cluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Engine runs `swarm.sh stop N [TERM|KILL]`, `start N` or `restart N` on
// node n: its dockerd stopped (TERM stops its containers, KILL leaves them
// running under containerd) or run again. It skips the test on a cluster
// started by a swarm.sh that cannot restart an engine.
func (c *Cluster) Engine(t testing.TB, n int, action string, sig ...string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(c.StateDir, fmt.Sprintf("node%d", n), "dockerd.sh")); err != nil {
		t.Skipf("cluster %d was started by a swarm.sh without stop/start NODE: %v", c.Index, err)
	}
	script, err := SwarmScript()
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-i", strconv.Itoa(c.Index), "-s", filepath.Dir(c.StateDir), action, strconv.Itoa(n)}, sig...)
	start := time.Now()
	out, err := exec.Command(script, args...).CombinedOutput()
	t.Logf("$ swarm.sh %s (%s): %s", strings.Join(args, " "), time.Since(start).Round(100*time.Millisecond), strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("swarm.sh %s: %v", strings.Join(args, " "), err)
	}
}

// WaitNodeState waits until node n has the swarm status state ("ready",
// "down") as the manager sees it.
func (c *Cluster) WaitNodeState(t testing.TB, n int, state string, within time.Duration) {
	t.Helper()
	for end := time.Now().Add(within); ; time.Sleep(500 * time.Millisecond) {
		r := c.Run(t, 1, "node", "inspect", "-f", "{{.Status.State}}", c.Node(n).ID)
		if r.Err == nil && strings.TrimSpace(r.Stdout) == state {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("node%d not %s within %s (%s)", n, state, within, strings.TrimSpace(r.Stdout+r.Stderr))
		}
	}
}
