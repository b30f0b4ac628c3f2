#!/usr/bin/env python3
"""Benchmark of adoption: fills recorded a second by ``adopt_account``, beside the floor.

Not a timed test: it prints figures for a human and asserts nothing about speed.

Usage::

    .venv/bin/python scripts/bench_adopt.py [--fills 5000] [--engine dynamodb-local|moto]
        [--endpoint-url URL] [--workers N]

What it measures
    A fake Alpaca account with ``--fills`` orders (``synthetic_history``, one or two strategies
    a fill, many filled in pieces) is adopted into a fresh table; the recording phase is timed
    from its first to its last fill (``progress``), reading Alpaca and the first snapshot
    aside. The floor is the same items written the way ``record_many`` writes them, straight
    through botocore into another fresh table: the same ``TransactWriteItems`` of the same
    groups (each fill's trade and attributions, conditioned on the trade being new, and one
    registry update per strategy), ``--workers`` at a time, with nothing else (no lookup, no
    validation, no DTOs). Both are measured in the same run, side by side.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ledger_store.binding import bound  # noqa: E402
from ledger_store.bootstrap import create_table  # noqa: E402
from ledger_store.config import TableSettings  # noqa: E402
from ledger_store.digests import digest_sum  # noqa: E402
from ledger_store.dto import TradeFill  # noqa: E402
from ledger_store.events import AccountEventRepository  # noqa: E402
from ledger_store.snapshot_store import AccountSnapshotRepository  # noqa: E402
from ledger_store.trades import TradeLedgerRepository, _groups, fill_items  # noqa: E402
from snapshots.adoption.adopt import RECORDING, adopt_account, ledger_fills  # noqa: E402
from snapshots.alpaca.fills import done_orders  # noqa: E402
from snapshots.alpaca.source import AlpacaSource, RetryPolicy  # noqa: E402
from snapshots.demo.history import (  # noqa: E402
    DEMO_ACCOUNT_ID,
    raw_client,
    synthetic_history,
)
from snapshots.fake_alpaca.broker import FakeAccount  # noqa: E402
from snapshots.fake_alpaca.server import (  # noqa: E402
    DEFAULT_KEY_ID,
    DEFAULT_SECRET_KEY,
    running_fake_alpaca,
)
from snapshots.ledger.rules import AttributionRules  # noqa: E402

REGION = "us-east-1"


@contextmanager
def engine(name: str, endpoint_url: str | None) -> Iterator[str | None]:
    """The engine's endpoint (``None``: moto in this process) for the block."""
    if name == "moto":
        from ledger_store.embedded import embedded_aws

        with embedded_aws(REGION):
            yield None
        return
    for variable, value in (
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
        ("AWS_REGION", REGION),
    ):
        os.environ.setdefault(variable, value)
    if endpoint_url:
        yield endpoint_url
        return
    sys.path.insert(0, str(ROOT / "scripts"))
    import dynamodb_local

    running = dynamodb_local.start()
    try:
        yield running.endpoint_url
    finally:
        dynamodb_local.stop(running)


def fresh_table(endpoint: str | None) -> TableSettings:
    settings = TableSettings(
        table_name=f"bench-adopt-{uuid.uuid4().hex[:8]}", region=REGION, endpoint_url=endpoint
    )
    create_table(settings)
    return settings


def floor(settings: TableSettings, fills: Sequence[TradeFill], workers: int) -> dict[str, Any]:
    """The groups ``record_many`` writes, as raw ``TransactWriteItems``, ``workers`` at once."""
    client = raw_client(settings, pool=workers + 2)
    table = settings.table_name
    groups: list[list[dict[str, Any]]] = []
    with bound(settings):
        # The very groups record_many forms (its own grouping function).
        for indexes in _groups(fills, range(len(fills))):
            groups.append(_actions(table, [fills[i] for i in indexes]))
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda actions: client.transact_write_items(TransactItems=actions), groups))
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "requests": len(groups), "rate": len(fills) / seconds}


