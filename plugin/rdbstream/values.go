package rdbstream

import (
	"encoding/binary"
	"strconv"

	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
)

// value parses one value of RDB type t and hashes it as the live fingerprint does.
func (p *parser) value(t byte) error {
	h := &p.h
	switch t {
	case tString:
		h.Reset(redisstate.TypeString)
		p.key.Type = redisstate.TypeString
		v, err := p.str()
		if err != nil {
			return err
		}
		h.Whole(v)
		return nil
	case tList, tListZiplist, tListQuicklist, tListQuicklist2:
		h.Reset(redisstate.TypeList)
		p.key.Type = redisstate.TypeList
		return p.list(t)
	case tSet, tSetIntset, tSetListpack:
		h.Reset(redisstate.TypeSet)
		p.key.Type = redisstate.TypeSet
		return p.set(t)
	case tZSet, tZSet2, tZSetZiplist, tZSetListpack:
		h.Reset(redisstate.TypeZSet)
		p.key.Type = redisstate.TypeZSet
		return p.zset(t)
	case tHash, tHashZiplist, tHashListpack, tHashMetaPreGA, tHashLPExPreGA, tHashMeta, tHashListpackEx:
		h.Reset(redisstate.TypeHash)
		p.key.Type = redisstate.TypeHash
		return p.hash(t)
	case tStreamLP, tStreamLP2, tStreamLP3:
		h.Reset(redisstate.TypeStream)
		p.key.Type = redisstate.TypeStream
		return p.stream(t)
	case tModule2:
		h.Reset(redisstate.TypeOther)
		p.key.Type = redisstate.TypeOther
		id, err := p.length()
		if err != nil {
			return err
		}
		p.key.Module = moduleName(id)
		if err := p.moduleOps(); err != nil {
			return err
		}
		h.Whole(p.r.raw) // DUMP payload without footer, as the live fingerprint hashes it
		return nil
	case tHashZipmap:
		return p.errf("hash zipmap encoding (Redis 2.x) is not supported")
	}
	return p.errf("unknown RDB value type %d", t)
}

func (p *parser) list(t byte) error {
	h := &p.h
	switch t {
	case tList:
		return p.strs(h.Seq)
	case tListZiplist:
		b, err := p.str()
		if err != nil {
			return err
		}
		return p.ziplist(b, func(v []byte) { h.Seq(v) })
	}
	n, err := p.count()
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		container := uint64(2) // packed
		if t == tListQuicklist2 {
			if container, err = p.length(); err != nil {
				return err
			}
		}
		b, err := p.str()
		if err != nil {
			return err
		}
		switch {
		case t == tListQuicklist:
			err = p.ziplist(b, func(v []byte) { h.Seq(v) })
		case container == 1: // plain node: one element
			h.Seq(b)
		case container == 2:
			err = p.listpack(b, func(v []byte) { h.Seq(v) })
		default:
			err = p.errf("unknown quicklist container %d", container)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) set(t byte) error {
	h := &p.h
	switch t {
	case tSet:
		return p.strs(h.Member)
	case tSetIntset:
		b, err := p.str()
		if err != nil {
			return err
		}
		if len(b) < 8 {
			return p.errf("intset too short")
		}
		enc, n := int(binary.LittleEndian.Uint32(b)), int(binary.LittleEndian.Uint32(b[4:]))
		if enc != 2 && enc != 4 && enc != 8 || len(b) != 8+enc*n {
			return p.errf("bad intset (encoding %d, %d elements, %d bytes)", enc, n, len(b))
		}
		var num []byte
		for i := 0; i < n; i++ {
			x := b[8+enc*i:]
			var v int64
			switch enc {
			case 2:
				v = int64(int16(binary.LittleEndian.Uint16(x)))
			case 4:
				v = int64(int32(binary.LittleEndian.Uint32(x)))
			default:
				v = int64(binary.LittleEndian.Uint64(x))
			}
			num = strconv.AppendInt(num[:0], v, 10)
			h.Member(num)
		}
		return nil
	}
	b, err := p.str()
	if err != nil {
		return err
	}
	return p.listpack(b, func(v []byte) { h.Member(v) })
}

func (p *parser) zset(t byte) error {
	h := &p.h
	switch t {
	case tZSet, tZSet2:
		n, err := p.count()
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			m, err := p.str()
			if err != nil {
				return err
			}
			var s float64
			if t == tZSet {
				s, err = p.double()
			} else {
				s, err = p.binDouble()
			}
			if err != nil {
				return err
			}
			h.Scored(m, s)
		}
		return nil
	}
	b, err := p.str()
	if err != nil {
		return err
	}
	var member []byte
	odd := false
	var perr error
	each := func(v []byte) {
		if !odd {
			member = append(member[:0], v...)
		} else if s, err := parseScore(v); err != nil {
			perr = p.errf("bad score %q", v)
		} else {
			h.Scored(member, s)
		}
		odd = !odd
	}
	if t == tZSetZiplist {
		err = p.ziplist(b, each)
	} else {
		err = p.listpack(b, each)
	}
	if err == nil && odd {
		err = p.errf("sorted set with an odd number of entries")
	}
	if err == nil {
		err = perr
	}
	return err
}

