package redisbackup

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/docker-stateful/docker-stateful/plugin/rdbstream"
	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
)

// MethodReplication and MethodPause name how a backup read the keys (Result.Method).
const (
	MethodReplication = "replication" // the server's snapshot at a fork, writes never paused
	MethodPause       = "pause"       // CLIENT PAUSE WRITE + SAVE, then SCAN/DUMP
)

// errNotStarted wraps an error of the replication snapshot that came before anything was
// written: the backup can still be taken the paused way.
type errNotStarted struct{ err error }

func (e errNotStarted) Error() string { return e.err.Error() }
func (e errNotStarted) Unwrap() error { return e.err }

// backupReplica reads the server's snapshot as a replica does (see plugin/rdbstream): the
// server forks, its RDB payload is parsed once, each key's record (DUMP payload from the
// RDB bytes) is spooled and its fingerprint recorded, one snapshot per database; then the
// header (with those fingerprints), the records and the fingerprint files are written.
// Writes are never paused: the backup is the server's state at its fork.
func backupReplica(ctx context.Context, c *redisstate.Client, w io.Writer, opt Options) (*Result, error) {
	cw := &countingWriter{w: w}
	si, err := c.ServerInfo(ctx)
	if err != nil {
		return nil, err
	}
	// Diskless (the payload straight from the fork, nothing on the server's disk) only
	// when the server would not first wait for more replicas.
	diskless := false
	if v, err := c.Redis().ConfigGet(ctx, "repl-diskless-sync-delay").Result(); err == nil && v["repl-diskless-sync-delay"] == "0" {
		diskless = true
	}
	opt.say("Requesting a snapshot as a replica does (PSYNC; the server forks, writes are not paused)")
	start := time.Now()
	s, err := rdbstream.Start(ctx, c, rdbstream.Options{Diskless: diskless})
	if err != nil {
		return nil, errNotStarted{err}
	}
	defer s.Close()
	// The server forked after PSYNC arrived: every write acknowledged before the request
	// is in the snapshot (the cut's time, conservatively).
	forkAt := s.RequestedAt
	opt.say("Snapshot started after %s (replication id %s, offset %d, %s)", time.Since(start).Round(time.Millisecond),
		short(s.ReplID), s.Offset, map[bool]string{true: "sent as the fork writes it", false: "saved by the server, then sent"}[s.Diskless])

	tmp, err := os.MkdirTemp(opt.TempDir, "docker-stateful-backup-")
	if err != nil {
		return nil, fmt.Errorf("cannot create a temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	st, err := redisstate.OpenStore(tmp)
	if err != nil {
		return nil, err
	}
	spoolF, err := os.Create(tmp + "/records")
	if err != nil {
		return nil, fmt.Errorf("cannot create a temporary file: %w", err)
	}
	defer spoolF.Close()
	spool := bufio.NewWriterSize(spoolF, 1<<20)

	cut := redisstate.CutInfo{RunID: si.RunID, RedisVersion: si.Version, Method: MethodReplication,
		PausedAt: forkAt.UTC(), SavedAt: forkAt.UTC()}
	type dbState struct {
		hdr  DatabaseHeader
		snap *redisstate.Snapshot
		mb   *redisstate.ManifestBuilder
		n    int64
	}
	var (
		dbs     []*dbState
		cur     *dbState
		buf     []byte
		payload []byte
		keys    atomic.Int64
		version int
	)
	finishDB := func() error {
		if cur == nil {
			return nil
		}
		sum := &redisstate.Summary{CreatedAt: forkAt.UTC(), Addr: c.Addr(), DB: cur.hdr.DB, OnlyDB: true,
			RunID: si.RunID, RedisVersion: si.Version, ScanStartMs: s.ServerTimeMs, ScanEndMs: s.ServerTimeMs, Cut: &cut}
		if err := cur.mb.Finish(sum, []int{cur.hdr.DB}); err != nil {
			return fmt.Errorf("cannot write the fingerprint: %w", err)
		}
		if err := st.Commit(cur.snap, sum, opt.Service); err != nil {
			return err
		}
		cur.hdr.Keys = sum.Keys
		cur.hdr.Fingerprint = FingerprintRef{SnapshotID: sum.ID, Keys: sum.Keys, Digest: sum.Digest.String()}
		cur.mb = nil
		return nil
	}
	defer func() {
		if cur != nil && cur.mb != nil {
			cur.mb.Abort()
		}
	}()
	stopProgress := startProgress(opt, "backup", start, &keys, &cw.n)
	info, err := s.Parse(func(k *rdbstream.Key) error {
		if k.ExpireAt >= 0 && k.ExpireAt <= s.ServerTimeMs {
			return nil // expired before the fork: not part of the data
		}
		if cur == nil || cur.hdr.DB != k.DB {
			if err := finishDB(); err != nil {
				return err
			}
			snap, err := st.New()
			if err != nil {
				return fmt.Errorf("cannot create the fingerprint: %w", err)
			}
			mb, err := redisstate.NewManifestBuilder(snap.Dir)
			if err != nil {
				return fmt.Errorf("cannot create the fingerprint: %w", err)
			}
			cur = &dbState{hdr: DatabaseHeader{DB: k.DB}, snap: snap, mb: mb}
			dbs = append(dbs, cur)
			buf = append(buf[:0], tagDatabase)
			body := appendUvarint(nil, uint64(k.DB))
			buf = appendUvarint(buf, uint64(len(body)))
			buf = append(buf, body...)
			if _, err := spool.Write(buf); err != nil {
				return fmt.Errorf("cannot write a temporary file: %w", err)
			}
		}
		if version == 0 {
			version = k.Version
		}
		key := string(k.Key)
		if err := cur.mb.Add(k.DB, key, k.Type, k.ValueHash, k.ExpireAt); err != nil {
			return fmt.Errorf("cannot write the fingerprint: %w", err)
		}
		if k.ExpireAt >= 0 {
			cur.hdr.Expires++
		}
		payload = k.AppendDump(payload[:0], version)
		buf = appendKey(buf[:0], key, payload, k.ExpireAt)
		if _, err := spool.Write(buf); err != nil {
			return fmt.Errorf("cannot write a temporary file: %w", err)
		}
		cur.n++
		keys.Add(1)
		return nil
	})
	if err == nil {
		err = finishDB()
	}
	if err != nil {
		stopProgress(false)
		if len(dbs) == 0 {
			var fe *rdbstream.FormatError
			if errors.As(err, &fe) {
				return nil, errNotStarted{err} // e.g. an RDB version newer than the parser
			}
		}
		return nil, fmt.Errorf("reading the snapshot: %w", err)
	}
	s.Close() // the server drops this replica
	if err := spool.Flush(); err != nil {
		stopProgress(false)
		return nil, fmt.Errorf("cannot write a temporary file: %w", err)
	}
	readTime := time.Since(start)
	opt.say("Read %d keys from the snapshot (RDB version %d, %d bytes) in %s", keys.Load(), info.Version, info.Bytes, readTime.Round(time.Millisecond))

	if version == 0 {
		version = info.Version
	}
	hdr := Header{FormatVersion: FormatVersion, CreatedAt: forkAt.UTC(), Service: opt.Service, SpecVersion: opt.SpecVersion,
		SourceAddr: c.Addr(), RedisVersion: si.Version, RDBVersion: version, RunID: si.RunID, Cut: cut,
		Generator: opt.Generator, TTLSource: redisstate.TTLPExpireTime, Databases: []DatabaseHeader{}}
	tr := Trailer{Databases: []DatabaseCount{}, ReadMs: readTime.Milliseconds()}
	for _, d := range dbs {
		d.hdr.Keys = info.Keys[d.hdr.DB] // as INFO keyspace showed at the fork (expired keys too)
		hdr.Databases = append(hdr.Databases, d.hdr)
		tr.Databases = append(tr.Databases, DatabaseCount{DB: d.hdr.DB, Records: d.n})
		tr.Records += d.n
	}
	bw, err := newBodyWriter(cw)
	if err == nil {
		err = bw.jsonSection(tagHeader, &hdr)
	}
	if err == nil {
		if _, err = spoolF.Seek(0, io.SeekStart); err == nil {
			_, err = io.Copy(bw, spoolF)
		}
	}
	for _, d := range dbs {
		if err == nil {
			err = writeFingerprint(bw, d.hdr.DB, d.snap.Dir)
		}
	}
	if err == nil {
		err = bw.finish(&tr)
	}
	stopProgress(err == nil)
	if err != nil {
		return nil, fmt.Errorf("cannot write the backup: %w", err)
	}
	opt.say("Writes were not paused (the backup is the server's state at its fork)")
	return &Result{Header: hdr, Records: tr.Records, Databases: tr.Databases, FileBytes: cw.n.Load(),
		ReadMs: readTime.Milliseconds(), Method: MethodReplication}, nil
}
