package cluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// CSIDriver is the test CSI driver's plugin name, as swarm.sh csi-plugin
// installs it. Cluster volumes must name it with its tag: swarm matches a
// volume's driver to the nodes' CSI plugins by the full plugin name.
const CSIDriver = "dst-hostpath:latest"

// CSIMinEngine is the first engine whose swarm can use a CSI plugin: up to
// 28.1 every cluster volume stays "pending creation" ("plugin ... does not
// implement PluginAddr", moby/moby#48133, fixed by moby/moby#49961 in 28.2).
var CSIMinEngine = [2]int{28, 2}

var csiOnce sync.Map // *Cluster -> *imageOnce

// RequireCSI skips the test unless the nodes' engine can run CSI cluster
// volumes, and installs the test CSI driver on every node (swarm.sh
// csi-plugin) the first time a test needs it.
func (c *Cluster) RequireCSI(t testing.TB) {
	t.Helper()
	v := strings.TrimSpace(c.Run(t, 1, "version", "--format", "{{.Server.Version}}").Stdout)
	if !engineAtLeast(v, CSIMinEngine) {
		t.Skipf("engine %q (DST_ENGINE %d): swarm CSI cluster volumes need Docker >= %d.%d (moby/moby#48133)", v, c.Generation, CSIMinEngine[0], CSIMinEngine[1])
	}
	o, _ := csiOnce.LoadOrStore(c, &imageOnce{})
	once := o.(*imageOnce)
	once.once.Do(func() { once.err = c.installCSI() })
	if once.err != nil {
		t.Fatalf("CSI plugin: %v", once.err)
	}
}

func (c *Cluster) installCSI() error {
	script, err := SwarmScript()
	if err != nil {
		return err
	}
	root := c.root
	if root == "" {
		root = filepath.Dir(c.StateDir)
	}
	start := time.Now()
	out, err := exec.Command(script, "-i", strconv.Itoa(c.Index), "-s", root, "csi-plugin").CombinedOutput()
	if err != nil {
		return fmt.Errorf("swarm.sh csi-plugin: %v\n%s", err, out)
	}
	fmt.Fprintf(os.Stderr, "e2e: CSI plugin on cluster %d in %s\n", c.Index, time.Since(start).Round(100*time.Millisecond))
	return nil
}

// engineAtLeast compares a server version ("28.5.2+dfsg4", "26.1.5") with major.minor.
func engineAtLeast(v string, min [2]int) bool {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(strings.TrimFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		return false
	}
	return major > min[0] || major == min[0] && minor >= min[1]
}

// CSIVolumeDir is where the test driver keeps the data of volume name on node n.
func (c *Cluster) CSIVolumeDir(n int, name string) string {
	return filepath.Join(c.StateDir, "csi", c.Node(n).Hostname, name)
}

// CreateClusterVolume creates cluster volume name of the test driver with
// the access flags given (--scope, --sharing, --topology-required, …) and
// waits until swarm has created it; it is removed at cleanup, after the
// test's services.
func (c *Cluster) CreateClusterVolume(t testing.TB, name string, flags ...string) {
	t.Helper()
	c.Docker(t, 1, append(append([]string{"volume", "create", "--driver", CSIDriver, "--type", "mount"}, flags...), name)...)
	t.Cleanup(func() {
		c.mu.Lock()
		svcs := append([]string(nil), c.services[t]...)
		c.mu.Unlock()
		for _, s := range svcs {
			c.removeService(t, s)
		}
		// swarm unpublishes the volume once the tasks are gone
		for end := time.Now().Add(time.Minute); ; time.Sleep(time.Second) {
			r := c.Run(t, 1, "volume", "rm", name)
			if r.Err == nil || strings.Contains(r.Stderr, "no such volume") || time.Now().After(end) {
				if r.Err != nil && !strings.Contains(r.Stderr, "no such volume") {
					t.Logf("cluster volume %s not removed: %s", name, r.Stderr)
				}
				return
			}
		}
	})
	for end := time.Now().Add(time.Minute); ; time.Sleep(500 * time.Millisecond) {
		if id := strings.TrimSpace(c.Run(t, 1, "volume", "inspect", "--format", "{{if .ClusterVolume.Info}}{{.ClusterVolume.Info.VolumeID}}{{end}}", name).Stdout); id != "" {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("cluster volume %s not created by %s within 1m", name, CSIDriver)
		}
	}
}
