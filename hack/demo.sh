#!/usr/bin/env bash
# hack/demo.sh (make demo): replay the seed's slides ("Dealing with stateful
# services") on a throwaway 3-node swarm brought up with e2e/swarm/swarm.sh and
# removed at exit. Each step prints the command, what `redis get foo` returns
# and ✔ or ✘ against what the slides say. Exit 0 only if every outcome is as
# expected. Needs root (like swarm.sh).
#
# Parts are functions listed in PARTS; to add one (e.g. the same story with
# `docker stateful create`), define part_xxx below and append it to PARTS.
# Helpers for parts: say, run, run_on, redis, expect_foo, expect, wait_redis, pin_target,
# task_node, cleanup_service. In a part, `docker` talks to the manager (node 1)
# with a temporary DOCKER_CONFIG holding the plugin if bin/docker-stateful exists.
#
# Env: DST_CLUSTER_INDEX (default: a free index), DST_NODES (3),
#      DST_PLUGIN_BINARY (default: bin/docker-stateful if built; the full plugin
#      docker-stateful.d/docker-stateful next to it too).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SWARM="$ROOT/e2e/swarm/swarm.sh"
PORT=10000
FAILS=0
CHECKS=0

if [ -t 1 ]; then B=$'\e[1m' G=$'\e[32m' R=$'\e[31m' D=$'\e[2m' N=$'\e[0m'; else B= G= R= D= N=; fi

say() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
# run CMD...: print it as typed and run it, output indented
run() {
	printf '%s$ %s%s\n' "$B" "$*" "$N"
	"$@" 2>&1 | sed 's/^/    /'
	return "${PIPESTATUS[0]}"
}
expect() { # expect WHAT GOT WANT
	CHECKS=$((CHECKS + 1))
	if [ "$2" = "$3" ]; then
		printf '    %s✔ %s: %q (expected)%s\n' "$G" "$1" "$2" "$N"
	else
		printf '    %s✘ %s: %q, expected %q%s\n' "$R" "$1" "$2" "$3" "$N"
		FAILS=$((FAILS + 1))
	fi
}

# --- the cluster -------------------------------------------------------------
pick_index() {
	local i
	for ((i = 250; i >= 2; i--)); do
		[ -e "/sys/class/net/dstbr$i" ] && continue
		[ -e "${DST_STATE_ROOT:-/var/lib/dst-e2e}/$i" ] && continue
		compgen -G "/var/run/netns/dst${i}n*" >/dev/null && continue
		echo "$i"
		return
	done
	echo "demo: no free cluster index" >&2
	exit 1
}

[ "$(id -u)" = 0 ] || { echo "make demo needs root: it starts its own swarm nodes (e2e/swarm/swarm.sh)" >&2; exit 1; }
IDX="${DST_CLUSTER_INDEX:-$(pick_index)}"
NODES="${DST_NODES:-3}"
DOCKER_CONFIG_DIR="$(mktemp -d /tmp/dst-demo-docker-config.XXXXXX)"
teardown() {
	trap - EXIT INT TERM
	echo
	"$SWARM" -i "$IDX" down 2>&1 | sed 's/^/    /'
	rm -rf "$DOCKER_CONFIG_DIR"
}
trap teardown EXIT
trap 'exit 130' INT TERM

say "bringing up a throwaway $NODES-node swarm (cluster $IDX)"
"$SWARM" -i "$IDX" -n "$NODES" up 2>&1 | sed 's/^/    /'
[ "${PIPESTATUS[0]}" = 0 ] || { echo "demo: swarm.sh up failed" >&2; exit 1; }
eval "$("$SWARM" -i "$IDX" env)"

export DOCKER_CONFIG="$DOCKER_CONFIG_DIR"
unset DOCKER_HOST DOCKER_CONTEXT
echo '{}' >"$DOCKER_CONFIG/config.json"
PLUGIN="${DST_PLUGIN_BINARY:-$ROOT/bin/docker-stateful}"
# The front docker execs, and the full plugin next to it (make build builds both).
PLUGIN_FULL="$(dirname "$PLUGIN")/docker-stateful.d/docker-stateful"
if [ -x "$PLUGIN" ] && [ -x "$PLUGIN_FULL" ]; then
	mkdir -p "$DOCKER_CONFIG/cli-plugins/docker-stateful.d"
	cp "$PLUGIN_FULL" "$DOCKER_CONFIG/cli-plugins/docker-stateful.d/docker-stateful"
	cp "$PLUGIN" "$DOCKER_CONFIG/cli-plugins/docker-stateful"
	HAVE_PLUGIN=1
