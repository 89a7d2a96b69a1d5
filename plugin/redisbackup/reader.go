package redisbackup

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Verified is what the first pass over a file proved: the whole body is there, every byte
// hashes to the trailer's hash, the record counts match. Nothing is written to Redis before.
type Verified struct {
	Path    string // the file read
	Name    string // how messages name it (the path, or "stdin")
	Header  Header
	Trailer Trailer
	// FingerprintDir holds the fingerprint files of the cut, extracted (with
	// their relative paths) so that redisstate can load them.
	FingerprintDir string
}

// VerifyFile reads the whole file once: magic, format version, zstd frames (their CRCs),
// sections, the body hash and the record counts of the trailer, then the seal (the hash
// of the file's bytes). The fingerprint files are
// extracted under tmpDir. Any problem is a *FileError.
func VerifyFile(path, tmpDir string) (*Verified, error) { return verifyFile(path, path, tmpDir) }

func verifyFile(path, name, tmpDir string) (*Verified, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &FileError{name, fmt.Sprintf("cannot open: %v", pathlessErr(err))}
	}
	defer f.Close()
	b, err := openBody(f, name)
	if err != nil {
		return nil, err
	}
	defer b.close()
	v := &Verified{Path: path, Name: name, FingerprintDir: filepath.Join(tmpDir, "fingerprint")}
	if err := b.verify(v); err != nil {
		return nil, b.corrupt(err)
	}
	if b.version >= 2 {
		if err := checkSeal(f, name); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// CheckReadable is a cheap first check of a backup file (it opens and reads the magic), for
// callers that want to refuse a wrong path before contacting Redis. VerifyFile checks all.
func CheckReadable(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return &FileError{path, fmt.Sprintf("cannot open: %v", pathlessErr(err))}
	}
	defer f.Close()
	b, err := openBody(f, path)
	if err != nil {
		return err
	}
	b.close()
	return nil
}

func pathlessErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

func (b *bodyReader) verify(v *Verified) error {
	var (
		haveHeader bool
		records    int64
		perDB      = map[int]int64{}
		dbOrder    []int
		curDB      = -1
	)
	for {
		tag, length, hashBefore, posBefore, err := b.next()
		if err != nil {
			return err
		}
		if !haveHeader && tag != tagHeader {
			return &FileError{b.path, "corrupt: the body does not start with the backup header"}
		}
		switch tag {
		case tagHeader:
			if haveHeader {
				return &FileError{b.path, "corrupt: two headers"}
			}
			if err := b.readJSON(length, &v.Header); err != nil {
				return err
			}
			haveHeader = true
		case tagFingerprint:
			if err := b.extract(length, v.FingerprintDir); err != nil {
				return err
			}
		case tagDatabase:
			if length > binary.MaxVarintLen64 {
				return &FileError{b.path, "corrupt: bad database section"}
			}
			p := make([]byte, length)
			if err := b.readFull(p); err != nil {
				return err
			}
			db, n := binary.Uvarint(p)
			if n != len(p) {
				return &FileError{b.path, "corrupt: bad database section"}
			}
			curDB = int(db)
			if _, seen := perDB[curDB]; !seen {
				dbOrder = append(dbOrder, curDB)
			}
			perDB[curDB] += 0
		case tagKey:
			if curDB < 0 {
				return &FileError{b.path, "corrupt: a key before any database section"}
			}
			if err := b.discard(length); err != nil {
				return err
			}
			records++
			perDB[curDB]++
		case tagTrailer:
			if err := b.readJSON(length, &v.Trailer); err != nil {
				return err
			}
			t := &v.Trailer
			if t.BodyBytes != posBefore || t.XXHash64 != fmt.Sprintf("%016x", hashBefore) {
				return &FileError{b.path, fmt.Sprintf("corrupt: checksum mismatch (body hash %016x over %d bytes, trailer says %s over %d)", hashBefore, posBefore, t.XXHash64, t.BodyBytes)}
			}
			if t.Records != records {
				return &FileError{b.path, fmt.Sprintf("corrupt: %d records, the trailer says %d", records, t.Records)}
			}
			for _, d := range t.Databases {
				if perDB[d.DB] != d.Records {
					return &FileError{b.path, fmt.Sprintf("corrupt: database %d has %d records, the trailer says %d", d.DB, perDB[d.DB], d.Records)}
				}
			}
			if len(t.Databases) != len(dbOrder) {
				return &FileError{b.path, fmt.Sprintf("corrupt: %d database sections, the trailer lists %d", len(dbOrder), len(t.Databases))}
			}
			// Nothing may follow the trailer (and the zstd stream must end cleanly).
			if _, err := b.ReadByte(); err != io.EOF {
				return &FileError{b.path, "corrupt: data after the trailer"}
			}
			if v.Header.FormatVersion != b.version {
				return &FileError{b.path, fmt.Sprintf("corrupt: header format version %d", v.Header.FormatVersion)}
			}
			return nil
		default:
			return &FileError{b.path, fmt.Sprintf("corrupt: unknown section %q at body byte %d", tag, posBefore)}
		}
	}
}

