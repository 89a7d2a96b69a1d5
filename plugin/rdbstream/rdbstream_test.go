package rdbstream

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/docker-stateful/docker-stateful/internal/redistest"
	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
)

type dbKey struct {
	db  int
	key string
}

type rec struct {
	t   redisstate.KeyType
	vh  uint64
	exp int64
}

// loadEveryType writes every type and encoding a Redis 7.0 holds into database db.
func loadEveryType(t *testing.T, rdb *redis.Client, db int) {
	ctx := context.Background()
	p := rdb.Pipeline()
	p.Select(ctx, db)
	exp := time.Now().Add(3 * time.Hour)
	for i := 0; i < 40; i++ {
		p.Set(ctx, fmt.Sprintf("s:%d", i), fmt.Sprintf("value-%d-%d", db, i), 0)
		p.Set(ctx, fmt.Sprintf("int:%d", i), []int64{0, -1, 127, -128, 32767, -32768, 1 << 31, -1 << 31, 1 << 40, -1 << 62}[i%10]*int64(i+1), 0)
		p.HSet(ctx, fmt.Sprintf("h:%d", i), "a", i, "b", "x", "n", -7)
		p.SAdd(ctx, fmt.Sprintf("set:%d", i), "a", "b", i)
		p.SAdd(ctx, fmt.Sprintf("iset:%d", i), 1, -5, 70000, 1<<40, i)
		p.ZAdd(ctx, fmt.Sprintf("z:%d", i), redis.Z{Score: 1.5, Member: "a"}, redis.Z{Score: float64(i), Member: "b"}, redis.Z{Score: -0.1, Member: "c"})
		p.RPush(ctx, fmt.Sprintf("l:%d", i), "a", "b", i, -300, 1<<33)
		p.XAdd(ctx, &redis.XAddArgs{Stream: fmt.Sprintf("x:%d", i), ID: "1-1", Values: []string{"f", "v", "g", strconv.Itoa(i)}})
		p.Set(ctx, fmt.Sprintf("ttl:%d", i), i, 0)
		p.PExpireAt(ctx, fmt.Sprintf("ttl:%d", i), exp.Add(time.Duration(i)*time.Millisecond))
		p.HSet(ctx, fmt.Sprintf("httl:%d", i), "f", i)
		p.ExpireAt(ctx, fmt.Sprintf("httl:%d", i), exp)
	}
	for i := 0; i < 700; i++ { // hashtable, skiplist, quicklist of several nodes
		p.HSet(ctx, "hbig", fmt.Sprintf("field:%d", i), i)
		p.SAdd(ctx, "sbig", fmt.Sprintf("member:%d", i))
		p.SAdd(ctx, "sintbig", i*1000)
		p.ZAdd(ctx, "zbig", redis.Z{Score: float64(i) / 3, Member: fmt.Sprintf("m:%d", i)})
		p.RPush(ctx, "lbig", fmt.Sprintf("e%d", i), i)
		p.XAdd(ctx, &redis.XAddArgs{Stream: "xbig", Values: []string{"i", strconv.Itoa(i), "same", "yes"}})
		if i%3 == 0 {
			p.XAdd(ctx, &redis.XAddArgs{Stream: "xbig", Values: []string{"other", "fields", strconv.Itoa(i), "x"}})
		}
	}
	p.ZAdd(ctx, "zinf", redis.Z{Score: math.Inf(1), Member: "pinf"}, redis.Z{Score: math.Inf(-1), Member: "ninf"}, redis.Z{Score: 0.1, Member: "tenth"})
	p.Set(ctx, "compressible", strings.Repeat("abcdefgh", 5000), 0) // LZF
	p.Set(ctx, "bigstr", string(make([]byte, 100000)), 0)
	p.HSet(ctx, "bin\x00\xff key", "\x00", "\xff\xfe")
	p.HSet(ctx, "hlong", "f", strings.Repeat("v", 300)) // hashtable by value size
	p.RPush(ctx, "llong", strings.Repeat("L", 20000), "small")
	p.PFAdd(ctx, "hll", "a", "b", "c")
	p.XGroupCreate(ctx, "x:0", "grp", "0")
	p.XGroupCreate(ctx, "xbig", "g1", "0")
	p.XGroupCreate(ctx, "xbig", "g0", "$")
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	c := rdb.Conn()
	defer c.Close()
	c.Select(ctx, db)
	c.PFCount(ctx, "hll") // caches the count in the header
	if err := c.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g1", Consumer: "alice", Streams: []string{"xbig", ">"}, Count: 10}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g1", Consumer: "bob", Streams: []string{"xbig", ">"}, Count: 5}).Err(); err != nil {
		t.Fatal(err)
	}
	ids, _ := c.XRange(ctx, "xbig", "-", "+").Result()
	c.XAck(ctx, "xbig", "g1", ids[1].ID)
	c.XDel(ctx, "xbig", ids[3].ID, ids[len(ids)-1].ID) // max-deleted-entry-id, deleted flags
	c.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g1", Consumer: "alice", Streams: []string{"xbig", "0"}, Count: 2})
	c.XGroupCreateConsumer(ctx, "xbig", "g0", "idle")
	c.XAdd(ctx, &redis.XAddArgs{Stream: "xtrim", ID: "5-1", Values: []string{"a", "b"}})
	c.XAdd(ctx, &redis.XAddArgs{Stream: "xtrim", ID: "6-1", Values: []string{"a", "b"}})
	c.XTrimMaxLen(ctx, "xtrim", 1)
	c.XAdd(ctx, &redis.XAddArgs{Stream: "xempty", ID: "7-1", Values: []string{"a", "b"}})
	c.XDel(ctx, "xempty", "7-1")
}

