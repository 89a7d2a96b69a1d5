package rdbstream

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
)

// MaxVersion is the newest RDB version this parser reads (Redis 7.4/8.x: 12; Redis 7.0:
// 10; Redis 7.2 and Valkey 8: 11).
const MaxVersion = 12

// RDB opcodes (src/rdb.h).
const (
	opSlotInfo    = 244
	opFunction2   = 245
	opFunctionPre = 246
	opModuleAux   = 247
	opIdle        = 248
	opFreq        = 249
	opAux         = 250
	opResizeDB    = 251
	opExpireMs    = 252
	opExpireSec   = 253
	opSelectDB    = 254
	opEOF         = 255
)

// RDB value types (src/rdb.h).
const (
	tString          = 0
	tList            = 1
	tSet             = 2
	tZSet            = 3
	tHash            = 4
	tZSet2           = 5
	tModule2         = 7
	tHashZipmap      = 9
	tListZiplist     = 10
	tSetIntset       = 11
	tZSetZiplist     = 12
	tHashZiplist     = 13
	tListQuicklist   = 14
	tStreamLP        = 15
	tHashListpack    = 16
	tZSetListpack    = 17
	tListQuicklist2  = 18
	tStreamLP2       = 19
	tSetListpack     = 20
	tStreamLP3       = 21
	tHashMetaPreGA   = 22
	tHashLPExPreGA   = 23
	tHashMeta        = 24
	tHashListpackEx  = 25
	maxSupportedType = 25
)

// Key is one key of the snapshot, as Parse hands it to its callback. Its byte slices are
// valid until the callback returns.
type Key struct {
	DB        int
	Key       []byte
	Type      redisstate.KeyType
	RDBType   byte
	Version   int    // RDB version of the payload (of Value's encoding)
	Module    string // module type name (Type == TypeOther)
	ExpireAt  int64  // absolute unix ms, -1 none
	ValueHash uint64 // redisstate's value hash of the key (the live fingerprint's)
	// Value is the RDB type byte and the serialized value: a DUMP payload without its
	// footer (AppendDump adds it).
	Value []byte
}

// AppendDump appends the key's DUMP payload: its value, the 2-byte RDB version and the
// CRC64 of both, as Redis' DUMP builds it (RESTORE accepts it on a server whose RDB
// version is at least rdbVersion).
func (k *Key) AppendDump(dst []byte, rdbVersion int) []byte {
	start := len(dst)
	dst = append(dst, k.Value...)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(rdbVersion))
	return binary.LittleEndian.AppendUint64(dst, CRC64(dst[start:]))
}

// Info is what a parse saw besides the keys.
type Info struct {
	Version   int               // RDB version of the payload
	Aux       map[string]string // AUX fields (redis-ver, ctime, repl-id, repl-offset, ...)
	Functions int               // function libraries
	Keys      map[int]int64     // keys per database
	Bytes     int64             // payload bytes read
}

type parser struct {
	r   *reader
	h   hasher
	now int64 // unix ms: hash fields expired by then are left out, as the server does
	key Key
	kb  []byte
	typ byte
	ver int
}

// Parse reads one RDB payload from r (up to and including its checksum) and calls fn for
// every key. nowMs is the snapshot's time (unix ms), for hash fields with their own
// expire time (Redis 7.4+); 0 keeps them all.
func Parse(r io.Reader, nowMs int64, fn func(*Key) error) (*Info, error) {
	return parseWith(newReader(r, 64<<10), nowMs, fn)
}

func parseWith(rd *reader, nowMs int64, fn func(*Key) error) (*Info, error) {
	p := &parser{r: rd, now: nowMs}
	info, err := p.parse(fn)
	if ce, ok := err.(callbackErr); ok {
		err = ce.error
	}
	return info, err
}

type callbackErr struct{ error }

func (e callbackErr) Unwrap() error { return e.error }

func (p *parser) errf(f string, a ...any) error {
	return &FormatError{Offset: p.r.n, Msg: fmt.Sprintf(f, a...)}
}

