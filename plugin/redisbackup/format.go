package redisbackup

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"os"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/compress/zstd"

	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
)

// The file layout is documented in docs/backup-format.md; keep both in step.

// Magic starts every backup file (8 bytes, not compressed), followed by the format
// version as a big-endian uint16, one zstd stream holding the body and (from version 2)
// the file seal.
const Magic = "\x89DSRBK\r\n"

// FormatVersion is the version this code writes and the newest it reads. Version 1
// files (no seal) are still read.
const FormatVersion = 2

// The seal ends a version 2 file: a zstd skippable frame (so that the bytes after the
// prefix stay one valid zstd stream) holding the XXH64 of every byte of the file before
// it. The body hash of the trailer proves the decoded body; the seal also catches a
// flipped bit that zstd ignores (reserved header bits, window size, padding), so that
// any change to the file is refused.
const (
	sealLen   = 20
	sealMagic = "\x5d\x2a\x4d\x18" // skippable frame 0x184D2A5D, little-endian
	sealTag   = "DSFS"
)

var sealFrameSize = [4]byte{sealLen - 8, 0, 0, 0} // little-endian uint32: the tag and the hash

func appendSeal(dst []byte, sum uint64) []byte {
	dst = append(dst, sealMagic...)
	dst = append(dst, sealFrameSize[:]...)
	dst = append(dst, sealTag...)
	return binary.LittleEndian.AppendUint64(dst, sum)
}

// Section tags of the body.
const (
	tagHeader      = 'H' // JSON Header, first
	tagFingerprint = 'F' // one file of the fingerprint of the cut: uvarint(len(path)) path bytes
	tagDatabase    = 'D' // uvarint(db): the records that follow belong to it
	tagKey         = 'K' // uvarint(len(key)) key uvarint(len(payload)) payload varint(expire_at_ms)
	tagTrailer     = 'T' // JSON Trailer, last; nothing may follow
)

// Limits that keep a corrupt length from allocating gigabytes before the checksum is reached.
const (
	maxJSONSection = 64 << 20
	maxKeyLen      = 512 << 20
)

// Header is the first section: what the file holds and the proof of it.
type Header struct {
	FormatVersion int                `json:"format_version"`
	CreatedAt     time.Time          `json:"created_at"`
	Service       string             `json:"service,omitempty"`
	SpecVersion   uint64             `json:"spec_version,omitempty"`
	SourceAddr    string             `json:"source_addr"`
	RedisVersion  string             `json:"redis_version"`
	RDBVersion    int                `json:"rdb_version"` // of every payload (DUMP footer)
	RunID         string             `json:"run_id"`
	TTLSource     string             `json:"ttl_source"` // "pexpiretime" (exact) or "pttl" (Redis < 7: cut time + PTTL)
	Cut           redisstate.CutInfo `json:"cut"`
	Databases     []DatabaseHeader   `json:"databases"`
	Generator     string             `json:"generator,omitempty"` // docker-stateful version
}

// DatabaseHeader is one logical database at the cut.
type DatabaseHeader struct {
	DB      int   `json:"db"`
	Keys    int64 `json:"keys"`    // INFO keyspace at the cut
	Expires int64 `json:"expires"` // keys with a TTL at the cut
	// Fingerprint of the database at the cut, as redisstate computes it (its full
	// summary and manifest are in the F sections).
	Fingerprint FingerprintRef `json:"fingerprint"`
}

// FingerprintRef names the fingerprint of one database.
type FingerprintRef struct {
	SnapshotID string `json:"snapshot_id"`
	Keys       int64  `json:"keys"`
	Digest     string `json:"digest"`
}

// Trailer is the last section: what a reader must have seen.
type Trailer struct {
	Records   int64           `json:"records"`
	Databases []DatabaseCount `json:"databases"`
	BodyBytes int64           `json:"body_bytes"` // uncompressed bytes before the trailer's tag
	XXHash64  string          `json:"xxhash64"`   // of those bytes, 16 hex digits
	ReadMs    int64           `json:"read_ms"`
	PauseMs   int64           `json:"write_pause_ms"`
}

// DatabaseCount is the number of records written for one database.
type DatabaseCount struct {
	DB      int   `json:"db"`
	Records int64 `json:"records"`
}

// FileError is a backup file that cannot be used: foreign, truncated, corrupt or of a newer
// format. Its message is one line naming the file and what is wrong.
type FileError struct {
	Path string
	Msg  string
}

func (e *FileError) Error() string {
	if e.Path == "" {
		return "backup: " + e.Msg
	}
	return "backup file " + e.Path + ": " + e.Msg
}

// bodyWriter writes sections into the zstd stream and hashes every byte: the body's
// bytes for the trailer, the file's bytes (prefix and compressed stream) for the seal.
type bodyWriter struct {
	out  io.Writer
	file *hashingWriter
	enc  *zstd.Encoder
	bw   *bufio.Writer
	h    *xxhash.Digest
	n    int64
	tmp  [2*binary.MaxVarintLen64 + 1]byte
}

