package redisstate

import "github.com/cespare/xxhash/v2"

// hllHeader is the size of a HyperLogLog's header: "HYLL", the encoding,
// three unused bytes, and the cached cardinality (bytes 8..15).
const hllHeader = 16

// stringHash hashes a string value. A HyperLogLog is a string whose header
// caches its cardinality (bytes 8..15), which PFCOUNT rewrites — a read as far
// as the data goes: the cache is left out, so that a client's PFCOUNT after
// an update is not a changed key. (readBulkHashTrim streams the same rule.)
func stringHash(v string) uint64 {
	if len(v) < hllHeader || v[:4] != "HYLL" {
		return xxhash.Sum64String(v)
	}
	head := []byte(v[:hllHeader])
	hllCacheOut(head)
	d := xxhash.New()
	_, _ = d.Write(head)
	_, _ = d.WriteString(v[hllHeader:])
	return d.Sum64()
}

// hllCacheOut zeroes the cached cardinality in head (a value's first
// hllHeader bytes) when the value is a HyperLogLog.
func hllCacheOut(head []byte) {
	if string(head[:4]) == "HYLL" {
		clear(head[8:hllHeader])
	}
}
