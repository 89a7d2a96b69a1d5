//go:build e2e

package e2e

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"
)

// tree maps every file and directory under root to its content ("<dir>" for
// directories), to compare a HOME before and after.
func tree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			out[rel] = "<dir>"
			return nil
		}
		data, err := os.ReadFile(p)
		out[rel] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func diffTrees(a, b map[string]string) []string {
	var out []string
	for k, v := range a {
		if w, ok := b[k]; !ok {
			out = append(out, "only before: "+k)
		} else if v != w {
			out = append(out, "changed: "+k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, "only after: "+k)
		}
	}
	sort.Strings(out)
	return out
}

func decodeJSON(t *testing.T, data string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(data), &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, data)
	}
	return m
}

// TestInstallRoundTrip installs for a user who has a docker config.json of
// their own and a bash completion script of their own, runs the install
// again, then uninstalls: the plugin works through the real docker while
// installed, the second run changes nothing, and afterwards the user's
// files hold what they held before.
func TestInstallRoundTrip(t *testing.T) {
	u := newUser(t)
	userConfig := `{
	"auths": {"registry.example": {"auth": "dXNlcjpwYXNz"}},
	"psFormat": "table {{.ID}}\t{{.Names}}",
	"detachKeys": "ctrl-e,e",
	"plugins": {"other": {"hooks": "image ls", "colour": "blue"}},
	"features": {"buildkit": "true"}
}
`
	ownCompletion := "# my own docker completion\n"
	for path, data := range map[string]string{
		filepath.Join(u.DockerConfig, "config.json"):                             userConfig,
		filepath.Join(u.Home, ".local/share/bash-completion/completions/docker"): ownCompletion,
	} {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	before := tree(t, u.Home)

	out := u.install(t, "--hooks")
	if !strings.Contains(out, "docker stateful is installed") {
		t.Errorf("install.sh output:\n%s", out)
	}
	// Through the real docker binary, as this user.
	if help, errOut, rc := u.run(t, "docker", "stateful", "--help"); rc != 0 || !strings.Contains(help, "docker stateful") {
		t.Fatalf("docker stateful --help after install: rc=%d\n%s%s", rc, help, errOut)
	}
	installed := tree(t, u.Home)
	cfg := decodeJSON(t, installed[".docker/config.json"])
	want := decodeJSON(t, userConfig)
	want["plugins"].(map[string]any)["stateful"] = map[string]any{"hooks": "service update,service create,stack deploy"}
	want["features"].(map[string]any)["hooks"] = "true"
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("config.json after install:\n%s\nwant (as JSON) %v", installed[".docker/config.json"], want)
	}
	if got := installed[".local/share/bash-completion/completions/docker"]; got == ownCompletion || !strings.Contains(got, "__complete") {
		t.Errorf("bash completion not installed over the user's own (which should be set aside)")
	}
	if installed[".local/share/bash-completion/completions/docker.before-docker-stateful"] != ownCompletion {
		t.Errorf("the user's own completion script was not set aside")
	}

	u.install(t, "--hooks")
	if d := diffTrees(installed, tree(t, u.Home)); len(d) > 0 {
		t.Errorf("second install changed files: %v", d)
	}

	if out, errOut, rc := u.run(t, "./install.sh", "--uninstall"); rc != 0 {
		t.Fatalf("install.sh --uninstall: rc=%d\n%s%s", rc, out, errOut)
	}
	after := tree(t, u.Home)
	// config.json keeps every key and value (docker-style re-indentation aside).
	if got, want := decodeJSON(t, after[".docker/config.json"]), decodeJSON(t, userConfig); !reflect.DeepEqual(got, want) {
		t.Errorf("config.json after uninstall:\n%s\nwant:\n%s", after[".docker/config.json"], userConfig)
	}
	delete(before, ".docker/config.json")
	delete(after, ".docker/config.json")
	if d := diffTrees(before, after); len(d) > 0 {
		t.Errorf("uninstall did not restore the user's files: %v", d)
	}
	if out, errOut, rc := u.run(t, "docker", "stateful", "version"); rc == 0 || !strings.Contains(errOut, "unknown command") {
		t.Errorf("docker stateful still runs after uninstall: rc=%d\n%s%s", rc, out, errOut)
	}
}

