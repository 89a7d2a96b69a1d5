package redisstate

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestOptionsRedactPassword(t *testing.T) {
	o := Options{Addr: "10.0.0.1:6379", Username: "app", Password: "s3cret-pw", DB: 2, OnlyDB: true}
	outs := []string{o.String(), fmt.Sprint(o), fmt.Sprintf("%v %+v %#v %s %q", o, o, o, o.Password, o.Password)}
	b, _ := json.Marshal(o)
	outs = append(outs, string(b))
	b, _ = json.Marshal(&struct{ O *Options }{&o})
	outs = append(outs, string(b))
	for _, s := range outs {
		if strings.Contains(s, "s3cret") {
			t.Errorf("password leaked: %s", s)
		}
	}
	if o.String() != "redis://app:***@10.0.0.1:6379/2" {
		t.Errorf("String() = %s", o.String())
	}
	if o.Password.Reveal() != "s3cret-pw" {
		t.Error("Reveal")
	}
}

func TestParseURL(t *testing.T) {
	o, err := ParseURL("rediss://app@redis.example:7000/3")
	if err != nil || !o.TLS || o.Username != "app" || o.Addr != "redis.example:7000" || o.DB != 3 {
		t.Fatalf("%+v %v", o, err)
	}
	if !o.OnlyDB {
		t.Errorf("/3 must mean only database 3: %+v", o)
	}
	o, err = ParseURL("redis://10.0.0.1")
	if err != nil || o.Addr != "10.0.0.1:6379" || o.DB != 0 || o.OnlyDB {
		t.Fatalf("no database in the URL means every database: %+v %v", o, err)
	}
	// ?db=N is never ignored: it means only that database, like /N
	for _, u := range []string{"redis://h:1/?db=5", "redis://h:1?db=5", "redis://h:1/5?db=5"} {
		o, err = ParseURL(u)
		if err != nil || o.DB != 5 || !o.OnlyDB {
			t.Errorf("%s: %+v %v", u, o, err)
		}
	}
	for u, want := range map[string]string{
		"redis://h:1/2?db=5":         "two databases given (2 and 5)",
		"redis://h:1/?db=1&db=2":     "two databases given (1 and 2)",
		"redis://h:1/?db=x":          `database must be a number, got "x"`,
		"redis://h:1/?protocol=3":    `unknown parameter "protocol"`,
		"redis://h:1/?password=pw":   `unknown parameter "password"`,
		"redis://h:1/0?db=0&dial=1s": `unknown parameter "dial"`,
		"redis://h:0/0":              `port must be 1-65535, got "0"`,
		"redis://h:99999":            `port must be 1-65535, got "99999"`,
		"redis://h:65536":            `port must be 1-65535, got "65536"`,
		"redis://h:00000":            `port must be 1-65535, got "00000"`,
	} {
		if _, err := ParseURL(u); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", u, err, want)
		}
	}
	o, err = ParseURL("redis://[::1]:6380/0")
	if err != nil || o.Addr != "[::1]:6380" {
		t.Fatalf("%+v %v", o, err)
	}
	_, err = ParseURL("redis://app:hunter2@host:1/0")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("password in URL must be refused without echoing it: %v", err)
	}
	for _, bad := range []string{"http://x", "redis:///0", "redis://h/x"} {
		if _, err := ParseURL(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestLoadPassword(t *testing.T) {
	var o Options
	env := map[string]string{"REDISCLI_AUTH": "from-env"}
	if err := o.LoadPassword(func(k string) string { return env[k] }, ""); err != nil || o.Password.Reveal() != "from-env" {
		t.Fatal(o.Password.Reveal(), err)
	}
	f := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(f, []byte("from-file\n"), 0o600)
	if err := o.LoadPassword(func(k string) string { return env[k] }, f); err != nil || o.Password.Reveal() != "from-file" {
		t.Fatal(o.Password.Reveal(), err)
	}
}

// TestLostConnection: a server that stops answering (a node cut off) or
// closes the connection is a lost connection, however the error was
// wrapped; an error reply of Redis is not.
func TestLostConnection(t *testing.T) {
	serve := func(t *testing.T, handle func(net.Conn)) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				conn, err := l.Accept()
				if err != nil {
					return
				}
				go handle(conn)
			}
		}()
		return l.Addr().String()
	}
	silent := serve(t, func(c net.Conn) { time.Sleep(5 * time.Second); c.Close() })
	closing := serve(t, func(c net.Conn) { c.Close() })
	erring := serve(t, func(c net.Conn) {
		defer c.Close()
		r := bufio.NewReader(c)
		for {
			if _, err := r.ReadString('\n'); err != nil {
				return
			}
			if r.Buffered() == 0 {
				_, _ = c.Write([]byte("-ERR boom\r\n"))
			}
		}
	})
	for _, tc := range []struct {
		name, addr string
		lost       bool
	}{{"no answer", silent, true}, {"closed", closing, true}, {"an error reply", erring, false}} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := NewClient(Options{Addr: tc.addr, ReadTimeout: 200 * time.Millisecond})
			defer c.Close()
			_, err := c.Info(context.Background(), "server")
			if err == nil {
				t.Fatal("no error")
			}
			if got := LostConnection(fmt.Errorf("verify: SCAN: %w", err)); got != tc.lost {
				t.Errorf("LostConnection(%v) = %v, want %v", err, got, tc.lost)
			}
		})
	}
	if LostConnection(nil) {
		t.Error("LostConnection(nil) = true")
	}
}

