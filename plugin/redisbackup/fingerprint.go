package redisbackup

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
)

// fingerprint and compare are the only places this package takes and compares
// fingerprints: redisstate's canonical fingerprint (type-aware values, exact expire times).
// The file keeps one fingerprint per database (a restore into fewer databases, or a report per
// database), so each is taken by a client that has that database alone (Options.OnlyDB).

// fingerprint fingerprints each database of dbs into a snapshot of st.
func fingerprint(ctx context.Context, c *redisstate.Client, st *redisstate.Store, dbs []int, service string, cut *redisstate.CutInfo, fopt redisstate.FingerprintOptions) (map[int]*redisstate.Snapshot, error) {
	out := make(map[int]*redisstate.Snapshot, len(dbs))
	for _, db := range dbs {
		dc, err := dbClient(c, db)
		if err != nil {
			return nil, err
		}
		snap, err := redisstate.TakeSnapshot(ctx, dc, st, service, cut, fopt)
		dc.Close()
		if err != nil {
			return nil, fmt.Errorf("fingerprint of database %d: %w", db, err)
		}
		out[db] = snap
	}
	return out, nil
}

// DatabaseReport is the comparison of one database with the fingerprint in the file.
type DatabaseReport struct {
	DB     int                `json:"db"`
	Report *redisstate.Report `json:"report"`
}

// Verification is the result of comparing the restored data with the file's fingerprint.
type Verification struct {
	Databases []DatabaseReport `json:"databases"`
	Verdict   string           `json:"verdict"` // "verified" or "failed"
}

// OK reports whether every database verified.
func (v *Verification) OK() bool { return v.Verdict == "verified" }

// Count sums a class (redisstate.ClassMissing, ...) over the databases.
func (v *Verification) Count(class string) int64 {
	var n int64
	for _, d := range v.Databases {
		n += d.Report.Count(class)
	}
	return n
}

// compare proves after against before, database by database.
func compare(before, after map[int]*redisstate.Snapshot, copt redisstate.CompareOptions) (*Verification, error) {
	v := &Verification{Verdict: "verified", Databases: []DatabaseReport{}}
	dbs := make([]int, 0, len(before))
	for db := range before {
		dbs = append(dbs, db)
	}
	sort.Ints(dbs)
	for _, db := range dbs {
		a := after[db]
		if a == nil {
			return nil, fmt.Errorf("database %d was not fingerprinted after the restore", db)
		}
		rep, err := redisstate.Compare(before[db], a, copt)
		if err != nil {
			return nil, fmt.Errorf("database %d: %w", db, err)
		}
		if !rep.OK() {
			v.Verdict = "failed"
		}
		v.Databases = append(v.Databases, DatabaseReport{DB: db, Report: rep})
	}
	return v, nil
}

// RenderVerification writes the verify-style report, database by database,
// and one verdict for them all at the end.
func RenderVerification(w io.Writer, v *Verification) error {
	var reasons []string
	for _, d := range v.Databases {
		var b strings.Builder
		if err := redisstate.RenderText(&b, d.Report); err != nil {
			return err
		}
		text := b.String()
		if i := strings.LastIndex(text, "\nVerdict: "); i >= 0 {
			text = text[:i+1]
		}
		if _, err := fmt.Fprintf(w, "Database %d: %s", d.DB, text); err != nil {
			return err
		}
		if !d.Report.OK() {
			reasons = append(reasons, fmt.Sprintf("database %d: %s", d.DB, strings.Join(d.Report.Reasons, "; ")))
		}
	}
	var err error
	switch {
	case v.OK():
		_, err = fmt.Fprintf(w, "\nVerdict: verified (%d database(s))\n", len(v.Databases))
	case len(reasons) > 0:
		_, err = fmt.Fprintf(w, "\nVerdict: FAILED: %s\n", strings.Join(reasons, "; "))
	default:
		_, err = fmt.Fprintln(w, "\nVerdict: FAILED")
	}
	return err
}

func dbClient(c *redisstate.Client, db int) (*redisstate.Client, error) {
	o := c.Options()
	o.DB, o.OnlyDB = db, true // this database alone: the file keeps one fingerprint per database
	return redisstate.NewClient(o)
}

// fingerprintDirName is where database db's fingerprint files go inside the file.
func fingerprintDirName(db int) string { return "db" + strconv.Itoa(db) }

// writeFingerprint copies every file of a snapshot directory into F sections, under
// db<N>/ + the path relative to the snapshot directory (so whatever redisstate stores,
// LoadSnapshotDir finds it again after extraction).
func writeFingerprint(bw *bodyWriter, db int, dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		name := fingerprintDirName(db) + "/" + filepath.ToSlash(rel)
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		hdr := binary.AppendUvarint(nil, uint64(len(name)))
		hdr = append(hdr, name...)
		total := uint64(len(hdr)) + uint64(fi.Size())
		var t [1 + binary.MaxVarintLen64]byte
		t[0] = tagFingerprint
		n := binary.PutUvarint(t[1:], total)
		if _, err := bw.Write(t[:1+n]); err != nil {
			return err
		}
		if _, err := bw.Write(hdr); err != nil {
			return err
		}
		m, err := io.Copy(bw, f)
		if err == nil && m != fi.Size() {
			err = fmt.Errorf("%s changed while it was copied", p)
		}
		return err
	})
}

// loadFingerprints loads the extracted fingerprint of each database of the header.
func loadFingerprints(v *Verified) (map[int]*redisstate.Snapshot, error) {
	out := map[int]*redisstate.Snapshot{}
	for _, d := range v.Header.Databases {
		snap, err := redisstate.LoadSnapshotDir(filepath.Join(v.FingerprintDir, fingerprintDirName(d.DB)))
		if err != nil {
			return nil, &FileError{v.Name, fmt.Sprintf("the fingerprint of database %d is unreadable: %v", d.DB, err)}
		}
		out[d.DB] = snap
	}
	return out, nil
}
