#!/usr/bin/env bash
# Create .venv (once) and install the project with its dev extras into it.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  # Said on stderr, so that what the commands print on stdout stays theirs.
  echo "setting up .venv: installing trade-ledger and its dependencies (once; a few minutes)..." >&2
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[dev]'
  rm -f .venv/.installed-*
  touch "$stamp"
  echo "set up .venv: $(.venv/bin/trade-ledger --version)" >&2
fi