func TestWrongPasswordAndUnreachable(t *testing.T) {
	r := startRedis(t, "--requirepass", "right-password")
	ctx := context.Background()

	c, _ := NewClient(Options{Addr: r.Addr(), Password: "wrong"})
	defer c.Close()
	_, err := c.WaitReady(ctx, 5*time.Second, nil)
	want := "Redis at " + r.Addr() + " refused the password (WRONGPASS)"
	if err == nil || err.Error() != want || !IsAuthError(err) {
		t.Errorf("wrong password: %v, want %q", err, want)
	}
	if err != nil && strings.Contains(err.Error(), "wrong") {
		t.Error("password echoed")
	}

	c, _ = NewClient(Options{Addr: r.Addr()})
	defer c.Close()
	err = c.Ping(ctx)
	if err == nil || !strings.HasPrefix(err.Error(), "Redis at "+r.Addr()+" requires a password (NOAUTH)") {
		t.Errorf("no password: %v", err)
	}

	c, _ = NewClient(Options{Addr: r.Addr(), Password: "right-password"})
	defer c.Close()
	if _, err := c.WaitReady(ctx, 5*time.Second, nil); err != nil {
		t.Errorf("right password: %v", err)
	}

	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	c, _ = NewClient(Options{Addr: addr})
	defer c.Close()
	err = c.Ping(ctx)
	if err == nil || err.Error() != "cannot reach Redis at "+addr+": connection refused" {
		t.Errorf("unreachable: %v", err)
	}
	var polls int
	_, err = c.WaitReady(ctx, 700*time.Millisecond, func(WaitStatus) { polls++ })
	if err == nil || !strings.HasPrefix(err.Error(), "cannot reach Redis at "+addr+": connection refused (gave up after") || polls < 2 {
		t.Errorf("unreachable wait: %v (polls %d)", err, polls)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Error("multi-line error")
	}
}

// fakeLoadingRedis speaks just enough RESP2: INFO answers loading:1 for the first n calls,
// every other command answers -LOADING until then.
func fakeLoadingRedis(t *testing.T, n int32) (string, *atomic.Int32) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var infos atomic.Int32
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
					cmd := strings.ToUpper(args[0])
					loading := infos.Load() < n
					var reply string
					switch {
					case cmd == "INFO":
						i := infos.Add(1)
						var body string
						if loading {
							body = fmt.Sprintf("# Persistence\r\nloading:1\r\nasync_loading:0\r\nloading_loaded_perc:%d.00\r\nloading_eta_seconds:%d\r\n", i*10, n-i)
						} else {
							body = "# Server\r\nredis_version:7.0.15\r\nrun_id:fakerunid\r\n# Persistence\r\nloading:0\r\nasync_loading:0\r\n# Keyspace\r\ndb0:keys=5,expires=0,avg_ttl=0\r\n"
						}
						reply = fmt.Sprintf("$%d\r\n%s\r\n", len(body), body)
					case loading:
						reply = "-LOADING Redis is loading the dataset in memory\r\n"
					case cmd == "PING":
						reply = "+PONG\r\n"
					default:
						reply = "-ERR unknown command\r\n"
					}
					if _, err := conn.Write([]byte(reply)); err != nil {
						return
					}
				}
			}(conn)
		}
	}()
	return ln.Addr().String(), &infos
}

