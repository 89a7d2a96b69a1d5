package redisstate

import (
	"fmt"
	"sort"
	"time"
)

// Difference classes.
const (
	ClassMissing    = "MISSING"     // in the cut, gone after (and not explained by its TTL): fails
	ClassNew        = "NEW"         // not in the cut (e.g. written after it): fine
	ClassChanged    = "CHANGED"     // value or type differs: fails
	ClassTTLChanged = "TTL-CHANGED" // same value, different expire time: reported, see StrictTTL
	ClassExpired    = "EXPIRED"     // had a TTL that passed before the after-scan: expected
)

// Classes in report order.
var Classes = []string{ClassMissing, ClassChanged, ClassTTLChanged, ClassNew, ClassExpired}

// CompareOptions tunes Compare.
type CompareOptions struct {
	MaxKeys int // keys listed per class, default 20 (counts are always complete)
	// MustExist keys (--verify-key) must be present after, whatever else happens.
	MustExist []string
	// StrictTTL makes TTL-CHANGED fail the verdict. Off by default: clients legitimately
	// refresh or drop TTLs (EXPIRE/PERSIST on sliding sessions) after the cut, and the value
	// itself is intact; the keys are still listed.
	StrictTTL bool
	// TTLTolerance applies when either side only has PTTL-based expire times (Redis < 7.0).
	// Default 1 s + the scan duration.
	TTLTolerance time.Duration
}

// KeyDiff is one differing key.
type KeyDiff struct {
	DB           int     `json:"db"`
	Key          string  `json:"key"`
	Class        string  `json:"class"`
	BeforeType   KeyType `json:"before_type,omitempty"`
	AfterType    KeyType `json:"after_type,omitempty"`
	BeforeExpire int64   `json:"before_expire_ms,omitempty"` // unix ms, -1 none
	AfterExpire  int64   `json:"after_expire_ms,omitempty"`
	Detail       string  `json:"detail,omitempty"`
}

// ClassReport holds the count and the first MaxKeys keys of one class.
type ClassReport struct {
	Count int64     `json:"count"`
	Keys  []KeyDiff `json:"keys"`
}

// KeyCheck is the result for one --verify-key.
type KeyCheck struct {
	Key     string  `json:"key"`
	Present bool    `json:"present"`
	Type    KeyType `json:"type,omitempty"`
}

// Report is the outcome of Compare. Verdict is "verified" or "failed".
type Report struct {
	Before          string                  `json:"before"` // snapshot ids
	After           string                  `json:"after"`
	BeforeRunID     string                  `json:"before_run_id"`
	AfterRunID      string                  `json:"after_run_id"`
	BeforeKeys      int64                   `json:"before_keys"`
	AfterKeys       int64                   `json:"after_keys"`
	Databases       []DBCompare             `json:"databases"` // keys per logical database, before and after
	OnlyDB          bool                    `json:"only_db"`   // the check covers database Databases[0].DB only
	DigestEqual     bool                    `json:"digest_equal"`
	DifferingShards []int                   `json:"differing_shards"`
	Classes         map[string]*ClassReport `json:"classes"`
	Unchanged       int64                   `json:"unchanged"` // keys of the cut found identical (in compared shards + equal shards)
	MustExist       []KeyCheck              `json:"must_exist,omitempty"`
	StrictTTL       bool                    `json:"strict_ttl"`
	Verdict         string                  `json:"verdict"`
	Reasons         []string                `json:"reasons,omitempty"`
	Elapsed         time.Duration           `json:"elapsed_ns"`
}

// DBCompare counts the keys of one logical database before and after.
type DBCompare struct {
	DB     int   `json:"db"`
	Before int64 `json:"before_keys"`
	After  int64 `json:"after_keys"`
}

// OK reports whether the verdict passed.
func (r *Report) OK() bool { return r.Verdict == "verified" }

// Count returns the number of keys in a class.
func (r *Report) Count(class string) int64 {
	if c := r.Classes[class]; c != nil {
		return c.Count
	}
	return 0
}

