package redisstate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
)

// Store keeps snapshots (manifest + summary.json) under <StateDir>/snapshots/<id>/.
type Store struct {
	StateDir string
}

// DefaultStateDir is $XDG_STATE_HOME/docker-stateful, or ~/.local/state/docker-stateful.
func DefaultStateDir() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "docker-stateful"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot find a state directory (set XDG_STATE_HOME or --state-dir): %w", err)
	}
	return filepath.Join(home, ".local", "state", "docker-stateful"), nil
}

// OpenStore opens (creating) the store; stateDir "" = DefaultStateDir().
func OpenStore(stateDir string) (*Store, error) {
	if stateDir == "" {
		d, err := DefaultStateDir()
		if err != nil {
			return nil, err
		}
		stateDir = d
	}
	if err := os.MkdirAll(filepath.Join(stateDir, "snapshots"), 0o700); err != nil {
		return nil, err
	}
	return &Store{StateDir: stateDir}, nil
}

func (s *Store) root() string { return filepath.Join(s.StateDir, "snapshots") }

// Snapshot is a stored (or being written) fingerprint.
type Snapshot struct {
	ID      string
	Dir     string   // directory holding shards/ and summary.json
	Summary *Summary // nil until committed/loaded
}

// NewID returns a short, sortable id: 20261125T121500-ab12cd (UTC).
func NewID(t time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return t.UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
}

// New reserves a snapshot directory (<id>.partial) to pass to Fingerprint.
func (s *Store) New() (*Snapshot, error) {
	id := NewID(time.Now())
	dir := filepath.Join(s.root(), id+".partial")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return &Snapshot{ID: id, Dir: dir}, nil
}

// Commit stores sum as summary.json (with ID and service set) and makes the snapshot
// visible under its final name.
func (s *Store) Commit(snap *Snapshot, sum *Summary, service string) error {
	if err := syncManifest(snap.Dir); err != nil {
		return fmt.Errorf("cannot store snapshot: %w", err)
	}
	sum.ID = snap.ID
	if service != "" {
		sum.Service = service
	}
	sum.Files = make([]FileSum, NumShards)
	for i := range sum.Files {
		fs, err := fileSum(shardPath(snap.Dir, i))
		if err != nil {
			return fmt.Errorf("cannot store snapshot: %w", err)
		}
		sum.Files[i] = fs
	}
	var err error
	if sum.Checksum, err = summaryChecksum(sum); err != nil {
		return err
	}
	b, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(snap.Dir, "summary.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	if f, err := os.OpenFile(tmp, os.O_RDWR, 0); err == nil {
		f.Sync()
		f.Close()
	}
	if err := os.Rename(tmp, filepath.Join(snap.Dir, "summary.json")); err != nil {
		return err
	}
	final := filepath.Join(s.root(), snap.ID)
	if snap.Dir != final {
		if err := os.Rename(snap.Dir, final); err != nil {
			return err
		}
		snap.Dir = final
	}
	_ = syncDir(s.root())
	snap.Summary = sum
	return nil
}

// Discard removes a snapshot directory (partial or committed).
func (s *Store) Discard(snap *Snapshot) error {
	if snap == nil || snap.Dir == "" || !strings.HasPrefix(snap.Dir, s.root()) {
		return nil
	}
	return os.RemoveAll(snap.Dir)
}

// ErrNotFound is returned by Load and Latest.
var ErrNotFound = errors.New("snapshot not found")

