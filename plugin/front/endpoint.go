package front

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// endpoint is a Docker API address the front can talk to in plain HTTP.
type endpoint struct {
	network, addr string // "unix", path | "tcp", host:port
}

// resolveEndpoint finds the daemon as docker does for a plugin run without
// global flags (docker passes none to `__complete`): DOCKER_HOST, else the
// context named by DOCKER_CONTEXT or config.json's currentContext, else the
// default socket. Anything that needs more than plain HTTP (TLS, ssh://,
// npipe://, dial-stdio, a context with TLS material) or that it cannot read
// simply is not ok: the full binary answers then.
func resolveEndpoint(getenv func(string) string) (endpoint, bool) {
	for _, k := range []string{"DOCKER_CLI_PLUGIN_USE_DIAL_STDIO", "DOCKER_TLS", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_API_VERSION"} {
		if getenv(k) != "" {
			return endpoint{}, false
		}
	}
	if h := getenv("DOCKER_HOST"); h != "" {
		return parseHost(h)
	}
	configDir := getenv("DOCKER_CONFIG")
	if configDir == "" {
		home := getenv("HOME")
		if home == "" {
			return endpoint{}, false
		}
		configDir = filepath.Join(home, ".docker")
	}
	name := getenv("DOCKER_CONTEXT")
	if name == "" {
		var cfg struct{ CurrentContext string }
		switch data, err := os.ReadFile(filepath.Join(configDir, "config.json")); {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return endpoint{}, false
		default:
			if json.Unmarshal(data, &cfg) != nil {
				return endpoint{}, false // docker warns about it: let it
			}
		}
		name = cfg.CurrentContext
	}
	if name == "" || name == "default" {
		return parseHost(defaultHost)
	}
	id := sha256.Sum256([]byte(name))
	dir := hex.EncodeToString(id[:])
	if _, err := os.Stat(filepath.Join(configDir, "contexts", "tls", dir)); !errors.Is(err, fs.ErrNotExist) {
		return endpoint{}, false // TLS material (or cannot tell)
	}
	data, err := os.ReadFile(filepath.Join(configDir, "contexts", "meta", dir, "meta.json"))
	if err != nil {
		return endpoint{}, false // no such context: the full binary says so
	}
	var m struct {
		Name      string
		Endpoints map[string]struct {
			Host          string
			SkipTLSVerify bool
		}
	}
	if json.Unmarshal(data, &m) != nil || m.Name != name {
		return endpoint{}, false
	}
	d, ok := m.Endpoints["docker"]
	if !ok || d.Host == "" || d.SkipTLSVerify {
		return endpoint{}, false
	}
	return parseHost(d.Host)
}

// parseHost reads unix:///path and tcp://host:port; anything else (ssh://,
// npipe://, fd://, a missing port, a path prefix) is for the full binary.
func parseHost(h string) (endpoint, bool) {
	if strings.TrimSpace(h) != h {
		return endpoint{}, false
	}
	scheme, rest, ok := strings.Cut(h, "://")
	if !ok {
		return endpoint{}, false
	}
	switch scheme {
	case "unix":
		if rest == "" {
			return endpoint{}, false
		}
		return endpoint{"unix", rest}, true
	case "tcp":
		u, err := url.Parse(h)
		if err != nil || u.Port() == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return endpoint{}, false
		}
		return endpoint{"tcp", u.Host}, true
	}
	return endpoint{}, false
}

// getJSON GETs path from the API (unversioned: the daemon's own version)
// and decodes a 200 answer into v. Any failure is false.
func (ep endpoint) getJSON(path string, v any) bool {
	body, err := ep.get(path)
	return err == nil && json.Unmarshal(body, v) == nil
}

// get is a minimal HTTP/1.0 GET: one request per connection, the body up to
// Content-Length or the end of the connection (a server does not chunk an
// HTTP/1.0 answer). net/http would double the front's size and start-up.
func (ep endpoint) get(path string) ([]byte, error) {
	conn, err := net.DialTimeout(ep.network, ep.addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	host := "docker" // what docker's client sends over a unix socket
	if ep.network == "tcp" {
		host = ep.addr
	}
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: docker-stateful\r\nAccept: application/json\r\n\r\n", path, host); err != nil {
		return nil, err
	}
	br := bufio.NewReader(conn)
	status, err := br.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if f := strings.Fields(status); len(f) < 2 || !strings.HasPrefix(f[0], "HTTP/1.") || f[1] != "200" {
		return nil, fmt.Errorf("GET %s: %s", path, strings.TrimSpace(status))
	}
	length := -1
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		k, v, _ := strings.Cut(line, ":")
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "content-length":
			if length, err = strconv.Atoi(strings.TrimSpace(v)); err != nil || length < 0 {
				return nil, fmt.Errorf("GET %s: bad Content-Length %q", path, v)
			}
		case "transfer-encoding":
			if !strings.EqualFold(strings.TrimSpace(v), "identity") {
				return nil, fmt.Errorf("GET %s: Transfer-Encoding %s", path, v)
			}
		}
	}
	if length >= 0 {
		body := make([]byte, length)
		_, err := io.ReadFull(br, body)
		return body, err
	}
	return io.ReadAll(br)
}
