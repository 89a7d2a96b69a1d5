package rdbstream

import (
	"encoding/binary"
	"strconv"
)

// lpEntry is one listpack element: a string, or an integer (isInt) whose string form
// (what the server replies) is in s.
type lpEntry struct {
	s     []byte
	i     int64
	isInt bool
}

// listpackEntries calls fn for every element of a listpack (src/listpack.c). The string
// given to fn is valid until fn returns.
func (p *parser) listpackEntries(b []byte, fn func(e *lpEntry) error) error {
	if len(b) < 7 {
		return p.errf("listpack too short")
	}
	if int(binary.LittleEndian.Uint32(b)) != len(b) {
		return p.errf("listpack size mismatch")
	}
	var e lpEntry
	var num []byte
	for i := 6; ; {
		if i >= len(b) {
			return p.errf("listpack without end byte")
		}
		c := b[i]
		if c == 0xff {
			if i != len(b)-1 {
				return p.errf("listpack ends early")
			}
			return nil
		}
		var hdr, size int // header bytes, data bytes
		e.isInt = true
		switch {
		case c&0x80 == 0:
			e.i, hdr = int64(c&0x7f), 1
		case c&0xc0 == 0x80:
			hdr, size, e.isInt = 1, int(c&0x3f), false
		case c&0xe0 == 0xc0:
			if i+1 >= len(b) {
				return p.errf("listpack truncated")
			}
			v := int64(c&0x1f)<<8 | int64(b[i+1])
			if v >= 1<<12 {
				v -= 1 << 13
			}
			e.i, hdr = v, 2
		case c&0xf0 == 0xe0:
			if i+1 >= len(b) {
				return p.errf("listpack truncated")
			}
			hdr, size, e.isInt = 2, int(c&0x0f)<<8|int(b[i+1]), false
		case c == 0xf0:
			if i+5 > len(b) {
				return p.errf("listpack truncated")
			}
			hdr, size, e.isInt = 5, int(binary.LittleEndian.Uint32(b[i+1:])), false
		case c >= 0xf1 && c <= 0xf4:
			n := [...]int{2, 3, 4, 8}[c-0xf1]
			if i+1+n > len(b) {
				return p.errf("listpack truncated")
			}
			var u uint64
			for j := n - 1; j >= 0; j-- {
				u = u<<8 | uint64(b[i+1+j])
			}
			shift := uint(64 - 8*n)
			e.i, hdr = int64(u<<shift)>>shift, 1+n
		default:
			return p.errf("bad listpack entry byte %#x", c)
		}
		l := hdr + size
		if size < 0 || i+l > len(b) {
			return p.errf("listpack truncated")
		}
		if e.isInt {
			num = strconv.AppendInt(num[:0], e.i, 10)
			e.s = num
		} else {
			e.s = b[i+hdr : i+l]
		}
		back := 1
		switch {
		case l > 268435455:
			back = 5
		case l > 2097151:
			back = 4
		case l > 16383:
			back = 3
		case l > 127:
			back = 2
		}
		i += l + back
		if err := fn(&e); err != nil {
			return err
		}
	}
}

// listpack calls fn with the string form of every element.
func (p *parser) listpack(b []byte, fn func([]byte)) error {
	return p.listpackEntries(b, func(e *lpEntry) error { fn(e.s); return nil })
}

// ziplist calls fn with the string form of every element (src/ziplist.c; RDBs of Redis
// before 7.0).
func (p *parser) ziplist(b []byte, fn func([]byte)) error {
	if len(b) < 11 || int(binary.LittleEndian.Uint32(b)) != len(b) {
		return p.errf("bad ziplist header")
	}
	var num []byte
	for i := 10; ; {
		if i >= len(b) {
			return p.errf("ziplist without end byte")
		}
		if b[i] == 0xff {
			return nil
		}
		if b[i] == 0xfe { // previous entry length
			i += 5
		} else {
			i++
		}
		if i >= len(b) {
			return p.errf("ziplist truncated")
		}
		c := b[i]
		var v []byte
		isInt, n := false, int64(0)
		var hdr, size int
		switch {
		case c>>6 == 0:
			hdr, size = 1, int(c&0x3f)
		case c>>6 == 1:
			if i+1 >= len(b) {
				return p.errf("ziplist truncated")
			}
			hdr, size = 2, int(c&0x3f)<<8|int(b[i+1])
		case c == 0x80:
			if i+5 > len(b) {
				return p.errf("ziplist truncated")
			}
			hdr, size = 5, int(binary.BigEndian.Uint32(b[i+1:]))
		case c >= 0xf1 && c <= 0xfd:
			hdr, isInt, n = 1, true, int64(c&0x0f)-1
		default:
			isInt, hdr = true, 1
			w := map[byte]int{0xc0: 2, 0xd0: 4, 0xe0: 8, 0xf0: 3, 0xfe: 1}[c]
			if w == 0 {
				return p.errf("bad ziplist encoding %#x", c)
			}
			if i+1+w > len(b) {
				return p.errf("ziplist truncated")
			}
			var u uint64
			for j := w - 1; j >= 0; j-- {
				u = u<<8 | uint64(b[i+1+j])
			}
			shift := uint(64 - 8*w)
			n, size = int64(u<<shift)>>shift, w
		}
		if size < 0 || i+hdr+size > len(b) {
			return p.errf("ziplist truncated")
		}
		if isInt {
			num = strconv.AppendInt(num[:0], n, 10)
			v = num
		} else {
			v = b[i+hdr : i+hdr+size]
		}
		fn(v)
		i += hdr + size
	}
}