// Load reads a committed snapshot by id (a unique prefix is accepted).
func (s *Store) Load(id string) (*Snapshot, error) {
	if id == "" || strings.ContainsAny(id, `/\`) {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if snap, err := LoadSnapshotDir(filepath.Join(s.root(), id)); err == nil {
		return snap, nil
	} else if errors.Is(err, ErrDamaged) || !errors.Is(err, os.ErrNotExist) {
		return nil, err // there, but damaged
	}
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	var match []*Snapshot
	for _, sn := range all {
		if strings.HasPrefix(sn.ID, id) {
			match = append(match, sn)
		}
	}
	switch len(match) {
	case 1:
		return match[0], nil
	case 0:
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	default:
		return nil, fmt.Errorf("snapshot id %q is ambiguous (%d matches)", id, len(match))
	}
}

// LoadSnapshotDir loads a snapshot from any directory (summary.json + shards/).
func LoadSnapshotDir(dir string) (*Snapshot, error) {
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		return nil, err
	}
	var sum Summary
	if err := json.Unmarshal(b, &sum); err != nil {
		return nil, &DamagedError{Snapshot: dir, Err: fmt.Errorf("summary.json: %w", err)}
	}
	if len(sum.Shards) != NumShards {
		return nil, &DamagedError{Snapshot: dir, Err: fmt.Errorf("summary has %d shards, want %d", len(sum.Shards), NumShards)}
	}
	if err := checkSummary(dir, &sum); err != nil {
		return nil, &DamagedError{Snapshot: dir, Err: err}
	}
	return &Snapshot{ID: sum.ID, Dir: dir, Summary: &sum}, nil
}

// ErrDamaged matches (errors.Is) every error about a snapshot that is truncated, edited or
// unreadable: the check could not be made (exit status 2), it is not a verdict.
var ErrDamaged = errors.New("snapshot is damaged")

// DamagedError says which snapshot is damaged and how.
type DamagedError struct {
	Snapshot string // directory or id
	Err      error
}

func (e *DamagedError) Error() string {
	return "snapshot " + e.Snapshot + " is damaged: " + e.Err.Error()
}
func (e *DamagedError) Unwrap() error        { return e.Err }
func (e *DamagedError) Is(target error) bool { return target == ErrDamaged }

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

// List returns committed snapshots, oldest first (damaged ones are left out; Latest
// refuses to pass over one).
func (s *Store) List() ([]*Snapshot, error) {
	out, _, err := s.list()
	return out, err
}

// list also returns the errors of snapshots that do not load, by id.
func (s *Store) list() ([]*Snapshot, map[string]error, error) {
	ents, err := os.ReadDir(s.root())
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil, nil
		}
		return nil, nil, err
	}
	var out []*Snapshot
	damaged := map[string]error{}
	for _, e := range ents {
		if !e.IsDir() || strings.HasSuffix(e.Name(), ".partial") {
			continue
		}
		snap, err := LoadSnapshotDir(filepath.Join(s.root(), e.Name()))
		if err != nil {
			damaged[e.Name()] = err
			continue
		}
		out = append(out, snap)
	}
	// Oldest first, by when each was taken: IDs have a one-second time and
	// a random suffix, so two taken in the same second would sort at random.
	sort.SliceStable(out, func(i, j int) bool {
		if a, b := out[i].Summary.CreatedAt, out[j].Summary.CreatedAt; !a.Equal(b) {
			return a.Before(b)
		}
		return out[i].ID < out[j].ID
	})
	return out, damaged, nil
}

// Latest returns the newest snapshot of a service ("" = any). A damaged snapshot newer
// than it is an error: it may be the service's newest, and an older one would verify the
// wrong cut.
func (s *Store) Latest(service string) (*Snapshot, error) {
	all, damaged, err := s.list()
	if err != nil {
		return nil, err
	}
	for i := len(all) - 1; i >= 0; i-- {
		if service == "" || all[i].Summary.Service == service {
			for id, derr := range damaged {
				if id > all[i].ID {
					return nil, fmt.Errorf("the newest snapshot may be damaged (%v); name one with --against, or remove %s", derr, filepath.Join(s.root(), id))
				}
			}
			return all[i], nil
		}
	}
	return nil, fmt.Errorf("%w for service %q", ErrNotFound, service)
}

// Prune keeps the newest keep snapshots of service ("" = all services counted together) and
// removes older ones plus stale .partial directories older than an hour. Returns removed ids.
func (s *Store) Prune(service string, keep int) ([]string, error) {
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	var mine []*Snapshot
	for _, sn := range all {
		if service == "" || sn.Summary.Service == service {
			mine = append(mine, sn)
		}
	}
	var removed []string
	for i := 0; i < len(mine)-keep; i++ {
		if err := os.RemoveAll(mine[i].Dir); err != nil {
			return removed, err
		}
		removed = append(removed, mine[i].ID)
	}
	ents, _ := os.ReadDir(s.root())
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".partial") {
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > time.Hour {
				os.RemoveAll(filepath.Join(s.root(), e.Name()))
			}
		}
	}
	return removed, nil
}

// TakeSnapshot fingerprints the dataset into a new snapshot of the store and commits it
// (cut may be nil, e.g. for the after-update scan). On error nothing is left behind.
func TakeSnapshot(ctx context.Context, c *Client, st *Store, service string, cut *CutInfo, opt FingerprintOptions) (*Snapshot, error) {
	snap, err := st.New()
	if err != nil {
		return nil, fmt.Errorf("cannot create snapshot directory: %w", err)
	}
	sum, err := Fingerprint(ctx, c, snap.Dir, opt)
	if err != nil {
		st.Discard(snap)
		return nil, err
	}
	sum.Cut = cut
	if err := st.Commit(snap, sum, service); err != nil {
		st.Discard(snap)
		return nil, err
	}
	return snap, nil
}

// TakeSnapshotAtCut fingerprints the dataset that h holds paused while the save BeginCut
// started runs (writes are paused, so the save and the scan read the same data), waits
// for both (Saved checks the save), and commits the snapshot with the cut's info. A save
// that fails ends the scan early and is the error returned; on any error writes have been
// unpaused or are left to the caller's Release.
func TakeSnapshotAtCut(ctx context.Context, c *Client, st *Store, service string, h *CutHandle, opt FingerprintOptions) (*Snapshot, error) {
	snap, err := st.New()
	if err != nil {
		return nil, fmt.Errorf("cannot create snapshot directory: %w", err)
	}
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
	sum, err := Fingerprint(fctx, c, snap.Dir, opt)
	if err != nil {
		err = fmt.Errorf("fingerprint: %w", err)
	}
	// the save is waited for even when the scan failed (it ends by itself, and its
	// error explains a scan it cancelled)
	if serr := <-saved; serr != nil && (err == nil || fctx.Err() != nil && ctx.Err() == nil) {
		err = serr
	}
	if err != nil {
		st.Discard(snap)
		return nil, err
	}
	info := h.Info
	sum.Cut = &info
	if err := st.Commit(snap, sum, service); err != nil {
		st.Discard(snap)
		return nil, err
	}
	return snap, nil
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
