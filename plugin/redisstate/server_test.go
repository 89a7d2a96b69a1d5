package redisstate

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/docker-stateful/docker-stateful/internal/redistest"
)

// valkeyInfo is the start of Valkey 8.1.1's INFO (Debian 13's valkey-server): it keeps
// redis_version at 7.2.4 and says what it is in server_name and valkey_version.
const valkeyInfo = "# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:8.1.1\r\n" +
	"redis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\nserver_mode:standalone\r\n" +
	"os:Linux 6.1.0 x86_64\r\narch_bits:64\r\nrun_id:5b1f0c1e9d3a4c7f8e2b6a0d1c3e5f7a9b0c2d4e\r\n" +
	"uptime_in_seconds:12\r\n\r\n# Persistence\r\nloading:0\r\nasync_loading:0\r\n" +
	"rdb_last_load_keys_loaded:3\r\nrdb_last_load_keys_expired:0\r\n\r\n# Keyspace\r\ndb0:keys=3,expires=1,avg_ttl=0\r\n"

// fakeInfoRedis answers INFO with body and PING with PONG, every other command with an error.
func fakeInfoRedis(t *testing.T, body string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func(conn net.Conn) {
				defer conn.Close()
				br := bufio.NewReader(conn)
				for {
					args, err := readRESP(br)
					if err != nil {
						return
					}
					reply := "-ERR unknown command\r\n"
					switch strings.ToUpper(args[0]) {
					case "INFO":
						reply = fmt.Sprintf("$%d\r\n%s\r\n", len(body), body)
					case "PING":
						reply = "+PONG\r\n"
					}
					if _, err := conn.Write([]byte(reply)); err != nil {
						return
					}
				}
			}(conn)
		}
	}()
	return ln.Addr().String()
}

// TestServerInfoValkey: a Valkey server is described as Valkey with its own version,
// while Version keeps the redis_version it claims (the feature checks go by it).
func TestServerInfoValkey(t *testing.T) {
	c, err := NewClient(Options{Addr: fakeInfoRedis(t, valkeyInfo)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	si, err := c.ServerInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if si.Server != "Valkey" || si.ServerVersion != "8.1.1" || si.Version != "7.2.4" {
		t.Errorf("server %q %q, redis_version %q; want Valkey 8.1.1, 7.2.4", si.Server, si.ServerVersion, si.Version)
	}
	if got := si.Describe(); got != "Valkey 8.1.1" {
		t.Errorf("Describe() = %q, want Valkey 8.1.1", got)
	}
	if !si.AtLeast(7, 2) || si.Keys != 3 {
		t.Errorf("AtLeast(7,2) %v, keys %d", si.AtLeast(7, 2), si.Keys)
	}
}

// TestServerInfoRealRedis: the host's real redis-server is described as Redis with the
// version `redis-server --version` prints.
func TestServerInfoRealRedis(t *testing.T) {
	out, err := exec.Command("redis-server", "--version").Output()
	if err != nil {
		t.Skipf("no redis-server: %v", err)
	}
	want := regexp.MustCompile(`v=([0-9.]+)`).FindStringSubmatch(string(out))
	if want == nil {
		t.Fatalf("redis-server --version: %q", out)
	}
	addr, _ := redistest.Start(t)
	c, err := NewClient(Options{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	si, err := c.ServerInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := si.Describe(); got != "Redis "+want[1] || si.ServerVersion != si.Version {
		t.Errorf("Describe() = %q (server version %q, redis_version %q), want Redis %s", got, si.ServerVersion, si.Version, want[1])
	}
}

func TestDescribeServer(t *testing.T) {
	for _, tc := range []struct{ name, version, redis, want string }{
		{"", "", "7.0.15", "Redis 7.0.15"}, // a record written before the server was kept
		{"Valkey", "8.1.1", "7.2.4", "Valkey 8.1.1"},
		{"Redis", "", "8.0.2", "Redis 8.0.2"},
		{"", "", "", "Redis"},
	} {
		if got := DescribeServer(tc.name, tc.version, tc.redis); got != tc.want {
			t.Errorf("DescribeServer(%q, %q, %q) = %q, want %q", tc.name, tc.version, tc.redis, got, tc.want)
		}
	}
	for _, tc := range []struct{ info, name, version string }{
		{"redis_version:8.0.2\r\n", "Redis", "8.0.2"},
		{"redis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:9.0.0\r\n", "Valkey", "9.0.0"},
		{"redis_version:7.2.4\r\nserver_name:redis\r\n", "Redis", "7.2.4"},
	} {
		if n, v := serverOf(parseInfo(tc.info)); n != tc.name || v != tc.version {
			t.Errorf("serverOf(%q) = %q %q, want %q %q", tc.info, n, v, tc.name, tc.version)
		}
	}
}
