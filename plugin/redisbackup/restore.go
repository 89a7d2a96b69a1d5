package redisbackup

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
)

// RestoreOptions tunes Restore.
type RestoreOptions struct {
	// Replace lets the restore run into a Redis that holds keys: keys of the file
	// overwrite keys of the same name (RESTORE ... REPLACE), other keys stay.
	Replace bool
	Workers int    // RESTORE pipelines, default 2
	TempDir string // for the fingerprints, "" = os.TempDir()
	MaxKeys int    // keys listed per class in reports, default 20
	// Stdin is read when the path is "-": it is copied to a temporary file first, since
	// the file is read twice (checked whole, then restored).
	Stdin         io.Reader
	Log           func(string)
	Progress      func(Progress)
	ProgressEvery time.Duration
}

func (o *RestoreOptions) say(f string, a ...any) {
	if o.Log != nil {
		o.Log(fmt.Sprintf(f, a...))
	}
}

// ExpiredKey is a key of the file whose absolute expire time had passed: not restored.
type ExpiredKey struct {
	DB       int    `json:"db"`
	Key      string `json:"key"`
	ExpireAt int64  `json:"expire_at_ms"`
}

// RestoreResult says what was restored and whether it matches the file's fingerprint.
type RestoreResult struct {
	Path         string          `json:"path"`
	Header       Header          `json:"header"`
	Restored     int64           `json:"restored"`
	Databases    []DatabaseCount `json:"databases"` // restored per database
	Expired      int64           `json:"expired"`
	ExpiredKeys  []ExpiredKey    `json:"expired_keys"` // the first MaxKeys
	RestoreMs    int64           `json:"restore_ms"`
	SaveMs       int64           `json:"save_ms"`
	Conversion   *Conversion     `json:"conversion,omitempty"` // keys written by type: the target reads an older RDB version
	Verification *Verification   `json:"verification"`
	Verdict      string          `json:"verdict"`
}

// OK reports whether the restored data verified against the file's fingerprint.
func (r *RestoreResult) OK() bool { return r.Verification != nil && r.Verification.OK() }

// RefusedError is a restore refused before anything was written (a target that holds
// keys, a payload newer than the target reads). One line.
type RefusedError struct{ Msg string }

func (e *RefusedError) Error() string { return e.Msg }

