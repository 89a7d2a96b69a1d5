#!/usr/bin/env bash
# bench/run.sh: fingerprint throughput vs the server's own GET ceiling, client memory at 1M
# and 10M keys, and the time to compare two 1M-key snapshots that differ in 2 keys.
# Starts its own redis-server on 127.0.0.1 (free port, temp dir) and stops it on exit.
#
# The machine may be shared: the server ceiling and the fingerprint are measured alternately,
# BENCH_ROUNDS times (a redis-benchmark run of 3M GETs, then 3 fingerprints in one process),
# and both best and median are printed; the verdict uses best vs best.
#
# Env: BENCH_ROUNDS (default 3),
#      BENCH_LARGE   (default 10000000 keys for the second memory figure; 0 = skip),
#      BENCH_BIG     (default 20 values of 50 MB for the big-value memory figure; 0 = skip),
#      BENCH_KEEP    (1 = keep the temp dir).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${BENCH_ROUNDS:-3}
LARGE=${BENCH_LARGE:-10000000}
N=1000000

for b in redis-server redis-cli redis-benchmark go python3; do
	command -v "$b" >/dev/null || { echo "bench: $b not found (apt-get install redis-server redis-tools)" >&2; exit 1; }
done

TMP=$(mktemp -d /tmp/docker-stateful-bench.XXXXXX)
RPID=""
cleanup() {
	if [ -n "$RPID" ] && kill -0 "$RPID" 2>/dev/null; then
		redis-cli -h 127.0.0.1 -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
		for _ in $(seq 50); do kill -0 "$RPID" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$RPID" 2>/dev/null || true
	fi
	[ -z "$RPID" ] || wait "$RPID" 2>/dev/null || true # reap it: no zombie left behind
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

go build -o "$TMP/fpbench" ./bench/cmd/fpbench
FP="$TMP/fpbench"
PORT=$("$FP" freeport)
ADDR=127.0.0.1:$PORT
mkdir -p "$TMP/redis"
redis-server --port "$PORT" --bind 127.0.0.1 --dir "$TMP/redis" --save '' --appendonly no \
	--enable-debug-command local --daemonize no --logfile "$TMP/redis/redis.log" &
RPID=$!
for _ in $(seq 100); do redis-cli -h 127.0.0.1 -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
VER=$(redis-cli -h 127.0.0.1 -p "$PORT" info server | sed -n 's/^redis_version:\(.*\)\r$/\1/p')
echo "redis-server $VER on $ADDR (pid $RPID), $(nproc) CPUs, $(go version | cut -d' ' -f3)"

# Keys key:%012d with 22-byte values: the names redis-benchmark -r uses, so its GETs hit
# (DEBUG POPULATE's key:N never matches key:__rand_int__ and would measure misses, which
# are much cheaper than hits).
echo "loading $N keys ..."
"$FP" load -addr "$ADDR" -from 0 -to "$N"
echo "dbsize $(redis-cli -h 127.0.0.1 -p "$PORT" dbsize), used_memory $(redis-cli -h 127.0.0.1 -p "$PORT" info memory | sed -n 's/^used_memory_human:\(.*\)\r$/\1/p')"

ceil=() ; fps=() ; fpmem=()
for r in $(seq "$ROUNDS"); do
	c=$(redis-benchmark -h 127.0.0.1 -p "$PORT" -P 64 -t get -n 3000000 -r "$N" -q 2>/dev/null | tr '\r' '\n' | sed -n 's/^GET: \([0-9.]*\) requests per second.*/\1/p' | tail -1)
	j=$("$FP" fingerprint -addr "$ADDR" -runs 3)
	f=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["best_keys_per_sec"])' "$j")
	m=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["mem"]["vmhwm_kb"])' "$j")
	printf 'round %d: ceiling %.0f GET/s, fingerprint %.0f keys/s (%.2f), peak RSS %.1f MB\n' "$r" "$c" "$f" "$(python3 -c "print($f/$c)")" "$(python3 -c "print($m/1024)")"
	ceil+=("$c"); fps+=("$f"); fpmem+=("$m")
done

echo "compare: two snapshots of $N keys, 2 keys changed in between ..."
CMP=$("$FP" compare -addr "$ADDR")
echo "$CMP"

