#!/usr/bin/env bash
# The main job: installs what it needs, then runs `trade-ledger demo` on the embedded backend.
# The report PDF lands in the folder you run this from.
#
#   scripts/demo.sh --keep [demo options]
#
# runs it on a DynamoDB Local that it starts and leaves running with the demo's data (table
# `demo-ledger`), and prints the settings and commands to try it with, and how to stop it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup_venv.sh"
if [ "${1:-}" != "--keep" ]; then
  exec "$root/.venv/bin/trade-ledger" demo "$@"
fi
shift
pid_file="${TRADE_LEDGER_KEEP_PID_FILE:-$root/.ddb.pid}"
if [ -f "$pid_file" ]; then
  echo "a DynamoDB Local of an earlier --keep is running (pid $(cat "$pid_file")); stop it first:" >&2
  echo "  python3 $root/scripts/dynamodb_local.py stop --pid-file $pid_file" >&2
  exit 2
fi
echo "starting DynamoDB Local (Java 17+; fetched once into ~/.cache/trade-ledger) ..." >&2
endpoint="$(python3 "$root/scripts/dynamodb_local.py" start --pid-file "$pid_file")"
export "${endpoint?}"
# DynamoDB Local keeps a separate set of tables per access key id and region: these are the
# ones every command below must use.
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=local
export AWS_SECRET_ACCESS_KEY=local
unset AWS_SESSION_TOKEN AWS_PROFILE
"$root/.venv/bin/trade-ledger" table create --table demo-ledger
"$root/.venv/bin/trade-ledger" demo --table demo-ledger "$@"
cat <<EOF

The demo's ledger and snapshots stay in DynamoDB Local, table demo-ledger. In this shell:

  source $root/.venv/bin/activate
  export ${endpoint} AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
  export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local
  export TRADE_LEDGER_TABLE=demo-ledger
  trade-ledger trades strategies --account 6f1c3b1e-6d3a-4c59-9f0e-3f6a2b8d9c10
  trade-ledger snapshot list --account 6f1c3b1e-6d3a-4c59-9f0e-3f6a2b8d9c10
  trade-ledger report metrics --account 6f1c3b1e-6d3a-4c59-9f0e-3f6a2b8d9c10 --latest

Stop it with: python3 $root/scripts/dynamodb_local.py stop --pid-file $pid_file
EOF
