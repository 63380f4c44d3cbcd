#!/usr/bin/env bash
# Set up and run the whole test suite (SQLite and PostgreSQL, Node, Chromium): bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
export SHOPEVENTS_TEST_POSTGRES=${SHOPEVENTS_TEST_POSTGRES:-postgresql://postgres@127.0.0.1:5432/test}
if ! .venv/bin/python -c "import psycopg,os; psycopg.connect(os.environ['SHOPEVENTS_TEST_POSTGRES'], connect_timeout=3).close()" 2>/dev/null; then
  echo "PostgreSQL is not answering; starting it"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  sleep 2
fi
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
.venv/bin/mypy
if [ -d tests/js ] && ls tests/js/*.test.js >/dev/null 2>&1; then
  node --test tests/js/
fi
exec .venv/bin/pytest -q -p no:cacheprovider "$@"
