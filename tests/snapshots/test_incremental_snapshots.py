"""The snapshot job carries the ledger forward from the last snapshot, end to end.

Two weeks at the fake Alpaca (real TradingClient), on moto and DynamoDB Local: the second
week's snapshot starts from the first one's, reads only the second week's entries, and is the
snapshot a full rebuild makes, byte for byte. A base that fails verification or is of an older
``snapshot_version`` is not used: the job reads everything and says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from ledger_store import keys
from ledger_store.config import TableSettings
from ledger_store.dto import TradeFill
from ledger_store.events import CashFlow, Event, Split
from ledger_store.snapshot_store import AccountSnapshotRepository
from ledger_store.trades import TradeLedgerRepository
from snapshots.alpaca.source import AlpacaSource
from snapshots.builder import SnapshotOutcome, build_snapshot, ledger_base, take_snapshot
from snapshots.fake_alpaca.broker import FakeAccount
from snapshots.fake_alpaca.server import DEFAULT_KEY_ID, DEFAULT_SECRET_KEY, running_fake_alpaca
from snapshots.schema import AccountSnapshotV13, CheckStatus, body_bytes
from tests.builders import client
from tests.snapshots.test_accounting_scenarios import (
    ACCOUNT,
    FAST,
    NOW,
    PERIOD_END,
    PERIOD_START,
    at,
    cycles_of,
    fill,
)

WEEK2 = (PERIOD_END + timedelta(days=2), PERIOD_END + timedelta(days=7))  # Mon 21 - Sat 26
ALLOC = {"swing": "0.6", "core": "0.4"}


def history() -> tuple[list[TradeFill], list[Event]]:
    fills = [
        fill("w1-a", "BUY", "100", "20.00", at(0), symbol="XYZ", allocation=ALLOC, fees="0.5"),
        fill("w1-b", "SELL", "30", "22.50", at(2), symbol="XYZ", allocation=ALLOC),
        fill("w1-c", "SELL", "10", "300", at(3), symbol="QQQ", allocation={"swing": "1"}),
        fill("w2-a", "BUY", "40", "11.00", at(8), symbol="XYZ", allocation=ALLOC),
        fill("w2-b", "SELL", "90", "12.25", at(9), symbol="XYZ", allocation=ALLOC, fees="0.2"),
        fill("w2-c", "BUY", "10", "290", at(10), symbol="QQQ", allocation={"swing": "1"}),
    ]
    events: list[Event] = [
        CashFlow(
            event_id="dep", account_id=ACCOUNT, effective_at=at(0, 13), amount=Decimal(50_000)
        ),
        # 2-for-1 on Monday of week 2, before the market opens: carried lots split.
        Split(
            event_id="split",
            account_id=ACCOUNT,
            effective_at=at(7, 12),
            symbol="XYZ",
            ratio_new=Decimal(2),
            ratio_old=Decimal(1),
        ),
    ]
    return fills, events


def take(
    settings: TableSettings,
    fills: Sequence[TradeFill],
    events: Sequence[Event],
    period: tuple[datetime, datetime],
    **options: object,
) -> SnapshotOutcome:
    account = FakeAccount.from_history(
        cycles_of(fills), account_id=ACCOUNT, events=events, include_unfilled=False
    )
    with (
        running_fake_alpaca(account) as fake,
        AlpacaSource(
            api_key=DEFAULT_KEY_ID,
            secret_key=DEFAULT_SECRET_KEY,
            base_url=fake.base_url,
            retry=FAST,
            sleep=lambda _: None,
            environ={},
        ) as alpaca,
    ):
        outcome = take_snapshot(
            account_id=ACCOUNT,
            period_start=period[0],
            period_end=period[1],
            correlation_id=f"cycle-{period[1].date().isoformat()}",
            alpaca=alpaca,
            ledger=TradeLedgerRepository(settings),
            store=AccountSnapshotRepository(settings, clock=lambda: NOW),
            hmac_key=None,
            clock=lambda: NOW,
            **options,  # type: ignore[arg-type]
        )
        if options.get("full_rebuild") is None:
            # The same period rebuilt from the whole history, not stored: the same bytes.
            rebuilt = build_snapshot(
                account_id=ACCOUNT,
                period_start=period[0],
                period_end=period[1],
                correlation_id=f"cycle-{period[1].date().isoformat()}",
                alpaca=alpaca,
                ledger=TradeLedgerRepository(settings),
                hmac_key=None,
                clock=lambda: NOW,
            )
            assert body_bytes(rebuilt) == body_bytes(outcome.snapshot)
            assert rebuilt.checksum == outcome.snapshot.checksum
    return outcome


def record(settings: TableSettings, fills: Sequence[TradeFill]) -> None:
    ledger = TradeLedgerRepository(settings)
    for f in fills:
        ledger.record(f)


def test_the_second_week_is_carried_forward_from_the_first(settings: TableSettings) -> None:
    fills, events = history()
    record(settings, fills)
    first = take(settings, fills, events, (PERIOD_START, PERIOD_END))
    assert first.ledger_read is not None
    assert (first.ledger_read.path, first.ledger_read.reason) == (
        "full",
        "no earlier snapshot to start from",
    )
    assert first.ledger_read.attributions_read == 5  # week 1: 2 + 2 + 1

    second = take(settings, fills, events, WEEK2)
    read = second.ledger_read
    assert read is not None
    assert read.path == "incremental"
    assert read.base_snapshot_id == first.snapshot.snapshot_id
    assert read.reason == f"carried forward from snapshot {first.snapshot.snapshot_id}"
    assert (read.attributions_read, read.events_read) == (5, 1)  # week 2: 2 + 2 + 1; the split
    snapshot = second.snapshot
    assert isinstance(snapshot, AccountSnapshotV13)
    failing = {c.name: c.message for c in snapshot.integrity_checks if c.status != CheckStatus.PASS}
    assert failing == {}
    swing = snapshot.internal_ledger.strategy_performance["swing"]
    # swing held 60 - 18 = 42 XYZ at 20.00, split to 84 at 10.00; bought 24 at 11.00; sold
    # 54: 54 x (12.25 - 10.00) = 121.50. QQQ: short 10 at 300 covered at 290: +100.
    assert swing.period.realized_pnl == Decimal("221.5")
    assert [(lot.symbol, lot.qty, lot.price) for lot in swing.open_lots] == [
        ("XYZ", Decimal(30), Decimal(10)),
        ("XYZ", Decimal(24), Decimal(11)),
    ]
    assert snapshot.internal_ledger.net_deposits_cumulative == Decimal(50_000)
    # The run's path is the outcome's, never the snapshot's: the body does not say it.
    assert b"incremental" not in body_bytes(snapshot)

    # Asked for, a full rebuild of the same week reads everything and stores nothing new.
    again = take(settings, fills, events, WEEK2, full_rebuild=True, replace_checksum=None)
    assert again.status == "existing"


def test_a_full_rebuild_when_asked_for(settings: TableSettings) -> None:
    fills, events = history()
    record(settings, fills)
    take(settings, fills, events, (PERIOD_START, PERIOD_END))
    rebuilt = take(settings, fills, events, WEEK2, full_rebuild=True)
    assert rebuilt.ledger_read is not None
    assert rebuilt.ledger_read.path == "full"
    assert rebuilt.ledger_read.reason == "a full rebuild was asked for"
    assert rebuilt.ledger_read.attributions_read == 10


def test_a_base_that_fails_verification_is_not_used(settings: TableSettings) -> None:
    fills, events = history()
    record(settings, fills)
    take(settings, fills, events, (PERIOD_START, PERIOD_END))
    client(settings).update_item(
        TableName=settings.table_name,
        Key={
            "PK": {"S": keys.snapshot_pk(ACCOUNT)},
            "SK": {"S": keys.snapshot_sk(PERIOD_END)},
        },
        UpdateExpression="SET checksum = :c",
        ExpressionAttributeValues={":c": {"S": "0" * 64}},
    )
    second = take(settings, fills, events, WEEK2)
    assert second.ledger_read is not None
    assert second.ledger_read.path == "full"
    assert "cannot be carried forward" in second.ledger_read.reason
    assert second.ledger_read.attributions_read == 10


def test_a_late_fill_in_the_first_week_is_caught(settings: TableSettings) -> None:
    fills, events = history()
    late = fill("w1-late", "BUY", "5", "21", at(4), symbol="XYZ", allocation={"core": "1"})
    record(settings, fills)
    take(settings, fills, events, (PERIOD_START, PERIOD_END))
    record(settings, [late])
    second = take(settings, [*fills, late], events, WEEK2)
    assert second.ledger_read is not None
    assert second.ledger_read.path == "full"
    assert "strategies core" in second.ledger_read.reason


@pytest.mark.parametrize("period_end", [PERIOD_START + timedelta(days=2)])
def test_ledger_base_is_the_newest_snapshot_ending_by_the_start(
    settings: TableSettings, period_end: datetime
) -> None:
    fills, events = history()
    record(settings, fills)
    early = take(settings, fills, events, (PERIOD_START, period_end))
    take(settings, fills, events, (period_end, PERIOD_END))
    store = AccountSnapshotRepository(settings, clock=lambda: NOW)
    base, reason = ledger_base(store, ACCOUNT, PERIOD_END - timedelta(seconds=1), None)
    assert (base.snapshot_id if base else None, reason) == (early.snapshot.snapshot_id, "")
    none, why = ledger_base(store, ACCOUNT, PERIOD_START, None)
    assert (none, why) == (None, "no earlier snapshot to start from")
