package cluster

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// StackName returns a fresh unique stack name for the test. At cleanup the
// stack is removed (docker stack rm) and so are, on every node, its
// containers' volumes and the volumes named after it.
func (c *Cluster) StackName(t testing.TB) string {
	t.Helper()
	name := "e2est" + randHex(3)
	t.Cleanup(func() {
		services := strings.Fields(c.Run(t, 1, "service", "ls", "-q", "--filter", "label=com.docker.stack.namespace="+name, "--format", "{{.Name}}").Stdout)
		for _, s := range services {
			c.removeService(t, s)
		}
		c.Run(t, 1, "stack", "rm", name)
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) && c.Run(t, 1, "network", "inspect", name+"_default").Err == nil {
			time.Sleep(300 * time.Millisecond)
		}
		var vols []string
		for _, n := range c.Nodes {
			for _, v := range strings.Fields(c.Run(t, n.Index, "volume", "ls", "-q").Stdout) {
				if strings.HasPrefix(v, name+"_") {
					vols = append(vols, v)
				}
			}
		}
		c.removeVolumes(t, vols)
	})
	return name
}

// WriteFile writes content to a file in the test's temporary directory and
// returns its path.
func WriteFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// WriteFileAt replaces the file at p with content.
func WriteFileAt(t testing.TB, p, content string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

var statelessOnce sync.Once

// StatelessImage is an image on every node that declares no VOLUME and is no
// known database ("e2e-stateless": the redis image's files, no VOLUME, a
// redis-server that saves nothing on port 7000), for a stateless service.
func (c *Cluster) StatelessImage(t testing.TB) string {
	t.Helper()
	const image = "e2e-stateless"
	statelessOnce.Do(func() {
		for _, n := range c.Nodes {
			if c.Run(t, n.Index, "image", "inspect", image).Err == nil {
				continue
			}
			ctr := "e2e-stateless-src-" + randHex(3)
			c.Docker(t, n.Index, "create", "--name", ctr, "redis")
			tar := filepath.Join(os.TempDir(), ctr+".tar")
			c.Docker(t, n.Index, "export", "-o", tar, ctr)
			c.Docker(t, n.Index, "import", "--change", `CMD ["redis-server","--port","7000","--save",""]`, tar, image)
			c.Run(t, n.Index, "rm", ctr)
			_ = os.Remove(tar)
		}
	})
	return image
}
