package cluster

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Result of one docker command.
type Result struct {
	Stdout, Stderr string
	Err            error // nil, or the *exec.ExitError / start error
}

// ExitCode is the command's exit code (0 when it succeeded, -1 if it did not run).
func (r Result) ExitCode() int {
	if r.Err == nil {
		return 0
	}
	if ee, ok := r.Err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

func (c *Cluster) initDockerConfig() error {
	// Inside the cluster's state dir when there is one, so that even a killed
	// test binary leaves nothing behind once the cluster is down.
	parent := ""
	if st, err := os.Stat(c.StateDir); err == nil && st.IsDir() && c.StateDir != "" {
		parent = c.StateDir
	}
	dir, err := os.MkdirTemp(parent, "dst-e2e-docker-config-")
	if err != nil {
		return err
	}
	c.dockerConfig = dir
	return os.WriteFile(filepath.Join(dir, "config.json"), []byte("{}\n"), 0o600)
}

// DockerConfig is the temporary DOCKER_CONFIG every docker call of this
// cluster uses; after RequirePlugin it holds cli-plugins/docker-stateful.
func (c *Cluster) DockerConfig() string { return c.dockerConfig }

// DockerEnv is the environment for the docker binary: ours without any
// DOCKER_HOST/DOCKER_CONTEXT/TLS setting, with the temporary DOCKER_CONFIG.
func (c *Cluster) DockerEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_CLI_HOOKS", "DOCKER_CLI_HINTS":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "DOCKER_CONFIG="+c.dockerConfig)
}

// Run runs the real docker binary against node n (`docker -H <node n> args...`);
// n == 0 runs it without -H. It times out after 3 minutes.
func (c *Cluster) Run(t testing.TB, n int, args ...string) Result {
	t.Helper()
	full := args
	if n != 0 {
		full = append([]string{"-H", c.Node(n).Host}, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", full...)
	cmd.Env = c.DockerEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := Result{Stdout: out.String(), Stderr: errb.String(), Err: err}
	t.Logf("$ docker %s (rc=%d)", strings.Join(full, " "), r.ExitCode())
	return r
}

// Docker runs docker against node n and fails the test on error; it returns
// stdout with surrounding space trimmed.
func (c *Cluster) Docker(t testing.TB, n int, args ...string) string {
	t.Helper()
	r := c.Run(t, n, args...)
	if r.Err != nil {
		t.Fatalf("docker %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Err, r.Stdout, r.Stderr)
	}
	return strings.TrimSpace(r.Stdout)
}

// RequirePlugin makes sure the plugin is installed in DockerConfig() as
// cli-plugins/docker-stateful, or skips the test with the reason. The binary
// is env DST_PLUGIN_BINARY (what `make e2e` builds) or built once from
// ./cmd/docker-stateful.
func (c *Cluster) RequirePlugin(t testing.TB) {
	t.Helper()
	c.pluginOnce.Do(func() { c.pluginErr = c.installPlugin() })
	if c.pluginErr != nil {
		t.Skipf("docker-stateful plugin not available: %v", c.pluginErr)
	}
}

func (c *Cluster) installPlugin() error {
	dst := filepath.Join(c.dockerConfig, "cli-plugins", "docker-stateful")
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if bin := os.Getenv("DST_PLUGIN_BINARY"); bin != "" {
		data, err := os.ReadFile(bin)
		if err != nil {
			return fmt.Errorf("DST_PLUGIN_BINARY: %w", err)
		}
		return os.WriteFile(dst, data, 0o755)
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "docker-stateful")); err != nil {
		return fmt.Errorf("entry package ./cmd/docker-stateful does not exist yet")
	}
	cmd := exec.Command("go", "build", "-o", dst, "./cmd/docker-stateful")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/docker-stateful: %v\n%s", err, out)
	}
	return nil
}

// moduleRoot is the directory holding go.mod, found above swarm.sh.
func moduleRoot() (string, error) {
	s, err := SwarmScript()
	if err != nil {
		return "", err
	}
	dir, _ := filepath.Abs(filepath.Dir(s))
	for ; dir != "/"; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
	}
	return "", fmt.Errorf("no go.mod above %s", s)
}
