package redisstate

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/redis/go-redis/v9"
)

// respConn is a plain RESP2 connection for the fingerprint's MGET: go-redis reads a reply
// whole, so a batch of 1000 keys held every value (1000 × 50 MB values: 50 GB). Here each
// bulk string is hashed as it arrives through a fixed buffer, so client memory does not
// depend on value sizes. It dials like the Client (go-redis' dialer: TCP or TLS), then
// AUTH and SELECT.
type respConn struct {
	nc      net.Conn
	r       *bufio.Reader
	w       *bufio.Writer
	timeout time.Duration
	hdr     []byte
	scratch []byte // writeLen's header
	small   []byte // bulkSmall's value
}

const respBufSize = 64 << 10

func (c *Client) dialRESP(ctx context.Context, db int) (*respConn, error) {
	o := c.rdb.Options()
	dial := o.Dialer
	if dial == nil {
		dial = redis.NewDialer(o)
	}
	nc, err := dial(ctx, "tcp", o.Addr)
	if err != nil {
		return nil, c.describe(err)
	}
	rc := &respConn{nc: nc, r: bufio.NewReaderSize(nc, respBufSize), w: bufio.NewWriterSize(nc, respBufSize), timeout: o.ReadTimeout}
	if o.Password != "" {
		if o.Username != "" {
			rc.write("AUTH", o.Username, o.Password)
		} else {
			rc.write("AUTH", o.Password)
		}
	}
	if db != 0 {
		rc.write("SELECT", strconv.Itoa(db))
	}
	if err := rc.flush(); err != nil {
		rc.close()
		return nil, c.describe(err)
	}
	for n := 0; n < 2; n++ {
		if (n == 0 && o.Password == "") || (n == 1 && db == 0) {
			continue
		}
		if err := rc.readOK(); err != nil {
			rc.close()
			return nil, c.describe(err)
		}
	}
	return rc, nil
}

func (rc *respConn) close() { rc.nc.Close() }

// deadline renews the read deadline when the next read may block: it bounds each wait for
// data, not a whole reply (a big value takes long to arrive).
func (rc *respConn) deadline() {
	if rc.r.Buffered() == 0 {
		rc.nc.SetReadDeadline(time.Now().Add(rc.timeout))
	}
}

// write buffers one command.
func (rc *respConn) write(args ...string) {
	rc.writeLen('*', len(args))
	for _, a := range args {
		rc.writeBulk(a)
	}
}

// writeMGET buffers MGET keys... without building an argument slice.
func (rc *respConn) writeMGET(keys []string) {
	rc.writeLen('*', len(keys)+1)
	rc.writeBulk("MGET")
	for _, k := range keys {
		rc.writeBulk(k)
	}
}

// writeLen buffers an array or bulk string header ("*3\r\n", "$5\r\n") without allocating.
func (rc *respConn) writeLen(prefix byte, n int) {
	b := append(rc.scratch[:0], prefix)
	b = strconv.AppendInt(b, int64(n), 10)
	rc.scratch = append(b, '\r', '\n')
	rc.w.Write(rc.scratch)
}

func (rc *respConn) writeBulk(a string) {
	rc.writeLen('$', len(a))
	rc.w.WriteString(a)
	rc.w.WriteString("\r\n")
}

func (rc *respConn) flush() error {
	rc.nc.SetDeadline(time.Now().Add(rc.timeout))
	return rc.w.Flush()
}

// line reads one reply header line (without \r\n); an error reply is returned as an error
// with Redis' text (a redis.Error, like go-redis').
func (rc *respConn) line() (byte, []byte, error) {
	rc.deadline()
	b, err := rc.r.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return 0, nil, errors.New("RESP: reply line too long")
		}
		return 0, nil, err
	}
	if len(b) < 3 || b[len(b)-2] != '\r' {
		return 0, nil, fmt.Errorf("RESP: malformed reply %q", b)
	}
	rc.hdr = append(rc.hdr[:0], b[1:len(b)-2]...)
	if b[0] == '-' {
		return 0, nil, redisError(string(rc.hdr))
	}
	return b[0], rc.hdr, nil
}

type redisError string

func (e redisError) Error() string { return string(e) }
func (redisError) RedisError()     {}

func (rc *respConn) readOK() error {
	t, b, err := rc.line()
	if err != nil {
		return err
	}
	if t != '+' {
		return fmt.Errorf("RESP: unexpected reply %c%s", t, b)
	}
	return nil
}

func (rc *respConn) readInt() (int64, error) {
	t, b, err := rc.line()
	if err != nil {
		return 0, err
	}
	if t != ':' {
		return 0, fmt.Errorf("RESP: expected an integer, got %c%s", t, b)
	}
	return strconv.ParseInt(string(b), 10, 64)
}

func (rc *respConn) readArrayLen() (int, error) {
	t, b, err := rc.line()
	if err != nil {
		return 0, err
	}
	if t != '*' {
		return 0, fmt.Errorf("RESP: expected an array, got %c%s", t, b)
	}
	return strconv.Atoi(string(b))
}

// readBulkHash reads one bulk string and returns xxhash64 of its bytes, streaming them
// through the read buffer; null is reported as nil.
func (rc *respConn) readBulkHash(d *xxhash.Digest) (h uint64, null bool, err error) {
	return rc.readBulkHashTrim(d, 0)
}

