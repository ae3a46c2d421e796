#!/usr/bin/env bash
# Start a throwaway PostgreSQL server (Debian's package) for the storage tests and print its SQLAlchemy URL.
# Usage: eval "$(bash .ci/postgres.sh)"   -> exports SPINLENS_TEST_POSTGRES
set -euo pipefail
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    # the package's own service start may fail in a container without an init system; the binaries are what we need
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null 2>&1 || true
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { echo "could not install Debian's postgresql" >&2; exit 1; }
fi
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PORT=${SPINLENS_PG_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
DIR=$(mktemp -d /tmp/spinlens-pg.XXXXXX)
RUN_AS=()
if [ "$(id -u)" = 0 ]; then  # initdb refuses to run as root
    chown postgres "$DIR"
    RUN_AS=(runuser -u postgres --)
fi
"${RUN_AS[@]}" "$BIN/initdb" -D "$DIR/data" -U spinlens --auth=trust -E UTF8 >/dev/null
"${RUN_AS[@]}" "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w \
    -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
"$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U spinlens spinlens_test
echo "export SPINLENS_TEST_POSTGRES=postgresql+psycopg://spinlens@127.0.0.1:$PORT/spinlens_test"
echo "export SPINLENS_PG_DIR=$DIR"
