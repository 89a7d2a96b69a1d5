package redisstate

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// fakeSnapshot writes a manifest + summary for recs (duplicates allowed, like SCAN).
func fakeSnapshot(t testing.TB, id string, recs []Record, mode string, scanStartMs int64) *Snapshot {
	dir := t.TempDir()
	mw, err := newManifestWriter(dir)
	if err != nil {
		t.Fatal(err)
	}
	sum := &Summary{ID: id, Format: ManifestFormat, RunID: "run-" + id, TTLMode: mode, ScanStartMs: scanStartMs, ScanEndMs: scanStartMs,
		Shards: make([]ShardSum, NumShards), Types: map[string]int64{}}
	for _, r := range recs {
		kh := keyID(r.DB, r.Key)
		sh := int(kh >> 56)
		if err := mw.write(sh, r.DB, r.Key, r.Type, r.ValueHash, r.ExpireAt); err != nil {
			t.Fatal(err)
		}
		sum.Shards[sh].Keys++
		sum.Shards[sh].Sum += Hex64(keyHash(kh, r.Type, r.ValueHash, ttlForHash(mode, r.ExpireAt)))
	}
	if err := mw.close(); err != nil {
		t.Fatal(err)
	}
	for _, s := range sum.Shards {
		sum.Keys += s.Keys
		sum.Digest += s.Sum
	}
	perDB := map[int]int64{}
	for _, r := range recs {
		perDB[r.DB]++
	}
	for db := 0; db < 16; db++ {
		if perDB[db] > 0 {
			sum.Databases = append(sum.Databases, DBSummary{DB: db, Keys: perDB[db]})
		}
	}
	return &Snapshot{ID: id, Dir: dir, Summary: sum}
}

