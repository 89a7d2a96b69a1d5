package redistest

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// LoadBenchMix writes n keys of the mix `make bench-update` measures: 70%
// strings, 10% hashes (3 fields), 10% sets (3 members), 5% lists (3
// elements), 5% zsets (2 members); no TTLs. It fails the test unless the
// database then holds exactly n keys, and returns that count.
func LoadBenchMix(t testing.TB, rdb *redis.Client, n int) int64 {
	t.Helper()
	ctx := context.Background()
	const writers, batch = 4, 2000
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			pipe := rdb.Pipeline()
			for i := w; i < n; i += writers {
				switch k := i % 10; {
				case k < 7:
					pipe.Set(ctx, fmt.Sprintf("s:%08d", i), strconv.Itoa(i*7919), 0)
				case k == 7:
					pipe.HSet(ctx, fmt.Sprintf("h:%08d", i), "a", i, "b", "x", "c", i*2)
				case k == 8:
					pipe.SAdd(ctx, fmt.Sprintf("t:%08d", i), i, i+1, "m")
				default:
					if i%20 == 9 {
						pipe.ZAdd(ctx, fmt.Sprintf("z:%08d", i), redis.Z{Score: 1, Member: "a"}, redis.Z{Score: float64(i), Member: "b"})
					} else {
						pipe.RPush(ctx, fmt.Sprintf("l:%08d", i), "a", i, "c")
					}
				}
				if pipe.Len() >= batch {
					if _, err := pipe.Exec(ctx); err != nil {
						errs <- err
						return
					}
				}
			}
			if _, err := pipe.Exec(ctx); err != nil {
				errs <- err
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("loading: %v", err)
	}
	got := rdb.DBSize(ctx).Val()
	if got != int64(n) {
		t.Fatalf("loaded %d keys, want %d", got, n)
	}
	return got
}
