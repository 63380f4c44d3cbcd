#!/usr/bin/env bash
# Set up and run shopevents on SQLite with a demo store: bash scripts/demo.sh
# (setup.sh installs only on the first run, or after pyproject.toml or setup.sh changed.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export SHOPEVENTS_DATABASE_URL=${SHOPEVENTS_DATABASE_URL:-sqlite:///./shopevents.db}
.venv/bin/shopevents migrate
exec .venv/bin/shopevents serve --demo "$@"