type hashingWriter struct {
	w io.Writer
	h *xxhash.Digest
}

func (hw *hashingWriter) Write(p []byte) (int, error) {
	n, err := hw.w.Write(p)
	hw.h.Write(p[:n])
	return n, err
}

func newBodyWriter(out io.Writer) (*bodyWriter, error) {
	w := &hashingWriter{w: out, h: xxhash.New()}
	var pre [len(Magic) + 2]byte
	copy(pre[:], Magic)
	binary.BigEndian.PutUint16(pre[len(Magic):], FormatVersion)
	if _, err := w.Write(pre[:]); err != nil {
		return nil, err
	}
	// One encoder goroutine and a 2 MiB window keep the client's memory flat; the
	// CRC of each zstd frame is on (the default) in addition to the body hash.
	enc, err := zstd.NewWriter(w, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(2<<20),
		zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		return nil, err
	}
	return &bodyWriter{out: out, file: w, enc: enc, bw: bufio.NewWriterSize(enc, 256<<10), h: xxhash.New()}, nil
}

func (b *bodyWriter) Write(p []byte) (int, error) {
	b.h.Write(p)
	b.n += int64(len(p))
	return b.bw.Write(p)
}

func (b *bodyWriter) section(tag byte, body []byte) error {
	b.tmp[0] = tag
	n := binary.PutUvarint(b.tmp[1:], uint64(len(body)))
	if _, err := b.Write(b.tmp[:1+n]); err != nil {
		return err
	}
	_, err := b.Write(body)
	return err
}

func (b *bodyWriter) jsonSection(tag byte, v any) error {
	j, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.section(tag, j)
}

// finish writes the trailer (with the hash of the body before it), closes the stream and
// seals the file.
func (b *bodyWriter) finish(t *Trailer) error {
	t.BodyBytes = b.n
	t.XXHash64 = fmt.Sprintf("%016x", b.h.Sum64())
	if err := b.jsonSection(tagTrailer, t); err != nil {
		return err
	}
	if err := b.bw.Flush(); err != nil {
		return err
	}
	if err := b.enc.Close(); err != nil {
		return err
	}
	_, err := b.out.Write(appendSeal(nil, b.file.h.Sum64()))
	return err
}

// appendKey appends one K section to dst.
func appendKey(dst []byte, key string, payload []byte, expireAt int64) []byte {
	bl := len(key) + len(payload) + uvarintLen(uint64(len(key))) + uvarintLen(uint64(len(payload))) + varintLen(expireAt)
	dst = append(dst, tagKey)
	dst = binary.AppendUvarint(dst, uint64(bl))
	dst = binary.AppendUvarint(dst, uint64(len(key)))
	dst = append(dst, key...)
	dst = binary.AppendUvarint(dst, uint64(len(payload)))
	dst = append(dst, payload...)
	return binary.AppendVarint(dst, expireAt)
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func varintLen(v int64) int {
	ux := uint64(v) << 1
	if v < 0 {
		ux = ^ux
	}
	return uvarintLen(ux)
}

// Record is one key of a backup.
type Record struct {
	DB       int
	Key      string
	Payload  []byte // DUMP format: type, RDB value, 2-byte RDB version, CRC64
	ExpireAt int64  // absolute unix ms, -1 none
}

// bodyReader decodes a backup file section by section.
type bodyReader struct {
	path    string
	version int
	dec     *zstd.Decoder
	br      *bufio.Reader
	h       *xxhash.Digest
	n       int64 // body bytes consumed
}

// openBody checks the file's prefix and starts decoding its zstd stream (without the
// seal of a version 2 file: checkSeal reads that).
func openBody(f *os.File, path string) (*bodyReader, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, &FileError{path, fmt.Sprintf("cannot read: %v", pathlessErr(err))}
	}
	var pre [len(Magic) + 2]byte
	if n, err := f.ReadAt(pre[:], 0); err != nil {
		if n == 0 {
			return nil, &FileError{path, "empty file, not a docker-stateful backup"}
		}
		if m := min(n, len(Magic)); string(pre[:m]) == Magic[:m] {
			return nil, &FileError{path, "truncated (ends inside the file header)"}
		}
		return nil, &FileError{path, "not a docker-stateful backup (no backup header)"}
	}
	if string(pre[:len(Magic)]) != Magic {
		return nil, &FileError{path, "not a docker-stateful backup (no backup header)"}
	}
	v := int(binary.BigEndian.Uint16(pre[len(Magic):]))
	if v > FormatVersion {
		return nil, &FileError{path, fmt.Sprintf("format version %d is newer than this docker-stateful reads (%d): use a newer docker-stateful", v, FormatVersion)}
	}
	if v < 1 {
		return nil, &FileError{path, fmt.Sprintf("corrupt or foreign: unknown format version %d", v)}
	}
	end := st.Size()
	if v >= 2 {
		end -= sealLen
	}
	if end < int64(len(pre)) {
		return nil, &FileError{path, "truncated (ends inside the file header)"}
	}
	dec, err := zstd.NewReader(io.NewSectionReader(f, int64(len(pre)), end-int64(len(pre))),
		zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(64<<20))
	if err != nil {
		return nil, err
	}
	return &bodyReader{path: path, version: v, dec: dec, br: bufio.NewReaderSize(dec, 256<<10), h: xxhash.New()}, nil
}

