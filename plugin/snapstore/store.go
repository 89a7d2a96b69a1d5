// Package snapstore keeps fingerprint snapshots on disk: one directory per snapshot under
// <state dir>/snapshots/<id>/, holding the engine's shard files and summary.json. Redis and
// PostgreSQL snapshots share the directory and the ids; each engine's store sees only its
// own (its summary's Check says ErrOtherEngine for the other's). The engines keep what
// differs (shard files, checksums, what a damaged summary looks like) behind Summary.
package snapstore

import (
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
)

// Summary is what an engine's summary.json type tells the store.
type Summary interface {
	// Stamp sets the snapshot's id and, when not empty, its service as it is committed.
	Stamp(id, service string)
	// Seal runs at commit, before summary.json is written: the engine makes its files
	// in dir durable and records their checksums in the summary.
	Seal(dir string) error
	// Check checks a summary just read from dir: ErrOtherEngine when it is another
	// engine's snapshot, any other error when the snapshot is damaged.
	Check(dir string) error
	// Meta is what the store sorts, picks and prunes by.
	Meta() Meta
}

// Meta is a snapshot's identity as the store needs it.
type Meta struct {
	ID        string
	Service   string
	CreatedAt time.Time
	Cut       bool // taken at a durable cut (snapshot, update --verify), not an after-scan
}

// Snapshot is a stored (or being written) fingerprint.
type Snapshot[S any] struct {
	ID      string
	Dir     string // directory holding the shard files and summary.json
	Summary *S     // nil until committed/loaded
}

// Store keeps one engine's snapshots under <StateDir>/snapshots/<id>/.
type Store[S any, P interface {
	*S
	Summary
}] struct {
	StateDir string
}

var (
	// ErrNotFound is returned by Load and Latest.
	ErrNotFound = errors.New("snapshot not found")
	// ErrOtherEngine is what a summary's Check returns for another engine's snapshot.
	ErrOtherEngine = errors.New("another database engine's snapshot")
	// ErrDamaged matches (errors.Is) every error about a snapshot that is truncated,
	// edited or unreadable: the check could not be made (exit status 2), it is no verdict.
	ErrDamaged = errors.New("snapshot is damaged")
)

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

// Open opens (creating) the store; stateDir "" = DefaultStateDir().
func Open[S any, P interface {
	*S
	Summary
}](stateDir string) (*Store[S, P], error) {
	if stateDir == "" {
		d, err := DefaultStateDir()
		if err != nil {
			return nil, err
		}
		stateDir = d
	}
	st := &Store[S, P]{StateDir: stateDir}
	if err := os.MkdirAll(st.Root(), 0o700); err != nil {
		return nil, err
	}
	return st, nil
}

// NewID returns a short, sortable id: 20261125T121500-ab12cd (UTC).
func NewID(t time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return t.UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
}

// Root is the directory holding the snapshots.
func (s *Store[S, P]) Root() string { return filepath.Join(s.StateDir, "snapshots") }

// New reserves a snapshot directory (<id>.partial) for the engine to fingerprint into.
func (s *Store[S, P]) New() (*Snapshot[S], error) {
	id := NewID(time.Now())
	dir := filepath.Join(s.Root(), id+".partial")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return &Snapshot[S]{ID: id, Dir: dir}, nil
}

// Commit stores sum as summary.json (stamped with the id and service, sealed by the
// engine), fsynced, and makes the snapshot visible under its final name.
func (s *Store[S, P]) Commit(snap *Snapshot[S], sum P, service string) error {
	sum.Stamp(snap.ID, service)
	if err := sum.Seal(snap.Dir); err != nil {
		return fmt.Errorf("cannot store snapshot: %w", err)
	}
	b, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(snap.Dir, "summary.json.tmp")
	if err := WriteFileSync(tmp, b); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(snap.Dir, "summary.json")); err != nil {
		return err
	}
	final := filepath.Join(s.Root(), snap.ID)
	if snap.Dir != final {
		if err := os.Rename(snap.Dir, final); err != nil {
			return err
		}
		snap.Dir = final
	}
	_ = SyncDir(s.Root())
	snap.Summary = (*S)(sum)
	return nil
}

// Take runs fingerprint into a new snapshot directory and commits what it returns; on
// error nothing is left behind.
func (s *Store[S, P]) Take(service string, fingerprint func(dir string) (P, error)) (*Snapshot[S], error) {
	snap, err := s.New()
	if err != nil {
		return nil, fmt.Errorf("cannot create snapshot directory: %w", err)
	}
	sum, err := fingerprint(snap.Dir)
	if err == nil {
		err = s.Commit(snap, sum, service)
	}
	if err != nil {
		s.Discard(snap)
		return nil, err
	}
	return snap, nil
}

