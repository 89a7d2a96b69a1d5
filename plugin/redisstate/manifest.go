package redisstate

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/cespare/xxhash/v2"

	"github.com/docker-stateful/docker-stateful/plugin/snapstore"
)

// NumShards is the number of manifest shards; a key's shard is the top byte of xxhash(key).
const NumShards = 256

// Record is one key of a manifest.
type Record struct {
	DB        int // logical database
	Key       string
	Type      KeyType
	ValueHash uint64
	ExpireAt  int64 // absolute unix ms (PEXPIRETIME); -1 = no TTL; 0 = unknown (TTL not read)
}

// manifest shard file format (shards/XX.bin): a sequence of records
//   uvarint(db)  uvarint(len(key)) key  type(1 byte)  valueHash(8 bytes LE)  varint(expireAt)
// (format 2, Summary.Format; format 0 snapshots, written before every database was
// fingerprinted and before checksums, are refused).
// Files are written by one scan and never modified.

// ManifestFormat is the format written by this version.
const ManifestFormat = 2

// dbKey identifies a key across logical databases.
type dbKey struct {
	db  int
	key string
}

// keyID is xxhash(key) for database 0 (as before databases were told apart) and
// xxhash(uvarint(db) ‖ key) for the others: the same key in two databases is two
// different keys.
func keyID(db int, key string) uint64 {
	if db == 0 {
		return xxhash.Sum64String(key)
	}
	d := xxhash.New()
	var b [binary.MaxVarintLen64]byte
	d.Write(b[:binary.PutUvarint(b[:], uint64(db))])
	d.WriteString(key)
	return d.Sum64()
}

const shardDirName = "shards"

func shardPath(dir string, shard int) string {
	return filepath.Join(dir, shardDirName, fmt.Sprintf("%02x.bin", shard))
}

// manifestWriter streams records into NumShards files with bounded buffers.
type manifestWriter struct {
	files [NumShards]*os.File
	bufs  [NumShards]*bufio.Writer
	rec   []byte // one encoded record
}

const shardBufSize = 16 << 10 // 256 × 16 KiB = 4 MiB of buffers