LMEM=""; LRATE=""
if [ "$LARGE" -gt 0 ]; then
	echo "loading up to $LARGE keys ..."
	"$FP" load -addr "$ADDR" -from "$N" -to "$LARGE"
	echo "dbsize $(redis-cli -h 127.0.0.1 -p "$PORT" dbsize), used_memory $(redis-cli -h 127.0.0.1 -p "$PORT" info memory | sed -n 's/^used_memory_human:\(.*\)\r$/\1/p')"
	LJ=$("$FP" fingerprint -addr "$ADDR" -runs 1)
	LMEM=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["mem"]["vmhwm_kb"])' "$LJ")
	LRATE=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["best_keys_per_sec"])' "$LJ")
fi

# Big values: the fingerprint hashes each value as it arrives (flat client memory); the
# per-key GET path, which holds the values of a batch, is printed for reference.
BIG=${BENCH_BIG:-20}; BMEM=0; BGETMEM=0
if [ "$BIG" -gt 0 ]; then
	redis-cli -h 127.0.0.1 -p "$PORT" flushall >/dev/null
	echo "loading $BIG values of 50 MB ..."
	"$FP" bigload -addr "$ADDR" -n "$BIG" -mb 50
	echo "used_memory $(redis-cli -h 127.0.0.1 -p "$PORT" info memory | sed -n 's/^used_memory_human:\(.*\)\r$/\1/p')"
	BMEM=$("$FP" fingerprint -addr "$ADDR" -runs 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["mem"]["vmhwm_kb"])')
	BGETMEM=$("$FP" fingerprint -addr "$ADDR" -runs 1 -perkey | python3 -c 'import json,sys; print(json.load(sys.stdin)["mem"]["vmhwm_kb"])')
fi

python3 - "$N" "$LARGE" "${LMEM:-0}" "${LRATE:-0}" "$CMP" "${ceil[*]}" "${fps[*]}" "${fpmem[*]}" "$BIG" "$BMEM" "$BGETMEM" <<'PY'
import json, statistics, sys
n, large, lmem, lrate, cmp = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), json.loads(sys.argv[5])
big, bmem, bgetmem = int(sys.argv[9]), int(sys.argv[10]), int(sys.argv[11])
ceil = [float(x) for x in sys.argv[6].split()]
fps = [float(x) for x in sys.argv[7].split()]
mem = [int(x) for x in sys.argv[8].split()]
best_ratio = max(fps) / max(ceil)
med_ratio = statistics.median(fps) / statistics.median(ceil)
rows = [
    ("server ceiling, redis-benchmark -P 64 GET (best / median)", f"{max(ceil)/1e3:,.0f}K / {statistics.median(ceil)/1e3:,.0f}K req/s", "", None),
    ("fingerprint 1M keys (best / median)", f"{max(fps)/1e3:,.0f}K / {statistics.median(fps)/1e3:,.0f}K keys/s", "", None),
    ("fingerprint / ceiling (best / median)", f"{best_ratio:.2f} / {med_ratio:.2f}", ">= 0.95", best_ratio >= 0.95),
    ("client peak RSS (VmHWM), 1M keys", f"{max(mem)/1024:.1f} MB", "<= 64 MB", max(mem) <= 64*1024),
]
if large > 0:
    rows.append((f"client peak RSS (VmHWM), {large/1e6:.0f}M keys ({lrate/1e3:,.0f}K keys/s)", f"{lmem/1024:.1f} MB", "<= 64 MB", lmem <= 64*1024))
if big > 0:
    rows.append((f"client peak RSS (VmHWM), {big} values of 50 MB", f"{bmem/1024:.1f} MB", "<= 64 MB", bmem <= 64*1024))
    rows.append((f"  same with one GET per key (values held), for reference", f"{bgetmem/1024:.1f} MB", "", None))
rows.append(("compare 1M vs 1M, 2 keys differ", f"{cmp['compare_ms']:.2f} ms ({cmp['differing_shards']} shards, {cmp['missing']} missing, {cmp['changed']} changed)", "< 50 ms",
             cmp['compare_ms'] < 50 and cmp['missing'] == 1 and cmp['changed'] == 1))
w = max(len(r[0]) for r in rows)
v = max(len(r[1]) for r in rows)
print()
print(f"{'MEASURE':<{w}}  {'RESULT':<{v}}  {'TARGET':<8}  VERDICT")
fail = False
for name, val, tgt, ok in rows:
    verdict = "" if ok is None else ("PASS" if ok else "FAIL")
    fail |= ok is False
    print(f"{name:<{w}}  {val:<{v}}  {tgt:<8}  {verdict}")
sys.exit(1 if fail else 0)
PY
