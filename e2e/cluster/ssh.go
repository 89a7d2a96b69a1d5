package cluster

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SSH is an sshd running in a node's namespaces, reachable at the node's
// address, that lets in a key made for the test. A session's `docker` talks
// to that node's dockerd (sshd sets DOCKER_HOST for it), so
// DOCKER_HOST=ssh://root@<node addr>:<port> works as with a real remote
// engine: docker's connection helper runs `ssh … docker system dial-stdio`.
type SSH struct {
	Node Node
	Port int
	// Host is the DOCKER_HOST value: ssh://root@<addr>:<port>.
	Host string
	// Bin holds an `ssh` that uses the test's key and known_hosts (ssh reads
	// ~/.ssh of the passwd entry, not $HOME, so a config is passed with -F):
	// put it first in PATH.
	Bin string
}

// StartSSH starts sshd in node n (net, mount and UTS namespaces of its
// dockerd) on a free port; it is stopped when the test ends (and by swarm.sh
// down, which kills every process of the node's namespace).
func (c *Cluster) StartSSH(t testing.TB, n int) *SSH {
	t.Helper()
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		t.Skip("no /usr/sbin/sshd (make deps installs openssh-server)")
	}
	node := c.Node(n)
	// In the cluster's state dir: visible in the node's mount namespace,
	// and gone with the cluster.
	dir, err := os.MkdirTemp(c.StateDir, "ssh-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, k := range []string{"host_key", "id"} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "dst-e2e", "-f", filepath.Join(dir, k)).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	port := FreePort(t)
	files := map[string]string{
		"authorized_keys": read("id.pub") + "\n",
		"known_hosts":     fmt.Sprintf("[%s]:%d %s\n", node.Addr, port, read("host_key.pub")),
		"sshd_config": fmt.Sprintf(`ListenAddress %s:%d
HostKey %s/host_key
AuthorizedKeysFile %s/authorized_keys
PidFile none
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowTcpForwarding yes
SetEnv DOCKER_HOST=%s
`, node.Addr, port, dir, dir, node.Host),
		"ssh_config": fmt.Sprintf(`Host *
  IdentityFile %s/id
  IdentitiesOnly yes
  UserKnownHostsFile %s/known_hosts
  StrictHostKeyChecking yes
  BatchMode yes
`, dir, dir),
		"bin/ssh": fmt.Sprintf("#!/bin/sh\nexec /usr/bin/ssh -F %s/ssh_config \"$@\"\n", dir),
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "bin/ssh"), 0o755); err != nil {
		t.Fatal(err)
	}

	pid, err := os.ReadFile(filepath.Join(filepath.Dir(strings.TrimPrefix(node.Host, "unix://")), "dockerd.pid"))
	if err != nil {
		t.Fatalf("node%d's dockerd pid: %v", n, err)
	}
	var logb bytes.Buffer
	cmd := exec.Command("nsenter", "-t", strings.TrimSpace(string(pid)), "-n", "-m", "-u",
		"sh", "-c", `mkdir -p /run/sshd && exec /usr/sbin/sshd -D -e -f "$1"`, "sh", filepath.Join(dir, "sshd_config"))
	cmd.Stdout, cmd.Stderr = &logb, &logb
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting sshd in node%d: %v", n, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // sshd itself: sh and nsenter exec it
		<-done
		t.Logf("sshd in node%d:\n%s", n, logb.String())
	})
	addr := net.JoinHostPort(node.Addr, strconv.Itoa(port))
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			break
		}
		select {
		case <-done:
			t.Fatalf("sshd in node%d exited:\n%s", n, logb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd in node%d does not listen on %s:\n%s", n, addr, logb.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &SSH{Node: node, Port: port, Host: fmt.Sprintf("ssh://root@%s:%d", node.Addr, port), Bin: filepath.Join(dir, "bin")}
}

// Env is DockerEnv with DOCKER_HOST set to the ssh:// host and the test's
// ssh first in PATH.
func (s *SSH) Env(c *Cluster) []string {
	var env []string
	for _, kv := range c.DockerEnv() {
		if strings.HasPrefix(kv, "PATH=") {
			kv = "PATH=" + s.Bin + ":" + strings.TrimPrefix(kv, "PATH=")
		}
		env = append(env, kv)
	}
	return append(env, "DOCKER_HOST="+s.Host)
}

// Block drops TCP to port of the node's address when it comes from the host
// (the bridge), as a laptop's firewall would, until the test ends;
// connections made inside the node (ssh -W from its sshd) still get through.
func (s *SSH) Block(t testing.TB, c *Cluster, port int) {
	t.Helper()
	from := s.Node.Addr[:strings.LastIndex(s.Node.Addr, ".")] + ".1" // the bridge: swarm.sh's <net>.1
	rule := []string{"-t", "raw", "PREROUTING", "-i", "eth0", "-s", from, "-p", "tcp", "--dport", strconv.Itoa(port), "-j", "DROP"}
	ipt := func(op string) error {
		args := append([]string{"netns", "exec", s.Node.Netns, "iptables", "-w"}, rule[:2]...)
		args = append(append(args, op), rule[2:]...)
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("iptables %s: %v: %s", op, err, out)
		}
		return nil
	}
	if err := ipt("-I"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ipt("-D"); err != nil {
			t.Errorf("removing the block of port %d in node%d: %v", port, s.Node.Index, err)
		}
	})
}
