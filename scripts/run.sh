#!/usr/bin/env bash
# The run command: sets everything up on embedded defaults (SQLite, local Kafka-protocol broker,
# media folder, development keys in ./var) and serves the API on localhost.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/setup.sh

cameoguard db upgrade
cameoguard keys dev-ca --if-missing   # the development signing chain; its root is trusted

BROKER_STATE="$CAMEOGUARD_HOME/broker"
BOOTSTRAP="${CAMEOGUARD_KAFKA_BOOTSTRAP:-127.0.0.1:9092}"
if [ -z "${CAMEOGUARD_KAFKA_BOOTSTRAP:-}" ]; then
    if python scripts/local_broker.py start --port "${BOOTSTRAP##*:}" --state-dir "$BROKER_STATE"; then
        trap 'python scripts/local_broker.py stop --state-dir "$BROKER_STATE"' EXIT
    else
        echo "[run] the local broker did not start; serving without it (see /readyz)" >&2
    fi
fi
export CAMEOGUARD_KAFKA_BOOTSTRAP="$BOOTSTRAP"

HOST="${CAMEOGUARD_HOST:-127.0.0.1}"
PORT="${CAMEOGUARD_PORT:-8000}"
echo "cameoguard: open http://$HOST:$PORT/docs (API) and http://$HOST:$PORT/readyz; make a key with: .venv/bin/cameoguard keys create --scope admin"
cameoguard serve --host "$HOST" --port "$PORT"
