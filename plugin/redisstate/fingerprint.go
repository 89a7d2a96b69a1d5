package redisstate

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/redis/go-redis/v9"
)

// KeyType is the Redis type of a key as stored in manifests (one byte).
type KeyType byte

const (
	TypeString KeyType = 's'
	TypeList   KeyType = 'l'
	TypeSet    KeyType = 't'
	TypeZSet   KeyType = 'z'
	TypeHash   KeyType = 'h'
	TypeStream KeyType = 'x'
	TypeOther  KeyType = 'm' // module types (ReJSON-RL, ...): hashed from DUMP, best effort
)

var typeNames = map[KeyType]string{TypeString: "string", TypeList: "list", TypeSet: "set",
	TypeZSet: "zset", TypeHash: "hash", TypeStream: "stream", TypeOther: "other"}

func (t KeyType) String() string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return "unknown(" + strconv.Itoa(int(t)) + ")"
}

// MarshalText gives the type name in JSON.
func (t KeyType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText parses a type name.
func (t *KeyType) UnmarshalText(b []byte) error {
	for k, n := range typeNames {
		if n == string(b) {
			*t = k
			return nil
		}
	}
	return fmt.Errorf("unknown key type %q", b)
}

func typeFromRedis(s string) (KeyType, bool) {
	switch s {
	case "string":
		return TypeString, true
	case "list":
		return TypeList, true
	case "set":
		return TypeSet, true
	case "zset":
		return TypeZSet, true
	case "hash":
		return TypeHash, true
	case "stream":
		return TypeStream, true
	case "none", "":
		return 0, false
	default:
		return TypeOther, true
	}
}

// TTL modes recorded in Summary.TTLMode.
const (
	TTLNone        = "none"        // INFO keyspace showed expires=0: no TTL read, all -1
	TTLPExpireTime = "pexpiretime" // exact absolute expire time (Redis 7.0+)
	TTLPTTL        = "pttl"        // Redis < 7.0: server time at scan + PTTL, approximate
)

// ScanProgress is passed to FingerprintOptions.Progress.
type ScanProgress struct {
	Keys       int64
	Elapsed    time.Duration
	KeysPerSec float64
	Done       bool
}

// FingerprintOptions tunes Fingerprint. Zero values are the measured defaults.
type FingerprintOptions struct {
	Workers       int                // pipeline workers, default 2
	Count         int                // SCAN COUNT, default 1000
	Progress      func(ScanProgress) // optional, called every ProgressEvery and at the end
	ProgressEvery time.Duration      // default 1 s
	// PerKeyGet pipelines one GET per key (non-strings answer WRONGTYPE) instead of one
	// MGET per SCAN batch (non-strings answer nil). MGET is the default: it costs the
	// server far less per key (bench/run.sh measures both).
	PerKeyGet bool
}

// Hex64 is a uint64 shown as 16 hex digits in JSON and text.
type Hex64 uint64

func (h Hex64) String() string               { return fmt.Sprintf("%016x", uint64(h)) }
func (h Hex64) MarshalText() ([]byte, error) { return []byte(h.String()), nil }
func (h *Hex64) UnmarshalText(b []byte) error {
	v, err := strconv.ParseUint(string(b), 16, 64)
	*h = Hex64(v)
	return err
}

// ShardSum is the digest of one shard.
type ShardSum struct {
	Keys int64 `json:"keys"`
	Sum  Hex64 `json:"sum"`
}

// Summary is the result of a fingerprint; stored as summary.json next to the shards.
type Summary struct {
	ID           string            `json:"id"`
	Service      string            `json:"service,omitempty"`
	CreatedAt    time.Time         `json:"created_at"`
	Addr         string            `json:"addr,omitempty"`
	DB           int               `json:"db"`
	RunID        string            `json:"run_id"`
	RedisVersion string            `json:"redis_version"`
	TTLMode      string            `json:"ttl_mode"`
	ScanStartMs  int64             `json:"scan_start_ms"` // server TIME at scan start (unix ms)
	ScanEndMs    int64             `json:"scan_end_ms"`
	DurationMs   int64             `json:"duration_ms"`
	Keys         int64             `json:"keys"` // records written (SCAN may repeat a key)
	Types        map[string]int64  `json:"types"`
	Digest       Hex64             `json:"digest"` // sum mod 2^64 of per-key hashes
	Shards       []ShardSum        `json:"shards"` // NumShards entries
	Cut          *CutInfo          `json:"cut,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
}

// TTLExact reports whether expire times are exact (and part of the per-key hash).
func (s *Summary) TTLExact() bool { return s.TTLMode != TTLPTTL }

// ShardOf returns the manifest shard of a key.
func ShardOf(key string) int { return int(xxhash.Sum64String(key) >> 56) }

// keyHash is the per-key hash h = xxhash64(xxhash(key) ‖ type ‖ valueHash ‖ expireAt).
// In PTTL mode expireAt is reduced to a has-TTL flag (1 / -1).
func keyHash(kh uint64, t KeyType, vh uint64, exp int64) uint64 {
	var b [25]byte
	binary.LittleEndian.PutUint64(b[0:], kh)
	b[8] = byte(t)
	binary.LittleEndian.PutUint64(b[9:], vh)
	binary.LittleEndian.PutUint64(b[17:], uint64(exp))
	return xxhash.Sum64(b[:])
}

func ttlForHash(mode string, exp int64) int64 {
	if mode == TTLPTTL {
		if exp > 0 {
			return 1
		}
		return -1
	}
	return exp
}

// Fingerprint scans the selected DB once and writes the manifest (NumShards shard files)
// into dir, returning the summary (the caller stores it, see Store.Commit). One scanner
// goroutine runs SCAN COUNT 1000; Workers goroutines pipeline GET (+ PEXPIRETIME) for each
// batch; non-strings (WRONGTYPE) take the per-type path. Memory is bounded by the batch
// size and the largest single collection's dedup set, not by the number of keys.
func Fingerprint(ctx context.Context, c *Client, dir string, opt FingerprintOptions) (*Summary, error) {
	if opt.Workers <= 0 {
		opt.Workers = 2
	}
	if opt.Count <= 0 {
		opt.Count = 1000
	}
	if opt.ProgressEvery <= 0 {
		opt.ProgressEvery = time.Second
	}
	si, err := c.ServerInfo(ctx)
	if err != nil {
		return nil, err
	}
	mode := TTLNone
	if si.Expires > 0 {
		if si.AtLeast(7, 0) {
			mode = TTLPExpireTime
		} else {
			mode = TTLPTTL
		}
	}
	// Scan times use the server clock (expire times are server clock too); an ACL user
	// without TIME falls back to the local clock.
	t0, err := c.rdb.Time(ctx).Result()
	if err != nil {
		if derr := c.describe(err); IsUnreachable(derr) || IsAuthError(derr) {
			return nil, derr
		}
		t0 = time.Now()
	}
	localStart := time.Now()
	mw, err := newManifestWriter(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot write manifest: %w", err)
	}
	defer mw.abort()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		errOnce  sync.Once
		firstErr error
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel() })
	}

	batches := make(chan []string, 2*opt.Workers)
	go func() {
		defer close(batches)
		var cursor uint64
		for {
			keys, next, err := c.rdb.Scan(ctx, cursor, "", int64(opt.Count)).Result()
			if err != nil {
				fail(fmt.Errorf("SCAN: %w", c.describe(err)))
				return
			}
			if len(keys) > 0 {
				select {
				case batches <- keys:
				case <-ctx.Done():
					return
				}
			}
			if next == 0 {
				return
			}
			cursor = next
		}
	}()

	var scanned atomic.Int64
	// One writer goroutine owns the manifest files; workers hand over filled record
	// buffers and go straight back to Redis. A fixed set of buffers bounds memory.
	nbuf := 2*opt.Workers + 2
	free := make(chan []pendingRec, nbuf)
	for i := 0; i < nbuf; i++ {
		free <- make([]pendingRec, 0, opt.Count+opt.Count/4)
	}
	toWrite := make(chan []pendingRec, nbuf)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		var werr error
		for recs := range toWrite {
			if werr == nil {
				for i := range recs {
					r := &recs[i]
					if werr = mw.write(r.shard, r.key, r.t, r.vh, r.exp); werr != nil {
						fail(fmt.Errorf("cannot write manifest: %w", werr))
						break
					}
				}
				scanned.Add(int64(len(recs)))
			}
			clear(recs) // drop key references
			free <- recs[:0]
		}
	}()
	workers := make([]*fpWorker, opt.Workers)
	var wg sync.WaitGroup
	for i := range workers {
		w := &fpWorker{c: c, mode: mode, perKeyGet: opt.PerKeyGet, nowMs: t0.UnixMilli(), localStart: localStart,
			pipe: c.rdb.Pipeline(), types: make(map[KeyType]int64)}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			for keys := range batches {
				if ctx.Err() != nil {
					continue // drain
				}
				w.recs = <-free
				if err := w.batch(ctx, keys); err != nil {
					fail(err)
					free <- w.recs[:0]
					continue
				}
				toWrite <- w.recs
				w.recs = nil
			}
		}()
	}
	done := make(chan struct{})
	var progWG sync.WaitGroup
	if opt.Progress != nil {
		progWG.Add(1)
		go func() {
			defer progWG.Done()
			tk := time.NewTicker(opt.ProgressEvery)
			defer tk.Stop()
			for {
				select {
				case <-done:
					return
				case <-tk.C:
					n, el := scanned.Load(), time.Since(localStart)
					opt.Progress(ScanProgress{Keys: n, Elapsed: el, KeysPerSec: float64(n) / el.Seconds()})
				}
			}
		}()
	}
	wg.Wait()
	close(toWrite)
	<-writerDone
	close(done)
	progWG.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := mw.close(); err != nil {
		return nil, fmt.Errorf("cannot write manifest: %w", err)
	}
	elapsed := time.Since(localStart)

	sum := &Summary{
		CreatedAt:    localStart.UTC(),
		Addr:         c.opt.Addr,
		DB:           c.opt.DB,
		RunID:        si.RunID,
		RedisVersion: si.Version,
		TTLMode:      mode,
		ScanStartMs:  t0.UnixMilli(),
		ScanEndMs:    t0.UnixMilli() + elapsed.Milliseconds(),
		DurationMs:   elapsed.Milliseconds(),
		Types:        map[string]int64{},
		Shards:       make([]ShardSum, NumShards),
	}
	for _, w := range workers {
		for i := 0; i < NumShards; i++ {
			sum.Shards[i].Keys += w.counts[i]
			sum.Shards[i].Sum += Hex64(w.sums[i])
		}
		for t, n := range w.types {
			sum.Types[t.String()] += n
		}
	}
	for i := 0; i < NumShards; i++ {
		sum.Keys += sum.Shards[i].Keys
		sum.Digest += sum.Shards[i].Sum
	}
	if opt.Progress != nil {
		opt.Progress(ScanProgress{Keys: sum.Keys, Elapsed: elapsed, KeysPerSec: float64(sum.Keys) / elapsed.Seconds(), Done: true})
	}
	return sum, nil
}

type pendingRec struct {
	shard int
	key   string
	t     KeyType
	vh    uint64
	exp   int64
}

type fpWorker struct {
	c          *Client
	mode       string
	perKeyGet  bool
	nowMs      int64
	localStart time.Time
	pipe       redis.Pipeliner

	gets   []*redis.StringCmd
	ttls   []*redis.DurationCmd
	slow   []int
	recs   []pendingRec
	sums   [NumShards]uint64
	counts [NumShards]int64
	types  map[KeyType]int64
	buf    []byte
	seen   map[uint64]struct{}
}

func isRedisError(err error) bool {
	var re redis.Error
	return errors.As(err, &re)
}

func (w *fpWorker) add(key string, t KeyType, vh uint64, exp int64) {
	kh := xxhash.Sum64String(key)
	shard := int(kh >> 56)
	w.sums[shard] += keyHash(kh, t, vh, ttlForHash(w.mode, exp))
	w.counts[shard]++
	w.types[t]++
	w.recs = append(w.recs, pendingRec{shard: shard, key: key, t: t, vh: vh, exp: exp})
}

func (w *fpWorker) expireOf(i int) int64 {
	if w.mode == TTLNone {
		return -1
	}
	d, err := w.ttls[i].Result()
	if err != nil || d < 0 {
		if d == -2 {
			return -2 // key gone
		}
		return -1
	}
	ms := int64(d / time.Millisecond)
	if w.mode == TTLPTTL {
		return w.nowMs + time.Since(w.localStart).Milliseconds() + ms
	}
	return ms
}

func (w *fpWorker) batch(ctx context.Context, keys []string) error {
	ctx = context.WithoutCancel(ctx) // finish a pipeline once sent; cancellation is checked between batches
	w.recs = w.recs[:0]
	w.gets = w.gets[:0]
	w.ttls = w.ttls[:0]
	w.slow = w.slow[:0]
	var mget *redis.SliceCmd
	if w.perKeyGet {
		for _, k := range keys {
			w.gets = append(w.gets, w.pipe.Get(ctx, k))
		}
	} else {
		mget = w.pipe.MGet(ctx, keys...)
	}
	for _, k := range keys {
		switch w.mode {
		case TTLPExpireTime:
			w.ttls = append(w.ttls, w.pipe.PExpireTime(ctx, k))
		case TTLPTTL:
			w.ttls = append(w.ttls, w.pipe.PTTL(ctx, k))
		}
	}
	if _, err := w.pipe.Exec(ctx); err != nil && !isRedisError(err) {
		return fmt.Errorf("reading keys: %w", w.c.describe(err))
	}
	if mget != nil {
		// MGET answers nil for both a missing key and a non-string: nils take the
		// per-type path, where TYPE tells them apart.
		vals, err := mget.Result()
		if err != nil {
			return fmt.Errorf("MGET: %w", w.c.describe(err))
		}
		for i, k := range keys {
			v, ok := vals[i].(string)
			if !ok {
				w.slow = append(w.slow, i)
				continue
			}
			exp := w.expireOf(i)
			if exp == -2 {
				continue
			}
			w.add(k, TypeString, stringHash(v), exp)
		}
	} else {
		for i, k := range keys {
			v, err := w.gets[i].Result()
			switch {
			case err == nil:
				exp := w.expireOf(i)
				if exp == -2 {
					continue
				}
				w.add(k, TypeString, stringHash(v), exp)
			case err == redis.Nil:
				// key deleted or expired since SCAN
			case strings.HasPrefix(err.Error(), "WRONGTYPE"):
				w.slow = append(w.slow, i)
			default:
				return fmt.Errorf("GET %q: %w", k, err)
			}
		}
	}
	if len(w.slow) > 0 {
		return w.slowPath(ctx, keys)
	}
	return nil
}

// slowPath handles non-string keys of a batch: one pipeline of TYPE, one pipeline with the
// first page of each key, then further pages key by key.
func (w *fpWorker) slowPath(ctx context.Context, keys []string) error {
	types := make([]*redis.StatusCmd, len(w.slow))
	for j, i := range w.slow {
		types[j] = w.pipe.Type(ctx, keys[i])
	}
	if _, err := w.pipe.Exec(ctx); err != nil && !isRedisError(err) {
		return fmt.Errorf("reading key types: %w", w.c.describe(err))
	}
	first := make([]redis.Cmder, len(w.slow))
	groups := make([]*redis.Cmd, len(w.slow))
	kt := make([]KeyType, len(w.slow))
	for j, i := range w.slow {
		k := keys[i]
		ts, err := types[j].Result()
		if err != nil {
			return fmt.Errorf("TYPE %q: %w", k, err)
		}
		t, ok := typeFromRedis(ts)
		if !ok {
			continue // gone
		}
		kt[j] = t
		switch t {
		case TypeString:
			first[j] = w.pipe.Get(ctx, k)
		case TypeHash:
			first[j] = w.pipe.HScan(ctx, k, 0, "", chunk)
		case TypeSet:
			first[j] = w.pipe.SScan(ctx, k, 0, "", chunk)
		case TypeZSet:
			first[j] = w.pipe.ZScan(ctx, k, 0, "", chunk)
		case TypeList:
			first[j] = w.pipe.LRange(ctx, k, 0, chunk-1)
		case TypeStream:
			first[j] = w.pipe.Do(ctx, "XRANGE", k, "-", "+", "COUNT", chunk)
			groups[j] = w.pipe.Do(ctx, "XINFO", "GROUPS", k)
		default:
			first[j] = w.pipe.Dump(ctx, k)
		}
	}
	if _, err := w.pipe.Exec(ctx); err != nil && !isRedisError(err) {
		return fmt.Errorf("reading keys: %w", w.c.describe(err))
	}
	for j, i := range w.slow {
		if first[j] == nil {
			continue
		}
		k := keys[i]
		vh, gone, err := w.valueHash(ctx, k, kt[j], first[j], groups[j])
		if err != nil {
			return err
		}
		if gone {
			continue
		}
		exp := w.expireOf(i)
		if exp == -2 {
			continue
		}
		w.add(k, kt[j], vh, exp)
	}
	return nil
}

const chunk = 1000

func isGone(err error) bool { return err == redis.Nil }

func (w *fpWorker) elem(parts ...string) uint64 {
	b := w.buf[:0]
	for _, p := range parts {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	w.buf = b
	return xxhash.Sum64(b)
}

// setSum accumulates an order-independent sum of element hashes; when a collection needs
// more than one SCAN page, element hashes are deduplicated (SCAN may repeat elements).
type setSum struct {
	sum   uint64
	n     uint64
	dedup map[uint64]struct{}
}

func (s *setSum) add(h uint64) {
	if s.dedup != nil {
		if _, dup := s.dedup[h]; dup {
			return
		}
		s.dedup[h] = struct{}{}
	}
	s.sum += h
	s.n++
}

func (s *setSum) final() uint64 {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:], s.sum)
	binary.LittleEndian.PutUint64(b[8:], s.n)
	return xxhash.Sum64(b[:])
}

func (w *fpWorker) valueHash(ctx context.Context, k string, t KeyType, first redis.Cmder, groups *redis.Cmd) (uint64, bool, error) {
	if err := first.Err(); err != nil {
		if isGone(err) || strings.HasPrefix(err.Error(), "WRONGTYPE") {
			return 0, true, nil // deleted or retyped between our reads; not part of this scan
		}
		return 0, false, fmt.Errorf("reading %s %q: %w", t, k, w.c.describe(err))
	}
	rdb := w.c.rdb
	switch t {
	case TypeString:
		return xxhash.Sum64String(first.(*redis.StringCmd).Val()), false, nil
	case TypeHash, TypeSet, TypeZSet:
		elems, cursor := first.(*redis.ScanCmd).Val()
		var s setSum
		if cursor != 0 {
			s.dedup = make(map[uint64]struct{}, 4*chunk)
		}
		for {
			switch t {
			case TypeSet:
				for _, m := range elems {
					s.add(w.elem(m))
				}
			case TypeHash:
				for x := 0; x+1 < len(elems); x += 2 {
					s.add(w.elem(elems[x], elems[x+1]))
				}
			case TypeZSet:
				for x := 0; x+1 < len(elems); x += 2 {
					f, err := strconv.ParseFloat(elems[x+1], 64)
					if err != nil {
						return 0, false, fmt.Errorf("zset %q: bad score %q", k, elems[x+1])
					}
					var sb [8]byte
					binary.LittleEndian.PutUint64(sb[:], math.Float64bits(f))
					s.add(w.elem(elems[x], string(sb[:])))
				}
			}
			if cursor == 0 {
				break
			}
			var err error
			switch t {
			case TypeSet:
				elems, cursor, err = rdb.SScan(ctx, k, cursor, "", chunk).Result()
			case TypeHash:
				elems, cursor, err = rdb.HScan(ctx, k, cursor, "", chunk).Result()
			case TypeZSet:
				elems, cursor, err = rdb.ZScan(ctx, k, cursor, "", chunk).Result()
			}
			if err != nil {
				if strings.HasPrefix(err.Error(), "WRONGTYPE") {
					return 0, true, nil
				}
				return 0, false, fmt.Errorf("scanning %s %q: %w", t, k, w.c.describe(err))
			}
		}
		return s.final(), false, nil
	case TypeList:
		d := xxhash.New()
		elems := first.(*redis.StringSliceCmd).Val()
		var start int64
		var lb [binary.MaxVarintLen64]byte
		for {
			for _, e := range elems {
				n := binary.PutUvarint(lb[:], uint64(len(e)))
				d.Write(lb[:n])
				d.WriteString(e)
			}
			if len(elems) < chunk {
				break
			}
			start += chunk
			var err error
			elems, err = rdb.LRange(ctx, k, start, start+chunk-1).Result()
			if err != nil {
				if strings.HasPrefix(err.Error(), "WRONGTYPE") {
					return 0, true, nil
				}
				return 0, false, fmt.Errorf("reading list %q: %w", k, w.c.describe(err))
			}
		}
		return d.Sum64(), false, nil
	case TypeStream:
		d := xxhash.New()
		var lb [binary.MaxVarintLen64]byte
		put := func(s string) {
			n := binary.PutUvarint(lb[:], uint64(len(s)))
			d.Write(lb[:n])
			d.WriteString(s)
		}
		res, _ := first.(*redis.Cmd).Slice()
		for {
			last := ""
			for _, e := range res {
				ent, ok := e.([]interface{})
				if !ok || len(ent) < 2 {
					return 0, false, fmt.Errorf("stream %q: unexpected XRANGE reply", k)
				}
				id := fmt.Sprint(ent[0])
				put(id)
				last = id
				fields, _ := ent[1].([]interface{})
				for _, f := range fields {
					put(fmt.Sprint(f))
				}
			}
			if len(res) < chunk {
				break
			}
			var err error
			res, err = rdb.Do(ctx, "XRANGE", k, "("+last, "+", "COUNT", chunk).Slice()
			if err != nil {
				if strings.HasPrefix(err.Error(), "WRONGTYPE") {
					return 0, true, nil
				}
				return 0, false, fmt.Errorf("reading stream %q: %w", k, w.c.describe(err))
			}
		}
		// consumer groups: name, last-delivered-id, pending count
		if groups != nil {
			gl, err := groups.Slice()
			if err == nil {
				for _, g := range gl {
					fields, _ := g.([]interface{})
					var name, lastID, pending string
					for x := 0; x+1 < len(fields); x += 2 {
						switch fmt.Sprint(fields[x]) {
						case "name":
							name = fmt.Sprint(fields[x+1])
						case "last-delivered-id":
							lastID = fmt.Sprint(fields[x+1])
						case "pending":
							pending = fmt.Sprint(fields[x+1])
						}
					}
					put("\x00group")
					put(name)
					put(lastID)
					put(pending)
				}
			}
		}
		return d.Sum64(), false, nil
	default:
		b, err := first.(*redis.StringCmd).Bytes()
		if err != nil {
			return 0, true, nil
		}
		if len(b) > 10 {
			b = b[:len(b)-10] // drop RDB version + CRC64 footer
		}
		return xxhash.Sum64(b), false, nil
	}
}
