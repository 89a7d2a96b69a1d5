#!/usr/bin/env bash
# bench/move.sh: `make bench-move`. Write downtime of `docker stateful move` by copy (today's
# method: backup under paused writes, two task restarts, restore) and by replication (a
# replica syncs while clients write; one task restart), at 100k and 1M keys of mixed types
# with a writer running, in the same run on a harness swarm (e2e TestBenchMove). Each
# downtime is given twice: as the move reports it and as the writer saw it (its longest gap
# between acknowledged writes).
#
# Env: DST_CLUSTER_ENV (a running harness cluster's env file; default: the test starts one),
#      BENCH_MOVE_KEYS (default "100000,1000000"), BENCH_STRICT (1 = fail on a missed target),
#      DST_PLUGIN_BINARY (default bin/docker-stateful, built by make). Needs root (the harness).
set -euo pipefail
cd "$(dirname "$0")/.."
export DST_BENCH_MOVE=1
export DST_PLUGIN_BINARY=${DST_PLUGIN_BINARY:-$PWD/bin/docker-stateful}
set -o pipefail
go test -tags e2e -count=1 -timeout 60m -run '^TestBenchMove$' -v ./e2e/ |
	grep -E '^(bench-move|\||\(|---|ok|FAIL|PASS|    )'
