"""``trade-ledger``: the command line of the ledger store and the snapshot job."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ledger_store.errors import (
    ConfigurationError,
    LedgerError,
    LedgerValidationError,
    SchemaMismatchError,
)
from snapshots.cli import account as account_cli
from snapshots.cli import ledger as ledger_cli
from snapshots.cli import report as report_cli
from snapshots.cli import snapshot as snapshot_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trade-ledger",
        description="Single-table DynamoDB trade ledger and deterministic account snapshots.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    ledger_cli.register(commands)
    snapshot_cli.register(commands)
    report_cli.register(commands)
    account_cli.register(commands)
    demo = commands.add_parser(
        "demo",
        parents=[ledger_cli.connection_options()],
        help="the end-to-end demo on the embedded backend (or --endpoint-url)",
    )
    demo.add_argument("--days", type=int, default=60, help="trading days of history")
    demo.add_argument("--cycles", type=int, default=5, help="trading cycles run live")
    demo.add_argument("--output", default=".", help="folder of the report PDF (default: here)")
    demo.add_argument("--no-progress", action="store_true")
    demo.set_defaults(func=_demo)
    return parser


def _demo(args: argparse.Namespace) -> int:
    from snapshots.demo.run import run_demo

    return run_demo(args)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except SchemaMismatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except (LedgerValidationError, ConfigurationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except LedgerError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
