"""``read_account`` from a base snapshot, on moto and DynamoDB Local.

It reads only what is dated from the base's end on, and the ledger it builds is the one read
from the whole history, byte for byte; whenever something dated before the base changed since
(a late fill, a void, an amendment, a back-dated or voided event) the digests disagree and it
reads everything instead, saying why.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import logging
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings

from ledger_store.config import TableSettings
from ledger_store.dto import TradeFill
from ledger_store.errors import ConflictError, LedgerValidationError
from ledger_store.events import AccountEventRepository, CashFlow, Dividend, Split
from ledger_store.trades import TradeLedgerRepository
from snapshots.canonical import canonical_bytes
from snapshots.ledger.summary import AccountRead, LedgerBase, read_account
from tests.builders import client, make_fill
from tests.snapshots.ledger.test_incremental import ACCOUNT, PRICES, History, histories, minute

_EXAMPLES = itertools.count()


def read(
    settings_: TableSettings,
    account: str,
    start: datetime,
    end: datetime,
    base: LedgerBase | None = None,
    ledger_id: str = "ledger-test",
) -> AccountRead:
    return read_account(
        TradeLedgerRepository(settings_),
        AccountEventRepository(settings_),
        account,
        start,
        end,
        prices=PRICES,
        ledger_id=ledger_id,
        base=base,
    )


def base_of(result: AccountRead, name: str) -> LedgerBase:
    view = result.view
    return LedgerBase(snapshot_id=name, period_end=view.period_end, ledger=view.internal_ledger)


def store_history(settings_: TableSettings, history: History, tag: str) -> str:
    """Record the history under its own account and order ids; returns the account."""
    account = f"{ACCOUNT}-{tag}"
    ledger = TradeLedgerRepository(settings_)
    events = AccountEventRepository(settings_)
    for f in history.fills:
        ledger.record(
            f.model_copy(update={"account_id": account, "order_id": f"{tag}-{f.order_id}"})
        )
    for e in history.events:
        # A second corporate action of a symbol on one day: the ledger refuses it.
        with contextlib.suppress(ConflictError):
            events.record(e.model_copy(update={"account_id": account}))
    return account


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=histories())
def test_read_from_a_base_is_the_full_read(settings: TableSettings, history: History) -> None:
    account = store_history(settings, history, f"x{next(_EXAMPLES)}")
    base: LedgerBase | None = None
    for i, taken in enumerate(history.taken):
        if not taken:
            continue
        start, end = minute(history.cuts[i]), minute(history.cuts[i + 1])
        full = read(settings, account, start, end)
        assert full.read.path == "full"
        if base is None:
            base = base_of(full, f"snap-{i}")
            continue
        carried = read(settings, account, start, end, base)
        assert carried.read.path == "incremental", carried.read.reason
        assert carried.read.base_snapshot_id == base.snapshot_id
        assert canonical_bytes(carried.view) == canonical_bytes(full.view)
        # Only what is dated from the base's end on was read.
        since = base.period_end
        later = [a for f in history.fills for a in f.attributions() if f.filled_at >= since]
        assert carried.read.attributions_read == len(later)
        assert carried.read.events_read <= len(history.events)
        base = base_of(carried, f"snap-{i}")


# Late and corrected entries ------------------------------------------------------------------


def week_fill(order: str, side: str, qty: str, price: str, day: int, **over: object) -> TradeFill:
    return make_fill(
        order_id=order,
        account_id=ACCOUNT,
        symbol="AAA",
        side=side,
        qty=qty,
        price=price,
        filled_at=minute(day * 1440 + 60),
        **{"strategy_allocation": {"alpha": "1"}, **over},
    )


WEEK1 = (minute(0), minute(7 * 1440))
WEEK2 = (minute(7 * 1440), minute(14 * 1440))


@pytest.fixture
def two_weeks(
    settings: TableSettings, ledger: TradeLedgerRepository
) -> tuple[TableSettings, LedgerBase]:
    """Week 1: two buys and a dividend; week 2: a sell and a deposit. The base: week 1."""
    events = AccountEventRepository(settings)
    ledger.record(week_fill("o-1", "BUY", "10", "100", 1))
    ledger.record(week_fill("o-2", "BUY", "5", "104", 2))
    ledger.record(week_fill("o-3", "SELL", "12", "110", 8))
    events.record(
        Dividend(
            event_id="div-1",
            account_id=ACCOUNT,
            effective_at=minute(3 * 1440),
            symbol="AAA",
            amount=Decimal("3.75"),
        )
    )
    events.record(
        CashFlow(
            event_id="dep-1",
            account_id=ACCOUNT,
            effective_at=minute(9 * 1440),
            amount=Decimal(5000),
        )
    )
    base = base_of(read(settings, ACCOUNT, *WEEK1), "week-1")
    return settings, base


def assert_rebuilt(settings_: TableSettings, base: LedgerBase, reason: str) -> AccountRead:
    carried = read(settings_, ACCOUNT, *WEEK2, base=base)
    full = read(settings_, ACCOUNT, *WEEK2)
    assert carried.read.path == "full"
    assert reason in carried.read.reason
    assert carried.read.base_snapshot_id is None
    assert canonical_bytes(carried.view) == canonical_bytes(full.view)
    return carried


def test_unchanged_history_is_carried_forward(
    two_weeks: tuple[TableSettings, LedgerBase],
) -> None:
    settings_, base = two_weeks
    carried = read(settings_, ACCOUNT, *WEEK2, base=base)
    assert (carried.read.path, carried.read.reason) == (
        "incremental",
        "carried forward from snapshot week-1",
    )
    assert (carried.read.attributions_read, carried.read.events_read) == (1, 1)
    full = read(settings_, ACCOUNT, *WEEK2)
    assert (full.read.attributions_read, full.read.events_read) == (3, 2)
    assert canonical_bytes(carried.view) == canonical_bytes(full.view)
    alpha = carried.view.internal_ledger.strategy_performance["alpha"]
    # FIFO across the base: 10 @ 100 and 2 of the 5 @ 104 sold at 110: 100 + 12.
    assert alpha.realized_pnl == Decimal(112)
    assert alpha.dividends == Decimal("3.75")
    assert carried.view.internal_ledger.net_deposits_cumulative == Decimal(5000)


def test_a_late_fill_dated_before_the_base_rebuilds(
    two_weeks: tuple[TableSettings, LedgerBase],
    ledger: TradeLedgerRepository,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings_, base = two_weeks
    ledger.record(week_fill("o-late", "BUY", "1", "90", 4))
    with caplog.at_level(logging.INFO, logger="snapshots.ledger.summary"):
        carried = assert_rebuilt(settings_, base, "fills dated before")
    assert "strategies alpha" in carried.read.reason
    assert "full read: fills dated before" in caplog.text
    assert "snapshot week-1" in caplog.text
    assert carried.read.attributions_read == 4


def test_a_voided_old_fill_rebuilds(
    two_weeks: tuple[TableSettings, LedgerBase], ledger: TradeLedgerRepository
) -> None:
    settings_, base = two_weeks
    ledger.void("o-2", reason="busted trade", actor="ops")
    assert_rebuilt(settings_, base, "fills dated before")


def test_an_amended_old_fill_rebuilds(
    two_weeks: tuple[TableSettings, LedgerBase], ledger: TradeLedgerRepository
) -> None:
    settings_, base = two_weeks
    ledger.amend(week_fill("o-1", "BUY", "10", "100", 1, fees="0.02"), reason="fee", actor="ops")
    assert_rebuilt(settings_, base, "fills dated before")


def test_a_fill_moved_to_another_strategy_rebuilds(
    two_weeks: tuple[TableSettings, LedgerBase], ledger: TradeLedgerRepository
) -> None:
    settings_, base = two_weeks
    moved = week_fill("o-1", "BUY", "10", "100", 1, strategy_allocation={"beta": "1"})
    ledger.amend(moved, reason="wrong strategy", actor="ops")
    assert_rebuilt(settings_, base, "fills dated before")


def test_a_back_dated_event_rebuilds(two_weeks: tuple[TableSettings, LedgerBase]) -> None:
    settings_, base = two_weeks
    AccountEventRepository(settings_).record(
        Split(
            event_id="split-1",
            account_id=ACCOUNT,
            effective_at=minute(5 * 1440),
            symbol="AAA",
            ratio_new=Decimal(2),
            ratio_old=Decimal(1),
        )
    )
    assert_rebuilt(settings_, base, "account events dated before")


def test_a_voided_old_event_rebuilds(two_weeks: tuple[TableSettings, LedgerBase]) -> None:
    settings_, base = two_weeks
    AccountEventRepository(settings_).void(ACCOUNT, "div-1", reason="reversed", actor="ops")
    assert_rebuilt(settings_, base, "account events dated before")


def test_new_entries_after_the_base_are_carried_forward(
    two_weeks: tuple[TableSettings, LedgerBase], ledger: TradeLedgerRepository
) -> None:
    """A new strategy, an event and fills after the period's end: still incremental."""
    settings_, base = two_weeks
    ledger.record(week_fill("o-4", "SELL", "3", "111", 9, strategy_allocation={"beta": "1"}))
    ledger.record(week_fill("o-5", "BUY", "1", "99", 20))  # after week 2
    AccountEventRepository(settings_).record(
        CashFlow(
            event_id="wd-1", account_id=ACCOUNT, effective_at=minute(10 * 1440), amount=Decimal(-5)
        )
    )
    carried = read(settings_, ACCOUNT, *WEEK2, base=base)
    assert carried.read.path == "incremental"
    full = read(settings_, ACCOUNT, *WEEK2)
    assert canonical_bytes(carried.view) == canonical_bytes(full.view)
    assert set(carried.view.internal_ledger.strategy_performance) == {"alpha", "beta"}


