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

# Autobahn|Testsuite (the websocket conformance fuzzer that
# tests/test_autobahn.py runs) needs Python 2.7: its own virtualenv, made
# once and reused. PYTHON2 names the interpreter; by default the newest
# working 2.7 under pyenv, else python2.7 on PATH.
if [ ! -f .venv-autobahn/installed ]; then
  PY2=${PYTHON2:-}
  if [ -z "$PY2" ]; then
    for c in "$(command -v python2.7 || true)" "${PYENV_ROOT:-$HOME/.pyenv}"/versions/2.7*/bin/python2.7; do
      if [ -x "$c" ] && "$c" -c 'import sys; assert sys.version_info[:2] == (2, 7)' 2>/dev/null; then
        PY2=$c
      fi
    done
  fi
  if [ -z "$PY2" ]; then
    echo "scripts/test.sh: Python 2.7 is required for the Autobahn websocket tests (set PYTHON2)" >&2
    exit 1
  fi
  .venv/bin/python -m pip install -q 'virtualenv<20.22'
  rm -rf .venv-autobahn
  .venv/bin/python -m virtualenv -q -p "$PY2" .venv-autobahn
  .venv-autobahn/bin/python -m pip install -q -r tests/autobahn/requirements.txt
  touch .venv-autobahn/installed
fi

# With pytest arguments (a file, -k, --co ...) only the default run happens.
if [ $# -gt 0 ]; then
  exec .venv/bin/python -m pytest "$@"
fi

# The supported range needs its oldest and newest Pythons. Each comes from
# $PYTHON39 / $PYTHON313, else pythonX.Y on PATH, else pyenv's newest patch
# release of it; the first that runs wins (a pyenv shim of a version that
# is not selected does not run). A missing one stops the run here, before
# anything runs.
find_python() {  # find_python 3.9 -> the interpreter's path, or nothing
  local v=$1 var="PYTHON${1//./}" cand
  for cand in ${!var:-} $(command -v "python$v" 2>/dev/null) \
      $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/python"$v" 2>/dev/null | sort -rV); do
    if "$cand" -c 'import sys' >/dev/null 2>&1; then
      echo "$cand"
      return
    fi
  done
}
PY_OLDEST=$(find_python 3.9)
PY_NEWEST=$(find_python 3.13)
for pair in "3.9:$PY_OLDEST" "3.13:$PY_NEWEST"; do
  v=${pair%%:*}
  if [ -z "${pair#*:}" ]; then
    echo "scripts/test.sh: Python $v not found. The suite also runs on the oldest" >&2
    echo "  (Python 3.9 + Tornado 6.1) and newest (Python 3.13 + newest Tornado) supported" >&2
    echo "  pairs. Install it (pyenv install $v, or your distribution's python$v), or" >&2
    echo "  point PYTHON${v//./} at an interpreter; 'scripts/test.sh -q' runs the default suite only." >&2
    exit 1
  fi
done

# range_venv DIR PYTHON PIP_ARGS...: a virtualenv with the package, its
# test extra and the given Tornado; kept between runs.
range_venv() {
  local dir=$1 py=$2
  shift 2
  if [ ! -x "$dir/bin/python" ] || ! "$dir/bin/python" -c 'import sys' >/dev/null 2>&1; then
    "$py" -m venv --clear "$dir"
    "$dir/bin/python" -m pip install -q --upgrade pip
  fi
  "$dir/bin/python" -m pip install -q -e ".[test]" -c constraints.txt "$@"
  "$dir/bin/python" -c 'import sys, tornado; print("%s: Python %s, Tornado %s" % (sys.argv[1], sys.version.split()[0], tornado.version))' "$dir"
}

# python_only_subset: the fast subset, `pytest -m "not browser and not
# cluster"`, as a contributor with nothing but Python runs it: from a copy
# of the checkout (its tracked and new files: no node_modules, no
# .venv-autobahn) and with nothing on PATH but the virtualenv's programs
# (no node, npm, Chromium, redis-server, haproxy or nginx). A test that
# needs one of those and lacks its marker fails here.
python_only_subset() {
  local root=$PWD tree status=0
  tree=$(mktemp -d "${TMPDIR:-/tmp}/sockjs-python-only.XXXXXX")
  git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do if [ -e "$f" ]; then printf '%s\0' "$f"; fi; done |
    tar --null -T - -cf - | tar -xf - -C "$tree" || status=$?
  if [ $status = 0 ]; then
    (cd "$tree" && env -i HOME="$HOME" LANG=C.UTF-8 TMPDIR="${TMPDIR:-/tmp}" PATH="$root/.venv/bin" \
      "$root/.venv/bin/python" -m pytest -p no:cacheprovider -m "not browser and not cluster" -q) || status=$?
  fi
  rm -rf "$tree"
  return $status
}

# The whole suite on the default virtualenv (static checks included): the
# Python-only subset as above, then the tests that need the other
# programs. Then the protocol, websocket, API and real-client tests on
# uvloop and on the oldest and newest supported pairs. Every run runs; the
# exit status says whether all passed.
failed=""
run() {  # run NAME COMMAND...
  local name=$1 start=$SECONDS
  shift
  echo "== $name"
  if "$@"; then
    echo "== $name: passed in $((SECONDS - start)) s"
  else
    echo "== $name: FAILED after $((SECONDS - start)) s"
    failed="$failed $name"
  fi
}
run "full suite (default): Python-only subset" python_only_subset
run "full suite (default): browser and cluster tests" .venv/bin/python -m pytest -m "browser or cluster"
run "uvloop" env SOCKJS_TEST_LOOP=uvloop bash scripts/test-range.sh .venv/bin/python -q
range_venv .venv-py39-t61 "$PY_OLDEST" "tornado==6.1.*"
run "Python 3.9 + Tornado 6.1" bash scripts/test-range.sh .venv-py39-t61/bin/python -q
range_venv .venv-py313-tnew "$PY_NEWEST" --upgrade tornado
run "Python 3.13 + newest Tornado" bash scripts/test-range.sh .venv-py313-tnew/bin/python -q
if [ -n "$failed" ]; then
  echo "scripts/test.sh: failed:$failed" >&2
  exit 1
fi
