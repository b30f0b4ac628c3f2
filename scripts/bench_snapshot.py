#!/usr/bin/env python3
"""Benchmark of the snapshot job: build time, DynamoDB cost and item size by ledger size.

Not a timed test: it prints figures for a human (or ``--json`` for a machine) and asserts
nothing about speed.

Usage::

    .venv/bin/python scripts/bench_snapshot.py [--sizes 1000,10000,100000]
        [--engine dynamodb-local|moto] [--endpoint-url URL] [--repeat N]
        [--fills-per-day N] [--threads N] [--max-size] [--json]

What one size measures
    A fresh table is seeded with N deterministic fills (``synthetic_history``: 12 symbols,
    6 strategies, one or two strategies per fill, ``--fills-per-day`` fills per trading day,
    sells never exceed what is held) with ``BatchWriteItem`` using the repository's own item
    mapping, plus the strategy registry. Seeding is timed separately and is not part of the
    measurement. A fake Alpaca server serves the account those fills leave behind
    (``FakeAccount.from_history``); it is given only the orders and activities within a week
    of the period, so its own linear filtering does not scale with the history (real Alpaca
    indexes by time). Then ``take_snapshot`` runs for the last trading day,
    ``[day 00:00Z, next day 00:00Z)``, ``--repeat`` times (the stored snapshot is deleted
    between runs, outside the measurement), and the snapshot is read back once with
    ``AccountSnapshotRepository.get`` plus ``snapshot_from_record`` (what the report step does).

How to read the figures
    * ``build+write`` is the wall time of ``take_snapshot`` (median of the runs).
      ``alpaca fetch``, ``ledger aggregation`` (of which ``ddb queries``: time inside the GSI3
      and registry Query requests) and ``write`` (the TransactWriteItems of header and chunks)
      are timed from the code's own X-Ray subsegment names; ``cpu rest`` is everything else:
      integrity checks, composing and validating the snapshot, canonical JSON and checksum
      (computed twice: by ``seal`` and by ``snapshot_record``), the store's re-hash and zlib.
    * DynamoDB requests are counted per operation by botocore hooks on the client PynamoDB
      uses (``after-call``); a Query page is one request. Consumed capacity is what DynamoDB
      returns with ``ReturnConsumedCapacity=INDEXES`` (set by a ``before-parameter-build``
      hook): read units for Query/GetItem, write units for TransactWriteItems (transactions
      cost double), GSI writes included. Only DynamoDB Local follows DynamoDB's capacity rules;
      moto's figures (Query always 1.0, nothing for transactions) are not meaningful, and
      DynamoDB Local 3.3.0 under-reports TransactWriteItems with several items (three 380 KB
      puts report the units of one): ``write units by DynamoDB's rule`` recomputes the
      transaction from the stored item sizes (2 units per started KB per item, plus GSI).
    * Sizes: ``canonical`` is the checksummed canonical JSON body, ``compressed`` its zlib
      level-9 form that the store keeps (inline up to 380,000 B, else in chunk items of
      380,000 B, at most 10: ``MAX_COMPRESSED_BYTES`` = 3,800,000). ``header item`` and
      ``all items`` are DynamoDB item sizes (attribute names + values, DynamoDB's rules) of the
      stored items; the item limit is 409,600 B.

``--max-size`` finds the largest snapshot that fits: it grows the number of fills (hence
Alpaca orders, FEE rows and open lots) in a one-day snapshot (1k, 2k, 5k, 10k, 20k, ...,
then interpolation on the compressed size), composing the Alpaca part directly from the fake
account's JSON (the real ``AlpacaSource`` would need n/500 order pages plus n/100
FILL-activity pages) and the ledger part with ``summarize_ledger``. It seals the snapshot,
``put``s it and reads it back with ``get`` (checksum and schema verified, compared with what
was written). The first failure (the store's ``LedgerValidationError`` above
``MAX_COMPRESSED_BYTES``, or the engine refusing the write) bounds the search. It also writes
incompressible bodies of exactly ``MAX_COMPRESSED_BYTES`` and one byte more through the
store, to show whether the engine itself accepts the store's limit.
Run it against DynamoDB Local: moto's size limits differ.

The default engine is DynamoDB Local (started with ``scripts/dynamodb_local.py`` and stopped
afterwards; ``--endpoint-url`` reuses a running one). Without Java or npm the script says why
and falls back to moto.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.util
import json
import math
import os
import random
import statistics
import sys
import time
import uuid
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # running from a checkout without the editable install
    sys.path.insert(0, str(ROOT))

from ledger_store.bootstrap import create_table, delete_table  # noqa: E402
from ledger_store.config import TableSettings  # noqa: E402
from ledger_store.errors import LedgerError  # noqa: E402
from ledger_store.metering import READ_OPERATIONS, DynamoMeter, DynamoUsage  # noqa: E402
from ledger_store.models import _CONNECTIONS  # noqa: E402
from ledger_store.snapshot_store import (  # noqa: E402
    MAX_COMPRESSED_BYTES,
    AccountSnapshotRepository,
    SnapshotRecord,
)
from ledger_store.trades import TradeLedgerRepository  # noqa: E402
from snapshots.demo import history  # noqa: E402
from snapshots.demo.history import all_fills, raw_client, seed_ledger  # noqa: E402
from snapshots.fake_alpaca.broker import (  # noqa: E402
    FakeAccount,
    TradingCycle,
)
from snapshots.fake_alpaca.server import DEFAULT_KEY_ID, DEFAULT_SECRET_KEY, running_fake_alpaca  # noqa: E402

REGION = "us-east-1"
DEFAULT_SIZES = (10_000, 100_000)
DEFAULT_FILLS_PER_DAY = 40
#: The last trading day of every benchmark history (a Friday, safely in the past).
LAST_DAY = date(2025, 6, 27)
#: The day of the max-size probes (a Tuesday: its fees post on Wednesday, see ``fee_window``).
MAX_SIZE_DAY = date(2025, 6, 24)
#: Fills per max-size probe before the bisection; it stops at the first failure.
MAX_SIZE_STEPS = (1_000, 2_000, 5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 320_000)
ITEM_LIMIT = 409_600

_NAMESPACE = uuid.UUID("5b7f3c2e-8a41-4c0d-9d1e-2f6a7b8c9d10")


def synthetic_history(trades: int, **options: Any) -> list[TradingCycle]:
    """``history.synthetic_history`` with the benchmark's defaults (12 symbols, 6 strategies)."""
    options.setdefault("fills_per_day", DEFAULT_FILLS_PER_DAY)
    options.setdefault("last_day", LAST_DAY)
    return history.synthetic_history(trades, **options)


