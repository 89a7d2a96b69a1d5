// Package redisstate is the Redis side of `docker stateful update --verify`, `snapshot`
// and `verify`: it reaches a Redis server, checks that its data can survive the
// replacement of the process, takes a durable and consistent cut, fingerprints the
// dataset canonically and proves a later dataset against it. It knows nothing about
// Docker or cobra: the command layer finds the address, the mounts and the grace period
// and prints what this package returns.
//
// # Flow of update --verify
//
//	opt, _ := redisstate.ParseURL(url)               // or Options{Addr: found}
//	opt.CAFile = cacert
//	opt.LoadPassword(os.Getenv, passwordFile)        // REDISCLI_AUTH or file, never argv
//	c, _ := redisstate.NewClient(opt)                // no I/O yet; opt prints redacted
//	info, err := c.WaitReady(ctx, 2*time.Minute, progress) // loading:0; one-line errors
//	pre, err := redisstate.Preflight(ctx, c, redisstate.PreflightInput{
//		MountTargets: targets, StopGrace: grace,
//		NewAppendOnly: redisstate.ParseServerArgs(cmd, args).AppendOnly})
//	if !pre.OK() { print pre.Refusals; exit }        // print pre.Warnings too
//	cut, err := redisstate.Cut(ctx, c, redisstate.CutOptions{Pause: 2 * time.Minute})
//	defer cut.Release(ctx)                           // unpause on every path
//	st, _ := redisstate.OpenStore(stateDir)          // "" = $XDG_STATE_HOME/docker-stateful
//	before, err := redisstate.TakeSnapshot(ctx, c, st, service, &cut.Info, fpOpts)
//	... update the service; cut.Extend(ctx, d) until the old task has stopped ...
//	cut.Release(ctx)
//	info2, err := c.WaitRestarted(ctx, info.RunID, deadline, progress)
//	rep, after, err := redisstate.VerifyAgainst(ctx, c2, st, before, fpOpts,
//		redisstate.CompareOptions{MaxKeys: 20, MustExist: verifyKeys})
//	redisstate.RenderText(os.Stdout, rep)            // or RenderJSON for --format json
//	if !rep.OK() { roll back }
//
// `snapshot SERVICE` is WaitReady + Preflight + Cut + TakeSnapshot + Release;
// `verify SERVICE [--against ID]` is WaitReady + Store.Load(id) / Store.Latest(service) +
// VerifyAgainst.
//
// # Fingerprint
//
// Every logical database that holds keys (INFO keyspace) is scanned, each key identified
// by (database, key); summaries count keys per database and reports name a key's database
// when it is not 0. --redis-url .../N or ?db=N (Options.OnlyDB) checks database N only and
// reports say so; a snapshot of every database is never compared with one of a single
// database. Snapshots written before (format 0: database 0 only, no checksum) are refused
// with a line that says to take a new one.
//
// # Integrity
//
// summary.json carries a checksum of itself and the size and xxhash64 of every shard file:
// a summary that does not match, a shard of another size (checked at load) or content
// (checked when read) is an error ("snapshot ... is damaged"), never a verdict.
//
// Not DUMP bytes: hashtable-encoded hashes and sets DUMP in dict order, which depends on
// the per-process hash seed, and DUMP changes across Redis versions. One goroutine runs
// SCAN COUNT 1000; three workers read each batch with one MGET (+ PEXPIRETIME per key when
// INFO keyspace shows expires; PTTL on Redis < 7.0). MGET answers nil for a non-string
// (and a deleted key): those go through TYPE and the per-type path — hash/set/zset as an
// order-independent sum of element hashes over HSCAN/SSCAN/ZSCAN (score as float64 bits,
// deduplicated when a collection spans several SCAN pages), list and stream in order over
// LRANGE/XRANGE chunks (+ last-generated-id, entries-added and max-deleted-entry-id, and
// each consumer group's name, last-delivered-id, entries-read, consumers and every pending
// entry with its owner and delivery count; see streamState), module types
// as DUMP minus its 10-byte footer (best effort). MGET instead of one blind GET per key
// is a measured choice: same result, far less server time per key (see bench/run.sh;
// FingerprintOptions.PerKeyGet keeps the GET variant).
//
// Values are never held: MGET and the per-type pages are read on each worker's own RESP
// connection (resp.go) and every value or element is hashed as it arrives through a
// 64 KiB buffer, so client memory does not grow with value or element sizes (20 values
// of 50 MB: ~10 MB peak RSS, make bench). What does grow: the deduplication set of a
// hash/set/zset that spans several SCAN pages (8 bytes + map overhead per element).
//
// Per key h = xxhash64(xxhash(key) ‖ type ‖ valueHash ‖ expireAt), summed mod 2^64 with
// counts globally and per shard (top byte of xxhash(key), 256 shards). Records
// (key, type, valueHash, expireAt) stream into shards/XX.bin through one writer goroutine
// with fixed buffers: client memory stays flat (~20 MB RSS at 1M and 10M keys).
// summary.json holds id, service, time, run_id, redis_version, TTL mode, scan times
// (server clock), counts per type and the per-shard sums.
//
// # Compare
//
// Equal digest and key count: verified in O(1). Otherwise only shards whose sum or count
// differ are loaded as maps (which also absorbs SCAN duplicates) and keys are classified:
// MISSING (fails), CHANGED value or type (fails), NEW (fine: written after the cut),
// EXPIRED (expected: its expire time had passed by the end of the after-scan) and
// TTL-CHANGED. TTL-CHANGED does not fail by default — clients legitimately refresh or
// drop TTLs after the cut and the value is intact — unless CompareOptions.StrictTTL.
// --verify-key keys (MustExist) are looked up explicitly in the after manifest and fail
// the verdict when absent. On Redis < 7.0 (PTTL mode) only a has-TTL flag is in the digest
// and expire times are compared with a tolerance where shards are loaded anyway.
//
// # ACL
//
// A dedicated user needs: +@read +info +ping +time +config|get +client|pause
// +client|unpause +save +bgsave ~* (TIME is optional; WAITAOF on 7.2+ with AOF). Without
// CONFIG, Preflight warns and assumes the official image's defaults.
//
// # Secrets
//
// Passwords come from REDISCLI_AUTH or a file; a password inside --redis-url is refused.
// Options.Password is a Secret: String, %v/%#v/%q, JSON and text marshalling all print
// "***". Connection failures are *ConnectError with one line, e.g.
// "cannot reach Redis at 10.0.0.1:10000: connection refused" or
// "Redis at 10.0.0.1:10000 refused the password (WRONGPASS)".
package redisstate
