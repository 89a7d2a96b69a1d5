package pgstate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
)

// Snapshots live next to the Redis ones, under <StateDir>/snapshots/<id>/ (same ids, same
// state directory): summary.json with "engine": "postgres" plus shards/NNN.json, one
// DBManifest per database. Each store's List skips the other engine's snapshots.

const shardDirName = "shards"

func shardName(i int) string { return fmt.Sprintf("%s/%03d.json", shardDirName, i) }

func writeManifest(dir, shard string, m *DBManifest) error {
	p := filepath.Join(dir, filepath.FromSlash(shard))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return writeFileSync(p, b)
}

// LoadManifest reads the manifest of one database of a snapshot.
func LoadManifest(snap *Snapshot, db DBSum) (*DBManifest, error) {
	if strings.Contains(db.Shard, "..") || filepath.IsAbs(db.Shard) {
		return nil, fmt.Errorf("snapshot %s: bad shard name %q", snap.ID, db.Shard)
	}
	b, err := os.ReadFile(filepath.Join(snap.Dir, filepath.FromSlash(db.Shard)))
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", snap.ID, err)
	}
	var m DBManifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("snapshot %s: %s: %w", snap.ID, db.Shard, err)
	}
	return &m, nil
}

func writeFileSync(p string, b []byte) error {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Store keeps Postgres snapshots under <StateDir>/snapshots/<id>/.
type Store struct {
	StateDir string
}

// OpenStore opens (creating) the store; stateDir "" = redisstate.DefaultStateDir().
func OpenStore(stateDir string) (*Store, error) {
	if stateDir == "" {
		d, err := redisstate.DefaultStateDir()
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

// New reserves a snapshot directory (<id>.partial) to pass to Fingerprint.
func (s *Store) New() (*Snapshot, error) {
	id := redisstate.NewID(time.Now())
	dir := filepath.Join(s.root(), id+".partial")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return &Snapshot{ID: id, Dir: dir}, nil
}

// Commit stores sum as summary.json (with ID and service set) and makes the snapshot
// visible under its final name.
func (s *Store) Commit(snap *Snapshot, sum *Summary, service string) error {
	sum.ID = snap.ID
	sum.Engine = Engine
	if service != "" {
		sum.Service = service
	}
	if err := syncDir(filepath.Join(snap.Dir, shardDirName)); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("cannot store snapshot: %w", err)
	}
	b, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(snap.Dir, "summary.json.tmp")
	if err := writeFileSync(tmp, b); err != nil {
		return err
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
var ErrNotFound = redisstate.ErrNotFound

// ErrOtherEngine is returned by LoadSnapshotDir for a snapshot that is not a Postgres one.
var ErrOtherEngine = errors.New("not a PostgreSQL snapshot")

// IsSnapshotDir reports whether dir holds a committed Postgres snapshot.
func IsSnapshotDir(dir string) bool {
	_, err := LoadSnapshotDir(dir)
	return err == nil
}

// LoadSnapshotDir loads a snapshot from any directory (summary.json + shards/).
func LoadSnapshotDir(dir string) (*Snapshot, error) {
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		return nil, err
	}
	var sum Summary
	if err := json.Unmarshal(b, &sum); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	if sum.Engine != Engine {
		return nil, fmt.Errorf("%s: %w", dir, ErrOtherEngine)
	}
	return &Snapshot{ID: sum.ID, Dir: dir, Summary: &sum}, nil
}

// Load reads a committed snapshot by id (a unique prefix is accepted).
func (s *Store) Load(id string) (*Snapshot, error) {
	if id == "" || strings.ContainsAny(id, `/\`) || strings.HasPrefix(id, ".") {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if snap, err := LoadSnapshotDir(filepath.Join(s.root(), id)); err == nil {
		return snap, nil
	} else if errors.Is(err, ErrOtherEngine) {
		return nil, fmt.Errorf("snapshot %s is not a PostgreSQL snapshot", id)
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

// List returns committed Postgres snapshots, oldest first.
func (s *Store) List() ([]*Snapshot, error) {
	ents, err := os.ReadDir(s.root())
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	var out []*Snapshot
	for _, e := range ents {
		if !e.IsDir() || strings.HasSuffix(e.Name(), ".partial") {
			continue
		}
		snap, err := LoadSnapshotDir(filepath.Join(s.root(), e.Name()))
		if err != nil {
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
	return out, nil
}

// Latest returns the newest snapshot of a service ("" = any).
func (s *Store) Latest(service string) (*Snapshot, error) {
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	for i := len(all) - 1; i >= 0; i-- {
		if service == "" || all[i].Summary.Service == service {
			return all[i], nil
		}
	}
	return nil, fmt.Errorf("%w for service %q", ErrNotFound, service)
}

// TakeSnapshot fingerprints the server into a new snapshot of the store and commits it
// (cut may be nil, e.g. for the after-update fingerprint). On error nothing is left behind.
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

// VerifyAgainst fingerprints the running server and compares it with before.
func VerifyAgainst(ctx context.Context, c *Client, st *Store, before *Snapshot, fopt FingerprintOptions, copt CompareOptions) (*Report, *Snapshot, error) {
	after, err := TakeSnapshot(ctx, c, st, before.Summary.Service, nil, fopt)
	if err != nil {
		return nil, nil, err
	}
	rep, err := Compare(before, after, copt)
	return rep, after, err
}
