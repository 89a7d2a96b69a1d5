package cluster

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
)

var nonName = regexp.MustCompile(`[^a-z0-9]+`)

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// ServiceName returns a fresh unique service name for the test. At cleanup
// the service is removed, and so are, on every node, its containers' volumes,
// volumes named after the service, and volumes from VolumeName.
func (c *Cluster) ServiceName(t testing.TB) string {
	t.Helper()
	base := strings.Trim(nonName.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(base) > 30 {
		base = strings.Trim(base[:30], "-")
	}
	name := "e2e-" + base + "-" + randHex(3)
	c.mu.Lock()
	if c.services == nil {
		c.services = map[testing.TB][]string{}
	}
	c.services[t] = append(c.services[t], name)
	c.mu.Unlock()
	t.Cleanup(func() { c.removeService(t, name) })
	return name
}

// VolumeName returns a fresh unique volume name, removed on every node at
// cleanup (after the test's services, whatever the order of the calls).
func (c *Cluster) VolumeName(t testing.TB) string {
	t.Helper()
	name := "e2evol-" + randHex(4)
	t.Cleanup(func() {
		c.mu.Lock()
		svcs := append([]string(nil), c.services[t]...)
		c.mu.Unlock()
		for _, s := range svcs { // the volume may be in use by them; removing twice is harmless
			c.removeService(t, s)
		}
		c.removeVolumes(t, []string{name})
	})
	return name
}

func (c *Cluster) removeService(t testing.TB, name string) {
	t.Helper()
	// volumes of the service's containers, on every node, before they go away
	vols := map[string]bool{}
	for _, n := range c.Nodes {
		for _, id := range c.serviceContainers(t, n.Index, name) {
			r := c.Run(t, n.Index, "inspect", "--format", `{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}} {{end}}{{end}}`, id)
			for _, v := range strings.Fields(r.Stdout) {
				vols[v] = true
			}
		}
		r := c.Run(t, n.Index, "volume", "ls", "-q")
		for _, v := range strings.Fields(r.Stdout) {
			if strings.HasPrefix(v, name) {
				vols[v] = true
			}
		}
	}
	if r := c.Run(t, 1, "service", "inspect", "--format", "{{.ID}}", name); r.Err == nil {
		c.Run(t, 1, "service", "rm", name)
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, n := range c.Nodes {
		for len(c.serviceContainers(t, n.Index, name)) > 0 && time.Now().Before(deadline) {
			time.Sleep(300 * time.Millisecond)
		}
	}
	var list []string
	for v := range vols {
		list = append(list, v)
	}
	c.removeVolumes(t, list)
}

func (c *Cluster) serviceContainers(t testing.TB, n int, service string) []string {
	r := c.Run(t, n, "ps", "-aq", "--filter", "label=com.docker.swarm.service.name="+service)
	return strings.Fields(r.Stdout)
}

func (c *Cluster) removeVolumes(t testing.TB, vols []string) {
	if len(vols) == 0 {
		return
	}
	for _, n := range c.Nodes {
		existing := map[string]bool{}
		for _, v := range strings.Fields(c.Run(t, n.Index, "volume", "ls", "-q").Stdout) {
			existing[v] = true
		}
		for _, v := range vols {
			if !existing[v] {
				continue
			}
			for i := 0; i < 20; i++ { // a just-stopped container may still hold it
				if c.Run(t, n.Index, "volume", "rm", "-f", v).Err == nil {
					break
				}
				time.Sleep(500 * time.Millisecond)
			}
		}
	}
}

// FreePort returns a port to publish (mode=host) for this test, unique among
// all test processes on this machine: it is claimed with an abstract unix
// socket "@dst-e2e-port-<port>" held until the test ends.
func FreePort(t testing.TB) int {
	t.Helper()
	for i := 0; i < 200; i++ {
		p := 20000 + int(randUint()%20000)
		l, err := net.Listen("unix", fmt.Sprintf("@dst-e2e-port-%d", p))
		if err != nil {
			continue
		}
		t.Cleanup(func() { l.Close() })
		return p
	}
	t.Fatal("no free port")
	return 0
}

func randUint() uint32 {
	b := make([]byte, 4)
	rand.Read(b)
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// Task is the running task of a service.
type Task struct {
	ID        string
	Node      Node
	Container string // container ID on Node
}

// WaitRunning waits (up to 2 minutes) until the service has exactly one task
// whose desired and current state are running, and returns it.
func (c *Cluster) WaitRunning(t testing.TB, service string) Task {
	t.Helper()
	return c.WaitTasks(t, service, 1)[0]
}

// WaitTasks waits (up to 2 minutes) until the service has exactly n tasks
// whose desired and current state are running, and returns them.
func (c *Cluster) WaitTasks(t testing.TB, service string, n int) []Task {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	var last string
	for time.Now().Before(deadline) {
		r := c.Run(t, 1, "service", "ps", service, "--filter", "desired-state=running", "--no-trunc", "--format", "{{.ID}} {{.Node}} {{.CurrentState}}")
		last = r.Stdout + r.Stderr
		if tasks, ok := c.runningTasks(t, r, n); ok {
			return tasks
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("service %s does not have %d running task(s) after 2m; last `service ps`:\n%s", service, n, last)
	return nil
}

func (c *Cluster) runningTasks(t testing.TB, r Result, n int) ([]Task, bool) {
	if r.Err != nil {
		return nil, false
	}
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if len(lines) != n {
		return nil, false
	}
	var tasks []Task
	for _, line := range lines {
		f := strings.Fields(line)
		if len(f) < 3 || f[2] != "Running" {
			return nil, false
		}
		node, ok := c.NodeByHostname(f[1])
		if !ok {
			return nil, false
		}
		cid := strings.TrimSpace(c.Run(t, 1, "inspect", "--format", "{{.Status.ContainerStatus.ContainerID}}", f[0]).Stdout)
		if cid == "" {
			return nil, false
		}
		tasks = append(tasks, Task{ID: f[0], Node: node, Container: cid})
	}
	return tasks, true
}

// PublishRedis is the --publish value for Redis on port: host mode, since
// the ingress routing mesh needs IPVS, which the test machines lack.
func PublishRedis(port int) string {
	return fmt.Sprintf("published=%d,target=6379,mode=host", port)
}

// CreateRedis creates a fresh redis service with `docker <create...>` (e.g.
// "service", "create" or "stateful", "create") on node 1, published on a free
// port, with args after the image, and returns its name and port.
func (c *Cluster) CreateRedis(t testing.TB, create []string, args ...string) (string, int) {
	t.Helper()
	return c.CreateRedisImage(t, create, "redis", args...)
}

// CreateRedisImage is CreateRedis with another image (e.g. Redis8Image, Valkey8Image:
// RequireImage it first).
func (c *Cluster) CreateRedisImage(t testing.TB, create []string, image string, args ...string) (string, int) {
	t.Helper()
	svc := c.ServiceName(t)
	port := FreePort(t)
	cmd := append(append([]string{}, create...), "--quiet", "--name", svc,
		"-p", PublishRedis(port), "--no-resolve-image", image)
	c.Docker(t, 1, append(cmd, args...)...)
	return svc, port
}
