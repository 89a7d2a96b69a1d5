package redisbackup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/docker-stateful/docker-stateful/internal/redistest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
)

// testServer is a real redis-server on 127.0.0.1 (free port, temp dir).
type testServer struct{ addr string }

func startRedis(t testing.TB, extra ...string) *testServer {
	t.Helper()
	return &testServer{addr: redistest.StartServer(t, extra...).Addr}
}

func (s *testServer) client(t testing.TB) *redisstate.Client {
	c, err := redisstate.NewClient(redisstate.Options{Addr: s.addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (s *testServer) db(t testing.TB, n int) *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: s.addr, DB: n, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// loadAllTypes writes n keys of every type into rdb's database: strings (short, integer,
// long, binary), lists, sets, sorted sets, hashes (small and hashtable-encoded), streams
// with a consumer group and pending entries, HyperLogLogs; every 10th key has a 2-hour TTL.
func loadAllTypes(t testing.TB, rdb *redis.Client, prefix string, n int) {
	ctx := context.Background()
	pipe := rdb.Pipeline()
	exp := time.Now().Add(2 * time.Hour)
	for i := 0; i < n; i++ {
		p := fmt.Sprintf("%s:%d:", prefix, i)
		pipe.Set(ctx, p+"str", fmt.Sprintf("value-%d", i), 0)
		pipe.Set(ctx, p+"int", i, 0)
		pipe.RPush(ctx, p+"list", "a", "b", i)
		pipe.SAdd(ctx, p+"set", "a", "b", i)
		pipe.ZAdd(ctx, p+"zset", redis.Z{Score: 1.5, Member: "a"}, redis.Z{Score: float64(i), Member: "b"})
		pipe.HSet(ctx, p+"hash", "f", i, "g", "x")
		pipe.PFAdd(ctx, p+"hll", "a", "b", i)
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: p + "stream", ID: "1-1", Values: []string{"f", strconv.Itoa(i)}})
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: p + "stream", ID: "1-2", Values: []string{"g", "v"}})
		pipe.XGroupCreate(ctx, p+"stream", "grp", "0")
		pipe.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "grp", Consumer: "c1", Streams: []string{p + "stream", ">"}, Count: 1})
		if i%10 == 0 {
			for _, k := range []string{"str", "list", "hash", "zset"} {
				pipe.PExpireAt(ctx, p+k, exp)
			}
		}
	}
	for i := 0; i < 2000; i++ { // hashtable / skiplist encodings
		pipe.HSet(ctx, prefix+":hbig", fmt.Sprintf("field:%d", i), i)
		pipe.SAdd(ctx, prefix+":sbig", fmt.Sprintf("member:%d", i))
		pipe.ZAdd(ctx, prefix+":zbig", redis.Z{Score: float64(i) / 3, Member: fmt.Sprintf("m:%d", i)})
		pipe.RPush(ctx, prefix+":lbig", fmt.Sprintf("e%d", i))
	}
	pipe.Set(ctx, prefix+":bigstr", strings.Repeat("0123456789", 20000), 0)
	pipe.Set(ctx, prefix+":bin\x00\xff", "\x00\xff\xfe", 0)
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
}

func dbsize(t testing.TB, s *testServer, dbs ...int) int64 {
	var n int64
	for _, db := range dbs {
		v, err := s.db(t, db).DBSize(context.Background()).Result()
		if err != nil {
			t.Fatal(err)
		}
		n += v
	}
	return n
}

