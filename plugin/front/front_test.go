package front

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// The packages of the two binaries (the front is what docker execs).
const (
	frontPkg = "github.com/docker-stateful/docker-stateful/cmd/docker-stateful"
	fullPkg  = "github.com/docker-stateful/docker-stateful/cmd/docker-stateful-full"
)

// bins holds the front and, in docker-stateful.d/, the full binary, built
// once for the tests that compare them or run them.
var bins struct {
	dir, front, full string
	err              error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dst-front-")
	if err != nil {
		panic(err)
	}
	bins.dir = dir
	bins.front = filepath.Join(dir, "docker-stateful")
	bins.full = filepath.Join(dir, FullDir, "docker-stateful")
	for _, b := range [][2]string{{bins.front, frontPkg}, {bins.full, fullPkg}} {
		if out, err := exec.Command("go", "build", "-o", b[0], b[1]).CombinedOutput(); err != nil {
			bins.err = fmt.Errorf("go build %s: %v\n%s", b[1], err, out)
			break
		}
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func needBins(t *testing.T) {
	t.Helper()
	if bins.err != nil {
		t.Fatal(bins.err)
	}
}

// fakeAPI is a Docker API on a unix socket in a temp dir, answering
// /_ping, /services and /nodes (with or without a /vX.Y prefix) with what
// its fields hold. Change those fields with set: the server reads them on
// its own goroutines.
type fakeAPI struct {
	sock     string
	mu       sync.Mutex
	services string // JSON
	nodes    string // JSON
	status   int    // for /services and /nodes; 0 is 200
	requests atomic.Int32
}

// set changes the API's answers (change assigns f's fields).
func (f *fakeAPI) set(change func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change()
}

var versionPrefix = regexp.MustCompile(`^/v[0-9.]+`)

func newFakeAPI(t *testing.T) *fakeAPI {
	t.Helper()
	f := &fakeAPI{sock: filepath.Join(t.TempDir(), "docker.sock"), services: "[]", nodes: "[]"}
	l, err := net.Listen("unix", f.sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		w.Header().Set("Api-Version", "1.47")
		w.Header().Set("Content-Type", "application/json")
		f.mu.Lock()
		services, nodes, status := f.services, f.nodes, f.status
		f.mu.Unlock()
		var body string
		switch versionPrefix.ReplaceAllString(r.URL.Path, "") {
		case "/_ping":
			w.Header().Set("Swarm", "active/manager")
			_, _ = w.Write([]byte("OK"))
			return
		case "/services":
			body = services
		case "/nodes":
			body = nodes
		default:
			http.Error(w, `{"message":"page not found"}`, http.StatusNotFound)
			return
		}
		if status != 0 {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{"message":"This node is not a swarm manager."}`))
			return
		}
		_, _ = w.Write([]byte(body))
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return f
}

func (f *fakeAPI) host() string { return "unix://" + f.sock }

const testServices = `[
 {"ID":"svcredis0000000000000000a","Spec":{"Name":"web","Labels":{},"TaskTemplate":{"ContainerSpec":{"Image":"nginx:1.27@sha256:` + sha64 + `"}}}},
 {"ID":"svcstateful00000000000001","Spec":{"Name":"cache","Labels":{"io.docker-stateful.data":"/data"},"TaskTemplate":{"ContainerSpec":{"Image":"redis:7"}}}},
 {"ID":"abc123stateful0000000002","Spec":{"Name":"app","Labels":{"io.docker-stateful.data":"/var/lib/app"},"TaskTemplate":{"ContainerSpec":{"Image":"registry.example.com:5000/team/app:v2"}}}},
 {"ID":"svcplugin000000000000003","Spec":{"Name":"plug","TaskTemplate":{"PluginSpec":{"Name":"x"}}}},
 {"ID":"abc999plain0000000000004","Spec":{"Name":"db","Labels":null,"TaskTemplate":{"ContainerSpec":{"Image":"docker.io/bitnami/redis"}}}}
]`

const sha64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

const testNodes = `[
 {"ID":"node3id000000000000000003","Description":{"Hostname":"node-3"},"Spec":{"Role":"worker","Availability":"active"},"Status":{"State":"down"}},
 {"ID":"node1id000000000000000001","Description":{"Hostname":"node-1"},"Spec":{"Role":"manager","Availability":"active"},"Status":{"State":"ready"}},
 {"ID":"node2id000000000000000002","Description":{"Hostname":"node-2"},"Spec":{"Role":"worker","Availability":"drain"},"Status":{"State":"ready"}},
 {"ID":"node0id000000000000000000","Description":{"Hostname":"node-0"},"Spec":{"Role":"worker","Availability":"active"},"Status":{"State":"ready"}}
]`

// testEnv is a clean environment: a temp HOME and DOCKER_CONFIG, no other
// DOCKER_* setting, plus extra.
func testEnv(t *testing.T, extra ...string) []string {
	t.Helper()
	home := t.TempDir()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "DOCKER_CONFIG=" + filepath.Join(home, ".docker")}
	return append(env, extra...)
}

func getenvOf(env []string) func(string) string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return func(k string) string { return m[k] }
}

func runBinary(t *testing.T, bin string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errb.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), 0
}

// TestSameAsFullBinary is the front's contract: for every request it
// answers, its stdout and stderr are byte for byte the full binary's (cobra's
// __complete on the real commands), against the same API.
func TestSameAsFullBinary(t *testing.T) {
	needBins(t)
	api := newFakeAPI(t)
	api.set(func() { api.services, api.nodes = testServices, testNodes })
	ctxEnv := func(t *testing.T) []string {
		env := testEnv(t, "DOCKER_CONTEXT=swarm1")
		writeContext(t, getenvOf(env)("DOCKER_CONFIG"), "swarm1", api.host())
		return env
	}
	hostEnv := func(extra ...string) func(t *testing.T) []string {
		return func(t *testing.T) []string {
			return testEnv(t, append([]string{"DOCKER_HOST=" + api.host()}, extra...)...)
		}
	}
	for _, tc := range []struct {
		name string
		env  func(t *testing.T) []string
		args []string
	}{
		{"metadata", hostEnv(), []string{"docker-cli-plugin-metadata"}},
		{"update", hostEnv(), []string{"__complete", "stateful", "update", ""}},
		{"update prefix", hostEnv(), []string{"__complete", "stateful", "update", "ca"}},
		{"update ID prefix", hostEnv(), []string{"__complete", "stateful", "update", "abc"}},
		{"update no match", hostEnv(), []string{"__complete", "stateful", "update", "zzz"}},
		{"verify", hostEnv(), []string{"__complete", "stateful", "verify", ""}},
		{"snapshot", hostEnv(), []string{"__complete", "stateful", "snapshot", "w"}},
		{"show IDs", hostEnv("DOCKER_COMPLETION_SHOW_SERVICE_IDS=yes"), []string{"__complete", "stateful", "update", ""}},
		{"no descriptions", hostEnv(), []string{"__completeNoDesc", "stateful", "update", ""}},
		{"descriptions off", hostEnv("COBRA_COMPLETION_DESCRIPTIONS=false"), []string{"__complete", "stateful", "verify", ""}},
		{"descriptions off (docker)", hostEnv("DOCKER_COMPLETION_DESCRIPTIONS=0", "COBRA_COMPLETION_DESCRIPTIONS=true"), []string{"__complete", "stateful", "verify", ""}},
		{"pin", hostEnv(), []string{"__complete", "stateful", "create", "--pin", ""}},
		{"pin prefix", hostEnv(), []string{"__complete", "stateful", "create", "--pin", "node-"}},
		{"pin ID prefix", hostEnv(), []string{"__complete", "stateful", "create", "--pin", "node2"}},
		{"pin show IDs", hostEnv("DOCKER_COMPLETION_SHOW_NODE_IDS=yes"), []string{"__complete", "stateful", "create", "--pin", ""}},
		{"context", ctxEnv, []string{"__complete", "stateful", "update", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := tc.env(t)
			wantOut, wantErr, wantCode := runBinary(t, bins.full, env, tc.args...)
			var out, errb bytes.Buffer
			handled, code := Run(tc.args, getenvOf(env), &out, &errb)
			if !handled {
				t.Fatalf("front did not answer %q", tc.args)
			}
			if out.String() != wantOut || errb.String() != wantErr || code != wantCode {
				t.Errorf("front answered %q:\n--- stdout\n%s--- stderr\n%s--- status %d\nfull binary:\n--- stdout\n%s--- stderr\n%s--- status %d",
					tc.args, out.String(), errb.String(), code, wantOut, wantErr, wantCode)
			}
			if tc.args[0] != "docker-cli-plugin-metadata" && !strings.Contains(out.String(), "\t") == !strings.Contains(tc.name, "desc") {
				t.Errorf("descriptions: %q", out.String())
			}
		})
	}
}

func writeContext(t *testing.T, configDir, name, host string) {
	t.Helper()
	id := sha256.Sum256([]byte(name))
	dir := filepath.Join(configDir, "contexts", "meta", hex.EncodeToString(id[:]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	meta := fmt.Sprintf(`{"Name":%q,"Metadata":{},"Endpoints":{"docker":{"Host":%q,"SkipTLSVerify":false}}}`, name, host)
	if err := os.WriteFile(filepath.Join(dir, "meta.json"), []byte(meta), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestHandsOver: what the front does not answer simply, it leaves to the
// full binary, having written nothing and asked nothing.
func TestHandsOver(t *testing.T) {
	api := newFakeAPI(t)
	api.set(func() { api.services = testServices })
	host := "DOCKER_HOST=" + api.host()
	for _, tc := range []struct {
		name string
		env  []string
		args []string
	}{
		{"a command", []string{host}, []string{"stateful", "update", "web"}},
		{"no args", []string{host}, nil},
		{"metadata with args", []string{host}, []string{"docker-cli-plugin-metadata", "x"}},
		{"hooks", []string{host}, []string{"stateful", "docker-cli-plugin-hooks", "{}"}},
		{"verb names", []string{host}, []string{"__complete", "stateful", ""}},
		{"flags", []string{host}, []string{"__complete", "stateful", "update", "-"}},
		{"second argument", []string{host}, []string{"__complete", "stateful", "update", "web", ""}},
		{"a flag before", []string{host}, []string{"__complete", "stateful", "update", "--detach", ""}},
		{"other verb", []string{host}, []string{"__complete", "stateful", "create", ""}},
		{"other flag", []string{host}, []string{"__complete", "stateful", "create", "--volume-name", ""}},
		{"pin= form", []string{host}, []string{"__complete", "stateful", "create", "--pin=n"}},
		{"global flag", []string{host}, []string{"__complete", "stateful", "-D", "update", ""}},
		{"not stateful", []string{host}, []string{"__complete", "other", "update", ""}},
		{"debug file", []string{host, "BASH_COMP_DEBUG_FILE=/tmp/x"}, []string{"__complete", "stateful", "update", ""}},
		{"TLS", []string{"DOCKER_HOST=tcp://127.0.0.1:1", "DOCKER_TLS_VERIFY=1"}, []string{"__complete", "stateful", "update", ""}},
		{"cert path", []string{host, "DOCKER_CERT_PATH=/x"}, []string{"__complete", "stateful", "update", ""}},
		{"ssh", []string{"DOCKER_HOST=ssh://me@host"}, []string{"__complete", "stateful", "update", ""}},
		{"dial-stdio", []string{host, "DOCKER_CLI_PLUGIN_USE_DIAL_STDIO=1"}, []string{"__complete", "stateful", "update", ""}},
		{"API version", []string{host, "DOCKER_API_VERSION=1.41"}, []string{"__complete", "stateful", "update", ""}},
		{"unknown context", []string{"DOCKER_CONTEXT=nope"}, []string{"__complete", "stateful", "update", ""}},
		{"unreachable", []string{"DOCKER_HOST=unix:///nonexistent/docker.sock"}, []string{"__complete", "stateful", "update", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := api.requests.Load()
			var out, errb bytes.Buffer
			if handled, _ := Run(tc.args, getenvOf(testEnv(t, tc.env...)), &out, &errb); handled {
				t.Fatalf("front answered %q itself:\n%s%s", tc.args, out.String(), errb.String())
			}
			if out.Len() != 0 || errb.Len() != 0 {
				t.Errorf("front wrote before handing over: %q %q", out.String(), errb.String())
			}
			if n := api.requests.Load() - before; n != 0 && !strings.HasPrefix(tc.name, "unreachable") {
				t.Errorf("front sent %d requests for a request it does not answer", n)
			}
		})
	}
}

// TestHandsOverOnAPIErrors: a daemon that is no swarm manager (503), or an
// image name the front does not read simply, leave the answer to cobra.
func TestHandsOverOnAPIErrors(t *testing.T) {
	api := newFakeAPI(t)
	api.set(func() { api.status = http.StatusServiceUnavailable })
	args := []string{"__complete", "stateful", "update", ""}
	env := getenvOf(testEnv(t, "DOCKER_HOST="+api.host()))
	if handled, _ := Run(args, env, &bytes.Buffer{}, &bytes.Buffer{}); handled {
		t.Error("front answered although the API said 503")
	}
	api.set(func() {
		api.status = 0
		api.services = `[{"ID":"x","Spec":{"Name":"odd","TaskTemplate":{"ContainerSpec":{"Image":"[::1]:5000/foo"}}}}]`
	})
	if handled, _ := Run(args, env, &bytes.Buffer{}, &bytes.Buffer{}); handled {
		t.Error("front answered for an image it does not read simply")
	}
	api.set(func() { api.services = `not json` })
	if handled, _ := Run(args, env, &bytes.Buffer{}, &bytes.Buffer{}); handled {
		t.Error("front answered a body that is not JSON")
	}
}

func TestResolveEndpoint(t *testing.T) {
	home := t.TempDir()
	cfg := filepath.Join(home, ".docker")
	writeContext(t, cfg, "remote", "tcp://10.0.0.1:2375")
	writeContext(t, cfg, "secure", "tcp://10.0.0.2:2376")
	writeContext(t, cfg, "viassh", "ssh://me@box")
	id := sha256.Sum256([]byte("secure"))
	if err := os.MkdirAll(filepath.Join(cfg, "contexts", "tls", hex.EncodeToString(id[:]), "docker"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		env    []string
		config string // config.json
		want   endpoint
		ok     bool
	}{
		{"default", nil, "", endpoint{"unix", "/var/run/docker.sock"}, true},
		{"DOCKER_HOST unix", []string{"DOCKER_HOST=unix:///run/x.sock"}, "", endpoint{"unix", "/run/x.sock"}, true},
		{"DOCKER_HOST tcp", []string{"DOCKER_HOST=tcp://127.0.0.1:2375"}, "", endpoint{"tcp", "127.0.0.1:2375"}, true},
		{"DOCKER_HOST beats DOCKER_CONTEXT", []string{"DOCKER_HOST=unix:///a.sock", "DOCKER_CONTEXT=remote"}, "", endpoint{"unix", "/a.sock"}, true},
		{"DOCKER_CONTEXT", []string{"DOCKER_CONTEXT=remote"}, "", endpoint{"tcp", "10.0.0.1:2375"}, true},
		{"DOCKER_CONTEXT beats config", []string{"DOCKER_CONTEXT=default"}, `{"currentContext":"remote"}`, endpoint{"unix", "/var/run/docker.sock"}, true},
		{"currentContext", nil, `{"auths":{},"currentContext":"remote"}`, endpoint{"tcp", "10.0.0.1:2375"}, true},
		{"context with TLS", []string{"DOCKER_CONTEXT=secure"}, "", endpoint{}, false},
		{"ssh context", nil, `{"currentContext":"viassh"}`, endpoint{}, false},
		{"bad config.json", nil, `{`, endpoint{}, false},
		{"tcp without port", []string{"DOCKER_HOST=tcp://10.0.0.1"}, "", endpoint{}, false},
		{"tcp with path", []string{"DOCKER_HOST=tcp://10.0.0.1:2375/prefix"}, "", endpoint{}, false},
		{"npipe", []string{"DOCKER_HOST=npipe:////./pipe/docker_engine"}, "", endpoint{}, false},
		{"fd", []string{"DOCKER_HOST=fd://"}, "", endpoint{}, false},
		{"no scheme", []string{"DOCKER_HOST=/var/run/docker.sock"}, "", endpoint{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_ = os.Remove(filepath.Join(cfg, "config.json"))
			if tc.config != "" {
				if err := os.WriteFile(filepath.Join(cfg, "config.json"), []byte(tc.config), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, ok := resolveEndpoint(getenvOf(append([]string{"HOME=" + home}, tc.env...)))
			if got != tc.want || ok != tc.ok {
				t.Errorf("resolveEndpoint = %v, %v; want %v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestRepositoryName: the front names images as stateful.RepositoryName
// does, or leaves them to the full binary.
func TestRepositoryName(t *testing.T) {
	for _, image := range []string{
		"redis", "redis:7", "redis:7.2-alpine", "redis@sha256:" + sha64, "redis:7@sha256:" + sha64,
		"library/redis", "docker.io/redis", "docker.io/library/redis:7", "index.docker.io/library/redis",
		"bitnami/redis:7", "docker.io/bitnami/redis", "a/b/c:1", "library/foo/bar",
		"localhost/foo", "localhost:5000/foo/bar:1", "registry.example.com/team/app:v2",
		"registry.example.com:5000/app@sha256:" + sha64, "10.0.0.1:5000/x", "my-reg.local/x__y/z-w.v:t",
		"Foo/bar", "FOO", "redis:", "redis@sha256:abc", "redis@md5:" + sha64, "[::1]:5000/foo", sha64,
		"a:b:c", "", "/foo", "foo/", "UPPER.example.com/x", strings.Repeat("a", 300),
	} {
		got, ok := repositoryName(image)
		want := stateful.RepositoryName(image)
		if ok && got != want {
			t.Errorf("repositoryName(%q) = %q, stateful.RepositoryName = %q", image, got, want)
		}
		if !ok && strings.Count(image, "/") < 3 && !strings.ContainsAny(image, "[@:") && image != "" && image == strings.ToLower(image) && len(image) < 64 && !strings.HasPrefix(image, "/") && !strings.HasSuffix(image, "/") {
			t.Errorf("repositoryName(%q) gave up on a plain name", image)
		}
	}
	for _, image := range []string{"redis:7", "registry.example.com:5000/team/app:v2", "bitnami/redis"} {
		if _, ok := repositoryName(image); !ok {
			t.Errorf("repositoryName(%q) gave up", image)
		}
	}
}

func TestLabelIsStatefuls(t *testing.T) {
	if labelDataPaths != stateful.LabelDataPaths {
		t.Fatalf("labelDataPaths = %q, stateful.LabelDataPaths = %q", labelDataPaths, stateful.LabelDataPaths)
	}
}

// TestFrontExecsFull runs the built front: commands it does not answer
// reach the full binary next to it (same argv, stdio, exit status), and a
// missing full binary is one line naming it.
func TestFrontExecsFull(t *testing.T) {
	needBins(t)
	api := newFakeAPI(t)
	env := testEnv(t, "DOCKER_HOST="+api.host())

	for _, args := range [][]string{
		{"stateful", "version", "--format", "{{json .client}}"},
		{"stateful", "update", "--bogus-flag", "x"}, // rc 125, usage on stderr
		{"__complete", "stateful", "up"},
		{"__complete", "stateful", "update", "--update-o"},
	} {
		wantOut, wantErr, wantCode := runBinary(t, bins.full, env, args...)
		out, errOut, code := runBinary(t, bins.front, env, args...)
		if out != wantOut || errOut != wantErr || code != wantCode || wantOut+wantErr == "" {
			t.Errorf("front %q: rc=%d %q %q; full: rc=%d %q %q", args, code, out, errOut, wantCode, wantOut, wantErr)
		}
	}
	var v map[string]any
	if out, _, _ := runBinary(t, bins.front, env, "stateful", "version", "--format", "{{json .client}}"); json.Unmarshal([]byte(out), &v) != nil || v["version"] == nil {
		t.Errorf("front stateful version --format: %q", out)
	}
	// Symlinked into a plugin directory: the full binary is found next to
	// the front's real path.
	link := filepath.Join(t.TempDir(), "docker-stateful")
	if err := os.Symlink(bins.front, link); err != nil {
		t.Fatal(err)
	}
	// (completion: a command only the full binary answers, with no daemon.)
	if out, errOut, code := runBinary(t, link, env, "stateful", "completion", "bash"); code != 0 || !strings.Contains(out, "bash completion") {
		t.Errorf("symlinked front: rc=%d\n%s%s", code, out, errOut)
	}

	// Missing: the front alone in a directory.
	lone := filepath.Join(t.TempDir(), "docker-stateful")
	data, err := os.ReadFile(bins.front)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lone, data, 0o755); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runBinary(t, lone, env, "stateful", "version")
	wantPath := filepath.Join(filepath.Dir(lone), FullDir, "docker-stateful")
	if code != 1 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, wantPath+" is missing") || !strings.Contains(errOut, "install.sh") {
		t.Errorf("missing full binary: rc=%d stdout=%q stderr=%q", code, out, errOut)
	}
	// ... but metadata still answers (docker lists the plugin), and
	// DOCKER_STATEFUL_FULL names another full binary.
	if out, _, code := runBinary(t, lone, env, "docker-cli-plugin-metadata"); code != 0 || !strings.Contains(out, `"SchemaVersion": "0.1.0"`) {
		t.Errorf("metadata without the full binary: rc=%d %q", code, out)
	}
	if out, _, code := runBinary(t, lone, append(env, FullEnv+"="+bins.full), "stateful", "completion", "bash"); code != 0 || !strings.Contains(out, "bash completion") {
		t.Errorf("%s: rc=%d %q", FullEnv, code, out)
	}
	// Pointing at the front itself is refused, not a loop.
	if _, errOut, code := runBinary(t, lone, append(env, FullEnv+"="+lone), "stateful", "version"); code != 1 || !strings.Contains(errOut, "front") {
		t.Errorf("%s=front: rc=%d %q", FullEnv, code, errOut)
	}
}

// TestFrontStdlibOnly: the front imports the standard library only (that is
// what keeps it small and quick to start).
func TestFrontStdlibOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", frontPkg).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range strings.Fields(string(out)) {
		if !strings.HasPrefix(p, "github.com/docker-stateful/docker-stateful/") {
			t.Errorf("the front depends on %s", p)
		}
	}
}
