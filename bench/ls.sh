#!/usr/bin/env bash
# bench/ls.sh: how long `docker stateful ls` and `check` take on a swarm of N services (default
# 200 redis services, one replica each), next to `docker service ls` on the same swarm, median
# of R runs (default 10), alternating, all through the docker CLI (the plugin installed in a
# temporary DOCKER_CONFIG, as install.sh lays it out). Needs a harness swarm:
# DST_CLUSTER_ENV=<its env file> (e2e/swarm/swarm.sh env), and the plugin (make build).
# Creates the services with the label dst-bench-ls, removes them on exit (BENCH_KEEP=1: keeps
# them, and a later run reuses them). BENCH_BASELINE=DIR (a copy of an older bin/) times that
# build too, in the same rounds: before and after in one run. Prints the medians and the ratio
# of ls and check to docker service ls (issue 19's target: at most 1.5x).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${BENCH_SERVICES:-200}
R=${BENCH_ROUNDS:-10}
: "${DST_CLUSTER_ENV:?set DST_CLUSTER_ENV to a harness cluster env file}"
# shellcheck disable=SC1090
. "$DST_CLUSTER_ENV"
export DOCKER_HOST=$DST_MANAGER_HOST
TMP=$(mktemp -d /tmp/dst-bench-ls.XXXXXX)
# install BIN_DIR CONFIG_DIR: the plugin of BIN_DIR, laid out as install.sh does
install_plugin() {
	mkdir -p "$2/cli-plugins/docker-stateful.d"
	echo '{}' >"$2/config.json"
	cp "$1/docker-stateful" "$2/cli-plugins/docker-stateful"
	cp "$1/docker-stateful.d/docker-stateful" "$2/cli-plugins/docker-stateful.d/docker-stateful"
}
install_plugin bin "$TMP/new"
builds=(new)
if [ -n "${BENCH_BASELINE:-}" ]; then
	install_plugin "$BENCH_BASELINE" "$TMP/base"
	builds=(base new)
fi
export DOCKER_CONFIG=$TMP/new
cleanup() {
	if [ -z "${BENCH_KEEP:-}" ]; then
		docker service ls -q --filter label=dst-bench-ls | xargs -r docker service rm >/dev/null || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
have=$(docker service ls -q --filter label=dst-bench-ls | wc -l)
prefix=dstbench$RANDOM
echo "creating $((N - have)) services ($have already there)..."
for i in $(seq $((have + 1)) "$N"); do
	docker service create -d -q --no-resolve-image --label dst-bench-ls=1 --name "$prefix-$i" redis >/dev/null &
	if (( i % 8 == 0 )); then wait; fi
done
wait
for _ in $(seq 600); do
	running=$(docker service ls --filter label=dst-bench-ls --format '{{.Replicas}}' | grep -c '^1/1' || true)
	[ "$running" -ge "$N" ] && break
	sleep 1
done
echo "$running of $N services running; tasks in the swarm: $(docker node ps -q "$DST_NODE1_ID" "$DST_NODE2_ID" "$DST_NODE3_ID" 2>/dev/null | sort -u | wc -l)"
ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for _ in $(seq "$R"); do
	ms docker service ls >>"$TMP/svc"
	for b in "${builds[@]}"; do
		DOCKER_CONFIG=$TMP/$b ms docker stateful ls >>"$TMP/ls-$b"
		DOCKER_CONFIG=$TMP/$b ms docker stateful check >>"$TMP/check-$b"
	done
done
rows=$(docker stateful ls --filter label=dst-bench-ls -q | wc -l)
echo "docker stateful ls lists $rows bench services"
svc=$(median <"$TMP/svc")
for b in "${builds[@]}"; do
	ls=$(median <"$TMP/ls-$b") check=$(median <"$TMP/check-$b")
	label="docker stateful"
	[ "${#builds[@]}" -gt 1 ] && label="$label ($b: $([ "$b" = base ] && echo "$BENCH_BASELINE" || echo bin))"
	echo "median of $R: docker service ls $svc ms, $label ls $ls ms, check $check ms"
	# The target (issue 19): ls and check within 1.5x docker service ls, measured in the same run.
	awk -v s="$svc" -v l="$ls" -v c="$check" -v b="$b" 'BEGIN {
		if (s <= 0) s = 1
		printf "%s: ratio to docker service ls: ls %.2fx, check %.2fx (target <= 1.50x): %s\n", b, l / s, c / s, (l / s <= 1.5 && c / s <= 1.5) ? "met" : "NOT met"
	}'
done
