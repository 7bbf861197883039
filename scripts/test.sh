#!/usr/bin/env bash
# Install everything the test suite needs on a fresh Debian machine, then
# run the whole suite. README.rst and docs/contributing.rst tell newcomers to run this; .ci/run runs
# exactly this. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# System packages: the browser, redis-server, haproxy and nginx the tests start.
APT_PACKAGES="chromium redis-server haproxy nginx"
missing=""
for p in $APT_PACKAGES; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
  $SUDO apt-get update -q
  # RUNLEVEL=1: install only; the tests start their own nginx and redis on
  # 127.0.0.1, no system service should come up on a public port.
  $SUDO env RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing
fi

# Python: a virtualenv with the package and its test extra.
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# constraints.txt pins the static checkers and the docs tools.
.venv/bin/python -m pip install -q -e ".[test]" -c constraints.txt

# Node packages (pinned by package-lock.json). The real-client tests need
# Node.js 20+ (playwright-core's floor); without it they fail, so say why now.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "scripts/test.sh: Node.js 20+ and npm are required (real sockjs-client tests)" >&2
  exit 1
fi
node -e 'process.exit(parseInt(process.versions.node, 10) >= 20 ? 0 : 1)' || {
  echo "scripts/test.sh: Node.js 20+ required, found $(node --version)" >&2
  exit 1
}
if [ -f package.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

# Static checks, then the tests.
.venv/bin/python -m pytest "$@"
