"""Reconcile: a ledger that lost fills, holds wrong quantities and fills Alpaca never made is
listed difference by difference, changed by nothing until ``apply``, and then holds the
figures of a cleanly adopted ledger."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ledger_store.config import TableSettings
from ledger_store.dto import TradeFill
from ledger_store.events import AccountEventRepository
from ledger_store.snapshot_store import AccountSnapshotRepository
from ledger_store.trades import TradeLedgerRepository
from snapshots.adoption.adopt import adopt_account, fill_of, with_quote_rates
from snapshots.adoption.reconcile import Reconciliation, reconcile_account
from snapshots.builder import take_snapshot
from snapshots.demo.history import DEMO_ACCOUNT_ID
from snapshots.fake_alpaca.server import (
    FakeAlpaca,
    running_fake_alpaca,
)
from snapshots.integrity import FILLS_CHECK
from tests.builders import raw_table
from tests.snapshots.adoption.test_adopt import DEMO, RULES, account, done_orders_of, source

START = datetime(DEMO.cycles[0].start.year, DEMO.cycles[0].start.month, 1, tzinfo=UTC)
END = (DEMO.cycles[-1].end + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)


@pytest.fixture
def fake() -> Iterator[FakeAlpaca]:
    with running_fake_alpaca(account()) as server:
        yield server
        assert server.handler_errors == []


def reconcile(settings: TableSettings, fake: FakeAlpaca, **options: Any) -> Reconciliation:
    with source(fake) as alpaca:
        return reconcile_account(
            account_id=DEMO_ACCOUNT_ID,
            alpaca=alpaca,
            ledger=TradeLedgerRepository(settings),
            events=AccountEventRepository(settings),
            period_start=START,
            period_end=END,
            rules=RULES,
            **options,
        )


def snapshot_ledger(settings: TableSettings, fake: FakeAlpaca) -> tuple[dict[str, Any], Any]:
    with source(fake) as alpaca:
        outcome = take_snapshot(
            account_id=DEMO_ACCOUNT_ID,
            period_start=START,
            period_end=END,
            correlation_id="check",
            alpaca=alpaca,
            ledger=TradeLedgerRepository(settings),
            store=AccountSnapshotRepository(settings),
            hmac_key=None,
            full_rebuild=True,
        )
    return outcome.snapshot.internal_ledger.model_dump(mode="json"), outcome.snapshot


def without_corrections(value: Any) -> Any:
    """A ledger section without what only says how it was written: the table's name and the
    registry revisions (a correction is one more revision)."""
    if isinstance(value, dict):
        return {
            k: without_corrections(v)
            for k, v in value.items()
            if k not in {"ledger_id", "revision", "revisions"}
        }
    if isinstance(value, list):
        return [without_corrections(v) for v in value]
    return value


def test_reconcile_brings_a_broken_ledger_to_the_cleanly_adopted_one(
    settings: TableSettings, other: TableSettings, fake: FakeAlpaca
) -> None:
    # The clean ledger: the account adopted in one call.
    with source(fake) as alpaca:
        adopt_account(
            account_id=DEMO_ACCOUNT_ID,
            alpaca=alpaca,
            ledger=TradeLedgerRepository(settings),
            events=AccountEventRepository(settings),
            store=AccountSnapshotRepository(settings),
            rules=RULES,
            first_snapshot=False,
        )
    clean, _ = snapshot_ledger(settings, fake)

    # The broken ledger: 20 fills lost, 5 with a wrong quantity, 2 Alpaca never made, and
    # none of the account's events.
    fills = [fill_of(order, DEMO_ACCOUNT_ID, RULES)[1] for order in done_orders_of(fake)]
    with source(fake) as alpaca:
        fills, unpriced = with_quote_rates(fills, alpaca)  # ETH/BTC: its rate from the bars
    assert unpriced == []
    lost, wrong = fills[3:43:2], fills[50:55]
    kept = [f for f in fills if f not in lost]
    broken = [f.model_copy(update={"qty": f.qty * 2}) if f in wrong else f for f in kept]
    never = [
        TradeFill.model_validate(
            {
                **fills[0].model_dump(),
                "order_id": str(uuid.UUID(int=n)),
                "filled_at": fills[0].filled_at + timedelta(minutes=n),
            }
        )
        for n in (1, 2)
    ]
    ledger = TradeLedgerRepository(other)
    ledger.record_many([TradeFill.model_validate(f.model_dump()) for f in broken] + never)

    before = raw_table(other)
    dry = reconcile(other, fake)
    assert raw_table(other) == before  # without apply nothing is written
    kinds = Counter((d.kind, d.repair) for d in dry.differences)
    assert kinds[("missing_from_ledger", "record")] == 20
    assert kinds[("differs", "amend")] == 5
    assert kinds[("not_at_alpaca", "void")] == 2
    assert kinds[("event_missing", "record_event")] >= len(DEMO.events)
    assert sorted(d.order_id for d in dry.differences if d.repair == "record") == sorted(
        f.order_id for f in lost
    )
    assert sorted(d.order_id for d in dry.differences if d.repair == "void") == sorted(
        f.order_id for f in never
    )
    amended = {d.order_id: d for d in dry.differences if d.repair == "amend"}
    assert sorted(amended) == sorted(f.order_id for f in wrong)
    assert all("qty" in d.detail for d in amended.values())
    assert not dry.clean

    applied = reconcile(other, fake, apply=True)
    assert {d.status for d in applied.differences} == {"repaired"}
    trade = ledger.get_trade(wrong[0].order_id)
    assert trade.fill.qty == wrong[0].qty
    assert trade.corrections[-1].actor == "reconcile"
    assert wrong[0].order_id in trade.corrections[-1].reason
    voided = ledger.get_trade(never[0].order_id)
    assert voided.status == "voided"
    assert "Alpaca has no such order" in voided.corrections[-1].reason

    repaired, snapshot = snapshot_ledger(other, fake)
    assert {c.name: c.status for c in snapshot.integrity_checks}[FILLS_CHECK] == "pass"
    assert without_corrections(repaired) == without_corrections(clean)

    again = reconcile(other, fake)
    assert again.differences == ()
    assert again.clean


def test_a_fill_alpaca_filled_but_does_not_date_is_not_voided() -> None:
    """An order canceled after a partial fill has a filled quantity and price but no
    ``filled_at``: the ledger's fill is real, so reconcile reports it instead of voiding it."""
    from decimal import Decimal

    from snapshots.adoption.reconcile import _extra
    from snapshots.alpaca.models import AlpacaOrder
    from snapshots.ledger.metrics import LedgerFill

    fill = LedgerFill(
        order_id="11111111-2222-4333-8444-555555555555",
        symbol="AAPL",
        side="BUY",
        qty=Decimal(5),
        price=Decimal(190),
        fees=Decimal(0),
        filled_at=START + timedelta(days=3),
        strategies=("momentum",),
    )
    order = AlpacaOrder.from_api(
        {
            "id": fill.order_id,
            "status": "canceled",
            "submitted_at": "2026-08-03T14:00:00Z",
            "symbol": "AAPL",
            "side": "buy",
            "qty": "10",
            "filled_qty": "5",
            "filled_avg_price": "190",
        }
    )
    found = _extra(None, fill, order, START, END)  # type: ignore[arg-type]  # not read
    assert (found.kind, found.repair) == ("differs", "none")
    assert "says not when" in found.detail
    unknown = _extra(None, fill, None, START, END)  # type: ignore[arg-type]
    assert (unknown.kind, unknown.repair) == ("not_at_alpaca", "void")


def test_figures_the_ledger_would_refuse_are_reported_not_raised() -> None:
    """Alpaca's figures that break the ledger's bounds (a notional above its limit) make a
    difference without a repair, never a raw validation error out of reconcile."""
    from decimal import Decimal

    from snapshots.adoption.reconcile import _amend
    from tests.builders import make_fill

    current = make_fill()
    found = _amend(
        current,
        "qty differs",
        symbol=current.symbol,
        side="buy",
        qty=Decimal(10) ** 9,
        price=Decimal(10) ** 6,
    )
    assert (found.kind, found.repair, found.fill) == ("differs", "none", None)
    assert "the ledger refuses Alpaca's figures" in found.detail
    fine = _amend(
        current,
        "qty differs",
        symbol=current.symbol,
        side="sell",
        qty=Decimal(3),
        price=current.price,
    )
    assert fine.repair == "amend"
    assert fine.fill is not None
    assert (fine.fill.qty, fine.fill.side.value, fine.fill.order_id) == (
        3,
        "SELL",
        current.order_id,
    )
