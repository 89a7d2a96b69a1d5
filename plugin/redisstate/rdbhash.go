package redisstate

import (
	"encoding/binary"
	"math"

	"github.com/cespare/xxhash/v2"
)

// ValueHasher computes a key's value hash from values parsed elsewhere (plugin/rdbstream
// reads them from the server's RDB stream) exactly as Fingerprint does from the server's
// replies: the same value gives the same hash, whichever way it was read.
type ValueHasher struct {
	t     KeyType
	set   setSum        // hash, set, zset: order-independent sum of element hashes
	d     xxhash.Digest // list, stream: sequential hash
	e     xxhash.Digest // one element
	whole uint64        // string, module type
	lb    [binary.MaxVarintLen64]byte
}

// Reset starts the value of a key of type t.
func (h *ValueHasher) Reset(t KeyType) {
	h.t, h.set, h.whole = t, setSum{}, 0
	h.d.Reset()
}

// Whole hashes a string value (HyperLogLog cache left out, as stringHash) or a module
// value (TypeOther: the DUMP payload without its footer).
func (h *ValueHasher) Whole(v []byte) {
	if h.t == TypeString && len(v) >= hllHeader && string(v[:4]) == "HYLL" {
		var head [hllHeader]byte
		copy(head[:], v)
		hllCacheOut(head[:])
		h.e.Reset()
		h.e.Write(head[:])
		h.e.Write(v[hllHeader:])
		h.whole = h.e.Sum64()
		return
	}
	h.whole = xxhash.Sum64(v)
}

func (h *ValueHasher) putTo(d *xxhash.Digest, v []byte) {
	d.Write(h.lb[:binary.PutUvarint(h.lb[:], uint64(len(v)))])
	d.Write(v)
}

// Seq adds the next piece of a list (an element) or a stream (ids, fields, values and
// the state streamState reads), in order.
func (h *ValueHasher) Seq(v []byte) { h.putTo(&h.d, v) }

// SeqString is Seq of a string.
func (h *ValueHasher) SeqString(s string) {
	h.d.Write(h.lb[:binary.PutUvarint(h.lb[:], uint64(len(s)))])
	h.d.WriteString(s)
}

// Member adds a set member.
func (h *ValueHasher) Member(m []byte) {
	h.e.Reset()
	h.putTo(&h.e, m)
	h.set.add(h.e.Sum64())
}

// Field adds a hash field and its value.
func (h *ValueHasher) Field(f, v []byte) {
	h.e.Reset()
	h.putTo(&h.e, f)
	h.putTo(&h.e, v)
	h.set.add(h.e.Sum64())
}

// Scored adds a sorted set member and its score.
func (h *ValueHasher) Scored(m []byte, score float64) {
	h.e.Reset()
	h.putTo(&h.e, m)
	var sb [8]byte
	binary.LittleEndian.PutUint64(sb[:], math.Float64bits(score))
	h.e.Write(zsetScoreLen[:])
	h.e.Write(sb[:])
	h.set.add(h.e.Sum64())
}

// Sum is the value hash of the key.
func (h *ValueHasher) Sum() uint64 {
	switch h.t {
	case TypeHash, TypeSet, TypeZSet:
		return h.set.final()
	case TypeList, TypeStream:
		return h.d.Sum64()
	}
	return h.whole
}

// ManifestBuilder writes the manifest of one snapshot from keys hashed elsewhere (see
// ValueHasher) and sums them as Fingerprint does. Expire times are exact (TTLPExpireTime).
type ManifestBuilder struct {
	mw     *manifestWriter
	sums   [NumShards]uint64
	counts [NumShards]int64
	types  map[KeyType]int64
	perDB  map[int]int64
	ttl    bool
}

// NewManifestBuilder starts a manifest in a snapshot directory.
func NewManifestBuilder(dir string) (*ManifestBuilder, error) {
	mw, err := newManifestWriter(dir)
	if err != nil {
		return nil, err
	}
	return &ManifestBuilder{mw: mw, types: map[KeyType]int64{}, perDB: map[int]int64{}}, nil
}

// Add records one key (exp: absolute unix ms, -1 none).
func (b *ManifestBuilder) Add(db int, key string, t KeyType, vh uint64, exp int64) error {
	kh := keyID(db, key)
	shard := int(kh >> 56)
	b.sums[shard] += keyHash(kh, t, vh, exp)
	b.counts[shard]++
	b.types[t]++
	b.perDB[db]++
	if exp >= 0 {
		b.ttl = true
	}
	return b.mw.write(shard, db, key, t, vh, exp)
}

// Abort closes the files of an unfinished manifest.
func (b *ManifestBuilder) Abort() { b.mw.abort() }

// Finish closes the manifest and fills s's counts, digest, shards, types, databases
// (dbs: the databases it covers, in order) and TTL mode; the caller sets the rest.
func (b *ManifestBuilder) Finish(s *Summary, dbs []int) error {
	if err := b.mw.close(); err != nil {
		return err
	}
	s.Format = ManifestFormat
	s.TTLMode = TTLNone
	if b.ttl {
		s.TTLMode = TTLPExpireTime
	}
	s.Shards = make([]ShardSum, NumShards)
	s.Types = map[string]int64{}
	s.Keys, s.Digest = 0, 0
	for i := 0; i < NumShards; i++ {
		s.Shards[i] = ShardSum{Keys: b.counts[i], Sum: Hex64(b.sums[i])}
		s.Keys += b.counts[i]
		s.Digest += Hex64(b.sums[i])
	}
	for t, n := range b.types {
		s.Types[t.String()] += n
	}
	s.Databases = []DBSummary{}
	for _, db := range dbs {
		s.Databases = append(s.Databases, DBSummary{DB: db, Keys: b.perDB[db]})
	}
	return nil
}
