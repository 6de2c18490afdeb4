#!/usr/bin/env bash
# The run command: sets everything up on embedded defaults (SQLite, local Kafka-protocol broker,
# media folder, development keys in ./var) and runs everything with `cameoguard up`: the broker,
# the API on localhost and every worker (relay, signals, reactions, generator), logs prefixed by
# name. Ctrl-C or SIGTERM stops them all. With CAMEOGUARD_KAFKA_BOOTSTRAP set, no broker starts.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/setup.sh

cameoguard db upgrade
cameoguard keys dev-ca --if-missing   # the development signing chain; its root is trusted

BROKER=(--broker)
[ -n "${CAMEOGUARD_KAFKA_BOOTSTRAP:-}" ] && BROKER=(--no-broker)
exec cameoguard up "${BROKER[@]}" --host "${CAMEOGUARD_HOST:-127.0.0.1}" --port "${CAMEOGUARD_PORT:-8000}"
