package snapstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sum is a minimal engine summary: "engine" tells the engines apart, "bad" makes
// Check call it damaged, Seal writes one data file.
type sum struct {
	Engine    string    `json:"engine"`
	ID        string    `json:"id"`
	Service   string    `json:"service"`
	CreatedAt time.Time `json:"created_at"`
	Cut       bool      `json:"cut"`
	Bad       bool      `json:"bad"`
	Sealed    bool      `json:"sealed"`
}

func (s *sum) Stamp(id, service string) {
	s.ID, s.Engine = id, "test"
	if service != "" {
		s.Service = service
	}
}
func (s *sum) Seal(dir string) error {
	s.Sealed = true
	return WriteFileSync(filepath.Join(dir, "data"), []byte("x"))
}
func (s *sum) Check(string) error {
	switch {
	case s.Engine != "test":
		return fmt.Errorf("%w, not a test one", ErrOtherEngine)
	case s.Bad:
		return errors.New("bad")
	}
	return nil
}
func (s *sum) Meta() Meta {
	return Meta{ID: s.ID, Service: s.Service, CreatedAt: s.CreatedAt, Cut: s.Cut}
}

type testStore = Store[sum, *sum]

func commit(t *testing.T, st *testStore, service string, at time.Time, cut bool) *Snapshot[sum] {
	t.Helper()
	snap, err := st.New()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(snap, &sum{CreatedAt: at, Cut: cut}, service); err != nil {
		t.Fatal(err)
	}
	return snap
}

func TestCommitLoadList(t *testing.T) {
	st, err := Open[sum](t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	// taken in the same second: the order is when each was taken, not the random id
	b := commit(t, st, "svc", t0.Add(time.Millisecond), true)
	a := commit(t, st, "svc", t0, true)
	other := commit(t, st, "other", t0.Add(2*time.Millisecond), false)
	if !a.Summary.Sealed || a.Dir != filepath.Join(st.Root(), a.ID) {
		t.Fatalf("committed %+v in %s: want sealed, under its id", a.Summary, a.Dir)
	}
	if _, err := os.Stat(filepath.Join(a.Dir, "data")); err != nil {
		t.Fatal(err)
	}
	all, err := st.List()
	if err != nil || len(all) != 3 || all[0].ID != a.ID || all[1].ID != b.ID || all[2].ID != other.ID {
		t.Fatalf("List = %v, %v: want a, b, other", all, err)
	}
	if got, err := st.Load(a.ID[:len(a.ID)-1]); err != nil || got.ID != a.ID {
		t.Errorf("Load by unique prefix = %v, %v", got, err)
	}
	if _, err := st.Load("2026"); err == nil || !strings.Contains(err.Error(), "ambiguous") {
		t.Errorf("Load of a prefix of 3 = %v, want ambiguous", err)
	}
	for _, id := range []string{"", "../x", ".hidden", "nope"} {
		if _, err := st.Load(id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Load(%q) = %v, want ErrNotFound", id, err)
		}
	}
	if l, err := st.Latest("svc"); err != nil || l.ID != b.ID {
		t.Errorf("Latest(svc) = %v, %v, want %s", l, err, b.ID)
	}
	if l, err := st.LatestCut("other"); !errors.Is(err, ErrNotFound) {
		t.Errorf("LatestCut(other) = %v, %v: its only snapshot is no cut", l, err)
	}
	removed, err := st.Prune("svc", 1)
	if err != nil || len(removed) != 1 || removed[0] != a.ID {
		t.Errorf("Prune(svc, 1) removed %v, %v: want the older of svc only", removed, err)
	}
}

func TestOtherEngineAndDamaged(t *testing.T) {
	st, _ := Open[sum](t.TempDir())
	good := commit(t, st, "svc", time.Now().Add(-time.Hour), true)
	// another engine's snapshot in the same directory: skipped, named when asked for
	foreign := filepath.Join(st.Root(), "20990101T000000-aaaaaa")
	os.MkdirAll(foreign, 0o700)
	os.WriteFile(filepath.Join(foreign, "summary.json"), []byte(`{"engine":"postgres","id":"20990101T000000-aaaaaa"}`), 0o600)
	if l, err := st.Latest("svc"); err != nil || l.ID != good.ID {
		t.Errorf("Latest with a newer snapshot of another engine = %v, %v, want %s", l, err, good.ID)
	}
	if _, err := st.Load("20990101T000000-aaaaaa"); err == nil || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "not a test one") {
		t.Errorf("Load of another engine's snapshot = %v", err)
	}
	// a damaged newer one: Latest does not pass over it, Load names it damaged
	bad := filepath.Join(st.Root(), "20990102T000000-bbbbbb")
	os.MkdirAll(bad, 0o700)
	os.WriteFile(filepath.Join(bad, "summary.json"), []byte(`{"engine":"test","id":"20990102T000000-bbbbbb","bad":true}`), 0o600)
	if _, err := st.Latest("svc"); err == nil || !strings.Contains(err.Error(), "may be damaged") {
		t.Errorf("Latest with a newer damaged snapshot = %v", err)
	}
	if _, err := st.Load("20990102T000000-bbbbbb"); !errors.Is(err, ErrDamaged) {
		t.Errorf("Load of a damaged snapshot = %v, want ErrDamaged", err)
	}
	os.WriteFile(filepath.Join(bad, "summary.json"), []byte(`{"engine":`), 0o600)
	if _, err := LoadDir[sum](bad); !errors.Is(err, ErrDamaged) {
		t.Errorf("LoadDir of a cut-short summary.json = %v, want ErrDamaged", err)
	}
	if all, err := st.List(); err != nil || len(all) != 1 {
		t.Errorf("List = %d snapshots, %v: want the good one only", len(all), err)
	}
}
