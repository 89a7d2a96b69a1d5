package redisstate

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Debian 12 (the test machine) ships only redis-server 7.0, and no Debian release has a
// 6.2. So the 6.2 command set is tested with redis6Proxy: a RESP proxy in front of a real
// redis-server that answers like Redis 6.x where 7.0 differs in what this package uses —
// INFO with more than one section is a syntax error, 7.0-only commands are unknown, 7.0-only
// INFO fields are absent, and redis_version says 6.x. TestRealRedis60 runs a real 6.0.16
// (Debian 11's, unpacked by hack/install-redis6.sh), which has the same INFO and commands.

type redis6Proxy struct {
	t       testing.TB
	l       net.Listener
	backend string
	version string
	seen    chan []string // every command received, for the test to inspect
}

// redis7Only are commands of 7.0+ this package might send.
var redis7Only = map[string]bool{"PEXPIRETIME": true, "EXPIRETIME": true, "WAITAOF": true, "FUNCTION": true}

// redis7InfoFields are INFO fields that 6.x does not have.
var redis7InfoFields = []string{"rdb_saves", "rdb_last_load_keys_loaded", "rdb_last_load_keys_expired"}

func startRedis6Proxy(t testing.TB, backend, version string) *redis6Proxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &redis6Proxy{t: t, l: l, backend: backend, version: version, seen: make(chan []string, 100000)}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *redis6Proxy) Addr() string { return p.l.Addr().String() }

func (p *redis6Proxy) serve(c net.Conn) {
	defer c.Close()
	b, err := net.Dial("tcp", p.backend)
	if err != nil {
		return
	}
	defer b.Close()
	cr, br := bufio.NewReader(c), bufio.NewReader(b)
	for {
		args, err := readCommand(cr)
		if err != nil {
			return
		}
		select {
		case p.seen <- args:
		default:
		}
		name := strings.ToUpper(args[0])
		switch {
		case name == "HELLO":
			io.WriteString(c, "-ERR unknown command `HELLO`\r\n") // as 5.x/6.x without RESP3 would; go-redis falls back to AUTH
			continue
		case redis7Only[name]:
			fmt.Fprintf(c, "-ERR unknown command `%s`, with args beginning with: \r\n", args[0])
			continue
		case name == "INFO" && len(args) > 2:
			io.WriteString(c, "-ERR syntax error\r\n") // Redis < 7.0: INFO takes one section at most
			continue
		case name == "CONFIG" && len(args) > 3 && strings.EqualFold(args[1], "GET"):
			io.WriteString(c, "-ERR Unknown subcommand or wrong number of arguments for 'GET'. Try CONFIG HELP.\r\n")
			continue
		}
		if _, err := b.Write(encodeCommand(args)); err != nil {
			return
		}
		reply, err := readReply(br)
		if err != nil {
			return
		}
		if name == "INFO" && reply[0] == '$' {
			reply = p.rewriteInfo(reply)
		}
		if _, err := c.Write(reply); err != nil {
			return
		}
	}
}

func (p *redis6Proxy) rewriteInfo(reply []byte) []byte {
	body := string(reply[strings.Index(string(reply), "\r\n")+2 : len(reply)-2])
	var out []string
	for _, line := range strings.Split(body, "\r\n") {
		k, _, _ := strings.Cut(line, ":")
		drop := false
		for _, f := range redis7InfoFields {
			drop = drop || k == f
		}
		switch {
		case drop:
		case k == "redis_version":
			out = append(out, "redis_version:"+p.version)
		default:
			out = append(out, line)
		}
	}
	s := strings.Join(out, "\r\n")
	return []byte("$" + strconv.Itoa(len(s)) + "\r\n" + s + "\r\n")
}