func TestStringPayloadIsDumpFormat(t *testing.T) {
	s := startRedis(t, "--rdbcompression", "no")
	ctx := context.Background()
	rdb := s.db(t, 0)
	c := s.client(t)
	for _, n := range []int{0, 1, 63, 64, 16383, 16384, 70000} {
		v := strings.Repeat("x", n)
		if n > 0 {
			v = "v" + v[1:] // not an integer: DUMP would use the integer encoding
		}
		if err := rdb.Set(ctx, "k", v, 0).Err(); err != nil {
			t.Fatal(err)
		}
		want, err := rdb.Dump(ctx, "k").Bytes()
		if err != nil {
			t.Fatal(err)
		}
		ver := payloadRDBVersion(want)
		if got := stringPayload(nil, v, ver); !bytes.Equal(got, want) {
			t.Fatalf("len %d: built payload differs from DUMP:\n got %x\nwant %x", n, head(got), head(want))
		}
	}
	if got, _ := probeRDBVersion(ctx, c, []DatabaseHeader{{DB: 0, Keys: 1}}, "7.0.15"); got != RDBVersionOf("7.0.15") && RDBVersionOf("7.0.15") != 0 {
		si, _ := c.ServerInfo(ctx)
		if RDBVersionOf(si.Version) != got {
			t.Errorf("probed RDB version %d, table says %d for %s", got, RDBVersionOf(si.Version), si.Version)
		}
	}
}