func TestCompareFakeManifests(t *testing.T) {
	const now = 1_800_000_000_000
	base := []Record{}
	for i := 0; i < 5000; i++ {
		base = append(base, Record{Key: fmt.Sprintf("k%d", i), Type: TypeString, ValueHash: uint64(i), ExpireAt: -1})
	}
	base = append(base,
		Record{Key: "gone-by-ttl", Type: TypeString, ValueHash: 1, ExpireAt: now - 5},
		Record{Key: "ttl-future", Type: TypeHash, ValueHash: 2, ExpireAt: now + 60000},
		Record{Key: "ttl-lost", Type: TypeHash, ValueHash: 3, ExpireAt: now + 60000},
		Record{Key: "lost-with-future-ttl", Type: TypeSet, ValueHash: 4, ExpireAt: now + 60000},
		Record{Key: "retyped", Type: TypeList, ValueHash: 5, ExpireAt: -1},
	)
	before := fakeSnapshot(t, "before", base, TTLPExpireTime, now-1000)

	// identical, with SCAN duplicates in the after scan: verified, no false diffs
	dup := append(append([]Record{}, base...), base[10], base[20])
	after := fakeSnapshot(t, "after-dup", dup, TTLPExpireTime, now)
	rep, err := Compare(before, after, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.DigestEqual || len(rep.DifferingShards) == 0 || len(rep.DifferingShards) > 2 {
		t.Fatalf("duplicates: verdict %s shards %v classes %v", rep.Verdict, rep.DifferingShards, rep.Classes)
	}
	for _, c := range Classes {
		if rep.Count(c) != 0 && c != ClassExpired {
			t.Errorf("duplicates produced %s", c)
		}
	}

	// identical → O(1)
	same := fakeSnapshot(t, "same", base[:len(base)-0], TTLPExpireTime, now-500)
	rep, _ = Compare(before, same, CompareOptions{})
	if !rep.DigestEqual || !rep.OK() || rep.Unchanged != int64(len(base)) {
		t.Fatalf("same: %+v", rep)
	}

	var mod []Record
	for _, r := range base {
		switch r.Key {
		case "k1", "gone-by-ttl", "lost-with-future-ttl":
			continue
		case "k2":
			r.ValueHash = 999
		case "retyped":
			r.Type = TypeString
		case "ttl-lost":
			r.ExpireAt = -1
		}
		mod = append(mod, r)
	}
	mod = append(mod, Record{Key: "brand-new", Type: TypeZSet, ValueHash: 7, ExpireAt: -1})
	after = fakeSnapshot(t, "after", mod, TTLPExpireTime, now)
	rep, err = Compare(before, after, CompareOptions{MaxKeys: 1, MustExist: []string{"k3", "k1"}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{ClassMissing: 2, ClassChanged: 2, ClassNew: 1, ClassExpired: 1, ClassTTLChanged: 1}
	for c, n := range want {
		if rep.Count(c) != n {
			t.Errorf("%s = %d, want %d", c, rep.Count(c), n)
		}
		if len(rep.Classes[c].Keys) != 1 {
			t.Errorf("%s lists %d keys with MaxKeys 1", c, len(rep.Classes[c].Keys))
		}
	}
	if rep.OK() || len(rep.MustExist) != 2 || !rep.MustExist[0].Present || rep.MustExist[1].Present {
		t.Errorf("verdict %s must %+v", rep.Verdict, rep.MustExist)
	}
	if rep.Unchanged != int64(len(base))-2-2-1-1 {
		t.Errorf("unchanged %d", rep.Unchanged)
	}
	var tb, jb bytes.Buffer
	if err := RenderText(&tb, rep); err != nil {
		t.Fatal(err)
	}
	if err := RenderJSON(&jb, rep); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"MISSING", "Verdict: FAILED", "k1"} {
		if !strings.Contains(tb.String(), s) {
			t.Errorf("text report lacks %q:\n%s", s, tb.String())
		}
	}
	var back map[string]any
	if err := json.Unmarshal(jb.Bytes(), &back); err != nil || back["verdict"] != "failed" {
		t.Errorf("json: %v %v", err, back["verdict"])
	}
	t.Log("\n" + tb.String())
}

// A 6.2 → 7.0 upgrade: before has PTTL-based expire times, after exact ones; all shards are
// compared, expire times within the tolerance are equal. (Within PTTL mode on both sides
// only the has-TTL flag is in the digest, so a moved TTL is seen only in differing shards.)
func TestComparePTTLTolerance(t *testing.T) {
	const now = 1_800_000_000_000
	b := fakeSnapshot(t, "b", []Record{{Key: "a", Type: TypeString, ValueHash: 1, ExpireAt: now + 10000}, {Key: "b", Type: TypeString, ValueHash: 1, ExpireAt: now + 10000}}, TTLPTTL, now)
	a := fakeSnapshot(t, "a", []Record{{Key: "a", Type: TypeString, ValueHash: 1, ExpireAt: now + 10400}, {Key: "b", Type: TypeString, ValueHash: 1, ExpireAt: now + 50000}}, TTLPExpireTime, now+2000)
	rep, err := Compare(b, a, CompareOptions{TTLTolerance: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Count(ClassTTLChanged) != 1 || rep.Classes[ClassTTLChanged].Keys[0].Key != "b" {
		t.Errorf("pttl tolerance: %+v", rep.Classes[ClassTTLChanged])
	}
}

func TestStore(t *testing.T) {
	st, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i, svc := range []string{"a", "b", "a", "a"} {
		snap, err := st.New()
		if err != nil {
			t.Fatal(err)
		}
		snap.ID = fmt.Sprintf("2026112%dT000000-abcdef", i) // deterministic order
		mw, err := newManifestWriter(snap.Dir)
		if err != nil {
			t.Fatal(err)
		}
		mw.close()
		fake := fakeSnapshot(t, snap.ID, []Record{{Key: "x", Type: TypeString}}, TTLNone, 0)
		if err := st.Commit(snap, fake.Summary, svc); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, snap.ID)
	}
	all, _ := st.List()
	if len(all) != 4 {
		t.Fatalf("list %d", len(all))
	}
	l, err := st.Latest("a")
	if err != nil || l.ID != ids[3] {
		t.Fatalf("latest %v %v", l, err)
	}
	if _, err := st.Load(ids[1][:9]); err != nil { // unique prefix
		t.Fatal(err)
	}
	removed, err := st.Prune("a", 1)
	if err != nil || len(removed) != 2 {
		t.Fatalf("prune %v %v", removed, err)
	}
	all, _ = st.List()
	if len(all) != 2 {
		t.Fatalf("after prune %d", len(all))
	}
	if id := NewID(fakeNow()); len(id) != len("20261125T121500-ab12cd") {
		t.Errorf("id %s", id)
	}
}

func fakeNow() time.Time { return time.Now() }

// Keys that are not UTF-8 are written losslessly in --format json ("key_base64"): two
// different binary keys never print the same (they both became "\ufffd").
func TestBinaryKeysInJSON(t *testing.T) {
	r := startRedis(t)
	ctx := context.Background()
	rdb := r.raw(t)
	keys := []string{"\xff", "\xfe", "caf\xc3\xa9", "a\x00b"}
	for _, k := range keys {
		rdb.Set(ctx, k, "v", 0)
	}
	st, _ := OpenStore(t.TempDir())
	c := r.client(t)
	before := fingerprintTo(t, st, c)
	rdb.Del(ctx, keys...)
	rep, _, err := VerifyAgainst(ctx, c, st, before, FingerprintOptions{}, CompareOptions{MustExist: []string{"\xfd"}})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := RenderJSON(&buf, rep); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte(`\ufffd`)) || !utf8.Valid(buf.Bytes()) {
		t.Errorf("lossy JSON:\n%s", buf.String())
	}
	var raw struct {
		Classes map[string]struct {
			Keys []map[string]any `json:"keys"`
		} `json:"classes"`
		MustExist []map[string]any `json:"must_exist"`
	}
	json.Unmarshal(buf.Bytes(), &raw)
	got := map[string]bool{}
	for _, k := range raw.Classes[ClassMissing].Keys {
		switch {
		case k["key"] != nil && k["key_base64"] == nil:
			got[k["key"].(string)] = true
		case k["key"] == nil && k["key_base64"] != nil:
			b, err := base64.StdEncoding.DecodeString(k["key_base64"].(string))
			if err != nil {
				t.Fatal(err)
			}
			got[string(b)] = true
		default:
			t.Errorf("key entry %v", k)
		}
	}
	for _, k := range keys {
		if !got[k] {
			t.Errorf("key %q not in the JSON report (got %v)", k, got)
		}
	}
	if raw.MustExist[0]["key_base64"] != "/Q==" {
		t.Errorf("must_exist: %v", raw.MustExist)
	}
	// and it reads back
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Classes[ClassMissing].Count != 4 || back.MustExist[0].Key != "\xfd" {
		t.Errorf("round trip: %+v", back.Classes[ClassMissing])
	}
	for i, d := range back.Classes[ClassMissing].Keys {
		if d != rep.Classes[ClassMissing].Keys[i] {
			t.Errorf("round trip %d: %+v != %+v", i, d, rep.Classes[ClassMissing].Keys[i])
		}
	}
}

// A truncated or altered snapshot is an error, never a verdict.
func TestDamagedSnapshotIsAnError(t *testing.T) {
	r := startRedis(t)
	ctx := context.Background()
	rdb := r.raw(t)
	loadMixed(t, rdb, 100)
	st, _ := OpenStore(t.TempDir())
	c := r.client(t)
	good := fingerprintTo(t, st, c)
	rdb.Set(ctx, "str:1", "changed", 0) // the after scan differs in str:1's shard
	after := fingerprintTo(t, st, c)
	shard := ShardOf(0, "str:1")

	damage := map[string]func(dir string){
		"summary digest edited": func(dir string) {
			editSummary(t, dir, func(m map[string]any) { m["digest"] = "0000000000000001" })
		},
		"summary key count edited": func(dir string) {
			editSummary(t, dir, func(m map[string]any) {
				m["keys"] = m["keys"].(float64) + 1
				m["shards"].([]any)[0].(map[string]any)["keys"] = m["shards"].([]any)[0].(map[string]any)["keys"].(float64) + 1
			})
		},
		"summary cut short": func(dir string) {
			p := filepath.Join(dir, "summary.json")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)/2], 0o600)
		},
		"shard truncated": func(dir string) {
			p := shardPath(dir, shard)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)-3], 0o600)
		},
		"shard missing": func(dir string) { os.Remove(shardPath(dir, 7)) },
	}
	for name, fn := range damage {
		dir := copySnapshot(t, good.Dir)
		fn(dir)
		if s, err := LoadSnapshotDir(dir); err == nil {
			rep, err := Compare(s, good, CompareOptions{})
			t.Errorf("%s: loaded (compare: %v, %v)", name, err, rep != nil && rep.OK())
		} else if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "is damaged") {
			t.Errorf("%s: %v (want ErrDamaged)", name, err)
		}
	}
	// same size, one byte altered: loads, but reading that shard fails: no verdict
	dir := copySnapshot(t, good.Dir)
	p := shardPath(dir, shard)
	b, _ := os.ReadFile(p)
	b[len(b)/2] ^= 0x40
	os.WriteFile(p, b, 0o600)
	s, err := LoadSnapshotDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := Compare(s, after, CompareOptions{}); !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "is damaged") {
		t.Errorf("altered shard: compare %v, report %+v", err, rep)
	}
	// a damaged snapshot in the store: Load names it, Latest does not pass over it
	os.Rename(dir, filepath.Join(st.Root(), "29991231T000000-abcdef"))
	editSummary(t, filepath.Join(st.Root(), "29991231T000000-abcdef"), func(m map[string]any) { m["digest"] = "0000000000000001" })
	if _, err := st.Load("29991231T000000-abcdef"); err == nil || !strings.Contains(err.Error(), "is damaged") {
		t.Errorf("Load of a damaged snapshot: %v", err)
	}
	if _, err := st.Latest("svc"); err == nil || !strings.Contains(err.Error(), "may be damaged") {
		t.Errorf("Latest passed over a newer damaged snapshot: %v", err)
	}
	// the intact snapshot still loads and compares
	s, err = LoadSnapshotDir(copySnapshot(t, good.Dir))
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := Compare(s, after, CompareOptions{}); err != nil || rep.Count(ClassChanged) != 1 {
		t.Fatalf("intact copy: %v %+v", err, rep)
	}
}

