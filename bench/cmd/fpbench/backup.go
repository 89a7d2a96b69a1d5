package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/docker-stateful/docker-stateful/plugin/redisbackup"
)

// backupBench runs the backup `runs` times into out (each replaces the last) and reports
// the read phase (SCAN + MGET/DUMP + PEXPIRETIME + zstd, writes paused) and the whole
// backup (SAVE, fingerprint, read, fsync) in keys/s.
func backupBench(addr, out string, runs, workers int) error {
	if out == "" {
		return fmt.Errorf("-out is required")
	}
	c, err := client(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	var read, total []float64
	var last *redisbackup.Result
	var gap time.Duration
	for i := 0; i < runs; i++ {
		// a client writing throughout: its longest gap between acknowledged writes is the
		// pause the backup imposed on it
		stop, gapc := make(chan struct{}), make(chan time.Duration, 1)
		go func() {
			w := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true})
			defer w.Close()
			var g time.Duration
			lastAck := time.Now()
			for n := 0; ; n++ {
				select {
				case <-stop:
					gapc <- max(g, time.Since(lastAck))
					return
				default:
				}
				if w.Set(context.Background(), "bench:writer", n, 0).Err() == nil {
					g, lastAck = max(g, time.Since(lastAck)), time.Now()
				}
				time.Sleep(time.Millisecond)
			}
		}()
		time.Sleep(50 * time.Millisecond)
		t0 := time.Now()
		res, err := redisbackup.BackupFile(context.Background(), c, out, redisbackup.Options{Service: "bench", Workers: workers})
		el0 := time.Since(t0)
		close(stop)
		if g := <-gapc; g > gap {
			gap = g
		}
		if err != nil {
			return err
		}
		_ = el0
		el := time.Since(t0).Seconds()
		read = append(read, float64(res.Records)/(float64(res.ReadMs)/1000))
		total = append(total, float64(res.Records)/el)
		last = res
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"records": last.Records, "file_bytes": last.FileBytes, "write_pause_ms": last.WritePauseMs,
		"method": last.Method, "fallback": last.Fallback, "write_gap_ms": gap.Milliseconds(),
		"fingerprint_ms": last.FingerprintMs, "read_ms": last.ReadMs, "save_ms": last.Header.Cut.SaveDuration.Milliseconds(),
		"best_read_keys_per_sec": best(read), "median_read_keys_per_sec": median(read),
		"best_total_keys_per_sec": best(total), "median_total_keys_per_sec": median(total),
		"mem": readMem(),
	})
}

// restoreBench empties the server and restores out into it: the RESTORE phase and the
// whole restore (file check, RESTORE, fingerprint and compare, SAVE) in keys/s.
func restoreBench(addr, out string) error {
	c, err := client(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Redis().FlushAll(context.Background()).Err(); err != nil {
		return err
	}
	t0 := time.Now()
	res, err := redisbackup.Restore(context.Background(), c, out, redisbackup.RestoreOptions{})
	if err != nil {
		return err
	}
	el := time.Since(t0).Seconds()
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"restored": res.Restored, "restore_ms": res.RestoreMs, "save_ms": res.SaveMs, "verdict": res.Verdict,
		"restore_keys_per_sec": float64(res.Restored) / (float64(res.RestoreMs) / 1000),
		"total_keys_per_sec":   float64(res.Restored) / el,
		"mem":                  readMem(),
	})
}

func best(v []float64) float64 {
	s := append([]float64{}, v...)
	sort.Float64s(s)
	return s[len(s)-1]
}

func median(v []float64) float64 {
	s := append([]float64{}, v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// loadMixed writes keys of the types backup reads with DUMP (not MGET): small hashes,
// lists, sets, sorted sets and streams, in turn.
func loadMixed(addr string, from, to int) error {
	rdb := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true, ReadTimeout: time.Minute})
	defer rdb.Close()
	ctx := context.Background()
	pipe := rdb.Pipeline()
	for i := from; i < to; i++ {
		k := fmt.Sprintf("mixed:%012d", i)
		switch i % 5 {
		case 0:
			pipe.HSet(ctx, k, "a", i, "b", "x", "c", "y")
		case 1:
			pipe.RPush(ctx, k, "a", i, "z")
		case 2:
			pipe.SAdd(ctx, k, "a", i, "z")
		case 3:
			pipe.ZAdd(ctx, k, redis.Z{Score: 1, Member: "a"}, redis.Z{Score: float64(i), Member: "b"})
		case 4:
			pipe.XAdd(ctx, &redis.XAddArgs{Stream: k, ID: "1-1", Values: []any{"n", i}})
		}
		if i%1000 == 999 {
			if _, err := pipe.Exec(ctx); err != nil {
				return err
			}
		}
	}
	_, err := pipe.Exec(ctx)
	return err
}
