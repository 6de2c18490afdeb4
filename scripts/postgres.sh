#!/usr/bin/env bash
# Finds or starts a PostgreSQL server for the test suite and prints shell `export` lines:
#   CAMEOGUARD_TEST_POSTGRES_URL   a URL to a database the tests may create databases from
#   CAMEOGUARD_TEST_PG_DATADIR     set only when this script started its own server
# Order: an already configured CAMEOGUARD_TEST_POSTGRES_URL; a server at 127.0.0.1:5432 with
# trust auth; else a throwaway cluster from Debian's packages (installed if missing) on port 55432.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
log() { printf '[postgres] %s\n' "$*" >&2; }

reachable() {
    "$PY" - "$1" <<'PYEOF' 2>/dev/null
import sys, psycopg
url = sys.argv[1].replace("postgresql+psycopg://", "postgresql://")
with psycopg.connect(url, connect_timeout=3) as conn:
    conn.execute("SELECT 1")
PYEOF
}

if [ -n "${CAMEOGUARD_TEST_POSTGRES_URL:-}" ]; then
    reachable "$CAMEOGUARD_TEST_POSTGRES_URL" || { log "configured server not reachable"; exit 1; }
    echo "export CAMEOGUARD_TEST_POSTGRES_URL='$CAMEOGUARD_TEST_POSTGRES_URL'"
    exit 0
fi

PROBE="${CAMEOGUARD_TEST_PG_PROBE:-postgresql+psycopg://postgres@127.0.0.1:5432/postgres}"
if reachable "$PROBE"; then
    log "using the server at ${PROBE#*@}"
    echo "export CAMEOGUARD_TEST_POSTGRES_URL='$PROBE'"
    exit 0
fi

# No server: start a throwaway one.
bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)"
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
    log "no PostgreSQL server found; installing Debian's postgresql package"
    as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    bindir="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)"
fi
PORT="${CAMEOGUARD_TEST_PG_PORT:-55432}"
DATADIR="$(mktemp -d /tmp/cameoguard-pg.XXXXXX)"
run_pg() {
    # PostgreSQL refuses to run as root: use the postgres account then.
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
        chown postgres "$DATADIR"
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}
run_pg "$bindir/initdb" -D "$DATADIR/data" -U postgres --auth=trust -E UTF8 >/dev/null
run_pg "$bindir/pg_ctl" -D "$DATADIR/data" -l "$DATADIR/server.log" -w -t 60 \
    -o "-p $PORT -k $DATADIR -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
URL="postgresql+psycopg://postgres@127.0.0.1:$PORT/postgres"
reachable "$URL" || { log "started server does not answer; see $DATADIR/server.log"; exit 1; }
log "started a throwaway server on port $PORT ($DATADIR)"
echo "export CAMEOGUARD_TEST_POSTGRES_URL='$URL'"
echo "export CAMEOGUARD_TEST_PG_DATADIR='$DATADIR'"
echo "export CAMEOGUARD_TEST_PG_CTL='$bindir/pg_ctl'"