// readBulkHashTrim is readBulkHash leaving out the last trim bytes of the value.
func (rc *respConn) readBulkHashTrim(d *xxhash.Digest, trim int) (uint64, bool, error) {
	n, null, err := rc.bulkLen()
	if err != nil || null {
		return 0, null, err
	}
	d.Reset()
	if trim == 0 && n >= hllHeader {
		// A string: stringHash's rule for a HyperLogLog's cached count, streamed.
		var head [hllHeader]byte
		rc.deadline()
		if _, err := io.ReadFull(rc.r, head[:]); err != nil {
			return 0, false, truncated(err)
		}
		hllCacheOut(head[:])
		d.Write(head[:])
		if err := rc.stream(d, n-hllHeader); err != nil {
			return 0, false, err
		}
		return d.Sum64(), false, rc.crlf()
	}
	keep := n - int64(trim)
	if keep < 0 {
		keep = n // shorter than the footer: hash it all
	}
	if err := rc.stream(d, keep); err != nil {
		return 0, false, err
	}
	if err := rc.stream(nil, n-keep); err != nil {
		return 0, false, err
	}
	return d.Sum64(), false, rc.crlf()
}

// readBulkInto writes uvarint(len) and the bytes of one bulk string to d (the element
// encoding of the fingerprint), streaming them; null writes nothing.
func (rc *respConn) readBulkInto(d *xxhash.Digest) (null bool, err error) {
	n, null, err := rc.bulkLen()
	if err != nil || null {
		return null, err
	}
	var lb [binary.MaxVarintLen64]byte
	d.Write(lb[:binary.PutUvarint(lb[:], uint64(n))])
	if err := rc.stream(d, n); err != nil {
		return false, err
	}
	return false, rc.crlf()
}

// readBulkSmall reads a bulk string of at most max bytes (cursors, ids, scores).
func (rc *respConn) readBulkSmall(max int64) (string, bool, error) {
	b, null, err := rc.bulkSmall(max)
	return string(b), null, err
}

// bulkSmall is readBulkSmall without a copy: the bytes are valid until the next read.
func (rc *respConn) bulkSmall(max int64) ([]byte, bool, error) {
	n, null, err := rc.bulkLen()
	if err != nil || null {
		return nil, null, err
	}
	if n > max {
		return nil, false, fmt.Errorf("RESP: %d-byte reply where at most %d were expected", n, max)
	}
	rc.small = slices.Grow(rc.small[:0], int(n)+2)[:n+2]
	rc.deadline()
	if _, err := io.ReadFull(rc.r, rc.small); err != nil {
		return nil, false, truncated(err)
	}
	return rc.small[:n], false, nil
}

func (rc *respConn) bulkLen() (int64, bool, error) {
	t, b, err := rc.line()
	if err != nil {
		return 0, false, err
	}
	if t != '$' {
		return 0, false, fmt.Errorf("RESP: expected a bulk string, got %c%s", t, b)
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("RESP: bad bulk length %q", b)
	}
	return n, n < 0, nil
}

// stream passes the next n bytes to d (nil: discards them) through the read buffer.
func (rc *respConn) stream(d *xxhash.Digest, n int64) error {
	for n > 0 {
		rc.deadline()
		if rc.r.Buffered() == 0 {
			if _, err := rc.r.Peek(1); err != nil { // fills the buffer
				return truncated(err)
			}
		}
		chunk, _ := rc.r.Peek(int(min(n, int64(rc.r.Buffered()))))
		if d != nil {
			d.Write(chunk)
		}
		rc.r.Discard(len(chunk))
		n -= int64(len(chunk))
	}
	return nil
}

func (rc *respConn) crlf() error {
	var b [2]byte
	if _, err := io.ReadFull(rc.r, b[:]); err != nil {
		return truncated(err)
	}
	if b != [2]byte{'\r', '\n'} {
		return errors.New("RESP: bulk string not followed by CRLF")
	}
	return nil
}

// readScalar reads one reply of any type: an integer, a simple string or a bulk string of
// at most max bytes is returned as text; a longer bulk string, an array or null is read
// past and returned as "".
func (rc *respConn) readScalar(max int64) (string, error) {
	t, b, err := rc.line()
	if err != nil {
		return "", err
	}
	switch t {
	case ':', '+':
		return string(b), nil
	case '$':
		n, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			return "", fmt.Errorf("RESP: bad bulk length %q", b)
		}
		if n < 0 {
			return "", nil
		}
		if n > max {
			if err := rc.stream(nil, n); err != nil {
				return "", err
			}
			return "", rc.crlf()
		}
		v := make([]byte, n+2)
		if _, err := io.ReadFull(rc.r, v); err != nil {
			return "", truncated(err)
		}
		return string(v[:n]), nil
	case '*':
		n, err := strconv.Atoi(string(b))
		if err != nil {
			return "", fmt.Errorf("RESP: bad array length %q", b)
		}
		for i := 0; i < n; i++ {
			if _, err := rc.readScalar(0); err != nil {
				return "", err
			}
		}
		return "", nil
	}
	return "", fmt.Errorf("RESP: unexpected reply %c%s", t, b)
}
