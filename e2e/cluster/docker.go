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
// cluster uses; after RequirePlugin it holds cli-plugins/docker-stateful
// (and docker-stateful.d/docker-stateful, the full plugin).
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
// docker installs it: cli-plugins/docker-stateful (the thin front docker
// execs) and cli-plugins/docker-stateful.d/docker-stateful (the full plugin
// the front runs), or skips the test with the reason. The binaries are env
// DST_PLUGIN_BINARY (the front, as `make build` builds it, with the full one
// in docker-stateful.d/ next to it, else built here from
// ./cmd/docker-stateful-full) or built once from ./cmd/docker-stateful and
// ./cmd/docker-stateful-full.
func (c *Cluster) RequirePlugin(t testing.TB) {
	t.Helper()
	c.pluginOnce.Do(func() { c.pluginErr = c.installPlugin() })
	if c.pluginErr != nil {
		t.Skipf("docker-stateful plugin not available: %v", c.pluginErr)
	}
}

func (c *Cluster) installPlugin() error {
	dst := filepath.Join(c.dockerConfig, "cli-plugins", "docker-stateful")
	fullDst := filepath.Join(filepath.Dir(dst), "docker-stateful.d", "docker-stateful")
	if err := os.MkdirAll(filepath.Dir(fullDst), 0o755); err != nil {
		return err
	}
	builds := [][2]string{{"./cmd/docker-stateful-full", fullDst}, {"./cmd/docker-stateful", dst}}
	if bin := os.Getenv("DST_PLUGIN_BINARY"); bin != "" {
		copies := [][2]string{{bin, dst}}
		builds = builds[:1]
		// make build puts the full plugin next to the front; a front built
		// alone (go build -o X ./cmd/docker-stateful) gets one built here.
		if full := filepath.Join(filepath.Dir(bin), "docker-stateful.d", "docker-stateful"); fileExists(full) {
			copies, builds = append(copies, [2]string{full, fullDst}), nil
		}
		for _, cp := range copies {
			data, err := os.ReadFile(cp[0])
			if err != nil {
				return fmt.Errorf("DST_PLUGIN_BINARY: %w", err)
			}
			if err := os.WriteFile(cp[1], data, 0o755); err != nil {
				return err
			}
		}
		if len(builds) == 0 {
			return nil
		}
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	for _, b := range builds {
		if _, err := os.Stat(filepath.Join(root, b[0])); err != nil {
			return fmt.Errorf("entry package %s does not exist yet", b[0])
		}
		cmd := exec.Command("go", "build", "-o", b[1], b[0])
		cmd.Dir = root
		if b[1] == dst {
			// The front static, as make build builds it: no dynamic
			// loader on every TAB.
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", b[0], err, out)
		}
	}
	return nil
}

func fileExists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir()
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
