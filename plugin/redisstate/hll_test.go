package redisstate

import (
	"context"
	"testing"

	"github.com/docker-stateful/docker-stateful/internal/redistest"
)

// TestHyperLogLogCacheIsNotData: PFCOUNT rewrites the cached cardinality of a
// HyperLogLog (a write, as far as Redis goes); the fingerprint does not see
// it, but sees a PFADD that changes the registers.
func TestHyperLogLogCacheIsNotData(t *testing.T) {
	addr, _ := redistest.Start(t)
	c, err := NewClient(Options{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	rdb := c.Redis()
	rdb.PFAdd(ctx, "hll", "a", "b", "c")
	digest := func() Hex64 {
		sum, err := Fingerprint(ctx, c, t.TempDir(), FingerprintOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return sum.Digest
	}
	d0 := rdb.Get(ctx, "hll").Val()
	before := digest()
	rdb.PFCount(ctx, "hll") // caches the count: the value's bytes change
	if rdb.Get(ctx, "hll").Val() == d0 {
		t.Fatal("PFCOUNT did not rewrite the HyperLogLog's cache: the test proves nothing")
	}
	if after := digest(); after != before {
		t.Errorf("PFCOUNT changed the fingerprint: %s → %s", before, after)
	}
	rdb.PFAdd(ctx, "hll", "d")
	if after := digest(); after == before {
		t.Error("PFADD of a new element left the fingerprint unchanged")
	}
}
