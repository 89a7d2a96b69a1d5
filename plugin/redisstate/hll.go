package redisstate

import "github.com/cespare/xxhash/v2"

// stringHash hashes a string value. A HyperLogLog is a string whose header
// caches its cardinality (bytes 8..15), which PFCOUNT rewrites — a read as far
// as the data goes: the cache is left out, so that a client's PFCOUNT after
// an update is not a changed key.
func stringHash(v string) uint64 {
	if len(v) < 16 || v[:4] != "HYLL" {
		return xxhash.Sum64String(v)
	}
	d := xxhash.New()
	_, _ = d.WriteString(v[:8])
	_, _ = d.WriteString("\x00\x00\x00\x00\x00\x00\x00\x00")
	_, _ = d.WriteString(v[16:])
	return d.Sum64()
}
