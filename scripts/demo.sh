#!/usr/bin/env bash
# The main job: installs what it needs, then runs `trade-ledger demo` on the embedded backend.
# The report PDF lands in the folder you run this from.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup_venv.sh"
exec "$root/.venv/bin/trade-ledger" demo "$@"