else
	HAVE_PLUGIN=
fi

# `docker` in the demo talks to the manager, as the slides' shell on node 1 does.
docker() { command docker -H "$DST_MANAGER_HOST" "$@"; }
node_var() { local v="DST_NODE$1_$2"; echo "${!v}"; }

# task_node SERVICE: index of the node running the service's task
task_node() {
	local h i
	h=$(docker service ps "$1" --filter desired-state=running --format '{{.Node}} {{.CurrentState}}' 2>/dev/null | awk '$2=="Running"{print $1; exit}')
	for ((i = 1; i <= DST_NODES; i++)); do
		[ "$(node_var "$i" HOSTNAME)" = "$h" ] && { echo "$i"; return 0; }
	done
	return 1
}

# The slides' alias: redis='docker run --net host --rm redis redis-cli -p 10000'.
# Ports are published in host mode (no routing mesh here), so it runs on the
# node that runs the task of $SVC.
SVC=stateful
redis() {
	local n
	n=$(task_node "$SVC") || { echo "(no running task)"; return 1; }
	command docker -H "$(node_var "$n" HOST)" run --net host --rm redis redis-cli -p "$PORT" "$@"
}
wait_redis() { # until the (new) task answers PING
	local i
	for ((i = 0; i < 120; i++)); do
		[ "$(redis ping 2>/dev/null)" = PONG ] && return 0
		sleep 0.5
	done
	echo "    (redis does not answer)"
	return 1
}
# expect_foo WANT: show `redis get foo` and check it
expect_foo() {
	local got
	wait_redis
	printf '%s$ redis get foo%s\n' "$B" "$N"
	got=$(redis get foo 2>&1)
	printf '    %s\n' "${got:-(empty)}"
	expect "foo" "$got" "$1"
}
# pin_target SERVICE: the node to pin to, as the slides' $HOSTNAME (node 1).
# Swarm keeps a task that already satisfies a new constraint; then node 2.
pin_target() {
	local n
	n=$(task_node "$1")
	if [ "$n" = 1 ]; then node_var 2 HOSTNAME; else node_var 1 HOSTNAME; fi
}
cleanup_service() { # cleanup_service SERVICE [VOLUME...]: rm it and, once its containers are gone, its volumes
	local svc="$1" i n
	shift
	run docker service rm "$svc"
	for ((i = 0; i < 120; i++)); do
		local left=0
		for ((n = 1; n <= DST_NODES; n++)); do
			[ -n "$(command docker -H "$(node_var "$n" HOST)" ps -aq --filter "label=com.docker.swarm.service.name=$svc")" ] && left=1
		done
		[ $left = 0 ] && break
		sleep 0.5
	done
	for v in "$@"; do
		for ((n = 1; n <= DST_NODES; n++)); do
			command docker -H "$(node_var "$n" HOST)" volume rm "$v" >/dev/null 2>&1 && echo "    removed volume $v on $(node_var "$n" HOSTNAME)"
		done
	done
}
# run_on N docker-args...: like run, on node N (shown as a comment)
run_on() {
	local n="$1"
	shift
	printf '%s$ docker %s%s   %s# on %s%s\n' "$B" "$*" "$N" "$D" "$(node_var "$n" HOSTNAME)" "$N"
	command docker -H "$(node_var "$n" HOST)" "$@" 2>&1 | sed 's/^/    /'
	return "${PIPESTATUS[0]}"
}
volume_count() { command docker -H "$(node_var "$1" HOST)" volume ls -q | wc -l; }

