#!/usr/bin/env bash
# swarm.sh — a real, isolated, multi-node Docker Swarm on one machine, for e2e tests.
#
#   swarm.sh [-i INDEX] [-n NODES] [-s STATE_ROOT] [-e ENGINE] up|down|status|env|postgres-image|mariadb-image|csi-plugin
#   swarm.sh [-i INDEX] images NAME... (redis7 redis8 valkey8 postgres15 postgres17 mariadb)
#   swarm.sh [-i INDEX] stop NODE [TERM|KILL] | start NODE | restart NODE
#
# stop ends node NODE's dockerd (TERM: it stops its containers first; KILL:
# they keep running under the node's containerd), start runs it again in the
# node's namespaces, restart is stop TERM + start (fault tests).
# Every node is its own network namespace (veth into a bridge of the cluster),
# its own UTS + mount namespace (own hostname, own /etc/resolv.conf, private /run),
# its own containerd and its own dockerd (own data-root, exec-root, socket,
# pidfile, cgroup-parent). Node 1 inits the swarm, the others join as workers.
# A `redis:latest` image is built from the host's Debian redis-server and imported
# on every node (no registry needed: services use --no-resolve-image).
# `postgres-image` builds `postgres:latest` from the host's Debian postgresql-15 and
# imports it on every node of a running cluster (on demand: it keeps `up` fast; the
# e2e helpers run it when a test needs it). Test services must pass
# --stop-signal SIGINT (fast shutdown): docker import cannot set STOPSIGNAL.
# redis:latest is also tagged redis:7 and postgres:latest postgres:15 (their majors).
# `mariadb-image` builds `mariadb:latest` (also mariadb:10.11, its version) from the host's
# Debian 12 mariadb-server the same way, with the official image's layout: VOLUME
# /var/lib/mysql, port 3306, an entrypoint that initializes an empty data directory
# (mariadb-install-db, MARIADB_ROOT_PASSWORD, MARIADB_DATABASE, MARIADB_USER/PASSWORD)
# and runs mariadbd as mysql (999). `images mariadb` is the same.
# `images NAME...` imports more database images on every node of a running cluster,
# on demand: redis8 (redis:8), valkey8 (valkey/valkey:8), postgres17 (postgres:17) are
# built from Debian 13 by hack/db-image.sh (cached in /var/cache/docker-stateful/images:
# the first build takes minutes, later ones nothing); redis7 and postgres15 are the
# host's, as above.
# `csi-plugin` (engine 26 only: cluster volumes need Docker >= 23) builds the test CSI
# driver e2e/csi/hostpath (or takes $DST_CSI_DRIVER) and installs it on every node of
# a running cluster as managed plugin `dst-hostpath` (docker plugin create from a local
# rootfs, no registry); its volumes are directories <state dir>/csi/<node>/<name>.
#
# Several clusters can run at once: everything is named after INDEX (1..254):
#   bridge dstbr<I>, subnet 10.213.<I>.0/24 (bridge .1, node N at .1N),
#   netns dst<I>n<N>, host veth dst<I>n<N>h, hostname dst<I>-node<N>,
#   cgroup parent /dst<I>n<N>, state dir <STATE_ROOT>/<I>.
# It never touches the host's own docker (/var/run/docker.sock, /run/containerd).
#
# -e/--engine picks the engine generation of every node: 20 (default: the system's
# dockerd, Debian 12's 20.10), 26 (Debian 13's dockerd 26.1) or 28 (Debian unstable's
# dockerd 28.x, >= 28.2: CSI cluster volumes), with their docker-proxy, from
# /opt/docker-stateful/dockerGEN or $DOCKERGEN_DIR (hack/install-docker.sh GEN puts them
# there; containerd and runc stay the host's). The choice is kept in the node's
# dockerd.sh (so stop/start NODE keep it) and in the env file (DST_ENGINE).
#
# Options can also come from the environment: DST_CLUSTER_INDEX, DST_NODES,
# DST_STATE_ROOT, DST_ENGINE. `env` prints `export K=V` lines (eval "$(swarm.sh env)");
# the same variables (without `export`) are in <STATE_ROOT>/<I>/env.
set -euo pipefail

IDX="${DST_CLUSTER_INDEX:-1}"
NODES="${DST_NODES:-}" # empty: 3 for up, the running cluster's count otherwise
STATE_ROOT="${DST_STATE_ROOT:-/var/lib/dst-e2e}"
ENGINE="${DST_ENGINE:-}"

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
	exit "${1:-2}"
}

