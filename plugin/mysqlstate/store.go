package mysqlstate

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/docker-stateful/docker-stateful/plugin/snapstore"
)

// Store keeps MariaDB snapshots under <StateDir>/snapshots/<id>/ (next to the
// other engines'; each store's List skips the others').
type Store = snapstore.Store[Summary, *Summary]

// Snapshot is a stored fingerprint.
type Snapshot = snapstore.Snapshot[Summary]

// ErrNotFound is returned by Load and Latest.
var ErrNotFound = snapstore.ErrNotFound

// OpenStore opens (creating) the store; "" = the default state directory.
func OpenStore(stateDir string) (*Store, error) { return snapstore.Open[Summary](stateDir) }

// Stamp, Seal, Check and Meta make Summary a snapstore summary.
func (s *Summary) Stamp(id, service string) {
	s.ID, s.Engine = id, Engine
	if service != "" {
		s.Service = service
	}
}

// Seal: everything is in summary.json.
func (s *Summary) Seal(string) error { return nil }

// Check refuses another engine's snapshot.
func (s *Summary) Check(string) error {
	if s.Engine != Engine {
		return fmt.Errorf("%w, not a MariaDB one", snapstore.ErrOtherEngine)
	}
	return nil
}

// Meta is the store's view.
func (s *Summary) Meta() snapstore.Meta {
	return snapstore.Meta{ID: s.ID, Service: s.Service, CreatedAt: s.CreatedAt, Cut: s.Cut != nil}
}

// TakeSnapshot fingerprints the server (on conn, the cut's session, when
// given) into a committed snapshot of st.
func TakeSnapshot(ctx context.Context, c *Client, conn *sql.Conn, st *Store, service string, cut *CutInfo) (*Snapshot, error) {
	return st.Take(service, func(string) (*Summary, error) {
		sum, err := c.Fingerprint(ctx, conn)
		if err == nil {
			sum.Cut = cut
		}
		return sum, err
	})
}

// Conn is the cut's session (nil: none), for TakeSnapshot.
func (k *Cut) Conn() *sql.Conn {
	if k == nil {
		return nil
	}
	return k.conn
}

// Check holds writes on the server now (its own FLUSH TABLES WITH READ
// LOCK), counts what clients wrote before, fingerprints it and compares it
// with before; the hold is released when it returns.
func Check(ctx context.Context, c *Client, before *Snapshot) (*Report, error) {
	var rep *Report
	err := Held(ctx, c, func(k *Cut) error {
		after, err := c.Fingerprint(ctx, k.conn)
		if err != nil {
			return err
		}
		rep = Compare(before.ID, before.Summary, after)
		rep.ClientWrites = k.Info.Writes
		return nil
	})
	return rep, err
}

// Held runs fn with writes held on c (a cut of its own), released after.
func Held(ctx context.Context, c *Client, fn func(*Cut) error) error {
	k, err := c.StartCut(ctx, 30e9)
	if err != nil {
		return err
	}
	defer func() { _ = k.Release(context.Background()) }()
	return fn(k)
}
