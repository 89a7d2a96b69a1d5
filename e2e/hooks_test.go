//go:build e2e

package e2e

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/docker-stateful/docker-stateful/e2e/cluster"
)

// section is what the terminal shows between the line "START-<tag>" and the
// line "END-<tag>" that the shell echoes around a command.
func section(t *testing.T, sh *tmuxShell, tag string, timeout time.Duration) string {
	t.Helper()
	scr := sh.waitFor(`(?m)^END-`+tag+`\s*$`, timeout)
	m := regexp.MustCompile(`(?ms)^START-` + tag + `\s*$(.*)^END-` + tag + `\s*$`).FindStringSubmatch(scr)
	if m == nil {
		t.Fatalf("no START-%s…END-%s on the screen:\n%s", tag, tag, scr)
	}
	return m[1]
}

// TestHooksHint: with the hooks registered by install.sh --hooks, a plain
// docker service update (and create) in a terminal prints docker stateful's
// hint for the seed's unsafe service, and nothing for a safe one.
func TestHooksHint(t *testing.T) {
	unsafe := C.ServiceName(t)
	safe := C.ServiceName(t)
	created := C.ServiceName(t)
	vol := C.VolumeName(t)
	C.Docker(t, 1, "service", "create", "--quiet", "--name", unsafe, "--no-resolve-image",
		"-p", cluster.PublishRedis(cluster.FreePort(t)), "redis")
	C.Docker(t, 1, "service", "create", "--quiet", "--name", safe, "--no-resolve-image",
		"--mount", "type=volume,source="+vol+",target=/data", "--constraint", "node.id=="+C.Node(2).ID, "redis")

	u := newUser(t)
	u.install(t, "--hooks", "--no-completion")
	sh := newTmux(t, append(u.env(), "TERM=xterm"), "bash", "--norc", "--noprofile", "-i")

	run := func(tag, cmdline string) string {
		t.Helper()
		sh.send("clear; echo START-"+tag+"; "+cmdline+"; echo END-"+tag, "Enter")
		return section(t, sh, tag, 3*time.Minute)
	}

	out := run("unsafe", "docker service update --limit-memory 100M "+unsafe)
	want := unsafe + ": /data is on the anonymous volume of the image's VOLUME, lost on every update; to keep it from now on (what is there now cannot be carried over): docker stateful update --force --mount-add type=volume,source=" + unsafe + "-data,target=/data --constraint-add node.id=="
	if !strings.Contains(out, "What's next:") || !strings.Contains(out, want) {
		t.Errorf("docker service update of the seed's service: no hint %q:\n%s", want, out)
	}
	// The hint pins to the node the task runs on.
	node := C.Docker(t, 1, "service", "ps", "--filter", "desired-state=running", "--format", "{{.Node}}", unsafe)
	if n, ok := C.NodeByHostname(node); !ok || !strings.Contains(out, "node.id=="+n.ID+" "+unsafe) {
		t.Errorf("hint does not pin to %s, where the task runs:\n%s", node, out)
	}

	// The hint's command fixes it: afterwards a plain update says nothing.
	fix := regexp.MustCompile(`docker stateful update [^\n]* ` + regexp.QuoteMeta(unsafe)).FindString(out)
	if fix == "" {
		t.Fatalf("no docker stateful command in the hint:\n%s", out)
	}
	if stdout, stderr, rc := u.run(t, "docker", strings.Fields(fix)[1:]...); rc != 0 {
		t.Fatalf("%s: rc=%d\n%s%s", fix, rc, stdout, stderr)
	}
	if out := run("fixed", "docker service update --limit-memory 120M "+unsafe); strings.Contains(out, "What's next:") {
		t.Errorf("hint still printed after running its command (%s):\n%s", fix, out)
	}

	if out := run("safe", "docker service update --limit-memory 100M "+safe); strings.Contains(out, "What's next:") || strings.Contains(out, "docker stateful") {
		t.Errorf("docker service update of a safe service printed a hint:\n%s", out)
	}

	out = run("create", "docker service create --detach --quiet --no-resolve-image --name "+created+" redis")
	if !strings.Contains(out, created+": /data is on the anonymous volume of the image's VOLUME") {
		t.Errorf("docker service create --name %s: no hint:\n%s", created, out)
	}

	// Hints are for people: none without a terminal (docker's rule), even
	// for a service at risk.
	if stdout, stderr, _ := u.run(t, "docker", "service", "update", "--detach", "--limit-memory", "110M", created); strings.Contains(stdout+stderr, "What's next") {
		t.Errorf("hint printed without a terminal:\n%s%s", stdout, stderr)
	}
}

// TestHooksNeverHang: the hook runs after the user's command, which docker
// waits for. With a daemon that accepts connections and never answers, it
// must give up quickly and print nothing; with no daemon, at once.
func TestHooksNeverHang(t *testing.T) {
	bin := pluginBinary(t)
	sock := filepath.Join(t.TempDir(), "stuck.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		var held []net.Conn
		for {
			c, err := l.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c) // never answer
		}
	}()
	data := `{"RootCmd":"service update","Flags":{"limit-memory":""},"CommandError":""}`
	for name, host := range map[string]string{
		"stuck daemon": "unix://" + sock,
		"no daemon":    "unix://" + filepath.Join(t.TempDir(), "none.sock"),
		"harness":      C.Manager().Host,
	} {
		cmd := exec.Command(bin, "stateful", "docker-cli-plugin-hooks", data)
		cmd.Env = append(C.DockerEnv(), "DOCKER_HOST="+host)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		t0 := time.Now()
		err := cmd.Run()
		took := time.Since(t0)
		t.Logf("hook with %s: %s, rc=%v, %d bytes out", name, took.Round(time.Millisecond), err, out.Len())
		if took > 3*time.Second {
			t.Errorf("hook with %s took %s", name, took)
		}
		if name != "harness" && (err != nil || out.Len() > 0 || errb.Len() > 0) {
			t.Errorf("hook with %s: want silence and exit 0, got %v\nstdout: %s\nstderr: %s", name, err, out.String(), errb.String())
		}
	}
	_ = os.Remove(sock)
}