def day_period(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def delete_snapshot_items(settings: TableSettings, account_id: str, period_end: datetime) -> None:
    """Remove a stored snapshot (header and chunks) so the next run writes it afresh."""
    from ledger_store import keys

    client = raw_client(settings)
    client.delete_item(
        TableName=settings.table_name,
        Key={"PK": {"S": keys.snapshot_pk(account_id)}, "SK": {"S": keys.snapshot_sk(period_end)}},
    )
    chunk_pk = keys.snapshot_chunk_pk(account_id, period_end)
    for item in raw_partition(client, settings.table_name, chunk_pk, keys_only=True):
        client.delete_item(TableName=settings.table_name, Key={"PK": item["PK"], "SK": item["SK"]})


def raw_partition(
    client: Any, table: str, pk: str, *, keys_only: bool = False
) -> list[dict[str, Any]]:
    extra = {"ProjectionExpression": "PK, SK"} if keys_only else {}
    pages = client.get_paginator("query").paginate(
        TableName=table,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
        ConsistentRead=True,
        **extra,
    )
    return [item for page in pages for item in page["Items"]]


def stored_item_sizes(
    settings: TableSettings, account_id: str, period_end: datetime
) -> tuple[int, list[int]]:
    """DynamoDB sizes of the stored snapshot's header item and of each chunk item."""
    from ledger_store import keys

    client = raw_client(settings)
    header = client.get_item(
        TableName=settings.table_name,
        Key={"PK": {"S": keys.snapshot_pk(account_id)}, "SK": {"S": keys.snapshot_sk(period_end)}},
        ConsistentRead=True,
    ).get("Item", {})
    chunks = raw_partition(
        client, settings.table_name, keys.snapshot_chunk_pk(account_id, period_end)
    )
    return item_size(header), [item_size(c) for c in chunks]


def item_size(item: Mapping[str, Any]) -> int:
    """An item's size by DynamoDB's rules: attribute names plus values (numbers approximated)."""
    return sum(len(name.encode("utf-8")) + _value_size(value) for name, value in item.items())


def _value_size(value: Mapping[str, Any]) -> int:
    ((kind, data),) = value.items()
    if kind == "S":
        return len(str(data).encode("utf-8"))
    if kind == "B":
        return len(data)
    if kind == "N":
        digits = str(data).lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode("utf-8")) + _value_size(v) + 1 for k, v in data.items())
    if kind == "L":
        return 3 + sum(_value_size(v) + 1 for v in data)
    if kind in ("SS", "NS", "BS"):
        return sum(_value_size({kind[0]: v}) for v in data)
    raise ValueError(f"unknown attribute type {kind}")


def transaction_write_units(
    header_bytes: int, chunk_bytes: Sequence[int], gsi_units: float
) -> float:
    """WCU of the snapshot's TransactWriteItems by DynamoDB's documented rule.

    Transactional writes cost 2 units per started KB of each item; the GSI share is taken as
    the engine reports it. Needed because DynamoDB Local 3.3.0 under-reports multi-item
    transactions (three 380 KB puts report what one costs).
    """
    return 2.0 * sum(math.ceil(size / 1024) for size in [header_bytes, *chunk_bytes]) + gsi_units


# Metering --------------------------------------------------------------------------------------


class PhaseTimer:
    """Times the code's own X-Ray subsegments by name (the tracing helper is swapped in)."""

    MODULES = (
        "snapshots.builder",
        "snapshots.alpaca.source",
        "ledger_store.storage",
        "ledger_store.snapshot_store",
    )

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.counts: Counter[str] = Counter()

    @contextlib.contextmanager
    def subsegment(self, name: str, **_: object) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - started
            self.counts[name] += 1

    @contextlib.contextmanager
    def installed(self) -> Iterator[PhaseTimer]:
        with contextlib.ExitStack() as stack:
            for name in self.MODULES:
                module = sys.modules.get(name) or importlib.import_module(name)
                if hasattr(module, "subsegment"):
                    stack.enter_context(mock.patch.object(module, "subsegment", self.subsegment))
            yield self


# One size ----------------------------------------------------------------------------------------


@dataclass
class SizeResult:
    trades: int
    attributions: int
    trading_days: int
    fills_per_day: int
    seed: dict[str, Any]
    repeat: int
    seconds: dict[str, float]
    phases: dict[str, float]
    dynamodb: dict[str, Any]
    alpaca_requests: dict[str, int]
    readback: dict[str, Any]
    snapshot: dict[str, Any]
    #: ``incremental`` (carried forward from the previous day's snapshot), ``full`` (forced
    #: rebuild): wall seconds, DynamoDB usage and how the ledger was read, per path.
    paths: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The least a snapshot of the day can read, in raw botocore, measured in the same run.
    floor: dict[str, Any] = field(default_factory=dict)
    #: The largest strategy's whole GSI3 partition: the library's read vs raw botocore paging.
    read_path: dict[str, Any] = field(default_factory=dict)
    #: Listing 30 stored snapshots: metadata (GSI5) vs bodies vs raw botocore on GSI5.
    listing: dict[str, Any] = field(default_factory=dict)
    #: The whole ledger read and folded vs the same pages read raw (``measure_full_read``).
    full_read: dict[str, Any] = field(default_factory=dict)


def fake_account_for_period(
    cycles: Sequence[TradingCycle], account_id: str, start: datetime, end: datetime
) -> FakeAccount:
    """The account the history leaves behind, keeping only the period's neighbourhood.

    Positions, cash and the equity series are those of the whole history; orders and
    activities outside ``[start - 7 days, end + 7 days)`` are dropped so the fake server's
    per-request filtering stays small (it scans every order on every page).
    """
    full = FakeAccount.from_history(cycles, account_id=account_id)
    low, high = start - timedelta(days=7), end + timedelta(days=7)
    return dataclasses.replace(
        full,
        orders=tuple(o for o in full.orders if low <= o.submitted_at < high),
        fill_activities=tuple(a for a in full.fill_activities if low <= a.created_at < high),
        fee_activities=tuple(a for a in full.fee_activities if low <= a.created_at < high),
    )


