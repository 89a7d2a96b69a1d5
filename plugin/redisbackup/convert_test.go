package redisbackup

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// rewriteRecords re-encodes a backup file with a changed header and records (edit gets
// each record and returns the records to write in its place), with a correct hash.
func rewriteRecords(t *testing.T, path string, editHeader func(*Header), edit func(Record) []Record) string {
	t.Helper()
	v, err := VerifyFile(path, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h := v.Header
	editHeader(&h)
	out := filepath.Join(t.TempDir(), "edited.dsbackup")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bw, err := newBodyWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	bw.jsonSection(tagHeader, &h)
	for _, d := range h.Databases {
		if err := writeFingerprint(bw, d.DB, filepath.Join(v.FingerprintDir, fingerprintDirName(d.DB))); err != nil {
			t.Fatal(err)
		}
	}
	tr := Trailer{Databases: []DatabaseCount{}}
	db := -1
	err = readRecords(path, path, func(r Record) error {
		r.Payload = append([]byte(nil), r.Payload...)
		for _, r := range edit(r) {
			if r.DB != db {
				db = r.DB
				bw.section(tagDatabase, binary.AppendUvarint(nil, uint64(db)))
				tr.Databases = append(tr.Databases, DatabaseCount{DB: db})
			}
			bw.Write(appendKey(nil, r.Key, r.Payload, r.ExpireAt))
			tr.Records++
			tr.Databases[len(tr.Databases)-1].Records++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := bw.finish(&tr); err != nil {
		t.Fatal(err)
	}
	return out
}

// reversion rewrites a DUMP payload's footer to RDB version ver (new CRC64): the same
// encoding labelled as a newer server's.
func reversion(p []byte, ver int) []byte {
	n := len(p)
	out := append([]byte(nil), p[:n-10]...)
	out = binary.LittleEndian.AppendUint16(out, uint16(ver))
	return binary.LittleEndian.AppendUint64(out, redisCRC64(out))
}

// modulePayload is the DUMP payload of a value of module type "dstest-01", which no test
// server has loaded.
func modulePayload(ver int) []byte {
	const charset = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var id uint64
	for j, c := range "dstest-01" {
		id |= uint64(strings.IndexRune(charset, c)) << (10 + 6*(8-j))
	}
	p := []byte{7, 0x81}
	p = binary.BigEndian.AppendUint64(p, id)
	p = append(p, 2, 5, 0) // one unsigned int opcode, then EOF
	p = binary.LittleEndian.AppendUint16(p, uint16(ver))
	return binary.LittleEndian.AppendUint64(p, redisCRC64(p))
}

// #20.13: a payload the target rejects in the middle of the file used to leave the keys
// before it written. Every kind of payload is now tried first: nothing is written.
func TestRestoreRejectedPayloadWritesNothing(t *testing.T) {
	s := startRedis(t)
	ctx := context.Background()
	loadAllTypes(t, s.db(t, 0), "a", 50)
	_, path := backupTo(t, s, t.TempDir())
	s.db(t, 0).FlushAll(ctx)
	n := 0
	withModule := rewriteRecords(t, path, func(*Header) {}, func(r Record) []Record {
		n++
		if n == 200 { // well after the first batch
			return []Record{r, {DB: r.DB, Key: "json:doc", Payload: modulePayload(payloadRDBVersion(r.Payload)), ExpireAt: -1}}
		}
		return []Record{r}
	})
	_, err := Restore(ctx, s.client(t), withModule, RestoreOptions{Workers: 1})
	var re *RefusedError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "module type dstest-01") || !strings.Contains(err.Error(), "key json:doc of database 0") ||
		!strings.Contains(err.Error(), "nothing was written") || strings.Contains(err.Error(), "\n") {
		t.Errorf("error %v, want a one-line refusal naming module type dstest-01 and the key", err)
	}
	if n := dbsize(t, s, 0); n != 0 {
		t.Fatalf("%d keys written although the restore was refused", n)
	}
}

// #21.4: payloads of a newer RDB version than the target reads are written by type
// (every type, TTLs kept), and the result is verified equal to the backup.
func TestRestoreConvertsNewerRDBByType(t *testing.T) {
	s := startRedis(t)
	ctx := context.Background()
	db0, db2 := s.db(t, 0), s.db(t, 2)
	loadAllTypes(t, db0, "a", 60)
	loadAllTypes(t, db2, "b", 30)
	loadStreamStates(t, db0)
	wantExp, _ := db0.PExpireTime(ctx, "a:10:hash").Result()
	total := dbsize(t, s, 0, 2)
	_, path := backupTo(t, s, t.TempDir())
	si, _ := s.client(t).ServerInfo(ctx)
	own := RDBVersionOf(si.Version)
	newer := rewriteRecords(t, path, func(h *Header) {
		h.RDBVersion, h.RedisVersion = own+2, "7.9.0"
		h.Cut.RedisVersion, h.Cut.Server = "7.9.0", "Redis 7.9.0"
	}, func(r Record) []Record {
		r.Payload = reversion(r.Payload, own+2)
		return []Record{r}
	})
	db0.FlushAll(ctx)

	var logs []string
	rr, err := Restore(ctx, s.client(t), newer, RestoreOptions{Log: func(l string) { logs = append(logs, l) }})
	if err != nil {
		t.Fatalf("restore: %v\n%s", err, strings.Join(logs, "\n"))
	}
	var buf bytes.Buffer
	RenderVerification(&buf, rr.Verification)
	if !rr.OK() {
		t.Fatalf("not verified:\n%s\n%s", buf.String(), strings.Join(logs, "\n"))
	}
	cv := rr.Conversion
	if cv == nil || cv.FromRDB != own+2 || cv.ToRDB != own || cv.Keys != total || rr.Restored != total {
		t.Fatalf("conversion %+v, restored %d, want %d keys from RDB %d to %d", cv, rr.Restored, total, own+2, own)
	}
	for _, typ := range []string{"string", "list", "set", "zset", "hash", "stream"} {
		if cv.Types[typ] == 0 {
			t.Errorf("no %s converted: %+v", typ, cv.Types)
		}
	}
	line := fmt.Sprintf("Converted %d keys from RDB %d to RDB %d", total, own+2, own)
	if !strings.Contains(strings.Join(logs, "\n"), line) {
		t.Errorf("log does not say %q:\n%s", line, strings.Join(logs, "\n"))
	}
	if got, _ := db0.PExpireTime(ctx, "a:10:hash").Result(); got != wantExp {
		t.Errorf("TTL not kept: PEXPIRETIME %d, want %d", got, wantExp)
	}
	// --replace into a target that holds keys: keys of the file replace keys of the same name.
	db0.Del(ctx, "a:3:list")
	db0.RPush(ctx, "a:1:list", "extra")
	db0.Set(ctx, "other", "1", 0)
	rr, err = Restore(ctx, s.client(t), newer, RestoreOptions{Replace: true})
	if err != nil || rr.Conversion == nil {
		t.Fatalf("restore --replace: %v", err)
	}
	if n, _ := db0.LLen(ctx, "a:1:list").Result(); n != 3 || db0.Exists(ctx, "other", "a:3:list").Val() != 2 {
		t.Errorf("--replace: a:1:list has %d elements, want 3; other and a:3:list must exist", n)
	}
}

// loadStreamStates writes streams whose state only XSETID, XGROUP and XCLAIM can set:
// deleted entries, an empty stream with a group, several groups and consumers.
func loadStreamStates(t *testing.T, rdb *redis.Client) {
	ctx := context.Background()
	for i := 1; i <= 10; i++ {
		rdb.XAdd(ctx, &redis.XAddArgs{Stream: "xs:del", ID: fmt.Sprintf("5-%d", i), Values: []string{"n", fmt.Sprint(i)}})
	}
	rdb.XDel(ctx, "xs:del", "5-10", "5-3")
	rdb.XGroupCreate(ctx, "xs:del", "g1", "0")
	rdb.XGroupCreate(ctx, "xs:del", "g2", "5-5")
	rdb.XGroupCreateConsumer(ctx, "xs:del", "g1", "idle")
	rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g1", Consumer: "c1", Streams: []string{"xs:del", ">"}, Count: 3})
	rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g1", Consumer: "c2", Streams: []string{"xs:del", ">"}, Count: 2})
	rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g1", Consumer: "c2", Streams: []string{"xs:del", "0"}})
	rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g2", Consumer: "c1", Streams: []string{"xs:del", ">"}, Count: 1})
	rdb.XGroupCreateMkStream(ctx, "xs:empty", "g", "$")
	rdb.XAdd(ctx, &redis.XAddArgs{Stream: "xs:trimmed", ID: "9-1", Values: []string{"a", "b"}})
	rdb.XTrimMaxLen(ctx, "xs:trimmed", 0)
	rdb.PExpireAt(ctx, "xs:del", time.Now().Add(time.Hour))
}

// A module key cannot be written by type: the conversion is refused before anything.
func TestRestoreConversionRefusesModuleKey(t *testing.T) {
	s := startRedis(t)
	ctx := context.Background()
	loadAllTypes(t, s.db(t, 0), "a", 20)
	_, path := backupTo(t, s, t.TempDir())
	s.db(t, 0).FlushAll(ctx)
	si, _ := s.client(t).ServerInfo(ctx)
	own := RDBVersionOf(si.Version)
	n := 0
	newer := rewriteRecords(t, path, func(h *Header) { h.RDBVersion = own + 2 }, func(r Record) []Record {
		r.Payload = reversion(r.Payload, own+2)
		if n++; n == 100 {
			return []Record{r, {DB: r.DB, Key: "json:doc", Payload: modulePayload(own + 2), ExpireAt: -1}}
		}
		return []Record{r}
	})
	_, err := Restore(ctx, s.client(t), newer, RestoreOptions{})
	var re *RefusedError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "module type dstest-01") || !strings.Contains(err.Error(), fmt.Sprintf("reads RDB %d", own)) {
		t.Errorf("error %v, want a refusal naming the module key and RDB %d", err, own)
	}
	if n := dbsize(t, s, 0); n != 0 {
		t.Fatalf("%d keys written although refused", n)
	}
}

// startImageServer runs the server binary of a cached Debian 13 image (redis8, valkey8:
// /var/cache/docker-stateful/images, see e2e/swarm) on this host through the image's own
// dynamic loader and libraries; the test is skipped when the image is not cached.
func startImageServer(t *testing.T, image, bin string) *testServer {
	t.Helper()
	tars, _ := filepath.Glob("/var/cache/docker-stateful/images/" + image + "-*.tar")
	if len(tars) == 0 {
		t.Skipf("image %s is not cached in /var/cache/docker-stateful/images (e2e/swarm/swarm.sh images %s)", image, image)
	}
	root := t.TempDir()
	if out, err := exec.Command("tar", "-xf", tars[0], "-C", root, "./usr/bin", "./usr/lib/x86_64-linux-gnu").CombinedOutput(); err != nil {
		t.Fatalf("extract %s: %v %s", tars[0], err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	lib := filepath.Join(root, "usr/lib/x86_64-linux-gnu")
	cmd := exec.Command(filepath.Join(lib, "ld-linux-x86-64.so.2"), "--library-path", lib, filepath.Join(root, "usr/bin", bin),
		"--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	s := &testServer{addr: fmt.Sprintf("127.0.0.1:%d", port)}
	rdb := redis.NewClient(&redis.Options{Addr: s.addr})
	defer rdb.Close()
	for i := 0; rdb.Ping(context.Background()).Err() != nil; i++ {
		if i > 200 {
			t.Fatalf("%s of image %s did not start", bin, image)
		}
		time.Sleep(25 * time.Millisecond)
	}
	return s
}

// The way back with real servers: a Redis 8 backup (RDB 12) restored into Redis 7 and into
// Valkey 8 by type, verified; a hash with field expire times is refused up front.
func TestRestoreRedis8IntoOlderServers(t *testing.T) {
	ctx := context.Background()
	src := startImageServer(t, "redis8", "redis-server")
	loadAllTypes(t, src.db(t, 0), "a", 40)
	loadAllTypes(t, src.db(t, 1), "b", 10)
	loadStreamStates(t, src.db(t, 0))
	total := dbsize(t, src, 0, 1)
	res, path := backupTo(t, src, t.TempDir())
	if res.Header.RDBVersion != 12 {
		t.Fatalf("Redis 8 backup of RDB %d, want 12", res.Header.RDBVersion)
	}
	targets := []struct {
		name string
		s    func() *testServer
		rdb  int
	}{
		{"redis7", func() *testServer { return startRedis(t) }, 0},
		{"valkey8", func() *testServer { return startImageServer(t, "valkey8", "valkey-server") }, 11},
	}
	for _, tc := range targets {
		t.Run(tc.name, func(t *testing.T) {
			dst := tc.s()
			rr, err := Restore(ctx, dst.client(t), path, RestoreOptions{})
			if err != nil {
				t.Fatalf("restore: %v", err)
			}
			var buf bytes.Buffer
			RenderVerification(&buf, rr.Verification)
			if !rr.OK() || rr.Conversion == nil || rr.Conversion.FromRDB != 12 || rr.Conversion.Keys != total {
				t.Fatalf("conversion %+v, verified %v:\n%s", rr.Conversion, rr.OK(), buf.String())
			}
			if tc.rdb > 0 && rr.Conversion.ToRDB != tc.rdb {
				t.Errorf("converted to RDB %d, want %d", rr.Conversion.ToRDB, tc.rdb)
			}
		})
	}
	// A hash field with its own expire time (Redis 7.4+) cannot be kept by Redis 7.0.
	if err := src.db(t, 0).Do(ctx, "HSET", "hf", "a", "1", "b", "2").Err(); err != nil {
		t.Fatal(err)
	}
	if err := src.db(t, 0).Do(ctx, "HPEXPIRE", "hf", 3600000, "FIELDS", 1, "a").Err(); err != nil {
		t.Fatal(err)
	}
	_, path = backupTo(t, src, t.TempDir())
	dst := startRedis(t)
	_, err := Restore(ctx, dst.client(t), path, RestoreOptions{})
	var re *RefusedError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "key hf of database 0 is a hash with 1 field(s) that have their own expire time") {
		t.Errorf("error %v, want a refusal naming hash hf's field expire times", err)
	}
	if n := dbsize(t, dst, 0, 1); n != 0 {
		t.Errorf("%d keys written although refused", n)
	}
}

// A restore into an empty target that fails part-way (here: out of memory) deletes the
// keys it wrote: a refusal leaves the target as it was (issue 20 item 13).
func TestRestoreStoppedPartWayLeavesTargetEmpty(t *testing.T) {
	src := startRedis(t)
	ctx := context.Background()
	loadAllTypes(t, src.db(t, 0), "a", 50)
	for i := 0; i < 120; i++ {
		src.db(t, 1).Set(ctx, fmt.Sprintf("big:%d", i), strings.Repeat(fmt.Sprint(i%10), 100<<10), 0)
	}
	_, path := backupTo(t, src, t.TempDir())
	dst := startRedis(t, "--maxmemory", "6mb", "--maxmemory-policy", "noeviction")
	_, err := Restore(ctx, dst.client(t), path, RestoreOptions{})
	if err == nil || !strings.Contains(err.Error(), "OOM") || !strings.Contains(err.Error(), "deleted again") {
		t.Errorf("error %v, want the OOM and the written keys deleted again", err)
	}
	if n := dbsize(t, dst, 0, 1); n != 0 {
		t.Fatalf("%d keys left in the target after a restore that stopped part-way", n)
	}
}
