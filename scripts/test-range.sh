#!/usr/bin/env bash
# The tests that hold across the supported range (Python, Tornado, event
# loop): the SockJS protocol, websocket and API tests and the real clients
# (sockjs-client in Chromium and in Node), and mypy. scripts/test.sh runs them on the
# oldest and the newest supported Python + Tornado pairs and on uvloop; tox
# runs them in its range environments.
#
# Usage: scripts/test-range.sh PYTHON [pytest arguments]
# PYTHON is the interpreter of a virtualenv holding the package and its
# test extra. SOCKJS_TEST_LOOP=uvloop serves the tests from uvloop.
set -euo pipefail
shopt -s extglob
cd "$(dirname "$0")/.."
if [ $# -lt 1 ]; then
  echo "usage: scripts/test-range.sh PYTHON [pytest arguments]" >&2
  exit 2
fi
PY=$1
shift
# test_api_docs checks README.rst, which does not change with the range.
# mypy runs too: the types it checks against (asyncio's in typeshed,
# Tornado's own annotations) change with the Python and the Tornado.
exec "$PY" -m pytest -p no:cacheprovider \
  tests/test_proto.py tests/test_protocol_*.py tests/test_api_!(docs).py tests/test_real_client_*.py \
  tests/test_static_checks.py::test_mypy_strict_reports_nothing \
  "$@"