def test_a_base_of_another_ledger_or_too_late_is_not_used(
    two_weeks: tuple[TableSettings, LedgerBase],
) -> None:
    settings_, base = two_weeks
    other = read(settings_, ACCOUNT, *WEEK2, base=base, ledger_id="another-ledger")
    assert other.read.path == "full"
    assert "is of ledger ledger-test" in other.read.reason
    late = read(settings_, ACCOUNT, WEEK1[1] - timedelta(days=1), WEEK2[1], base=base)
    assert late.read.path == "full"
    assert "ends after the period starts" in late.read.reason


def test_a_registry_row_without_digest_rebuilds(
    two_weeks: tuple[TableSettings, LedgerBase],
) -> None:
    """Rows written before digests were kept: the reader cannot tell, so it reads everything."""
    settings_, base = two_weeks
    client(settings_).update_item(
        TableName=settings_.table_name,
        Key={"PK": {"S": f"ACCOUNT#{ACCOUNT}"}, "SK": {"S": "STRATEGY#alpha"}},
        UpdateExpression="REMOVE entries_digest",
    )
    assert_rebuilt(settings_, base, "no digests")


def test_a_read_leaves_the_garbage_collector_as_it_found_it(
    two_weeks: tuple[TableSettings, LedgerBase],
) -> None:
    """The read pauses Python's cyclic collector (its objects all live on); after it, and
    after a read that fails, the collector is on or off as the caller had it."""
    settings_, _ = two_weeks
    was = gc.isenabled()
    try:
        for enabled in (True, False):
            (gc.enable if enabled else gc.disable)()
            read(settings_, ACCOUNT, *WEEK2)
            assert gc.isenabled() is enabled
            with pytest.raises(LedgerValidationError):
                read(settings_, ACCOUNT, WEEK2[1], WEEK2[0])  # an empty period
            assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
