// Package mysqltest starts a real mariadbd (Debian's mariadb-server) in a
// temporary directory for tests, listening on 127.0.0.1 only.
package mysqltest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Password is root's password on every test server.
const Password = "test-pw"

var (
	tmplOnce sync.Once
	tmplDir  string
	tmplErr  error
)

// template initializes one data directory per test binary (mariadb-install-db
// takes seconds), which every server copies.
func template() (string, error) {
	tmplOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mysqltest-tmpl-")
		if err != nil {
			tmplErr = err
			return
		}
		data := filepath.Join(dir, "data")
		out, err := exec.Command("mariadb-install-db", "--no-defaults", "--datadir="+data, "--user=root",
			"--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve").CombinedOutput()
		if err != nil {
			tmplErr = fmt.Errorf("mariadb-install-db: %v: %s", err, out)
			return
		}
		boot := exec.Command("mariadbd", "--no-defaults", "--bootstrap", "--datadir="+data, "--user=root", "--log-warnings=0")
		boot.Stdin = bytes.NewBufferString("use mysql;\nFLUSH PRIVILEGES;\nALTER USER root@localhost IDENTIFIED BY '" + Password + "';\nCREATE OR REPLACE USER root@'127.0.0.1' IDENTIFIED BY '" + Password + "';\nGRANT ALL ON *.* TO root@'127.0.0.1' WITH GRANT OPTION;\n")
		if out, err := boot.CombinedOutput(); err != nil {
			tmplErr = fmt.Errorf("bootstrap: %v: %s", err, out)
			return
		}
		tmplDir = data
	})
	return tmplDir, tmplErr
}

// Server is one running mariadbd.
type Server struct {
	Dir  string
	Port int
	cmd  *exec.Cmd
	t    testing.TB
}

// Addr is 127.0.0.1:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// Start runs a server on a copy of the template (skips the test when
// mariadbd is not installed); it stops with the test.
func Start(t testing.TB) *Server {
	t.Helper()
	if _, err := exec.LookPath("mariadbd"); err != nil {
		t.Skip("mariadbd not installed (apt-get install mariadb-server)")
	}
	tmpl, err := template()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if out, err := exec.Command("cp", "-a", tmpl, filepath.Join(dir, "data")).CombinedOutput(); err != nil {
		t.Fatalf("copy template: %v %s", err, out)
	}
	s := &Server{Dir: dir, t: t}
	s.Port = freePort(t)
	s.start()
	t.Cleanup(func() { s.Stop() })
	return s
}

func (s *Server) start() {
	s.t.Helper()
	s.cmd = exec.Command("mariadbd", "--no-defaults", "--datadir="+filepath.Join(s.Dir, "data"), "--user=root",
		"--bind-address=127.0.0.1", "--port="+strconv.Itoa(s.Port), "--socket="+filepath.Join(s.Dir, "sock"),
		"--pid-file="+filepath.Join(s.Dir, "pid"), "--innodb-buffer-pool-size=32M", "--skip-name-resolve",
		"--log-error="+filepath.Join(s.Dir, "error.log"))
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(s.Dir, "error.log"))
			s.t.Fatalf("mariadbd did not start: %s", log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop shuts the server down (SIGTERM: a clean InnoDB shutdown).
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart stops and starts the server on the same data.
func (s *Server) Restart() {
	s.Stop()
	time.Sleep(1100 * time.Millisecond) // a start time one second on at least
	s.start()
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
