package redisstate

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// slowPath handles the keys of a batch that MGET did not answer (non-strings) on the
// worker's RESP connection: one pipeline of TYPE, then one pipeline with the first page
// of each key (a small collection is whole in it), then further pages key by key. Every
// element is hashed as it arrives, so memory does not depend on element sizes.
func (w *fpWorker) slowPath(ctx context.Context, keys []string) error {
	rc, err := w.resp(ctx)
	if err != nil {
		return fmt.Errorf("reading keys: %w", err)
	}
	fail := func(err error) error {
		rc.close() // the connection's replies are out of step: dial again next time
		delete(w.resps, w.db)
		return fmt.Errorf("reading keys: %w", w.c.describe(err))
	}
	for _, i := range w.slow {
		rc.write("TYPE", keys[i])
	}
	if err := rc.flush(); err != nil {
		return fail(err)
	}
	w.vals = slices.Grow(w.vals[:0], len(w.slow))[:len(w.slow)]
	for j, i := range w.slow {
		t, name, err := rc.line()
		if err == nil && t != '+' {
			err = fmt.Errorf("RESP: unexpected TYPE reply %c%s", t, name)
		}
		if err != nil {
			if isRedisError(err) {
				err = fmt.Errorf("TYPE %q: %w", keys[i], err)
			}
			return fail(err)
		}
		vr := &w.vals[j]
		d := vr.d // a list's or stream's digest, reused
		if d != nil {
			d.Reset()
		}
		*vr = valueReader{d: d}
		if kt, ok := typeFromRedis(string(name)); ok {
			vr.t = kt
		} else {
			vr.gone = true
		}
	}
	// first pages, pipelined
	for j, i := range w.slow {
		if vr := &w.vals[j]; !vr.gone {
			writePage(rc, vr.t, keys[i], "0")
		}
	}
	if err := rc.flush(); err != nil {
		return fail(err)
	}
	for j := range w.slow {
		vr := &w.vals[j]
		if vr.gone {
			continue
		}
		if err := vr.page(rc, &w.digest); err != nil {
			if !isRedisError(err) {
				return fail(err)
			}
			if !strings.HasPrefix(err.Error(), "WRONGTYPE") {
				return fmt.Errorf("reading %s %q: %w", vr.t, keys[w.slow[j]], err)
			}
			vr.gone = true // retyped between TYPE and the read: not part of this scan
		}
	}
	// further pages, key by key
	for j, i := range w.slow {
		vr := &w.vals[j]
		for !vr.gone && vr.next != "" {
			writePage(rc, vr.t, keys[i], vr.next)
			if err := rc.flush(); err != nil {
				return fail(err)
			}
			if err := vr.page(rc, &w.digest); err != nil {
				if !isRedisError(err) {
					return fail(err)
				}
				if !strings.HasPrefix(err.Error(), "WRONGTYPE") {
					return fmt.Errorf("reading %s %q: %w", vr.t, keys[i], err)
				}
				vr.gone = true
			}
		}
	}
	for j, i := range w.slow {
		vr := &w.vals[j]
		if vr.gone {
			continue
		}
		k := keys[i]
		if vr.t == TypeStream {
			gone, err := w.streamState(ctx, k, vr.put)
			if err != nil {
				return err
			}
			if gone {
				continue
			}
		}
		exp := w.expireOf(i)
		if exp == -2 {
			continue
		}
		w.add(k, vr.t, vr.sum(), exp)
	}
	return nil
}

var chunkStr = strconv.Itoa(chunk)

// writePage buffers the read of one page of key k of type t from position next ("0" for
// the first page: a SCAN cursor, a list index, or a stream id).
func writePage(rc *respConn, t KeyType, k, next string) {
	switch t {
	case TypeString:
		rc.write("GET", k)
	case TypeHash:
		rc.write("HSCAN", k, next, "COUNT", chunkStr)
	case TypeSet:
		rc.write("SSCAN", k, next, "COUNT", chunkStr)
	case TypeZSet:
		rc.write("ZSCAN", k, next, "COUNT", chunkStr)
	case TypeList:
		start, _ := strconv.ParseInt(next, 10, 64)
		rc.write("LRANGE", k, next, strconv.FormatInt(start+chunk-1, 10))
	case TypeStream:
		if next == "0" {
			rc.write("XRANGE", k, "-", "+", "COUNT", chunkStr)
		} else {
			rc.write("XRANGE", k, next, "+", "COUNT", chunkStr)
		}
	default:
		rc.write("DUMP", k)
	}
}