// liveRecords fingerprints the server as `docker stateful` does and returns its records.
func liveRecords(t *testing.T, addr string) (map[dbKey]rec, *redisstate.Summary) {
	t.Helper()
	c := client(t, addr)
	st, err := redisstate.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	snap, err := redisstate.TakeSnapshot(context.Background(), c, st, "svc", nil, redisstate.FingerprintOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[dbKey]rec{}
	for s := 0; s < redisstate.NumShards; s++ {
		err := redisstate.ReadShard(snap, s, func(r redisstate.Record) error {
			out[dbKey{r.DB, r.Key}] = rec{r.Type, r.ValueHash, r.ExpireAt}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out, snap.Summary
}

func client(t *testing.T, addr string) *redisstate.Client {
	t.Helper()
	o, err := redisstate.ParseURL("redis://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := redisstate.NewClient(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

type parsed struct {
	db   int
	key  string
	r    rec
	dump []byte
	typ  byte
}

func syncParse(t *testing.T, addr string, opt Options) ([]parsed, *Info, *Sync) {
	t.Helper()
	c := client(t, addr)
	s, err := Start(context.Background(), c, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out []parsed
	info, err := s.Parse(func(k *Key) error {
		out = append(out, parsed{k.DB, string(k.Key), rec{k.Type, k.ValueHash, k.ExpireAt}, k.AppendDump(nil, 10), k.RDBType})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, info, s
}

func TestStreamFingerprintEqualsLive(t *testing.T) {
	addr, _ := redistest.Start(t, "--repl-diskless-sync-delay", "0")
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	for db := 0; db < 16; db++ {
		loadEveryType(t, rdb, db)
	}
	ctx := context.Background()
	if err := rdb.Do(ctx, "FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function('f', function() return 1 end)").Err(); err != nil {
		t.Fatal(err)
	}
	live, _ := liveRecords(t, addr)
	types := map[byte]int{}
	for _, diskless := range []bool{false, true} {
		keys, info, s := syncParse(t, addr, Options{Diskless: diskless})
		if s.Diskless != diskless {
			t.Errorf("diskless %v: payload form diskless=%v", diskless, s.Diskless)
		}
		if s.ReplID == "" || s.Offset < 0 {
			t.Errorf("no replication id/offset: %q %d", s.ReplID, s.Offset)
		}
		if info.Version != 10 || info.Functions != 1 || info.Aux["redis-ver"] == "" {
			t.Errorf("info %+v", info)
		}
		if len(keys) != len(live) {
			t.Errorf("diskless %v: %d keys parsed, %d live", diskless, len(keys), len(live))
		}
		bad := 0
		for _, k := range keys {
			types[k.typ]++
			l, ok := live[dbKey{k.db, k.key}]
			if !ok {
				t.Errorf("%d/%q: not in the live fingerprint", k.db, k.key)
				continue
			}
			if l != k.r && bad < 20 {
				bad++
				t.Errorf("%d/%q (RDB type %d): stream %c %016x %d, live %c %016x %d", k.db, k.key, k.typ, k.r.t, k.r.vh, k.r.exp, l.t, l.vh, l.exp)
			}
		}
	}
	t.Logf("RDB types seen: %v", types)
	for _, want := range []byte{tString, tSet, tZSet2, tHash, tSetIntset, tHashListpack, tZSetListpack, tListQuicklist2, tStreamLP2} {
		if types[want] == 0 {
			t.Errorf("no key of RDB type %d in the test data", want)
		}
	}
}

// TestDumpPayloadRestores: each key's payload built from the stream is accepted by RESTORE
// on another server, and that server's fingerprint equals the first one's.
func TestDumpPayloadRestores(t *testing.T) {
	addr, _ := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	for _, db := range []int{0, 3, 15} {
		loadEveryType(t, rdb, db)
	}
	ctx := context.Background()
	keys, _, _ := syncParse(t, addr, Options{})
	addr2, _ := redistest.Start(t)
	rdb2 := redis.NewClient(&redis.Options{Addr: addr2})
	defer rdb2.Close()
	c := rdb2.Conn()
	defer c.Close()
	for _, k := range keys {
		if err := c.Select(ctx, k.db).Err(); err != nil {
			t.Fatal(err)
		}
		ttl := int64(0)
		args := []any{"RESTORE", k.key, 0, k.dump}
		if k.r.exp > 0 {
			ttl = k.r.exp
			args = []any{"RESTORE", k.key, ttl, k.dump, "ABSTTL"}
		}
		if err := c.Do(ctx, args...).Err(); err != nil {
			t.Fatalf("RESTORE %d/%q: %v", k.db, k.key, err)
		}
	}
	a, _ := liveRecords(t, addr)
	b, _ := liveRecords(t, addr2)
	if len(a) != len(b) {
		t.Fatalf("%d keys restored, %d in the source", len(b), len(a))
	}
	for k, v := range a {
		if b[k] != v {
			t.Errorf("%d/%q: restored %+v, source %+v", k.db, k.key, b[k], v)
		}
	}
}