// TestInstallRefuses: no docker CLI, a binary that is no plugin, a config
// it cannot merge into: one clear line, non-zero exit, nothing installed.
func TestInstallRefuses(t *testing.T) {
	bin := pluginBinary(t)

	// A PATH with what install.sh needs but no docker.
	noDocker := t.TempDir()
	for _, tool := range []string{"bash", "dirname", "sed"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(p, filepath.Join(noDocker, tool)); err != nil {
			t.Fatal(err)
		}
	}
	u := newUser(t)
	cmd := exec.Command("./install.sh", "--binary", bin)
	cmd.Dir = repoRoot(t)
	for _, kv := range u.env() {
		if !strings.HasPrefix(kv, "PATH=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "PATH="+noDocker)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "no docker CLI found") {
		t.Errorf("install.sh without docker: %v\n%s", err, out)
	}
	if entries, _ := os.ReadDir(u.Home); len(entries) > 0 {
		t.Errorf("install.sh without docker left files in HOME: %v", entries)
	}

	if out, errOut, rc := u.run(t, "./install.sh", "--binary", "/bin/true"); rc == 0 || !strings.Contains(errOut, "is not a docker CLI plugin") {
		t.Errorf("install.sh --binary /bin/true: rc=%d\n%s%s", rc, out, errOut)
	}

	cfg := filepath.Join(u.DockerConfig, "config.json")
	_ = os.MkdirAll(u.DockerConfig, 0o700)
	if err := os.WriteFile(cfg, []byte("{\"auths\": {}, oops"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := tree(t, u.Home)
	if out, errOut, rc := u.run(t, "./install.sh", "--binary", bin, "--hooks"); rc == 0 || !strings.Contains(errOut, "config.json") || !strings.Contains(errOut, "not valid JSON") {
		t.Errorf("install.sh --hooks with a broken config.json: rc=%d\n%s%s", rc, out, errOut)
	}
	if d := diffTrees(before, tree(t, u.Home)); len(d) > 0 {
		t.Errorf("install.sh --hooks with a broken config.json changed files: %v", d)
	}
}

// TestInstallFromArchive builds this platform's archive with `make release`,
// installs it with install.sh --archive (checked against the SHA256SUMS next
// to it) and runs it through docker; a tampered archive, one its SHA256SUMS
// does not list, or another platform's is refused with nothing installed.
func TestInstallFromArchive(t *testing.T) {
	C.RequirePlugin(t)
	root := repoRoot(t)
	dist := t.TempDir()
	platform := runtime.GOOS + "/" + runtime.GOARCH
	start := time.Now()
	make := exec.Command("make", "-s", "release", "RELEASE_PLATFORMS="+platform, "DIST="+dist)
	make.Dir = root
	if out, err := make.CombinedOutput(); err != nil {
		t.Fatalf("make release RELEASE_PLATFORMS=%s: %v\n%s", platform, err, out)
	}
	t.Logf("make release for %s: %s", platform, time.Since(start).Round(time.Second))
	archives, _ := filepath.Glob(filepath.Join(dist, "docker-stateful_*_"+runtime.GOOS+"_"+runtime.GOARCH+".tar.gz"))
	if len(archives) != 1 {
		t.Fatalf("make release made %v, want one %s archive", archives, platform)
	}
	archive := archives[0]
	if out, err := exec.Command("sh", "-c", "cd '"+dist+"' && sha256sum -c SHA256SUMS").CombinedOutput(); err != nil {
		t.Fatalf("sha256sum -c SHA256SUMS: %v\n%s", err, out)
	}
	files := untar(t, archive)
	name := strings.TrimSuffix(filepath.Base(archive), ".tar.gz")
	front, full := files[name+"/docker-stateful"], files[name+"/docker-stateful.d/docker-stateful"]
	if front == "" || full == "" {
		t.Fatalf("%s lacks docker-stateful or docker-stateful.d/docker-stateful: %v", archive, keys(files))
	}

	u := newUser(t)
	out, errOut, rc := u.run(t, "./install.sh", "--archive", archive, "--no-completion")
	if rc != 0 || !strings.Contains(out, "sha256 matches") || !strings.Contains(out, "docker stateful is installed") {
		t.Fatalf("install.sh --archive: rc=%d\n%s%s", rc, out, errOut)
	}
	plugins := filepath.Join(u.DockerConfig, "cli-plugins")
	for file, want := range map[string]string{"docker-stateful": front, "docker-stateful.d/docker-stateful": full} {
		if got, err := os.ReadFile(filepath.Join(plugins, file)); err != nil || string(got) != want {
			t.Errorf("%s is not the archive's (%v)", file, err)
		}
	}
	if v, errOut, rc := u.run(t, "docker", "stateful", "version"); rc != 0 || !strings.Contains(v, C.Manager().ID) {
		t.Errorf("docker stateful version after install from the archive: rc=%d\n%s%s", rc, v, errOut)
	}
	if out, errOut, rc := u.run(t, "./install.sh", "--uninstall"); rc != 0 {
		t.Fatalf("install.sh --uninstall: rc=%d\n%s%s", rc, out, errOut)
	}

	// The install.sh inside the unpacked archive installs the binaries next to it.
	unpacked := t.TempDir()
	if out, err := exec.Command("tar", "-xzf", archive, "-C", unpacked).CombinedOutput(); err != nil {
		t.Fatalf("tar -xzf: %v\n%s", err, out)
	}
	if out, errOut, rc := u.run(t, filepath.Join(unpacked, name, "install.sh")); rc != 0 || !strings.Contains(out, "docker stateful is installed") {
		t.Fatalf("install.sh of the unpacked archive: rc=%d\n%s%s", rc, out, errOut)
	}
	if got, _ := os.ReadFile(filepath.Join(plugins, "docker-stateful")); string(got) != front {
		t.Errorf("the unpacked archive's install.sh did not install its own binary")
	}
	if out, errOut, rc := u.run(t, "./install.sh", "--uninstall"); rc != 0 {
		t.Fatalf("install.sh --uninstall: rc=%d\n%s%s", rc, out, errOut)
	}

	// Refusals: one line, exit 1, nothing installed.
	data, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	sums, _ := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	bad := func(dir, file string, content []byte, withSums bool) string {
		d := filepath.Join(t.TempDir(), dir)
		_ = os.MkdirAll(d, 0o755)
		if err := os.WriteFile(filepath.Join(d, file), content, 0o644); err != nil {
			t.Fatal(err)
		}
		if withSums {
			_ = os.WriteFile(filepath.Join(d, "SHA256SUMS"), sums, 0o644)
		}
		return filepath.Join(d, file)
	}
	tampered := append(append([]byte{}, data...), 0)
	other := "darwin_arm64"
	if runtime.GOOS == "darwin" {
		other = "linux_amd64"
	}
	before := tree(t, u.Home)
	for _, tc := range []struct{ file, want string }{
		{bad("tampered", filepath.Base(archive), tampered, true), "does not match"},
		{bad("unlisted", "docker-stateful_x_"+runtime.GOOS+"_"+runtime.GOARCH+".tar.gz", data, true), "is not listed in"},
		{bad("other", "docker-stateful_x_"+other+".tar.gz", data, false), "is built for " + strings.Replace(other, "_", "/", 1)},
		{filepath.Join(dist, "missing.tar.gz"), "no such archive"},
	} {
		out, errOut, rc := u.run(t, "./install.sh", "--archive", tc.file)
		if rc != 1 || !strings.Contains(errOut, tc.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("install.sh --archive %s: rc=%d, want 1 and one line with %q\n%s%s", tc.file, rc, tc.want, out, errOut)
		}
	}
	if d := diffTrees(before, tree(t, u.Home)); len(d) > 0 {
		t.Errorf("refused installs changed files: %v", d)
	}
}

// untar reads a .tar.gz into name → content.
func untar(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			out[h.Name] = string(b)
		}
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
