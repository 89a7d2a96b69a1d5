#!/bin/sh
# The official mariadb image's first start, for the test image: on an empty
# data directory, mariadb-install-db, then the root password
# (MARIADB_ROOT_PASSWORD, or MYSQL_ROOT_PASSWORD; MARIADB_ALLOW_EMPTY_ROOT_PASSWORD),
# MARIADB_DATABASE, MARIADB_USER/MARIADB_PASSWORD, set by a bootstrap server (no
# password in a file or argv); then exec the server as mysql. Bare options
# ("--innodb-fast-shutdown=2") are the server's.
set -e
if [ "${1#-}" != "$1" ]; then set -- mariadbd "$@"; fi
case "$(basename "$1")" in
mariadbd | mysqld) ;;
*) exec "$@" ;;
esac
first=$1
shift
set -- "$first" --user=mysql "$@"
dir=/var/lib/mysql
for a in "$@"; do
	case "$a" in --datadir=*) dir=${a#--datadir=} ;; esac
done
# SQL string literal: quotes doubled, backslashes escaped
lit() { printf "'%s'" "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/''/g")"; }
if [ ! -d "$dir/mysql" ]; then
	pw="${MARIADB_ROOT_PASSWORD:-${MYSQL_ROOT_PASSWORD:-}}"
	if [ -z "$pw" ] && [ -z "${MARIADB_ALLOW_EMPTY_ROOT_PASSWORD:-}" ]; then
		echo "error: the database is uninitialized and MARIADB_ROOT_PASSWORD is not set (or set MARIADB_ALLOW_EMPTY_ROOT_PASSWORD=1)" >&2
		exit 1
	fi
	mkdir -p "$dir"
	chown mysql:mysql "$dir"
	mariadb-install-db --no-defaults --datadir="$dir" --user=mysql --auth-root-authentication-method=normal \
		--skip-test-db --skip-name-resolve >/dev/null
	{
		# bootstrap mode: one statement a line
		echo "use mysql;"
		echo "FLUSH PRIVILEGES;"
		echo "ALTER USER root@localhost IDENTIFIED BY $(lit "$pw");"
		echo "CREATE USER root@'%' IDENTIFIED BY $(lit "$pw");"
		echo "GRANT ALL ON *.* TO root@'%' WITH GRANT OPTION;"
		db="${MARIADB_DATABASE:-${MYSQL_DATABASE:-}}"
		[ -z "$db" ] || echo "CREATE DATABASE IF NOT EXISTS \`$db\`;"
		user="${MARIADB_USER:-${MYSQL_USER:-}}"
		if [ -n "$user" ]; then
			echo "CREATE USER $(lit "$user")@'%' IDENTIFIED BY $(lit "${MARIADB_PASSWORD:-${MYSQL_PASSWORD:-}}");"
			[ -z "$db" ] || echo "GRANT ALL ON \`$db\`.* TO $(lit "$user")@'%';"
		fi
	} | mariadbd --no-defaults --bootstrap --datadir="$dir" --user=mysql --log-warnings=0 >/tmp/bootstrap.log 2>&1 || {
		cat /tmp/bootstrap.log >&2
		exit 1
	}
	echo "docker-entrypoint.sh: initialized $dir" >&2
fi
exec "$@"