def bench_size(
    base: TableSettings,
    trades: int,
    *,
    repeat: int = 3,
    fills_per_day: int = DEFAULT_FILLS_PER_DAY,
    threads: int = 4,
    log: Callable[[str], None] = lambda _: None,
) -> SizeResult:
    """Seed a fresh table with ``trades`` fills and measure ``take_snapshot`` of the last day."""
    from snapshots.builder import take_snapshot
    from snapshots.records import snapshot_from_record
    from snapshots.schema import body_bytes

    settings = base.with_table(f"bench-snapshot-{trades}-{uuid.uuid4().hex[:8]}")
    account_id = history.synthetic_account_id(f"size-{trades}")
    create_table(settings)
    try:
        cycles = synthetic_history(trades, fills_per_day=fills_per_day, account_id=account_id)
        seeded = seed_ledger(settings, all_fills(cycles), threads=threads)
        log(
            f"  seeded {seeded.fills:,} fills ({seeded.items:,} items, "
            f"{seeded.requests:,} BatchWriteItem) in {seeded.seconds:.1f} s"
        )
        start, end = day_period(cycles[-1].start.date())
        account = fake_account_for_period(cycles, account_id, start, end)
        meter = DynamoMeter.for_settings(settings)
        ledger = TradeLedgerRepository(settings)
        store = AccountSnapshotRepository(settings)
        correlation_id = cycles[-1].correlation_id
        # The previous trading day's snapshot: the base the daily snapshot carries forward.
        base_start: datetime | None = None
        base_end: datetime | None = None
        if len(cycles) > 1:
            base_start, base_end = day_period(cycles[-2].start.date())
        totals: list[float] = []
        phase_runs: list[dict[str, float]] = []
        usage = DynamoUsage()
        alpaca_requests: dict[str, int] = {}
        outcome: Any = None
        paths: dict[str, dict[str, Any]] = {}
        incremental_usage = DynamoUsage()
        with running_fake_alpaca(account) as server, fake_source(server.base_url) as source:
            if base_start is not None and base_end is not None:
                base_account = fake_account_for_period(cycles, account_id, base_start, base_end)
                with (
                    running_fake_alpaca(base_account) as base_server,
                    fake_source(base_server.base_url) as base_source,
                ):
                    started = time.perf_counter()
                    take_snapshot(
                        account_id=account_id,
                        period_start=base_start,
                        period_end=base_end,
                        correlation_id=cycles[-2].correlation_id,
                        alpaca=base_source,
                        ledger=ledger,
                        store=store,
                        hmac_key=None,
                    )
                    log(
                        f"  base snapshot (previous day, full read): "
                        f"{time.perf_counter() - started:.2f} s"
                    )
            for path in ("incremental", "full"):
                runs: list[float] = []
                for run in range(repeat):
                    delete_snapshot_items(settings, account_id, end)
                    server.clear_requests()
                    timer = PhaseTimer()
                    with timer.installed(), meter.measure() as usage:
                        started = time.perf_counter()
                        outcome = take_snapshot(
                            account_id=account_id,
                            period_start=start,
                            period_end=end,
                            correlation_id=correlation_id,
                            alpaca=source,
                            ledger=ledger,
                            store=store,
                            hmac_key=None,
                            full_rebuild=path == "full",
                        )
                        runs.append(time.perf_counter() - started)
                    read = outcome.ledger_read
                    log(
                        f"  {path} run {run + 1}/{repeat}: {runs[-1]:.2f} s "
                        f"({read.path}: {read.attributions_read:,} attributions read)"
                    )
                    if path == "incremental":
                        incremental_usage = usage
                        totals.append(runs[-1])
                        phase_runs.append(_phases(timer, runs[-1]))
                        routes = Counter(_alpaca_route(r.path) for r in server.requests())
                        alpaca_requests = dict(sorted(routes.items()))
                paths[path] = {
                    "seconds": {
                        "median": statistics.median(runs),
                        "min": min(runs),
                        "max": max(runs),
                    },
                    "dynamodb": usage.as_dict(),
                    "ledger_read": read.model_dump(mode="json"),
                }
        floor = measure_floor(settings, account_id, start, end, base_end)
        read_path = measure_read_path(settings, ledger, account_id)
        full_read = measure_full_read(settings, ledger, account_id, start, end, repeat)
        log(
            f"  full read: {full_read['library']['seconds']:.2f} s (floors: raw botocore "
            f"{full_read['raw botocore']['seconds']:.2f} s, raw JSON "
            f"{full_read['raw JSON']['seconds']:.2f} s)"
        )
        snapshot = outcome.snapshot
        with meter.measure() as read_usage:
            started = time.perf_counter()
            stored = store.get(account_id, end)
            loaded = snapshot_from_record(stored.record, None)
            read_seconds = time.perf_counter() - started
        if loaded != snapshot:
            raise RuntimeError("the snapshot read back differs from the one written")
        body = body_bytes(snapshot)
        started = time.perf_counter()
        compressed = zlib.compress(body, 9)
        zlib_seconds = time.perf_counter() - started
        header_size, chunk_sizes = stored_item_sizes(settings, account_id, end)
        listing = measure_listing(settings, stored.record)
        ledger_view = snapshot.internal_ledger
        checks = Counter(str(c.status) for c in snapshot.integrity_checks)
        phases = {
            name: statistics.median(run[name] for run in phase_runs) for name in phase_runs[0]
        }
        phases["of which zlib -9"] = zlib_seconds
        return SizeResult(
            trades=trades,
            attributions=seeded.attributions,
            trading_days=len(cycles),
            fills_per_day=fills_per_day,
            seed=dataclasses.asdict(seeded),
            repeat=repeat,
            seconds={
                "median": statistics.median(totals),
                "min": min(totals),
                "max": max(totals),
            },
            phases=phases,
            dynamodb=incremental_usage.as_dict(),
            alpaca_requests=alpaca_requests,
            readback={"seconds": read_seconds, **read_usage.as_dict()},
            paths=paths,
            floor=floor,
            read_path=read_path,
            full_read=full_read,
            listing=listing,
            snapshot={
                "status": outcome.status,
                "orders": len(snapshot.alpaca_orders),
                "positions": len(snapshot.alpaca_positions),
                "fees": len(snapshot.alpaca_fees),
                "equity_points": len(snapshot.equity_series),
                "strategies": len(ledger_view.strategy_performance),
                "strategies_active": len(ledger_view.strategies_active),
                "period_trades": ledger_view.total_trades,
                "open_lots": sum(
                    len(p.open_lots) for p in ledger_view.strategy_performance.values()
                ),
                "integrity_checks": dict(sorted(checks.items())),
                "canonical_bytes": len(body),
                "compressed_bytes": len(compressed),
                "stored_compressed_bytes": stored.compressed_size,
                "chunks": stored.chunk_count,
                "header_item_bytes": header_size,
                "largest_chunk_item_bytes": max(chunk_sizes, default=0),
                "all_items_bytes": header_size + sum(chunk_sizes),
                "write_units_by_rule": transaction_write_units(
                    header_size, chunk_sizes, usage.write_gsi_units
                ),
            },
        )
    finally:
        with contextlib.suppress(Exception):
            delete_table(settings)
        _CONNECTIONS.pop(settings, None)


def fake_source(base_url: str) -> Any:
    """The real ``AlpacaSource`` (alpaca-py) on the fake server, with generous time limits."""
    from snapshots.alpaca.source import AlpacaSource, RetryPolicy

    return AlpacaSource(
        api_key=DEFAULT_KEY_ID,
        secret_key=DEFAULT_SECRET_KEY,
        base_url=base_url,
        retry=RetryPolicy(deadline=600.0, request_timeout=120.0),
        environ={},
    )


def measure_floor(
    settings: TableSettings,
    account_id: str,
    start: datetime,
    end: datetime,
    base_end: datetime | None,
    repeat: int = 3,
) -> dict[str, Any]:
    """The least any snapshot of ``[start, end)`` must read, in raw botocore: the registry
    (one Query), the day's attributions of every strategy (one GSI3 Query each, only the
    attributes the ledger uses) and the previous snapshot's header item (one GetItem).
    Metered like the library (``DynamoMeter`` on this client), best of ``repeat``."""
    from ledger_store import keys

    client = raw_client(settings)
    meter = DynamoMeter(client)
    table = settings.table_name
    best: tuple[float, DynamoUsage] | None = None
    for _ in range(repeat):
        with meter.measure() as usage:
            started = time.perf_counter()
            registry = raw_query(
                client,
                TableName=table,
                KeyConditionExpression="PK = :pk AND begins_with(SK, :s)",
                ExpressionAttributeValues={
                    ":pk": {"S": keys.account_pk(account_id)},
                    ":s": {"S": "STRATEGY#"},
                },
            )
            for item in registry:
                strategy = item["strategy"]["S"]
                raw_query(
                    client,
                    TableName=table,
                    IndexName="GSI3",
                    KeyConditionExpression="GSI3PK = :pk AND GSI3SK BETWEEN :a AND :b",
                    ExpressionAttributeValues={
                        ":pk": {"S": keys.account_strategy_pk(account_id, strategy)},
                        ":a": {"S": keys.trade_event_prefix(start)},
                        ":b": {"S": keys.trade_event_prefix(end)},
                    },
                )
            if base_end is not None:
                client.get_item(
                    TableName=table,
                    Key={
                        "PK": {"S": keys.snapshot_pk(account_id)},
                        "SK": {"S": keys.snapshot_sk(base_end)},
                    },
                )
            seconds = time.perf_counter() - started
        if best is None or seconds < best[0]:
            best = (seconds, usage)
    assert best is not None
    return {"seconds": best[0], "dynamodb": best[1].as_dict()}


