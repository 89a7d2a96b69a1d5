package cluster

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

// Options for Start. Zero values: env DST_NODES or 3 nodes; env
// DST_STATE_ROOT or swarm.sh's default state root.
type Options struct {
	Nodes     int
	StateRoot string
}

// Start returns the cluster named by env DST_CLUSTER_ENV if set (not torn down
// by Stop), else brings up a new one with swarm.sh on a free cluster index, on
// the engine generation env DST_ENGINE names (swarm.sh reads it: 20 or 26). A
// cluster it brought up is removed by Stop, on SIGINT/SIGTERM/SIGHUP, and by a
// guard process if the test binary dies any other way (panic, timeout, kill).
func Start(opts Options) (*Cluster, error) {
	if env := os.Getenv("DST_CLUSTER_ENV"); env != "" {
		fmt.Fprintf(os.Stderr, "e2e: using the running cluster of %s\n", env)
		return FromEnv(env)
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("e2e tests need root (they start dockerd nodes in network namespaces); or set DST_CLUSTER_ENV")
	}
	script, err := SwarmScript()
	if err != nil {
		return nil, err
	}
	if opts.Nodes == 0 {
		opts.Nodes, _ = strconv.Atoi(os.Getenv("DST_NODES"))
		if opts.Nodes == 0 {
			opts.Nodes = 3
		}
	}
	if opts.StateRoot == "" {
		opts.StateRoot = os.Getenv("DST_STATE_ROOT")
		if opts.StateRoot == "" {
			opts.StateRoot = "/var/lib/dst-e2e"
		}
	}
	idx, claim, err := claimIndex(opts.StateRoot)
	if err != nil {
		return nil, err
	}
	g, err := startGuard(script, opts.StateRoot, idx, claim)
	if err != nil {
		claim.Close()
		return nil, err
	}
	c := &Cluster{owned: true, script: script, root: opts.StateRoot, Index: idx, guard: g}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sig
		fmt.Fprintf(os.Stderr, "e2e: %v: tearing down cluster %d\n", s, idx)
		c.Stop()
		os.Exit(130)
	}()

	t0 := time.Now()
	fmt.Fprintf(os.Stderr, "e2e: bringing up cluster %d (%d nodes) with %s\n", idx, opts.Nodes, script)
	if err := c.swarmSh("up", "-n", strconv.Itoa(opts.Nodes)); err != nil {
		c.Stop()
		return nil, fmt.Errorf("swarm.sh up: %w", err)
	}
	fc, err := FromEnv(filepath.Join(opts.StateRoot, strconv.Itoa(idx), "env"))
	if err != nil {
		c.Stop()
		return nil, err
	}
	c.StateDir, c.EnvFile, c.Nodes, c.dockerConfig, c.Generation = fc.StateDir, fc.EnvFile, fc.Nodes, fc.dockerConfig, fc.Generation
	fmt.Fprintf(os.Stderr, "e2e: cluster %d (engine %d) up in %s\n", idx, c.Generation, time.Since(t0).Round(100*time.Millisecond))
	return c, nil
}

// Stop tears the cluster down if Start brought it up, and removes the
// temporary DOCKER_CONFIG. Safe to call more than once.
func (c *Cluster) Stop() {
	c.stopOnce.Do(func() {
		if c.dockerConfig != "" {
			os.RemoveAll(c.dockerConfig)
		}
		if !c.owned {
			return
		}
		if err := c.swarmSh("down"); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: swarm.sh down: %v\n", err)
		}
		c.guard.release()
	})
}

func (c *Cluster) swarmSh(args ...string) error {
	cmd := exec.Command(c.script, append([]string{"-i", strconv.Itoa(c.Index), "-s", c.root}, args...)...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

// SwarmScript finds e2e/swarm/swarm.sh: env DST_SWARM_SH, else next to this
// package's source, else above the working directory.
func SwarmScript() (string, error) {
	if p := os.Getenv("DST_SWARM_SH"); p != "" {
		return p, nil
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		p := filepath.Join(filepath.Dir(file), "..", "swarm", "swarm.sh")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	dir, _ := os.Getwd()
	for ; dir != "/" && dir != "."; dir = filepath.Dir(dir) {
		p := filepath.Join(dir, "e2e", "swarm", "swarm.sh")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("cannot find e2e/swarm/swarm.sh (set DST_SWARM_SH)")
}

// claimIndex picks a cluster index nobody uses: no bridge, no state dir, and
// an abstract unix socket "@dst-e2e-cluster-<i>" that we can bind. The
// socket is held until the process ends, so concurrent test binaries never
// pick the same index; it needs no file and vanishes with the process.
func claimIndex(root string) (int, net.Listener, error) {
	start := 2 + rand.IntN(250)
	for k := 0; k < 253; k++ {
		i := 2 + (start-2+k)%253 // 2..254; 1 is left for manual `swarm.sh up`
		if _, err := os.Stat(fmt.Sprintf("/sys/class/net/dstbr%d", i)); err == nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, strconv.Itoa(i))); err == nil {
			continue
		}
		if m, _ := filepath.Glob(fmt.Sprintf("/var/run/netns/dst%dn*", i)); len(m) > 0 {
			continue
		}
		l, err := net.Listen("unix", fmt.Sprintf("@dst-e2e-cluster-%d", i))
		if err != nil {
			continue
		}
		return i, l, nil
	}
	return 0, nil, errors.New("no free cluster index (1..254 all in use?)")
}