// Compare proves after against before. Equal digests and counts verify in O(1); otherwise
// only the shards whose sums or counts differ are loaded (as maps) and classified.
func Compare(before, after *Snapshot, opt CompareOptions) (*Report, error) {
	start := time.Now()
	if opt.MaxKeys <= 0 {
		opt.MaxKeys = 20
	}
	b, a := before.Summary, after.Summary
	if b == nil || a == nil {
		return nil, fmt.Errorf("snapshot without summary")
	}
	r := &Report{Before: b.ID, After: a.ID, BeforeRunID: b.RunID, AfterRunID: a.RunID,
		BeforeKeys: b.Keys, AfterKeys: a.Keys, StrictTTL: opt.StrictTTL,
		Classes: map[string]*ClassReport{}, DifferingShards: []int{}}
	for _, c := range Classes {
		r.Classes[c] = &ClassReport{Keys: []KeyDiff{}}
	}
	if !b.OnlyDB && a.OnlyDB {
		return nil, fmt.Errorf("snapshot %s covers every database but %s only database %d: check every database (no /N in --redis-url)", b.ID, a.ID, a.DB)
	}
	r.OnlyDB = b.OnlyDB
	r.Databases = compareDBs(b, a)
	exact := b.TTLExact() && a.TTLExact()
	comparable := b.TTLExact() == a.TTLExact()
	tol := opt.TTLTolerance
	if tol <= 0 {
		tol = time.Second + time.Duration(a.DurationMs+b.DurationMs)*time.Millisecond
	}
	r.DigestEqual = comparable && b.Digest == a.Digest && b.Keys == a.Keys
	if !r.DigestEqual {
		for i := 0; i < NumShards; i++ {
			if !comparable || b.Shards[i] != a.Shards[i] {
				r.DifferingShards = append(r.DifferingShards, i)
			}
		}
	}
	loaded := map[int]bool{}
	for _, sh := range r.DifferingShards {
		loaded[sh] = true
		bm, err := loadShard(before, sh)
		if err != nil {
			return nil, err
		}
		am, err := loadShard(after, sh)
		if err != nil {
			return nil, err
		}
		keys := make([]dbKey, 0, len(bm))
		for k := range bm {
			keys = append(keys, k)
		}
		sortKeys(keys)
		for _, k := range keys {
			br := bm[k]
			ar, ok := am[k]
			if !ok {
				// Expected when its expire time had passed by the end of the after-scan (a key
				// expiring while the scan runs may legitimately be gone).
				if br.ExpireAt > 0 && br.ExpireAt <= afterEnd(a)+tolIf(!exact, tol) {
					r.add(opt, KeyDiff{DB: k.db, Key: k.key, Class: ClassExpired, BeforeType: br.Type, BeforeExpire: br.ExpireAt,
						Detail: "expired at " + time.UnixMilli(br.ExpireAt).UTC().Format("2006-01-02T15:04:05.000Z")})
				} else {
					r.add(opt, KeyDiff{DB: k.db, Key: k.key, Class: ClassMissing, BeforeType: br.Type, BeforeExpire: br.ExpireAt})
				}
				continue
			}
			delete(am, k)
			switch {
			case br.Type != ar.Type:
				r.add(opt, KeyDiff{DB: k.db, Key: k.key, Class: ClassChanged, BeforeType: br.Type, AfterType: ar.Type,
					BeforeExpire: br.ExpireAt, AfterExpire: ar.ExpireAt, Detail: "type " + br.Type.String() + " → " + ar.Type.String()})
			case br.ValueHash != ar.ValueHash && br.ExpireAt > 0 && br.ExpireAt == ar.ExpireAt && br.ExpireAt <= afterEnd(a)+tolIf(!exact, tol):
				// Its time ran out while the after-scan read it in several
				// commands (a collection read page by page): what was read is
				// a part of a key that is gone, as expected.
				r.add(opt, KeyDiff{DB: k.db, Key: k.key, Class: ClassExpired, BeforeType: br.Type, BeforeExpire: br.ExpireAt,
					Detail: "expired at " + time.UnixMilli(br.ExpireAt).UTC().Format("2006-01-02T15:04:05.000Z") + ", while it was read"})
			case br.ValueHash != ar.ValueHash:
				r.add(opt, KeyDiff{DB: k.db, Key: k.key, Class: ClassChanged, BeforeType: br.Type, AfterType: ar.Type,
					BeforeExpire: br.ExpireAt, AfterExpire: ar.ExpireAt, Detail: "value"})
			case !ttlEqual(br.ExpireAt, ar.ExpireAt, exact, tol):
				r.add(opt, KeyDiff{DB: k.db, Key: k.key, Class: ClassTTLChanged, BeforeType: br.Type, AfterType: ar.Type,
					BeforeExpire: br.ExpireAt, AfterExpire: ar.ExpireAt, Detail: ttlDetail(br.ExpireAt, ar.ExpireAt)})
			default:
				r.Unchanged++
			}
		}
		keys = keys[:0]
		for k := range am {
			keys = append(keys, k)
		}
		sortKeys(keys)
		for _, k := range keys {
			ar := am[k]
			r.add(opt, KeyDiff{DB: k.db, Key: k.key, Class: ClassNew, AfterType: ar.Type, AfterExpire: ar.ExpireAt})
		}
	}
	for i := 0; i < NumShards; i++ {
		if !loaded[i] {
			r.Unchanged += b.Shards[i].Keys
		}
	}
	// --verify-key: explicit presence check in the after manifest.
	byShard := map[int][]string{}
	for _, k := range opt.MustExist {
		byShard[ShardOf(a.DB, k)] = append(byShard[ShardOf(a.DB, k)], k)
	}
	found := map[string]KeyType{}
	for sh, ks := range byShard {
		want := map[string]bool{}
		for _, k := range ks {
			want[k] = true
		}
		err := ReadShard(after, sh, func(rec Record) error {
			if rec.DB == a.DB && want[rec.Key] {
				found[rec.Key] = rec.Type
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	for _, k := range opt.MustExist {
		t, ok := found[k]
		r.MustExist = append(r.MustExist, KeyCheck{Key: k, Present: ok, Type: t})
		if !ok {
			r.Reasons = append(r.Reasons, fmt.Sprintf("required key %q is missing", k))
		}
	}
	if n := r.Count(ClassMissing); n > 0 {
		r.Reasons = append(r.Reasons, fmt.Sprintf("%d key(s) of the cut are missing", n))
	}
	if n := r.Count(ClassChanged); n > 0 {
		r.Reasons = append(r.Reasons, fmt.Sprintf("%d key(s) of the cut changed", n))
	}
	if n := r.Count(ClassTTLChanged); n > 0 && opt.StrictTTL {
		r.Reasons = append(r.Reasons, fmt.Sprintf("%d key(s) have a different TTL (strict TTL)", n))
	}
	r.Verdict = "verified"
	if len(r.Reasons) > 0 {
		r.Verdict = "failed"
	}
	r.Elapsed = time.Since(start)
	return r, nil
}

func afterEnd(a *Summary) int64 {
	if a.ScanEndMs > a.ScanStartMs {
		return a.ScanEndMs
	}
	return a.ScanStartMs
}

func tolIf(on bool, tol time.Duration) int64 {
	if on {
		return tol.Milliseconds()
	}
	return 0
}

func ttlEqual(b, a int64, exact bool, tol time.Duration) bool {
	if exact {
		return a == b
	}
	if (a > 0) != (b > 0) {
		return false
	}
	if a <= 0 {
		return true
	}
	d := a - b
	if d < 0 {
		d = -d
	}
	return d <= tol.Milliseconds()
}

func ttlDetail(b, a int64) string {
	f := func(v int64) string {
		if v <= 0 {
			return "none"
		}
		return time.UnixMilli(v).UTC().Format("2006-01-02T15:04:05.000Z")
	}
	return "expire " + f(b) + " → " + f(a)
}

// compareDBs lists every database of either snapshot with its key counts.
func compareDBs(b, a *Summary) []DBCompare {
	idx := map[int]*DBCompare{}
	var out []*DBCompare
	get := func(db int) *DBCompare {
		if d, ok := idx[db]; ok {
			return d
		}
		d := &DBCompare{DB: db}
		idx[db] = d
		out = append(out, d)
		return d
	}
	for _, d := range b.Databases {
		get(d.DB).Before = d.Keys
	}
	for _, d := range a.Databases {
		get(d.DB).After = d.Keys
	}
	res := make([]DBCompare, 0, len(out))
	for _, d := range out {
		res = append(res, *d)
	}
	sort.Slice(res, func(i, j int) bool { return res[i].DB < res[j].DB })
	return res
}

func sortKeys(keys []dbKey) {
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].db != keys[j].db {
			return keys[i].db < keys[j].db
		}
		return keys[i].key < keys[j].key
	})
}

func (r *Report) add(opt CompareOptions, d KeyDiff) {
	c := r.Classes[d.Class]
	c.Count++
	if len(c.Keys) < opt.MaxKeys {
		c.Keys = append(c.Keys, d)
	}
}