def measure_listing(
    settings: TableSettings, record: SnapshotRecord, count: int = 30, repeat: int = 5
) -> dict[str, Any]:
    """``count`` daily snapshots of another account (the day's body under other keys), listed
    three ways, medians: ``summaries`` (GSI5, metadata), ``range`` (every body read, inflated
    and checksummed: what ``snapshot list --verify`` reads before parsing) and raw botocore
    paging of the same GSI5 Query (the floor)."""
    from ledger_store import keys

    account_id = history.synthetic_account_id("listing")
    store = AccountSnapshotRepository(settings)
    for n in range(count):
        end = record.period_end + timedelta(days=n + 1)
        store.put(
            record.model_copy(
                update={
                    "account_id": account_id,
                    "period_start": end - timedelta(days=1),
                    "period_end": end,
                    "snapshot_id": str(uuid.uuid5(_NAMESPACE, f"listing|{end.isoformat()}")),
                }
            )
        )
    client = raw_client(settings)
    meters = {"library": DynamoMeter.for_settings(settings), "raw": DynamoMeter(client)}
    readers: dict[str, tuple[str, Callable[[], int]]] = {
        "summaries (GSI5)": ("library", lambda: len(list(store.summaries(account_id)))),
        "range (bodies)": ("library", lambda: len(list(store.range(account_id)))),
        "raw botocore (GSI5)": (
            "raw",
            lambda: len(
                raw_query(
                    client,
                    TableName=settings.table_name,
                    IndexName="GSI5",
                    KeyConditionExpression="account_id = :a",
                    ExpressionAttributeValues={":a": {"S": account_id}},
                    ScanIndexForward=False,
                )
            ),
        ),
    }
    results: dict[str, Any] = {"snapshots": count, "pk": keys.snapshot_pk(account_id)}
    for name, (meter_name, read) in readers.items():
        read()
        runs = []
        for _ in range(repeat):
            with meters[meter_name].measure() as usage:
                started = time.perf_counter()
                if read() != count:
                    raise RuntimeError(f"{name} did not list {count} snapshots")
                runs.append(time.perf_counter() - started)
        results[name] = {"seconds": statistics.median(runs), **usage.as_dict()}
    return results


def raw_query(client: Any, **params: Any) -> list[dict[str, Any]]:
    """Every item of a Query, following ``LastEvaluatedKey``."""
    items: list[dict[str, Any]] = []
    for page in client.get_paginator("query").paginate(**params):
        items.extend(page["Items"])
    return items


def measure_read_path(
    settings: TableSettings, ledger: TradeLedgerRepository, account_id: str, repeat: int = 5
) -> dict[str, Any]:
    """The largest strategy's whole GSI3 partition read by ``attributions_by_strategy``
    against raw botocore paging of the same Query (all attributes, as a plain client
    returns them, and with the library's projection), interleaved, medians."""
    from ledger_store import keys
    from ledger_store.trades import _ATTRIBUTION_READ

    largest = max(ledger.strategies(account_id), key=lambda r: r.trade_count)
    client = raw_client(settings)
    base_params: dict[str, Any] = {
        "TableName": settings.table_name,
        "IndexName": "GSI3",
        "KeyConditionExpression": "GSI3PK = :pk",
        "ExpressionAttributeValues": {
            ":pk": {"S": keys.account_strategy_pk(account_id, largest.strategy)}
        },
    }
    projected = {
        **base_params,
        "ProjectionExpression": ", ".join(f"#a{i}" for i in range(len(_ATTRIBUTION_READ))),
        "ExpressionAttributeNames": {f"#a{i}": a for i, a in enumerate(_ATTRIBUTION_READ)},
    }
    readers: dict[str, Callable[[], int]] = {
        "library": lambda: sum(
            1 for _ in ledger.attributions_by_strategy(account_id, largest.strategy)
        ),
        "raw botocore": lambda: len(raw_query(client, **base_params)),
        "raw botocore, same projection": lambda: len(raw_query(client, **projected)),
    }
    for read in readers.values():
        read()  # warm up connections and caches
    seconds: dict[str, list[float]] = defaultdict(list)
    counts: dict[str, int] = {}
    for _ in range(repeat):
        for name, read in readers.items():
            started = time.perf_counter()
            counts[name] = read()
            seconds[name].append(time.perf_counter() - started)
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    return {
        "strategy": largest.strategy,
        "items": counts["library"],
        "seconds": medians,
        "ratio": medians["library"] / medians["raw botocore"],
        "ratio_same_projection": medians["library"] / medians["raw botocore, same projection"],
    }


def measure_full_read(
    settings: TableSettings,
    ledger: TradeLedgerRepository,
    account_id: str,
    start: datetime,
    end: datetime,
    repeat: int = 3,
) -> dict[str, Any]:
    """The whole ledger read and folded (``read_account`` without a base: what adoption and
    every repair cost) beside what reading the same pages costs with nothing done to them.

    Floors, measured in the same run on a raw client: every strategy's whole GSI3 partition
    with the library's projection and page size, the strategies read by as many threads as
    the library uses, (1) parsed by botocore, (2) taken as JSON (``paging.raw_items``: the
    least any reader over HTTP does); and, to show why pages are sized, (1) without a page
    size, which on DynamoDB Local costs more with every page (it evaluates the rest of the
    partition each time). Medians of ``repeat``; wall and this process's CPU seconds."""
    from concurrent.futures import ThreadPoolExecutor

    from ledger_store import keys, paging
    from ledger_store.events import AccountEventRepository
    from ledger_store.trades import _ATTRIBUTION_READ
    from snapshots.ledger.summary import READ_THREADS, read_account

    events = AccountEventRepository(settings)
    strategies = [r.strategy for r in ledger.strategies(account_id)]
    client = raw_client(settings)
    meter = DynamoMeter(client)
    library_meter = DynamoMeter.for_settings(settings)

    def partition(strategy: str, *, sized: bool, raw: bool) -> int:
        params: dict[str, Any] = {
            "TableName": settings.table_name,
            "IndexName": "GSI3",
            "KeyConditionExpression": "GSI3PK = :pk",
            "ExpressionAttributeValues": {
                ":pk": {"S": keys.account_strategy_pk(account_id, strategy)}
            },
            "ProjectionExpression": ", ".join(f"#a{i}" for i in range(len(_ATTRIBUTION_READ))),
            "ExpressionAttributeNames": {f"#a{i}": a for i, a in enumerate(_ATTRIBUTION_READ)},
        }
        if sized:
            params["Limit"] = paging.QUERY_PAGE_ITEMS
        with paging.raw_items() if raw else contextlib.nullcontext():
            return len(raw_query(client, **params))

    def floor(*, sized: bool = True, raw: bool = False) -> int:
        with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
            return sum(pool.map(lambda s: partition(s, sized=sized, raw=raw), strategies))

    def library() -> int:
        read = read_account(ledger, events, account_id, start, end, prices={})
        if read.read.path != "full":
            raise RuntimeError("read_account without a base did not read everything")
        return read.read.attributions_read

    paging.install(client)  # raw_items() acts only through the handler
    readers: dict[str, Callable[[], int]] = {
        "library": library,
        "raw botocore": floor,
        "raw JSON": lambda: floor(raw=True),
        "raw botocore, no page size": lambda: floor(sized=False),
    }
    results: dict[str, Any] = {}
    counts = {name: read() for name, read in readers.items()}  # warm up
    if len(set(counts.values())) != 1:
        raise RuntimeError(f"the readers read different numbers of attributions: {counts}")
    for name, read in readers.items():
        usage_meter = library_meter if name == "library" else meter
        walls: list[float] = []
        cpus: list[float] = []
        for _ in range(repeat):
            with usage_meter.measure() as usage:
                started, cpu = time.perf_counter(), time.process_time()
                read()
                walls.append(time.perf_counter() - started)
                cpus.append(time.process_time() - cpu)
        results[name] = {
            "seconds": statistics.median(walls),
            "cpu_seconds": statistics.median(cpus),
            "read_requests": _reads(usage.as_dict()),
            "read_units": usage.as_dict()["read_units"],
        }
    return {"attributions": counts["library"], "strategies": len(strategies), **results}


