"""No figure depends on the caller's ``decimal`` settings: a snapshot built and rendered under a
hostile context (few digits, another rounding, a tiny exponent range, every signal trapped; in
the calling thread and as the default of new threads) has the same bytes, checksum and PDF as
one built under Python's defaults."""

from __future__ import annotations

import decimal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import (
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_UP,
    ROUND_UP,
    Clamped,
    Context,
    Decimal,
    Inexact,
    Rounded,
    Subnormal,
    Underflow,
)
from typing import Any

import pytest

from ledger_store.config import TableSettings
from ledger_store.events import AccountEventRepository, Split
from ledger_store.trades import TradeLedgerRepository
from snapshots.builder import build_snapshot
from snapshots.demo.history import DEMO_ACCOUNT_ID, demo_history
from snapshots.fake_alpaca.broker import FakeAccount, TradingCycle
from snapshots.fake_alpaca.server import running_fake_alpaca
from snapshots.report.pdf import render_report
from snapshots.schema import snapshot_bytes
from tests.builders import make_fill, record_all
from tests.snapshots.alpaca.test_history_and_benchmark import source

DEMO = demo_history(days=12)
PERIOD_START = datetime(2026, 8, 1, tzinfo=UTC)
PERIOD_END = datetime(2026, 8, 19, tzinfo=UTC)
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def _with_long_digits(cycles: list[TradingCycle]) -> tuple[list[TradingCycle], Split]:
    """The demo's cycles with fills of many digits (quantities, prices, a strategy split) in
    two of them and a 3:7 split between: figures that a context of fewer digits, or of another
    rounding, would change."""
    first, later = cycles[2], cycles[4]
    rows = (
        (first, 1, "BUY", "3.333333333", "123.456789", "0.01"),
        (first, 2, "BUY", "1.777777777", "121.98765432", "0"),
        (later, 3, "SELL", "2.111111111", "57.123456789", "0.07"),
    )
    extra: dict[str, list[Any]] = {first.correlation_id: [], later.correlation_id: []}
    for cycle, n, side, qty, price, fees in rows:
        extra[cycle.correlation_id].append(
            make_fill(
                order_id=f"7e0c4a1b-3d5f-4c2a-9b8e-0000000009{n:02d}",
                account_id=DEMO_ACCOUNT_ID,
                correlation_id=cycle.correlation_id,
                symbol="XYZ",
                side=side,
                qty=qty,
                price=price,
                fees=fees,
                filled_at=cycle.start + timedelta(minutes=n),
                strategy_allocation={"momentum": "0.333333333", "trend_following": "0.666666667"},
            )
        )
    split = Split(
        event_id="xyz-3-for-7",
        account_id=DEMO_ACCOUNT_ID,
        effective_at=first.end + timedelta(hours=1),
        symbol="XYZ",
        ratio_new=Decimal(7),
        ratio_old=Decimal(3),
        source="manual",
    )
    merged = [replace(c, fills=(*c.fills, *extra.get(c.correlation_id, []))) for c in cycles]
    return merged, split


CYCLES, SPLIT = _with_long_digits(DEMO.cycles)
EVENTS = sorted([*DEMO.events_until(PERIOD_END), SPLIT], key=lambda e: e.effective_at)

HOSTILE = {
    "6 digits, floor": Context(prec=6, rounding=ROUND_FLOOR),
    "12 digits, up": Context(prec=12, rounding=ROUND_UP),
    "28 digits, half up, exponents within 30": Context(
        prec=28, rounding=ROUND_HALF_UP, Emax=30, Emin=-30
    ),
    "every signal trapped": Context(
        prec=40,
        rounding=ROUND_DOWN,
        traps=[Inexact, Rounded, Clamped, Subnormal, Underflow],
    ),
}


@contextmanager
def caller_context(context: Context) -> Iterator[None]:
    """``context`` in this thread and as the default every new thread starts from."""
    default = decimal.DefaultContext
    saved = (default.prec, default.rounding, default.Emax, default.Emin, dict(default.traps))
    default.prec, default.rounding = context.prec, context.rounding
    default.Emax, default.Emin = context.Emax, context.Emin
    for signal, on in context.traps.items():
        default.traps[signal] = on
    try:
        with decimal.localcontext(context.copy()):
            yield
    finally:
        default.prec, default.rounding, default.Emax, default.Emin = saved[:4]
        for signal, on in saved[4].items():
            default.traps[signal] = on


def snapshot_and_report(settings: TableSettings, context: Context) -> tuple[bytes, bytes]:
    account = FakeAccount.from_history(CYCLES, events=EVENTS, history_days=40, benchmark="SPY")
    with (
        running_fake_alpaca(account) as fake,
        caller_context(context),
        source(fake, equity_lookback_days=30, benchmark_symbol="SPY") as alpaca,
    ):
        snapshot = build_snapshot(
            account_id=DEMO_ACCOUNT_ID,
            period_start=PERIOD_START,
            period_end=PERIOD_END,
            correlation_id="hostile",
            alpaca=alpaca,
            ledger=TradeLedgerRepository(settings),
            hmac_key=None,
            clock=lambda: NOW,
        )
        pdf = render_report(snapshot).pdf
    return snapshot_bytes(snapshot), pdf


@pytest.fixture
def recorded(settings: TableSettings) -> TableSettings:
    record_all(TradeLedgerRepository(settings), (f for c in CYCLES for f in c.fills))
    events = AccountEventRepository(settings)
    for event in EVENTS:
        events.record(event)
    return settings


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_caller_context_changes_no_byte(recorded: TableSettings, name: str) -> None:
    baseline = snapshot_and_report(recorded, Context())
    assert b'"XYZ"' in baseline[0]  # the figures of many digits are in it
    assert snapshot_and_report(recorded, HOSTILE[name]) == baseline


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_fills_own_figures_ignore_the_callers_context(name: str) -> None:
    """A fill's notional and its strategy shares, read by a caller in any context."""
    fill = make_fill(
        qty="123456.123456789",
        price="8099.123456789",
        fees="1.23",
        strategy_allocation={"a": "0.333333333", "b": "0.333333333", "c": "0.333333334"},
    )
    expected = (fill.notional, [(a.qty, a.fees, a.notional) for a in fill.attributions()])
    with caller_context(HOSTILE[name]):
        got = (fill.notional, [(a.qty, a.fees, a.notional) for a in fill.attributions()])
    assert got == expected
    assert expected[0] == Decimal("123456.123456789") * Decimal("8099.123456789")
