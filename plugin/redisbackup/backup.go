package redisbackup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
)

// Progress is passed to Options.Progress while keys are read or restored.
type Progress struct {
	Phase      string        `json:"phase"` // "backup", "verify", "restore"
	Keys       int64         `json:"keys"`
	Bytes      int64         `json:"bytes"` // file bytes written (backup) or read (restore)
	Elapsed    time.Duration `json:"elapsed_ns"`
	KeysPerSec float64       `json:"keys_per_sec"`
	Done       bool          `json:"done"`
}

// Options tunes Backup.
type Options struct {
	Service     string // recorded in the header
	SpecVersion uint64 // the service's spec version, recorded in the header
	Generator   string // "docker-stateful <version>"
	// Pause is the length of each CLIENT PAUSE WRITE; it is renewed while keys are read
	// and lapses by itself within Pause if this process dies. Default 30 s.
	Pause   time.Duration
	Workers int    // pipelines reading keys, default 2
	Count   int    // SCAN COUNT, default 1000
	TempDir string // for the fingerprint of the cut, "" = os.TempDir()
	// Log gets one line per step ("Pausing writes ...", "Writes resumed after ...").
	Log func(string)
	// Progress, when set, is called every ProgressEvery (default 1 s) and at the end.
	Progress      func(Progress)
	ProgressEvery time.Duration
	// KeepPaused leaves writes paused (renewed) when the backup is done: Result.Hold
	// releases them. move keeps them paused until the data is verified elsewhere.
	KeepPaused bool
	// Paused takes the backup the paused way (CLIENT PAUSE WRITE + SAVE, then SCAN) even
	// when the server serves the replication protocol. KeepPaused implies it.
	Paused bool
}

// Hold keeps writes paused on the backed-up Redis after a KeepPaused backup.
type Hold struct {
	cut    *redisstate.CutHandle
	keeper *keeper
}

// Release stops renewing the pause and unpauses writes (a Redis that is gone counts as
// released). Nil-safe and idempotent.
func (h *Hold) Release() error {
	if h == nil {
		return nil
	}
	h.keeper.stop()
	return h.cut.Release(context.Background())
}

// PausedAt is when writes were paused (the cut).
func (h *Hold) PausedAt() time.Time { return h.cut.Info.PausedAt }

// Result says what a backup holds and how long writes were paused.
type Result struct {
	Path          string          `json:"path,omitempty"` // "" for a writer / stdout
	Header        Header          `json:"header"`
	Records       int64           `json:"records"`
	Databases     []DatabaseCount `json:"databases"`
	FileBytes     int64           `json:"file_bytes"`
	WritePause    time.Duration   `json:"-"`
	WritePauseMs  int64           `json:"write_pause_ms"`
	FingerprintMs int64           `json:"fingerprint_ms"`
	ReadMs        int64           `json:"read_ms"`
	// Method is MethodReplication (the server's snapshot at a fork, no pause) or
	// MethodPause; Fallback says why the replication snapshot was not used.
	Method   string `json:"method"`
	Fallback string `json:"fallback,omitempty"`
	// Hold is set with Options.KeepPaused: writes are still paused.
	Hold *Hold `json:"-"`
}

