package rdbstream

import (
	"encoding/binary"
	"strconv"
)

type streamID struct{ ms, seq uint64 }

func (id streamID) String() string {
	return strconv.FormatUint(id.ms, 10) + "-" + strconv.FormatUint(id.seq, 10)
}

func (p *parser) lenID() (streamID, error) {
	ms, err := p.length()
	if err != nil {
		return streamID{}, err
	}
	seq, err := p.length()
	return streamID{ms, seq}, err
}

func (p *parser) rawID() (streamID, error) {
	b, err := p.r.next(16)
	if err != nil {
		return streamID{}, p.eof(err)
	}
	return streamID{binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:])}, nil
}

// stream parses a stream (RDB types 15, 19, 21) and hashes its entries, then the state
// the live fingerprint reads with XINFO and XPENDING (redisstate's streamState), in the
// same order.
func (p *parser) stream(t byte) error {
	h := &p.h
	sv := h.streamValue()
	nodes, err := p.count()
	if err != nil {
		return err
	}
	for i := 0; i < nodes; i++ {
		mk, err := p.str()
		if err != nil {
			return err
		}
		if len(mk) != 16 {
			return p.errf("stream node key of %d bytes", len(mk))
		}
		master := streamID{binary.BigEndian.Uint64(mk), binary.BigEndian.Uint64(mk[8:])}
		lp, err := p.str()
		if err != nil {
			return err
		}
		if err := p.streamNode(master, lp); err != nil {
			return err
		}
	}
	length, err := p.length()
	if err != nil {
		return err
	}
	last, err := p.lenID()
	if err != nil {
		return err
	}
	h.SeqString("\x00last-generated-id")
	h.SeqString(last.String())
	if sv != nil {
		sv.Length, sv.LastID, sv.EntriesAdded = length, last.String(), length
	}
	if t >= tStreamLP2 {
		first, err := p.lenID()
		if err != nil {
			return err
		}
		maxDel, err := p.lenID()
		if err != nil {
			return err
		}
		added, err := p.length()
		if err != nil {
			return err
		}
		if sv != nil {
			sv.V2, sv.FirstID, sv.MaxDeletedID, sv.EntriesAdded = true, first.String(), maxDel.String(), added
		}
		if added != length {
			h.SeqString("\x00entries-added")
			h.SeqString(strconv.FormatUint(added, 10))
		}
		if maxDel != (streamID{}) {
			h.SeqString("\x00max-deleted-entry-id")
			h.SeqString(maxDel.String())
		}
	}
	groups, err := p.count()
	if err != nil {
		return err
	}
	type pending struct {
		id    streamID
		count uint64
		at    int64
	}
	var pel []pending
	owner := map[streamID]string{}
	for g := 0; g < groups; g++ {
		name, err := p.str()
		if err != nil {
			return err
		}
		lastDelivered, err := p.lenID()
		if err != nil {
			return err
		}
		entriesRead := int64(-1)
		if t >= tStreamLP2 {
			er, err := p.length()
			if err != nil {
				return err
			}
			entriesRead = int64(er)
		}
		n, err := p.count()
		if err != nil {
			return err
		}
		pel = pel[:0]
		for i := 0; i < n; i++ {
			id, err := p.rawID()
			if err != nil {
				return err
			}
			at, err := p.millis() // delivery time: not in the fingerprint
			if err != nil {
				return err
			}
			c, err := p.length()
			if err != nil {
				return err
			}
			pel = append(pel, pending{id, c, at})
		}
		h.SeqString("\x00group")
		h.Seq(name)
		h.SeqString(lastDelivered.String())
		h.SeqString(strconv.Itoa(len(pel)))
		if entriesRead >= 0 {
			h.SeqString("\x00entries-read")
			h.SeqString(strconv.FormatInt(entriesRead, 10))
		}
		var g *StreamGroup
		if sv != nil {
			sv.Groups = append(sv.Groups, StreamGroup{Name: clone(name), LastDelivered: lastDelivered.String(), EntriesRead: entriesRead})
			g = &sv.Groups[len(sv.Groups)-1]
		}
		consumers, err := p.count()
		if err != nil {
			return err
		}
		clear(owner)
		for c := 0; c < consumers; c++ {
			cname, err := p.str()
			if err != nil {
				return err
			}
			if _, err := p.millis(); err != nil { // seen time
				return err
			}
			if t >= tStreamLP3 {
				if _, err := p.millis(); err != nil { // active time
					return err
				}
			}
			m, err := p.count()
			if err != nil {
				return err
			}
			for i := 0; i < m; i++ {
				id, err := p.rawID()
				if err != nil {
					return err
				}
				owner[id] = string(cname)
			}
			if g != nil {
				g.Consumers = append(g.Consumers, clone(cname))
			}
			h.SeqString("\x00consumer")
			h.Seq(cname)
			h.SeqString(strconv.Itoa(m))
		}
		for _, e := range pel {
			h.SeqString("\x00pending")
			h.SeqString(e.id.String())
			h.SeqString(owner[e.id])
			h.SeqString(strconv.FormatUint(e.count, 10))
			if g != nil {
				g.Pending = append(g.Pending, StreamPending{ID: e.id.String(), Consumer: []byte(owner[e.id]), DeliveryMs: e.at, Count: e.count})
			}
		}
	}
	return nil
}

