// Package redisbackup writes and restores verified backups of a Redis server with nothing
// but the Redis protocol: `docker stateful backup` and `restore`.
//
// A backup is taken under the durable cut of plugin/redisstate (CLIENT PAUSE WRITE +
// SAVE): every logical database that holds keys is fingerprinted (redisstate's canonical
// fingerprint), then read with SCAN + pipelined MGET (strings, whose DUMP payload is built
// here) or DUMP (other types) + PEXPIRETIME (PTTL before Redis 7), and streamed through
// zstd into the file; writes resume as soon as the keys are read. The format
// (docs/backup-format.md) carries the header, the fingerprint of the cut, the records and a
// trailer with the record counts and the xxhash64 of the whole uncompressed body.
//
// A restore reads the whole file once first (magic, version, zstd CRCs, body hash,
// counts): a truncated, corrupt or foreign file is refused before anything is written.
// Then RESTORE key ttl payload ABSTTL, pipelined per database; keys whose absolute expire
// time has passed are skipped and reported as EXPIRED; the result is fingerprinted and
// compared with the fingerprint in the file; SAVE.
package redisbackup
