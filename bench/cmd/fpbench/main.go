// Command fpbench drives the redisstate benchmarks for bench/run.sh.
//
//	fpbench freeport                              print a free 127.0.0.1 port
//	fpbench load        -addr A -from N -to M     SET key:%012d (22-byte values), pipelined MSET
//	fpbench fingerprint -addr A [-runs R]         fingerprint into a temp dir, print JSON
//	fpbench compare     -addr A                   two fingerprints around DEL+SET of 2 keys, time Compare
//	fpbench loadmixed   -addr A -from N -to M     hashes, lists, sets, zsets, streams (mixed:%012d)
//	fpbench backup      -addr A -out F [-runs R]  docker stateful backup's code into F, print JSON
//	fpbench restore     -addr A -out F            FLUSHALL, then restore F (verified), print JSON
//	fpbench bigload     -addr A -n N -mb M        SET big:%02d to N distinct values of M MB each
//
// Memory figures come from /proc/self/status (VmHWM = peak RSS of this process) and the Go
// runtime, so run one measurement per process.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
	"github.com/redis/go-redis/v9"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: fpbench freeport|load|fingerprint|compare [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:6379", "redis host:port (loopback)")
	from := fs.Int("from", 0, "load: first key number")
	to := fs.Int("to", 1000000, "load: end key number (exclusive)")
	runs := fs.Int("runs", 1, "fingerprint: runs (best and median reported)")
	workers := fs.Int("workers", 2, "fingerprint: pipeline workers")
	count := fs.Int("count", 1000, "fingerprint: SCAN COUNT")
	dir := fs.String("dir", "", "manifest directory (default: a temp dir, removed)")
	perKey := fs.Bool("perkey", false, "fingerprint: one GET per key instead of MGET per batch")
	out := fs.String("out", "", "backup/restore: the backup file")
	n := fs.Int("n", 20, "bigload: values")
	mb := fs.Int("mb", 50, "bigload: MB per value")
	fs.Parse(os.Args[2:])
	var err error
	switch os.Args[1] {
	case "freeport":
		var l net.Listener
		l, err = net.Listen("tcp", "127.0.0.1:0")
		if err == nil {
			fmt.Println(l.Addr().(*net.TCPAddr).Port)
			l.Close()
		}
	case "load":
		err = load(*addr, *from, *to)
	case "fingerprint":
		err = fingerprint(*addr, *dir, *runs, *workers, *count, *perKey)
	case "compare":
		err = compare(*addr, *dir)
	case "loadmixed":
		err = loadMixed(*addr, *from, *to)
	case "backup":
		err = backupBench(*addr, *out, *runs, *workers)
	case "restore":
		err = restoreBench(*addr, *out)
	case "bigload":
		err = bigload(*addr, *n, *mb)
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fpbench:", err)
		os.Exit(1)
	}
}

func load(addr string, from, to int) error {
	rdb := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true, ReadTimeout: time.Minute})
	defer rdb.Close()
	ctx := context.Background()
	const per = 1000 // keys per MSET
	const cmds = 20  // MSETs per pipeline
	ch := make(chan int, 8)
	var wg sync.WaitGroup
	var firstErr error
	var mu sync.Mutex
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := make([]interface{}, 0, 2*per+1)
			for start := range ch {
				pipe := rdb.Pipeline()
				for c := 0; c < cmds; c++ {
					args = args[:0]
					args = append(args, "mset")
					for i := start + c*per; i < start+(c+1)*per && i < to; i++ {
						args = append(args, fmt.Sprintf("key:%012d", i), fmt.Sprintf("value:%016d", i))
					}
					if len(args) > 1 {
						pipe.Do(ctx, append([]interface{}{}, args...)...)
					}
				}
				if _, err := pipe.Exec(ctx); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
				}
			}
		}()
	}
	for s := from; s < to; s += per * cmds {
		ch <- s
	}
	close(ch)
	wg.Wait()
	return firstErr
}

type memStats struct {
	VmHWMKB   int64 `json:"vmhwm_kb"`
	VmRSSKB   int64 `json:"vmrss_kb"`
	GoSysKB   int64 `json:"go_sys_kb"`
	HeapInuse int64 `json:"go_heap_inuse_kb"`
}

func readMem() memStats {
	var m memStats
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmHWM:":
			m.VmHWMKB = v
		case "VmRSS:":
			m.VmRSSKB = v
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.GoSysKB = int64(ms.Sys / 1024)
	m.HeapInuse = int64(ms.HeapInuse / 1024)
	return m
}

