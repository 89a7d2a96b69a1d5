#!/usr/bin/env bash
# make e2e: the end-to-end suite in lanes that run at the same time, each lane on
# swarms of its own (the harness claims a free cluster index per `go test`):
#
#   - the full suite on E2E_ENGINE (default 20), split into E2E_SHARDS lanes (default 3)
#     balanced by e2e/durations.txt (seconds per test, measured; a test missing from it
#     counts E2E_DEFAULT_SECONDS);
#   - one more lane runs each compatibility subset in turn: E2E_COMPAT, a list of
#     ENGINE=REGEX words (default: the CSI cluster volume on 28, then the subset on 26,
#     whose Debian 13 images may still be building).
#
# The tests spend most of their time waiting on swarm (task restarts, stop grace periods,
# convergence), not on the CPU, which is why lanes in parallel cut the wall time on a
# 2-core machine. The test binary is compiled once. Each lane writes its own log, printed
# whole when the lane ends; the summary gives each lane's wall time and result.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
GO=${GO:-go}
BIN=${BIN:-bin/docker-stateful}
engine=${E2E_ENGINE:-20}
shards=${E2E_SHARDS:-3}
timeout=${E2E_TIMEOUT:-60m}
default_seconds=${E2E_DEFAULT_SECONDS:-30}
compat=${E2E_COMPAT-28=^(TestCSIClusterVolume|TestVerifyUpdateKeepsData)\$ 26=^(TestCreateSeedReplayKeepsData|TestCreateDryRunSendsNothing|TestUpdateRefusesTheSeedService|TestUpdateRefusesWhatRedisWouldLose|TestVerifyUpdateKeepsData|TestVerifyUpdateLosingDataRollsBack|TestStackDeployKeepsData|TestOpsAdoptSeedService|TestPruneAfterAdoptAndRm|TestPruneFlagsAnonymousMountedByName|TestGuardRefusesRedis8ToRedis7|TestGuardRefusesPostgres15ToPostgres17|TestMove|TestBackupRestore|TestPostgresUpdateVerify|TestValkeyReportedAsValkey)\$}
images=${E2E_IMAGES:-redis8 valkey8 postgres17}

[ "$(id -u)" = 0 ] || { echo "make e2e needs root: it starts its own dockerd nodes in network namespaces" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The Debian 13 images are built (or taken from the cache) meanwhile: the tests that need
# an image wait for its build (hack/db-image.sh locks).
( for n in $images; do bash hack/db-image.sh "$n" >/dev/null || exit 1; done ) >"$work/images.log" 2>&1 &
img=$!

echo "==> compiling the e2e test binary"
$GO test -tags e2e -c -o "$work/e2e.test" ./e2e/ || exit 1
$GO test -count=1 ./e2e/cluster/ || exit 1

# Greedy split: longest test first, into the lane with the least total so far.
"$work/e2e.test" -test.list '^Test' >"$work/tests" || exit 1
awk -v n="$shards" -v def="$default_seconds" '
	FNR == NR { d[$1] = $2; next }
	{ t = ($1 in d) ? d[$1] : def; print t, $1 }
' e2e/durations.txt "$work/tests" | sort -k1,1nr -k2 | awk -v n="$shards" '
	{ best = 0; for (i = 1; i < n; i++) if (sum[i] < sum[best]) best = i
	  sum[best] += $1; list[best] = list[best] (list[best] == "" ? "" : "|") $2 }
	END { for (i = 0; i < n; i++) printf "%d %s\n", sum[i], list[i] }
' >"$work/shards"

run() { # run LANE ENGINE REGEX: one go test process, its own swarm
	local lane=$1 e=$2 re=$3 t0 rc
	t0=$(date +%s)
	(cd e2e && DST_ENGINE=$e DST_PLUGIN_BINARY=$root/$BIN "$work/e2e.test" -test.count=1 \
		-test.timeout "$timeout" -test.v -test.run "$re") >>"$work/$lane.log" 2>&1
	rc=$?
	# On a compatibility lane a skip is a failure: a test that passes on one generation
	# and not on the other is a defect (the CSI test skips below Docker 28.2).
	case $lane in compat-*) grep -q '^--- SKIP' "$work/$lane.log" && rc=1 ;; esac
	echo "$lane engine $e: $(grep -c '^--- PASS' "$work/$lane.log") passed, $(grep -c '^--- FAIL' "$work/$lane.log") failed, $(grep -c '^--- SKIP' "$work/$lane.log") skipped in $(($(date +%s) - t0)) s (exit $rc)" >"$work/$lane.sum"
	return $rc
}

t0=$(date +%s)
pids=()
i=0
while read -r est list; do
	i=$((i + 1))
	echo "==> lane full-$i: engine $engine, $(tr '|' '\n' <<<"$list" | wc -l) tests, ~${est} s by e2e/durations.txt"
	run "full-$i" "$engine" "^($list)\$" &
	pids+=($!)
done <"$work/shards"
(
	rc=0
	for c in $compat; do
		e=${c%%=*} re=${c#*=}
		bash hack/install-docker.sh "$e" >>"$work/compat-$e.log" 2>&1 || { echo "compat-$e: installing docker $e failed" >"$work/compat-$e.sum"; rc=1; continue; }
		run "compat-$e" "$e" "$re" || rc=1
	done
	exit $rc
) &
pids+=($!)
echo "==> lane compat: $(for c in $compat; do printf '%s ' "${c%%=*}"; done)(one after the other)"

rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
wait "$img" || { echo "building the database images failed:"; cat "$work/images.log"; rc=1; }
for f in "$work"/*.log; do
	case $f in */images.log) continue ;; esac
	echo "==> log of lane $(basename "$f" .log)"
	cat "$f"
done
echo "==> e2e summary (wall $(($(date +%s) - t0)) s)"
cat "$work"/*.sum
exit $rc
