package redisstate

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker-stateful/docker-stateful/internal/redistest"
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

// BenchmarkFingerprintMix fingerprints the key mix of `make bench-update` (70% strings,
// 30% small collections), 300k keys, then its 90k collections alone:
// go test -run '^$' -bench FingerprintMix -benchtime 5x -cpuprofile cpu.out ./plugin/redisstate/
// (BENCH_WORKERS=n sets FingerprintOptions.Workers).
func BenchmarkFingerprintMix(b *testing.B) {
	const n = 300000
	r := startRedis(b)
	rdb := r.raw(b)
	redistest.LoadBenchMix(b, rdb, n)
	c := r.client(b)
	b.Run("mix", func(b *testing.B) { benchFingerprint(b, c, n) })
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, "s:*", 1000).Iterator()
	pipe := rdb.Pipeline()
	for iter.Next(ctx) {
		pipe.Unlink(ctx, iter.Val())
	}
	if _, err := pipe.Exec(ctx); err != nil || iter.Err() != nil {
		b.Fatal(err, iter.Err())
	}
	b.Run("collections", func(b *testing.B) { benchFingerprint(b, c, n*3/10) })
}

func benchFingerprint(b *testing.B, c *Client, n int64) {
	dir := b.TempDir()
	ctx := context.Background()
	cpu0, self0 := redisCPU(b, c), selfCPU()
	b.ResetTimer()
	var keys int64
	t0 := time.Now()
	for i := 0; i < b.N; i++ {
		sum, err := Fingerprint(ctx, c, dir, FingerprintOptions{Workers: benchWorkers})
		if err != nil {
			b.Fatal(err)
		}
		if sum.Keys != n {
			b.Fatalf("fingerprinted %d keys, want %d", sum.Keys, n)
		}
		keys += sum.Keys
	}
	el := time.Since(t0).Seconds()
	b.ReportMetric(float64(keys)/el, "keys/s")
	// how busy the server was: near 100% means Redis bounds the scan, not this client
	// CPU per key of the server and of this client: what a faster machine or a quieter
	// one changes least
	b.ReportMetric(1e6*(redisCPU(b, c)-cpu0)/float64(keys), "redis-µs/key")
	b.ReportMetric(1e6*(selfCPU()-self0)/float64(keys), "client-µs/key")
}

// selfCPU is this process' CPU time so far, in seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

var benchWorkers, _ = strconv.Atoi(os.Getenv("BENCH_WORKERS"))

// redisCPU is the server's CPU time so far (INFO cpu), in seconds.
func redisCPU(b *testing.B, c *Client) float64 { return redisCPUt(b, c) }

func redisCPUt(b testing.TB, c *Client) float64 {
	info, err := c.rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for _, l := range strings.Split(info, "\r\n") {
		name, v, _ := strings.Cut(l, ":")
		if name == "used_cpu_sys" || name == "used_cpu_user" {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return total
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

func BenchmarkTmpStats(b *testing.B) {
	const n = 300000
	r := startRedis(b)
	redistest.LoadBenchMix(b, r.raw(b), n)
	c := r.client(b)
	c.rdb.ConfigResetStat(context.Background())
	for i := 0; i < b.N; i++ {
		if _, err := Fingerprint(context.Background(), c, b.TempDir(), FingerprintOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	fmt.Println(c.rdb.Info(context.Background(), "commandstats").Val())
	fmt.Println(redisCPU(b, c))
}

// BenchmarkCut: the cut of update --verify on the bench-update mix (300k keys), with writes
// paused: SAVE then the fingerprint, against BGSAVE during the fingerprint.
func BenchmarkCut(b *testing.B) {
	const n = 300000
	r := startRedis(b)
	redistest.LoadBenchMix(b, r.raw(b), n)
	c := r.client(b)
	ctx := context.Background()
	st, err := OpenStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, background bool) {
		var save, fp time.Duration
		defer func() {
			b.ReportMetric(float64(save.Milliseconds())/float64(b.N), "save-ms")
			b.ReportMetric(float64(fp.Milliseconds())/float64(b.N), "fingerprint-ms")
		}()
		for i := 0; i < b.N; i++ {
			h, err := BeginCut(ctx, c, CutOptions{Pause: time.Minute, Background: background})
			if err != nil {
				b.Fatal(err)
			}
			snap, err := TakeSnapshotAtCut(ctx, c, st, "bench", h, FingerprintOptions{Workers: benchWorkers})
			if err != nil {
				b.Fatal(err)
			}
			if err := h.Release(ctx); err != nil {
				b.Fatal(err)
			}
			save += snap.Summary.Cut.SaveDuration
			fp += time.Duration(snap.Summary.DurationMs) * time.Millisecond
			st.Discard(snap)
		}
	}
	b.Run("save-then-fingerprint", func(b *testing.B) { run(b, false) })
	b.Run("bgsave-during-fingerprint", func(b *testing.B) { run(b, true) })
}
