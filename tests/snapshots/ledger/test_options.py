"""Option fills: OCC symbols, whole contracts, and the contract multiplier (100 shares) in every
value and P&L, long and written, through the ledger and a snapshot against the fake Alpaca."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from ledger_store.config import TableSettings
from ledger_store.dto import asset_class_of, contract_multiplier, parse_fill
from ledger_store.errors import LedgerValidationError
from ledger_store.events import OptionExpiry, parse_event
from ledger_store.snapshot_store import AccountSnapshotRepository
from ledger_store.trades import TradeLedgerRepository
from snapshots.alpaca.activities import events_from_activities
from snapshots.alpaca.models import AccountActivityV16
from snapshots.builder import build_snapshot, take_snapshot
from snapshots.fake_alpaca.broker import FakeAccount, TradingCycle
from snapshots.fake_alpaca.server import running_fake_alpaca
from snapshots.ledger.lots import run_lots
from snapshots.ledger.summary import summarize_account
from tests.builders import ROOT, alpaca_uuid, attributions_of, fill_data, record_all
from tests.builders import strategy_fill as fill
from tests.snapshots.alpaca.test_history_and_benchmark import source

CALL = "AAPL250620C00100000"
PUT = "SPY250620P00550000"
ACCOUNT = "acct-1"
DAY = datetime(2024, 3, 1, tzinfo=UTC)


def _view(fills: list[Any], prices: dict[str, Decimal] | None = None) -> Any:
    """The ledger of ``DAY`` holding ``fills``, marked at ``prices``."""
    return summarize_account(
        attributions_of(fills),
        [],
        account_id=fills[0].account_id,
        period_start=DAY,
        period_end=DAY + timedelta(days=1),
        ledger_id="ledger-test",
        prices=prices or {},
        revisions={},
        event_count=0,
    )


def test_an_occ_symbol_is_an_option_of_100_shares() -> None:
    assert (asset_class_of(CALL), contract_multiplier(CALL)) == ("us_option", 100)
    assert (asset_class_of("BTC/USD"), contract_multiplier("BTC/USD")) == ("crypto", 1)
    assert (asset_class_of("AAPL"), contract_multiplier("AAPL")) == ("us_equity", 1)
    bought = parse_fill(fill_data(symbol=CALL, qty="2", price="1.5"))
    assert bought.notional == 300  # 2 contracts x 1.50 x 100 shares


def test_an_option_fill_is_in_whole_contracts() -> None:
    with pytest.raises(LedgerValidationError, match="whole contracts"):
        parse_fill(fill_data(symbol=CALL, qty="1.5", price="1.5"))


def test_an_option_round_trip_realises_qty_times_the_move_times_100() -> None:
    """A long call bought at 1.50 and sold at 2.10: 2 x 0.60 x 100 = 120, before its 1.30 of
    fees; a written put sold at 3.00 and bought back at 1.20: 1 x 1.80 x 100 = 180."""
    fills = [
        fill(alpaca_uuid(1), "BUY", "2", "1.5", symbol=CALL, fees="0.65"),
        fill(alpaca_uuid(2), "SELL", "2", "2.1", symbol=CALL, fees="0.65", seconds=60),
        fill(alpaca_uuid(3), "SELL", "1", "3", symbol=PUT, seconds=120),
        fill(alpaca_uuid(4), "BUY", "1", "1.2", symbol=PUT, seconds=180),
    ]
    ledger = run_lots(attributions_of(fills), [])
    assert [(m.symbol, m.side, m.realized_pnl) for m in ledger.matches] == [
        (CALL, "long", Decimal(120)),
        (PUT, "short", Decimal(180)),
    ]
    view = _view(fills)
    alpha = view.internal_ledger.strategy_performance["alpha"]
    assert (alpha.realized_pnl, alpha.fees, alpha.net_realized_pnl) == (
        Decimal(300),
        Decimal("1.3"),
        Decimal("298.7"),
    )
    assert (alpha.total_buy_value, alpha.total_sell_value) == (Decimal(420), Decimal(720))


def test_an_open_contract_is_marked_at_100_shares() -> None:
    opened = fill(alpaca_uuid(1), "BUY", "3", "1.5", symbol=CALL)
    view = _view([opened], {CALL: Decimal("1.75")})
    assert view.internal_ledger.strategy_performance["alpha"].unrealized_pnl == 75


def _option_cycle() -> TradingCycle:
    at = datetime(2026, 8, 4, 14, 0, tzinfo=UTC)
    made: list[Any] = []
    for n, symbol, side, qty, price in (
        (1, CALL, "BUY", "2", "1.5"),
        (2, CALL, "SELL", "1", "2.1"),
        (3, PUT, "SELL", "1", "3"),
    ):
        made.append(
            parse_fill(
                fill_data(
                    order_id=alpaca_uuid(10 + n),
                    account_id="6f1c3b1e-6d3a-4c59-9f0e-3f6a2b8d9c10",
                    correlation_id="cycle-options",
                    symbol=symbol,
                    side=side,
                    qty=qty,
                    price=price,
                    filled_at=at + timedelta(minutes=n),
                )
            )
        )
    return TradingCycle("cycle-options", at, at + timedelta(hours=1), tuple(made))


def test_a_snapshot_of_option_trades_agrees_with_alpacas_orders_and_positions(
    settings: TableSettings,
) -> None:
    cycle = _option_cycle()
    record_all(TradeLedgerRepository(settings), cycle.fills)
    account = FakeAccount.from_history([cycle], include_unfilled=False)
    positions = {p.symbol: p for p in account.positions}
    assert positions[CALL].market_value == Decimal("2.1") * 100  # 1 contract left at 2.10
    with running_fake_alpaca(account) as fake, source(fake, equity_lookback_days=0) as alpaca:
        snapshot = build_snapshot(
            account_id=cycle.fills[0].account_id,
            period_start=datetime(2026, 8, 4, tzinfo=UTC),
            period_end=datetime(2026, 8, 5, tzinfo=UTC),
            correlation_id="cycle-options",
            alpaca=alpaca,
            ledger=TradeLedgerRepository(settings),
            hmac_key=None,
            clock=lambda: datetime(2026, 12, 1, tzinfo=UTC),
        )
    checks = {c.name: c for c in snapshot.integrity_checks}
    for name in (
        "ledger_fills_match_alpaca_orders",
        "ledger_positions_match_alpaca_positions",
        "strategy_totals_match_ledger_totals",
    ):
        assert checks[name].status == "pass", checks[name].message
    assert {o.asset_class for o in snapshot.alpaca_orders} == {"us_option"}
    ledger = snapshot.internal_ledger
    assert (ledger.total_buy_value, ledger.total_sell_value) == (Decimal(300), Decimal(510))
    # 1 contract of the call closed, 0.60 x 100, shared by the strategies as the fills were.
    assert sum(p.realized_pnl for p in ledger.strategy_performance.values()) == 60


def test_the_fills_check_compares_alpacas_asset_class_with_the_ledgers_symbol() -> None:
    """An order Alpaca filled as an option, recorded under a share symbol, is another asset."""
    from snapshots.integrity import IntegrityTolerances, check_fills
    from tests.builders import alpaca_data, alpaca_order

    recorded = fill(alpaca_uuid(1), "BUY", "2", "1.5", symbol="AAPL")
    view = _view([recorded])
    order = alpaca_order(
        1,
        side="buy",
        symbol="AAPL",
        filled_qty="2",
        filled_avg_price="1.5",
        asset_class="us_option",
        filled_at=recorded.filled_at,
    )
    window = {"period_start": DAY, "period_end": DAY + timedelta(days=1)}
    data = alpaca_data(**window, orders=(order,), filled_order_ids=(order.id,))
    check = check_fills(data, view, IntegrityTolerances())
    assert check.status == "fail", check.message
    assert "of another asset class" in check.message
    assert check.details[order.id] == "asset class alpaca us_option, ledger us_equity"


# Expiry ------------------------------------------------------------------------------------


def _expiry(symbol: str, qty: str, seconds: int) -> Any:
    return parse_event(
        {
            "kind": "option_expiry",
            "event_id": f"expiry-{symbol}",
            "account_id": "acct-1",
            "effective_at": DAY + timedelta(seconds=seconds),
            "symbol": symbol,
            "qty": qty,
            "source": "OPEXP",
        }
    )


def test_alpacas_documented_expiry_row_is_an_option_expiry() -> None:
    """Alpaca's docs: OPEXP of AAPL230721C00150000, qty -2 (two long contracts gone)."""
    path = (
        ROOT / "tests/contract/alpaca/payloads/activities/docs_option_events_otm_expiry_opexp.json"
    )
    (raw,) = json.loads(path.read_text(encoding="utf-8"))["body"]
    (event,) = events_from_activities("acct-1", [AccountActivityV16.from_api(raw)]).events
    assert isinstance(event, OptionExpiry)
    assert (event.symbol, event.qty, event.event_id) == (
        "AAPL230721C00150000",
        Decimal(-2),
        raw["id"],
    )


