#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh machine, then run all of it:
# linters (ruff, mypy, eslint, prettier), the Python test suite, and the browser UI tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore PYTHONDONTWRITEBYTECODE=1

stage() { printf '\n=== %s (%s)\n' "$1" "$(date +%T)"; }

if [ -d ui-tests ] && ! command -v chromium >/dev/null 2>&1; then
  stage "installing Debian's chromium for the UI tests"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
fi

stage "installing nbhygiene with its test extras (builds the JupyterLab extension with Node.js)"
python -m pip install -q -e '.[test]'
if [ -f labextension/package.json ] && [ ! -f src/nbhygiene/labextension/package.json ]; then
  echo "the JupyterLab extension was not built (is Node.js >= 20.19 on PATH?)" >&2
  exit 1
fi

stage "lint: ruff, mypy"
ruff check .
ruff format --check .
mypy

if [ -f labextension/package.json ]; then
  stage "lint: eslint, prettier"
  (cd labextension && jlpm install --immutable >/dev/null && jlpm lint && jlpm prettier:check)
fi

stage "tests"
python -m pytest tests -q -p no:cacheprovider

if [ -d ui-tests ]; then
  stage "UI tests (real JupyterLab in headless Chromium)"
  python -m pytest ui-tests -q -p no:cacheprovider
fi
stage "done"