def bench_import(base: TableSettings, fills: int, log: Callable[[str], None]) -> dict[str, Any]:
    """``record_many`` with the default pool into a fresh table, then the same fills again."""
    from ledger_store.trades import DEFAULT_WORKERS

    settings = base.with_table(f"bench-import-{uuid.uuid4().hex[:8]}")
    account_id = history.synthetic_account_id("import")
    create_table(settings)
    try:
        batch = all_fills(synthetic_history(fills, account_id=account_id))
        ledger = TradeLedgerRepository(settings)
        meter = DynamoMeter.for_settings(settings)
        results: dict[str, Any] = {"fills": len(batch), "workers": DEFAULT_WORKERS}
        for label in ("first import", "re-import"):
            with meter.measure() as usage:
                started = time.perf_counter()
                outcome = ledger.record_many(batch)
                seconds = time.perf_counter() - started
            errors = [r for r in outcome if isinstance(r, LedgerError)]
            if errors:
                raise RuntimeError(f"{label}: {errors[0]}")
            results[label] = {
                "seconds": seconds,
                "fills_per_second": len(batch) / seconds,
                **usage.as_dict(),
            }
            log(f"  {label}: {len(batch) / seconds:,.0f} fills/s")
        return results
    finally:
        with contextlib.suppress(Exception):
            delete_table(settings)
        _CONNECTIONS.pop(settings, None)


def _phases(timer: PhaseTimer, total: float) -> dict[str, float]:
    fetch = timer.seconds.get("snapshot.alpaca_fetch", 0.0)
    aggregation = timer.seconds.get("snapshot.ledger_aggregation", 0.0)
    queries = timer.seconds.get("ledger.query", 0.0)
    write = timer.seconds.get("ledger.snapshot_write", 0.0)
    return {
        "alpaca fetch": fetch,
        "ledger aggregation": aggregation,
        "of which ddb queries": queries,
        "write": write,
        "cpu rest": max(total - fetch - aggregation - write, 0.0),
    }


def _alpaca_route(path: str) -> str:
    if path.startswith("/v2/orders/"):
        return "/v2/orders/{id}"
    return path


# Largest snapshot that fits ---------------------------------------------------------------------


@dataclass
class Probe:
    fills: int
    orders: int
    fees: int
    open_lots: int
    canonical_bytes: int
    compressed_bytes: int
    chunks: int
    ok: bool
    build_seconds: float = 0.0
    put_seconds: float = 0.0
    get_seconds: float = 0.0
    write_units: float = 0.0
    write_units_by_rule: float = 0.0
    read_units: float = 0.0
    largest_item_bytes: int = 0
    error: str | None = None


@dataclass
class MaxSizeResult:
    limit_compressed_bytes: int
    largest: Probe | None
    first_failure: Probe | None
    probes: list[Probe]
    at_limit: dict[str, Any]


def compose_probe_snapshot(fills: int, account_id: str) -> Any:
    """A sealed one-day snapshot with ``fills`` fills, built without Alpaca or DynamoDB."""
    from snapshots.alpaca.models import (
        AlpacaAccount,
        AlpacaData,
        AlpacaOrder,
        AlpacaPosition,
        FeeActivity,
        equity_points_from_api,
    )
    from snapshots.alpaca.source import fee_window
    from snapshots.integrity import run_integrity_checks
    from snapshots.ledger.metrics import summarize_ledger
    from snapshots.schema import compose_snapshot, seal

    cycles = synthetic_history(
        fills, fills_per_day=fills, last_day=MAX_SIZE_DAY, account_id=account_id
    )
    start, end = day_period(MAX_SIZE_DAY)
    fee_start, fee_end = fee_window(start, end, timedelta(days=1))
    fake = FakeAccount.from_history(cycles, account_id=account_id)
    equity_raw = {
        "timestamp": [int(p.timestamp.timestamp()) for p in fake.equity_series],
        "equity": [float(p.equity) for p in fake.equity_series],
        "profit_loss": [float(p.profit_loss) for p in fake.equity_series],
        "profit_loss_pct": [
            None if p.profit_loss_pct is None else float(p.profit_loss_pct)
            for p in fake.equity_series
        ],
    }
    data = AlpacaData(
        period_start=start,
        period_end=end,
        fee_window_start=fee_start,
        fee_window_end=fee_end,
        account=AlpacaAccount.from_api(fake.account_json()),
        positions=tuple(AlpacaPosition.from_api(p.to_json()) for p in fake.positions),
        orders=tuple(AlpacaOrder.from_api(o.to_json()) for o in fake.orders),
        fees=tuple(
            FeeActivity.from_api(a.to_json())
            for a in fake.fee_activities
            if fee_start <= a.created_at < fee_end
        ),
        filled_order_ids=tuple(
            str(a.fields["order_id"]) for a in fake.fill_activities if start <= a.created_at < end
        ),
        equity=tuple(p for p in equity_points_from_api(equity_raw) if start <= p.timestamp < end),
    )
    view = summarize_ledger(
        [a for fill in all_fills(cycles) for a in fill.attributions()],
        account_id=account_id,
        period_start=start,
        period_end=end,
        ledger_id="bench-max-size",
    )
    body = compose_snapshot(
        account_id=account_id,
        period_start=start,
        period_end=end,
        correlation_id=cycles[-1].correlation_id,
        alpaca=data,
        internal_ledger=view.internal_ledger,
        integrity_checks=run_integrity_checks(data, view, None),
    )
    return seal(body, None)


