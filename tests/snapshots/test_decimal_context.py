"""No figure depends on the caller's ``decimal`` settings: a snapshot built and rendered under a
hostile context (few digits, another rounding, a tiny exponent range, every signal trapped; in
the calling thread and as the default of new threads) has the same bytes, checksum and PDF as
one built under Python's defaults."""

from __future__ import annotations

import decimal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import (
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_UP,
    ROUND_UP,
    Clamped,
    Context,
    Inexact,
    Rounded,
    Subnormal,
    Underflow,
)

import pytest

from ledger_store.config import TableSettings
from ledger_store.events import AccountEventRepository
from ledger_store.trades import TradeLedgerRepository
from snapshots.alpaca.source import AlpacaSource
from snapshots.builder import build_snapshot
from snapshots.demo.history import DEMO_ACCOUNT_ID, demo_history
from snapshots.fake_alpaca.broker import FakeAccount
from snapshots.fake_alpaca.server import DEFAULT_KEY_ID, DEFAULT_SECRET_KEY, running_fake_alpaca
from snapshots.report.pdf import render_report
from snapshots.schema import snapshot_bytes
from tests.builders import record_all
from tests.snapshots.test_snapshot_job import FAST

HISTORY = demo_history(days=12)
PERIOD_START = datetime(2026, 8, 1, tzinfo=UTC)
PERIOD_END = datetime(2026, 8, 19, tzinfo=UTC)
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)

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
    account = FakeAccount.from_history(
        HISTORY.cycles, events=HISTORY.events_until(PERIOD_END), history_days=40, benchmark="SPY"
    )
    with (
        running_fake_alpaca(account) as fake,
        caller_context(context),
        AlpacaSource(
            api_key=DEFAULT_KEY_ID,
            secret_key=DEFAULT_SECRET_KEY,
            base_url=fake.base_url,
            retry=FAST,
            sleep=lambda _: None,
            environ={"APCA_API_DATA_URL": fake.base_url},
            equity_lookback_days=30,
            benchmark_symbol="SPY",
        ) as alpaca,
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
    record_all(TradeLedgerRepository(settings), (f for c in HISTORY.cycles for f in c.fills))
    events = AccountEventRepository(settings)
    for event in HISTORY.events_until(PERIOD_END):
        events.record(event)
    return settings


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_caller_context_changes_no_byte(recorded: TableSettings, name: str) -> None:
    baseline = snapshot_and_report(recorded, Context())
    assert snapshot_and_report(recorded, HOSTILE[name]) == baseline
