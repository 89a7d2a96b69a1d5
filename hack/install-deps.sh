#!/usr/bin/env bash
# Installs the Debian packages the tests need, only when something is missing,
# so a fresh machine (CI) gets them and a prepared one is not touched.
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have dockerd || need+=(docker.io)
have redis-server || need+=(redis-server)
have redis-cli || need+=(redis-tools)
have redis-benchmark || need+=(redis-tools)
have ip || need+=(iproute2)
have iptables || need+=(iptables)
have nsenter || need+=(util-linux)
have tmux || need+=(tmux)
have debootstrap || [ -x /usr/sbin/debootstrap ] || need+=(debootstrap) # hack/db-image.sh: redis:8, valkey/valkey:8, postgres:17
have fish || need+=(fish) # e2e: completion in fish (TestCompletionFish)
have zsh || need+=(zsh)   # e2e: completion in zsh (TestCompletionZsh)
[ -x /usr/sbin/sshd ] || need+=(openssh-server) # e2e: DOCKER_HOST=ssh:// (TestSSH*); never started on the host
have ssh || need+=(openssh-client)
[ -f /usr/share/bash-completion/bash_completion ] || need+=(bash-completion)
# pgstate tests (initdb + pg_ctl on 127.0.0.1) and the harness's postgres image
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql-15)
# plugin/mysqlstate tests (a mariadbd in a temp dir) and the harness's mariadb image
have mariadbd || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
have mariadb || need+=(mariadb-client)
# plugin/redisstate's real Redis 6.0 (Debian 12 has only 7.0): unpacked in /opt, apart
redis6() {
  if [ "$(id -u)" = 0 ]; then
    bash "$(dirname "$0")/install-redis6.sh" || echo "warning: no Redis 6.0 for TestRealRedis60 (it will be skipped)" >&2
  fi
}
# the harness's other engine generations (DST_ENGINE=26, 28): Debian 13's dockerd 26.1 and
# Debian unstable's 28.x in /opt, apart from the system's
newer_engines() {
  if [ "$(id -u)" = 0 ]; then
    for g in 26 28; do bash "$(dirname "$0")/install-docker.sh" $g; done
  else
    echo "warning: not root: no Docker 26/28 for the harness (hack/install-docker.sh 26|28)" >&2
  fi
}
if [ ${#need[@]} -eq 0 ]; then
  echo "test dependencies present"
  redis6
  newer_engines
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "missing packages: ${need[*]}; run as root (or: sudo apt-get install ${need[*]})" >&2
  exit 1
fi
echo "installing: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
# Installing docker.io must not start a Docker engine on this host (the tests
# start their own): Debian's policy-rc.d "deny" hook, only while apt runs.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "installed: ${need[*]}"
redis6
newer_engines