def run_probe(
    settings: TableSettings, store: AccountSnapshotRepository, meter: DynamoMeter, fills: int
) -> Probe:
    """Compose, seal, put and read back a one-day snapshot of ``fills`` fills."""
    from snapshots.records import snapshot_from_record, snapshot_record

    account_id = history.synthetic_account_id(f"max-{fills}")
    started = time.perf_counter()
    snapshot = compose_probe_snapshot(fills, account_id)
    record = snapshot_record(snapshot)
    build_seconds = time.perf_counter() - started
    compressed = len(zlib.compress(record.body, 9))
    probe = Probe(
        fills=fills,
        orders=len(snapshot.alpaca_orders),
        fees=len(snapshot.alpaca_fees),
        open_lots=sum(
            len(p.open_lots) for p in snapshot.internal_ledger.strategy_performance.values()
        ),
        canonical_bytes=len(record.body),
        compressed_bytes=compressed,
        chunks=0,
        ok=False,
        build_seconds=build_seconds,
    )
    try:
        with meter.measure() as put_usage:
            started = time.perf_counter()
            result = store.put(record)
            probe.put_seconds = time.perf_counter() - started
        with meter.measure() as get_usage:
            started = time.perf_counter()
            stored = store.get(account_id, snapshot.period_end)
            loaded = snapshot_from_record(stored.record, None)
            probe.get_seconds = time.perf_counter() - started
    except LedgerError as exc:
        probe.error = f"{type(exc).__name__}: {exc}"
        return probe
    probe.chunks = result.snapshot.chunk_count
    probe.write_units = put_usage.write_units
    probe.read_units = get_usage.read_units
    header_size, chunk_sizes = stored_item_sizes(settings, account_id, snapshot.period_end)
    probe.largest_item_bytes = max([header_size, *chunk_sizes])
    probe.write_units_by_rule = transaction_write_units(
        header_size, chunk_sizes, put_usage.write_gsi_units
    )
    if loaded != snapshot or stored.record != record:
        probe.error = "read back differs from what was written"
        return probe
    probe.ok = True
    return probe


def limit_check(store: AccountSnapshotRepository, settings: TableSettings) -> dict[str, Any]:
    """Store incompressible bodies of exactly ``MAX_COMPRESSED_BYTES`` and one byte more."""
    import hashlib

    rng = random.Random(42)
    size = MAX_COMPRESSED_BYTES
    body = rng.randbytes(size)
    while len(zlib.compress(body, 9)) > MAX_COMPRESSED_BYTES:
        size -= len(zlib.compress(body, 9)) - MAX_COMPRESSED_BYTES
        body = body[:size]
    outcome: dict[str, Any] = {}
    for label, payload in (("at_limit", body), ("limit_plus_1", body + b"\x00")):
        period_end = datetime(2025, 1, 2, tzinfo=UTC) + timedelta(days=len(outcome))
        record = SnapshotRecord(
            account_id="bench-limit",
            period_start=period_end - timedelta(days=1),
            period_end=period_end,
            snapshot_id=str(uuid.uuid5(_NAMESPACE, f"limit:{label}")),
            snapshot_version="1.0",
            correlation_id=f"bench-{label}",
            checksum=hashlib.sha256(payload).hexdigest(),
            checksum_algorithm="sha256",
            body=payload,
        )
        compressed = len(zlib.compress(payload, 9))
        try:
            result = store.put(record)
            back = store.get(record.account_id, period_end)
            sizes = stored_item_sizes(settings, record.account_id, period_end)
            outcome[label] = {
                "compressed_bytes": compressed,
                "stored": back.record == record,
                "chunks": result.snapshot.chunk_count,
                "largest_item_bytes": max([sizes[0], *sizes[1]]),
                "all_items_bytes": sizes[0] + sum(sizes[1]),
            }
        except LedgerError as exc:
            outcome[label] = {
                "compressed_bytes": compressed,
                "stored": False,
                "error": f"{type(exc).__name__}: {exc}",
            }
    return outcome


def find_max_size(
    base: TableSettings,
    *,
    steps: Sequence[int] = MAX_SIZE_STEPS,
    resolution: float = 0.005,
    log: Callable[[str], None] = lambda _: None,
) -> MaxSizeResult:
    """Grow a one-day snapshot until it no longer stores; bisect to ``resolution``."""
    settings = base.with_table(f"bench-snapshot-max-{uuid.uuid4().hex[:8]}")
    create_table(settings)
    try:
        store = AccountSnapshotRepository(settings)
        meter = DynamoMeter.for_settings(settings)
        probes: list[Probe] = []

        def attempt(fills: int) -> Probe:
            probe = run_probe(settings, store, meter, fills)
            probes.append(probe)
            state = "stored" if probe.ok else f"FAILED ({probe.error})"
            log(
                f"  {fills:>7,} fills: {probe.orders:,} orders, canonical "
                f"{probe.canonical_bytes:,} B, compressed {probe.compressed_bytes:,} B: {state}"
            )
            return probe

        best: Probe | None = None
        failure: Probe | None = None
        for fills in steps:
            probe = attempt(fills)
            if not probe.ok:
                failure = probe
                break
            best = probe
        if failure is not None:
            low = best.fills if best is not None else 0
            high = failure.fills
            while high - low > max(50, int(low * resolution)):
                middle = _next_guess(best, failure, low, high)
                probe = attempt(middle)
                if probe.ok:
                    best, low = probe, middle
                else:
                    failure, high = probe, middle
        log("  limit check: incompressible bodies at MAX_COMPRESSED_BYTES and one byte more")
        at_limit = limit_check(store, settings)
        return MaxSizeResult(
            limit_compressed_bytes=MAX_COMPRESSED_BYTES,
            largest=best,
            first_failure=failure,
            probes=probes,
            at_limit=at_limit,
        )
    finally:
        with contextlib.suppress(Exception):
            delete_table(settings)
        _CONNECTIONS.pop(settings, None)


def _next_guess(best: Probe | None, failure: Probe, low: int, high: int) -> int:
    """Interpolate on compressed bytes when the failure was the size limit, else bisect."""
    middle = (low + high) // 2
    if best is None or failure.compressed_bytes <= MAX_COMPRESSED_BYTES:
        return middle
    span = failure.compressed_bytes - best.compressed_bytes
    if span <= 0:
        return middle
    guess = low + int((high - low) * (MAX_COMPRESSED_BYTES - best.compressed_bytes) / span)
    return min(max(guess, low + 1), high - 1)


# Engines ----------------------------------------------------------------------------------------


def _load_dynamodb_local() -> ModuleType:
    path = ROOT / "scripts" / "dynamodb_local.py"
    spec = importlib.util.spec_from_file_location("_bench_dynamodb_local", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def engine_settings(
    engine: str, endpoint_url: str | None, log: Callable[[str], None]
) -> Iterator[tuple[str, TableSettings]]:
    """Base settings (region, endpoint) for the engine; the engine runs for the block."""
    if engine == "moto":
        from ledger_store.embedded import embedded_aws

        with embedded_aws(REGION):
            yield "moto", TableSettings(table_name="bench-snapshot", region=REGION)
        return
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
        ("AWS_REGION", REGION),
    ):
        os.environ.setdefault(name, value)
    if endpoint_url:
        yield (
            "dynamodb-local",
            TableSettings(table_name="bench-snapshot", region=REGION, endpoint_url=endpoint_url),
        )
        return
    ddb_local = _load_dynamodb_local()
    try:
        running = ddb_local.start()
    except ddb_local.EngineUnavailable as exc:
        log(
            f"DynamoDB Local is unavailable ({exc}).\n"
            "Falling back to moto: its ConsumedCapacity figures are NOT meaningful "
            "(Query always 1.0, transactions report nothing) and its size limits differ."
        )
        with engine_settings("moto", None, log) as fallback:
            yield fallback
        return
    log(f"DynamoDB Local {ddb_local.ENGINE_VERSION} at {running.endpoint_url}")
    try:
        yield (
            "dynamodb-local",
            TableSettings(
                table_name="bench-snapshot", region=REGION, endpoint_url=running.endpoint_url
            ),
        )
    finally:
        ddb_local.stop(running)