func readRESP(br *bufio.Reader) ([]string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return nil, err
	}
	var n int
	if _, err := fmt.Sscanf(line, "*%d", &n); err != nil {
		return nil, err
	}
	args := make([]string, n)
	for i := range args {
		if _, err := br.ReadString('\n'); err != nil { // $len
			return nil, err
		}
		s, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		args[i] = strings.TrimRight(s, "\r\n")
	}
	return args, nil
}

func TestWaitReadyWhileLoadingFake(t *testing.T) {
	old := pollInterval
	pollInterval = 10 * time.Millisecond
	defer func() { pollInterval = old }()
	addr, infos := fakeLoadingRedis(t, 5)
	c, _ := NewClient(Options{Addr: addr})
	defer c.Close()
	ctx := context.Background()
	if err := c.rdb.Ping(ctx).Err(); err == nil || !strings.HasPrefix(err.Error(), "LOADING") {
		t.Fatalf("fake should answer LOADING to PING: %v", err)
	}
	var seen []WaitStatus
	si, err := c.WaitReady(ctx, 5*time.Second, func(s WaitStatus) { seen = append(seen, s) })
	if err != nil {
		t.Fatal(err)
	}
	if si.RunID != "fakerunid" || si.Keys != 5 {
		t.Errorf("server info %+v", si)
	}
	if len(seen) < 4 || seen[0].Waiting != "loading" || seen[0].LoadedPerc != 10 || seen[0].ETA != 4*time.Second {
		t.Errorf("progress %+v", seen)
	}
	if infos.Load() < 5 {
		t.Errorf("INFO polled %d times", infos.Load())
	}
	// deadline while loading
	addr, _ = fakeLoadingRedis(t, 1000)
	c2, _ := NewClient(Options{Addr: addr})
	defer c2.Close()
	_, err = c2.WaitReady(ctx, 200*time.Millisecond, nil)
	if err == nil || !strings.Contains(err.Error(), "gave up waiting to finish loading") {
		t.Errorf("deadline: %v", err)
	}
}