func (b *bodyReader) readJSON(length uint64, v any) error {
	if length > maxJSONSection {
		return &FileError{b.path, fmt.Sprintf("corrupt: a %d-byte metadata section", length)}
	}
	p := make([]byte, length)
	if err := b.readFull(p); err != nil {
		return err
	}
	if err := json.Unmarshal(p, v); err != nil {
		return &FileError{b.path, fmt.Sprintf("corrupt: unreadable metadata (%v)", err)}
	}
	return nil
}

// extract writes one F section (relative path, then the file's bytes) under dir.
func (b *bodyReader) extract(length uint64, dir string) error {
	pl, err := binary.ReadUvarint(b)
	if err != nil {
		return err
	}
	if pl == 0 || pl > 4096 || pl+uint64(uvarintLen(pl)) > length {
		return &FileError{b.path, "corrupt: bad fingerprint section"}
	}
	p := make([]byte, pl)
	if err := b.readFull(p); err != nil {
		return err
	}
	rel := filepath.FromSlash(string(p))
	if filepath.IsAbs(rel) || rel != filepath.Clean(rel) || strings.HasPrefix(rel, "..") {
		return &FileError{b.path, fmt.Sprintf("corrupt: bad fingerprint file name %q", p)}
	}
	dst := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	n := int64(length - pl - uint64(uvarintLen(pl)))
	m, err := io.CopyN(io.MultiWriter(f, b.h), b.br, n)
	b.n += m
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// readRecords is the second pass over a verified file: fn gets each record in file order.
// Record.Key and Record.Payload are only valid during the call.
func readRecords(path, name string, fn func(Record) error) error {
	f, err := os.Open(path)
	if err != nil {
		return &FileError{name, fmt.Sprintf("cannot open: %v", pathlessErr(err))}
	}
	defer f.Close()
	b, err := openBody(f, name)
	if err != nil {
		return err
	}
	defer b.close()
	var buf []byte
	db := -1
	for {
		tag, length, _, _, err := b.next()
		if err != nil {
			return b.corrupt(err)
		}
		switch tag {
		case tagKey:
			if uint64(cap(buf)) < length {
				buf = make([]byte, length)
			}
			buf = buf[:length]
			if err := b.readFull(buf); err != nil {
				return b.corrupt(err)
			}
			rec, err := parseKey(buf)
			if err != nil {
				return &FileError{name, err.Error()}
			}
			rec.DB = db
			if err := fn(rec); err != nil {
				return err
			}
		case tagDatabase:
			d, err := binary.ReadUvarint(b)
			if err != nil {
				return b.corrupt(err)
			}
			db = int(d)
		case tagTrailer:
			return nil
		default:
			if err := b.discard(length); err != nil {
				return b.corrupt(err)
			}
		}
	}
}

func parseKey(p []byte) (Record, error) {
	kl, n := binary.Uvarint(p)
	if n <= 0 || kl > maxKeyLen || uint64(len(p)-n) < kl {
		return Record{}, fmt.Errorf("corrupt key record")
	}
	p = p[n:]
	key := p[:kl]
	p = p[kl:]
	pl, n := binary.Uvarint(p)
	if n <= 0 || uint64(len(p)-n) < pl {
		return Record{}, fmt.Errorf("corrupt key record")
	}
	p = p[n:]
	payload := p[:pl]
	p = p[pl:]
	exp, n := binary.Varint(p)
	if n <= 0 || n != len(p) {
		return Record{}, fmt.Errorf("corrupt key record")
	}
	return Record{Key: string(key), Payload: payload, ExpireAt: exp}, nil
}
