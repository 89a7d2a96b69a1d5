#!/usr/bin/env bash
# bench/pg.sh: pgstate's fingerprint throughput (rows/s) against `SELECT count(*)` of the
# same tables in the same run, on a throwaway PostgreSQL (initdb + pg_ctl on 127.0.0.1,
# removed on exit), and the time to compare two snapshots that differ in one row.
#
# Env: BENCH_PG_ROWS (default 1000000 rows in the big table), BENCH_ROUNDS (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${BENCH_PG_ROWS:-1000000}
ROUNDS=${BENCH_ROUNDS:-3}
TMP=$(mktemp -d /tmp/docker-stateful-pgbench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT INT TERM
go build -o "$TMP/pgbench" ./bench/cmd/pgbench
"$TMP/pgbench" -rows "$ROWS" -rounds "$ROUNDS"
