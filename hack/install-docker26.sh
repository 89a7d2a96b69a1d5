#!/usr/bin/env bash
# Puts Debian 13 ("trixie")'s Docker engine 26.1 in /opt/docker-stateful/docker26 for the
# harness's second engine generation (DST_ENGINE=26). Its dockerd needs glibc >= 2.34 and
# runs on Debian 12 with Debian 12's containerd and runc. The package is fetched with an
# apt configuration of its own and unpacked there: nothing is installed on the system, the
# host's apt sources, package state and docker.io are not touched. Idempotent.
set -euo pipefail
dest=${DOCKER26_DIR:-/opt/docker-stateful/docker26}
if [ -x "$dest/dockerd" ] && "$dest/dockerd" --version >/dev/null 2>&1; then
  echo "docker 26 present: $("$dest/dockerd" --version)"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/debs"
cat >"$tmp/sources.list" <<'LIST'
deb http://deb.debian.org/debian trixie main
LIST
apt=(-o "Dir::Etc::SourceList=$tmp/sources.list" -o Dir::Etc::SourceParts=/nonexistent
  -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache" -o APT::Sandbox::User=root)
apt-get "${apt[@]}" update -qq
cd "$tmp/debs"
apt-get "${apt[@]}" download -qq docker.io
mkdir -p "$tmp/root"
for d in *.deb; do dpkg-deb -x "$d" "$tmp/root"; done
rm -rf "$dest" && mkdir -p "$dest"
# dockerd and docker-proxy (host-mode ports); containerd and runc are the host's
for b in dockerd docker-proxy; do
  f=$(find "$tmp/root" -name "$b" -type f | head -1)
  [ -n "$f" ] || { echo "install-docker26: $b not in the trixie docker.io package" >&2; exit 1; }
  cp "$f" "$dest/$b"
done
"$dest/dockerd" --version