func head(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

// backupTo backs up s into dir/backup.dsbackup.
func backupTo(t *testing.T, s *testServer, dir string) (*Result, string) {
	t.Helper()
	path := filepath.Join(dir, "backup.dsbackup")
	var logs []string
	var last Progress
	res, err := BackupFile(context.Background(), s.client(t), path, Options{Service: "svc", SpecVersion: 42,
		Log: func(l string) { logs = append(logs, l) }, Progress: func(p Progress) { last = p }, ProgressEvery: 5 * time.Millisecond})
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	if !last.Done || last.Keys != res.Records {
		t.Errorf("last progress %+v, records %d", last, res.Records)
	}
	switch res.Method {
	case MethodPause:
		if res.WritePauseMs <= 0 && res.WritePause <= 0 {
			t.Errorf("write pause not measured: %+v", res)
		}
		if !strings.Contains(strings.Join(logs, "\n"), "Writes resumed after") {
			t.Errorf("log does not say when writes resumed:\n%s", strings.Join(logs, "\n"))
		}
	case MethodReplication:
		if res.WritePause != 0 || !strings.Contains(strings.Join(logs, "\n"), "Writes were not paused") {
			t.Errorf("replication backup: pause %s, log:\n%s", res.WritePause, strings.Join(logs, "\n"))
		}
	default:
		t.Errorf("backup method %q", res.Method)
	}
	return res, path
}

func TestBackupRestoreAllTypesTwoDatabases(t *testing.T) {
	s := startRedis(t)
	ctx := context.Background()
	db0, db3 := s.db(t, 0), s.db(t, 3)
	loadAllTypes(t, db0, "a", 300)
	loadAllTypes(t, db3, "b", 200)
	// keys that expire between the backup and the restore
	for i := 0; i < 7; i++ {
		db3.Set(ctx, fmt.Sprintf("short:%d", i), "x", 0)
		db3.PExpireAt(ctx, fmt.Sprintf("short:%d", i), time.Now().Add(2500*time.Millisecond))
	}
	wantExp, err := db0.PExpireTime(ctx, "a:10:hash").Result()
	if err != nil || wantExp <= 0 {
		t.Fatalf("PEXPIRETIME: %v %v", wantExp, err)
	}
	total := dbsize(t, s, 0, 3)

	res, path := backupTo(t, s, t.TempDir())
	if res.Records != total {
		t.Fatalf("backup has %d records, the server %d keys", res.Records, total)
	}
	if len(res.Header.Databases) != 2 || res.Header.Databases[0].DB != 0 || res.Header.Databases[1].DB != 3 {
		t.Fatalf("header databases %+v", res.Header.Databases)
	}
	for _, d := range res.Header.Databases {
		if d.Keys != dbsize(t, s, d.DB) || d.Fingerprint.Keys != d.Keys || d.Fingerprint.Digest == "" {
			t.Errorf("database header %+v", d)
		}
	}
	if res.Header.Service != "svc" || res.Header.SpecVersion != 42 || res.Header.RDBVersion <= 0 {
		t.Errorf("header %+v", res.Header)
	}
	// writes work again
	if err := db0.Set(ctx, "after-backup", 1, 0).Err(); err != nil {
		t.Fatal(err)
	}

	time.Sleep(time.Until(time.Now().Add(2600 * time.Millisecond)))
	if err := db0.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	var logs []string
	rr, err := Restore(ctx, s.client(t), path, RestoreOptions{Log: func(l string) { logs = append(logs, l) }})
	if err != nil {
		t.Fatalf("restore: %v\n%s", err, strings.Join(logs, "\n"))
	}
	var buf bytes.Buffer
	RenderVerification(&buf, rr.Verification)
	if !rr.OK() {
		t.Fatalf("not verified:\n%s", buf.String())
	}
	if rr.Expired != 7 || len(rr.ExpiredKeys) != 7 || rr.ExpiredKeys[0].DB != 3 {
		t.Errorf("expired %d %+v, want the 7 short keys of db 3", rr.Expired, rr.ExpiredKeys)
	}
	if n := rr.Verification.Count(redisstate.ClassExpired); n != 7 {
		t.Errorf("report has %d EXPIRED, want 7:\n%s", n, buf.String())
	}
	if rr.Restored != total-7 || dbsize(t, s, 0, 3) != total-7 {
		t.Errorf("restored %d, dbsize %d, want %d", rr.Restored, dbsize(t, s, 0, 3), total-7)
	}
	got, err := db0.PExpireTime(ctx, "a:10:hash").Result()
	if err != nil || got != wantExp {
		t.Errorf("TTL not preserved: PEXPIRETIME %v, want %v (%v)", got, wantExp, err)
	}
	if v, _ := db0.Get(ctx, "a:bin\x00\xff").Result(); v != "\x00\xff\xfe" {
		t.Errorf("binary value %q", v)
	}
	if pending, err := db0.XPending(ctx, "a:5:stream", "grp").Result(); err != nil || pending.Count != 1 {
		t.Errorf("stream pending entries %+v %v", pending, err)
	}
	if !strings.Contains(strings.Join(logs, "\n"), "Saved (SAVE)") {
		t.Errorf("no SAVE at the end:\n%s", strings.Join(logs, "\n"))
	}

	// A changed key after the restore is not "verified": the comparison can fail.
	before, _ := loadFingerprintsFromFile(t, path)
	db0.Set(ctx, "a:1:str", "changed", 0)
	st, _ := redisstate.OpenStore(t.TempDir())
	after, err := fingerprint(ctx, s.client(t), st, []int{0, 3}, "svc", nil, redisstate.FingerprintOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ver, err := compare(before, after, redisstate.CompareOptions{})
	if err != nil || ver.OK() || ver.Count(redisstate.ClassChanged) != 1 {
		var b bytes.Buffer
		RenderVerification(&b, ver)
		t.Errorf("a changed key verified: %v\n%s", err, b.String())
	}
	// PFCOUNT rewrites the HyperLogLog's cached cardinality: read it after the comparison.
	if n, _ := db3.PFCount(ctx, "b:5:hll").Result(); n != 3 {
		t.Errorf("HyperLogLog count %d", n)
	}
}

func loadFingerprintsFromFile(t *testing.T, path string) (map[int]*redisstate.Snapshot, *Verified) {
	v, err := VerifyFile(path, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fps, err := loadFingerprints(v)
	if err != nil {
		t.Fatal(err)
	}
	return fps, v
}

func TestRestoreRefusesDamagedFileWritingNothing(t *testing.T) {
	src := startRedis(t)
	loadAllTypes(t, src.db(t, 0), "a", 100)
	loadAllTypes(t, src.db(t, 1), "b", 100)
	dir := t.TempDir()
	_, path := backupTo(t, src, dir)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dst := startRedis(t)
	cases := map[string][]byte{
		"empty":             {},
		"foreign":           []byte("REDIS0010 this is not a docker-stateful backup\n"),
		"truncated to half": good[:len(good)/2],
		"last byte missing": good[:len(good)-1],
		"header only":       good[:len(Magic)+2],
		"garbage appended":  append(append([]byte{}, good...), 0x28, 0xb5, 0x2f, 0xfd),
	}
	for _, pos := range []int{3, len(Magic) + 1, len(Magic) + 20, len(good) / 3, len(good) / 2, len(good) - 30, len(good) - 3} {
		b := append([]byte{}, good...)
		b[pos] ^= 0x01
		cases[fmt.Sprintf("byte %d flipped", pos)] = b
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, "bad.dsbackup")
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Restore(context.Background(), dst.client(t), p, RestoreOptions{})
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T), want a *FileError", err, err)
			}
			if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), p) {
				t.Errorf("not one line naming the file: %q", err)
			}
			if n := dbsize(t, dst, 0, 1); n != 0 {
				t.Errorf("%d keys written although the file was refused", n)
				dst.db(t, 0).FlushAll(context.Background()) // keep the other cases apart
			}
			t.Log(err)
		})
	}
}