func readCommand(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if line[0] != '*' {
		return strings.Fields(line), nil // inline command
	}
	n, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
	args := make([]string, n)
	for i := range args {
		hdr, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		l, _ := strconv.Atoi(strings.TrimSpace(hdr[1:]))
		buf := make([]byte, l+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		args[i] = string(buf[:l])
	}
	return args, nil
}

func encodeCommand(args []string) []byte {
	b := []byte("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b = append(b, "$"+strconv.Itoa(len(a))+"\r\n"+a+"\r\n"...)
	}
	return b
}

// readReply reads one RESP2 reply, raw.
func readReply(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadBytes('\n')
	if err != nil {
		return nil, err
	}
	switch line[0] {
	case '$':
		n, _ := strconv.Atoi(strings.TrimSpace(string(line[1:])))
		if n < 0 {
			return line, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		return append(line, buf...), nil
	case '*':
		n, _ := strconv.Atoi(strings.TrimSpace(string(line[1:])))
		for i := 0; i < n; i++ {
			el, err := readReply(r)
			if err != nil {
				return nil, err
			}
			line = append(line, el...)
		}
		return line, nil
	default:
		return line, nil
	}
}

// On Redis 6.x (INFO takes one section; no PEXPIRETIME, no rdb_saves) every step works:
// readiness, preflight, the cut, the fingerprint (PTTL mode) and the verification. It failed
// with "ERR syntax error" from INFO server persistence keyspace.
func TestRedis62CommandSet(t *testing.T) {
	r := startRedis(t)
	ctx := context.Background()
	rdb := r.raw(t)
	loadMixed(t, rdb, 30)
	p := startRedis6Proxy(t, r.Addr(), "6.2.14")
	c, err := NewClient(Options{Addr: p.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	si, err := c.WaitReady(ctx, 5*time.Second, nil)
	if err != nil {
		t.Fatalf("WaitReady on 6.2: %v", err)
	}
	if si.Version != "6.2.14" || si.Keys == 0 || si.LastLoadKeys != -1 {
		t.Fatalf("server info: %+v", si)
	}
	pre, err := Preflight(ctx, c, PreflightInput{MountTargets: []string{r.Dir}, StopGrace: 10 * time.Second})
	if err != nil || !pre.OK() {
		t.Fatalf("preflight on 6.2: %v %+v", err, pre)
	}
	// the cut of update --verify: BGSAVE during the fingerprint, no rdb_saves to tell
	// that the save that ended is the cut's
	cut, err := BeginCut(ctx, c, CutOptions{Pause: 10 * time.Second, Background: true})
	if err != nil {
		t.Fatalf("cut on 6.2: %v", err)
	}
	st, _ := OpenStore(t.TempDir())
	before, err := TakeSnapshotAtCut(ctx, c, st, "svc", cut, FingerprintOptions{})
	if err != nil {
		t.Fatalf("cut and fingerprint on 6.2: %v", err)
	}
	if m := before.Summary.Cut.Method; m != "bgsave" {
		t.Errorf("cut on 6.2: method %s", m)
	}
	if err := cut.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if before.Summary.TTLMode != TTLPTTL || before.Summary.Keys != si.Keys {
		t.Errorf("summary on 6.2: mode %s keys %d (INFO %d)", before.Summary.TTLMode, before.Summary.Keys, si.Keys)
	}
	rep, _, err := VerifyAgainst(ctx, c, st, before, FingerprintOptions{}, CompareOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("verify on 6.2: %v %+v", err, rep)
	}
	// nothing this package sent needed 7.0
	close(p.seen)
	for args := range p.seen {
		name := strings.ToUpper(args[0])
		if redis7Only[name] || (name == "INFO" && len(args) > 2) {
			t.Errorf("sent a 7.0-only command to 6.2: %q", args)
		}
	}

	// 6.0 cannot pause only writes: refused with one clear line, not a syntax error
	p60 := startRedis6Proxy(t, r.Addr(), "6.0.16")
	c60, _ := NewClient(Options{Addr: p60.Addr()})
	defer c60.Close()
	pre, err = Preflight(ctx, c60, PreflightInput{MountTargets: []string{r.Dir}})
	if err != nil || pre.OK() || pre.Refusals[0].Code != CodeOldRedis {
		t.Fatalf("preflight on 6.0: %v %+v", err, pre)
	}
}

// redis6Binary is Debian 11's redis-server 6.0.16, which hack/install-redis6.sh unpacks
// for make deps (Debian 12 has no 6.x); DST_REDIS6_SERVER names another.
func redis6Binary(t *testing.T) string {
	bin := os.Getenv("DST_REDIS6_SERVER")
	if bin == "" {
		bin = "/opt/docker-stateful/redis6/redis-server"
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("SKIPPED: no real Redis 6 (make deps installs one with hack/install-redis6.sh): %v", err)
	}
	return bin
}

// On a real Redis 6.0 (not the proxy): readiness and INFO one section at a time, the
// preflight's refusal of the cut (no CLIENT PAUSE WRITE before 6.2) in one line, the
// fingerprint of every type in PTTL mode, and a verify across a restart.
func TestRealRedis60(t *testing.T) {
	r := &testRedis{t: t, bin: redis6Binary(t), Port: freePort(t), Dir: t.TempDir()}
	r.start()
	t.Cleanup(r.stop)
	ctx := context.Background()
	rdb := r.raw(t)
	loadMixed(t, rdb, 50)
	db3 := redis.NewClient(&redis.Options{Addr: r.Addr(), DB: 3, Protocol: 2, DisableIdentity: true})
	defer db3.Close()
	if err := db3.Set(ctx, "in-db3", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(Options{Addr: r.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	si, err := c.WaitReady(ctx, 5*time.Second, nil)
	if err != nil {
		t.Fatalf("WaitReady on 6.0: %v", err)
	}
	dbsize := rdb.DBSize(ctx).Val() + 1 // and db 3's key
	if !strings.HasPrefix(si.Version, "6.0.") || si.Keys != dbsize {
		t.Fatalf("server info on a real 6.0: version %q, keys %d (DBSIZE %d)", si.Version, si.Keys, dbsize)
	}
	pre, err := Preflight(ctx, c, PreflightInput{MountTargets: []string{r.Dir}, StopGrace: 10 * time.Second})
	if err != nil || pre.OK() || pre.Refusals[0].Code != CodeOldRedis || !strings.Contains(pre.Refusals[0].Message, "6.2+") {
		t.Fatalf("preflight on a real 6.0: %v %+v: want the cut refused, 6.2+ named", err, pre)
	}
	st, _ := OpenStore(t.TempDir())
	before, err := TakeSnapshot(ctx, c, st, "svc", nil, FingerprintOptions{})
	if err != nil {
		t.Fatalf("fingerprint on a real 6.0: %v", err)
	}
	if before.Summary.TTLMode != TTLPTTL || before.Summary.Keys != dbsize || before.Summary.Types["stream"] == 0 {
		t.Errorf("summary on 6.0: mode %s, %d keys (DBSIZE %d), types %v", before.Summary.TTLMode, before.Summary.Keys, dbsize, before.Summary.Types)
	}
	if err := rdb.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	r.restart()
	rep, _, err := VerifyAgainst(ctx, c, st, before, FingerprintOptions{}, CompareOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("verify after a restart of a real 6.0: %v %+v", err, rep)
	}
	// and a loss is seen: one hash field changed
	rdb.HSet(ctx, "hsmall:7", "a", "changed")
	rep, _, err = VerifyAgainst(ctx, c, st, before, FingerprintOptions{}, CompareOptions{})
	if err != nil || rep.OK() || rep.Count(ClassChanged) != 1 {
		t.Fatalf("a changed hash on 6.0: %v, OK %v, classes %v", err, rep != nil && rep.OK(), rep)
	}
}
