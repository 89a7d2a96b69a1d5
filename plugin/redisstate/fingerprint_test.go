package redisstate

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestFingerprintStableAcrossRestart(t *testing.T) {
	r := startRedis(t)
	rdb := r.raw(t)
	loadMixed(t, rdb, 300)
	ctx := context.Background()
	// check we really have both encodings
	for k, want := range map[string]string{"hbig": "hashtable", "hsmall:1": "listpack", "sbig": "hashtable", "zbig": "skiplist", "sintbig": "hashtable"} {
		if enc := rdb.ObjectEncoding(ctx, k).Val(); enc != want {
			t.Logf("%s encoding %s (expected %s)", k, enc, want)
		}
	}
	st, _ := OpenStore(t.TempDir())
	c := r.client(t)
	before := fingerprintTo(t, st, c)
	if err := rdb.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	r.restart()
	c2 := r.client(t)
	si, err := c2.WaitReady(ctx, 10*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if si.RunID == before.Summary.RunID {
		t.Fatal("expected a new run_id after restart")
	}
	after := fingerprintTo(t, st, c2)
	bs, as := before.Summary, after.Summary
	t.Logf("keys %d digest %s types %v mode %s", bs.Keys, bs.Digest, bs.Types, bs.TTLMode)
	if bs.TTLMode != TTLPExpireTime {
		t.Errorf("ttl mode %s", bs.TTLMode)
	}
	wantKeys := int64(300*8 + 8)
	if bs.Keys != wantKeys || as.Keys != wantKeys {
		t.Errorf("keys before %d after %d, want %d", bs.Keys, as.Keys, wantKeys)
	}
	if bs.Digest != as.Digest {
		rep, _ := Compare(before, after, CompareOptions{})
		var sb strings.Builder
		RenderText(&sb, rep)
		t.Fatalf("digest changed across restart: %s → %s\n%s", bs.Digest, as.Digest, sb.String())
	}
	rep, err := Compare(before, after, CompareOptions{MustExist: []string{"hbig", "nope"}})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.DigestEqual || len(rep.DifferingShards) != 0 {
		t.Errorf("expected O(1) verification: %+v", rep)
	}
	if rep.OK() || len(rep.MustExist) != 2 || !rep.MustExist[0].Present || rep.MustExist[1].Present {
		t.Errorf("must-exist: %+v verdict %s", rep.MustExist, rep.Verdict)
	}
}

func TestCompareInjectedChanges(t *testing.T) {
	r := startRedis(t)
	rdb := r.raw(t)
	loadMixed(t, rdb, 200)
	ctx := context.Background()
	rdb.Set(ctx, "shortttl", "x", 0)
	rdb.PExpire(ctx, "shortttl", 1000*time.Millisecond)
	setAt := time.Now()
	st, _ := OpenStore(t.TempDir())
	c := r.client(t)
	before := fingerprintTo(t, st, c)

	rdb.Del(ctx, "str:1", "hbig")                                                             // MISSING ×2
	rdb.Set(ctx, "str:2", "other", 0)                                                         // CHANGED value
	rdb.HSet(ctx, "hbig2", "x", 1)                                                            // NEW
	rdb.Del(ctx, "list:3")                                                                    // type change list → string
	rdb.Set(ctx, "list:3", "now a string", 0)                                                 // CHANGED type
	rdb.ZAdd(ctx, "zbig", redis.Z{Score: 0.5, Member: "m:7"})                                 // CHANGED (score)
	rdb.SAdd(ctx, "sbig", "extra")                                                            // CHANGED (member)
	rdb.PExpireAt(ctx, "ttl:4", time.Now().Add(5*time.Hour))                                  // TTL-CHANGED
	rdb.Persist(ctx, "httl:5")                                                                // TTL-CHANGED
	rdb.RPush(ctx, "lbig", "tail")                                                            // CHANGED
	rdb.XAdd(ctx, &redis.XAddArgs{Stream: "stream:9", ID: "2-1", Values: []string{"a", "b"}}) // CHANGED
	rdb.HSet(ctx, "bin\x00\xff key", "\x00", "\xff")                                          // CHANGED
	time.Sleep(time.Until(setAt.Add(1200 * time.Millisecond)))                                // shortttl expires → EXPIRED

	after := fingerprintTo(t, st, c)
	rep, err := Compare(before, after, CompareOptions{MaxKeys: 50})
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	RenderText(&sb, rep)
	t.Log("\n" + sb.String())
	want := map[string][]string{
		ClassMissing:    {"hbig", "str:1"},
		ClassChanged:    {"lbig", "list:3", "sbig", "str:2", "stream:9", "zbig", "bin\x00\xff key"},
		ClassNew:        {"hbig2"},
		ClassTTLChanged: {"httl:5", "ttl:4"},
		ClassExpired:    {"shortttl"},
	}
	for class, keys := range want {
		got := map[string]bool{}
		for _, d := range rep.Classes[class].Keys {
			got[d.Key] = true
		}
		if int(rep.Count(class)) != len(keys) {
			t.Errorf("%s: count %d, want %d (%v)", class, rep.Count(class), len(keys), rep.Classes[class].Keys)
		}
		for _, k := range keys {
			if !got[k] {
				t.Errorf("%s: %q not reported", class, k)
			}
		}
	}
	if rep.OK() {
		t.Error("verdict should fail")
	}
	for _, d := range rep.Classes[ClassChanged].Keys {
		if d.Key == "list:3" && d.Detail != "type list → string" {
			t.Errorf("type change detail %q", d.Detail)
		}
	}
	if len(rep.DifferingShards) == 0 || len(rep.DifferingShards) > 14 {
		t.Errorf("differing shards %v", rep.DifferingShards)
	}
}

func TestCompareNewAndExpiredPass(t *testing.T) {
	r := startRedis(t)
	rdb := r.raw(t)
	ctx := context.Background()
	for i := 0; i < 100; i++ {
		rdb.Set(ctx, "k"+string(rune('a'+i%26))+strings.Repeat("x", i), i, 0)
	}
	rdb.Set(ctx, "soon", 1, 1500*time.Millisecond)
	rdb.Set(ctx, "later", 1, time.Hour)
	st, _ := OpenStore(t.TempDir())
	c := r.client(t)
	before := fingerprintTo(t, st, c)
	rdb.Set(ctx, "written-after-cut", 1, 0)
	rdb.Expire(ctx, "later", 2*time.Hour)
	time.Sleep(1600 * time.Millisecond)
	after := fingerprintTo(t, st, c)
	rep, err := Compare(before, after, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Count(ClassNew) != 1 || rep.Count(ClassExpired) != 1 || rep.Count(ClassTTLChanged) != 1 {
		t.Fatalf("verdict %s new %d expired %d ttl %d", rep.Verdict, rep.Count(ClassNew), rep.Count(ClassExpired), rep.Count(ClassTTLChanged))
	}
	rep, _ = Compare(before, after, CompareOptions{StrictTTL: true})
	if rep.OK() {
		t.Fatal("StrictTTL should fail on TTL-CHANGED")
	}
}

func TestEmptyDatasetAndOtherDB(t *testing.T) {
	r := startRedis(t)
	ctx := context.Background()
	st, _ := OpenStore(t.TempDir())
	c := r.client(t)
	empty := fingerprintTo(t, st, c)
	if empty.Summary.Keys != 0 || empty.Summary.Digest != 0 {
		t.Fatalf("empty: %+v", empty.Summary)
	}
	// db 3 is separate from db 0
	c3, _ := NewClient(Options{Addr: r.Addr(), DB: 3, OnlyDB: true})
	defer c3.Close()
	c3.Redis().Set(ctx, "only-in-3", 1, 0)
	s3 := fingerprintTo(t, st, c3)
	if s3.Summary.Keys != 1 || s3.Summary.DB != 3 {
		t.Fatalf("db3: %+v", s3.Summary)
	}
	// a snapshot of every database is not compared with one of database 3 only
	if _, err := Compare(empty, s3, CompareOptions{}); err == nil {
		t.Fatal("every database vs database 3 only: compared")
	}
	rep, _ := Compare(s3, empty, CompareOptions{})
	if rep.OK() || rep.Count(ClassMissing) != 1 {
		t.Fatalf("1 key → empty: %+v", rep)
	}
}

// Every logical database is checked: 100 keys in database 1, FLUSHALL and a restart must
// fail with 100 MISSING keys of database 1 (it said "verified, all 0 keys intact").
func TestEveryDatabaseIsFingerprinted(t *testing.T) {
	r := startRedis(t)
	ctx := context.Background()
	rdb := r.raw(t)
	db1 := redis.NewClient(&redis.Options{Addr: r.Addr(), DB: 1, Protocol: 2, DisableIdentity: true})
	defer db1.Close()
	db5 := redis.NewClient(&redis.Options{Addr: r.Addr(), DB: 5, Protocol: 2, DisableIdentity: true})
	defer db5.Close()
	for i := 0; i < 100; i++ {
		db1.Set(ctx, fmt.Sprintf("k%d", i), i, 0)
	}
	rdb.Set(ctx, "k1", "db0's k1", 0) // same name as in db 1: a different key
	db5.HSet(ctx, "h", "f", "v")
	st, _ := OpenStore(t.TempDir())
	c := r.client(t)
	before := fingerprintTo(t, st, c)
	bs := before.Summary
	if bs.Keys != 102 || len(bs.Databases) != 3 || bs.Databases[1] != (DBSummary{DB: 1, Keys: 100}) || bs.OnlyDB {
		t.Fatalf("before: keys %d databases %+v", bs.Keys, bs.Databases)
	}

	// the same data in another process: verified across every database
	rdb.Save(ctx)
	r.restart()
	c2 := r.client(t)
	rep, _, err := VerifyAgainst(ctx, c2, st, before, FingerprintOptions{}, CompareOptions{})
	if err != nil || !rep.OK() || !rep.DigestEqual {
		t.Fatalf("unchanged data: %v %+v", err, rep)
	}
	var sb strings.Builder
	RenderText(&sb, rep)
	if !strings.Contains(sb.String(), "all 102 keys of snapshot "+before.ID+" in databases 0, 1, 5 are intact") {
		t.Errorf("report:\n%s", sb.String())
	}

	// db 1's k5 changed: named with its database
	db1b := redis.NewClient(&redis.Options{Addr: r.Addr(), DB: 1, Protocol: 2, DisableIdentity: true})
	defer db1b.Close()
	db1b.Set(ctx, "k5", "other", 0)
	rep, _, _ = VerifyAgainst(ctx, c2, st, before, FingerprintOptions{}, CompareOptions{})
	if rep.OK() || rep.Count(ClassChanged) != 1 || rep.Classes[ClassChanged].Keys[0].DB != 1 || rep.Classes[ClassChanged].Keys[0].Key != "k5" {
		t.Fatalf("changed in db 1: %+v", rep.Classes[ClassChanged])
	}
	sb.Reset()
	RenderText(&sb, rep)
	if !strings.Contains(sb.String(), "k5 [db1]") || !strings.Contains(sb.String(), "db1           100 → 100 keys") {
		t.Errorf("report:\n%s", sb.String())
	}

	// FLUSHALL + restart: db 1's 100 keys and db 5's hash are MISSING, never "verified"
	rdb.FlushAll(ctx)
	rdb.Save(ctx)
	r.restart()
	c3 := r.client(t)
	rep, _, err = VerifyAgainst(ctx, c3, st, before, FingerprintOptions{}, CompareOptions{MaxKeys: 200})
	if err != nil {
		t.Fatal(err)
	}
	perDB := map[int]int{}
	for _, d := range rep.Classes[ClassMissing].Keys {
		perDB[d.DB]++
	}
	if rep.OK() || rep.Count(ClassMissing) != 102 || perDB[1] != 100 || perDB[0] != 1 || perDB[5] != 1 {
		t.Fatalf("after FLUSHALL: verdict %s missing %d per db %v", rep.Verdict, rep.Count(ClassMissing), perDB)
	}

	// --redis-url .../1 checks database 1 only, and says so
	o, _ := ParseURL("redis://" + r.Addr() + "/1")
	only, _ := NewClient(o)
	defer only.Close()
	db1c := redis.NewClient(&redis.Options{Addr: r.Addr(), DB: 1, Protocol: 2, DisableIdentity: true})
	defer db1c.Close()
	db1c.Set(ctx, "x", 1, 0)
	rdb.Set(ctx, "in-db0", 1, 0)
	s1 := fingerprintTo(t, st, only)
	if !s1.Summary.OnlyDB || s1.Summary.Keys != 1 || len(s1.Summary.Databases) != 1 || s1.Summary.Databases[0].DB != 1 {
		t.Fatalf("only db 1: %+v", s1.Summary)
	}
	rep, _, err = VerifyAgainst(ctx, only, st, s1, FingerprintOptions{}, CompareOptions{})
	if err != nil || !rep.OK() {
		t.Fatal(err, rep)
	}
	sb.Reset()
	RenderText(&sb, rep)
	if !strings.Contains(sb.String(), "in database 1 only") {
		t.Errorf("report:\n%s", sb.String())
	}
	// a snapshot of every database cannot be checked against one database only
	if _, _, err := VerifyAgainst(ctx, only, st, before, FingerprintOptions{}, CompareOptions{}); err == nil ||
		!strings.Contains(err.Error(), "covers every database") {
		t.Errorf("all-database snapshot vs /1: %v", err)
	}
}

// A snapshot written before every database was fingerprinted (format 0: no db in the
// records, database 0 only, no checksum) is refused with one line that says what to do:
// it cannot be told from a damaged one, and it does not cover every database.
func TestFormat0SnapshotRefused(t *testing.T) {
	r := startRedis(t)
	loadMixed(t, r.raw(t), 5)
	st, _ := OpenStore(t.TempDir())
	cur := fingerprintTo(t, st, r.client(t))
	old := filepath.Join(st.Root(), "20250101T000000-aaaaaa")
	os.Rename(cur.Dir, old)
	var m map[string]any
	b, _ := os.ReadFile(filepath.Join(old, "summary.json"))
	json.Unmarshal(b, &m)
	for _, k := range []string{"format", "only_db", "databases", "files", "checksum"} {
		delete(m, k)
	}
	b, _ = json.Marshal(m)
	os.WriteFile(filepath.Join(old, "summary.json"), b, 0o600)
	_, err := st.Load("20250101T000000-aaaaaa")
	if err == nil || !strings.Contains(err.Error(), "written by an older docker stateful") || !strings.Contains(err.Error(), "take a new snapshot") {
		t.Fatalf("format 0 snapshot: %v", err)
	}
}

// A stream's consumer groups are part of its value: consumers, pending entries with their
// owner and delivery count, last-generated-id. Changes there are CHANGED; a restart is not.
func TestStreamGroupsFingerprinted(t *testing.T) {
	r := startRedis(t)
	ctx := context.Background()
	rdb := r.raw(t)
	for i := 1; i <= 5; i++ {
		rdb.XAdd(ctx, &redis.XAddArgs{Stream: "s", ID: fmt.Sprintf("%d-1", i), Values: []string{"n", strconv.Itoa(i)}})
	}
	rdb.XGroupCreate(ctx, "s", "g", "0")
	rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "alice", Streams: []string{"s", ">"}, Count: 2})
	rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "bob", Streams: []string{"s", ">"}, Count: 1})
	// many pending entries: XPENDING takes several pages
	for i := 0; i < 2500; i++ {
		rdb.XAdd(ctx, &redis.XAddArgs{Stream: "big", Values: []string{"i", strconv.Itoa(i)}})
	}
	rdb.XGroupCreate(ctx, "big", "g", "0")
	rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "c", Streams: []string{"big", ">"}, Count: 3000})
	st, _ := OpenStore(t.TempDir())
	c := r.client(t)
	before := fingerprintTo(t, st, c)
	rdb.Save(ctx)
	r.restart()
	rdb = r.raw(t)
	c = r.client(t)
	rep, _, err := VerifyAgainst(ctx, c, st, before, FingerprintOptions{}, CompareOptions{})
	if err != nil || !rep.OK() || !rep.DigestEqual {
		t.Fatalf("restart changed a stream's fingerprint: %v %+v", err, rep)
	}
	pend, _ := rdb.XPending(ctx, "s", "g").Result()
	if pend.Count != 3 {
		t.Fatalf("pending %+v", pend)
	}
	for name, change := range map[string]func(){
		"pending entry changes owner": func() {
			rdb.XClaim(ctx, &redis.XClaimArgs{Stream: "s", Group: "g", Consumer: "bob", Messages: []string{"1-1"}})
		},
		"new consumer without entries": func() { rdb.XGroupCreateConsumer(ctx, "s", "g", "carol") },
		"entry added and deleted": func() {
			rdb.XAdd(ctx, &redis.XAddArgs{Stream: "s", ID: "9-1", Values: []string{"n", "9"}})
			rdb.XDel(ctx, "s", "9-1")
		},
		"a pending entry of the last page acknowledged": func() {
			last, _ := rdb.XRevRangeN(ctx, "big", "+", "-", 1).Result()
			rdb.XAck(ctx, "big", "g", last[0].ID)
		},
	} {
		rdb.Save(ctx) // keep the dataset as it is before each change
		b, _ := os.ReadFile(filepath.Join(r.Dir, "dump.rdb"))
		change()
		rep, _, err := VerifyAgainst(ctx, c, st, before, FingerprintOptions{}, CompareOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.OK() || rep.Count(ClassChanged) != 1 {
			t.Errorf("%s: verdict %s, changed %d", name, rep.Verdict, rep.Count(ClassChanged))
		}
		// undo: back to the saved copy
		r.stop()
		os.WriteFile(filepath.Join(r.Dir, "dump.rdb"), b, 0o600)
		r.start()
		rdb = r.raw(t)
		c = r.client(t)
	}
}