func (p *parser) parse(fn func(*Key) error) (*Info, error) {
	info := &Info{Aux: map[string]string{}, Keys: map[int]int64{}}
	defer func() { info.Bytes = p.r.n }()
	hdr, err := p.r.next(9)
	if err != nil {
		return info, p.errf("no RDB header")
	}
	if string(hdr[:5]) != "REDIS" {
		return info, p.errf("not an RDB payload (no REDIS header)")
	}
	v, err := strconv.Atoi(string(hdr[5:]))
	if err != nil || v < 1 {
		return info, p.errf("bad RDB version %q", hdr[5:])
	}
	if v > MaxVersion {
		return info, p.errf("RDB version %d is newer than this reader (%d)", v, MaxVersion)
	}
	info.Version, p.ver = v, v
	db, expire := 0, int64(-1)
	for {
		op, err := p.r.byte()
		if err != nil {
			return info, p.eof(err)
		}
		switch op {
		case opEOF:
			if v >= 5 {
				want := p.r.sum()
				b, err := p.r.next(8)
				if err != nil {
					return info, p.eof(err)
				}
				if got := binary.LittleEndian.Uint64(b); got != 0 && got != want {
					return info, p.errf("checksum mismatch (payload %016x, computed %016x)", got, want)
				}
			}
			return info, nil
		case opSelectDB:
			n, err := p.length()
			if err != nil {
				return info, err
			}
			if n > math.MaxInt32 {
				return info, p.errf("bad database number %d", n)
			}
			db = int(n)
		case opResizeDB:
			if _, err := p.length(); err != nil {
				return info, err
			}
			if _, err := p.length(); err != nil {
				return info, err
			}
		case opSlotInfo:
			for i := 0; i < 3; i++ {
				if _, err := p.length(); err != nil {
					return info, err
				}
			}
		case opAux:
			k, err := p.str()
			if err != nil {
				return info, err
			}
			val, err := p.str()
			if err != nil {
				return info, err
			}
			info.Aux[string(k)] = string(val)
		case opModuleAux:
			if _, err := p.length(); err != nil { // module id
				return info, err
			}
			if _, err := p.length(); err != nil { // when opcode
				return info, err
			}
			if _, err := p.length(); err != nil { // when
				return info, err
			}
			if err := p.moduleOps(); err != nil {
				return info, err
			}
		case opFunction2:
			if _, err := p.str(); err != nil {
				return info, err
			}
			info.Functions++
		case opFunctionPre:
			return info, p.errf("functions of a Redis 7.0 release candidate are not supported")
		case opIdle:
			if _, err := p.length(); err != nil {
				return info, err
			}
		case opFreq:
			if _, err := p.r.byte(); err != nil {
				return info, p.eof(err)
			}
		case opExpireSec:
			b, err := p.r.next(4)
			if err != nil {
				return info, p.eof(err)
			}
			expire = int64(int32(binary.LittleEndian.Uint32(b))) * 1000
		case opExpireMs:
			b, err := p.r.next(8)
			if err != nil {
				return info, p.eof(err)
			}
			expire = int64(binary.LittleEndian.Uint64(b))
		default:
			if op > maxSupportedType {
				return info, p.errf("unknown RDB opcode %d", op)
			}
			if err := p.keyValue(op, db, expire, fn); err != nil {
				return info, err
			}
			info.Keys[db]++
			expire = -1
		}
	}
}

func (p *parser) eof(err error) error {
	if err == io.ErrUnexpectedEOF {
		return p.errf("truncated")
	}
	return err
}

func (p *parser) keyValue(t byte, db int, expire int64, fn func(*Key) error) error {
	k, err := p.str()
	if err != nil {
		return err
	}
	p.kb = append(p.kb[:0], k...)
	p.typ = t
	p.key = Key{DB: db, Key: p.kb, RDBType: t, Version: p.ver, ExpireAt: expire}
	if expire < 0 {
		p.key.ExpireAt = -1
	}
	p.r.raw = append(p.r.raw[:0], t)
	p.r.rec = true
	err = p.value(t)
	p.r.rec = false
	if err != nil {
		return err
	}
	p.key.Value = p.r.raw
	p.key.ValueHash = p.h.Sum()
	if err := fn(&p.key); err != nil {
		return callbackErr{err}
	}
	if cap(p.r.raw) > 16<<20 {
		p.r.raw = nil // do not keep a buffer grown by one huge value
	}
	return nil
}

// length reads an RDB length (not an encoded string).
func (p *parser) length() (uint64, error) {
	n, enc, err := p.lengthEnc()
	if err == nil && enc {
		err = p.errf("encoded value where a length was expected")
	}
	return n, err
}

func (p *parser) lengthEnc() (uint64, bool, error) {
	b, err := p.r.byte()
	if err != nil {
		return 0, false, p.eof(err)
	}
	switch b >> 6 {
	case 0:
		return uint64(b & 0x3f), false, nil
	case 1:
		c, err := p.r.byte()
		if err != nil {
			return 0, false, p.eof(err)
		}
		return uint64(b&0x3f)<<8 | uint64(c), false, nil
	case 2:
		switch b {
		case 0x80:
			x, err := p.r.next(4)
			if err != nil {
				return 0, false, p.eof(err)
			}
			return uint64(binary.BigEndian.Uint32(x)), false, nil
		case 0x81:
			x, err := p.r.next(8)
			if err != nil {
				return 0, false, p.eof(err)
			}
			return binary.BigEndian.Uint64(x), false, nil
		}
		return 0, false, p.errf("bad length byte %#x", b)
	}
	return uint64(b & 0x3f), true, nil
}

// count reads a length used as an element count, bounded by what a payload can hold.
func (p *parser) count() (int, error) {
	n, err := p.length()
	if err != nil {
		return 0, err
	}
	if n > 1<<40 {
		return 0, p.errf("implausible element count %d", n)
	}
	return int(n), nil
}

const maxString = 1 << 40

