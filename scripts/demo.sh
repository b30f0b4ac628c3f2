#!/usr/bin/env bash
# The main job: installs what it needs, then runs `trade-ledger demo` on the embedded backend.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup_venv.sh
exec .venv/bin/trade-ledger demo "$@"
