package cluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// The database images of the tests (swarm.sh images NAME): the host's Debian 12
// binaries (redis:7 = redis:latest, postgres:15 = postgres:latest) and Debian 13's,
// built by hack/db-image.sh.
const (
	Redis7Image     = "redis:7"
	Redis8Image     = "redis:8"
	Valkey8Image    = "valkey/valkey:8"
	Postgres15Image = "postgres:15"
	Postgres17Image = "postgres:17"
)

// imageNames maps an image to its swarm.sh images NAME.
var imageNames = map[string]string{
	Redis7Image: "redis7", Redis8Image: "redis8", Valkey8Image: "valkey8",
	Postgres15Image: "postgres15", PostgresImage: "postgres15", Postgres17Image: "postgres17",
}

type imageKey struct {
	c     *Cluster
	image string
}

// RequireImage makes sure image (one of the constants above) is on every node,
// building (first time on this machine: minutes, then cached) and importing it with
// `swarm.sh images` the first time a test of this cluster needs it.
func (c *Cluster) RequireImage(t testing.TB, image string) {
	t.Helper()
	name, ok := imageNames[image]
	if !ok {
		t.Fatalf("cluster: no recipe for image %s", image)
	}
	v, _ := pgImage.LoadOrStore(imageKey{c, image}, &imageOnce{})
	o := v.(*imageOnce)
	o.once.Do(func() { o.err = c.importImage(t, image, name) })
	if o.err != nil {
		t.Fatalf("image %s: %v", image, o.err)
	}
}

func (c *Cluster) importImage(t testing.TB, image, name string) error {
	missing := false
	for i := range c.Nodes {
		if c.Run(t, i+1, "image", "inspect", "--format", "{{.ID}}", image).Err != nil {
			missing = true
		}
	}
	if !missing {
		return nil
	}
	script, err := SwarmScript()
	if err != nil {
		return err
	}
	root := c.root
	if root == "" {
		root = filepath.Dir(c.StateDir)
	}
	start := time.Now()
	out, err := exec.Command(script, "-i", strconv.Itoa(c.Index), "-s", root, "images", name).CombinedOutput()
	if err != nil {
		return fmt.Errorf("swarm.sh images %s: %v\n%s", name, err, out)
	}
	fmt.Fprintf(os.Stderr, "e2e: %s imported on cluster %d in %s\n", image, c.Index, time.Since(start).Round(100*time.Millisecond))
	return nil
}