# Report ------------------------------------------------------------------------------------------


def _num(value: float, places: int = 0) -> str:
    return f"{value:,.{places}f}"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = [
        "  ".join(
            h.ljust(w) if i == 0 else h.rjust(w)
            for i, (h, w) in enumerate(zip(headers, widths, strict=True))
        )
    ]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    return "\n".join(lines)


def format_sizes(results: Sequence[SizeResult], engine: str) -> str:
    cols = [f"{r.trades:,} trades" for r in results]
    rows: list[list[str]] = []

    def row(label: str, values: Sequence[str]) -> None:
        rows.append([label, *values])

    row("attributions (GSI3 items)", [_num(r.attributions) for r in results])
    row("trading days", [_num(r.trading_days) for r in results])
    row("seeding (not measured), s", [_num(r.seed["seconds"], 1) for r in results])
    row(
        f"(a) build+write, s (median of {results[0].repeat})",
        [_num(r.seconds["median"], 3) for r in results],
    )
    row("  min / max, s", [f"{r.seconds['min']:.3f} / {r.seconds['max']:.3f}" for r in results])
    for phase in results[0].phases:
        row(f"  {phase}, s", [_num(r.phases.get(phase, 0.0), 3) for r in results])
    row("DynamoDB requests", [_num(r.dynamodb["total_requests"]) for r in results])
    operations = sorted({op for r in results for op in r.dynamodb["requests"]})
    for op in operations:
        row(f"  {op}", [_num(r.dynamodb["requests"].get(op, 0)) for r in results])
    row("read units (RCU)", [_num(r.dynamodb["read_units"], 1) for r in results])
    row("write units (WCU)", [_num(r.dynamodb["write_units"], 1) for r in results])
    row("Alpaca requests", [_num(sum(r.alpaca_requests.values())) for r in results])
    row("read back (get+verify), s", [_num(r.readback["seconds"], 3) for r in results])
    row("  read back requests", [_num(r.readback["total_requests"]) for r in results])
    row("  read back RCU", [_num(r.readback["read_units"], 1) for r in results])
    snap = [r.snapshot for r in results]
    row("snapshot orders", [_num(s["orders"]) for s in snap])
    row(
        "  positions / fees / equity pts",
        [f"{s['positions']} / {s['fees']} / {s['equity_points']}" for s in snap],
    )
    row("  strategies (active)", [f"{s['strategies']} ({s['strategies_active']})" for s in snap])
    row("  open lots", [_num(s["open_lots"]) for s in snap])
    row(
        "  integrity checks",
        [" ".join(f"{k}={v}" for k, v in s["integrity_checks"].items()) for s in snap],
    )
    row("canonical body, B", [_num(s["canonical_bytes"]) for s in snap])
    row("compressed (zlib -9), B", [_num(s["compressed_bytes"]) for s in snap])
    row("chunks", [_num(s["chunks"]) for s in snap])
    row("header item, B", [_num(s["header_item_bytes"]) for s in snap])
    row("all items, B", [_num(s["all_items_bytes"]) for s in snap])
    row(
        "write units by DynamoDB's rule",
        [_num(s.get("write_units_by_rule", 0.0), 1) for s in snap],
    )
    title = f"Snapshot benchmark on {engine} (period: last trading day; path (a))"
    note = "\n(moto: capacity figures are not meaningful)" if engine == "moto" else ""
    return f"{title}\n\n{_table(['', *cols], rows)}{note}"


def _reads(usage: Mapping[str, Any]) -> int:
    return sum(n for op, n in usage["requests"].items() if op in READ_OPERATIONS)


def format_paths(results: Sequence[SizeResult], engine: str) -> str:
    """(a) carried forward vs (b) full rebuild vs (c) the floor, side by side, with ratios."""
    cols = [f"{r.trades:,} trades" for r in results]
    rows: list[list[str]] = []

    def row(label: str, values: Sequence[str]) -> None:
        rows.append([label, *values])

    def ratio(a: float, b: float) -> str:
        return f"{a / b:,.1f}x" if b else "-"

    row("attributions in the ledger", [_num(r.attributions) for r in results])
    for key, label in (("incremental", "(a) carried forward"), ("full", "(b) full rebuild")):
        got = [r.paths[key] for r in results]
        row(f"{label}: wall, s (median)", [_num(p["seconds"]["median"], 3) for p in got])
        row(
            "  attributions / events read",
            [
                f"{p['ledger_read']['attributions_read']:,} / {p['ledger_read']['events_read']:,}"
                for p in got
            ],
        )
        row("  read requests", [_num(_reads(p["dynamodb"])) for p in got])
        row("  read units (RCU)", [_num(p["dynamodb"]["read_units"], 1) for p in got])
        row(
            "  write requests / WCU",
            [
                f"{p['dynamodb']['total_requests'] - _reads(p['dynamodb'])} / "
                f"{p['dynamodb']['write_units']:.1f}"
                for p in got
            ],
        )
    row("(c) floor (raw botocore): wall, s", [_num(r.floor["seconds"], 3) for r in results])
    row("  read requests", [_num(_reads(r.floor["dynamodb"])) for r in results])
    row("  read units (RCU)", [_num(r.floor["dynamodb"]["read_units"], 1) for r in results])
    row(
        "RCU (b) / (a)",
        [
            ratio(
                r.paths["full"]["dynamodb"]["read_units"],
                r.paths["incremental"]["dynamodb"]["read_units"],
            )
            for r in results
        ],
    )
    row(
        "read requests (a) / (c)",
        [
            ratio(_reads(r.paths["incremental"]["dynamodb"]), _reads(r.floor["dynamodb"]))
            for r in results
        ],
    )
    row(
        "RCU (a) / (c)",
        [
            ratio(
                r.paths["incremental"]["dynamodb"]["read_units"], r.floor["dynamodb"]["read_units"]
            )
            for r in results
        ],
    )
    row(
        "wall (b) / (a)",
        [
            ratio(r.paths["full"]["seconds"]["median"], r.paths["incremental"]["seconds"]["median"])
            for r in results
        ],
    )
    row("read path: GSI3 items (largest strategy)", [_num(r.read_path["items"]) for r in results])
    row("  library, s", [_num(r.read_path["seconds"]["library"], 3) for r in results])
    row("  raw botocore, s", [_num(r.read_path["seconds"]["raw botocore"], 3) for r in results])
    row(
        "  raw, same projection, s",
        [_num(r.read_path["seconds"]["raw botocore, same projection"], 3) for r in results],
    )
    row("  library / raw", [f"{r.read_path['ratio']:.2f}x" for r in results])
    row(
        "  library / raw same projection",
        [f"{r.read_path['ratio_same_projection']:.2f}x" for r in results],
    )
    full = [r.full_read for r in results]
    row("full ledger read (read_account, no base)", [_num(f["attributions"]) for f in full])
    for name, label in (
        ("library", "  read and folded: wall / CPU, s"),
        ("raw botocore", "  floor, raw botocore: wall / CPU, s"),
        ("raw JSON", "  floor, raw JSON: wall / CPU, s"),
    ):
        row(label, [f"{f[name]['seconds']:.2f} / {f[name]['cpu_seconds']:.2f}" for f in full])
    row(
        "  read requests / RCU (library, floors)",
        [
            f"{f['library']['read_requests']:,} / {f['library']['read_units']:,.0f}, "
            f"{f['raw botocore']['read_requests']:,} / {f['raw botocore']['read_units']:,.0f}"
            for f in full
        ],
    )
    row(
        "  library per 1,000 attributions, ms",
        [_num(f["library"]["seconds"] / f["attributions"] * 1e6) for f in full],
    )
    row(
        "  library / raw botocore",
        [ratio(f["library"]["seconds"], f["raw botocore"]["seconds"]) for f in full],
    )
    row(
        "  raw botocore without a page size, s",
        [_num(f["raw botocore, no page size"]["seconds"], 2) for f in full],
    )
    for name in ("summaries (GSI5)", "range (bodies)", "raw botocore (GSI5)"):
        row(
            f"list {results[0].listing['snapshots']} snapshots: {name}",
            [
                f"{r.listing[name]['seconds'] * 1000:,.0f} ms, "
                f"{r.listing[name]['total_requests']} req, "
                f"{r.listing[name]['read_units']:.1f} RCU"
                for r in results
            ],
        )
    title = (
        f"Daily snapshot on {engine}: (a) carried forward from the previous day's snapshot, "
        "(b) forced full rebuild, (c) the floor: the day's attributions + the registry + the "
        "previous snapshot, read with raw botocore in the same run"
    )
    note = "\n(moto: capacity figures are not meaningful)" if engine == "moto" else ""
    return f"{title}\n\n{_table(['', *cols], rows)}{note}"