func (o *Options) defaults() {
	if o.Pause <= 0 {
		o.Pause = 30 * time.Second
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.Count <= 0 {
		o.Count = 1000
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = time.Second
	}
}

func (o *Options) say(f string, a ...any) {
	if o.Log != nil {
		o.Log(fmt.Sprintf(f, a...))
	}
}

// BackupFile writes a backup of c's Redis to path: into path.partial-<pid> in the same
// directory, fsynced, then renamed (and the directory fsynced), so that path is either the
// previous file or a complete backup.
func BackupFile(ctx context.Context, c *redisstate.Client, path string, opt Options) (*Result, error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".partial-")
	if err != nil {
		return nil, fmt.Errorf("cannot write the backup into %s: %v", dir, pathlessErr(err))
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	res, err := Backup(ctx, c, tmp, opt)
	if err != nil {
		return nil, err
	}
	defer func() {
		if !ok {
			_ = res.Hold.Release()
		}
	}()
	if err := tmp.Sync(); err != nil {
		return nil, fmt.Errorf("cannot write the backup: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("cannot write the backup: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, fmt.Errorf("cannot write the backup: %w", err)
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	res.Path = path
	return res, nil
}

type countingWriter struct {
	w io.Writer
	n atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// Backup takes the durable cut (CLIENT PAUSE WRITE + SAVE), fingerprints every database
// that holds keys, and streams every key (DUMP payload + absolute expire time) of every
// database into w; writes resume as soon as the keys are read.
func Backup(ctx context.Context, c *redisstate.Client, w io.Writer, opt Options) (*Result, error) {
	opt.defaults()
	if opt.KeepPaused || opt.Paused {
		return backupPaused(ctx, c, w, opt)
	}
	res, err := backupReplica(ctx, c, w, opt)
	var ns errNotStarted
	if err == nil || !errors.As(err, &ns) {
		return res, err
	}
	why := ns.err.Error()
	opt.say("Falling back to pausing writes: %s", why)
	res, err = backupPaused(ctx, c, w, opt)
	if res != nil {
		res.Fallback = why
	}
	return res, err
}

// backupPaused is the paused method: CLIENT PAUSE WRITE + SAVE, fingerprint, SCAN.
func backupPaused(ctx context.Context, c *redisstate.Client, w io.Writer, opt Options) (res *Result, err error) {
	cw := &countingWriter{w: w}
	si, err := c.ServerInfo(ctx)
	if err != nil {
		return nil, err
	}
	opt.say("Pausing writes (CLIENT PAUSE %s WRITE, renewed until the keys are read) and saving", opt.Pause)
	cut, err := redisstate.Cut(ctx, c, redisstate.CutOptions{Pause: opt.Pause, Progress: func(s string) { opt.say("  %s", s) }})
	if err != nil {
		return nil, err
	}
	keeper := keepPaused(cut, opt.Pause)
	released := false
	release := func() (time.Duration, error) {
		keeper.stop()
		err := cut.Release(context.Background())
		released = true
		return time.Since(cut.Info.PausedAt), err
	}
	defer func() {
		if !released {
			if _, rerr := release(); rerr != nil && err == nil {
				err = rerr
			}
		}
	}()
	opt.say("Saved: %s in %s (run_id %s, %s)", cut.Info.Method, cut.Info.SaveDuration.Round(time.Millisecond), short(cut.Info.RunID), cut.Info.Describe())

	ks, err := c.Info(ctx, "keyspace")
	if err != nil {
		return nil, err
	}
	dbs := parseKeyspace(ks)
	hdr := Header{FormatVersion: FormatVersion, CreatedAt: time.Now().UTC(), Service: opt.Service,
		SpecVersion: opt.SpecVersion, SourceAddr: c.Addr(), RedisVersion: si.Version, RunID: cut.Info.RunID,
		Cut: cut.Info, Generator: opt.Generator, TTLSource: redisstate.TTLPExpireTime, Databases: []DatabaseHeader{}}
	if !si.AtLeast(7, 0) {
		hdr.TTLSource = redisstate.TTLPTTL
	}

	tmp, err := os.MkdirTemp(opt.TempDir, "docker-stateful-backup-")
	if err != nil {
		return nil, fmt.Errorf("cannot create a temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	st, err := redisstate.OpenStore(tmp)
	if err != nil {
		return nil, err
	}
	dbNums := make([]int, len(dbs))
	for i, d := range dbs {
		dbNums[i] = d.DB
	}
	fpStart := time.Now()
	var fpKeys int64
	fps, err := fingerprint(ctx, c, st, dbNums, opt.Service, &cut.Info, redisstate.FingerprintOptions{})
	if err != nil {
		return nil, err
	}
	fpTime := time.Since(fpStart)
	for i := range dbs {
		s := fps[dbs[i].DB].Summary
		dbs[i].Fingerprint = FingerprintRef{SnapshotID: s.ID, Keys: s.Keys, Digest: s.Digest.String()}
		fpKeys += s.Keys
	}
	hdr.Databases = dbs
	opt.say("Fingerprinted %d keys in %d database(s) in %s", fpKeys, len(dbs), fpTime.Round(time.Millisecond))

	if hdr.RDBVersion, err = probeRDBVersion(ctx, c, dbs, si.Version); err != nil {
		return nil, err
	}
	bw, err := newBodyWriter(cw)
	if err != nil {
		return nil, fmt.Errorf("cannot write the backup: %w", err)
	}
	if err := bw.jsonSection(tagHeader, &hdr); err != nil {
		return nil, fmt.Errorf("cannot write the backup: %w", err)
	}

	readStart := time.Now()
	tr := Trailer{Databases: []DatabaseCount{}}
	var keys atomic.Int64
	stopProgress := startProgress(opt, "backup", readStart, &keys, &cw.n)
	for _, d := range dbs {
		n, err := dumpDB(ctx, c, bw, d, hdr, opt, &keys)
		if err != nil {
			stopProgress(false)
			return nil, err
		}
		tr.Databases = append(tr.Databases, DatabaseCount{DB: d.DB, Records: n})
		tr.Records += n
	}
	readTime := time.Since(readStart)
	// The pause must have held for the whole read: no change since the SAVE.
	p, err := c.Info(ctx, "persistence")
	if err != nil {
		stopProgress(false)
		return nil, err
	}
	if ch := p["rdb_changes_since_last_save"]; ch != "0" {
		stopProgress(false)
		return nil, fmt.Errorf("writes happened while the keys were read (rdb_changes_since_last_save:%s): the pause did not hold; nothing was kept", ch)
	}
	var hold *Hold
	var pause time.Duration
	if opt.KeepPaused {
		released, hold, pause = true, &Hold{cut: cut, keeper: keeper}, time.Since(cut.Info.PausedAt)
		stopProgress(true)
		opt.say("Read every key in %s; writes stay paused", readTime.Round(time.Millisecond))
	} else {
		var rerr error
		pause, rerr = release()
		stopProgress(true)
		if rerr != nil {
			opt.say("warning: %v", rerr)
		}
		opt.say("Writes resumed after %s (paused during save, fingerprint and read)", pause.Round(time.Millisecond))
	}
	tr.ReadMs, tr.PauseMs = readTime.Milliseconds(), pause.Milliseconds()
	// The fingerprint's files (summary and manifest, for a full report on restore) are
	// copied after the writes resumed: they are on local disk, not in Redis.
	for _, d := range dbs {
		if err := writeFingerprint(bw, d.DB, fps[d.DB].Dir); err != nil {
			_ = hold.Release()
			return nil, fmt.Errorf("cannot write the backup: %w", err)
		}
	}
	if err := bw.finish(&tr); err != nil {
		_ = hold.Release()
		return nil, fmt.Errorf("cannot write the backup: %w", err)
	}
	return &Result{Hold: hold, Header: hdr, Records: tr.Records, Databases: tr.Databases, FileBytes: cw.n.Load(),
		WritePause: pause, WritePauseMs: pause.Milliseconds(), FingerprintMs: fpTime.Milliseconds(),
		ReadMs: readTime.Milliseconds(), Method: MethodPause}, nil
}

// keeper renews the pause until stopped.
type keeper struct {
	done chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

func keepPaused(h *redisstate.CutHandle, pause time.Duration) *keeper {
	k := &keeper{done: make(chan struct{})}
	every := pause / 3
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-k.done:
				return
			case <-t.C:
				// A failed renewal is caught by the rdb_changes_since_last_save check.
				ctx, cancel := context.WithTimeout(context.Background(), every)
				_ = h.Extend(ctx, pause)
				cancel()
			}
		}
	}()
	return k
}

func (k *keeper) stop() {
	k.once.Do(func() { close(k.done) })
	k.wg.Wait()
}

// startProgress calls opt.Progress every ProgressEvery until the returned function is called.
func startProgress(opt Options, phase string, start time.Time, keys, bytes *atomic.Int64) func(done bool) {
	if opt.Progress == nil {
		return func(bool) {}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	report := func(done bool) {
		el := time.Since(start)
		n := keys.Load()
		opt.Progress(Progress{Phase: phase, Keys: n, Bytes: bytes.Load(), Elapsed: el, KeysPerSec: float64(n) / el.Seconds(), Done: done})
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(opt.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				report(false)
			}
		}
	}()
	var once sync.Once
	return func(done bool) {
		once.Do(func() {
			close(stop)
			wg.Wait()
			if done {
				report(true)
			}
		})
	}
}

// parseKeyspace reads INFO keyspace ("db3:keys=10,expires=2,avg_ttl=0"), sorted by db.
func parseKeyspace(m map[string]string) []DatabaseHeader {
	var out []DatabaseHeader
	for k, v := range m {
		if !strings.HasPrefix(k, "db") {
			continue
		}
		db, err := strconv.Atoi(k[2:])
		if err != nil {
			continue
		}
		d := DatabaseHeader{DB: db}
		for _, f := range strings.Split(v, ",") {
			name, val, _ := strings.Cut(f, "=")
			n, _ := strconv.ParseInt(val, 10, 64)
			switch name {
			case "keys":
				d.Keys = n
			case "expires":
				d.Expires = n
			}
		}
		if d.Keys > 0 {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].DB < out[j].DB })
	return out
}

// probeRDBVersion reads the RDB version of this server's DUMP payloads from the footer of
// one key's DUMP; with no key, from the version table.
func probeRDBVersion(ctx context.Context, c *redisstate.Client, dbs []DatabaseHeader, version string) (int, error) {
	for _, d := range dbs {
		dc, err := dbClient(c, d.DB)
		if err != nil {
			return 0, err
		}
		rdb := dc.Redis()
		for i := 0; i < 5; i++ {
			k, err := rdb.RandomKey(ctx).Result()
			if err != nil {
				break
			}
			p, err := rdb.Dump(ctx, k).Bytes()
			if err == nil {
				dc.Close()
				return payloadRDBVersion([]byte(p)), nil
			}
		}
		dc.Close()
	}
	if v := RDBVersionOf(version); v > 0 {
		return v, nil
	}
	return 0, fmt.Errorf("cannot tell the RDB version of Redis %s", version)
}

// RDBVersionOf is the RDB version of the DUMP payloads of a Redis version (0 if unknown:
// newer than this table). Sources: RDB_VERSION in src/rdb.h of each release.
func RDBVersionOf(version string) int {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return 0
	}
	ma, _ := strconv.Atoi(parts[0])
	mi, _ := strconv.Atoi(parts[1])
	v := ma*100 + mi
	switch {
	case v >= 802:
		return 0 // unknown: decided by RESTORE
	case v >= 704:
		return 12 // 7.4, 8.0
	case v >= 702:
		return 11
	case v >= 700:
		return 10
	case v >= 500:
		return 9
	case v >= 400:
		return 8
	default:
		return 7
	}
}

// dumpDB writes database d's section and every key of it; returns the records written.
func dumpDB(ctx context.Context, c *redisstate.Client, bw *bodyWriter, d DatabaseHeader, hdr Header, opt Options, total *atomic.Int64) (int64, error) {
	dc, err := dbClient(c, d.DB)
	if err != nil {
		return 0, err
	}
	defer dc.Close()
	rdb := dc.Redis()
	if err := bw.section(tagDatabase, appendUvarint(nil, uint64(d.DB))); err != nil {
		return 0, fmt.Errorf("cannot write the backup: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		errOnce  sync.Once
		firstErr error
	)
	fail := func(err error) { errOnce.Do(func() { firstErr = err; cancel() }) }

	mode := "" // no TTL in this database: PEXPIRETIME is not sent at all
	var nowMs int64
	localStart := time.Now()
	if d.Expires > 0 {
		mode = hdr.TTLSource
		if mode == redisstate.TTLPTTL {
			t, err := rdb.Time(ctx).Result()
			if err != nil {
				t = time.Now()
			}
			nowMs = t.UnixMilli()
		}
	}

	batches := make(chan []string, 2*opt.Workers)
	go func() {
		defer close(batches)
		var cursor uint64
		for {
			keys, next, err := rdb.Scan(ctx, cursor, "", int64(opt.Count)).Result()
			if err != nil {
				fail(fmt.Errorf("SCAN of database %d: %w", d.DB, err))
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

	// Workers encode records into buffers; one writer goroutine owns the stream. A fixed
	// set of buffers bounds memory.
	type out struct {
		buf []byte
		n   int64
	}
	nbuf := 2*opt.Workers + 2
	free := make(chan []byte, nbuf)
	for i := 0; i < nbuf; i++ {
		free <- make([]byte, 0, 64<<10)
	}
	toWrite := make(chan out, nbuf)
	var written int64
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		var werr error
		for o := range toWrite {
			if werr == nil {
				if _, werr = bw.Write(o.buf); werr != nil {
					fail(fmt.Errorf("cannot write the backup: %w", werr))
				} else {
					written += o.n
					total.Add(o.n)
				}
			}
			if cap(o.buf) > 4<<20 {
				o.buf = make([]byte, 0, 64<<10) // do not keep a buffer grown by one huge value
			}
			free <- o.buf[:0]
		}
	}()

	var wg sync.WaitGroup
	for i := 0; i < opt.Workers; i++ {
		w := &dumpWorker{rdb: rdb, pipe: rdb.Pipeline(), db: d.DB, mode: mode, rdbVersion: hdr.RDBVersion,
			nowMs: nowMs, localStart: localStart}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for keys := range batches {
				if ctx.Err() != nil {
					continue // drain
				}
				buf := <-free
				buf, n, err := w.batch(ctx, keys, buf)
				if err != nil {
					fail(err)
					free <- buf[:0]
					continue
				}
				toWrite <- out{buf, n}
			}
		}()
	}
	wg.Wait()
	close(toWrite)
	<-writerDone
	if firstErr != nil {
		return 0, firstErr
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return written, nil
}

func appendUvarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

type dumpWorker struct {
	rdb        *redis.Client
	pipe       redis.Pipeliner
	db         int
	mode       string
	rdbVersion int
	nowMs      int64
	localStart time.Time

	ttls    []*redis.DurationCmd
	dumps   []*redis.StringCmd
	slow    []int
	payload []byte
	// dumpAll: most keys of the last page were not strings, so this page goes straight
	// to DUMP (an MGET answering nil for most keys would only cost a round trip).
	dumpAll bool
}

// batch reads one SCAN page: one MGET for the strings (their payload is built here, far
// cheaper for the server than DUMP), PEXPIRETIME per key when the database has TTLs, then
// DUMP for the keys MGET answered nil for (other types).
func (w *dumpWorker) batch(ctx context.Context, keys []string, buf []byte) ([]byte, int64, error) {
	ctx = context.WithoutCancel(ctx) // finish a pipeline once sent; cancellation is checked between batches
	w.ttls, w.slow, w.dumps = w.ttls[:0], w.slow[:0], w.dumps[:0]
	var mget *redis.SliceCmd
	if w.dumpAll {
		for _, k := range keys {
			w.dumps = append(w.dumps, w.pipe.Dump(ctx, k))
		}
	} else {
		mget = w.pipe.MGet(ctx, keys...)
	}
	for _, k := range keys {
		switch w.mode {
		case redisstate.TTLPExpireTime:
			w.ttls = append(w.ttls, w.pipe.PExpireTime(ctx, k))
		case redisstate.TTLPTTL:
			w.ttls = append(w.ttls, w.pipe.PTTL(ctx, k))
		}
	}
	if _, err := w.pipe.Exec(ctx); err != nil && !isRedisError(err) && err != redis.Nil {
		return buf, 0, fmt.Errorf("reading keys of database %d: %w", w.db, err)
	}
	if w.dumpAll {
		for i := range keys {
			w.slow = append(w.slow, i)
		}
		buf, n, strs, err := w.appendDumps(keys, buf)
		w.dumpAll = strs*2 < n
		return buf, n, err
	}
	vals, err := mget.Result()
	if err != nil {
		return buf, 0, fmt.Errorf("MGET in database %d: %w", w.db, err)
	}
	var n int64
	for i, k := range keys {
		v, ok := vals[i].(string)
		if !ok {
			w.slow = append(w.slow, i)
			continue
		}
		exp, gone := w.expireOf(i)
		if gone {
			continue
		}
		w.payload = stringPayload(w.payload[:0], v, w.rdbVersion)
		buf = appendKey(buf, k, w.payload, exp)
		n++
	}
	w.dumpAll = len(w.slow)*2 > len(keys)
	if len(w.slow) == 0 {
		return buf, n, nil
	}
	for _, i := range w.slow {
		w.dumps = append(w.dumps, w.pipe.Dump(ctx, keys[i]))
	}
	if _, err := w.pipe.Exec(ctx); err != nil && !isRedisError(err) && err != redis.Nil {
		return buf, n, fmt.Errorf("DUMP in database %d: %w", w.db, err)
	}
	buf, m, _, err := w.appendDumps(keys, buf)
	return buf, n + m, err
}

// appendDumps appends the records of the keys w.slow names, whose DUMP replies are w.dumps;
// it also counts the string payloads among them.
func (w *dumpWorker) appendDumps(keys []string, buf []byte) ([]byte, int64, int64, error) {
	var n, strs int64
	for j, i := range w.slow {
		p, err := w.dumps[j].Bytes()
		if err == redis.Nil {
			continue // gone (a key whose TTL passed during the pause reads as missing)
		}
		if err != nil {
			return buf, n, strs, fmt.Errorf("DUMP %s in database %d: %w", redisstate.QuoteKey(keys[i]), w.db, err)
		}
		if v := payloadRDBVersion(p); v != w.rdbVersion {
			return buf, n, strs, fmt.Errorf("DUMP %s in database %d: RDB version %d, other payloads have %d", redisstate.QuoteKey(keys[i]), w.db, v, w.rdbVersion)
		}
		exp, gone := w.expireOf(i)
		if gone {
			continue
		}
		if p[0] == 0 { // RDB_TYPE_STRING
			strs++
		}
		buf = appendKey(buf, keys[i], p, exp)
		n++
	}
	return buf, n, strs, nil
}

// expireOf is key i's absolute expire time (-1 none); gone when the key no longer exists.
func (w *dumpWorker) expireOf(i int) (int64, bool) {
	if w.mode == "" {
		return -1, false
	}
	d, err := w.ttls[i].Result()
	if err != nil {
		return -1, false
	}
	switch {
	case d == -2:
		return 0, true
	case d < 0:
		return -1, false
	}
	ms := int64(d / time.Millisecond)
	if w.mode == redisstate.TTLPTTL {
		return w.nowMs + time.Since(w.localStart).Milliseconds() + ms, false
	}
	return ms, false
}

func isRedisError(err error) bool {
	var re redis.Error
	return errors.As(err, &re)
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