func copySnapshot(t *testing.T, src string) string {
	dst := t.TempDir()
	os.MkdirAll(filepath.Join(dst, shardDirName), 0o700)
	b, _ := os.ReadFile(filepath.Join(src, "summary.json"))
	os.WriteFile(filepath.Join(dst, "summary.json"), b, 0o600)
	for i := 0; i < NumShards; i++ {
		b, _ := os.ReadFile(shardPath(src, i))
		os.WriteFile(shardPath(dst, i), b, 0o600)
	}
	return dst
}

func editSummary(t *testing.T, dir string, fn func(map[string]any)) {
	p := filepath.Join(dir, "summary.json")
	b, _ := os.ReadFile(p)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	fn(m)
	b, _ = json.MarshalIndent(m, "", "  ")
	os.WriteFile(p, b, 0o600)
}

// A key whose TTL ran out while the after-scan read it page by page has a
// partial value: EXPIRED (gone, as expected), never CHANGED; a key without a
// TTL whose value differs is still CHANGED.
func TestExpiredWhileRead(t *testing.T) {
	const now = 1_800_000_000_000
	past, future := int64(now-500), int64(now+3_600_000)
	before := fakeSnapshot(t, "before", []Record{
		{Key: "gone-mid-read", Type: TypeHash, ValueHash: 1, ExpireAt: past},
		{Key: "changed", Type: TypeHash, ValueHash: 2, ExpireAt: -1},
		{Key: "changed-ttl-later", Type: TypeSet, ValueHash: 3, ExpireAt: future},
	}, TTLPExpireTime, now-2000)
	after := fakeSnapshot(t, "after", []Record{
		{Key: "gone-mid-read", Type: TypeHash, ValueHash: 10, ExpireAt: past},
		{Key: "changed", Type: TypeHash, ValueHash: 20, ExpireAt: -1},
		{Key: "changed-ttl-later", Type: TypeSet, ValueHash: 30, ExpireAt: future},
	}, TTLPExpireTime, now)
	rep, err := Compare(before, after, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Count(ClassExpired) != 1 || rep.Count(ClassChanged) != 2 {
		t.Errorf("EXPIRED %d (want 1), CHANGED %d (want 2)", rep.Count(ClassExpired), rep.Count(ClassChanged))
	}
}