# --- part 1: the slides, with plain docker commands ---------------------------
part_plain_docker() {
	say "Part 1 — the seed's slides with plain docker: the data does not survive updates"
	echo "    (redis = docker run --net host --rm redis redis-cli -p $PORT, on the task's node)"
	run docker service create --quiet --name "$SVC" -p "published=$PORT,target=6379,mode=host" --no-resolve-image redis
	wait_redis
	printf '%s$ redis info server%s\n' "$B" "$N"
	redis info server | grep -E 'redis_version|tcp_port' | sed 's/^/    /'
	expect_foo ""
	run redis set foo bar
	expect_foo "bar"

	local pin
	pin=$(pin_target "$SVC")
	say "pin the service to a node (\$HOSTNAME=$pin): the task is replaced"
	run docker service update --quiet "$SVC" --constraint-add "node.hostname==$pin"
	expect_foo ""

	say "any change that re-creates the task loses the data again"
	run redis set foo bar
	run docker service update --quiet "$SVC" --limit-memory 100M
	expect_foo ""

	say "each new task gets a new anonymous volume for the image's VOLUME /data"
	local n before after
	n=$(task_node "$SVC")
	run_on "$n" volume ls
	before=$(volume_count "$n")
	run docker service update --quiet "$SVC" --limit-memory 200M
	run_on "$n" volume ls
	after=$(volume_count "$n")
	expect "volumes on $pin" "$after" "$((before + 1))"

	say "a named volume on /data: the data survives the next update"
	run docker service update --quiet "$SVC" --mount-add type=volume,source=foobarstore,target=/data
	wait_redis
	run redis set foo barbar
	run docker service update --quiet "$SVC" --limit-memory 300M
	expect_foo "barbar"

	say "clean up"
	cleanup_service "$SVC" foobarstore
}

PARTS=(part_plain_docker)
# Later parts append themselves here, e.g. PARTS+=(part_docker_stateful).

# --- part 2: the same slides with docker stateful create ----------------------
part_docker_stateful() {
	say "Part 2 — the same slides with docker stateful create: the data survives every update"
	if [ -z "$HAVE_PLUGIN" ]; then
		echo "    (no plugin binary: run make build, or set DST_PLUGIN_BINARY)"
		expect "docker-stateful plugin" "missing" "installed"
		return
	fi
	local self before
	self=$(node_var 1 HOSTNAME)
	before=$(volume_count 1)
	run docker stateful create --detach --name "$SVC" -p "published=$PORT,target=6379,mode=host" --no-resolve-image redis
	expect_foo ""
	run redis set foo bar
	expect_foo "bar"

	say "/data is on volume $SVC-data, and the service is pinned by node ID to the node docker talks to"
	run docker service inspect --format '{{range .Spec.TaskTemplate.ContainerSpec.Mounts}}{{.Type}} {{.Source}} -> {{.Target}}{{end}}, {{json .Spec.TaskTemplate.Placement.Constraints}}' "$SVC"
	expect "pin" "$(docker service inspect --format '{{json .Spec.TaskTemplate.Placement.Constraints}}' "$SVC")" "[\"node.id==$DST_NODE1_ID\"]"

	say "the slides' updates, with plain docker service update: foo survives each one"
	run docker service update --quiet "$SVC" --constraint-add "node.hostname==$self"
	expect_foo "bar"
	local mem
	for mem in 100M 200M 300M; do
		run docker service update --quiet "$SVC" --limit-memory "$mem"
		expect_foo "bar"
	done

	say "one named volume holds the data; no anonymous volume per task"
	run_on 1 volume ls --filter "label=io.docker-stateful.service=$SVC"
	expect "volumes of $SVC on $self" "$(command docker -H "$(node_var 1 HOST)" volume ls -q --filter "label=io.docker-stateful.service=$SVC")" "$SVC-data"
	expect "volumes on $self ($before before the create, 4 updates since)" "$(volume_count 1)" "$((before + 1))"
	expect "task on node" "$(task_node "$SVC")" "1"

	say "clean up"
	cleanup_service "$SVC" "$SVC-data"
}
PARTS+=(part_docker_stateful)

for part in "${PARTS[@]}"; do "$part"; done

echo
if [ "$FAILS" = 0 ]; then
	printf '%s✔ demo: all %d outcomes as expected%s\n' "$G" "$CHECKS" "$N"
	exit 0
fi
printf '%s✘ demo: %d of %d outcomes not as expected%s\n' "$R" "$FAILS" "$CHECKS" "$N"
exit 1