func newManifestWriter(dir string) (*manifestWriter, error) {
	if err := os.MkdirAll(filepath.Join(dir, shardDirName), 0o700); err != nil {
		return nil, err
	}
	w := &manifestWriter{}
	for i := 0; i < NumShards; i++ {
		f, err := os.OpenFile(shardPath(dir, i), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
		if err != nil {
			w.abort()
			return nil, err
		}
		w.files[i] = f
		w.bufs[i] = bufio.NewWriterSize(f, shardBufSize)
	}
	return w, nil
}

func (w *manifestWriter) write(shard, db int, key string, t KeyType, vh uint64, exp int64) error {
	w.rec = appendRecord(w.rec[:0], Record{DB: db, Key: key, Type: t, ValueHash: vh, ExpireAt: exp})
	_, err := w.bufs[shard].Write(w.rec)
	return err
}

// appendRecord appends r in the shard file format.
func appendRecord(b []byte, r Record) []byte {
	b = binary.AppendUvarint(b, uint64(r.DB))
	b = binary.AppendUvarint(b, uint64(len(r.Key)))
	b = append(b, r.Key...)
	b = append(b, byte(r.Type))
	b = binary.LittleEndian.AppendUint64(b, r.ValueHash)
	return binary.AppendVarint(b, r.ExpireAt)
}

func (w *manifestWriter) close() error {
	var first error
	for i := 0; i < NumShards; i++ {
		if w.files[i] == nil {
			continue
		}
		if err := w.bufs[i].Flush(); err != nil && first == nil {
			first = err
		}
		if err := w.files[i].Close(); err != nil && first == nil {
			first = err
		}
		w.files[i] = nil
	}
	return first
}

func (w *manifestWriter) abort() {
	for i := 0; i < NumShards; i++ {
		if w.files[i] != nil {
			w.files[i].Close()
			w.files[i] = nil
		}
	}
}

// syncManifest fsyncs the shard files and their directory (Store.Commit calls it, so the
// scan itself only writes to the page cache and its throughput does not depend on the
// state disk's fsync latency).
func syncManifest(dir string) error {
	for i := 0; i < NumShards; i++ {
		f, err := os.OpenFile(shardPath(dir, i), os.O_RDWR, 0)
		if err != nil {
			return err
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return err
		}
	}
	return snapstore.SyncDir(filepath.Join(dir, shardDirName))
}

// ReadShard calls fn for every record of one shard of the snapshot's manifest.
func ReadShard(s *Snapshot, shard int, fn func(Record) error) error {
	var want *FileSum
	if s.Summary != nil {
		if len(s.Summary.Files) == NumShards {
			want = &s.Summary.Files[shard]
		}
	}
	var fnErr error
	err := readShard(s.Dir, shard, want, func(r Record) error {
		fnErr = fn(r)
		return fnErr
	})
	switch {
	case err == nil:
		return nil
	case fnErr != nil:
		return fnErr
	}
	return &DamagedError{Snapshot: s.ID, Err: err}
}

// FileSum is the size and xxhash64 of one shard file, recorded at commit: a truncated or
// altered manifest is an error, never a verdict.
type FileSum struct {
	Bytes int64 `json:"bytes"`
	XXH   Hex64 `json:"xxh"`
}

// fileSum reads a file whole and returns its FileSum.
func fileSum(path string) (FileSum, error) {
	f, err := os.Open(path)
	if err != nil {
		return FileSum{}, err
	}
	defer f.Close()
	d := xxhash.New()
	n, err := io.Copy(d, f)
	return FileSum{Bytes: n, XXH: Hex64(d.Sum64())}, err
}

func readShard(dir string, shard int, want *FileSum, fn func(Record) error) error {
	f, err := os.Open(shardPath(dir, shard))
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	if want != nil && size != want.Bytes {
		return fmt.Errorf("shard %02x: %d bytes, %d when it was written", shard, size, want.Bytes)
	}
	d := xxhash.New()
	r := bufio.NewReaderSize(io.TeeReader(f, d), 64<<10)
	atEOF := func() error {
		if want != nil && Hex64(d.Sum64()) != want.XXH {
			return fmt.Errorf("shard %02x: its checksum differs from when it was written", shard)
		}
		return nil
	}
	var keyBuf []byte
	var fixed [9]byte
	for {
		n, err := binary.ReadUvarint(r)
		if err == io.EOF {
			return atEOF()
		}
		if err != nil {
			return fmt.Errorf("shard %02x: %w", shard, err)
		}
		if n > math.MaxInt32 {
			return fmt.Errorf("shard %02x: corrupt record (database %d)", shard, n)
		}
		db := int(n)
		kl, err := binary.ReadUvarint(r)
		if err != nil {
			return fmt.Errorf("shard %02x: %w", shard, truncated(err))
		}
		if kl > uint64(size) {
			return fmt.Errorf("shard %02x: corrupt record (key length %d)", shard, kl)
		}
		if uint64(cap(keyBuf)) < kl {
			keyBuf = make([]byte, kl)
		}
		keyBuf = keyBuf[:kl]
		if _, err := io.ReadFull(r, keyBuf); err != nil {
			return fmt.Errorf("shard %02x: %w", shard, truncated(err))
		}
		if _, err := io.ReadFull(r, fixed[:]); err != nil {
			return fmt.Errorf("shard %02x: %w", shard, truncated(err))
		}
		exp, err := binary.ReadVarint(r)
		if err != nil {
			return fmt.Errorf("shard %02x: %w", shard, truncated(err))
		}
		rec := Record{DB: db, Key: string(keyBuf), Type: KeyType(fixed[0]),
			ValueHash: binary.LittleEndian.Uint64(fixed[1:]), ExpireAt: exp}
		if err := fn(rec); err != nil {
			return err
		}
	}
}

func truncated(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// loadShard reads one shard into a map (duplicates from SCAN collapse).
func loadShard(s *Snapshot, shard int) (map[dbKey]Record, error) {
	m := make(map[dbKey]Record)
	err := ReadShard(s, shard, func(r Record) error { m[dbKey{r.DB, r.Key}] = r; return nil })
	return m, err
}
