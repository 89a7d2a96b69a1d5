package pgstate

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker-stateful/docker-stateful/plugin/snapstore"
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
	return snapstore.WriteFileSync(p, b)
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

// Store keeps PostgreSQL snapshots under <StateDir>/snapshots/<id>/.
type Store = snapstore.Store[Summary, *Summary]

// Snapshot is a stored (or being written) fingerprint.
type Snapshot = snapstore.Snapshot[Summary]

var (
	// ErrNotFound is returned by Load and Latest.
	ErrNotFound = snapstore.ErrNotFound
	// ErrOtherEngine is returned by LoadSnapshotDir for a snapshot that is not a PostgreSQL one.
	ErrOtherEngine = snapstore.ErrOtherEngine
)

// OpenStore opens (creating) the store; stateDir "" = the default state directory.
func OpenStore(stateDir string) (*Store, error) { return snapstore.Open[Summary](stateDir) }

// LoadSnapshotDir loads a snapshot from any directory (summary.json + shards/).
func LoadSnapshotDir(dir string) (*Snapshot, error) { return snapstore.LoadDir[Summary](dir) }

// IsSnapshotDir reports whether dir holds a committed PostgreSQL snapshot.
func IsSnapshotDir(dir string) bool {
	_, err := LoadSnapshotDir(dir)
	return err == nil
}

// Stamp, Seal, Check and Meta make Summary the summary of a snapstore.Store.

func (s *Summary) Stamp(id, service string) {
	s.ID = id
	s.Engine = Engine
	if service != "" {
		s.Service = service
	}
}

// Seal makes the names of the database manifests durable (each is fsynced as written).
func (s *Summary) Seal(dir string) error {
	if err := snapstore.SyncDir(filepath.Join(dir, shardDirName)); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// Check refuses a snapshot of another engine.
func (s *Summary) Check(string) error {
	if s.Engine != Engine {
		return fmt.Errorf("%w, not a PostgreSQL one", snapstore.ErrOtherEngine)
	}
	return nil
}

func (s *Summary) Meta() snapstore.Meta {
	return snapstore.Meta{ID: s.ID, Service: s.Service, CreatedAt: s.CreatedAt, Cut: s.Cut != nil}
}

// TakeSnapshot fingerprints the server into a new snapshot of the store and commits it
// (cut may be nil, e.g. for the after-update fingerprint). On error nothing is left behind.
func TakeSnapshot(ctx context.Context, c *Client, st *Store, service string, cut *CutInfo, opt FingerprintOptions) (*Snapshot, error) {
	if cut != nil {
		// writes are off until resumed: say so where ls, check and status look
		writeMarker(st.StateDir, service, c, cut)
	}
	return st.Take(service, func(dir string) (*Summary, error) {
		sum, err := Fingerprint(ctx, c, dir, opt)
		if err == nil {
			sum.Cut = cut
		}
		return sum, err
	})
}

// VerifyAgainst fingerprints the running server and compares it with before.
func VerifyAgainst(ctx context.Context, c *Client, st *Store, before *Snapshot, fopt FingerprintOptions, copt CompareOptions) (*Report, *Snapshot, error) {
	after, err := TakeSnapshot(ctx, c, st, before.Summary.Service, nil, fopt)
	if err != nil {
		return nil, nil, err
	}
	rep, err := Compare(before, after, copt)
	if err == nil && !rep.OK() {
		if aerr := AttributeWrites(ctx, c, before, after, rep); aerr != nil {
			rep.Reasons = append(rep.Reasons, "writes after the cut could not be counted: "+aerr.Error())
		}
	}
	return rep, after, err
}
