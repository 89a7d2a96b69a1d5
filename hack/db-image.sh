#!/usr/bin/env bash
# db-image.sh NAME — builds the root filesystem tarball of a test database image, without
# a registry, and prints two lines: the tarball's path and the path of a file holding its
# `docker import --change` instructions (one a line), then the image references (tags)
# on a third line. NAME is one of:
#
#   redis8      redis:8          Debian 13 (trixie)'s redis-server 8.0
#   valkey8     valkey/valkey:8  Debian 13's valkey-server 8.1 (redis-server/redis-cli
#                                 are links to it, as Debian's valkey-redis-compat)
#   postgres17  postgres:17      Debian 13's postgresql-17, the entrypoint of swarm.sh's
#                                 postgres:latest (initdb on an empty $PGDATA)
#
# (redis:7 and postgres:15 are the host's Debian 12 binaries, built by swarm.sh itself.)
# The images have the official images' layout: VOLUME, WORKDIR, CMD/ENTRYPOINT, and
# their version variables (REDIS_VERSION, VALKEY_VERSION, PG_MAJOR, PG_VERSION), with the
# versions of the Debian packages installed. Each is a `debootstrap --variant=minbase
# trixie` root plus `apt-get install --no-install-recommends` in a chroot.
#
# Cached in $DST_IMAGE_CACHE (default /var/cache/docker-stateful/images): NAME-HASH.tar,
# HASH being a hash of this script and the entrypoint, so a changed recipe builds again and an unchanged one
# costs nothing; the debootstrap base is cached too (base-trixie-minbase-*.tar). Concurrent
# runs wait for each other (flock). Needs root, debootstrap and the Debian archive
# ($DST_DEBIAN_MIRROR, default http://deb.debian.org/debian).
set -euo pipefail

name="${1:-}"
case "$name" in
redis8) tags="redis:8" ;;
valkey8) tags="valkey/valkey:8" ;;
postgres17) tags="postgres:17" ;;
*) echo "db-image.sh: unknown image '$name' (redis8, valkey8, postgres17)" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { echo "db-image.sh: needs root (debootstrap, chroot)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "db-image.sh: no debootstrap: apt-get install debootstrap (make deps)" >&2; exit 1; }

cache="${DST_IMAGE_CACHE:-/var/cache/docker-stateful/images}"
mirror="${DST_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
entrypoint="$(cd "$(dirname "$0")/.." && pwd)/e2e/swarm/pg-entrypoint.sh"
hash=$(cat "$0" "$entrypoint" | sha256sum | cut -c1-12)
tar="$cache/$name-$hash.tar"
changes="$cache/$name-$hash.changes"
# the base depends only on what debootstrap is asked for: a changed recipe reuses it
base="$cache/base-trixie-minbase-$(printf '%s' "$mirror" | sha256sum | cut -c1-8).tar"
mkdir -p "$cache"
log() { printf 'db-image.sh: %s\n' "$*" >&2; }

exec 8>"$cache/.lock"
flock -w 1200 8 || { echo "db-image.sh: another build holds $cache/.lock" >&2; exit 1; }
if [ -s "$tar" ] && [ -s "$changes" ]; then
	printf '%s\n%s\n%s\n' "$tar" "$changes" "$tags"
	exit 0
fi
t0=$(date +%s)
work=$(mktemp -d "$cache/.build-$name.XXXXXX")
root="$work/root"
cleanup() {
	# the chroot's /proc is mounted in a private mount namespace: nothing to unmount here
	rm -rf "$work"
}
trap cleanup EXIT

# the trixie base, shared by the three images
if [ ! -s "$base" ]; then
	log "debootstrap trixie (minbase) from $mirror"
	mkdir -p "$work/base"
	debootstrap --variant=minbase trixie "$work/base" "$mirror" >"$work/debootstrap.log" 2>&1 || {
		tail -20 "$work/debootstrap.log" >&2
		exit 1
	}
	rm -f "$cache"/base-trixie-minbase-*.tar
	tar -C "$work/base" --numeric-owner -cf "$base.tmp" . && mv "$base.tmp" "$base"
	rm -rf "$work/base"
	log "base ready in $(($(date +%s) - t0))s"
fi
mkdir -p "$root"
tar -C "$root" --numeric-owner -xf "$base"

# run a shell script in the chroot, with /proc, in a mount namespace of its own (so no
# mount outlives it) and without starting any service (policy-rc.d)
in_root() {
	printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
	chmod +x "$root/usr/sbin/policy-rc.d"
	cp /etc/resolv.conf "$root/etc/resolv.conf"
	unshare --mount --propagation private sh -c 'mount -t proc proc "$1/proc" && exec chroot "$1" /bin/sh -e -c "$2"' sh "$root" "$1"
	rm -f "$root/usr/sbin/policy-rc.d"
}
version() { # the upstream version of an installed package: 5:8.0.2-3 -> 8.0.2, 8.1.1+dfsg1-3 -> 8.1.1
	chroot "$root" dpkg-query -W -f '${Version}' "$1" | sed -e 's/^[0-9]*://' -e 's/-[^-]*$//' -e 's/[+~].*//'
}
apt_install() {
	in_root "export DEBIAN_FRONTEND=noninteractive; apt-get update -qq; apt-get install -y -qq --no-install-recommends $* >/dev/null"
}

PATH_ENV='ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
case "$name" in
redis8)
	apt_install redis-server
	v=$(version redis-server)
	# the official image: /data, owned by its user; the harness's images run as root
	mkdir -p "$root/data"
	cat >"$work/changes" <<-EOF
		$PATH_ENV
		ENV REDIS_VERSION=$v
		VOLUME /data
		WORKDIR /data
		EXPOSE 6379
		CMD ["redis-server","--protected-mode","no"]
	EOF
	;;
