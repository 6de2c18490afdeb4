#!/usr/bin/env bash
# The test command: sets up like the run command, makes sure PostgreSQL and a Kafka broker are
# there (starting throwaway ones when not), then runs the whole pytest suite.
# Extra arguments go to pytest, e.g. `scripts/test.sh -k audit -x`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/setup.sh
# Debian's Chromium and its driver for the reviewer page's browser test (no browser download).
apt_install chromium chromium-driver

STATE="$(mktemp -d /tmp/cameoguard-test.XXXXXX)"
cleanup() {
    python scripts/local_broker.py stop --state-dir "$STATE/broker" || true
    if [ -n "${CAMEOGUARD_TEST_PG_DATADIR:-}" ]; then
        if [ "$(id -u)" = 0 ]; then
            (cd / && runuser -u postgres -- "$CAMEOGUARD_TEST_PG_CTL" -D "$CAMEOGUARD_TEST_PG_DATADIR/data" -m fast stop >/dev/null) || true
        else
            "$CAMEOGUARD_TEST_PG_CTL" -D "$CAMEOGUARD_TEST_PG_DATADIR/data" -m fast stop >/dev/null || true
        fi
        rm -rf "$CAMEOGUARD_TEST_PG_DATADIR"
    fi
    rm -rf "$STATE"
}
trap cleanup EXIT

eval "$(bash scripts/postgres.sh)"

if [ -z "${CAMEOGUARD_TEST_KAFKA_BOOTSTRAP:-}" ]; then
    KAFKA_PORT="${CAMEOGUARD_TEST_KAFKA_PORT:-19092}"
    python scripts/local_broker.py start --port "$KAFKA_PORT" --state-dir "$STATE/broker"
    export CAMEOGUARD_TEST_KAFKA_BOOTSTRAP="127.0.0.1:$KAFKA_PORT"
fi
export CAMEOGUARD_TEST_BROKER_STATE="$STATE/broker"

python -m pytest "$@"
