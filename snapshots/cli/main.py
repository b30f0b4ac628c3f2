"""``trade-ledger``: the command line of the ledger store and the snapshot job."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from importlib import metadata

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
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    ledger_cli.register(commands)
    snapshot_cli.register(commands)
    report_cli.register(commands)
    account_cli.register(commands)
    demo = commands.add_parser(
        "demo",
        parents=[ledger_cli.connection_options()],
        help="the end-to-end demo on the embedded backend (or --endpoint-url)",
        epilog="scripts/demo.sh --keep runs it on a DynamoDB Local left running with its data, "
        "and prints the settings and commands to try it with.",
    )
    demo.add_argument("--days", type=int, default=60, help="trading days of history")
    demo.add_argument("--cycles", type=int, default=5, help="trading cycles run live")
    demo.add_argument("--output", default=".", help="folder of the report PDF (default: here)")
    demo.add_argument("--no-progress", action="store_true", help="no progress bars")
    demo.set_defaults(func=_demo)
    return parser


def _demo(args: argparse.Namespace) -> int:
    from snapshots.demo.run import run_demo

    return run_demo(args)


def package_version() -> str:
    """The installed distribution's version (``pyproject.toml``; the changelog's newest)."""
    try:
        return metadata.version("trade-ledger")
    except metadata.PackageNotFoundError:  # a source tree that was never installed
        return "unknown (not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; a reader that stops early (``| head``) ends it quietly."""
    try:
        code = _run(argv)
        sys.stdout.flush()  # here, where a closed pipe can still be ended quietly
        return code
    except BrokenPipeError:
        # The reader is gone: print nothing more (not even at exit) and end as a process
        # killed by SIGPIPE would, like the tools it is piped with.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + signal.SIGPIPE


def _run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except LedgerError as exc:
        status = exit_code_of(type(exc))
        named = "" if status in (2, 3) else f"{type(exc).__name__}: "
        print(f"error: {named}{exc}", file=sys.stderr)
        return status
    return code


def exit_code_of(error: type[LedgerError]) -> int:
    """The exit code of a command that failed with ``error``: 3 a table that differs from the
    models, 2 bad input or configuration, 1 anything else (storage, Alpaca, integrity)."""
    if issubclass(error, SchemaMismatchError):
        return 3
    if issubclass(error, LedgerValidationError | ConfigurationError):
        return 2
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