// Discard removes a snapshot directory of this store (partial or committed).
func (s *Store[S, P]) Discard(snap *Snapshot[S]) error {
	if snap == nil || snap.Dir == "" || !strings.HasPrefix(snap.Dir, s.Root()) {
		return nil
	}
	return os.RemoveAll(snap.Dir)
}

// LoadDir loads a snapshot from any directory (summary.json and the engine's files).
func LoadDir[S any, P interface {
	*S
	Summary
}](dir string) (*Snapshot[S], error) {
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		return nil, err
	}
	sum := P(new(S))
	if err := json.Unmarshal(b, sum); err != nil {
		return nil, &DamagedError{Snapshot: dir, Err: fmt.Errorf("summary.json: %w", err)}
	}
	if err := sum.Check(dir); err != nil {
		if errors.Is(err, ErrOtherEngine) {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
		return nil, &DamagedError{Snapshot: dir, Err: err}
	}
	return &Snapshot[S]{ID: sum.Meta().ID, Dir: dir, Summary: (*S)(sum)}, nil
}

// Load reads a committed snapshot by id (a unique prefix is accepted).
func (s *Store[S, P]) Load(id string) (*Snapshot[S], error) {
	if id == "" || strings.ContainsAny(id, `/\`) || strings.HasPrefix(id, ".") {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if snap, err := LoadDir[S, P](filepath.Join(s.Root(), id)); err == nil {
		return snap, nil
	} else if errors.Is(err, ErrOtherEngine) {
		return nil, fmt.Errorf("snapshot %s is %w", id, errors.Unwrap(err))
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err // there, but damaged
	}
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	var match []*Snapshot[S]
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

// List returns this engine's committed snapshots, oldest first (damaged ones are left
// out; Latest refuses to pass over one).
func (s *Store[S, P]) List() ([]*Snapshot[S], error) {
	out, _, err := s.list()
	return out, err
}

// list also returns the errors of snapshots that do not load, by id.
func (s *Store[S, P]) list() ([]*Snapshot[S], map[string]error, error) {
	ents, err := os.ReadDir(s.Root())
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil, nil
		}
		return nil, nil, err
	}
	var out []*Snapshot[S]
	damaged := map[string]error{}
	for _, e := range ents {
		if !e.IsDir() || strings.HasSuffix(e.Name(), ".partial") {
			continue
		}
		snap, err := LoadDir[S, P](filepath.Join(s.Root(), e.Name()))
		switch {
		case errors.Is(err, ErrOtherEngine):
		case err != nil:
			damaged[e.Name()] = err
		default:
			out = append(out, snap)
		}
	}
	// Oldest first, by when each was taken: IDs have a one-second time and
	// a random suffix, so two taken in the same second would sort at random.
	sort.SliceStable(out, func(i, j int) bool {
		if a, b := P(out[i].Summary).Meta().CreatedAt, P(out[j].Summary).Meta().CreatedAt; !a.Equal(b) {
			return a.Before(b)
		}
		return out[i].ID < out[j].ID
	})
	return out, damaged, nil
}

// Latest returns the newest snapshot of a service ("" = any). A damaged snapshot newer
// than it is an error: it may be the service's newest, and an older one would verify the
// wrong data.
func (s *Store[S, P]) Latest(service string) (*Snapshot[S], error) {
	return s.latest(service, false)
}

// LatestCut is Latest among the snapshots taken at a durable cut.
func (s *Store[S, P]) LatestCut(service string) (*Snapshot[S], error) {
	return s.latest(service, true)
}

func (s *Store[S, P]) latest(service string, cut bool) (*Snapshot[S], error) {
	all, damaged, err := s.list()
	if err != nil {
		return nil, err
	}
	for i := len(all) - 1; i >= 0; i-- {
		m := P(all[i].Summary).Meta()
		if (service != "" && m.Service != service) || (cut && !m.Cut) {
			continue
		}
		for id, derr := range damaged {
			if id > all[i].ID {
				return nil, fmt.Errorf("the newest snapshot may be damaged (%v); name one with --against, or remove %s", derr, filepath.Join(s.Root(), id))
			}
		}
		return all[i], nil
	}
	return nil, fmt.Errorf("%w for service %q", ErrNotFound, service)
}

// Prune keeps the newest keep snapshots of service ("" = all services counted together) and
// removes older ones plus stale .partial directories older than an hour. Returns removed ids.
func (s *Store[S, P]) Prune(service string, keep int) ([]string, error) {
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	var mine []*Snapshot[S]
	for _, sn := range all {
		if service == "" || P(sn.Summary).Meta().Service == service {
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
	ents, _ := os.ReadDir(s.Root())
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".partial") {
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > time.Hour {
				os.RemoveAll(filepath.Join(s.Root(), e.Name()))
			}
		}
	}
	return removed, nil
}

// WriteFileSync writes b to p and fsyncs it.
func WriteFileSync(p string, b []byte) error {
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

// SyncDir fsyncs a directory, so the names of the files just written in it are durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