CMD=""
NODE_ARG=""
IMAGES=()
STOP_SIG=TERM
while [ $# -gt 0 ]; do
	case "$1" in
	-i | --index) IDX="$2"; shift 2 ;;
	-n | --nodes) NODES="$2"; shift 2 ;;
	-s | --state-root) STATE_ROOT="$2"; shift 2 ;;
	-e | --engine) ENGINE="$2"; shift 2 ;;
	-h | --help) usage 0 ;;
	up | down | status | env | postgres-image | mariadb-image | csi-plugin) CMD="$1"; shift ;;
	images)
		CMD="$1"; shift
		while [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; do IMAGES+=("$1"); shift; done
		[ ${#IMAGES[@]} -gt 0 ] || { echo "swarm.sh: images needs names: redis7 redis8 valkey8 postgres15 postgres17" >&2; exit 2; }
		;;
	stop | start | restart)
		CMD="$1"; NODE_ARG="${2:-}"; shift 2 || { echo "swarm.sh: $1 needs a node number" >&2; exit 2; }
		if [ "$CMD" = stop ] && { [ "${1:-}" = TERM ] || [ "${1:-}" = KILL ]; }; then STOP_SIG="$1"; shift; fi
		;;
	*) echo "swarm.sh: unknown argument: $1" >&2; usage ;;
	esac
done
[ -n "$CMD" ] || usage
NODES_GIVEN="$NODES"
NODES="${NODES:-3}"

case "$IDX" in '' | *[!0-9]*) echo "swarm.sh: index must be a number 1..254, got '$IDX'" >&2; exit 2 ;; esac
case "$NODES" in '' | *[!0-9]*) echo "swarm.sh: nodes must be a number 1..9, got '$NODES'" >&2; exit 2 ;; esac
if [ "$IDX" -lt 1 ] || [ "$IDX" -gt 254 ]; then echo "swarm.sh: index must be 1..254" >&2; exit 2; fi
if [ "$NODES" -lt 1 ] || [ "$NODES" -gt 9 ]; then echo "swarm.sh: nodes must be 1..9" >&2; exit 2; fi
# the engine generation: DOCKERD is the binary every node runs, PROXY_DIR holds its docker-proxy
case "$ENGINE" in
'' | 20 | 20.10) ENGINE=20 DOCKERD=dockerd PROXY_DIR= ;;
26 | 26.1 | 28)
	ENGINE=${ENGINE%%.*} dirvar=DOCKER${ENGINE%%.*}_DIR
	PROXY_DIR="${!dirvar:-/opt/docker-stateful/docker$ENGINE}" DOCKERD="${!dirvar:-/opt/docker-stateful/docker$ENGINE}/dockerd"
	if [ "$CMD" = up ] && { [ ! -x "$DOCKERD" ] || [ ! -x "$PROXY_DIR/docker-proxy" ]; }; then
		echo "swarm.sh: engine $ENGINE: no $DOCKERD (or docker-proxy next to it); run: hack/install-docker.sh $ENGINE" >&2
		exit 2
	fi
	;;
*) echo "swarm.sh: engine must be 20, 26 or 28, got '$ENGINE'" >&2; exit 2 ;;
esac

if [ "$(id -u)" != 0 ]; then
	echo "swarm.sh: must run as root (it creates network namespaces, a bridge, iptables rules and runs dockerd)." >&2
	echo "          try: sudo $0 $CMD" >&2
	exit 1
fi

CDIR="$STATE_ROOT/$IDX"
BR="dstbr$IDX"
NET="10.213.$IDX"
ENVFILE="$CDIR/env"
if [ -z "$NODES_GIVEN" ] && [ "$CMD" != up ] && [ -f "$ENVFILE" ]; then
	NODES=$(sed -n 's/^DST_NODES=//p' "$ENVFILE")
fi
LOCKDIR=/run/lock
SWARM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
T0=$(date +%s.%N)

log() { printf '%s\n' "$*" >&2; }
die() { log "swarm.sh: error: $*"; exit 1; }

ns_name() { echo "dst${IDX}n$1"; }
veth_name() { echo "dst${IDX}n$1h"; }
node_dir() { echo "$CDIR/node$1"; }
node_addr() { echo "$NET.$((10 + $1))"; }
node_hostname() { echo "dst${IDX}-node$1"; }
node_sock() { echo "$(node_dir "$1")/docker.sock"; }
cg_parent() { echo "dst${IDX}n$1"; }
dk() { local n="$1"; shift; docker -H "unix://$(node_sock "$n")" "$@"; }

# --- dependencies -----------------------------------------------------------
ensure_deps() {
	local missing=() bin pkg
	for pair in dockerd:docker.io docker:docker.io containerd:containerd runc:runc \
		redis-server:redis-server redis-cli:redis-tools ip:iproute2 iptables:iptables \
		unshare:util-linux nsenter:util-linux flock:util-linux hostname:hostname; do
		bin="${pair%%:*}"
		pkg="${pair#*:}"
		command -v "$bin" >/dev/null 2>&1 || missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
	log "installing missing packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# Keep package scripts from starting a host dockerd/containerd/redis (we
	# never use them): the standard Debian policy-rc.d "deny" hook, only if
	# the machine has none, removed right after.
	local policy=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
		policy=1
	fi
	apt-get update -qq >&2
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 || { [ -n "$policy" ] && rm -f /usr/sbin/policy-rc.d; die "apt-get install ${missing[*]} failed"; }
	[ -n "$policy" ] && rm -f /usr/sbin/policy-rc.d
	return 0
}

# --- cleanup (also used to recover from a killed earlier run) ---------------
pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# kill a daemon from its pidfile, only if its command line mentions our node dir
stop_pidfile() {
	local pidfile="$1" marker="$2" sig="$3" wait_s="$4" pid i
	[ -f "$pidfile" ] || return 0
	pid=$(cat "$pidfile" 2>/dev/null || true)
	if pid_alive "$pid" && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$marker"; then
		kill "-$sig" "$pid" 2>/dev/null || true
		for ((i = 0; i < wait_s * 10; i++)); do pid_alive "$pid" || break; sleep 0.1; done
	fi
}