valkey8)
	apt_install valkey-server valkey-tools
	v=$(version valkey-server)
	mkdir -p "$root/data"
	ln -sf /usr/bin/valkey-server "$root/usr/local/bin/redis-server"
	ln -sf /usr/bin/valkey-cli "$root/usr/local/bin/redis-cli"
	cat >"$work/changes" <<-EOF
		$PATH_ENV
		ENV VALKEY_VERSION=$v
		VOLUME /data
		WORKDIR /data
		EXPOSE 6379
		CMD ["valkey-server","--protected-mode","no"]
	EOF
	;;
postgres17)
	# as the official image: postgres is 999:999 and the package makes no cluster of its own
	in_root 'groupadd -r -g 999 postgres && useradd -r -g postgres -u 999 -d /var/lib/postgresql -s /bin/sh postgres
		mkdir -p /etc/postgresql-common && echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf'
	apt_install postgresql-17
	v=$(chroot "$root" dpkg-query -W -f '${Version}' postgresql-17 | sed 's/^[0-9]*://')
	mkdir -p "$root/var/lib/postgresql/data" "$root/var/run/postgresql"
	# the entrypoint of swarm.sh's postgres:latest
	cp "$entrypoint" "$root/usr/local/bin/docker-entrypoint.sh"
	chmod 755 "$root/usr/local/bin/docker-entrypoint.sh"
	chown -R 999:999 "$root/var/lib/postgresql" "$root/var/run/postgresql"
	chmod 700 "$root/var/lib/postgresql/data"
	chmod 2775 "$root/var/run/postgresql"
	cat >"$work/changes" <<-EOF
		ENV PATH=/usr/lib/postgresql/17/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
		ENV PG_MAJOR=17
		ENV PG_VERSION=$v
		ENV PGDATA=/var/lib/postgresql/data
		ENV TZ=UTC
		VOLUME /var/lib/postgresql/data
		EXPOSE 5432
		USER 999:999
		ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
		CMD ["postgres"]
	EOF
	;;
esac
# smaller: no package lists, downloaded packages or documentation
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
	"$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/*
: >"$root/etc/resolv.conf"
rm -f "$cache/$name"-*.tar "$cache/$name"-*.changes
tar -C "$root" --numeric-owner -cf "$tar.tmp" .
mv "$work/changes" "$changes"
mv "$tar.tmp" "$tar"
log "$tags ($name $v) built in $(($(date +%s) - t0))s: $(du -h "$tar" | cut -f1) $tar"
printf '%s\n%s\n%s\n' "$tar" "$changes" "$tags"