// checkSeal proves that no byte of a version 2 file changed since it was written.
func checkSeal(f *os.File, path string) error {
	st, err := f.Stat()
	if err != nil {
		return &FileError{path, fmt.Sprintf("cannot read: %v", pathlessErr(err))}
	}
	body := st.Size() - sealLen
	var seal [sealLen]byte
	if body < 0 {
		return &FileError{path, "truncated (no file checksum at its end)"}
	}
	if _, err := f.ReadAt(seal[:], body); err != nil {
		return &FileError{path, fmt.Sprintf("cannot read: %v", pathlessErr(err))}
	}
	if string(seal[:4]) != sealMagic || [4]byte(seal[4:8]) != sealFrameSize || string(seal[8:12]) != sealTag {
		return &FileError{path, "corrupt: the file checksum at its end is missing or damaged: the file was cut short or changed after it was written"}
	}
	h := xxhash.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, body)); err != nil {
		return &FileError{path, fmt.Sprintf("cannot read: %v", pathlessErr(err))}
	}
	if got, want := h.Sum64(), binary.LittleEndian.Uint64(seal[12:]); got != want {
		return &FileError{path, fmt.Sprintf("corrupt: file checksum mismatch (xxhash64 %016x over %d bytes, the file says %016x): the file was damaged after it was written", got, body, want)}
	}
	return nil
}

func (b *bodyReader) close() { b.dec.Close() }

// corrupt turns a decoding error into a one-line FileError.
func (b *bodyReader) corrupt(err error) error {
	var fe *FileError
	if errors.As(err, &fe) {
		return err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return &FileError{b.path, fmt.Sprintf("truncated (the data ends after %d bytes, before the trailer): the backup was not written completely", b.n)}
	}
	return &FileError{b.path, fmt.Sprintf("corrupt (%v at body byte %d): the file was damaged after it was written", err, b.n)}
}

func (b *bodyReader) ReadByte() (byte, error) {
	c, err := b.br.ReadByte()
	if err == nil {
		b.h.Write([]byte{c})
		b.n++
	}
	return c, err
}

func (b *bodyReader) readFull(p []byte) error {
	_, err := io.ReadFull(b.br, p)
	if err != nil {
		return err
	}
	b.h.Write(p)
	b.n += int64(len(p))
	return nil
}

// discard hashes n bytes without keeping them (the verification pass).
func (b *bodyReader) discard(n uint64) error {
	m, err := io.CopyN(b.h, b.br, int64(n))
	b.n += m
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// next reads a section's tag and length. The hash state before the tag is returned so that
// the trailer can be checked against the bytes before it.
func (b *bodyReader) next() (tag byte, length uint64, hashBefore uint64, posBefore int64, err error) {
	hashBefore, posBefore = b.h.Sum64(), b.n
	tag, err = b.ReadByte()
	if err != nil {
		return 0, 0, 0, 0, err
	}
	length, err = binary.ReadUvarint(b)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return tag, length, hashBefore, posBefore, err
}

// crcTable is Redis' CRC64 (Jones polynomial, reflected, no final xor); DUMP footers use it.
var crcTable = crc64.MakeTable(0x95ac9329ac4bc9b5)

func redisCRC64(p []byte) uint64 { return ^crc64.Update(^uint64(0), crcTable, p) }

// stringPayload builds the DUMP payload of a string value, as Redis' DUMP would (without
// its optional LZF compression): type 0, the RDB length-prefixed string, the RDB version,
// the CRC64. Strings read with MGET cost the server far less than DUMP.
func stringPayload(dst []byte, v string, rdbVersion int) []byte {
	start := len(dst)
	dst = append(dst, 0) // RDB_TYPE_STRING
	l := uint64(len(v))
	switch {
	case l < 1<<6:
		dst = append(dst, byte(l))
	case l < 1<<14:
		dst = append(dst, byte(l>>8)|0x40, byte(l))
	case l <= 0xffffffff:
		dst = append(dst, 0x80)
		dst = binary.BigEndian.AppendUint32(dst, uint32(l))
	default:
		dst = append(dst, 0x81)
		dst = binary.BigEndian.AppendUint64(dst, l)
	}
	dst = append(dst, v...)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(rdbVersion))
	return binary.LittleEndian.AppendUint64(dst, redisCRC64(dst[start:]))
}

// payloadRDBVersion reads the RDB version from a DUMP payload's footer (-1 if too short).
func payloadRDBVersion(p []byte) int {
	if len(p) < 10 {
		return -1
	}
	return int(binary.LittleEndian.Uint16(p[len(p)-10:]))
}