// streamNode hashes the live entries of one listpack node (src/t_stream.c layout: a
// master entry, then entries relative to it).
func (p *parser) streamNode(master streamID, lp []byte) error {
	h := &p.h
	sv := h.streamValue()
	var vals [][]byte // the node's elements, as strings
	var ints []int64
	var isInt []bool
	err := p.listpackEntries(lp, func(e *lpEntry) error {
		vals = append(vals, append([]byte(nil), e.s...))
		ints = append(ints, e.i)
		isInt = append(isInt, e.isInt)
		return nil
	})
	if err != nil {
		return err
	}
	i := 0
	num := func() (int64, error) {
		if i >= len(vals) || !isInt[i] {
			return 0, p.errf("bad stream listpack")
		}
		i++
		return ints[i-1], nil
	}
	count, err := num()
	if err != nil {
		return err
	}
	deleted, err := num()
	if err != nil {
		return err
	}
	nf, err := num()
	if err != nil {
		return err
	}
	if nf < 0 || int64(i)+nf >= int64(len(vals)) {
		return p.errf("bad stream listpack")
	}
	fields := vals[i : i+int(nf)]
	i += int(nf) + 1 // the master entry's terminator
	for e := int64(0); e < count+deleted; e++ {
		flags, err := num()
		if err != nil {
			return err
		}
		msd, err := num()
		if err != nil {
			return err
		}
		seqd, err := num()
		if err != nil {
			return err
		}
		var kv [][]byte
		same := flags&2 != 0
		n := nf
		if !same {
			if n, err = num(); err != nil {
				return err
			}
			n *= 2
		}
		if n < 0 || int64(i)+n > int64(len(vals)) {
			return p.errf("bad stream listpack")
		}
		kv = vals[i : i+int(n)]
		i += int(n)
		if _, err := num(); err != nil { // lp-count
			return err
		}
		if flags&1 != 0 {
			continue // deleted
		}
		id := streamID{master.ms + uint64(msd), master.seq + uint64(seqd)}.String()
		h.SeqString(id)
		var fv [][]byte
		for j := range kv {
			if same {
				h.Seq(fields[j])
			}
			h.Seq(kv[j])
			if sv != nil { // vals are copies
				if same {
					fv = append(fv, fields[j])
				}
				fv = append(fv, kv[j])
			}
		}
		if sv != nil {
			sv.Entries = append(sv.Entries, StreamEntry{ID: id, Fields: fv})
		}
	}
	return nil
}
