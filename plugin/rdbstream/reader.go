package rdbstream

import (
	"errors"
	"fmt"
	"hash/crc64"
	"io"
)

// reader is a buffered reader that keeps the CRC64 of what was consumed (the RDB
// checksum covers every byte before it) and, while rec is set, a copy of the consumed
// bytes (a key's value: its DUMP payload).
type reader struct {
	src    io.Reader
	buf    []byte
	r, w   int
	crcPos int // buf[:crcPos] is in crc
	crc    uint64
	n      int64 // bytes consumed
	rec    bool
	raw    []byte
	srcErr error
}

// crcTable is Redis' CRC64 (Jones polynomial, reflected, no final xor).
var crcTable = crc64.MakeTable(0x95ac9329ac4bc9b5)

// CRC64 is Redis' CRC64 of p (RDB checksums, DUMP footers).
func CRC64(p []byte) uint64 { return crcUpdate(0, p) }

func crcUpdate(crc uint64, p []byte) uint64 { return ^crc64.Update(^crc, crcTable, p) }

func newReader(src io.Reader, size int) *reader { return &reader{src: src, buf: make([]byte, size)} }

// fill makes at least n bytes available.
func (r *reader) fill(n int) error {
	for r.w-r.r < n {
		if r.srcErr != nil {
			if r.srcErr == io.EOF {
				return io.ErrUnexpectedEOF
			}
			return r.srcErr
		}
		if r.r > 0 { // shift the unread bytes to the front
			r.crc = crcUpdate(r.crc, r.buf[r.crcPos:r.r])
			copy(r.buf, r.buf[r.r:r.w])
			r.w -= r.r
			r.r, r.crcPos = 0, 0
		}
		if r.w == len(r.buf) { // grow as data arrives, never ahead of it
			nb := make([]byte, 2*len(r.buf))
			copy(nb, r.buf[:r.w])
			r.buf = nb
		}
		m, err := r.src.Read(r.buf[r.w:])
		r.w += m
		if err != nil {
			r.srcErr = err
		}
	}
	return nil
}

// next consumes n bytes; the slice is valid until the next read.
func (r *reader) next(n int) ([]byte, error) {
	if n < 0 {
		return nil, errors.New("negative length")
	}
	if err := r.fill(n); err != nil {
		return nil, err
	}
	b := r.buf[r.r : r.r+n]
	r.r += n
	r.n += int64(n)
	if r.rec {
		r.raw = append(r.raw, b...)
	}
	return b, nil
}

func (r *reader) byte() (byte, error) {
	b, err := r.next(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

// sum is the CRC64 of every byte consumed.
func (r *reader) sum() uint64 {
	r.crc = crcUpdate(r.crc, r.buf[r.crcPos:r.r])
	r.crcPos = r.r
	return r.crc
}

// FormatError is an RDB payload this reader cannot parse.
type FormatError struct {
	Offset int64
	Msg    string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("RDB payload at byte %d: %s", e.Offset, e.Msg)
}
