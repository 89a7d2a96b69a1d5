package cluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/docker-stateful/docker-stateful/plugin/pgstate/pgtest"
	"github.com/jackc/pgx/v5"
)

// PostgresImage is the image swarm.sh postgres-image builds from Debian's postgresql-15.
const PostgresImage = "postgres:latest"

type imageOnce struct {
	once sync.Once
	err  error
}

var pgImage sync.Map // *Cluster -> *imageOnce: one import attempt per cluster

// RequirePostgresImage makes sure postgres:latest is on every node, building and
// importing it with `swarm.sh postgres-image` the first time a test needs it (the
// harness's `up` does not build it, to stay fast).
func (c *Cluster) RequirePostgresImage(t testing.TB) {
	t.Helper()
	v, _ := pgImage.LoadOrStore(c, &imageOnce{})
	o := v.(*imageOnce)
	o.once.Do(func() { o.err = c.importPostgres(t) })
	if o.err != nil {
		t.Fatalf("postgres image: %v", o.err)
	}
}

func (c *Cluster) importPostgres(t testing.TB) error {
	missing := false
	for i := range c.Nodes {
		if c.Run(t, i+1, "image", "inspect", "--format", "{{.ID}}", PostgresImage).Err != nil {
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
	cmd := exec.Command(script, "-i", strconv.Itoa(c.Index), "-s", root, "postgres-image")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("swarm.sh postgres-image: %v\n%s", err, out)
	}
	fmt.Fprintf(os.Stderr, "e2e: postgres image imported on cluster %d in %s\n", c.Index, time.Since(start).Round(100*time.Millisecond))
	return nil
}

// PublishPostgres is the --publish value for PostgreSQL on port (host mode, as PublishRedis).
func PublishPostgres(port int) string {
	return fmt.Sprintf("published=%d,target=5432,mode=host", port)
}

// CreatePostgres creates a fresh postgres service with `docker <create...>` on node 1,
// published on a free port, with POSTGRES_PASSWORD and --stop-signal SIGINT (the fast
// shutdown of the official image; docker import cannot set STOPSIGNAL), and returns its
// name and port.
func (c *Cluster) CreatePostgres(t testing.TB, create []string, password string, args ...string) (string, int) {
	t.Helper()
	svc := c.ServiceName(t)
	port := FreePort(t)
	cmd := append(append([]string{}, create...), "--quiet", "--name", svc, "-p", PublishPostgres(port),
		"--stop-signal", "SIGINT", "-e", "POSTGRES_PASSWORD="+password, "--no-resolve-image")
	cmd = append(cmd, args...)
	c.Docker(t, 1, append(cmd, PostgresImage)...)
	return svc, port
}

// Postgres returns a connection as postgres to addr:port/db once the server accepts it
// (up to 1 minute); it is closed at test cleanup.
func Postgres(t testing.TB, addr string, port int, password, db string) *pgx.Conn {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	var err error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var conn *pgx.Conn
		conn, err = pgtest.Connect(ctx, addr, port, "postgres", password, db)
		if err == nil {
			err = conn.Ping(ctx)
		}
		cancel()
		if err == nil {
			t.Cleanup(func() { conn.Close(context.Background()) })
			return conn
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("postgres at %s:%d does not answer: %v", addr, port, err)
	return nil
}
