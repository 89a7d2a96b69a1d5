#!/usr/bin/env bash
# hack/install-docker.sh GEN puts a newer Docker engine in /opt/docker-stateful/dockerGEN for
# the harness's other engine generations (swarm.sh -e GEN):
#   26  Debian 13 ("trixie")'s docker.io 26.1
#   28  Debian unstable ("sid")'s docker.io (28.5 when written; must be >= 28.2, the first
#       engine whose CSI cluster volumes work without a registry: moby/moby#48133)
# Their dockerd needs glibc >= 2.34 and runs on Debian 12 with Debian 12's containerd and
# runc. The package is fetched with an apt configuration of its own and unpacked there:
# nothing is installed on the system, the host's apt sources, package state and docker.io
# are not touched. Idempotent; DOCKER<GEN>_DIR overrides the directory.
set -euo pipefail
gen=${1:-}
case $gen in
26) suite=trixie min=26.1 ;;
28) suite=sid min=28.2 ;;
20) exit 0 ;; # the system's docker.io (make deps)
*) echo "usage: hack/install-docker.sh 26|28" >&2; exit 2 ;;
esac
var=DOCKER${gen}_DIR
dest=${!var:-/opt/docker-stateful/docker$gen}
version() { "$1" --version | sed -n 's/^Docker version \([0-9.]*\).*/\1/p'; }
atleast() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -1)" = "$2" ]; }
if [ -x "$dest/dockerd" ] && v=$(version "$dest/dockerd" 2>/dev/null) && [ -n "$v" ]; then
  echo "docker $gen present: $("$dest/dockerd" --version)"
  exit 0
fi
exec 9>"/run/lock/docker-stateful-install-docker$gen.lock"
flock 9
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/debs"
echo "deb http://deb.debian.org/debian $suite main" >"$tmp/sources.list"
apt=(-o "Dir::Etc::SourceList=$tmp/sources.list" -o Dir::Etc::SourceParts=/nonexistent
  -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache" -o APT::Sandbox::User=root)
apt-get "${apt[@]}" update -qq
cd "$tmp/debs"
apt-get "${apt[@]}" download -qq docker.io
mkdir -p "$tmp/root"
for d in *.deb; do dpkg-deb -x "$d" "$tmp/root"; done
mkdir -p "$tmp/out"
# dockerd and docker-proxy (host-mode ports); containerd and runc are the host's
for b in dockerd docker-proxy; do
  f=$(find "$tmp/root" -name "$b" -type f | head -1)
  [ -n "$f" ] || { echo "install-docker: $b not in the $suite docker.io package" >&2; exit 1; }
  cp "$f" "$tmp/out/$b"
done
v=$(version "$tmp/out/dockerd")
atleast "$v" "$min" || { echo "install-docker: $suite's docker.io is $v, generation $gen needs >= $min" >&2; exit 1; }
rm -rf "$dest" && mkdir -p "$(dirname "$dest")" && mv "$tmp/out" "$dest"
"$dest/dockerd" --version
