#!/usr/bin/env bash
# Set up and run the whole test suite (SQLite and PostgreSQL, Node, Chromium): bash scripts/test.sh
#   bash scripts/test.sh --fast   the fast tier: the unit tests and the SQLite-only tests, without
#                                 PostgreSQL, cluster mode, the browser, and the tests marked
#                                 slow (crash, property)
# Any other arguments go to pytest (e.g. `bash scripts/test.sh tests/domain -x`, `-n 0` to run
# in one process). SHOPEVENTS_TEST_WORKERS sets the number of pytest-xdist worker processes.
set -euo pipefail
cd "$(dirname "$0")/.."
# Compiled modules are cached (in __pycache__): each of the run's processes (pytest workers,
# the servers and commands the tests start) would otherwise compile every module again.
unset PYTHONDONTWRITEBYTECODE
fast=0
args=()
for arg in "$@"; do
  if [ "$arg" = "--fast" ]; then fast=1; else args+=("$arg"); fi
done
# While some tests wait (on servers, browsers, the cluster's processors) others compute, so more
# workers than cores keep both cores busy; each worker has its own databases, ports and
# temporary directories.
workers=${SHOPEVENTS_TEST_WORKERS:-6}
if [ "$fast" = 1 ]; then
  [ -x .venv/bin/pytest ] && .venv/bin/python -c "import xdist" 2>/dev/null || bash scripts/setup.sh dev
  .venv/bin/ruff check src tests bench
  export SHOPEVENTS_TEST_BACKENDS=sqlite
  exec .venv/bin/pytest -q -p no:cacheprovider -n "$workers" \
    -m "not browser and not slow" "${args[@]}"
fi
bash scripts/setup.sh dev
export SHOPEVENTS_TEST_POSTGRES=${SHOPEVENTS_TEST_POSTGRES:-postgresql://postgres@127.0.0.1:5432/test}
if ! .venv/bin/python -c "import psycopg,os; psycopg.connect(os.environ['SHOPEVENTS_TEST_POSTGRES'], connect_timeout=3).close()" 2>/dev/null; then
  echo "PostgreSQL is not answering; starting it"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  sleep 2
fi
# While the linters run, one process compiles the package's and the tests' modules (the tests'
# with pytest's assertion rewriting), which the workers would otherwise each do at once.
.venv/bin/pytest -q -p no:cacheprovider --collect-only -n 0 > /dev/null 2>&1 &
compiling=$!
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
.venv/bin/mypy
if [ -d tests/js ] && ls tests/js/*.test.js >/dev/null 2>&1; then
  node --test tests/js/
fi
wait "$compiling" || true
exec .venv/bin/pytest -q -p no:cacheprovider -n "$workers" --dist worksteal "${args[@]}"