def format_import(result: Mapping[str, Any], engine: str) -> str:
    rows = []
    for label in ("first import", "re-import"):
        got = result[label]
        rows.append(
            [
                label,
                _num(got["fills_per_second"]),
                _num(got["seconds"], 2),
                " ".join(f"{op}={n}" for op, n in sorted(got["requests"].items())),
                _num(got["read_units"], 1),
                _num(got["write_units"], 1),
            ]
        )
    title = (
        f"Import of {result['fills']:,} fills with record_many on {engine} "
        f"({result['workers']} workers)"
    )
    headers = ["", "fills/s", "wall, s", "requests", "RCU", "WCU"]
    return f"{title}\n\n{_table(headers, rows)}"


def format_max_size(result: MaxSizeResult, engine: str) -> str:
    rows = [
        [
            _num(p.fills),
            _num(p.orders),
            _num(p.fees),
            _num(p.open_lots),
            _num(p.canonical_bytes),
            _num(p.compressed_bytes),
            f"{p.canonical_bytes / p.compressed_bytes:.1f}x",
            str(p.chunks) if p.ok else "-",
            _num(p.build_seconds, 1),
            _num(p.put_seconds, 2) if p.ok else "-",
            _num(p.get_seconds, 2) if p.ok else "-",
            _num(p.write_units) if p.ok else "-",
            _num(p.write_units_by_rule) if p.ok else "-",
            _num(p.read_units, 1) if p.ok else "-",
            _num(p.largest_item_bytes) if p.ok else "-",
            "stored" if p.ok else "REJECTED",
        ]
        for p in sorted(result.probes, key=lambda p: p.fills)
    ]
    headers = [
        "fills",
        "orders",
        "fees",
        "open lots",
        "canonical B",
        "compressed B",
        "ratio",
        "chunks",
        "build s",
        "put s",
        "get s",
        "put WCU",
        "WCU rule",
        "get RCU",
        "max item B",
        "result",
    ]
    lines = [
        f"Largest snapshot that fits on {engine} (MAX_COMPRESSED_BYTES = {MAX_COMPRESSED_BYTES:,})",
        "",
        _table(headers, rows),
        "",
    ]
    best, failure = result.largest, result.first_failure
    if best is not None:
        lines.append(
            f"largest stored and read back: {best.orders:,} orders ({best.fills:,} fills), "
            f"canonical {best.canonical_bytes:,} B, compressed {best.compressed_bytes:,} B, "
            f"{best.chunks} chunks"
        )
    if failure is not None:
        lines.append(f"first rejected: {failure.orders:,} orders: {failure.error}")
    for label, figures in result.at_limit.items():
        state = (
            f"stored in {figures['chunks']} chunks, largest item "
            f"{figures['largest_item_bytes']:,} B, all items {figures['all_items_bytes']:,} B"
            if figures["stored"]
            else f"rejected: {figures.get('error')}"
        )
        lines.append(
            f"incompressible body, {label} ({figures['compressed_bytes']:,} B compressed): {state}"
        )
    return "\n".join(lines)


def _json_default(value: object) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# Command line ------------------------------------------------------------------------------------


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"sizes must be integers: {text!r}") from exc
    if not sizes or any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError("give at least one size >= 1")
    return sizes


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench_snapshot.py",
        description="Snapshot build time, DynamoDB requests/capacity and item size by ledger "
        "size; --max-size finds the largest snapshot that stores.",
    )
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=None,
        help="trades per ledger, e.g. 1000,10000,100000 (default; with --max-size: none)",
    )
    parser.add_argument("--engine", choices=("dynamodb-local", "moto"), default="dynamodb-local")
    parser.add_argument(
        "--endpoint-url", help="use this running DynamoDB Local instead of starting one"
    )
    parser.add_argument("--repeat", type=int, default=3, help="snapshot runs per size (median)")
    parser.add_argument("--fills-per-day", type=int, default=DEFAULT_FILLS_PER_DAY)
    parser.add_argument("--threads", type=int, default=4, help="seeding threads (moto: always 1)")
    parser.add_argument(
        "--max-size", action="store_true", help="find the largest snapshot that fits"
    )
    parser.add_argument(
        "--import-fills",
        type=int,
        default=3000,
        help="fills of the import measurement (0: skip it)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    if args.sizes is None:
        args.sizes = [] if args.max_size else list(DEFAULT_SIZES)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    output: dict[str, Any] = {}
    with engine_settings(args.engine, args.endpoint_url, log) as (engine, base):
        threads = 1 if engine == "moto" else args.threads
        output["engine"] = engine
        results: list[SizeResult] = []
        for trades in args.sizes:
            log(f"{trades:,} trades on {engine}:")
            results.append(
                bench_size(
                    base,
                    trades,
                    repeat=args.repeat,
                    fills_per_day=args.fills_per_day,
                    threads=threads,
                    log=log,
                )
            )
        if results:
            output["sizes"] = results
        if args.import_fills > 0:
            log(f"import of {args.import_fills:,} fills on {engine}:")
            output["import"] = bench_import(base, args.import_fills, log)
        if args.max_size:
            log(f"largest snapshot on {engine}:")
            output["max_size"] = find_max_size(base, log=log)
    if args.json:
        print(json.dumps(output, default=_json_default, indent=2))
        return 0
    if results:
        print(format_paths(results, engine))
        print()
        print(format_sizes(results, engine))
    if "import" in output:
        print()
        print(format_import(output["import"], engine))
    if args.max_size:
        if results:
            print()
        print(format_max_size(output["max_size"], engine))
    return 0


if __name__ == "__main__":
    sys.exit(main())