// Restore checks the whole file first (nothing is written to Redis when it is truncated,
// corrupt or foreign), refuses a target with keys (unless Replace) or one too old for the
// payloads, RESTOREs every key with its absolute expire time (keys already expired are
// skipped and reported), fingerprints the result and compares it with the file's
// fingerprint, and SAVEs.
func Restore(ctx context.Context, c *redisstate.Client, path string, opt RestoreOptions) (*RestoreResult, error) {
	if opt.Workers <= 0 {
		opt.Workers = 2
	}
	if opt.MaxKeys <= 0 {
		opt.MaxKeys = 20
	}
	if opt.ProgressEvery <= 0 {
		opt.ProgressEvery = time.Second
	}
	tmp, err := os.MkdirTemp(opt.TempDir, "docker-stateful-restore-")
	if err != nil {
		return nil, fmt.Errorf("cannot create a temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	name := path
	if path == "-" {
		name = "stdin"
		if path, err = spool(opt.Stdin, tmp); err != nil {
			return nil, err
		}
	}
	v, err := verifyFile(path, name, tmp)
	if err != nil {
		return nil, err
	}
	h := v.Header
	opt.say("Checked %s: %d keys in %d database(s) from %s (RDB %d), service %q, taken %s; checksums correct",
		name, v.Trailer.Records, len(h.Databases), h.Cut.Describe(), h.RDBVersion, h.Service, h.CreatedAt.Local().Format(time.DateTime))
	before, err := loadFingerprints(v)
	if err != nil {
		return nil, err
	}

	si, err := c.ServerInfo(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkTarget(ctx, c, v, opt.Replace); err != nil {
		return nil, err
	}
	pl, err := planRestore(ctx, c, si, v)
	if err != nil {
		return nil, err
	}
	if pl.convert {
		opt.say("%s at %s cannot load RDB %d payloads: every key is written by type instead (checked: every key can be)", si.Describe(), c.Addr(), h.RDBVersion)
	}

	res := &RestoreResult{Path: name, Header: h, Databases: []DatabaseCount{}, ExpiredKeys: []ExpiredKey{}}
	if err := restoreRecords(ctx, c, v, opt, pl, res); err != nil {
		if !opt.Replace { // the target held no keys: take back what was written
			err = undoRestore(ctx, c, v, err)
		}
		return nil, err
	}
	opt.say("Restored %d keys in %s; %d key(s) had expired since the backup and were skipped (EXPIRED)",
		res.Restored, time.Duration(res.RestoreMs)*time.Millisecond, res.Expired)
	if res.Conversion != nil {
		opt.say("%s", res.Conversion.Describe())
	}

	ver, err := verifyAgainst(ctx, c, before, h.Service, tmp, opt.MaxKeys)
	if err != nil {
		return nil, err
	}
	res.Verification, res.Verdict = ver, ver.Verdict

	t0 := time.Now()
	if err := c.Redis().Save(ctx).Err(); err != nil {
		return res, fmt.Errorf("SAVE after the restore failed (%v): the restored data is in memory but not on disk; check the Redis log", err)
	}
	res.SaveMs = time.Since(t0).Milliseconds()
	opt.say("Saved (SAVE) in %s", time.Since(t0).Round(time.Millisecond))
	return res, nil
}

// verifyAgainst fingerprints c's databases of before (into a store under tmp) and compares
// them with before.
func verifyAgainst(ctx context.Context, c *redisstate.Client, before map[int]*redisstate.Snapshot, service, tmp string, maxKeys int) (*Verification, error) {
	st, err := redisstate.OpenStore(tmp)
	if err != nil {
		return nil, err
	}
	dbs := make([]int, 0, len(before))
	for db := range before {
		dbs = append(dbs, db)
	}
	sort.Ints(dbs)
	after, err := fingerprint(ctx, c, st, dbs, service, nil, redisstate.FingerprintOptions{})
	if err != nil {
		return nil, err
	}
	return compare(before, after, redisstate.CompareOptions{MaxKeys: maxKeys})
}

// VerifyAgainst compares c's Redis, database by database, with the fingerprint of the cut
// in the backup file at path (checked whole first), writing nothing: what move checks after
// the service restarted on the restored data, and after a rollback.
func VerifyAgainst(ctx context.Context, c *redisstate.Client, path string, maxKeys int) (*Verification, error) {
	tmp, err := os.MkdirTemp("", "docker-stateful-verify-")
	if err != nil {
		return nil, fmt.Errorf("cannot create a temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	v, err := verifyFile(path, path, tmp)
	if err != nil {
		return nil, err
	}
	before, err := loadFingerprints(v)
	if err != nil {
		return nil, err
	}
	return verifyAgainst(ctx, c, before, v.Header.Service, filepath.Join(tmp, "after"), maxKeys)
}

// spool copies r (stdin) into a file of dir.
func spool(r io.Reader, dir string) (string, error) {
	if r == nil {
		return "", &FileError{"stdin", "no input"}
	}
	p := filepath.Join(dir, "stdin.dsbackup")
	f, err := os.Create(p)
	if err != nil {
		return "", err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("cannot copy stdin to %s: %w", dir, err)
	}
	return p, nil
}

// checkTarget refuses, before anything is written, a target that cannot take the file
// (the payloads are planRestore's).
func checkTarget(ctx context.Context, c *redisstate.Client, v *Verified, replace bool) error {
	h := v.Header
	ks, err := c.Info(ctx, "keyspace")
	if err != nil {
		return err
	}
	if dbs := parseKeyspace(ks); len(dbs) > 0 && !replace {
		parts := make([]string, len(dbs))
		for i, d := range dbs {
			parts[i] = fmt.Sprintf("db%d: %d keys", d.DB, d.Keys)
		}
		return &RefusedError{fmt.Sprintf("Redis at %s is not empty (%s): nothing was written; --replace restores anyway (keys of the backup overwrite keys of the same name, other keys stay)",
			c.Addr(), strings.Join(parts, ", "))}
	}
	if len(h.Databases) > 0 {
		maxDB := h.Databases[len(h.Databases)-1].DB
		if cfg, err := c.Redis().ConfigGet(ctx, "databases").Result(); err == nil {
			var n int
			if _, err := fmt.Sscan(cfg["databases"], &n); err == nil && maxDB >= n {
				return &RefusedError{fmt.Sprintf("the backup has keys in database %d; Redis at %s has %d databases (databases %d or more is needed; nothing was written)",
					maxDB, c.Addr(), n, maxDB+1)}
			}
		}
	}
	return nil
}

// undoRestore deletes the file's keys after a restore into an empty target (checked
// before the first write) stopped part-way (out of memory, the connection lost,
// interrupted): the target is left as it was, empty.
func undoRestore(ctx context.Context, c *redisstate.Client, v *Verified, cause error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	var removed int64
	clients := map[int]*redisstate.Client{}
	defer func() {
		for _, dc := range clients {
			dc.Close()
		}
	}()
	var keys []any
	db := -1
	flush := func() error {
		if len(keys) == 0 {
			return nil
		}
		dc := clients[db]
		if dc == nil {
			var err error
			if dc, err = dbClient(c, db); err != nil {
				return err
			}
			clients[db] = dc
		}
		n, err := dc.Redis().Do(ctx, append([]any{"DEL"}, keys...)...).Int64()
		removed += n
		keys = keys[:0]
		return err
	}
	err := readRecords(v.Path, v.Name, func(r Record) error {
		if r.DB != db {
			if err := flush(); err != nil {
				return err
			}
			db = r.DB
		}
		if keys = append(keys, r.Key); len(keys) >= 1000 {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return fmt.Errorf("%w; removing the keys written failed (%v): the target holds part of the backup, empty it (FLUSHALL) before restoring again", cause, err)
	}
	return fmt.Errorf("%w; the %d key(s) written were deleted again: the target is empty, as before", cause, removed)
}

// restoreBatch is up to batchKeys records of one database; payloads live in arena.
type restoreBatch struct {
	db    int
	keys  []string
	exps  []int64
	offs  []int
	arena []byte
}

const (
	batchKeys  = 1000
	batchBytes = 4 << 20
)

func restoreRecords(ctx context.Context, c *redisstate.Client, v *Verified, opt RestoreOptions, pl *restorePlan, res *RestoreResult) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		errOnce  sync.Once
		firstErr error
	)
	fail := func(err error) { errOnce.Do(func() { firstErr = err; cancel() }) }

	// Expiry is judged by the server's clock, as Redis does.
	t0, err := c.Redis().Time(ctx).Result()
	if err != nil {
		t0 = time.Now()
	}
	localStart := time.Now()
	serverNow := func() int64 { return t0.UnixMilli() + time.Since(localStart).Milliseconds() }

	clients := map[int]*redisstate.Client{}
	defer func() {
		for _, dc := range clients {
			dc.Close()
		}
	}()
	for _, d := range v.Header.Databases {
		dc, err := dbClient(c, d.DB)
		if err != nil {
			return err
		}
		clients[d.DB] = dc
	}

	nbuf := 2*opt.Workers + 2
	free := make(chan *restoreBatch, nbuf)
	for i := 0; i < nbuf; i++ {
		free <- &restoreBatch{arena: make([]byte, 0, 256<<10)}
	}
	work := make(chan *restoreBatch, nbuf)
	var restored atomic.Int64
	var payloadBytes atomic.Int64 // progress shows payload bytes restored
	perDB := make([]map[int]int64, opt.Workers)
	perType := make([]map[string]int64, opt.Workers)
	var wg sync.WaitGroup
	for i := 0; i < opt.Workers; i++ {
		perDB[i], perType[i] = map[int]int64{}, map[string]int64{}
		counts, types := perDB[i], perType[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			pipes := map[int]redis.Pipeliner{}
			var cmds []*redis.Cmd
			for b := range work {
				if ctx.Err() == nil {
					dc := clients[b.db]
					if dc == nil {
						fail(fmt.Errorf("database %d is not in the backup's header", b.db))
					} else {
						pipe := pipes[b.db]
						if pipe == nil {
							pipe = dc.Redis().Pipeline()
							pipes[b.db] = pipe
						}
						var err error
						if pl.convert {
							cmds, err = convertOne(ctx, pipe, b, opt.Replace, pl.toRDB, types, cmds)
						} else {
							cmds, err = restoreOne(ctx, pipe, b, opt.Replace, v.Header, dc, cmds)
						}
						if err != nil {
							fail(err)
						} else {
							restored.Add(int64(len(b.keys)))
							payloadBytes.Add(int64(len(b.arena)))
							counts[b.db] += int64(len(b.keys))
						}
					}
				}
				b.keys, b.exps, b.offs, b.arena = b.keys[:0], b.exps[:0], b.offs[:0], b.arena[:0]
				if cap(b.arena) > 2*batchBytes {
					b.arena = make([]byte, 0, 256<<10)
				}
				free <- b
			}
		}()
	}

	start := time.Now()
	stopProgress := startProgress(Options{Progress: opt.Progress, ProgressEvery: opt.ProgressEvery}, "restore", start, &restored, &payloadBytes)
	var cur *restoreBatch
	flush := func() {
		if cur != nil && len(cur.keys) > 0 {
			work <- cur
			cur = nil
		}
	}
	rerr := readRecords(v.Path, v.Name, func(r Record) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if r.ExpireAt > 0 && r.ExpireAt <= serverNow() {
			res.Expired++
			if len(res.ExpiredKeys) < opt.MaxKeys {
				res.ExpiredKeys = append(res.ExpiredKeys, ExpiredKey{DB: r.DB, Key: r.Key, ExpireAt: r.ExpireAt})
			}
			return nil
		}
		if cur != nil && cur.db != r.DB {
			flush()
		}
		if cur == nil {
			cur = <-free
			cur.db = r.DB
		}
		cur.keys = append(cur.keys, r.Key)
		cur.exps = append(cur.exps, r.ExpireAt)
		cur.offs = append(cur.offs, len(cur.arena))
		cur.arena = append(cur.arena, r.Payload...)
		if len(cur.keys) >= batchKeys || len(cur.arena) >= batchBytes {
			flush()
		}
		return nil
	})
	if rerr == nil {
		flush()
	}
	close(work)
	wg.Wait()
	stopProgress(rerr == nil && firstErr == nil)
	if firstErr != nil {
		return firstErr
	}
	if rerr != nil {
		return fmt.Errorf("restore stopped after %d keys: %w", restored.Load(), rerr)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	res.Restored = restored.Load()
	res.RestoreMs = time.Since(start).Milliseconds()
	merged := map[int]int64{}
	for _, m := range perDB {
		for db, n := range m {
			merged[db] += n
		}
	}
	for _, d := range v.Header.Databases {
		res.Databases = append(res.Databases, DatabaseCount{DB: d.DB, Records: merged[d.DB]})
	}
	if pl.convert {
		cv := &Conversion{FromRDB: v.Header.RDBVersion, ToRDB: pl.toRDB, Target: pl.target, Keys: res.Restored, Types: map[string]int64{}}
		for _, m := range perType {
			for t, n := range m {
				cv.Types[t] += n
			}
		}
		res.Conversion = cv
	}
	return nil
}

// restoreOne sends one batch as a pipeline of RESTORE key ttl payload ABSTTL [REPLACE].
func restoreOne(ctx context.Context, pipe redis.Pipeliner, b *restoreBatch, replace bool, h Header, dc *redisstate.Client, cmds []*redis.Cmd) ([]*redis.Cmd, error) {
	ctx = context.WithoutCancel(ctx)
	cmds = cmds[:0]
	for i, k := range b.keys {
		end := len(b.arena)
		if i+1 < len(b.offs) {
			end = b.offs[i+1]
		}
		ttl := b.exps[i]
		if ttl < 0 {
			ttl = 0
		}
		args := []any{"RESTORE", k, ttl, b.arena[b.offs[i]:end], "ABSTTL"}
		if replace {
			args = append(args, "REPLACE")
		}
		cmds = append(cmds, pipe.Do(ctx, args...))
	}
	if _, err := pipe.Exec(ctx); err != nil && !isRedisError(err) {
		return cmds, fmt.Errorf("RESTORE into database %d: %w", b.db, err)
	}
	for i, cmd := range cmds {
		err := cmd.Err()
		if err == nil {
			continue
		}
		msg := err.Error()
		switch {
		case strings.Contains(msg, "payload version or checksum"):
			return cmds, &RefusedError{fmt.Sprintf("Redis at %s cannot load the backup's payloads (RDB %d from %s): %s; restore into %s or newer",
				dc.Addr(), h.RDBVersion, h.Cut.Describe(), msg, h.Cut.Describe())}
		case strings.HasPrefix(msg, "BUSYKEY"):
			return cmds, fmt.Errorf("key %s of database %d already exists (written while the restore ran?): %s", redisstate.QuoteKey(b.keys[i]), b.db, msg)
		default:
			return cmds, fmt.Errorf("RESTORE %s into database %d: %w", redisstate.QuoteKey(b.keys[i]), b.db, err)
		}
	}
	return cmds, nil
}