func TestWaitReadyRealLoading(t *testing.T) {
	r := startRedis(t, "--enable-debug-command", "local")
	rdb := r.raw(t)
	ctx := context.Background()
	if err := rdb.Do(ctx, "DEBUG", "POPULATE", 20000).Err(); err != nil {
		t.Skipf("DEBUG disabled: %v", err)
	}
	if err := rdb.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	r.stop()
	r.Args = []string{"--enable-debug-command", "local", "--key-load-delay", "100", "--loading-process-events-interval-bytes", "1024"} // µs per key: ~2 s of loading
	r.start()
	c := r.client(t)
	var loading int
	si, err := c.WaitRestarted(ctx, "", 30*time.Second, func(s WaitStatus) {
		if s.Waiting == "loading" {
			loading++
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if loading == 0 {
		t.Error("never observed loading:1")
	}
	if si.Keys != 20000 || si.LastLoadKeys != 20000 {
		t.Errorf("after load: %+v", si)
	}
	t.Logf("observed %d loading polls", loading)
}

// A least-privilege ACL user can preflight, cut, fingerprint and compare.
func TestMinimalACLUser(t *testing.T) {
	r := startRedis(t)
	rdb := r.raw(t)
	ctx := context.Background()
	loadMixed(t, rdb, 20)
	if err := rdb.Do(ctx, "ACL", "SETUSER", "verifier", "on", ">pw-verifier", "~*",
		"+@read", "+info", "+ping", "+config|get", "+client|pause", "+client|unpause", "+save", "+bgsave").Err(); err != nil {
		t.Fatal(err)
	}
	o, _ := ParseURL("redis://verifier@" + r.Addr() + "/0")
	if err := o.LoadPassword(func(string) string { return "pw-verifier" }, ""); err != nil {
		t.Fatal(err)
	}
	c, _ := NewClient(o)
	defer c.Close()
	if _, err := c.WaitReady(ctx, 5*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	if res, err := Preflight(ctx, c, PreflightInput{MountTargets: []string{r.Dir}}); err != nil || !res.OK() {
		t.Fatalf("preflight %v %+v", err, res)
	}
	h, err := Cut(ctx, c, CutOptions{Pause: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release(ctx)
	st, _ := OpenStore(t.TempDir())
	before := fingerprintTo(t, st, c) // no TIME permission: local clock
	if err := h.Release(ctx); err != nil {
		t.Fatal(err)
	}
	after := fingerprintTo(t, st, c)
	if rep, err := Compare(before, after, CompareOptions{}); err != nil || !rep.OK() || !rep.DigestEqual {
		t.Fatalf("compare %v %+v", err, rep)
	}
}

// An error of plugin/sshdial (net.OpError with Net "ssh") is unreachable and
// keeps its whole text: both ways that were tried.
func TestDescribeSSHError(t *testing.T) {
	inner := errors.New("direct connection failed (i/o timeout), and through ssh root@h: channel 0: open failed: connect failed: Connection refused")
	err := describeErr("10.0.0.1:6379", &net.OpError{Op: "read", Net: "ssh", Err: inner})
	if !IsUnreachable(err) || err.Error() != "cannot reach Redis at 10.0.0.1:6379: "+inner.Error() {
		t.Fatalf("got %v", err)
	}
}

// The password never reaches what this package writes or prints: snapshot files, reports
// (text and JSON), preflight and cut results, options, errors — for the right password and
// a wrong one.
func TestPasswordNeverWritten(t *testing.T) {
	const pw = "Pw-9f3a1c77e2-secret"
	r := startRedis(t, "--requirepass", pw)
	ctx := context.Background()
	o, _ := ParseURL("redis://" + r.Addr())
	if err := o.LoadPassword(func(string) string { return pw }, ""); err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(o)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WaitReady(ctx, 5*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	c.Redis().Set(ctx, "k", "v", 0)
	var out strings.Builder
	pre, err := Preflight(ctx, c, PreflightInput{MountTargets: []string{r.Dir}})
	if err != nil {
		t.Fatal(err)
	}
	cut, err := Cut(ctx, c, CutOptions{Pause: 10 * time.Second, Progress: func(s string) { out.WriteString(s) }})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := OpenStore(t.TempDir())
	before, err := TakeSnapshot(ctx, c, st, "svc", &cut.Info, FingerprintOptions{})
	cut.Release(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c.Redis().Del(ctx, "k")
	rep, _, err := VerifyAgainst(ctx, c, st, before, FingerprintOptions{}, CompareOptions{MustExist: []string{"k"}})
	if err != nil {
		t.Fatal(err)
	}
	RenderText(&out, rep)
	RenderJSON(&out, rep)
	for _, v := range []any{pre, cut.Info, o, c.Options(), before.Summary} {
		b, _ := json.Marshal(v)
		out.Write(b)
		fmt.Fprintf(&out, "%v %+v %#v %s", v, v, v, v)
	}
	bad := o
	bad.Password = Secret(pw + "-wrong")
	cb, _ := NewClient(bad)
	defer cb.Close()
	if _, err := cb.WaitReady(ctx, time.Second, nil); err != nil {
		out.WriteString(err.Error())
	} else {
		t.Error("wrong password accepted")
	}
	if strings.Contains(out.String(), pw) {
		t.Errorf("password in the output:\n%s", out.String())
	}
	filepath.WalkDir(st.StateDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(pw)) {
				t.Errorf("password in %s", p)
			}
		}
		return nil
	})
}

// The password from REDISCLI_AUTH is not in the environment of processes started after
// TakeEnvPassword (docker's ssh helper for ssh:// hosts inherits the environment), nor in
// their argv; LoadPassword still gets it.
func TestTakeEnvPasswordHidesItFromChildren(t *testing.T) {
	const pw = "Env-Pw-51c0ffee"
	t.Setenv(PasswordEnv, pw)
	t.Setenv("DST_OTHER", "kept")
	getenv := TakeEnvPassword()
	out, err := exec.Command("sh", "-c", `echo "[$REDISCLI_AUTH]"; cat /proc/self/environ /proc/self/cmdline | tr '\0' '\n'`).CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), pw) || !strings.Contains(string(out), "[]") || !strings.Contains(string(out), "DST_OTHER=kept") {
		t.Errorf("child process sees:\n%s", out)
	}
	var o Options
	if err := o.LoadPassword(getenv, ""); err != nil || o.Password.Reveal() != pw {
		t.Errorf("LoadPassword after TakeEnvPassword: %v", err)
	}
	if getenv("DST_OTHER") != "kept" {
		t.Error("other variables must pass through")
	}
}
