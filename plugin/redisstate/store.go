package redisstate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/cespare/xxhash/v2"

	"github.com/docker-stateful/docker-stateful/plugin/snapstore"
)

// Store keeps Redis snapshots (manifest + summary.json) under <StateDir>/snapshots/<id>/.
type Store = snapstore.Store[Summary, *Summary]

// Snapshot is a stored (or being written) fingerprint.
type Snapshot = snapstore.Snapshot[Summary]

// DamagedError says which snapshot is damaged and how.
type DamagedError = snapstore.DamagedError

var (
	// ErrNotFound is returned by Load and Latest.
	ErrNotFound = snapstore.ErrNotFound
	// ErrDamaged matches (errors.Is) every error about a snapshot that is truncated, edited
	// or unreadable: the check could not be made (exit status 2), it is not a verdict.
	ErrDamaged = snapstore.ErrDamaged
	// DefaultStateDir is $XDG_STATE_HOME/docker-stateful, or ~/.local/state/docker-stateful.
	DefaultStateDir = snapstore.DefaultStateDir
	// NewID returns a short, sortable id: 20261125T121500-ab12cd (UTC).
	NewID = snapstore.NewID
)

// OpenStore opens (creating) the store; stateDir "" = DefaultStateDir().
func OpenStore(stateDir string) (*Store, error) { return snapstore.Open[Summary](stateDir) }

// LoadSnapshotDir loads a snapshot from any directory (summary.json + shards/).
func LoadSnapshotDir(dir string) (*Snapshot, error) { return snapstore.LoadDir[Summary](dir) }

// Stamp, Seal, Check and Meta make Summary the summary of a snapstore.Store.

func (s *Summary) Stamp(id, service string) {
	s.ID = id
	if service != "" {
		s.Service = service
	}
}

// Seal fsyncs the manifest and records each shard file's checksum, then the summary's.
func (s *Summary) Seal(dir string) error {
	if err := syncManifest(dir); err != nil {
		return err
	}
	s.Files = make([]FileSum, NumShards)
	for i := range s.Files {
		fs, err := fileSum(shardPath(dir, i))
		if err != nil {
			return err
		}
		s.Files[i] = fs
	}
	var err error
	s.Checksum, err = summaryChecksum(s)
	return err
}

// Check refuses another engine's snapshot and one whose summary is damaged.
func (s *Summary) Check(dir string) error {
	if s.Engine != "" {
		return fmt.Errorf("%w (%s), not a Redis one", snapstore.ErrOtherEngine, s.Engine)
	}
	if len(s.Shards) != NumShards {
		return fmt.Errorf("summary has %d shards, want %d", len(s.Shards), NumShards)
	}
	return checkSummary(dir, s)
}

func (s *Summary) Meta() snapstore.Meta {
	return snapstore.Meta{ID: s.ID, Service: s.Service, CreatedAt: s.CreatedAt, Cut: s.Cut != nil}
}

// summaryChecksum is xxhash64 of the summary's JSON with Checksum zero: a summary edited
// or cut short after it was written (digest, counts, run id) does not load.
func summaryChecksum(sum *Summary) (Hex64, error) {
	c := *sum
	c.Checksum = 0
	b, err := json.Marshal(&c)
	if err != nil {
		return 0, err
	}
	return Hex64(xxhash.Sum64(b)), nil
}

