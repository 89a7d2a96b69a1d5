#!/usr/bin/env bash
# bench/backup.sh: docker stateful backup and restore throughput vs the server's own GET and
# SET ceilings (redis-benchmark -P 64) measured in the same run, and the client's peak RSS,
# at 1M keys. Starts its own redis-server on 127.0.0.1 (free port, temp dir), stops it on exit.
#
# Each round: GET ceiling, a backup, SET ceiling, FLUSHALL + a verified restore of that
# backup (which brings the dataset back). Best and median over BENCH_ROUNDS (default 3).
# Rates: "read" = the keys read while writes are paused (SCAN + MGET/DUMP + zstd), "restore"
# = the RESTORE pipelines; "whole" adds SAVE and the fingerprint (backup), the file check,
# the fingerprint, the comparison and SAVE (restore).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${BENCH_ROUNDS:-3}
N=${BENCH_KEYS:-1000000}
for b in redis-server redis-cli redis-benchmark go python3; do
	command -v "$b" >/dev/null || { echo "bench: $b not found (apt-get install redis-server redis-tools)" >&2; exit 1; }
done

TMP=$(mktemp -d /tmp/docker-stateful-bench-backup.XXXXXX)
RPID=""
cleanup() {
	if [ -n "$RPID" ] && kill -0 "$RPID" 2>/dev/null; then
		redis-cli -h 127.0.0.1 -p "$PORT" shutdown nosave >/dev/null 2>&1 || kill "$RPID" 2>/dev/null || true
	fi
	[ -z "$RPID" ] || wait "$RPID" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

go build -o "$TMP/fpbench" ./bench/cmd/fpbench
FP="$TMP/fpbench"
PORT=$("$FP" freeport)
ADDR=127.0.0.1:$PORT
mkdir -p "$TMP/redis"
redis-server --port "$PORT" --bind 127.0.0.1 --dir "$TMP/redis" --save '' --appendonly no \
	--daemonize no --logfile "$TMP/redis/redis.log" &
RPID=$!
for _ in $(seq 100); do redis-cli -h 127.0.0.1 -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
echo "backup/restore: redis-server on $ADDR, $(nproc) CPUs; loading $N keys ..."
"$FP" load -addr "$ADDR" -from 0 -to "$N"

ceiling() { # $1 = get|set
	redis-benchmark -h 127.0.0.1 -p "$PORT" -P 64 -t "$1" -n 3000000 -r "$N" -q 2>/dev/null | tr '\r' '\n' |
		sed -n "s/^${1^^}: \([0-9.]*\) requests per second.*/\1/p" | tail -1
}
J=()
for r in $(seq "$ROUNDS"); do
	g=$(ceiling get)
	b=$("$FP" backup -addr "$ADDR" -out "$TMP/bench.dsbackup")
	s=$(ceiling set)
	x=$("$FP" restore -addr "$ADDR" -out "$TMP/bench.dsbackup")
	J+=("{\"get\":$g,\"set\":$s,\"backup\":$b,\"restore\":$x}")
	echo "round $r: GET $g/s, SET $s/s, backup $b, restore $x" | cut -c1-400
done

# Other types go through DUMP: the same measures on MIXED keys of hashes, lists, sets,
# sorted sets and streams (the ceilings are those measured on the strings just before).
MIXED=${BENCH_MIXED:-200000}
M=""
if [ "$MIXED" -gt 0 ]; then
	g=$(ceiling get); s=$(ceiling set)
	redis-cli -h 127.0.0.1 -p "$PORT" flushall >/dev/null
	echo "loading $MIXED keys of other types ..."
	"$FP" loadmixed -addr "$ADDR" -from 0 -to "$MIXED"
	b=$("$FP" backup -addr "$ADDR" -out "$TMP/mixed.dsbackup")
	x=$("$FP" restore -addr "$ADDR" -out "$TMP/mixed.dsbackup")
	M="{\"get\":$g,\"set\":$s,\"backup\":$b,\"restore\":$x}"
	echo "mixed: GET $g/s, SET $s/s, backup $b, restore $x" | cut -c1-400
fi

python3 - "$M" "${J[@]}" <<'PY'
import json, statistics, sys
mixed = json.loads(sys.argv[1]) if sys.argv[1] else None
rs = [json.loads(a) for a in sys.argv[2:]]
g = [r["get"] for r in rs]; s = [r["set"] for r in rs]
br = [r["backup"]["best_read_keys_per_sec"] for r in rs]; bt = [r["backup"]["best_total_keys_per_sec"] for r in rs]
rr = [r["restore"]["restore_keys_per_sec"] for r in rs]; rt = [r["restore"]["total_keys_per_sec"] for r in rs]
bm = max(r["backup"]["mem"]["vmhwm_kb"] for r in rs); rm = max(r["restore"]["mem"]["vmhwm_kb"] for r in rs)
ok = all(r["restore"]["verdict"] == "verified" for r in rs)
last = rs[-1]["backup"]
K = lambda v: f"{v/1e3:,.0f}K"
rows = [
    ("ceilings GET / SET, redis-benchmark -P 64 (best)", f"{K(max(g))} / {K(max(s))} req/s", "", None),
    ("backup read, keys/s (best / median)", f"{K(max(br))} / {K(statistics.median(br))}", "", None),
    ("backup read / GET ceiling (best / median)", f"{max(br)/max(g):.2f} / {statistics.median(br)/statistics.median(g):.2f}", ">= 0.8", max(br)/max(g) >= 0.8),
    ("whole backup (SAVE, fingerprint, read) / GET ceiling", f"{max(bt)/max(g):.2f} ({K(max(bt))} keys/s)", "", None),
    ("restore RESTORE phase, keys/s (best / median)", f"{K(max(rr))} / {K(statistics.median(rr))}", "", None),
    ("restore / SET ceiling (best / median)", f"{max(rr)/max(s):.2f} / {statistics.median(rr)/statistics.median(s):.2f}", ">= 0.5", max(rr)/max(s) >= 0.5),
    ("whole restore (check, RESTORE, verify, SAVE) / SET ceiling", f"{max(rt)/max(s):.2f} ({K(max(rt))} keys/s)", "", None),
    ("restores verified equal to the backup", f"{sum(r['restore']['verdict']=='verified' for r in rs)}/{len(rs)}", "all", ok),
    (f"backup method (last run)", f"{last['method']}{' (fallback: ' + last['fallback'] + ')' if last.get('fallback') else ''}", "", None),
    ("backup write pause: a writing client's longest gap (worst run)", f"{max(r['backup']['write_gap_ms'] for r in rs)} ms (paused method's own pause: {last['write_pause_ms']} ms)", "<= 100 ms", max(r['backup']['write_gap_ms'] for r in rs) <= 100),
    ("whole backup rate / GET ceiling (best)", f"{max(bt)/max(g):.2f}", ">= 1.0", max(bt)/max(g) >= 1.0),
    ("backup file, 1M keys", f"{last['file_bytes']/1e6:.1f} MB", "", None),
]
if mixed:
    mb, mr = mixed["backup"], mixed["restore"]
    rows += [
        (f"other types ({mb['records']/1e3:.0f}K keys, DUMP): backup read / GET ceiling", f"{mb['best_read_keys_per_sec']/mixed['get']:.2f} ({K(mb['best_read_keys_per_sec'])} keys/s)", "", None),
        ("other types: restore / SET ceiling", f"{mr['restore_keys_per_sec']/mixed['set']:.2f} ({K(mr['restore_keys_per_sec'])} keys/s, {mr['verdict']})", "", None),
    ]
rows += [
    ("client peak RSS (VmHWM), backup / restore, 1M keys", f"{bm/1024:.1f} MB / {rm/1024:.1f} MB", "<= 64 MB", max(bm, rm) <= 64*1024),
]
w = max(len(r[0]) for r in rows); v = max(len(r[1]) for r in rows)
print(f"\n{'MEASURE':<{w}}  {'RESULT':<{v}}  {'TARGET':<8}  VERDICT")
fail = False
for name, val, tgt, good in rows:
    fail |= good is False
    print(f"{name:<{w}}  {val:<{v}}  {tgt:<8}  {'' if good is None else ('PASS' if good else 'FAIL')}")
sys.exit(1 if fail else 0)
PY
