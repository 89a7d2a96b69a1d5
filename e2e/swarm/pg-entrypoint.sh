#!/bin/sh
# initdb on an empty $PGDATA (as the official image), then exec the command.
set -e
export PGDATA="${PGDATA:-/var/lib/postgresql/data}"
if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
	user="${POSTGRES_USER:-postgres}"
	auth=scram-sha-256
	if [ -z "$POSTGRES_PASSWORD" ]; then
		if [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
			echo "error: the database is uninitialized and POSTGRES_PASSWORD is not set (or set POSTGRES_HOST_AUTH_METHOD=trust)" >&2
			exit 1
		fi
		auth=trust
	fi
	if [ -n "$POSTGRES_PASSWORD" ]; then
		initdb -D "$PGDATA" -U "$user" -E UTF8 --no-locale --auth-local=trust --auth-host="$auth" --pwfile=/dev/stdin >/dev/null <<PW
$POSTGRES_PASSWORD
PW
	else
		initdb -D "$PGDATA" -U "$user" -E UTF8 --no-locale --auth-local=trust --auth-host="$auth" >/dev/null
	fi
	printf 'host all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"
	printf "listen_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
	db="${POSTGRES_DB:-$user}"
	if [ "$db" != postgres ]; then
		echo "CREATE DATABASE \"$db\"" | postgres --single -D "$PGDATA" postgres >/dev/null
	fi
	echo "docker-entrypoint.sh: initialized $PGDATA (user $user, database $db)" >&2
fi
exec "$@"
