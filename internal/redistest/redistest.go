// Package redistest starts a throwaway redis-server on 127.0.0.1 for unit
// tests of the packages that talk to Redis.
package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Start runs redis-server on a free loopback port with its own directory and
// --save "" --appendonly no (then extra), until the test ends; it returns the
// address and the directory. Without redis-server the test is skipped
// (failed when CI=true).
func Start(t testing.TB, extra ...string) (addr, dir string) {
	t.Helper()
	s := StartServer(t, extra...)
	return s.Addr, s.Dir
}

// Server is a redis-server that a test can restart on the same port and
// directory (a task replaced by an update, its data on the same volume).
type Server struct {
	Addr, Dir string
	t         testing.TB
	bin       string
	args      []string
	cmd       *exec.Cmd
}

// StartServer is Start, returning a Server that can be restarted.
func StartServer(t testing.TB, extra ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server not found in PATH (CI=true): %v", err)
		}
		t.Skip("redis-server not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), Dir: t.TempDir(), t: t, bin: bin}
	s.args = append([]string{"--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"}, extra...)
	t.Cleanup(s.kill)
	s.Start(s.Dir)
	s.WaitUp()
	return s
}

// Start runs the server on dir (it must not be running); it does not wait.
func (s *Server) Start(dir string) {
	s.t.Helper()
	s.cmd = exec.Command(s.bin, append(append([]string{}, s.args...), "--dir", dir)...)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
}

// WaitUp waits until the server answers PING (loaded).
func (s *Server) WaitUp() {
	s.t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer rdb.Close()
	for i := 0; i < 200; i++ {
		if rdb.Ping(context.Background()).Err() == nil {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	s.t.Fatal("redis-server did not start")
}

// Stop shuts the server down as a task's SIGTERM does (it saves first,
// whatever --save says, when it has a save point; SHUTDOWN SAVE here).
func (s *Server) Stop(save bool) {
	s.t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer rdb.Close()
	mode := "NOSAVE"
	if save {
		mode = "SAVE"
	}
	_ = rdb.Do(context.Background(), "SHUTDOWN", mode).Err()
	_ = s.cmd.Wait()
}

func (s *Server) kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
}