func (p *parser) hash(t byte) error {
	h := &p.h
	switch t {
	case tHash, tHashMeta, tHashMetaPreGA:
		var minExp int64
		if t == tHashMeta {
			var err error
			if minExp, err = p.millis(); err != nil {
				return err
			}
		}
		n, err := p.count()
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			exp := int64(0)
			switch t {
			case tHashMeta:
				ttl, err := p.length()
				if err != nil {
					return err
				}
				if ttl != 0 {
					exp = int64(ttl) + minExp - 1
				}
			case tHashMetaPreGA:
				if exp, err = p.millis(); err != nil {
					return err
				}
			}
			f, err := p.str()
			if err != nil {
				return err
			}
			v, err := p.str()
			if err != nil {
				return err
			}
			if !p.fieldExpired(exp) {
				h.Field(f, v)
				h.fieldTTL(exp)
			}
		}
		return nil
	}
	if t == tHashListpackEx {
		if _, err := p.millis(); err != nil {
			return err
		}
	}
	b, err := p.str()
	if err != nil {
		return err
	}
	per := 2
	if t == tHashListpackEx || t == tHashLPExPreGA {
		per = 3 // field, value, expire time
	}
	var f, v []byte
	i := 0
	var perr error
	each := func(e []byte) {
		switch i % per {
		case 0:
			f = append(f[:0], e...)
		case 1:
			v = append(v[:0], e...)
			if per == 2 {
				h.Field(f, v)
			}
		case 2:
			exp, err := strconv.ParseInt(string(e), 10, 64)
			if err != nil {
				perr = p.errf("bad hash field expire time %q", e)
			}
			if !p.fieldExpired(exp) {
				h.Field(f, v)
				h.fieldTTL(exp)
			}
		}
		i++
	}
	if t == tHashZiplist {
		err = p.ziplist(b, each)
	} else {
		err = p.listpack(b, each)
	}
	if err == nil && i%per != 0 {
		err = p.errf("hash with a partial entry")
	}
	if err == nil {
		err = perr
	}
	return err
}

// fieldExpired: a hash field whose own expire time (ms, 0 none) passed by the snapshot is
// not read by the live fingerprint either.
func (p *parser) fieldExpired(exp int64) bool { return exp > 0 && p.now > 0 && exp <= p.now }

// strs reads a count and that many strings, handing each to f (the plain
// list and set encodings).
func (p *parser) strs(f func([]byte)) error {
	n, err := p.count()
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		v, err := p.str()
		if err != nil {
			return err
		}
		f(v)
	}
	return nil
}
