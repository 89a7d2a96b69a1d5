package sshdial

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestFromDockerHost(t *testing.T) {
	for _, tc := range []struct {
		host, str string
		args      []string
	}{
		{"ssh://root@10.0.0.1", "ssh root@10.0.0.1", []string{"-l", "root", "-o", "ConnectTimeout=30", "-T", "-W", "10.0.0.1:6379", "--", "10.0.0.1"}},
		{"ssh://me@node:2222", "ssh me@node -p 2222", []string{"-l", "me", "-p", "2222", "-o", "ConnectTimeout=30", "-T", "-W", "10.0.0.1:6379", "--", "node"}},
		{"ssh://node", "ssh node", []string{"-o", "ConnectTimeout=30", "-T", "-W", "10.0.0.1:6379", "--", "node"}},
	} {
		v, ok := FromDockerHost(tc.host)
		if !ok {
			t.Fatalf("%s: not an ssh host", tc.host)
		}
		if v.String() != tc.str {
			t.Errorf("%s: String %q, want %q", tc.host, v.String(), tc.str)
		}
		if got := v.Args("10.0.0.1:6379"); !reflect.DeepEqual(got, tc.args) {
			t.Errorf("%s: Args %q, want %q", tc.host, got, tc.args)
		}
	}
	for _, h := range []string{"", "unix:///var/run/docker.sock", "tcp://1.2.3.4:2376", "npipe:////./pipe/docker_engine", "ssh://u:pw@host", "ssh://"} {
		if _, ok := FromDockerHost(h); ok {
			t.Errorf("%q taken for an ssh host", h)
		}
	}
}

// echo listens on 127.0.0.1 and answers each line with "echo: " + line.
func echo(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				s := bufio.NewScanner(c)
				for s.Scan() {
					fmt.Fprintf(c, "echo: %s\n", s.Text())
				}
			}()
		}
	}()
	return l.Addr().String()
}

func roundTrip(c net.Conn, line string) (string, error) {
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintln(c, line); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}

// TestFallbackDirect: a reachable address stays direct, and once it was
// reached a refused connection (the server restarting) is returned as is,
// never sent through SSH.
func TestFallbackDirect(t *testing.T) {
	addr := echo(t)
	f := &Fallback{Via: &Via{}, Reached: func(string, *Via, error) { t.Error("Reached called for a direct connection") }}
	c, err := f.Dial(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := roundTrip(c, "hi"); err != nil || got != "echo: hi\n" {
		t.Fatalf("direct: %q %v", got, err)
	}
	c.Close()
	if ssh, _ := f.UsesSSH(addr); ssh {
		t.Fatal("a reachable address goes through SSH")
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := l.Addr().String()
	l.Close()
	f.route(closed).direct = true // reached before, now restarting
	if _, err := f.Dial(context.Background(), "tcp", closed); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("dial of a closed port once reached: %v, want connection refused", err)
	}
	if ssh, _ := f.UsesSSH(closed); ssh {
		t.Fatal("a refused connection to an address reached before switched to SSH")
	}
}

// sshd starts a real sshd on 127.0.0.1 that lets in a key made here, and
// puts an ssh that uses that key first in PATH (root only: sshd needs it).
func sshd(t *testing.T) *Via {
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil || os.Getuid() != 0 {
		t.Skip("needs root and /usr/sbin/sshd (make deps installs openssh-server)")
	}
	dir := t.TempDir()
	for _, k := range []string{"host_key", "id"} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, k)).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	pub, _ := os.ReadFile(filepath.Join(dir, "id.pub"))
	hostPub, _ := os.ReadFile(filepath.Join(dir, "host_key.pub"))
	files := map[string]string{
		"authorized_keys": string(pub),
		"known_hosts":     fmt.Sprintf("[127.0.0.1]:%d %s", port, hostPub),
		"sshd_config": fmt.Sprintf("ListenAddress 127.0.0.1:%d\nHostKey %s/host_key\nAuthorizedKeysFile %s/authorized_keys\nPidFile none\nStrictModes no\nUsePAM no\nPasswordAuthentication no\nPermitRootLogin prohibit-password\n",
			port, dir, dir),
		"ssh_config": fmt.Sprintf("Host *\n  IdentityFile %s/id\n  IdentitiesOnly yes\n  UserKnownHostsFile %s/known_hosts\n  StrictHostKeyChecking yes\n  BatchMode yes\n", dir, dir),
		"bin/ssh":    fmt.Sprintf("#!/bin/sh\nexec /usr/bin/ssh -F %s/ssh_config \"$@\"\n", dir),
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		_ = os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, []byte(data), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	_ = os.MkdirAll("/run/sshd", 0o755) // sshd's privilege separation directory
	cmd := exec.Command("/usr/sbin/sshd", "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	var log strings.Builder
	cmd.Stderr = &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); t.Logf("sshd:\n%s", log.String()) })
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			break
		}
		if i > 100 {
			t.Fatalf("sshd does not listen:\n%s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Setenv("PATH", filepath.Join(dir, "bin")+":"+os.Getenv("PATH"))
	v, _ := FromDockerHost(fmt.Sprintf("ssh://root@127.0.0.1:%d", port))
	return v
}

// TestViaDial goes through a real sshd: bytes flow both ways, and a port
// where nothing listens is one line from ssh, as a net.OpError.
func TestViaDial(t *testing.T) {
	v := sshd(t)
	addr := echo(t)
	c, err := v.Dial(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := roundTrip(c, "through ssh"); err != nil || got != "echo: through ssh\n" {
		t.Fatalf("through ssh: %q %v", got, err)
	}
	c.Close()

	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := l.Addr().String()
	l.Close()
	c, err = v.Dial(context.Background(), "tcp", closed)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = roundTrip(c, "anyone?")
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Net != "ssh" || !strings.Contains(err.Error(), "Connection refused") ||
		!strings.Contains(err.Error(), v.String()) || strings.Contains(err.Error(), "Docker 18.09") {
		t.Fatalf("through ssh to a closed port: %v, want one line from ssh saying connection refused", err)
	}
}

// TestFallbackThroughSSH: when the direct dial fails, the connection goes
// through SSH, Reached is told once, and later dials stay on SSH.
func TestFallbackThroughSSH(t *testing.T) {
	v := sshd(t)
	addr := echo(t)
	calls := 0
	var why error
	f := &Fallback{Via: v, Reached: func(a string, via *Via, direct error) { calls++; why = direct }}
	// The direct path fails (as a firewall would make it) the first time.
	f.route(addr).ssh, f.route(addr).why = true, errors.New("i/o timeout")
	for i := 0; i < 2; i++ {
		c, err := f.Dial(context.Background(), "tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := roundTrip(c, "hi"); err != nil || got != "echo: hi\n" {
			t.Fatalf("through the fallback: %q %v", got, err)
		}
		c.Close()
	}
	if calls != 1 || why == nil || why.Error() != "i/o timeout" {
		t.Fatalf("Reached called %d times with %v, want once with the direct error", calls, why)
	}

	// Neither way works: the error says both.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := l.Addr().String()
	l.Close()
	f.route(closed).ssh, f.route(closed).why = true, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("i/o timeout")}
	c, err := f.Dial(context.Background(), "tcp", closed)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = roundTrip(c, "anyone?")
	var oe *net.OpError
	want := "direct connection failed (i/o timeout), and through " + v.String() + ": "
	if !errors.As(err, &oe) || oe.Net != "ssh" || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "Connection refused") {
		t.Fatalf("neither way: %v, want %q … Connection refused", err, want)
	}
	if calls != 1 {
		t.Errorf("Reached called for a failed connection")
	}
}
