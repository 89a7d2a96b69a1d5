//go:build e2e

package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/docker-stateful/docker-stateful/plugin/stateful"
)

// --- helpers shared by completion, hooks and install tests ----------------

// pluginBinary is the built plugin, as installed by the harness.
func pluginBinary(t *testing.T) string {
	t.Helper()
	C.RequirePlugin(t)
	return filepath.Join(C.DockerConfig(), "cli-plugins", "docker-stateful")
}

// repoRoot is the module root (install.sh, completion/).
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, _ := os.Getwd()
	for ; dir != "/"; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "install.sh")); err == nil {
			return dir
		}
	}
	t.Fatal("cannot find install.sh above the working directory")
	return ""
}

// userEnv is a fresh user: an empty HOME, DOCKER_CONFIG under it, DOCKER_HOST
// on the manager (docker passes hooks no -H, so they need it in the
// environment, as a user with DOCKER_HOST set has it).
type userEnv struct {
	Home, DockerConfig string
}

func newUser(t *testing.T) userEnv {
	t.Helper()
	home := t.TempDir()
	return userEnv{Home: home, DockerConfig: filepath.Join(home, ".docker")}
}

func (u userEnv) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "DOCKER_") || strings.HasPrefix(k, "XDG_") || k == "HOME" || k == "BASH_COMPLETION_USER_DIR" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+u.Home, "DOCKER_CONFIG="+u.DockerConfig, "DOCKER_HOST="+C.Manager().Host)
}

