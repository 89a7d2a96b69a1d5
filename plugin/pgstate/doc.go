// Package pgstate is the PostgreSQL side of `docker stateful update --verify`, `snapshot`
// and `verify`, with the same shapes as redisstate: it reaches a server, checks that its
// data can survive the replacement of the process, takes a durable and exact cut,
// fingerprints every database on the server (only one count and one sum per table travel)
// and proves a later state against it. It knows nothing about Docker or cobra.
//
// # Flow of update --verify
//
//	opt, _ := pgstate.ParseURL(url)                  // postgres://user@host:port/db?sslmode=...
//	opt.LoadPassword(os.Getenv, passwordFile)        // file, else PGPASSWORD; else .pgpass (driver)
//	c, _ := pgstate.NewClient(opt)                   // no I/O; opt prints redacted
//	si, err := c.WaitReady(ctx, 2*time.Minute, progress) // accepts connections, not in recovery
//	pre, err := pgstate.Preflight(ctx, c, pgstate.PreflightInput{
//		MountTargets: targets, DataDir: pgstate.DataDirFromEnv(env), StopGrace: grace})
//	if !pre.OK() { print pre.Refusals; exit 1 }      // {code, path, message, fix}; print Warnings too
//	cut, err := pgstate.Cut(ctx, c, pgstate.CutOptions{WaitWriters: 30 * time.Second})
//	defer cut.Cleanup()                              // resumes writes on every path (no context)
//	st, _ := pgstate.OpenStore(stateDir)             // same directory and ids as redisstate
//	before, err := pgstate.TakeSnapshot(ctx, c, st, service, &cut.Info, fpOpts)
//	... update the service: the old server stops with writes off ...
//	si2, err := c.WaitRestarted(ctx, si.PostmasterStart, deadline, progress)
//	// si2.ReadOnly: the new server starts read-only (the setting is in postgresql.auto.conf)
//	rep, after, err := pgstate.VerifyAgainst(ctx, c, st, before, fpOpts, pgstate.CompareOptions{})
//	pgstate.RenderText(os.Stdout, rep)               // or RenderJSON for --format json
//	if !rep.OK() { roll back; WaitRestarted; VerifyAgainst again }
//	pgstate.Resume(ctx, c)                           // writes back on, on the server now running
//
// Unlike Redis' pause, writes must stay off from the cut until the new server is verified:
// do not Release between the snapshot and the update (the old server would take writes the
// snapshot lacks). Release only when the update is not sent; once it is sent, an
// interrupted or failed flow calls ResumeWhenReady(ctx, c, deadline), which waits for the
// next server on the data directory (it starts read-only) and resumes it, independent of
// the caller's context.
//
// `snapshot SERVICE` is WaitReady + Preflight + Cut + TakeSnapshot + Release; `verify
// SERVICE [--against ID]` is WaitReady + Store.Load(id) / Store.Latest(service) +
// VerifyAgainst.
//
// # The cut
//
// ALTER SYSTEM SET default_transaction_read_only = on + pg_reload_conf(): every transaction
// that begins after the reload is read-only (reads keep working; writes fail with SQLSTATE
// 25006). Cut then waits (bounded by CutOptions.WaitWriters, progress reported) until no
// client session has a transaction that began before the reload or holds a transaction id
// (a session that set READ WRITE itself) and no prepared transaction waits for COMMIT
// PREPARED (allowed in a read-only transaction), and runs CHECKPOINT. On timeout it fails with a
// *WritersError that names the sessions (pid, user@db, application, client, query). Per-role
// or per-database settings of default_transaction_read_only override ALTER SYSTEM: Preflight
// refuses them.
//
// The setting lives in postgresql.auto.conf in the data directory, so the next server on
// that directory starts read-only too: the after-update fingerprint sees exactly what was
// loaded, and Resume (ALTER SYSTEM RESET + reload; ALTER SYSTEM is allowed in a read-only
// transaction) turns writes back on after verification — also after a rollback, whose
// server runs on the same directory. Release (idempotent, nil-safe, own 10 s timeout,
// independent of the caller's context) does the same on the server it reaches; when that
// server is gone it returns *ResumePendingError and the caller must Resume on the new one.
// Cut resumes writes itself when it fails or is interrupted.
//
// If the process that cut dies (SIGKILL, OOM, a closed terminal) nothing in it can resume
// writes, and the setting survives restarts. Cut therefore first starts a watchdog (this
// program again, in its own session, fed through a pipe: the password never goes to argv
// or the environment). A successful Resume or Release disarms it; when the pipe closes
// without that, the watchdog waits (up to WatchdogDeadline) for a server on the cut's
// address and resumes writes on it. TakeSnapshot of a cut leaves a marker in the state
// directory (pg-readonly/) that resuming removes: PendingCuts lists the markers whose
// process is gone, with the one command that ends the read-only state, for ls, check and
// status.
//
// # Fingerprint
//
// For every database except templates (and those that refuse connections), in one
// REPEATABLE READ READ ONLY snapshot per database (exported with pg_export_snapshot to
// FingerprintOptions.Workers connections that hash tables in parallel):
//
//   - per table and materialized view: count(*) and sum(hashtextextended(row::text, 0)) as
//     numeric, reduced mod 2^64 in Go: exact, independent of the physical row order, and
//     duplicate rows of a table without primary key count as often as they occur. The row
//     text is canonical because the session fixes DateStyle, TimeZone, IntervalStyle,
//     extra_float_digits and bytea_output; JSONB and bytea have a canonical text form.
//     Partitioned tables are hashed through their partitions. Large objects are hashed
//     from pg_largeobject when the role may read it;
//   - per table the schema: columns (name, type, NOT NULL, default, identity, generated,
//     collation), index definitions, constraint definitions, unlogged;
//   - sequences: definition, last_value and is_called; user types (enum labels, domains,
//     composites) and view definitions.
//
// The snapshot is <state>/snapshots/<id>/summary.json ("engine": "postgres", per-database
// digests) plus shards/NNN.json, one DBManifest per database. redisstate's store skips these
// snapshots and this store skips Redis ones (LoadSnapshotDir returns ErrOtherEngine).
//
// # Compare
//
// Equal digests verify at once; otherwise the databases whose digests differ are compared
// table by table: MISSING (database, table, sequence, type or view gone: fails), CHANGED
// (row count or contents differ, with the row delta; a sequence that went back: fails),
// SCHEMA-CHANGED (columns/indexes/constraints/definition, listed as -/+: fails), ADVANCED (a
// sequence ahead, as crash recovery leaves it: fine) and NEW (fine). Row-level differences
// are not located: the digest is per table.
//
// default_transaction_read_only is only a default: a session with SET SESSION
// CHARACTERISTICS AS TRANSACTION READ WRITE, options=-c default_transaction_read_only=off
// or BEGIN READ WRITE writes through the cut. When the comparison fails, VerifyAgainst
// (AttributeWrites) counts, in each changed table, the row versions written by
// transactions the cut's snapshot did not see (xmin at or after the snapshot's horizon,
// same cluster, not an older copy): when every difference is such a table, the verdict is
// "unverified" (Report.Unattributed, Report.WrittenAfterCut): no loss proven, and no
// rollback, which would drop those writes. Deleted rows leave no row: a table that shrank
// with nothing written after the cut still fails.
//
// # Rights
//
// A superuser needs nothing else. Another role needs (Preflight says which are missing and
// the GRANT that fixes each): EXECUTE on pg_reload_conf(), ALTER SYSTEM on parameter
// default_transaction_read_only (15+), pg_checkpoint (15+), pg_read_all_data (14+),
// pg_read_all_stats, and pg_read_all_settings to read data_directory (else the official
// image's /var/lib/postgresql/data is assumed and a warning says so). pg_read_all_data does
// not bypass row-level security: when a table the role does not own (or one with FORCE ROW
// LEVEL SECURITY) has RLS on, Preflight refuses, naming the tables, until ALTER ROLE ...
// BYPASSRLS; the fingerprint's sessions run with row_security = off, so such a table fails
// the fingerprint instead of reading as empty.
package pgstate
