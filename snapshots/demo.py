"""``trade-ledger demo``: bootstrap the table, import a multi-strategy history, query it back.

Runs on moto in-process unless an endpoint is given (``--endpoint-url`` or
``AWS_ENDPOINT_URL_DYNAMODB``), so it needs no AWS account and no Java.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from ledger_store import bootstrap
from ledger_store.cli import resolve_settings
from ledger_store.embedded import embedded_aws
from ledger_store.importer import import_fills
from ledger_store.trades import TradeLedgerRepository

from .demo_history import DEMO_ACCOUNT_ID, generate_history


def run_demo(args: argparse.Namespace) -> int:
    remote = bool(args.endpoint_url or os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"))
    with ExitStack() as stack:
        if not remote or args.embedded:
            stack.enter_context(embedded_aws())
        settings = resolve_settings(args)
        where = settings.endpoint_url or ("moto (embedded)" if not remote else "AWS")
        print(f"ledger table {settings.table_name} on {where}")
        print(f"  table: {bootstrap.create_table(settings)}")

        cycles = generate_history(days=args.days)
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="trade-ledger-")))
        fills_file = workdir / "fills.jsonl"
        with fills_file.open("w", encoding="utf-8") as handle:
            for cycle in cycles:
                for fill in cycle.fills:
                    handle.write(fill.model_dump_json() + "\n")
        total = sum(len(c.fills) for c in cycles)
        print(f"  history: {len(cycles)} trading cycles, {total} fills -> {fills_file.name}")

        repository = TradeLedgerRepository(settings)
        for attempt in ("import", "re-import"):
            report = _import(repository, fills_file, total, attempt, quiet=args.no_progress)
            print(f"  {attempt}: {report}")

        print(f"\nstrategies of account {DEMO_ACCOUNT_ID} (registry, one Query):")
        for registration in repository.strategies(DEMO_ACCOUNT_ID):
            print(f"  {registration.strategy:<16} {registration.trade_count:>4} fills")

        last = cycles[-1]
        print(f"\nlast cycle {last.correlation_id} (GSI1):")
        for fill in repository.trades_by_correlation(last.correlation_id):
            print(
                f"  {fill.filled_at:%Y-%m-%d %H:%M:%S}  {fill.side.value:<4} "
                f"{format(fill.qty, 'f'):>5} {fill.symbol:<5} @ {format(fill.price, 'f')}"
            )
        bought = sold = 0
        for attribution in repository.attributions_by_strategy(
            DEMO_ACCOUNT_ID, "momentum", cycles[0].start, last.end
        ):
            if attribution.side.value == "BUY":
                bought += 1
            else:
                sold += 1
        print(f"\nmomentum over the whole history (GSI3): {bought} buys, {sold} sells")
    return 0


def _import(
    repository: TradeLedgerRepository, path: Path, total: int, label: str, *, quiet: bool
) -> str:
    from tqdm import tqdm

    with tqdm(total=total, unit="fill", desc=label, disable=quiet or None, file=sys.stderr) as bar:
        report = import_fills(repository, path, progress=bar.update)
    return report.summary()
