package cluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// MariaDBImage is the harness's MariaDB image (swarm.sh mariadb-image).
const MariaDBImage = "mariadb:latest"

var mariadbImage sync.Map // *Cluster → *imageOnce

// RequireMariaDBImage imports mariadb:latest on every node once per cluster.
func (c *Cluster) RequireMariaDBImage(t testing.TB) {
	t.Helper()
	v, _ := mariadbImage.LoadOrStore(c, &imageOnce{})
	o := v.(*imageOnce)
	o.once.Do(func() {
		script, err := SwarmScript()
		if err != nil {
			o.err = err
			return
		}
		root := c.root
		if root == "" {
			root = filepath.Dir(c.StateDir)
		}
		start := time.Now()
		out, err := exec.Command(script, "-i", strconv.Itoa(c.Index), "-s", root, "mariadb-image").CombinedOutput()
		if err != nil {
			o.err = fmt.Errorf("swarm.sh mariadb-image: %v\n%s", err, out)
			return
		}
		fmt.Fprintf(os.Stderr, "e2e: mariadb image ready on cluster %d in %s\n", c.Index, time.Since(start).Round(100*time.Millisecond))
	})
	if o.err != nil {
		t.Fatalf("mariadb image: %v", o.err)
	}
}

// CreateMariaDB creates a MariaDB service publishing 3306 on a free port
// (host mode) with create (e.g. "stateful", "create"); it returns its name and port.
func (c *Cluster) CreateMariaDB(t testing.TB, create []string, password string, args ...string) (string, int) {
	t.Helper()
	svc := c.ServiceName(t)
	port := FreePort(t)
	cmd := append(append([]string{}, create...), "--quiet", "--name", svc, "-p", fmt.Sprintf("published=%d,target=3306,mode=host", port),
		"-e", "MARIADB_ROOT_PASSWORD="+password, "--no-resolve-image")
	cmd = append(cmd, args...)
	c.Docker(t, 1, append(cmd, MariaDBImage)...)
	return svc, port
}
