package redisstate

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// go test -run '^$' -bench . ./plugin/redisstate/   (bench/run.sh has the full-size figures)

func BenchmarkFingerprint(b *testing.B) {
	const n = 200000
	r := startRedis(b)
	rdb := r.raw(b)
	ctx := context.Background()
	args := []interface{}{"mset"}
	for i := 0; i < n; i++ {
		args = append(args, fmt.Sprintf("key:%012d", i), fmt.Sprintf("value:%016d", i))
		if len(args) > 2000 || i == n-1 {
			if err := rdb.Do(ctx, args...).Err(); err != nil {
				b.Fatal(err)
			}
			args = args[:1]
		}
	}
	c := r.client(b)
	dir := b.TempDir()
	b.ResetTimer()
	var keys int64
	t0 := time.Now()
	for i := 0; i < b.N; i++ {
		sum, err := Fingerprint(ctx, c, dir, FingerprintOptions{})
		if err != nil {
			b.Fatal(err)
		}
		keys += sum.Keys
	}
	b.ReportMetric(float64(keys)/time.Since(t0).Seconds(), "keys/s")
}

func BenchmarkCompare1MKeys2Differ(b *testing.B) {
	const n = 1000000
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = Record{Key: fmt.Sprintf("key:%012d", i), Type: TypeString, ValueHash: uint64(i) * 0x9e3779b97f4a7c15, ExpireAt: -1}
	}
	before := fakeSnapshot(b, "before", recs, TTLNone, 0)
	recs[1].ValueHash++                  // CHANGED
	recs = append(recs[:7], recs[8:]...) // MISSING
	after := fakeSnapshot(b, "after", recs, TTLNone, 0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := Compare(before, after, CompareOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if rep.Count(ClassChanged) != 1 || rep.Count(ClassMissing) != 1 {
			b.Fatalf("classes %v", rep.Classes)
		}
	}
}

func BenchmarkKeyHash(b *testing.B) {
	for i := 0; i < b.N; i++ {
		_ = keyHash(uint64(i), TypeString, 42, -1)
	}
}