// run runs a command as the user; it returns stdout, stderr and the exit code.
func (u userEnv) run(t *testing.T, name string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = u.env()
	cmd.Dir = repoRoot(t)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	rc := 0
	if ee, ok := err.(*exec.ExitError); ok {
		rc = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	t.Logf("$ %s %s (rc=%d)", name, strings.Join(args, " "), rc)
	return out.String(), errb.String(), rc
}

// install runs install.sh as the user and fails the test unless it succeeds.
func (u userEnv) install(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, rc := u.run(t, "./install.sh", append([]string{"--binary", pluginBinary(t)}, args...)...)
	if rc != 0 {
		t.Fatalf("install.sh %v: rc=%d\n%s%s", args, rc, out, errOut)
	}
	return out
}

// tmuxShell is an interactive shell in a terminal, driven with tmux on a
// server of its own (never the user's).
type tmuxShell struct {
	t      *testing.T
	socket string
}

func newTmux(t *testing.T, env []string, argv ...string) *tmuxShell {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux not installed (make deps installs it)")
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	s := &tmuxShell{t: t, socket: "dst-e2e-" + hex.EncodeToString(b)}
	// No history file: a shell killed at cleanup must not write into a
	// temporary HOME being removed.
	env = append(env, "HISTFILE=/dev/null")
	args := append([]string{"new-session", "-d", "-s", "main", "-x", "220", "-y", "50", "--", "env", "-i"}, env...)
	s.tmux(append(args, argv...)...)
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
	return s
}

func (s *tmuxShell) tmux(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", s.socket}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// send types keys (tmux key names: "Tab", "Enter", "C-u").
func (s *tmuxShell) send(keys ...string) {
	s.tmux(append([]string{"send-keys", "-t", "main"}, keys...)...)
}

func (s *tmuxShell) screen() string {
	return s.tmux("capture-pane", "-p", "-J", "-t", "main", "-S", "-300")
}

// waitFor waits until the screen matches re; it fails the test with the
// screen after timeout.
func (s *tmuxShell) waitFor(re string, timeout time.Duration) string {
	s.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(timeout)
	for {
		scr := s.screen()
		if rx.MatchString(scr) {
			return scr
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("screen does not match %q after %s:\n%s", re, timeout, scr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// --- tests -------------------------------------------------------------------

// completionServices creates a plain service and one labelled as docker
// stateful labels its services, with names sharing a prefix; it returns
// (stateful, plain).
func completionServices(t *testing.T) (string, string) {
	t.Helper()
	plain := C.ServiceName(t)
	managed := C.ServiceName(t)
	C.Docker(t, 1, "service", "create", "--quiet", "--detach", "--no-resolve-image", "--name", plain, "redis")
	C.Docker(t, 1, "service", "create", "--quiet", "--detach", "--no-resolve-image", "--name", managed,
		"--label", stateful.LabelDataPaths+"=/data", "redis")
	return managed, plain
}

// completions runs `docker __complete args...` and returns the candidates
// (without descriptions) and the directive line. The daemon is named by
// DOCKER_HOST, not -H: docker does not pass global flags on to a plugin's
// __complete (cli-plugins/manager/cobra.go rebuilds os.Args without them).
func completions(t *testing.T, args ...string) ([]string, string) {
	t.Helper()
	cmd := exec.Command("docker", append([]string{"__complete"}, args...)...)
	cmd.Env = append(C.DockerEnv(), "DOCKER_HOST="+C.Manager().Host)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("docker __complete %v: %v\n%s", args, err, errb.String())
	}
	var names []string
	directive := ""
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if strings.HasPrefix(line, ":") {
			directive = line
			continue
		}
		name, _, _ := strings.Cut(line, "\t")
		names = append(names, name)
	}
	return names, directive
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// TestCompletionThroughDocker asks the real docker binary, as the shells'
// scripts do: docker forwards `__complete stateful …` to the plugin.
func TestCompletionThroughDocker(t *testing.T) {
	C.RequirePlugin(t)
	managed, plain := completionServices(t)

	verbs, _ := completions(t, "stateful", "up")
	if indexOf(verbs, "update") < 0 {
		t.Errorf("docker __complete stateful up: %q, want update", verbs)
	}

	svcs, directive := completions(t, "stateful", "update", "")
	im, ip := indexOf(svcs, managed), indexOf(svcs, plain)
	if im < 0 || ip < 0 {
		t.Fatalf("docker __complete stateful update '': %q, want %s and %s", svcs, managed, plain)
	}
	if im > ip {
		t.Errorf("stateful service %s should come before %s: %q", managed, plain, svcs)
	}
	if directive != ":36" { // NoFileComp | KeepOrder
		t.Errorf("directive %s, want :36 (no files, keep order)", directive)
	}

	nodes, _ := completions(t, "stateful", "create", "--pin", "")
	for _, n := range C.Nodes {
		if indexOf(nodes, n.Hostname) < 0 {
			t.Errorf("docker __complete stateful create --pin '': %q lacks node %s", nodes, n.Hostname)
		}
	}
	// docker's own flag values still complete: the commands are docker's.
	if orders, _ := completions(t, "stateful", "update", "--update-order", ""); indexOf(orders, "stop-first") < 0 {
		t.Errorf("--update-order: %q", orders)
	}
	if imgs, _ := completions(t, "stateful", "create", ""); indexOf(imgs, "redis:latest") < 0 {
		t.Errorf("docker __complete stateful create '': %q, want the redis:latest image", imgs)
	}

	// docker stateful completion SHELL prints what completion/ holds.
	root := repoRoot(t)
	for shell, file := range map[string]string{"bash": "bash/docker", "zsh": "zsh/_docker", "fish": "fish/docker.fish", "powershell": "powershell/docker.ps1"} {
		want, err := os.ReadFile(filepath.Join(root, "completion", file))
		if err != nil {
			t.Fatal(err)
		}
		if got := C.Run(t, 0, "stateful", "completion", shell).Stdout; got != string(want) {
			t.Errorf("docker stateful completion %s differs from completion/%s (run make completion)", shell, file)
		}
	}
}

// TestCompletionBash types in a real interactive bash with bash-completion,
// with the script install.sh installed for a fresh user.
func TestCompletionBash(t *testing.T) {
	if _, err := os.Stat("/usr/share/bash-completion/bash_completion"); err != nil {
		t.Skip("bash-completion not installed (make deps installs it)")
	}
	managed, plain := completionServices(t)
	u := newUser(t)
	u.install(t)
	if _, err := os.Stat(filepath.Join(u.Home, ".local/share/bash-completion/completions/docker")); err != nil {
		t.Fatalf("install.sh did not install the bash completion: %v", err)
	}
	rc := filepath.Join(u.Home, "rc")
	if err := os.WriteFile(rc, []byte("PS1='PROMPT$ '\nsource /usr/share/bash-completion/bash_completion\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sh := newTmux(t, append(u.env(), "TERM=xterm"), "bash", "--noprofile", "--rcfile", rc, "-i")
	sh.waitFor(`(?m)^PROMPT\$ *$`, 10*time.Second)

	sh.send("docker stateful up", "Tab")
	sh.waitFor(`(?m)^PROMPT\$ docker stateful update *$`, 15*time.Second)

	// Both services share the prefix up to the random suffix: the first Tab
	// completes the common part, the second lists them.
	prefix := commonPrefix(managed, plain)
	sh.send("C-u", "docker stateful update "+prefix[:len(prefix)-2], "Tab")
	sh.waitFor(`(?m)^`+regexp.QuoteMeta("PROMPT$ docker stateful update "+prefix)+` *$`, 15*time.Second)
	sh.send("Tab")
	time.Sleep(300 * time.Millisecond)
	sh.send("Tab")
	scr := sh.waitFor(regexp.QuoteMeta(plain), 15*time.Second)
	if !strings.Contains(scr, managed) {
		t.Errorf("bash lists %s but not %s:\n%s", plain, managed, scr)
	}
}

// TestCompletionZsh types in a real interactive zsh, with the script
// install.sh installed and the fpath line it tells the user to add.
func TestCompletionZsh(t *testing.T) {
	if _, err := exec.LookPath("zsh"); err != nil {
		t.Skip("zsh not installed (make deps installs it)")
	}
	managed, plain := completionServices(t)
	u := newUser(t)
	out := u.install(t)
	dir := filepath.Join(u.Home, ".local/share/zsh/site-functions")
	if _, err := os.Stat(filepath.Join(dir, "_docker")); err != nil {
		t.Fatalf("install.sh did not install the zsh completion: %v", err)
	}
	line := regexp.MustCompile(`fpath=\(\S+ \$fpath\); autoload -Uz compinit && compinit`).FindString(out)
	if line == "" || !strings.Contains(line, dir) {
		t.Fatalf("install.sh does not say how to enable zsh completion:\n%s", out)
	}
	if err := os.WriteFile(filepath.Join(u.Home, ".zshrc"), []byte("PS1='PROMPT%# '\n"+line+" -u\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sh := newTmux(t, append(u.env(), "TERM=xterm"), "zsh", "-i")
	sh.waitFor(`(?m)^PROMPT# *$`, 10*time.Second)

	sh.send("docker stateful up", "Tab")
	sh.waitFor(`(?m)^PROMPT# docker stateful update *$`, 15*time.Second)

	prefix := commonPrefix(managed, plain)
	sh.send("C-u", "docker stateful update "+prefix[:len(prefix)-2], "Tab")
	time.Sleep(time.Second)
	sh.send("Tab")
	scr := sh.waitFor(regexp.QuoteMeta(plain), 15*time.Second)
	if !strings.Contains(scr, managed) {
		t.Errorf("zsh lists %s but not %s:\n%s", plain, managed, scr)
	}
}

// TestCompletionFish asks fish, with the script install.sh installed.
func TestCompletionFish(t *testing.T) {
	if _, err := exec.LookPath("fish"); err != nil {
		t.Skip("fish not installed (make deps installs it)")
	}
	managed, plain := completionServices(t)
	u := newUser(t)
	u.install(t)
	if _, err := os.Stat(filepath.Join(u.Home, ".config/fish/completions/docker.fish")); err != nil {
		t.Fatalf("install.sh did not install the fish completion: %v", err)
	}
	out, errOut, rc := u.run(t, "fish", "-c", `complete -C "docker stateful up"`)
	if rc != 0 || !strings.Contains(out, "update\t") {
		t.Errorf("fish: docker stateful up<TAB>: rc=%d %q %s", rc, out, errOut)
	}
	out, errOut, _ = u.run(t, "fish", "-c", `complete -C "docker stateful update e2e-"`)
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		name, _, _ := strings.Cut(l, "\t")
		got = append(got, name)
	}
	if indexOf(got, managed) < 0 || indexOf(got, plain) < 0 {
		t.Errorf("fish: docker stateful update e2e-<TAB>: %q, want %s and %s (%s)", got, managed, plain, errOut)
	}
}

func commonPrefix(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return a[:i]
}

// BenchmarkCompletion compares a TAB on docker stateful update with one on
// docker's builtin service update, on the same daemon, alternating them:
//
//	go test -tags e2e -run '^$' -bench Completion -benchtime 50x ./e2e/
//
// Target: stateful/builtin ≤ 1.2 (reported as the "ratio" metric).
func BenchmarkCompletion(b *testing.B) {
	C.RequirePlugin(b)
	env := append(C.DockerEnv(), "DOCKER_HOST="+C.Manager().Host)
	run := func(args ...string) time.Duration {
		cmd := exec.Command("docker", args...)
		cmd.Env = env
		t0 := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("docker %v: %v\n%s", args, err, out)
		}
		return time.Since(t0)
	}
	builtin := []string{"__complete", "service", "update", ""}
	ours := []string{"__complete", "stateful", "update", ""}
	for i := 0; i < 3; i++ {
		run(builtin...)
		run(ours...)
	}
	var tb, to []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tb = append(tb, run(builtin...))
		to = append(to, run(ours...))
	}
	mb, mo := median(tb), median(to)
	b.ReportMetric(float64(mb.Microseconds())/1000, "builtin-ms")
	b.ReportMetric(float64(mo.Microseconds())/1000, "stateful-ms")
	b.ReportMetric(float64(mo)/float64(mb), "ratio")
	if b.N < 10 {
		return // testing's first probe run (b.N == 1)
	}
	fmt.Fprintf(os.Stderr, "completion: docker service update %s, docker stateful update %s (median of %d, alternating): %.2fx\n", mb, mo, b.N, float64(mo)/float64(mb))
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[len(s)/2]
}