def _actions(table: str, group: Sequence[TradeFill]) -> list[dict[str, Any]]:
    actions: list[dict[str, Any]] = []
    by_strategy: dict[str, list[Any]] = {}
    for fill in group:
        items = fill_items(fill)
        actions.append(
            {
                "Put": {
                    "TableName": table,
                    "Item": items[0],
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            }
        )
        actions.extend({"Put": {"TableName": table, "Item": item}} for item in items[1:])
        for attribution in fill.attributions():
            by_strategy.setdefault(attribution.strategy, []).append(attribution)
    for strategy, added in sorted(by_strategy.items()):
        actions.append(
            {
                "Update": {
                    "TableName": table,
                    "Key": {
                        "PK": {"S": f"ACCOUNT#{group[0].account_id}"},
                        "SK": {"S": f"STRATEGY#{strategy}"},
                    },
                    "UpdateExpression": "ADD trade_count :n, revision :n, entries_digest :d",
                    "ExpressionAttributeValues": {
                        ":n": {"N": str(len(added))},
                        ":d": {"N": str(digest_sum(added))},
                    },
                }
            }
        )
    return actions


def measure(
    fills_wanted: int, endpoint: str | None, workers: int = 8
) -> tuple[dict[str, Any], TableSettings, TableSettings]:
    """Adopt an account of ``fills_wanted`` orders into one fresh table, write the floor's
    transactions into another; the figures and both tables."""
    cycles = synthetic_history(
        fills_wanted, fills_per_day=20, last_day=date(2026, 10, 30), account_id=DEMO_ACCOUNT_ID
    )
    account = FakeAccount.from_history(cycles)
    start = datetime.combine(cycles[0].start.date(), datetime.min.time(), UTC)
    marks: dict[str, float] = {}

    def progress(stage: str, done: int, total: int | None) -> None:
        if stage == RECORDING:
            marks.setdefault("first", time.perf_counter())
            if total is not None and done == total:
                marks["last"] = time.perf_counter()

    with running_fake_alpaca(account) as fake:
        adopted = fresh_table(endpoint)
        source = AlpacaSource(
            api_key=DEFAULT_KEY_ID,
            secret_key=DEFAULT_SECRET_KEY,
            base_url=fake.base_url,
            retry=RetryPolicy(deadline=60),
            environ={},
        )
        with source:
            history = source.fetch_trading_history(start, datetime.now(UTC))
            adoption = adopt_account(
                account_id=DEMO_ACCOUNT_ID,
                alpaca=source,
                ledger=TradeLedgerRepository(adopted),
                events=AccountEventRepository(adopted),
                store=AccountSnapshotRepository(adopted),
                period_start=start,
                first_snapshot=False,
                workers=workers,
                progress=progress,
            )
    orders = done_orders(history).done
    fills = [f for _, f in ledger_fills(orders, DEMO_ACCOUNT_ID, AttributionRules())[0]]
    raw_table = fresh_table(endpoint)
    raw = floor(raw_table, fills, workers)
    seconds = marks["last"] - marks["first"]
    figures = {
        "fills": adoption.fills,
        "executions": adoption.executions,
        "recorded": len(adoption.recorded),
        "adopt": {"seconds": seconds, "rate": len(adoption.recorded) / seconds},
        "floor": raw,
    }
    return figures, adopted, raw_table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_adopt.py", description=__doc__.split("\n")[0])
    parser.add_argument("--fills", type=int, default=5000)
    parser.add_argument("--engine", choices=("dynamodb-local", "moto"), default="dynamodb-local")
    parser.add_argument("--endpoint-url")
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args(argv)
    with engine(args.engine, args.endpoint_url) as endpoint:
        figures, _, _ = measure(args.fills, endpoint, args.workers)
    adopt, raw = figures["adopt"], figures["floor"]
    print(
        f"adoption of {figures['fills']:,} fills ({figures['executions']:,} executions) on "
        f"{args.engine}, {args.workers} workers"
    )
    print(f"{'':28}{'fills/s':>10}{'wall, s':>10}{'transactions':>14}")
    print(f"{'adopt (record_many)':28}{adopt['rate']:>10,.0f}{adopt['seconds']:>10.2f}")
    print(
        f"{'floor (raw TransactWrite)':28}{raw['rate']:>10,.0f}{raw['seconds']:>10.2f}"
        f"{raw['requests']:>14,}"
    )
    print(f"{'adopt / floor':28}{adopt['rate'] / raw['rate']:>10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
