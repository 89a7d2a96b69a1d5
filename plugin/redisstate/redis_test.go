package redisstate

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// testRedis is a real redis-server on 127.0.0.1 with a free port and a temp dir.
type testRedis struct {
	t    testing.TB
	bin  string
	Port int
	Dir  string
	Args []string
	cmd  *exec.Cmd
	log  string
	// TLS, when set, are the --tls-* arguments: the server then listens with TLS only
	// (--port 0 --tls-port Port).
	TLS []string
}

// needRedis skips (or fails when CI=true) if redis-server is not installed.
func needRedis(t testing.TB) string {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server not found in PATH (CI=true): %v", err)
		}
		t.Skip("redis-server not installed")
	}
	return bin
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startRedis starts redis-server with --save "" --appendonly no plus extra args.
func startRedis(t testing.TB, extra ...string) *testRedis {
	r := &testRedis{t: t, bin: needRedis(t), Port: freePort(t), Dir: t.TempDir(), Args: extra}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *testRedis) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.Port) }

func (r *testRedis) start() {
	r.t.Helper()
	args := []string{"--port", strconv.Itoa(r.Port), "--bind", "127.0.0.1", "--dir", r.Dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", "redis.log"}
	if r.TLS != nil {
		args[1] = "0"
		args = append(append(args, "--tls-port", strconv.Itoa(r.Port)), r.TLS...)
	}
	args = append(args, r.Args...)
	r.cmd = exec.Command(r.bin, args...)
	r.cmd.Dir = r.Dir
	r.log = filepath.Join(r.Dir, "redis.log")
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	if r.TLS != nil {
		for {
			conn, err := net.Dial("tcp", r.Addr())
			if err == nil {
				conn.Close()
				return
			}
			if time.Now().After(deadline) {
				b, _ := os.ReadFile(r.log)
				r.t.Fatalf("redis-server (TLS) did not start: %v\n%s", err, b)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr(), Protocol: 2, DisableIdentity: true, MaxRetries: -1})
	defer rdb.Close()
	for {
		err := rdb.Ping(context.Background()).Err()
		if err == nil || (err != nil && !isDialErr(err)) {
			return // answering (maybe LOADING / NOAUTH): up
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(r.log)
			r.t.Fatalf("redis-server did not start: %v\n%s", err, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func isDialErr(err error) bool {
	_, ok := err.(*net.OpError)
	if ok {
		return true
	}
	return IsUnreachable(describeErr("", err))
}

// stop terminates redis-server (SIGTERM; with --save "" no shutdown save) and waits.
func (r *testRedis) stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { r.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = r.cmd.Process.Kill()
		<-done
	}
	r.cmd = nil
}

// restart stops and starts the server on the same dir/port (new process, new hash seed).
func (r *testRedis) restart() {
	r.stop()
	r.start()
}

func (r *testRedis) client(t testing.TB) *Client {
	c, err := NewClient(Options{Addr: r.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (r *testRedis) raw(t testing.TB) *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr(), Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// loadMixed writes n of each kind: strings, small+large hashes/sets/zsets (listpack and
// hashtable), lists (short and > 1 LRANGE chunk), streams (with a group), TTL keys.
func loadMixed(t testing.TB, rdb *redis.Client, n int) {
	ctx := context.Background()
	pipe := rdb.Pipeline()
	exp := time.Now().Add(2 * time.Hour)
	for i := 0; i < n; i++ {
		pipe.Set(ctx, fmt.Sprintf("str:%d", i), fmt.Sprintf("value-%d", i), 0)
		pipe.HSet(ctx, fmt.Sprintf("hsmall:%d", i), "a", i, "b", "x")
		pipe.SAdd(ctx, fmt.Sprintf("ssmall:%d", i), "a", "b", i)
		pipe.ZAdd(ctx, fmt.Sprintf("zsmall:%d", i), redis.Z{Score: 1.5, Member: "a"}, redis.Z{Score: float64(i), Member: "b"})
		pipe.RPush(ctx, fmt.Sprintf("list:%d", i), "a", "b", i)
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: fmt.Sprintf("stream:%d", i), ID: "1-1", Values: []string{"f", "v", "g", strconv.Itoa(i)}})
		pipe.Set(ctx, fmt.Sprintf("ttl:%d", i), i, 0)
		pipe.PExpireAt(ctx, fmt.Sprintf("ttl:%d", i), exp)
		pipe.HSet(ctx, fmt.Sprintf("httl:%d", i), "f", i)
		pipe.PExpireAt(ctx, fmt.Sprintf("httl:%d", i), exp)
	}
	// big collections: hashtable/skiplist encodings, several SCAN pages
	for i := 0; i < 3000; i++ {
		pipe.HSet(ctx, "hbig", fmt.Sprintf("field:%d", i), i)
		pipe.SAdd(ctx, "sbig", fmt.Sprintf("member:%d", i))
		pipe.SAdd(ctx, "sintbig", i) // intset
		pipe.ZAdd(ctx, "zbig", redis.Z{Score: float64(i) / 3, Member: fmt.Sprintf("m:%d", i)})
		pipe.RPush(ctx, "lbig", fmt.Sprintf("e%d", i))
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: "xbig", Values: []string{"i", strconv.Itoa(i)}})
	}
	pipe.Set(ctx, "bigstr", string(make([]byte, 100000)), 0)
	pipe.HSet(ctx, "bin\x00\xff key", "\x00", "\xff\xfe") // binary key, field and value
	pipe.XGroupCreate(ctx, "stream:0", "grp", "0")
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
}

// fingerprintTo takes a committed snapshot (TakeSnapshot) and checks the progress report.
func fingerprintTo(t testing.TB, st *Store, c *Client) *Snapshot {
	var last ScanProgress
	snap, err := TakeSnapshot(context.Background(), c, st, "svc", nil, FingerprintOptions{
		ProgressEvery: 10 * time.Millisecond, Progress: func(p ScanProgress) { last = p }})
	if err != nil {
		t.Fatalf("fingerprint: %v", err)
	}
	if !last.Done || last.Keys != snap.Summary.Keys {
		t.Errorf("final progress %+v, keys %d", last, snap.Summary.Keys)
	}
	if snap.Summary.Service != "svc" || snap.Summary.ID == "" {
		t.Errorf("summary %+v", snap.Summary)
	}
	return snap
}
