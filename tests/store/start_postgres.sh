#!/usr/bin/env bash
# Starts a throwaway PostgreSQL 15 server for the store tests and prints the
# URL to export as PROMPTKIT_TEST_PG_URL. Idempotent: a server already
# answering on the port is reused and the database is created only if missing.
#
#   export PROMPTKIT_TEST_PG_URL="$(bash tests/store/start_postgres.sh)"
#
# Settings (env): PROMPTKIT_PG_BIN (server binaries), PROMPTKIT_PG_DATA (data
# directory), PROMPTKIT_PG_PORT (port), PROMPTKIT_PG_DB (database name).
set -euo pipefail

bin="${PROMPTKIT_PG_BIN:-/usr/lib/postgresql/15/bin}"
data="${PROMPTKIT_PG_DATA:-/tmp/promptkit-pg}"
port="${PROMPTKIT_PG_PORT:-5432}"
db="${PROMPTKIT_PG_DB:-promptkit_test}"

# initdb and postgres refuse to run as root: run them as the postgres user.
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if ! "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
    if [ ! -s "$data/PG_VERSION" ]; then
        mkdir -p "$data"
        [ "$(id -u)" = 0 ] && chown postgres: "$data"
        # Trust auth on loopback only: a test server, never reachable from outside.
        as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust \
            --encoding=UTF8 --locale=C.UTF-8 >&2
    fi
    # The socket directory defaults to /var/run/postgresql, which may not exist.
    as_pg "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w \
        -o "-c listen_addresses=127.0.0.1 -p $port -k /tmp" start >&2
fi

exists="$(as_pg "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$db'")"
if [ "$exists" != 1 ]; then
    as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres "$db"
fi

echo "postgresql+psycopg://postgres@127.0.0.1:$port/$db"
