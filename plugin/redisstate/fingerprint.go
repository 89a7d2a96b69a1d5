package redisstate

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
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
	Workers       int                // pipeline workers, default 3
	Count         int                // SCAN COUNT, default 1000
	Progress      func(ScanProgress) // optional, called every ProgressEvery and at the end
	ProgressEvery time.Duration      // default 1 s
	// PerKeyGet pipelines one GET per key (non-strings answer WRONGTYPE) instead of one
	// MGET per SCAN batch (non-strings answer nil). MGET is the default: it costs the
	// server far less per key (bench/run.sh measures both).
	PerKeyGet bool
	// DBs, when set, are the databases to scan (VerifyAgainst passes the snapshot's);
	// nil = every database that holds keys, or only Options.DB with Options.OnlyDB.
	DBs []int
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
	Engine       string            `json:"engine,omitempty"` // empty: another engine's snapshots name theirs
	ID           string            `json:"id"`
	Service      string            `json:"service,omitempty"`
	CreatedAt    time.Time         `json:"created_at"`
	Addr         string            `json:"addr,omitempty"`
	Format       int               `json:"format"`  // ManifestFormat
	DB           int               `json:"db"`      // database of --verify-key lookups
	OnlyDB       bool              `json:"only_db"` // only DB was scanned (--redis-url .../N)
	Databases    []DBSummary       `json:"databases"`
	RunID        string            `json:"run_id"`
	RedisVersion string            `json:"redis_version"`
	Server       string            `json:"server,omitempty"` // "Redis 7.0.15", "Valkey 8.1.1" (ServerInfo.Describe)
	TTLMode      string            `json:"ttl_mode"`
	ScanStartMs  int64             `json:"scan_start_ms"` // server TIME at scan start (unix ms)
	ScanEndMs    int64             `json:"scan_end_ms"`
	DurationMs   int64             `json:"duration_ms"`
	Keys         int64             `json:"keys"` // records written (SCAN may repeat a key)
	Types        map[string]int64  `json:"types"`
	Digest       Hex64             `json:"digest"` // sum mod 2^64 of per-key hashes
	Shards       []ShardSum        `json:"shards"` // NumShards entries
	Cut          *CutInfo          `json:"cut,omitempty"`
	Files        []FileSum         `json:"files,omitempty"`    // per shard file, set by Store.Commit
	Checksum     Hex64             `json:"checksum,omitempty"` // of this summary, set by Store.Commit
	Labels       map[string]string `json:"labels,omitempty"`
}

// DBSummary counts the keys of one logical database in a snapshot.
type DBSummary struct {
	DB   int   `json:"db"`
	Keys int64 `json:"keys"`
}

// TTLExact reports whether expire times are exact (and part of the per-key hash).
func (s *Summary) TTLExact() bool { return s.TTLMode != TTLPTTL }

// ShardOf returns the manifest shard of a key of database db.
func ShardOf(db int, key string) int { return int(keyID(db, key) >> 56) }

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

