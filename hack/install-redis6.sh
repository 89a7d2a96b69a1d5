#!/usr/bin/env bash
# Puts a real Redis 6.0 (Debian 11 "bullseye"'s redis-server 6.0.16, the last 6.x Debian
# built) in /opt/docker-stateful/redis6 for the unit tests of the 6.x command set
# (plugin/redisstate TestRealRedis60). Debian 12 has only 7.0, so the bullseye packages and
# the libraries they link (libssl1.1, lua5.1) are fetched with an apt configuration of
# their own and unpacked there: nothing is installed on the system, the host's apt sources
# and package state are not touched. Idempotent; a failure is a warning, not an error
# (the test then says it was skipped).
set -euo pipefail
dest=${REDIS6_DIR:-/opt/docker-stateful/redis6}
if [ -x "$dest/redis-server" ] && "$dest/redis-server" --version >/dev/null 2>&1; then
  echo "redis 6.0 present: $dest/redis-server"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/debs"
cat >"$tmp/sources.list" <<'LIST'
deb http://deb.debian.org/debian bullseye main
deb http://deb.debian.org/debian-security bullseye-security main
LIST
apt=(-o "Dir::Etc::SourceList=$tmp/sources.list" -o Dir::Etc::SourceParts=/nonexistent
  -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache" -o APT::Sandbox::User=root)
apt-get "${apt[@]}" update -qq
cd "$tmp/debs"
for p in redis-tools libssl1.1 liblua5.1-0 lua-cjson lua-bitop libjemalloc2 liblzf1; do
  # the bullseye version (the host's own 7.0 would be picked otherwise)
  v=$(apt-cache "${apt[@]}" madison "$p" | awk -F'|' '{gsub(/ /,"",$2); print $2}' | grep -v deb12 | head -1)
  apt-get "${apt[@]}" download -qq "$p=$v"
done
mkdir -p "$tmp/root" "$dest"
for d in *.deb; do dpkg-deb -x "$d" "$tmp/root"; done
rm -rf "$dest/lib" && mkdir -p "$dest/lib"
cp "$tmp/root/usr/bin/redis-check-rdb" "$dest/redis-server.bin" # Debian's redis-server is this binary
find "$tmp/root" -name '*.so*' \( -type f -o -type l \) -exec cp -a {} "$dest/lib/" \;
cat >"$dest/redis-server" <<'SH'
#!/bin/sh
here=$(dirname "$(readlink -f "$0")")
LD_LIBRARY_PATH="$here/lib" exec "$here/redis-server.bin" "$@"
SH
chmod +x "$dest/redis-server"
"$dest/redis-server" --version