// valueReader accumulates the value hash of one key over its pages.
type valueReader struct {
	t    KeyType
	next string // position of the next page, "" = done
	gone bool

	set   setSum         // hash, set, zset: order-independent sum of element hashes
	d     *xxhash.Digest // list, stream: sequential hash
	whole uint64         // string, module type
	pos   int64          // list: index of the next page
	lb    [binary.MaxVarintLen64]byte
}

func (v *valueReader) put(s string) {
	n := binary.PutUvarint(v.lb[:], uint64(len(s)))
	v.d.Write(v.lb[:n])
	v.d.WriteString(s)
}

func (v *valueReader) sum() uint64 {
	switch v.t {
	case TypeHash, TypeSet, TypeZSet:
		return v.set.final()
	case TypeList, TypeStream:
		return v.d.Sum64()
	}
	return v.whole
}

// page reads one reply (see writePage) into v, streaming every element.
func (v *valueReader) page(rc *respConn, e *xxhash.Digest) error {
	v.next = ""
	switch v.t {
	case TypeString, TypeOther:
		trim := 0
		if v.t == TypeOther {
			trim = 10 // DUMP's RDB version + CRC64 footer
		}
		h, null, err := rc.readBulkHashTrim(e, trim)
		if err != nil {
			return err
		}
		v.gone, v.whole = null, h
		return nil
	case TypeHash, TypeSet, TypeZSet:
		if n, err := rc.readArrayLen(); err != nil || n != 2 {
			return respShape(err, "SCAN")
		}
		cursor, _, err := rc.bulkSmall(32)
		if err != nil {
			return err
		}
		if string(cursor) != "0" {
			v.next = string(cursor)
			if v.set.dedup == nil {
				v.set.dedup = make(map[uint64]struct{}, 4*chunk) // SCAN may repeat elements
			}
		}
		n, err := rc.readArrayLen()
		if err != nil {
			return err
		}
		per := 1
		if v.t != TypeSet {
			per = 2
		}
		for x := 0; x+per <= n; x += per {
			e.Reset()
			if _, err := rc.readBulkInto(e); err != nil {
				return err
			}
			switch v.t {
			case TypeHash:
				if _, err := rc.readBulkInto(e); err != nil {
					return err
				}
			case TypeZSet:
				score, _, err := rc.bulkSmall(64)
				if err != nil {
					return err
				}
				f, err := strconv.ParseFloat(string(score), 64)
				if err != nil {
					return fmt.Errorf("zset: bad score %q", score)
				}
				var sb [8]byte
				binary.LittleEndian.PutUint64(sb[:], math.Float64bits(f))
				e.Write(zsetScoreLen[:])
				e.Write(sb[:])
			}
			v.set.add(e.Sum64())
		}
		return nil
	case TypeList:
		if v.d == nil {
			v.d = xxhash.New()
		}
		n, err := rc.readArrayLen()
		if err != nil {
			return err
		}
		for x := 0; x < n; x++ {
			if _, err := rc.readBulkInto(v.d); err != nil {
				return err
			}
		}
		if n == chunk {
			v.pos += chunk
			v.next = strconv.FormatInt(v.pos, 10)
		}
		return nil
	case TypeStream:
		if v.d == nil {
			v.d = xxhash.New()
		}
		n, err := rc.readArrayLen()
		if err != nil {
			return err
		}
		last := ""
		for x := 0; x < n; x++ {
			if m, err := rc.readArrayLen(); err != nil || m != 2 {
				return respShape(err, "XRANGE")
			}
			id, _, err := rc.readBulkSmall(64)
			if err != nil {
				return err
			}
			v.put(id)
			last = id
			f, err := rc.readArrayLen()
			if err != nil {
				return err
			}
			for y := 0; y < f; y++ {
				if _, err := rc.readBulkInto(v.d); err != nil {
					return err
				}
			}
		}
		if n == chunk {
			if next, ok := nextStreamID(last); ok {
				v.next = next
			}
		}
		return nil
	}
	return fmt.Errorf("unknown type %s", v.t)
}

// zsetScoreLen is the uvarint length prefix of a member's 8-byte score.
var zsetScoreLen = [1]byte{8}

func respShape(err error, what string) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("unexpected %s reply", what)
}