cgroup_dirs() { # all cgroup dirs of node $1, deepest first
	local cg d
	cg=$(cg_parent "$1")
	for d in /sys/fs/cgroup/*/"$cg" /sys/fs/cgroup/"$cg" /sys/fs/cgroup/unified/"$cg"; do
		[ -d "$d" ] && find "$d" -depth -type d
	done 2>/dev/null | sort -u -r
}

kill_node_procs() {
	local n="$1" ns pids d p
	ns=$(ns_name "$n")
	# everything left in the node's network namespace (dockerd, containerd, shims, host-net containers)
	if [ -e "/var/run/netns/$ns" ]; then
		pids=$(ip netns pids "$ns" 2>/dev/null || true)
		[ -n "$pids" ] && kill -9 $pids 2>/dev/null || true
	fi
	# daemons whose netns name is gone (e.g. deleted by hand): their command line names the node dir
	local marker pf
	marker="$(node_dir "$n")/"
	for pf in /proc/[0-9]*/cmdline; do
		if tr '\0' ' ' 2>/dev/null <"$pf" | grep -qF -- "$marker"; then
			p="${pf#/proc/}"
			p="${p%/cmdline}"
			[ "$p" != $$ ] && [ "$p" != "$BASHPID" ] && kill -9 "$p" 2>/dev/null || true
		fi
	done
	# containers with their own netns live in our cgroup parent
	for d in $(cgroup_dirs "$n"); do
		for p in $(cat "$d/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
	done
}

cleanup_node() {
	local n="$1" dir ns veth d i
	dir=$(node_dir "$n")
	ns=$(ns_name "$n")
	veth=$(veth_name "$n")
	# graceful first: dockerd stops its containers, then containerd
	stop_pidfile "$dir/dockerd.pid" "$dir" TERM 20
	stop_pidfile "$dir/containerd.pid" "$dir" TERM 5
	for i in 1 2 3; do
		kill_node_procs "$n"
		[ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && break
		sleep 0.3
	done
	for d in $(cgroup_dirs "$n"); do
		for i in 1 2 3 4 5 6 7 8 9 10; do rmdir "$d" 2>/dev/null && break; kill_node_procs "$n"; sleep 0.2; done
	done
	[ -e "/var/run/netns/$ns" ] && ip netns del "$ns" 2>/dev/null || true
	ip link show "$veth" >/dev/null 2>&1 && ip link del "$veth" 2>/dev/null || true
	return 0
}

cleanup_all() {
	local n d ns
	# nodes: the configured count plus anything an earlier run with more nodes left behind
	for n in 1 2 3 4 5 6 7 8 9; do
		ns=$(ns_name "$n")
		d=$(node_dir "$n")
		if [ -e "/var/run/netns/$ns" ] || [ -d "$d" ] || ip link show "$(veth_name "$n")" >/dev/null 2>&1 ||
			[ -n "$(cgroup_dirs "$n")" ]; then
			cleanup_node "$n" & # nodes stop in parallel
		fi
	done
	wait
	while iptables -w -D FORWARD -i "$BR" -o "$BR" -j ACCEPT 2>/dev/null; do :; done
	ip link show "$BR" >/dev/null 2>&1 && ip link del "$BR" 2>/dev/null || true
	# mounts are made in the nodes' private mount namespaces; this only catches strays
	if [ -d "$CDIR" ]; then
		{ findmnt -rn -o TARGET | grep -F "$CDIR/" | sort -r || true; } | while read -r m; do umount -l "$m" 2>/dev/null || true; done
		rm -rf "$CDIR"
	fi
	rmdir "$STATE_ROOT" 2>/dev/null || true
}

# --- image -----------------------------------------------------------------
build_redis_tar() {
	local out="$1" root="$CDIR/image-root" f lib
	rm -rf "$root"
	mkdir -p "$root"/{usr/bin,etc,tmp,data,root}
	chmod 1777 "$root/tmp"
	cp -L "$(command -v redis-server)" "$root/usr/bin/redis-server"
	cp -L "$(command -v redis-cli)" "$root/usr/bin/redis-cli"
	for f in "$(command -v redis-server)" "$(command -v redis-cli)"; do
		ldd "$f" | awk '/=> \//{print $3} /^[[:space:]]*\//{print $1}'
	done | sort -u | while read -r lib; do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
	echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
	echo 'root:x:0:' >"$root/etc/group"
	echo 'hosts: files dns' >"$root/etc/nsswitch.conf"
	tar -C "$root" -cf "$out" .
	rm -rf "$root"
}

# the host's redis-server version (Redis server v=7.0.15 ...), the official images' REDIS_VERSION
REDIS_VER=$(redis-server --version 2>/dev/null | sed -n 's/.* v=\([0-9.]*\).*/\1/p')

# redis:latest, also tagged redis:7 (its major version)
import_redis() {
	local n="$1" tar="$2"
	dk "$n" import \
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change "ENV REDIS_VERSION=$REDIS_VER" \
		--change 'VOLUME /data' --change 'WORKDIR /data' --change 'EXPOSE 6379' \
		--change 'CMD ["redis-server","--protected-mode","no"]' \
		"$tar" redis:latest >/dev/null
	dk "$n" tag redis:latest "redis:${REDIS_VER%%.*}"
}

# postgres:latest from Debian's postgresql-15: the server, initdb, psql, pg_isready, the share files, the
# plpgsql/snowball/replication modules and their libraries; an entrypoint like the
# official image's (initdb on an empty $PGDATA, POSTGRES_PASSWORD/POSTGRES_USER/
# POSTGRES_DB, password auth from anywhere, listen on all addresses). It runs as
# postgres (999:999) and $PGDATA belongs to it in the image, so docker's copy-up gives a
# new volume the right owner without a root entrypoint.
PG_VER=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)
PG_VER=${PG_VER:-15}
PG_BIN=/usr/lib/postgresql/$PG_VER/bin
PG_LIB=/usr/lib/postgresql/$PG_VER/lib
PG_SHARE=/usr/share/postgresql/$PG_VER

build_postgres_tar() {
	local out="$1" root="$CDIR/pg-image-root" f lib
	rm -rf "$root"
	mkdir -p "$root"/{bin,etc,tmp,root,usr/local/bin,var/lib/postgresql/data,var/run/postgresql} "$root$PG_BIN" "$root$PG_LIB" "$root$PG_SHARE/extension"
	chmod 1777 "$root/tmp"
	cp -L /bin/sh "$root/bin/sh"
	cp -L "$PG_BIN/postgres" "$PG_BIN/initdb" "$PG_BIN/pg_ctl" "$PG_BIN/psql" "$PG_BIN/pg_isready" "$root$PG_BIN/"
	cp -L "$PG_LIB"/{plpgsql,dict_snowball,libpqwalreceiver,pgoutput}.so "$PG_LIB"/*_and_*.so "$root$PG_LIB/"
	cp -a "$PG_SHARE"/{postgres.bki,*.sql,*.sample,sql_features.txt,errcodes.txt,timezonesets,tsearch_data} "$root$PG_SHARE/"
	[ -e "$PG_SHARE/catalog_version" ] && cp "$PG_SHARE/catalog_version" "$root$PG_SHARE/"
	cp -a "$PG_SHARE"/extension/plpgsql* "$root$PG_SHARE/extension/"
	mkdir -p "$root/usr/share"
	cp -a /usr/share/zoneinfo "$root/usr/share/zoneinfo"
	for f in /bin/sh "$root$PG_BIN"/* "$root$PG_LIB"/*.so; do
		ldd "$f" 2>/dev/null | awk '/=> \//{print $3} /^[[:space:]]*\//{print $1}'
	done | sort -u | while read -r lib; do
		mkdir -p "$root$(dirname "$lib")"
		[ -e "$root$lib" ] || cp -L "$lib" "$root$lib"
	done
	cp "$SWARM_DIR/pg-entrypoint.sh" "$root/usr/local/bin/docker-entrypoint.sh"
	chmod 755 "$root/usr/local/bin/docker-entrypoint.sh"
	printf 'root:x:0:0:root:/root:/bin/sh\npostgres:x:999:999:PostgreSQL:/var/lib/postgresql:/bin/sh\n' >"$root/etc/passwd"
	printf 'root:x:0:\npostgres:x:999:\n' >"$root/etc/group"
	echo 'hosts: files dns' >"$root/etc/nsswitch.conf"
	chown -R 999:999 "$root/var/lib/postgresql" "$root/var/run/postgresql"
	chmod 700 "$root/var/lib/postgresql/data"
	chmod 2775 "$root/var/run/postgresql"
	tar -C "$root" --numeric-owner -cf "$out" .
	rm -rf "$root"
}

import_postgres() {
	local n="$1" tar="$2"
	dk "$n" import \
		--change "ENV PATH=$PG_BIN:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
		--change "ENV PG_MAJOR=$PG_VER" --change "ENV PG_VERSION=$(dpkg-query -W -f '${Version}' "postgresql-$PG_VER" 2>/dev/null || echo "$PG_VER")" \
		--change 'ENV PGDATA=/var/lib/postgresql/data' --change 'ENV TZ=UTC' \
		--change 'VOLUME /var/lib/postgresql/data' --change 'EXPOSE 5432' --change 'USER 999:999' \
		--change 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' --change 'CMD ["postgres"]' \
		"$tar" postgres:latest >/dev/null
	dk "$n" tag postgres:latest "postgres:$PG_VER"
}

# mariadb:latest from the host's Debian mariadb-server: mariadbd, mariadb-install-db and
# the tools its script runs, the share files (system tables' SQL, error messages,
# charsets), the mariadb client, and mariadb-entrypoint.sh.
MARIADB_VER=$(mariadbd --version 2>/dev/null | sed -n 's/.*Ver \([0-9.]*\)-.*/\1/p')
build_mariadb_tar() {
	local out="$1" root="$CDIR/mariadb-image-root" f lib tools
	rm -rf "$root"
	mkdir -p "$root"/{bin,usr/bin,usr/sbin,usr/share,etc,tmp,root,usr/local/bin,var/lib/mysql,run/mysqld}
	chmod 1777 "$root/tmp"
	cp -L /usr/sbin/mariadbd "$root/usr/sbin/"
	ln -s mariadbd "$root/usr/sbin/mysqld"
	cp -L /usr/bin/mariadb-install-db /usr/bin/my_print_defaults /usr/bin/resolveip "$root/usr/bin/"
	ln -s mariadb-install-db "$root/usr/bin/mysql_install_db"
	cp -L "$(command -v mariadb)" "$root/usr/bin/mariadb"
	ln -s mariadb "$root/usr/bin/mysql"
	tools="sh sed awk mawk uname mkdir chown chmod cat dirname basename rm id find tr ls hostname cp mv"
	for f in $tools; do
		f=$(command -v "$f") || continue
		cp -L "$f" "$root/usr/bin/$(basename "$f")"
	done
	ln -s ../usr/bin/sh "$root/bin/sh"
	cp -a /usr/share/mysql "$root/usr/share/mysql"
	[ -d /usr/lib/mysql/plugin ] && mkdir -p "$root/usr/lib/mysql" && cp -a /usr/lib/mysql/plugin "$root/usr/lib/mysql/"
	mkdir -p "$root/usr/share"
	cp -a /usr/share/zoneinfo "$root/usr/share/zoneinfo"
	for f in "$root"/usr/bin/* "$root"/usr/sbin/*; do
		[ -L "$f" ] && continue
		{ ldd "$f" 2>/dev/null || true; } | awk '/=> \//{print $3} /^[[:space:]]*\//{print $1}'
	done | sort -u | while read -r lib; do
		mkdir -p "$root$(dirname "$lib")"
		[ -e "$root$lib" ] || cp -L "$lib" "$root$lib"
	done
	cp "$SWARM_DIR/mariadb-entrypoint.sh" "$root/usr/local/bin/docker-entrypoint.sh"
	chmod 755 "$root/usr/local/bin/docker-entrypoint.sh"
	printf 'root:x:0:0:root:/root:/bin/sh\nmysql:x:999:999:MariaDB:/var/lib/mysql:/bin/sh\n' >"$root/etc/passwd"
	printf 'root:x:0:\nmysql:x:999:\n' >"$root/etc/group"
	echo 'hosts: files dns' >"$root/etc/nsswitch.conf"
	# as the official image's conf.d/docker.cnf: no reverse DNS of every client
	mkdir -p "$root/etc/mysql"
	printf '[mariadbd]\nskip-name-resolve\nhost-cache-size=0\n' >"$root/etc/mysql/my.cnf"
	chown -R 999:999 "$root/var/lib/mysql" "$root/run/mysqld"
	tar -C "$root" --numeric-owner -cf "$out" .
	rm -rf "$root"
}

import_mariadb() {
	local n="$1" tar="$2"
	dk "$n" import \
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change "ENV MARIADB_VERSION=$(dpkg-query -W -f '${Version}' mariadb-server 2>/dev/null || echo "$MARIADB_VER")" \
		--change 'ENV TZ=UTC' \
		--change 'VOLUME /var/lib/mysql' --change 'EXPOSE 3306' \
		--change 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' --change 'CMD ["mariadbd"]' \
		"$tar" mariadb:latest >/dev/null
	dk "$n" tag mariadb:latest "mariadb:$MARIADB_VER"
}

do_mariadb_image() {
	[ -f "$ENVFILE" ] || die "cluster $IDX is not up (no $ENVFILE)"
	[ -x /usr/sbin/mariadbd ] || die "/usr/sbin/mariadbd not found: apt-get install mariadb-server"
	local n pids=() todo=()
	for ((n = 1; n <= NODES; n++)); do
		dk "$n" image inspect mariadb:latest >/dev/null 2>&1 || todo+=("$n")
	done
	if [ ${#todo[@]} -eq 0 ]; then
		log "cluster $IDX: mariadb:latest present on all $NODES nodes"
		return 0
	fi
	local tar="$CDIR/mariadb.$$.tar"
	build_mariadb_tar "$tar"
	for n in "${todo[@]}"; do
		(import_mariadb "$n" "$tar" && log "node$n: mariadb:latest imported") &
		pids+=($!)
	done
	local rc=0
	for p in "${pids[@]}"; do wait "$p" || rc=1; done
	rm -f "$tar"
	[ $rc = 0 ] || die "importing the mariadb image failed"
	log "cluster $IDX: mariadb:latest imported on ${#todo[@]} node(s) in $(elapsed)s"
}

# --- node ------------------------------------------------------------------
setup_net() {
	ip link add "$BR" type bridge
	ip addr add "$NET.1/24" dev "$BR"
	ip link set "$BR" up
	iptables -w -I FORWARD -i "$BR" -o "$BR" -j ACCEPT
	local n ns veth
	for ((n = 1; n <= NODES; n++)); do
		ns=$(ns_name "$n")
		veth=$(veth_name "$n")
		ip netns add "$ns"
		ip link add "$veth" type veth peer name "dst${IDX}n${n}c"
		ip link set "dst${IDX}n${n}c" netns "$ns"
		ip link set "$veth" master "$BR" up
		nsenter --net="/var/run/netns/$ns" sh -e -c "
			ip link set lo up
			ip link set dst${IDX}n${n}c name eth0
			ip addr add $(node_addr "$n")/24 dev eth0
			ip link set eth0 up"
	done
}

start_node() {
	local n="$1" dir ns
	dir=$(node_dir "$n")
	ns=$(ns_name "$n")
	mkdir -p "$dir/data" "$dir/containerd"
	echo 'nameserver 127.0.0.1' >"$dir/resolv.conf"
	cat >"$dir/containerd.toml" <<-EOF
		version = 2
		root = "$dir/containerd"
		state = "/run/containerd"
		disabled_plugins = ["io.containerd.grpc.v1.cri"]
		[grpc]
		  address = "$dir/containerd.sock"
		[ttrpc]
		  address = "$dir/containerd.sock.ttrpc"
		[debug]
		  address = ""
		[metrics]
		  address = ""
	EOF
	# Runs inside the node's net namespace + its own UTS and (private) mount namespace.
	# /run is a private tmpfs: shim sockets (/run/containerd/s), xtables lock and
	# exec-root live there, and the host's /run/containerd/containerd.sock or
	# /var/run/docker.sock are not even visible. dockerd is given --containerd so
	# it never looks for a system containerd.
	cat >"$dir/run.sh" <<-EOF
		set -e
		hostname $(node_hostname "$n")
		mount --bind "$dir/resolv.conf" /etc/resolv.conf
		mount -t tmpfs -o mode=755 tmpfs /run
		mkdir -p /run/containerd /run/docker /run/lock
		containerd --config "$dir/containerd.toml" >"$dir/containerd.log" 2>&1 &
		echo \$! >"$dir/containerd.pid"
		i=0; while [ ! -S "$dir/containerd.sock" ]; do i=\$((i+1)); [ \$i -lt 300 ] || { echo "containerd did not start" >&2; exit 1; }; sleep 0.1; done
		exec sh "$dir/dockerd.sh"
	EOF
	# dockerd alone, so that `start` can run it again in the same namespaces; engine 26
	# is given its own docker-proxy (host-mode ports)
	local proxy=
	[ -n "$PROXY_DIR" ] && proxy="--userland-proxy-path $PROXY_DIR/docker-proxy "
	cat >"$dir/dockerd.sh" <<-EOF
		# engine $ENGINE
		exec $DOCKERD $proxy\\
		  --host "unix://$dir/docker.sock" \\
		  --containerd "$dir/containerd.sock" \\
		  --data-root "$dir/data" \\
		  --exec-root /run/docker \\
		  --pidfile "$dir/dockerd.pid" \\
		  --cgroup-parent "/$(cg_parent "$n")" \\
		  --storage-driver overlay2 \\
		  --shutdown-timeout 3 \\
		  --log-level warn \\
		  >>"$dir/dockerd.log" 2>&1
	EOF
	setsid nsenter --net="/var/run/netns/$ns" \
		unshare --uts --mount --propagation private sh "$dir/run.sh" </dev/null >"$dir/launch.log" 2>&1 9>&- &
}

# the node's dockerd ended with TERM (its containers stopped) or KILL (they
# keep running under containerd, as when the engine crashes)
do_stop_node() {
	local n="$1" dir
	dir=$(node_dir "$n")
	[ -f "$dir/dockerd.pid" ] || die "node$n has no dockerd.pid (is cluster $IDX up?)"
	stop_pidfile "$dir/dockerd.pid" "$dir" "$STOP_SIG" 30
	pid_alive "$(cat "$dir/dockerd.pid" 2>/dev/null)" && tr '\0' ' ' <"/proc/$(cat "$dir/dockerd.pid")/cmdline" 2>/dev/null | grep -qF -- "$dir" &&
		die "node$n: dockerd did not stop"
	log "node$n: dockerd stopped ($STOP_SIG)"
}

# run the node's dockerd again inside the namespaces its containerd lives in
do_start_node() {
	local n="$1" dir cpid
	dir=$(node_dir "$n")
	if [ -S "$dir/docker.sock" ] && dk "$n" version >/dev/null 2>&1; then
		log "node$n: dockerd already up"
		return 0
	fi
	cpid=$(cat "$dir/containerd.pid" 2>/dev/null || true)
	pid_alive "$cpid" || die "node$n: its containerd is gone; run: $0 -i $IDX down && $0 -i $IDX up"
	setsid nsenter --target "$cpid" --net --uts --mount sh "$dir/dockerd.sh" </dev/null >>"$dir/launch.log" 2>&1 9>&- &
	wait_node "$n" || die "node$n: dockerd did not come back"
}

wait_node() {
	local n="$1" dir i
	dir=$(node_dir "$n")
	for ((i = 0; i < 600; i++)); do
		if [ -S "$dir/docker.sock" ] && dk "$n" version >/dev/null 2>&1; then
			log "node$n: dockerd up ($(node_hostname "$n") $(node_addr "$n"))"
			return 0
		fi
		sleep 0.1
	done
	log "node$n: dockerd did not come up; logs:"
	tail -n 20 "$dir/launch.log" "$dir/containerd.log" "$dir/dockerd.log" >&2 2>/dev/null || true
	return 1
}

write_env() {
	local n tmp="$ENVFILE.tmp"
	{
		echo "DST_CLUSTER_INDEX=$IDX"
		echo "DST_STATE_DIR=$CDIR"
		echo "DST_BRIDGE=$BR"
		echo "DST_NODES=$NODES"
		echo "DST_ENGINE=$ENGINE"
		echo "DST_MANAGER_HOST=unix://$(node_sock 1)"
		for ((n = 1; n <= NODES; n++)); do
			echo "DST_NODE${n}_HOST=unix://$(node_sock "$n")"
			echo "DST_NODE${n}_ADDR=$(node_addr "$n")"
			echo "DST_NODE${n}_ID=$(dk "$n" info --format '{{.Swarm.NodeID}}')"
			echo "DST_NODE${n}_HOSTNAME=$(node_hostname "$n")"
			echo "DST_NODE${n}_NETNS=$(ns_name "$n")"
		done
	} >"$tmp"
	mv "$tmp" "$ENVFILE"
}

cluster_healthy() {
	[ -f "$ENVFILE" ] || return 1
	local want n ready
	want=$(sed -n 's/^DST_NODES=//p' "$ENVFILE")
	[ "$want" = "$NODES" ] || return 1
	want=$(sed -n 's/^DST_ENGINE=//p' "$ENVFILE")
	[ "${want:-20}" = "$ENGINE" ] || return 1
	for ((n = 1; n <= NODES; n++)); do
		dk "$n" info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null | grep -qx active || return 1
	done
	ready=$(dk 1 node ls --format '{{.Status}}' 2>/dev/null | grep -cx Ready || true)
	[ "$ready" = "$NODES" ] || return 1
	dk 1 image inspect redis:latest >/dev/null 2>&1 || return 1
}

elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }

# --- commands --------------------------------------------------------------
do_up() {
	ensure_deps
	if cluster_healthy; then
		log "cluster $IDX already up with $NODES nodes ($ENVFILE)"
		return 0
	fi
	log "cluster $IDX: cleaning leftovers (if any)"
	cleanup_all
	mkdir -p "$CDIR"
	chmod 700 "$STATE_ROOT" "$CDIR" 2>/dev/null || true
	setup_net
	log "cluster $IDX: bridge $BR $NET.1/24, $NODES netns ready"
	local n pids=()
	build_redis_tar "$CDIR/redis.tar" &
	local tarpid=$!
	for ((n = 1; n <= NODES; n++)); do start_node "$n"; done
	for ((n = 1; n <= NODES; n++)); do wait_node "$n" || die "node$n failed to start (see $(node_dir "$n"))"; done

	dk 1 swarm init --advertise-addr "$(node_addr 1)" --listen-addr "$(node_addr 1):2377" >/dev/null
	log "node1: swarm initialised (manager)"
	local token
	token=$(dk 1 swarm join-token -q worker)
	for ((n = 2; n <= NODES; n++)); do
		(dk "$n" swarm join --advertise-addr "$(node_addr "$n")" --listen-addr "$(node_addr "$n"):2377" \
			--token "$token" "$(node_addr 1):2377" >/dev/null && log "node$n: joined") &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || die "a node failed to join the swarm"; done

	wait "$tarpid" || die "building the redis image tarball failed"
	pids=()
	for ((n = 1; n <= NODES; n++)); do
		(import_redis "$n" "$CDIR/redis.tar" && log "node$n: redis:latest imported") &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || die "importing the redis image failed"; done
	rm -f "$CDIR/redis.tar"

	local i ready=0
	for ((i = 0; i < 600; i++)); do
		ready=$(dk 1 node ls --format '{{.Status}}' 2>/dev/null | grep -cx Ready || true)
		[ "$ready" = "$NODES" ] && break
		sleep 0.1
	done
	[ "$ready" = "$NODES" ] || die "only $ready/$NODES nodes Ready"
	log "cluster $IDX: all $NODES nodes Ready"
	write_env
	log "cluster $IDX up in $(elapsed)s — env: $ENVFILE (or: eval \"\$($0 -i $IDX env)\")"
}

do_down() {
	if [ ! -d "$CDIR" ] && ! ip link show "$BR" >/dev/null 2>&1 && ! ip netns list | grep -q "^dst${IDX}n"; then
		log "cluster $IDX: nothing to remove"
	fi
	cleanup_all
	log "cluster $IDX down in $(elapsed)s"
}

do_status() {
	local n rc=0
	echo "cluster $IDX (state $CDIR, bridge $BR, engine $(sed -n 's/^DST_ENGINE=//p' "$ENVFILE" 2>/dev/null || true))"
	for ((n = 1; n <= NODES; n++)); do
		if [ -S "$(node_sock "$n")" ] && st=$(dk "$n" info --format '{{.Name}} {{.Swarm.LocalNodeState}} {{.Swarm.NodeID}}' 2>/dev/null); then
			echo "node$n: $(node_addr "$n") $st"
		else
			echo "node$n: down"
			rc=1
		fi
	done
	[ $rc = 0 ] && dk 1 node ls 2>/dev/null || true
	return $rc
}

do_env() {
	[ -f "$ENVFILE" ] || die "cluster $IDX is not up (no $ENVFILE)"
	sed 's/^/export /' "$ENVFILE"
}

# postgres:latest on every node that lacks it (one tarball, imports in parallel).
do_postgres_image() {
	[ -f "$ENVFILE" ] || die "cluster $IDX is not up (no $ENVFILE)"
	[ -x "$PG_BIN/postgres" ] || die "$PG_BIN/postgres not found: apt-get install postgresql-$PG_VER"
	local n pids=() todo=()
	for ((n = 1; n <= NODES; n++)); do
		dk "$n" image inspect postgres:latest >/dev/null 2>&1 || todo+=("$n")
	done
	if [ ${#todo[@]} -eq 0 ]; then
		log "cluster $IDX: postgres:latest present on all $NODES nodes"
		return 0
	fi
	local tar="$CDIR/postgres.$$.tar"
	build_postgres_tar "$tar"
	for n in "${todo[@]}"; do
		(import_postgres "$n" "$tar" && log "node$n: postgres:latest imported") &
		pids+=($!)
	done
	local rc=0
	for p in "${pids[@]}"; do wait "$p" || rc=1; done
	rm -f "$tar"
	[ $rc = 0 ] || die "importing the postgres image failed"
	log "cluster $IDX: postgres:latest imported on ${#todo[@]} node(s) in $(elapsed)s"
}

# images NAME...: each on every node that lacks it
do_images() {
	[ -f "$ENVFILE" ] || die "cluster $IDX is not up (no $ENVFILE)"
	local name out tar changes tags tag n p rc todo pids line
	for name in "${IMAGES[@]}"; do
		case "$name" in
		redis7) continue ;; # imported by up
		postgres15) do_postgres_image; continue ;;
		mariadb) do_mariadb_image; continue ;;
		redis8 | valkey8 | postgres17) ;;
		*) die "unknown image '$name' (redis7 redis8 valkey8 postgres15 postgres17)" ;;
		esac
		out=$(bash "$SWARM_DIR/../../hack/db-image.sh" "$name") || die "building $name failed"
		{ read -r tar; read -r changes; read -r tags; } <<<"$out"
		tag=${tags%% *}
		todo=()
		for ((n = 1; n <= NODES; n++)); do
			dk "$n" image inspect "$tag" >/dev/null 2>&1 || todo+=("$n")
		done
		[ ${#todo[@]} -gt 0 ] || { log "cluster $IDX: $tag present on all $NODES nodes"; continue; }
		local args=()
		while IFS= read -r line; do [ -n "$line" ] && args+=(--change "$line"); done <"$changes"
		pids=()
		for n in "${todo[@]}"; do
			(dk "$n" import "${args[@]}" "$tar" "$tag" >/dev/null && log "node$n: $tag imported") &
			pids+=($!)
		done
		rc=0
		for p in "${pids[@]}"; do wait "$p" || rc=1; done
		[ $rc = 0 ] || die "importing $tag failed"
	done
	log "cluster $IDX: images ${IMAGES[*]} ready in $(elapsed)s"
}

# The test CSI driver as managed plugin CSI_PLUGIN on every node that lacks it enabled.
# Each node's copy is told its node ID (the hostname: the volumes' topology) and
# where the volumes live (one directory of the cluster, a subdirectory per node).
CSI_PLUGIN=dst-hostpath:latest
do_csi_plugin() {
	[ -f "$ENVFILE" ] || die "cluster $IDX is not up (no $ENVFILE)"
	local engine
	engine=$(sed -n 's/^DST_ENGINE=//p' "$ENVFILE")
	[ "${engine:-20}" -ge 23 ] || die "cluster $IDX runs engine ${engine:-20}: CSI cluster volumes need Docker >= 23 (bring it up with -e 26)"
	local n todo=()
	for ((n = 1; n <= NODES; n++)); do
		[ "$(dk "$n" plugin inspect -f '{{.Enabled}}' "$CSI_PLUGIN" 2>/dev/null)" = true ] || todo+=("$n")
	done
	if [ ${#todo[@]} -eq 0 ]; then
		log "cluster $IDX: $CSI_PLUGIN enabled on all $NODES nodes"
		return 0
	fi
	local here src pdir="$CDIR/csi-plugin.$$"
	here=$(cd "$(dirname "$0")" && pwd)
	src="$here/../csi"
	rm -rf "$pdir"
	mkdir -p "$pdir"/rootfs/{data/published,csi,run/docker/plugins,etc,tmp,dev,proc,sys}
	cp "$src/plugin/config.json" "$pdir/config.json"
	if [ -n "${DST_CSI_DRIVER:-}" ]; then
		cp "$DST_CSI_DRIVER" "$pdir/rootfs/hostpath"
	else
		command -v go >/dev/null 2>&1 || die "go not found: build e2e/csi/hostpath and name it in DST_CSI_DRIVER"
		(cd "$src/hostpath" && CGO_ENABLED=0 go build -trimpath -o "$pdir/rootfs/hostpath" .) || die "building e2e/csi/hostpath failed"
	fi
	mkdir -p "$CDIR/csi"
	local rc=0
	for n in "${todo[@]}"; do
		mkdir -p "$CDIR/csi/$(node_hostname "$n")"
		dk "$n" plugin rm -f "$CSI_PLUGIN" >/dev/null 2>&1 || true
		if dk "$n" plugin create "$CSI_PLUGIN" "$pdir" >/dev/null &&
			dk "$n" plugin set "$CSI_PLUGIN" "NODE_ID=$(node_hostname "$n")" "state.source=$CDIR/csi" &&
			dk "$n" plugin enable "$CSI_PLUGIN" >/dev/null; then
			log "node$n: $CSI_PLUGIN enabled"
		else
			rc=1
		fi
	done
	rm -rf "$pdir"
	[ $rc = 0 ] || die "installing $CSI_PLUGIN failed"
	log "cluster $IDX: $CSI_PLUGIN installed on ${#todo[@]} node(s) in $(elapsed)s"
}

# serialise operations on one index (the lock file is a 0-byte file in /run/lock)
mkdir -p "$LOCKDIR"
exec 9>"$LOCKDIR/dst-e2e-$IDX.lock"
if { [ "$CMD" = up ] || [ "$CMD" = down ] || [ "$CMD" = postgres-image ] || [ "$CMD" = images ] || [ "$CMD" = csi-plugin ]; } && [ -z "${DST_NO_LOCK:-}" ]; then
	flock -w 600 9 || die "another swarm.sh up/down on cluster $IDX holds $LOCKDIR/dst-e2e-$IDX.lock"
fi

case "$CMD" in
up)
	trap 'rc=$?; if [ $rc != 0 ]; then log "swarm.sh up failed (rc=$rc); run: $0 -i $IDX down"; fi' EXIT
	do_up
	;;
down) do_down ;;
status) do_status ;;
env) do_env ;;
postgres-image) do_postgres_image ;;
mariadb-image) do_mariadb_image ;;
images) do_images ;;
csi-plugin) do_csi_plugin ;;
stop | start | restart)
	case "$NODE_ARG" in '' | *[!0-9]*) die "$CMD needs a node number, got '$NODE_ARG'" ;; esac
	[ "$NODE_ARG" -ge 1 ] && [ "$NODE_ARG" -le "$NODES" ] || die "no node $NODE_ARG in cluster $IDX"
	[ "$CMD" = start ] || do_stop_node "$NODE_ARG"
	[ "$CMD" = stop ] || do_start_node "$NODE_ARG"
	;;
esac