// str reads a string (plain, integer-encoded or LZF-compressed). The slice stays valid
// while the key is parsed (it is part of the recorded value, or a fresh copy).
func (p *parser) str() ([]byte, error) {
	n, enc, err := p.lengthEnc()
	if err != nil {
		return nil, err
	}
	if enc {
		switch n {
		case 0, 1, 2:
			size := 1 << n
			b, err := p.r.next(size)
			if err != nil {
				return nil, p.eof(err)
			}
			var v int64
			switch size {
			case 1:
				v = int64(int8(b[0]))
			case 2:
				v = int64(int16(binary.LittleEndian.Uint16(b)))
			case 4:
				v = int64(int32(binary.LittleEndian.Uint32(b)))
			}
			return strconv.AppendInt(nil, v, 10), nil
		case 3:
			clen, err := p.length()
			if err != nil {
				return nil, err
			}
			ulen, err := p.length()
			if err != nil {
				return nil, err
			}
			if clen > maxString || ulen > 300*clen+64 { // LZF expands at most ~132 times
				return nil, p.errf("implausible LZF lengths %d/%d", clen, ulen)
			}
			c, err := p.r.next(int(clen))
			if err != nil {
				return nil, p.eof(err)
			}
			out, err := lzfDecompress(c, int(ulen))
			if err != nil {
				return nil, p.errf("%v", err)
			}
			return out, nil
		}
		return nil, p.errf("unknown string encoding %d", n)
	}
	if n > maxString {
		return nil, p.errf("implausible string length %d", n)
	}
	b, err := p.r.next(int(n))
	if err != nil {
		return nil, p.eof(err)
	}
	if p.r.rec {
		return p.r.raw[len(p.r.raw)-len(b):], nil
	}
	return append([]byte(nil), b...), nil
}

// lzfDecompress is liblzf's lzf_decompress; the output must be exactly ulen bytes.
func lzfDecompress(in []byte, ulen int) ([]byte, error) {
	out := make([]byte, 0, min(ulen, 1<<20))
	for i := 0; i < len(in); {
		ctrl := int(in[i])
		i++
		if ctrl < 32 { // literal run of ctrl+1 bytes
			ctrl++
			if i+ctrl > len(in) || len(out)+ctrl > ulen {
				return nil, fmt.Errorf("corrupt LZF data")
			}
			out = append(out, in[i:i+ctrl]...)
			i += ctrl
			continue
		}
		l := ctrl >> 5
		if l == 7 {
			if i >= len(in) {
				return nil, fmt.Errorf("corrupt LZF data")
			}
			l += int(in[i])
			i++
		}
		if i >= len(in) {
			return nil, fmt.Errorf("corrupt LZF data")
		}
		ref := len(out) - ((ctrl & 0x1f) << 8) - 1 - int(in[i])
		i++
		l += 2
		if ref < 0 || len(out)+l > ulen {
			return nil, fmt.Errorf("corrupt LZF data")
		}
		for j := 0; j < l; j++ { // may overlap: byte by byte
			out = append(out, out[ref+j])
		}
	}
	if len(out) != ulen {
		return nil, fmt.Errorf("corrupt LZF data (%d bytes, %d expected)", len(out), ulen)
	}
	return out, nil
}

// double reads the string-encoded double of a type 3 sorted set.
func (p *parser) double() (float64, error) {
	n, err := p.r.byte()
	if err != nil {
		return 0, p.eof(err)
	}
	switch n {
	case 253:
		return math.NaN(), nil
	case 254:
		return math.Inf(1), nil
	case 255:
		return math.Inf(-1), nil
	}
	b, err := p.r.next(int(n))
	if err != nil {
		return 0, p.eof(err)
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return 0, p.errf("bad score %q", b)
	}
	return f, nil
}

func (p *parser) binDouble() (float64, error) {
	b, err := p.r.next(8)
	if err != nil {
		return 0, p.eof(err)
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(b)), nil
}

func (p *parser) millis() (int64, error) {
	b, err := p.r.next(8)
	if err != nil {
		return 0, p.eof(err)
	}
	return int64(binary.LittleEndian.Uint64(b)), nil
}

func parseScore(b []byte) (float64, error) {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f, nil // ±Inf as strtod gives it
		}
	}
	return f, err
}

// moduleOps skips a module value's typed opcodes up to its EOF opcode (MODULE_2 format).
func (p *parser) moduleOps() error {
	for {
		op, err := p.length()
		if err != nil {
			return err
		}
		switch op {
		case 0:
			return nil
		case 1, 2:
			_, err = p.length()
		case 3:
			_, err = p.r.next(4)
		case 4:
			_, err = p.r.next(8)
		case 5:
			_, err = p.str()
		default:
			return p.errf("unknown module opcode %d", op)
		}
		if err != nil {
			return p.eof(err)
		}
	}
}

const moduleCharset = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// moduleName is the 9-character type name packed in a module type id.
func moduleName(id uint64) string {
	var b [9]byte
	for j := range b {
		b[j] = moduleCharset[(id>>(10+6*(8-j)))&63]
	}
	return string(b[:])
}