// Some bits of a zstd stream are ignored by its decoders (reserved header bits, the
// window size, padding): the body hash cannot see them flipped, the seal must. Every bit
// of the file's first and last 64 bytes is flipped, and one bit of every 61st byte between.
func TestVerifyFileRefusesEveryFlippedBit(t *testing.T) {
	src := startRedis(t)
	loadAllTypes(t, src.db(t, 0), "a", 30)
	dir := t.TempDir()
	_, path := backupTo(t, src, dir)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyFile(path, t.TempDir()); err != nil {
		t.Fatalf("the good file: %v", err)
	}
	type flip struct{ pos, bit int }
	var flips []flip
	for pos := range good {
		switch {
		case pos < 64 || pos >= len(good)-64:
			for bit := 0; bit < 8; bit++ {
				flips = append(flips, flip{pos, bit})
			}
		case pos%61 == 0:
			flips = append(flips, flip{pos, pos % 8})
		}
	}
	p := filepath.Join(dir, "flipped.dsbackup")
	undetected := 0
	for _, f := range flips {
		b := append([]byte{}, good...)
		b[f.pos] ^= 1 << f.bit
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := VerifyFile(p, t.TempDir())
		var fe *FileError
		if !errors.As(err, &fe) {
			if undetected++; undetected <= 10 {
				t.Errorf("byte %d bit %d of %d bytes flipped: error %v, want a *FileError", f.pos, f.bit, len(good), err)
			}
		}
	}
	if undetected > 0 {
		t.Errorf("%d of %d flipped bits not refused", undetected, len(flips))
	}
}

