#!/usr/bin/env bash
# Create .venv and install shopevents into it. `scripts/setup.sh dev` adds the test tools,
# Chromium's headless shell (Debian package) for the browser tests, and Node.js for the
# client-script tests.
# The install is skipped when .venv already holds it for this pyproject.toml and this script
# (a stamp in .venv/.installed); the package is installed editable, so code changes need none.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# uv (itself from PyPI) makes the venv and installs the same packages as pip in a few seconds
# instead of ~25; pip does it when uv cannot be had or fails. uv leaves the packages'
# modules to be compiled on first import: only those in use are (the test command compiles
# the tests' at once, while the linters run), not every module of every package.
uv=""
uv_tried=0
uv_dir=""
find_uv() {  # sets $uv: the venv's, else from PyPI with the Python's own pip or the venv's
  if [ -z "$uv" ] && [ -x .venv/bin/uv ]; then
    uv=.venv/bin/uv
  fi
  if [ -z "$uv" ] && [ "$uv_tried" = 0 ]; then
    uv_tried=1
    if [ -z "$uv_dir" ]; then
      uv_dir=$(mktemp -d)
      trap 'rm -rf "$uv_dir"' EXIT
    fi
    if "$PY" -m pip install -q --disable-pip-version-check --target "$uv_dir" uv \
      > /dev/null 2>&1; then
      uv="$uv_dir/bin/uv"
    elif [ -x .venv/bin/pip ] \
      && .venv/bin/pip install -q --disable-pip-version-check uv > /dev/null 2>&1; then
      uv=.venv/bin/uv
    fi
  fi
  [ -n "$uv" ]
}
make_venv() {
  if [ ! -x .venv/bin/python ]; then
    if ! { find_uv && "$uv" venv -q --seed --python "$(command -v "$PY")" .venv > /dev/null 2>&1; }; then
      rm -rf .venv
      "$PY" -m venv .venv
      uv_tried=0  # the venv's pip may fetch it
    fi
  fi
}
pip_install() {
  if find_uv \
    && "$uv" pip install -q --python .venv/bin/python "$@" > .venv/pip.log 2>&1
  then
    return
  fi
  if ! .venv/bin/pip install -q --disable-pip-version-check "$@" >> .venv/pip.log 2>&1; then
    tail -n 30 .venv/pip.log >&2
    echo "pip install failed; the whole log is in .venv/pip.log" >&2
    exit 1
  fi
}
# What the install depends on: a change to either means installing again.
sources=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-32)
installed() {  # installed MODE: this install (MODE: dev, or user, which dev includes) is in place
  [ -f .venv/.installed ] && .venv/bin/python -c "import shopevents" 2>/dev/null \
    && grep -qxE "$sources ($1|dev)" .venv/.installed
}
if [ "${1:-}" = "dev" ]; then
  need=()
  command -v chromium-headless-shell >/dev/null 2>&1 || need+=(chromium-headless-shell)
  command -v node >/dev/null 2>&1 || need+=(nodejs)
  if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = "0" ]; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    else
      sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    fi
  fi
  # The Segment client libraries the Segment-compatible ingest tests drive (tests/segment),
  # installed while the Python packages are.
  npm_install=""
  if [ ! -d tests/segment/node_modules ]; then
    (cd tests/segment && npm ci --no-audit --no-fund --loglevel=error) &
    npm_install=$!
  fi
  make_venv
  if ! installed dev; then
    pip_install -e '.[dev]'
    echo "$sources dev" > .venv/.installed
  fi
  if [ -n "$npm_install" ]; then
    wait "$npm_install"
  fi
else
  make_venv
  if ! installed user; then
    pip_install -e .
    echo "$sources user" > .venv/.installed
  fi
fi
