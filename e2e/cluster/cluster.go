// Package cluster gives e2e tests a real multi-node Docker Swarm: it either
// uses a running cluster described by an env file (DST_CLUSTER_ENV, written by
// e2e/swarm/swarm.sh) or brings one up itself with swarm.sh and tears it down at
// the end, also on interrupt, panic or a killed test binary.
//
// Typical use, in an e2e test package:
//
//	var C *cluster.Cluster
//	func TestMain(m *testing.M) { os.Exit(cluster.Main(m, &C)) }
package cluster

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Node is one swarm node: its own dockerd in its own network namespace.
type Node struct {
	Index    int    // 1-based
	Host     string // docker -H value: unix:///.../nodeN/docker.sock
	Addr     string // the node's address (10.213.<cluster>.1N), reachable from the host
	ID       string // swarm node ID
	Hostname string // the node's hostname (== docker info Name == node.hostname)
	Netns    string // network namespace name (ip netns)
}

// Cluster is a running swarm. Node 1 is the manager.
type Cluster struct {
	Index    int
	StateDir string
	EnvFile  string
	Nodes    []Node
	// Generation is the nodes' engine generation (swarm.sh -e / DST_ENGINE):
	// 20 (Debian 12's dockerd 20.10) or 26 (Debian 13's 26.1).
	Generation int

	owned    bool // brought up by us: Stop tears it down
	script   string
	root     string
	guard    *guard
	stopOnce sync.Once

	mu       sync.Mutex
	services map[testing.TB][]string // ServiceName per test, for VolumeName's cleanup

	dockerConfig string // temporary DOCKER_CONFIG for every docker call
	pluginOnce   sync.Once
	pluginErr    error // why the plugin is unavailable (tests skip)
}

// Node returns node i (1-based).
func (c *Cluster) Node(i int) Node {
	if i < 1 || i > len(c.Nodes) {
		panic(fmt.Sprintf("cluster: no node %d (cluster has %d)", i, len(c.Nodes)))
	}
	return c.Nodes[i-1]
}

// Manager is node 1, where swarm commands (service create/update/ps) run.
func (c *Cluster) Manager() Node { return c.Nodes[0] }

// NodeByHostname finds a node by hostname or swarm node ID.
func (c *Cluster) NodeByHostname(name string) (Node, bool) {
	for _, n := range c.Nodes {
		if n.Hostname == name || n.ID == name {
			return n, true
		}
	}
	return Node{}, false
}

// FromEnv reads a cluster from the env file swarm.sh writes (K=V lines,
// `export ` prefixes allowed). The cluster is not torn down by Stop.
func FromEnv(path string) (*Cluster, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cluster env: %w", err)
	}
	defer f.Close()
	kv := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "export "))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		kv[k] = strings.Trim(v, `'"`)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(kv["DST_NODES"])
	if err != nil || n < 1 {
		return nil, fmt.Errorf("cluster env %s: bad DST_NODES %q", path, kv["DST_NODES"])
	}
	c := &Cluster{EnvFile: path, StateDir: kv["DST_STATE_DIR"]}
	c.Index, _ = strconv.Atoi(kv["DST_CLUSTER_INDEX"])
	if c.Generation, _ = strconv.Atoi(kv["DST_ENGINE"]); c.Generation == 0 {
		c.Generation = 20 // env files of a swarm.sh that knew one engine
	}
	for i := 1; i <= n; i++ {
		p := fmt.Sprintf("DST_NODE%d_", i)
		node := Node{Index: i, Host: kv[p+"HOST"], Addr: kv[p+"ADDR"], ID: kv[p+"ID"], Hostname: kv[p+"HOSTNAME"], Netns: kv[p+"NETNS"]}
		if node.Host == "" || node.Addr == "" {
			return nil, fmt.Errorf("cluster env %s: node %d incomplete", path, i)
		}
		c.Nodes = append(c.Nodes, node)
	}
	if err := c.initDockerConfig(); err != nil {
		return nil, err
	}
	return c, nil
}

// Main is a TestMain body: it starts (or reuses) a cluster, stores it in *dst,
// runs the tests and tears the cluster down. It returns the exit code.
func Main(m *testing.M, dst **Cluster) int {
	// -test.list only names the tests (make e2e splits them into lanes): no cluster.
	flag.Parse()
	if f := flag.Lookup("test.list"); f != nil && f.Value.String() != "" {
		return m.Run()
	}
	c, err := Start(Options{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: cannot start the test cluster: %v\n", err)
		return 1
	}
	*dst = c
	defer c.Stop()
	return m.Run()
}
