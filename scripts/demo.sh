#!/usr/bin/env bash
# Install the package into .venv and start the echo demo on
# http://127.0.0.1:8080/ (a page that talks to the server with sockjs-client).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q -e .
if [ -f package.json ] && [ ! -d node_modules/sockjs-client ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
exec .venv/bin/python examples/echo/server.py "$@"
