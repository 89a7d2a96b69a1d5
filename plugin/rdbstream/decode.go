package rdbstream

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/docker-stateful/docker-stateful/plugin/redisstate"
)

// Value is a key's value decoded from its DUMP payload, to write it again by commands
// (into a server too old for the payload's RDB version). Byte slices are copies.
type Value struct {
	Type    redisstate.KeyType
	RDBType byte
	Module  string // module type name (Type == TypeOther)
	String  []byte
	// Elems: list elements in order, set members, sorted set members (Scores[i] is the
	// score of Elems[i]).
	Elems  [][]byte
	Scores []float64
	Fields [][]byte // hash: field, value, field, value, ...
	// FieldTTLs counts hash fields with their own expire time (HPEXPIRE, Redis 7.4+).
	FieldTTLs int
	Stream    *StreamValue
}

// StreamValue is a stream with the state the fingerprint reads (XINFO, XPENDING).
type StreamValue struct {
	Entries      []StreamEntry
	Length       uint64
	LastID       string
	FirstID      string
	MaxDeletedID string
	EntriesAdded uint64
	V2           bool // entries-added, max-deleted-entry-id and entries-read are known (RDB type 19+)
	Groups       []StreamGroup
}

// StreamEntry is one live entry: its id and field, value, field, value, ...
type StreamEntry struct {
	ID     string
	Fields [][]byte
}

// StreamGroup is a consumer group.
type StreamGroup struct {
	Name          []byte
	LastDelivered string
	EntriesRead   int64 // -1 unknown
	Pending       []StreamPending
	Consumers     [][]byte
}

// StreamPending is an entry of a group's PEL.
type StreamPending struct {
	ID         string
	Consumer   []byte
	DeliveryMs int64
	Count      uint64
}

// hasher is the parser's value hasher; with dec set it also keeps the values.
type hasher struct {
	redisstate.ValueHasher
	dec *Value
}

func clone(b []byte) []byte { return append([]byte{}, b...) }

func (h *hasher) Reset(t redisstate.KeyType) {
	h.ValueHasher.Reset(t)
	if h.dec != nil {
		h.dec.Type = t
		if t == redisstate.TypeStream {
			h.dec.Stream = &StreamValue{}
		}
	}
}

func (h *hasher) Whole(v []byte) {
	h.ValueHasher.Whole(v)
	if h.dec != nil && h.dec.Type == redisstate.TypeString {
		h.dec.String = clone(v)
	}
}

func (h *hasher) Seq(v []byte) {
	h.ValueHasher.Seq(v)
	if h.dec != nil && h.dec.Type == redisstate.TypeList {
		h.dec.Elems = append(h.dec.Elems, clone(v))
	}
}

func (h *hasher) Member(m []byte) {
	h.ValueHasher.Member(m)
	if h.dec != nil {
		h.dec.Elems = append(h.dec.Elems, clone(m))
	}
}

func (h *hasher) Field(f, v []byte) {
	h.ValueHasher.Field(f, v)
	if h.dec != nil {
		h.dec.Fields = append(h.dec.Fields, clone(f), clone(v))
	}
}

func (h *hasher) Scored(m []byte, score float64) {
	h.ValueHasher.Scored(m, score)
	if h.dec != nil {
		h.dec.Elems = append(h.dec.Elems, clone(m))
		h.dec.Scores = append(h.dec.Scores, score)
	}
}

// streamValue is the stream being decoded, nil when not decoding.
func (h *hasher) streamValue() *StreamValue {
	if h.dec == nil {
		return nil
	}
	return h.dec.Stream
}

// fieldTTL notes a kept hash field's own expire time (0: none).
func (h *hasher) fieldTTL(exp int64) {
	if h.dec != nil && exp > 0 {
		h.dec.FieldTTLs++
	}
}

// PayloadVersion is the RDB version in a DUMP payload's footer (0 if too short).
func PayloadVersion(p []byte) int {
	if len(p) < 11 {
		return 0
	}
	return int(binary.LittleEndian.Uint16(p[len(p)-10:]))
}

// DecodeDump decodes a DUMP payload (value, 2-byte RDB version, CRC64) into its value.
// nowMs is as Parse's: hash fields expired by then are left out (0 keeps them).
func DecodeDump(payload []byte, nowMs int64) (*Value, error) {
	if len(payload) < 11 {
		return nil, &FormatError{Msg: fmt.Sprintf("DUMP payload of %d bytes", len(payload))}
	}
	n := len(payload)
	if sum := binary.LittleEndian.Uint64(payload[n-8:]); sum != CRC64(payload[:n-8]) {
		return nil, &FormatError{Msg: "DUMP payload checksum mismatch"}
	}
	ver := PayloadVersion(payload)
	if ver < 1 || ver > MaxVersion {
		return nil, &FormatError{Msg: fmt.Sprintf("DUMP payload of RDB version %d (this reader: 1 to %d)", ver, MaxVersion)}
	}
	// An RDB stream of one key with an empty name, no checksum (0 is accepted).
	var b bytes.Buffer
	b.WriteString("REDIS")
	b.WriteString(fmt.Sprintf("%04d", ver))
	b.WriteByte(payload[0])
	b.WriteByte(0) // key: empty string
	b.Write(payload[1 : n-10])
	b.WriteByte(opEOF)
	b.Write(make([]byte, 8))
	dec := &Value{RDBType: payload[0]}
	p := &parser{r: newReader(&b, 64<<10), now: nowMs}
	p.h.dec = dec
	keys := 0
	_, err := p.parse(func(k *Key) error {
		keys++
		dec.Module = k.Module
		return nil
	})
	if ce, ok := err.(callbackErr); ok {
		err = ce.error
	}
	if err != nil {
		return nil, err
	}
	if keys != 1 {
		return nil, &FormatError{Msg: "DUMP payload holds no value"}
	}
	return dec, nil
}

// FormatScore writes a sorted set score so that Redis reads back the same double.
func FormatScore(f float64) string {
	switch {
	case f > 1.7976931348623157e308:
		return "+inf"
	case f < -1.7976931348623157e308:
		return "-inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