// checkSummary checks a loaded summary: its format, its checksum, its counts adding up
// and every shard file's size. Shard contents are checked against Files when they are
// read. Snapshots of before format 2 carry no checksum and are refused.
func checkSummary(dir string, sum *Summary) error {
	var keys int64
	var digest Hex64
	for _, s := range sum.Shards {
		if s.Keys < 0 {
			return errors.New("a shard has a negative key count")
		}
		keys += s.Keys
		digest += s.Sum
	}
	if keys != sum.Keys || digest != sum.Digest {
		return errors.New("the shard sums do not add up to the digest")
	}
	if sum.Format < ManifestFormat {
		return errors.New("it was written by an older docker stateful, without a checksum, and covers database 0 only: take a new snapshot")
	}
	if sum.Format > ManifestFormat {
		return fmt.Errorf("format %d is newer than this docker stateful (%d): upgrade it", sum.Format, ManifestFormat)
	}
	want, err := summaryChecksum(sum)
	if err != nil {
		return err
	}
	if sum.Checksum != want {
		return errors.New("summary.json does not match its checksum")
	}
	if len(sum.Files) != NumShards {
		return fmt.Errorf("summary lists %d shard files, want %d", len(sum.Files), NumShards)
	}
	for i, f := range sum.Files {
		fi, err := os.Stat(shardPath(dir, i))
		if err != nil {
			return fmt.Errorf("shard %02x: %w", i, err)
		}
		if fi.Size() != f.Bytes {
			return fmt.Errorf("shard %02x: %d bytes, %d when it was written", i, fi.Size(), f.Bytes)
		}
	}
	return nil
}

// TakeSnapshot fingerprints the dataset into a new snapshot of the store and commits it
// (cut may be nil, e.g. for the after-update scan). On error nothing is left behind.
func TakeSnapshot(ctx context.Context, c *Client, st *Store, service string, cut *CutInfo, opt FingerprintOptions) (*Snapshot, error) {
	return st.Take(service, func(dir string) (*Summary, error) {
		sum, err := Fingerprint(ctx, c, dir, opt)
		if err == nil {
			sum.Cut = cut
		}
		return sum, err
	})
}

// TakeSnapshotAtCut fingerprints the dataset that h holds paused while the save BeginCut
// started runs (writes are paused, so the save and the scan read the same data), waits
// for both (Saved checks the save), and commits the snapshot with the cut's info. A save
// that fails ends the scan early and is the error returned; on any error writes have been
// unpaused or are left to the caller's Release.
func TakeSnapshotAtCut(ctx context.Context, c *Client, st *Store, service string, h *CutHandle, opt FingerprintOptions) (*Snapshot, error) {
	return st.Take(service, func(dir string) (*Summary, error) {
		fctx, stopScan := context.WithCancel(ctx)
		defer stopScan()
		saved := make(chan error, 1)
		go func() {
			err := h.Saved(ctx)
			if err != nil {
				stopScan() // no snapshot without the save: stop reading
			}
			saved <- err
		}()
		sum, err := Fingerprint(fctx, c, dir, opt)
		if err != nil {
			err = fmt.Errorf("fingerprint: %w", err)
		}
		// the save is waited for even when the scan failed (it ends by itself, and its
		// error explains a scan it cancelled)
		if serr := <-saved; serr != nil && (err == nil || fctx.Err() != nil && ctx.Err() == nil) {
			err = serr
		}
		if err != nil {
			return nil, err
		}
		info := h.Info
		sum.Cut = &info
		return sum, nil
	})
}

// VerifyAgainst takes a new snapshot of the running dataset and compares it with before.
// The new scan covers what before covers: every database that holds keys now, or
// before's one database when it was taken with OnlyDB.
func VerifyAgainst(ctx context.Context, c *Client, st *Store, before *Snapshot, fopt FingerprintOptions, copt CompareOptions) (*Report, *Snapshot, error) {
	b := before.Summary
	single := b.OnlyDB
	switch {
	case single && c.opt.OnlyDB && c.opt.DB != b.DB:
		return nil, nil, fmt.Errorf("snapshot %s is of database %d, not %d", b.ID, b.DB, c.opt.DB)
	case single:
		fopt.DBs = []int{b.DB}
	case c.opt.OnlyDB:
		return nil, nil, fmt.Errorf("snapshot %s covers every database: check every database (no /N or ?db= in --redis-url)", b.ID)
	}
	after, err := TakeSnapshot(ctx, c, st, before.Summary.Service, nil, fopt)
	if err != nil {
		return nil, nil, err
	}
	rep, err := Compare(before, after, copt)
	return rep, after, err
}