// A file of format version 1 (no seal), written by the code before version 2, still
// restores and verifies.
func TestRestoreFormatVersion1(t *testing.T) {
	const path = "testdata/format-v1.dsbackup"
	if _, err := VerifyFile(path, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	dst := startRedis(t)
	ctx := context.Background()
	rr, err := Restore(ctx, dst.client(t), path, RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rr.Header.FormatVersion != 1 || !rr.OK() || rr.Restored != 7 {
		t.Errorf("format %d, restored %d, verdict %s", rr.Header.FormatVersion, rr.Restored, rr.Verdict)
	}
	if v, _ := dst.db(t, 0).Get(ctx, "greeting").Result(); v != "hello" {
		t.Errorf("greeting = %q", v)
	}
	if v, _ := dst.db(t, 2).Get(ctx, "other").Result(); v != "db2" {
		t.Errorf("db2 other = %q", v)
	}
	if at, _ := dst.db(t, 0).PExpireTime(ctx, "session").Result(); at.Milliseconds() != 4102444800000 {
		t.Errorf("session expires at %v, want 2100-01-01", at)
	}
}

func TestRestoreRefusesNonEmptyUnlessReplace(t *testing.T) {
	s := startRedis(t)
	ctx := context.Background()
	loadAllTypes(t, s.db(t, 0), "a", 50)
	_, path := backupTo(t, s, t.TempDir())
	s.db(t, 0).FlushAll(ctx)
	s.db(t, 5).Set(ctx, "other", "1", 0)
	_, err := Restore(ctx, s.client(t), path, RestoreOptions{})
	var re *RefusedError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "db5: 1 keys") || !strings.Contains(err.Error(), "--replace") {
		t.Fatalf("error %v, want a refusal naming db5 and --replace", err)
	}
	if n := dbsize(t, s, 0); n != 0 {
		t.Fatalf("%d keys written although refused", n)
	}
	// --replace: restores over existing keys of the same name, other keys stay
	s.db(t, 0).Set(ctx, "a:1:str", "stale", 0)
	rr, err := Restore(ctx, s.client(t), path, RestoreOptions{Replace: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rr.OK() {
		var buf bytes.Buffer
		RenderVerification(&buf, rr.Verification)
		t.Fatalf("not verified:\n%s", buf.String())
	}
	if v, _ := s.db(t, 0).Get(ctx, "a:1:str").Result(); v != "value-1" {
		t.Errorf("a:1:str = %q after --replace", v)
	}
	if v, _ := s.db(t, 5).Get(ctx, "other").Result(); v != "1" {
		t.Errorf("other key of db 5 lost")
	}
}

// rewrite re-encodes a backup file with a changed header (and a correct hash).
func rewrite(t *testing.T, path string, edit func(*Header)) string {
	t.Helper()
	return rewriteRecords(t, path, edit, func(r Record) []Record { return []Record{r} })
}

func TestRestoreRefusesNewerRDBVersion(t *testing.T) {
	s := startRedis(t)
	ctx := context.Background()
	loadAllTypes(t, s.db(t, 0), "a", 20)
	_, path := backupTo(t, s, t.TempDir())
	s.db(t, 0).FlushAll(ctx)
	si, _ := s.client(t).ServerInfo(ctx)
	newer := rewrite(t, path, func(h *Header) {
		h.RDBVersion, h.RedisVersion = 99, "99.0.0"
		h.Cut.RedisVersion, h.Cut.Server = "99.0.0", "Redis 99.0.0" // the cut names its server
	})
	_, err := Restore(ctx, s.client(t), newer, RestoreOptions{})
	var re *RefusedError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "RDB 99") || !strings.Contains(err.Error(), "99.0.0") || !strings.Contains(err.Error(), si.Version) {
		t.Fatalf("error %v, want a refusal naming RDB 99, Redis 99.0.0 and %s", err, si.Version)
	}
	if n := dbsize(t, s, 0); n != 0 {
		t.Fatalf("%d keys written although refused", n)
	}
	// The rewritten file itself is sound: with the real version it restores and verifies.
	same := rewrite(t, path, func(*Header) {})
	rr, err := Restore(ctx, s.client(t), same, RestoreOptions{})
	if err != nil || !rr.OK() {
		t.Fatalf("rewritten file: %v", err)
	}
}

func TestBackupRestoreEmptyRedis(t *testing.T) {
	s := startRedis(t)
	res, path := backupTo(t, s, t.TempDir())
	if res.Records != 0 || len(res.Header.Databases) != 0 || res.Header.RDBVersion <= 0 {
		t.Fatalf("backup of an empty Redis: %+v", res)
	}
	if err := CheckReadable(path); err != nil {
		t.Fatal(err)
	}
	rr, err := Restore(context.Background(), s.client(t), path, RestoreOptions{})
	if err != nil || !rr.OK() || rr.Restored != 0 {
		t.Fatalf("restore of an empty backup: %+v %v", rr, err)
	}
}

// TestBackupIsACut: a writer running through the backup loses no acknowledged write and
// the file holds exactly the writes acknowledged before the pause (a prefix of the
// sequence), consistent with the fingerprint of the cut (the restore verifies).
func TestBackupIsACut(t *testing.T) {
	s := startRedis(t)
	ctx := context.Background()
	loadAllTypes(t, s.db(t, 0), "a", 500)
	w := s.db(t, 2)
	type ack struct {
		i  int
		at time.Time
	}
	acks := make(chan ack, 1<<20)
	stop := make(chan struct{})
	done := make(chan error)
	go func() {
		defer close(acks)
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if err := w.Set(ctx, fmt.Sprintf("seq:%07d", i), i, 0).Err(); err != nil {
				done <- err
				return
			}
			acks <- ack{i, time.Now()}
		}
	}()
	time.Sleep(100 * time.Millisecond)
	res, path := backupTo(t, s, t.TempDir())
	time.Sleep(100 * time.Millisecond)
	close(stop)
	if err := <-done; err != nil {
		t.Fatalf("a write failed during the backup: %v", err)
	}
	var all []ack
	for a := range acks {
		all = append(all, a)
	}
	dst := startRedis(t)
	rr, err := Restore(ctx, dst.client(t), path, RestoreOptions{})
	if err != nil || !rr.OK() {
		t.Fatalf("restore: %v", err)
	}
	keys, err := dst.db(t, 2).Keys(ctx, "seq:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	k, maxI := len(keys), -1
	for _, key := range keys {
		i, _ := strconv.Atoi(strings.TrimPrefix(key, "seq:"))
		maxI = max(maxI, i)
	}
	if maxI != k-1 {
		t.Fatalf("the backup holds %d seq keys up to seq:%07d: not a prefix of the writes", k, maxI)
	}
	for _, a := range all {
		if a.at.Before(res.Header.Cut.PausedAt) && a.i >= k {
			t.Fatalf("seq:%07d acknowledged at %s before the pause (%s) is not in the backup", a.i, a.at, res.Header.Cut.PausedAt)
		}
	}
	if k == 0 || k >= len(all) {
		t.Fatalf("backup holds %d of %d writes: the writer did not run across the backup", k, len(all))
	}
	t.Logf("%d writes, %d before the cut, write pause %dms", len(all), k, res.WritePauseMs)
}

func TestRestoreFromStdin(t *testing.T) {
	s := startRedis(t)
	ctx := context.Background()
	loadAllTypes(t, s.db(t, 0), "a", 30)
	_, path := backupTo(t, s, t.TempDir())
	good, _ := os.ReadFile(path)
	s.db(t, 0).FlushAll(ctx)
	_, err := Restore(ctx, s.client(t), "-", RestoreOptions{Stdin: bytes.NewReader(good[:len(good)-10])})
	var fe *FileError
	if !errors.As(err, &fe) || !strings.HasPrefix(err.Error(), "backup file stdin: truncated") {
		t.Fatalf("truncated stdin: %v", err)
	}
	if n := dbsize(t, s, 0); n != 0 {
		t.Fatalf("%d keys written from a truncated stdin", n)
	}
	rr, err := Restore(ctx, s.client(t), "-", RestoreOptions{Stdin: bytes.NewReader(good)})
	if err != nil || !rr.OK() || rr.Path != "stdin" {
		t.Fatalf("restore from stdin: %+v %v", rr, err)
	}
}

// A KeepPaused backup leaves writes paused (renewed past Pause) until Hold.Release, and
// VerifyAgainst proves another Redis equal to the file's cut, or not.
func TestBackupKeepPausedAndVerifyAgainst(t *testing.T) {
	s := startRedis(t)
	ctx := context.Background()
	loadAllTypes(t, s.db(t, 0), "a", 50)
	loadAllTypes(t, s.db(t, 1), "b", 50)
	path := filepath.Join(t.TempDir(), "b.dsbackup")
	res, err := BackupFile(ctx, s.client(t), path, Options{Service: "svc", Pause: 600 * time.Millisecond, KeepPaused: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Hold == nil {
		t.Fatal("no Hold with KeepPaused")
	}
	w := s.db(t, 0)
	time.Sleep(time.Second) // longer than Pause: the keeper renews it
	wctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	err = w.Set(wctx, "late", "1", 0).Err()
	cancel()
	if err == nil {
		t.Fatal("a write went through while the backup held the pause")
	}
	if err := res.Hold.Release(); err != nil {
		t.Fatal(err)
	}
	if err := w.Set(ctx, "late2", "1", 0).Err(); err != nil {
		t.Fatalf("write after Release: %v", err)
	}

	dst := startRedis(t)
	if _, err := Restore(ctx, dst.client(t), path, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	v, err := VerifyAgainst(ctx, dst.client(t), path, 5)
	if err != nil || !v.OK() {
		t.Fatalf("VerifyAgainst of a restored copy: %v %+v", err, v)
	}
	if err := dst.db(t, 1).Del(ctx, "b:3:str").Err(); err != nil {
		t.Fatal(err)
	}
	v, err = VerifyAgainst(ctx, dst.client(t), path, 5)
	if err != nil || v.OK() || v.Count(redisstate.ClassMissing) != 1 {
		t.Fatalf("VerifyAgainst after a DEL: %v %+v", err, v)
	}
}
