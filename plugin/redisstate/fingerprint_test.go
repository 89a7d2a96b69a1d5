package redisstate

import (
	"context"
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
	c3, _ := NewClient(Options{Addr: r.Addr(), DB: 3})
	defer c3.Close()
	c3.Redis().Set(ctx, "only-in-3", 1, 0)
	s3 := fingerprintTo(t, st, c3)
	if s3.Summary.Keys != 1 || s3.Summary.DB != 3 {
		t.Fatalf("db3: %+v", s3.Summary)
	}
	rep, _ := Compare(empty, s3, CompareOptions{})
	if !rep.OK() || rep.Count(ClassNew) != 1 {
		t.Fatalf("empty → 1 key: %+v", rep)
	}
	rep, _ = Compare(s3, empty, CompareOptions{})
	if rep.OK() || rep.Count(ClassMissing) != 1 {
		t.Fatalf("1 key → empty: %+v", rep)
	}
}