// Big values are hashed as they arrive: reading 160 MB of values allocates a few MB, not
// the values (MGET through go-redis held every value of a batch: 1000 × 50 MB = 50 GB).
// The same digest as the GET path proves the streamed hash is the value's hash.
func TestBigValuesStreamed(t *testing.T) {
	r := startRedis(t)
	ctx := context.Background()
	rdb := r.raw(t)
	val := strings.Repeat("0123456789abcdef", 4<<20/16) // 4 MiB
	for i := 0; i < 40; i++ {
		if err := rdb.Set(ctx, fmt.Sprintf("big:%02d", i), val[i:]+strconv.Itoa(i), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 2000; i++ {
		rdb.Set(ctx, fmt.Sprintf("small:%d", i), i, 0)
	}
	rdb.Expire(ctx, "big:07", time.Hour)
	c := r.client(t)
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	sum, err := Fingerprint(ctx, c, t.TempDir(), FingerprintOptions{})
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&m1)
	alloc := m1.TotalAlloc - m0.TotalAlloc
	t.Logf("fingerprint of 40 × 4 MiB + 2000 small values allocated %.1f MiB", float64(alloc)/(1<<20))
	if alloc > 32<<20 {
		t.Errorf("fingerprint allocated %.1f MiB for 160 MiB of values: values are held, not streamed", float64(alloc)/(1<<20))
	}
	ref, err := Fingerprint(ctx, c, t.TempDir(), FingerprintOptions{PerKeyGet: true})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Digest != ref.Digest || sum.Keys != 2040 || ref.Keys != 2040 {
		t.Errorf("streamed digest %s (%d keys), GET digest %s (%d keys)", sum.Digest, sum.Keys, ref.Digest, ref.Keys)
	}
}

// Big elements of collections are hashed as they arrive too (HSCAN/SSCAN/ZSCAN/LRANGE/
// XRANGE pages through go-redis held a page: 1000 elements of any size); the value hashes
// stay what they are across a restart (new hash seed, other element order).
func TestBigElementsStreamed(t *testing.T) {
	r := startRedis(t)
	ctx := context.Background()
	rdb := r.raw(t)
	val := strings.Repeat("0123456789abcdef", 2<<20/16) // 2 MiB
	for i := 0; i < 16; i++ {
		e := strconv.Itoa(i) + val
		rdb.HSet(ctx, "hash", "f"+strconv.Itoa(i), e)
		rdb.SAdd(ctx, "set", e)
		rdb.ZAdd(ctx, "zset", redis.Z{Score: float64(i) / 7, Member: e})
		rdb.RPush(ctx, "list", e)
		rdb.XAdd(ctx, &redis.XAddArgs{Stream: "stream", Values: []string{"f", e}})
	}
	c := r.client(t)
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	if _, err := Fingerprint(ctx, c, t.TempDir(), FingerprintOptions{}); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&m1)
	alloc := m1.TotalAlloc - m0.TotalAlloc
	t.Logf("fingerprint of 5 collections × 16 elements of 2 MiB allocated %.1f MiB", float64(alloc)/(1<<20))
	st, _ := OpenStore(t.TempDir())
	before, err := TakeSnapshot(ctx, c, st, "svc", nil, FingerprintOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if alloc > 16<<20 {
		t.Errorf("fingerprint allocated %.1f MiB for 160 MiB of elements: pages are held, not streamed", float64(alloc)/(1<<20))
	}
	rdb.Save(ctx)
	r.restart()
	rep, _, err := VerifyAgainst(ctx, r.client(t), st, before, FingerprintOptions{}, CompareOptions{})
	if err != nil || !rep.OK() || !rep.DigestEqual {
		t.Fatalf("after restart: %v %+v", err, rep)
	}
	r.raw(t).LSet(ctx, "list", 9, "x"+val)
	rep, _, _ = VerifyAgainst(ctx, r.client(t), st, before, FingerprintOptions{}, CompareOptions{})
	if rep.OK() || rep.Count(ClassChanged) != 1 {
		t.Fatalf("one big list element changed: %+v", rep)
	}
}