func client(addr string) (*redisstate.Client, error) {
	c, err := redisstate.NewClient(redisstate.Options{Addr: addr})
	if err != nil {
		return nil, err
	}
	if _, err := c.WaitReady(context.Background(), 30*time.Second, nil); err != nil {
		return nil, err
	}
	return c, nil
}

// fpOnce times the Fingerprint call alone (manifest files created and written, not
// fsynced: that is Store.Commit's job and depends on the state disk).
func fpOnce(c *redisstate.Client, dir string, workers, count int, perKey bool) (*redisstate.Summary, time.Duration, error) {
	d := dir
	if d == "" {
		var err error
		if d, err = os.MkdirTemp("", "fpbench-"); err != nil {
			return nil, 0, err
		}
		defer os.RemoveAll(d)
	}
	t0 := time.Now()
	sum, err := redisstate.Fingerprint(context.Background(), c, d, redisstate.FingerprintOptions{Workers: workers, Count: count, PerKeyGet: perKey})
	return sum, time.Since(t0), err
}

func fingerprint(addr, dir string, runs, workers, count int, perKey bool) error {
	c, err := client(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	var rates []float64
	var keys int64
	var secs []float64
	for i := 0; i < runs; i++ {
		sum, d, err := fpOnce(c, dir, workers, count, perKey)
		if err != nil {
			return err
		}
		el := d.Seconds()
		keys = sum.Keys
		secs = append(secs, el)
		rates = append(rates, float64(sum.Keys)/el)
		runtime.GC()
	}
	sorted := append([]float64{}, rates...)
	sort.Float64s(sorted)
	out := map[string]any{
		"keys": keys, "runs": runs, "seconds": secs, "keys_per_sec": rates,
		"best_keys_per_sec": sorted[len(sorted)-1], "median_keys_per_sec": sorted[len(sorted)/2],
		"mem": readMem(),
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

func compare(addr, dir string) error {
	c, err := client(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	base := dir
	if base == "" {
		if base, err = os.MkdirTemp("", "fpbench-cmp-"); err != nil {
			return err
		}
		defer os.RemoveAll(base)
	}
	st, err := redisstate.OpenStore(base)
	if err != nil {
		return err
	}
	snap := func() (*redisstate.Snapshot, error) {
		s, err := st.New()
		if err != nil {
			return nil, err
		}
		sum, err := redisstate.Fingerprint(context.Background(), c, s.Dir, redisstate.FingerprintOptions{})
		if err != nil {
			return nil, err
		}
		return s, st.Commit(s, sum, "bench")
	}
	before, err := snap()
	if err != nil {
		return err
	}
	ctx := context.Background()
	rdb := c.Redis()
	k1, k2 := "key:000000000001", "key:000000000002"
	v1, _ := rdb.Get(ctx, k1).Result()
	v2, _ := rdb.Get(ctx, k2).Result()
	rdb.Del(ctx, k1)
	rdb.Set(ctx, k2, "changed", 0)
	after, err := snap()
	// restore the dataset for later measurements
	rdb.Set(ctx, k1, v1, 0)
	rdb.Set(ctx, k2, v2, 0)
	if err != nil {
		return err
	}
	var best time.Duration
	var rep *redisstate.Report
	for i := 0; i < 5; i++ {
		t0 := time.Now()
		rep, err = redisstate.Compare(before, after, redisstate.CompareOptions{})
		if err != nil {
			return err
		}
		if el := time.Since(t0); i == 0 || el < best {
			best = el
		}
	}
	out := map[string]any{
		"keys": before.Summary.Keys, "compare_ms": float64(best.Microseconds()) / 1000,
		"differing_shards": len(rep.DifferingShards), "missing": rep.Count(redisstate.ClassMissing),
		"changed": rep.Count(redisstate.ClassChanged), "verdict": rep.Verdict, "mem": readMem(),
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

// bigload writes n values of mb MB each (distinct: the key number is written into each).
func bigload(addr string, n, mb int) error {
	rdb := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true, ReadTimeout: time.Minute, WriteTimeout: time.Minute})
	defer rdb.Close()
	ctx := context.Background()
	v := []byte(strings.Repeat("big value data. ", mb<<20/16))
	for i := 0; i < n; i++ {
		copy(v, fmt.Sprintf("%08d", i))
		if err := rdb.Set(ctx, fmt.Sprintf("big:%02d", i), v, 0).Err(); err != nil {
			return err
		}
	}
	return nil
}
