package rdbstream

import (
	"context"
	"math"
	"reflect"
	"sort"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/docker-stateful/docker-stateful/internal/redistest"
	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
)

// DecodeDump gives back what the server holds, read from its own DUMP payloads.
func TestDecodeDumpValues(t *testing.T) {
	addr, _ := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true})
	defer rdb.Close()
	ctx := context.Background()
	rdb.Set(ctx, "s", "hello\x00world", 0)
	rdb.Set(ctx, "i", -123456, 0)
	rdb.RPush(ctx, "l", "a", 7, "b", 1<<40)
	rdb.SAdd(ctx, "iset", 3, -5, 1<<33)
	rdb.ZAdd(ctx, "z", redis.Z{Score: math.Inf(1), Member: "p"}, redis.Z{Score: -0.1, Member: "n"}, redis.Z{Score: 1e21, Member: "big"})
	rdb.HSet(ctx, "h", "f", "v", "g", 42)
	for i := 0; i < 300; i++ { // hashtable / skiplist / quicklist encodings
		rdb.SAdd(ctx, "sbig", i*3)
		rdb.SAdd(ctx, "sbig", "m", i)
		rdb.RPush(ctx, "lbig", i)
	}
	rdb.XAdd(ctx, &redis.XAddArgs{Stream: "x", ID: "1-1", Values: []string{"a", "1"}})
	rdb.XAdd(ctx, &redis.XAddArgs{Stream: "x", ID: "1-2", Values: []string{"a", "2", "b", "3"}})
	rdb.XAdd(ctx, &redis.XAddArgs{Stream: "x", ID: "2-0", Values: []string{"a", "4"}})
	rdb.XDel(ctx, "x", "2-0")
	rdb.XGroupCreate(ctx, "x", "g", "0")
	rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "c", Streams: []string{"x", ">"}, Count: 1})

	dec := func(k string) *Value {
		p, err := rdb.Dump(ctx, k).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		v, err := DecodeDump(p, 0)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		return v
	}
	strs := func(b [][]byte) []string {
		out := make([]string, len(b))
		for i, x := range b {
			out[i] = string(x)
		}
		return out
	}
	sorted := func(s []string) []string { sort.Strings(s); return s }
	if v := dec("s"); v.Type != redisstate.TypeString || string(v.String) != "hello\x00world" {
		t.Errorf("string: %+v", v)
	}
	if v := dec("i"); string(v.String) != "-123456" {
		t.Errorf("integer string: %q", v.String)
	}
	if v := dec("l"); !reflect.DeepEqual(strs(v.Elems), rdb.LRange(ctx, "l", 0, -1).Val()) {
		t.Errorf("list: %q", strs(v.Elems))
	}
	if v := dec("lbig"); !reflect.DeepEqual(strs(v.Elems), rdb.LRange(ctx, "lbig", 0, -1).Val()) {
		t.Errorf("big list: %d elements", len(v.Elems))
	}
	for _, k := range []string{"iset", "sbig"} {
		if v := dec(k); !reflect.DeepEqual(sorted(strs(v.Elems)), sorted(rdb.SMembers(ctx, k).Val())) {
			t.Errorf("set %s: %q", k, strs(v.Elems))
		}
	}
	v := dec("z")
	got := map[string]float64{}
	for i, m := range v.Elems {
		got[string(m)] = v.Scores[i]
	}
	if len(got) != 3 || !math.IsInf(got["p"], 1) || got["n"] != -0.1 || got["big"] != 1e21 {
		t.Errorf("zset: %v", got)
	}
	if FormatScore(math.Inf(1)) != "+inf" || FormatScore(-0.1) != "-0.1" {
		t.Errorf("FormatScore: %s %s", FormatScore(math.Inf(1)), FormatScore(-0.1))
	}
	if v := dec("h"); !reflect.DeepEqual(sorted(strs(v.Fields)), []string{"42", "f", "g", "v"}) || v.FieldTTLs != 0 {
		t.Errorf("hash: %q", strs(v.Fields))
	}
	s := dec("x").Stream
	if s == nil || len(s.Entries) != 2 || s.Entries[1].ID != "1-2" || len(s.Entries[1].Fields) != 4 || string(s.Entries[1].Fields[2]) != "b" ||
		s.LastID != "2-0" || s.MaxDeletedID != "2-0" || s.EntriesAdded != 3 || s.Length != 2 || !s.V2 {
		t.Fatalf("stream: %+v", s)
	}
	if g := s.Groups; len(g) != 1 || string(g[0].Name) != "g" || g[0].LastDelivered != "1-1" || g[0].EntriesRead != -1 || // -1: unknown, a deleted entry lies after the group's start
		len(g[0].Pending) != 1 || g[0].Pending[0].ID != "1-1" || string(g[0].Pending[0].Consumer) != "c" || g[0].Pending[0].Count != 1 {
		t.Errorf("stream group: %+v", g)
	}
	// A damaged payload is refused.
	p, _ := rdb.Dump(ctx, "h").Bytes()
	p = []byte(p)
	p[2] ^= 1
	if _, err := DecodeDump(p, 0); err == nil {
		t.Errorf("a payload with a flipped bit decoded")
	}
}
