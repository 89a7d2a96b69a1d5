package cluster

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFromEnv(t *testing.T) {
	dir := t.TempDir()
	env := filepath.Join(dir, "env")
	data := `export DST_CLUSTER_INDEX=7
DST_STATE_DIR=` + dir + `
DST_NODES=2
DST_NODE1_HOST=unix:///x/node1/docker.sock
DST_NODE1_ADDR=10.213.7.11
DST_NODE1_ID=abc
DST_NODE1_HOSTNAME=dst7-node1
DST_NODE2_HOST=unix:///x/node2/docker.sock
DST_NODE2_ADDR=10.213.7.12
DST_NODE2_ID=def
DST_NODE2_HOSTNAME=dst7-node2
`
	if err := os.WriteFile(env, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := FromEnv(env)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	if c.Index != 7 || len(c.Nodes) != 2 || c.Node(2).Addr != "10.213.7.12" || c.Manager().ID != "abc" {
		t.Fatalf("parsed %+v", c)
	}
	if c.Generation != 20 {
		t.Errorf("engine generation %d without DST_ENGINE, want 20", c.Generation)
	}
	if n, ok := c.NodeByHostname("dst7-node2"); !ok || n.Index != 2 {
		t.Fatalf("NodeByHostname: %+v %v", n, ok)
	}
	if filepath.Dir(c.DockerConfig()) != dir {
		t.Errorf("DOCKER_CONFIG %s not inside the state dir %s", c.DockerConfig(), dir)
	}
	c.Stop()
	if _, err := os.Stat(c.DockerConfig()); !os.IsNotExist(err) {
		t.Errorf("Stop left %s", c.DockerConfig())
	}
	if err := os.WriteFile(env, []byte(data+"DST_ENGINE=26\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err = FromEnv(env); err != nil || c.Generation != 26 {
		t.Errorf("DST_ENGINE=26: generation %v, %v", c, err)
	}
	c.Stop()
	os.WriteFile(env, []byte("DST_NODES=1\n"), 0o600)
	if _, err := FromEnv(env); err == nil {
		t.Error("incomplete env accepted")
	}
}
