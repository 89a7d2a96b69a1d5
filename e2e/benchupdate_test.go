//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker-stateful/docker-stateful/e2e/cluster"
	"github.com/docker-stateful/docker-stateful/internal/redistest"
)

// TestBenchUpdate is `make bench-update` (DST_BENCH_UPDATE=1): on the
// harness swarm, BENCH_PAIRS (default 3) alternating pairs of a plain
// `docker service update --limit-memory` and `docker stateful update
// --verify --limit-memory` of the same Redis service, at 100k and 1M keys of
// mixed types; it prints the medians, their ratio against the targets
// (≤ 1.10 at 100k, ≤ 1.15 at 1M), and the write pauses: writes held on the old
// process beyond its own stop (the cut's cost before sending; target ≤ 300 ms).
func TestBenchUpdate(t *testing.T) {
	if os.Getenv("DST_BENCH_UPDATE") != "1" {
		t.Skip("make bench-update (DST_BENCH_UPDATE=1)")
	}
	C.RequirePlugin(t)
	pairs := 3
	cut := "replication" // BENCH_VERIFY_CUT=bgsave measures the other cut
	if v := os.Getenv("BENCH_VERIFY_CUT"); v != "" {
		cut = v
	}
	fmt.Printf("bench-update: update --verify --verify-cut %s\n", cut)
	if v, err := strconv.Atoi(os.Getenv("BENCH_PAIRS")); err == nil && v > 0 {
		pairs = v
	}
	type row struct {
		keys                 int
		plain, verify        []time.Duration
		oldPause, newPause   []int64
		check, wait, overlap []int64
		save, fp, load       []int64
		stop                 []int64 // the old task's stop (writes held meanwhile)
	}
	var rows []row
	for _, keys := range []int{100_000, 1_000_000} {
		svc, port, _, task := vfyCreate(t, "redis-server", "--protected-mode", "no")
		rdb := cluster.Redis(t, task.Node.Addr, port)
		start := time.Now()
		n := redistest.LoadBenchMix(t, rdb, keys)
		fmt.Printf("bench-update: %s loaded %d keys in %s\n", svc, n, time.Since(start).Round(time.Millisecond))
		rdb.Close()
		state := t.TempDir()
		r := row{keys: keys}
		mem := 1000
		plain := func() {
			mem++
			s := time.Now()
			res := C.Run(t, 1, "service", "update", "--quiet", "--limit-memory", fmt.Sprintf("%dM", mem), svc)
			if res.ExitCode() != 0 {
				t.Fatalf("plain update: %s", res.Stderr)
			}
			r.plain = append(r.plain, time.Since(s))
		}
		verify := func() {
			mem++
			s := time.Now()
			res := C.Run(t, 1, "stateful", "update", "--quiet", "--verify", "--verify-cut", cut, "--state-dir", state, "--format", "json", "--limit-memory", fmt.Sprintf("%dM", mem), svc)
			d := time.Since(s)
			var out vfyTimedResult
			if err := json.Unmarshal([]byte(res.Stdout), &out); err != nil || res.ExitCode() != 0 || out.Verdict != "verified" {
				t.Fatalf("update --verify: exit %d, verdict %s (%v)\n%s\n%s", res.ExitCode(), out.Verdict, err, res.Stdout, res.Stderr)
			}
			r.verify = append(r.verify, d)
			r.oldPause = append(r.oldPause, out.WritePauseMs.OldProcess)
			r.newPause = append(r.newPause, out.WritePauseMs.NewProcess)
			var check, wait [2]int64
			var line []string
			for _, p := range out.Phases {
				line = append(line, fmt.Sprintf("%s %d-%d", p.Name, p.StartMs, p.EndMs))
				switch p.Name {
				case "check the new process (writes held)":
					check = [2]int64{p.StartMs, p.EndMs}
				case "docker's convergence wait":
					wait = [2]int64{p.StartMs, p.EndMs}
				case "save the cut", "cut: pause writes, the server's snapshot":
					r.save = append(r.save, p.EndMs-p.StartMs)
				case "fingerprint the cut", "fingerprint the cut (the server's snapshot)":
					r.fp = append(r.fp, p.EndMs-p.StartMs)
				case "old task stops (writes held)":
					r.stop = append(r.stop, p.EndMs-p.StartMs)
				case "new process loads":
					r.load = append(r.load, p.EndMs-p.StartMs)
				}
			}
			fmt.Printf("bench-update: %d keys, --verify in %s, phases (ms): %s\n", keys, d.Round(time.Millisecond), strings.Join(line, "; "))
			r.check = append(r.check, check[1]-check[0])
			r.wait = append(r.wait, wait[1]-wait[0])
			r.overlap = append(r.overlap, max(0, min(check[1], wait[1])-max(check[0], wait[0])))
		}
		for i := 0; i < pairs; i++ {
			if i%2 == 0 {
				plain()
				verify()
			} else {
				verify()
				plain()
			}
			fmt.Printf("bench-update: %d keys, pair %d: plain %s, --verify %s\n", keys, i+1, r.plain[i].Round(time.Millisecond), r.verify[i].Round(time.Millisecond))
		}
		rows = append(rows, r)
		C.Run(t, 1, "service", "rm", svc)
	}
	target := map[int]float64{100_000: 1.10, 1_000_000: 1.15}
	fmt.Printf("\n| keys | plain update (median) | update --verify (median) | ratio | target | writes held, old / new process (median) | old task's stop; held beyond it (target ≤ 300 ms) | check / docker's wait / overlap (median) |\n|---|---|---|---|---|---|---|---|\n")
	failed := false
	for _, r := range rows {
		p, v := medianOf(r.plain), medianOf(r.verify)
		ratio := float64(v) / float64(p)
		ok := "ok"
		if ratio > target[r.keys] {
			ok, failed = "MISSED", true
		}
		beyond := make([]int64, len(r.oldPause))
		for i := range r.oldPause {
			if i < len(r.stop) {
				beyond[i] = r.oldPause[i] - r.stop[i]
			}
		}
		holdOK := "ok"
		if medianOf(beyond) > 300 {
			holdOK, failed = "MISSED", true
		}
		fmt.Printf("| %dk | %s | %s | %.2f | ≤ %.2f %s | %d ms / %d ms | %d ms; %d ms %s | %d / %d / %d ms |\n", r.keys/1000,
			p.Round(time.Millisecond), v.Round(time.Millisecond), ratio, target[r.keys], ok,
			medianOf(r.oldPause), medianOf(r.newPause), medianOf(r.stop), medianOf(beyond), holdOK, medianOf(r.check), medianOf(r.wait), medianOf(r.overlap))
	}
	for _, r := range rows {
		fmt.Printf("%dk keys, --verify phases (median): the cut (pause, the server's save and its snapshot received) %d ms, fingerprint of the cut (read from that snapshot after sending) %d ms, new process load %d ms, its check %d ms\n",
			r.keys/1000, medianOf(r.save), medianOf(r.fp), medianOf(r.load), medianOf(r.check))
	}
	fmt.Printf("(%d pairs each, alternating; %d CPUs shared with whatever else runs)\n", pairs, runtime.NumCPU())
	if failed && os.Getenv("BENCH_STRICT") == "1" {
		t.Error("a target was missed")
	}
}

// median of v (v is not changed).
func medianOf[T ~int64](v []T) T {
	s := append([]T{}, v...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	switch {
	case len(s) == 0:
		return 0
	case len(s)%2 == 1:
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