// Fingerprint scans every logical database that holds keys (INFO keyspace), or only
// Options.DB with Options.OnlyDB, once and writes the manifest (NumShards shard files)
// into dir, returning the summary (the caller stores it, see Store.Commit). One scanner
// goroutine runs SCAN COUNT 1000; Workers goroutines pipeline GET (+ PEXPIRETIME) for each
// batch; non-strings (WRONGTYPE) take the per-type path. Memory is bounded by the batch
// size and the largest single collection's dedup set, not by the number of keys.
func Fingerprint(ctx context.Context, c *Client, dir string, opt FingerprintOptions) (*Summary, error) {
	if opt.Workers <= 0 {
		// 3: a collection takes three round trips (MGET, TYPE, its first page); over a
		// swarm's network 3 beat 2 by 5-10% at 1M keys (2, 4, 6 were no better)
		opt.Workers = 3
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
	if si.ClusterEnabled {
		return nil, ErrCluster
	}
	dbs := opt.DBs
	if dbs == nil {
		for _, d := range si.Databases {
			dbs = append(dbs, d.DB)
		}
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

	batches := make(chan dbBatch, 2*opt.Workers)
	go func() {
		defer close(batches)
		for _, db := range dbs {
			rdb := c.db(db)
			var cursor uint64
			for {
				keys, next, err := rdb.Scan(ctx, cursor, "", int64(opt.Count)).Result()
				if err != nil {
					fail(fmt.Errorf("SCAN of database %d: %w", db, c.describe(err)))
					return
				}
				if len(keys) > 0 {
					select {
					case batches <- dbBatch{db, keys}:
					case <-ctx.Done():
						return
					}
				}
				if next == 0 {
					break
				}
				cursor = next
			}
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
					if werr = mw.write(r.shard, r.db, r.key, r.t, r.vh, r.exp); werr != nil {
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
			pipes: map[int]redis.Pipeliner{}, types: make(map[KeyType]int64), perDB: map[int]int64{}}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				if ctx.Err() != nil {
					continue // drain
				}
				w.recs = <-free
				w.use(b.db)
				if err := w.batch(ctx, b.keys); err != nil {
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
	for _, w := range workers {
		w.closeResp()
	}
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
		Format:       ManifestFormat,
		DB:           c.opt.DB,
		OnlyDB:       c.opt.OnlyDB,
		Databases:    []DBSummary{},
		RunID:        si.RunID,
		RedisVersion: si.Version,
		Server:       si.Describe(),
		TTLMode:      mode,
		ScanStartMs:  t0.UnixMilli(),
		ScanEndMs:    t0.UnixMilli() + elapsed.Milliseconds(),
		DurationMs:   elapsed.Milliseconds(),
		Types:        map[string]int64{},
		Shards:       make([]ShardSum, NumShards),
	}
	perDB := map[int]int64{}
	for _, w := range workers {
		for db, n := range w.perDB {
			perDB[db] += n
		}
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
	if len(opt.DBs) == 1 {
		sum.DB, sum.OnlyDB = opt.DBs[0], true
	}
	for _, db := range dbs {
		sum.Databases = append(sum.Databases, DBSummary{DB: db, Keys: perDB[db]})
	}
	if opt.Progress != nil {
		opt.Progress(ScanProgress{Keys: sum.Keys, Elapsed: elapsed, KeysPerSec: float64(sum.Keys) / elapsed.Seconds(), Done: true})
	}
	return sum, nil
}

type dbBatch struct {
	db   int
	keys []string
}

type pendingRec struct {
	shard int
	db    int
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
	db         int                     // database of the current batch
	rdb        *redis.Client           // client of that database
	pipe       redis.Pipeliner         // its pipeline
	pipes      map[int]redis.Pipeliner // per database
	perDB      map[int]int64

	gets    []*redis.StringCmd
	ttlCmds []*redis.DurationCmd
	ttls    []int64 // raw PEXPIRETIME / PTTL replies of the batch (-1 none, -2 gone)
	resps   map[int]*respConn
	digest  xxhash.Digest
	slow    []int
	vals    []valueReader // of the slow keys
	hashes  []uint64      // MGET's value hashes
	recs    []pendingRec
	sums    [NumShards]uint64
	counts  [NumShards]int64
	types   map[KeyType]int64
}

func isRedisError(err error) bool {
	var re redis.Error
	return errors.As(err, &re)
}

// use switches the worker to database db.
func (w *fpWorker) use(db int) {
	w.db, w.rdb = db, w.c.db(db)
	p, ok := w.pipes[db]
	if !ok {
		p = w.rdb.Pipeline()
		w.pipes[db] = p
	}
	w.pipe = p
}

func (w *fpWorker) add(key string, t KeyType, vh uint64, exp int64) {
	kh := keyID(w.db, key)
	shard := int(kh >> 56)
	w.sums[shard] += keyHash(kh, t, vh, ttlForHash(w.mode, exp))
	w.counts[shard]++
	w.types[t]++
	w.perDB[w.db]++
	w.recs = append(w.recs, pendingRec{shard: shard, db: w.db, key: key, t: t, vh: vh, exp: exp})
}

func (w *fpWorker) expireOf(i int) int64 {
	if w.mode == TTLNone {
		return -1
	}
	ms := w.ttls[i]
	if ms < 0 {
		if ms == -2 {
			return -2 // key gone
		}
		return -1
	}
	if w.mode == TTLPTTL {
		return w.nowMs + time.Since(w.localStart).Milliseconds() + ms
	}
	return ms
}

func (w *fpWorker) batch(ctx context.Context, keys []string) error {
	ctx = context.WithoutCancel(ctx) // finish a pipeline once sent; cancellation is checked between batches
	w.recs = w.recs[:0]
	w.gets = w.gets[:0]
	w.ttlCmds = w.ttlCmds[:0]
	w.ttls = w.ttls[:0]
	w.slow = w.slow[:0]
	var err error
	if w.perKeyGet {
		err = w.batchGet(ctx, keys)
	} else {
		err = w.batchMGet(ctx, keys)
	}
	if err != nil {
		return err
	}
	if len(w.slow) > 0 {
		return w.slowPath(ctx, keys)
	}
	return nil
}

// ttlCommand is the command that reads a key's expire time in this TTL mode ("" = none).
func (w *fpWorker) ttlCommand() string {
	switch w.mode {
	case TTLPExpireTime:
		return "PEXPIRETIME"
	case TTLPTTL:
		return "PTTL"
	}
	return ""
}

// batchMGet reads a batch with one MGET (+ one TTL command per key) on the worker's own
// RESP connection, hashing each value as it arrives: memory stays flat whatever the value
// sizes. MGET answers nil for both a missing key and a non-string: nils take the per-type
// path, where TYPE tells them apart.
func (w *fpWorker) batchMGet(ctx context.Context, keys []string) error {
	rc, err := w.resp(ctx)
	if err != nil {
		return fmt.Errorf("reading keys: %w", err)
	}
	fail := func(err error) error {
		rc.close() // the connection's replies are out of step: dial again next time
		delete(w.resps, w.db)
		return fmt.Errorf("MGET: %w", w.c.describe(err))
	}
	rc.writeMGET(keys)
	tc := w.ttlCommand()
	if tc != "" {
		for _, k := range keys {
			rc.write(tc, k)
		}
	}
	if err := rc.flush(); err != nil {
		return fail(err)
	}
	n, err := rc.readArrayLen()
	if err != nil {
		return fail(err)
	}
	if n != len(keys) {
		return fail(fmt.Errorf("MGET of %d keys answered %d values", len(keys), n))
	}
	hashes := slices.Grow(w.hashes[:0], len(keys))[:len(keys)]
	w.hashes = hashes
	for i := range keys {
		h, null, err := rc.readBulkHash(&w.digest)
		if err != nil {
			return fail(err)
		}
		if null {
			w.slow = append(w.slow, i)
		}
		hashes[i] = h
	}
	for range keys {
		v := int64(-1)
		if tc != "" {
			if v, err = rc.readInt(); err != nil {
				if !isRedisError(err) {
					return fail(err)
				}
				v = -1
			}
		}
		w.ttls = append(w.ttls, v)
	}
	slow := 0
	for i, k := range keys {
		if slow < len(w.slow) && w.slow[slow] == i {
			slow++
			continue
		}
		exp := w.expireOf(i)
		if exp == -2 {
			continue
		}
		w.add(k, TypeString, hashes[i], exp)
	}
	return nil
}

// resp returns the worker's RESP connection to its current database.
func (w *fpWorker) resp(ctx context.Context) (*respConn, error) {
	if rc, ok := w.resps[w.db]; ok {
		return rc, nil
	}
	rc, err := w.c.dialRESP(ctx, w.db)
	if err != nil {
		return nil, err
	}
	if w.resps == nil {
		w.resps = map[int]*respConn{}
	}
	w.resps[w.db] = rc
	return rc, nil
}

func (w *fpWorker) closeResp() {
	for db, rc := range w.resps {
		rc.close()
		delete(w.resps, db)
	}
}

// batchGet pipelines one GET per key through go-redis (FingerprintOptions.PerKeyGet, for
// the benchmark's comparison; it holds the batch's values).
func (w *fpWorker) batchGet(ctx context.Context, keys []string) error {
	for _, k := range keys {
		w.gets = append(w.gets, w.pipe.Get(ctx, k))
	}
	for _, k := range keys {
		switch w.mode {
		case TTLPExpireTime:
			w.ttlCmds = append(w.ttlCmds, w.pipe.PExpireTime(ctx, k))
		case TTLPTTL:
			w.ttlCmds = append(w.ttlCmds, w.pipe.PTTL(ctx, k))
		}
	}
	if _, err := w.pipe.Exec(ctx); err != nil && !isRedisError(err) {
		return fmt.Errorf("reading keys: %w", w.c.describe(err))
	}
	for i := range keys {
		v := int64(-1)
		if i < len(w.ttlCmds) {
			if d, err := w.ttlCmds[i].Result(); err == nil {
				if d < 0 {
					v = int64(d) // -1 / -2 come back unscaled
				} else {
					v = int64(d / time.Millisecond)
				}
			}
		}
		w.ttls = append(w.ttls, v)
	}
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
	return nil
}

const chunk = 1000

func isGone(err error) bool { return err == redis.Nil }

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

// streamState hashes what a stream holds besides its entries: last-generated-id (and on
// 7.0+ entries-added and max-deleted-entry-id when they say more than the entries do),
// and for each consumer group its name, last-delivered-id, entries-read (7.0+), its
// consumers and every pending entry with its owner and delivery count (XPENDING pages of
// 1000). Fields a 7.0 server derives when it loads a 6.x RDB (entries-added = length,
// max-deleted-entry-id 0-0, entries-read unknown) are left out, so an upgrade from 6.x
// does not look like a change. Delivery times are left out: XPENDING reports idle time.
func (w *fpWorker) streamState(ctx context.Context, k string, put func(string)) (bool, error) {
	rdb := w.rdb
	si, err := w.xinfoStream(ctx, k)
	if err != nil {
		if isRedisError(err) && (strings.HasPrefix(err.Error(), "WRONGTYPE") || strings.HasPrefix(err.Error(), "ERR no such key")) {
			return true, nil
		}
		return false, fmt.Errorf("XINFO STREAM %q: %w", k, w.c.describe(err))
	}
	put("\x00last-generated-id")
	put(si["last-generated-id"])
	if ea, ok := si["entries-added"]; ok && ea != si["length"] {
		put("\x00entries-added")
		put(ea)
	}
	if md, ok := si["max-deleted-entry-id"]; ok && md != "0-0" {
		put("\x00max-deleted-entry-id")
		put(md)
	}
	gl, err := rdb.Do(ctx, "XINFO", "GROUPS", k).Slice()
	if err != nil {
		if isGone(err) || strings.HasPrefix(err.Error(), "WRONGTYPE") || strings.HasPrefix(err.Error(), "ERR no such key") {
			return true, nil
		}
		return false, fmt.Errorf("XINFO GROUPS %q: %w", k, w.c.describe(err))
	}
	for _, g := range gl {
		gf, _ := g.([]interface{})
		gm := pairs(gf)
		name := gm["name"]
		put("\x00group")
		put(name)
		put(gm["last-delivered-id"])
		put(gm["pending"])
		if er, ok := gm["entries-read"]; ok && er != "" && er != "<nil>" {
			put("\x00entries-read")
			put(er)
		}
		cons, err := rdb.Do(ctx, "XINFO", "CONSUMERS", k, name).Slice()
		if err != nil {
			return false, fmt.Errorf("XINFO CONSUMERS %q %q: %w", k, name, w.c.describe(err))
		}
		for _, c := range cons { // sorted by name (a radix tree)
			cf, _ := c.([]interface{})
			cm := pairs(cf)
			put("\x00consumer")
			put(cm["name"])
			put(cm["pending"])
		}
		start := "-"
		for {
			pel, err := rdb.Do(ctx, "XPENDING", k, name, start, "+", chunk).Slice()
			if err != nil {
				return false, fmt.Errorf("XPENDING %q %q: %w", k, name, w.c.describe(err))
			}
			last := ""
			for _, e := range pel {
				ef, _ := e.([]interface{})
				if len(ef) < 4 {
					return false, fmt.Errorf("stream %q: unexpected XPENDING reply", k)
				}
				last = fmt.Sprint(ef[0])
				put("\x00pending")
				put(last)              // entry id
				put(fmt.Sprint(ef[1])) // owner
				put(fmt.Sprint(ef[3])) // delivery count
			}
			if len(pel) < chunk {
				break
			}
			next, ok := nextStreamID(last)
			if !ok {
				break
			}
			start = next
		}
	}
	return false, nil
}

// xinfoStream reads XINFO STREAM's scalar fields on the worker's RESP connection; its
// first-entry and last-entry (whole entries, of any size) are skipped as they arrive.
func (w *fpWorker) xinfoStream(ctx context.Context, k string) (map[string]string, error) {
	rc, err := w.resp(ctx)
	if err != nil {
		return nil, err
	}
	rc.write("XINFO", "STREAM", k)
	m, err := func() (map[string]string, error) {
		if err := rc.flush(); err != nil {
			return nil, err
		}
		n, err := rc.readArrayLen()
		if err != nil {
			return nil, err
		}
		m := make(map[string]string, n/2)
		for x := 0; x+1 < n; x += 2 {
			name, _, err := rc.readBulkSmall(64)
			if err != nil {
				return nil, err
			}
			if m[name], err = rc.readScalar(64); err != nil {
				return nil, err
			}
		}
		return m, nil
	}()
	if err != nil && !isRedisError(err) {
		rc.close()
		delete(w.resps, w.db)
	}
	return m, err
}

// pairs turns a flat RESP2 [name, value, ...] reply into a map of printed values.
func pairs(l []interface{}) map[string]string {
	m := make(map[string]string, len(l)/2)
	for x := 0; x+1 < len(l); x += 2 {
		m[fmt.Sprint(l[x])] = fmt.Sprint(l[x+1])
	}
	return m
}

// nextStreamID is the smallest stream id after id ("ms-seq"), for paging XPENDING without
// the exclusive range of 6.2+.
func nextStreamID(id string) (string, bool) {
	ms, seq, ok := strings.Cut(id, "-")
	if !ok {
		return "", false
	}
	m, err1 := strconv.ParseUint(ms, 10, 64)
	s, err2 := strconv.ParseUint(seq, 10, 64)
	if err1 != nil || err2 != nil {
		return "", false
	}
	if s == math.MaxUint64 {
		if m == math.MaxUint64 {
			return "", false
		}
		return strconv.FormatUint(m+1, 10) + "-0", true
	}
	return ms + "-" + strconv.FormatUint(s+1, 10), true
}
