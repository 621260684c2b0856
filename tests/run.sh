#!/usr/bin/env bash
# The README's test command: set up what the tests need on a fresh machine of this kind, then run pytest.
#   tests/run.sh                 # the whole suite
#   tests/run.sh -k spec -x      # any pytest arguments
# Python comes from $PYTHON (default: python, e.g. an activated venv). Needs root or sudo for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

"$PYTHON" -m pip install -q -e ".[test]"
# Debian's Chromium drives the browser tests (Playwright's own browser download is not possible here).
if [ ! -x /usr/bin/chromium ]; then
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq chromium >/dev/null
fi
# PostgreSQL backs the cluster and secrets tests; this machine kind has it installed, but it may be down.
if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -h 127.0.0.1 -q; then
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start
fi
exec "$PYTHON" -m pytest -q --durations=20 "$@"