def test_an_expired_long_call_loses_its_premium_and_a_written_put_keeps_it() -> None:
    """2 calls bought at 1.50 expire: -300; 1 put written at 3.00 expires: +300."""
    fills = [
        fill(alpaca_uuid(1), "BUY", "2", "1.5", symbol=CALL),
        fill(alpaca_uuid(2), "SELL", "1", "3", symbol=PUT, allocation={"beta": "1"}),
    ]
    ledger = run_lots(
        attributions_of(fills), [_expiry(CALL, "-2", 72_000), _expiry(PUT, "1", 72_000)]
    )
    assert ledger.lots == ()
    assert {s: ledger.realized_pnl(s) for s in ("alpha", "beta")} == {
        "alpha": Decimal(-300),
        "beta": Decimal(300),
    }


def test_an_expiry_must_name_an_option() -> None:
    with pytest.raises(LedgerValidationError, match="no option contract"):
        _expiry("AAPL", "-2", 0)


def test_an_expiry_alpaca_posts_closes_the_contract_in_the_snapshot(
    settings: TableSettings,
) -> None:
    """The written put expires at the day's end: Alpaca's OPEXP row becomes the ledger's event,
    the put's lot closes at 0 (its premium, 300, kept) and the positions agree."""
    cycle = _option_cycle()
    record_all(TradeLedgerRepository(settings), cycle.fills)
    expiry = parse_event(
        {
            "kind": "option_expiry",
            "event_id": "put-expiry",
            "account_id": cycle.fills[0].account_id,
            "effective_at": datetime(2026, 8, 4, 21, tzinfo=UTC),
            "symbol": PUT,
            "qty": "1",
        }
    )
    account = FakeAccount.from_history([cycle], events=[expiry], include_unfilled=False)
    assert PUT not in {p.symbol for p in account.positions}
    with running_fake_alpaca(account) as fake, source(fake, equity_lookback_days=0) as alpaca:
        outcome = take_snapshot(
            account_id=cycle.fills[0].account_id,
            period_start=datetime(2026, 8, 4, tzinfo=UTC),
            period_end=datetime(2026, 8, 5, tzinfo=UTC),
            correlation_id="cycle-options",
            alpaca=alpaca,
            ledger=TradeLedgerRepository(settings),
            store=AccountSnapshotRepository(settings),
            hmac_key=None,
        )
    snapshot = outcome.snapshot
    checks = {c.name: c for c in snapshot.integrity_checks}
    for name in (
        "ledger_positions_match_alpaca_positions",
        "ledger_events_match_alpaca_activities",
    ):
        assert checks[name].status == "pass", checks[name].message
    (recorded,) = snapshot.internal_ledger.option_expiries
    assert (recorded.symbol, recorded.source) == (PUT, "OPEXP")
    realized = sum(p.realized_pnl for p in snapshot.internal_ledger.strategy_performance.values())
    assert realized == 60 + 300  # the call's closed contract, and the put's premium kept
