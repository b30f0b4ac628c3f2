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
from ledger_store.events import OptionExercise, OptionExpiry, parse_event
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


def test_an_adjusted_contract_is_refused_with_the_reason() -> None:
    """After a corporate action the OCC gives a contract a root with a digit (AAPL1) and a
    deliverable (and possibly a multiplier) other than 100 shares: refused, never valued at
    100 by mistake."""
    with pytest.raises(LedgerValidationError, match="adjusted option contract"):
        parse_fill(fill_data(symbol="AAPL1250620C00100000", qty="1", price="1.5"))


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


def _checked_snapshot(settings: TableSettings, account: FakeAccount) -> Any:
    """The option cycle's day (4 August 2026) snapshotted against ``account``, stored; its
    positions and events checks pass."""
    with running_fake_alpaca(account) as fake, source(fake, equity_lookback_days=0) as alpaca:
        outcome = take_snapshot(
            account_id=account.account_id,
            period_start=datetime(2026, 8, 4, tzinfo=UTC),
            period_end=datetime(2026, 8, 5, tzinfo=UTC),
            correlation_id="cycle-options",
            alpaca=alpaca,
            ledger=TradeLedgerRepository(settings),
            store=AccountSnapshotRepository(settings),
            hmac_key=None,
        )
    checks = {c.name: c for c in outcome.snapshot.integrity_checks}
    for name in (
        "ledger_positions_match_alpaca_positions",
        "ledger_events_match_alpaca_activities",
    ):
        assert checks[name].status == "pass", checks[name].message
    return outcome.snapshot


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
    snapshot = _checked_snapshot(settings, account)
    (recorded,) = snapshot.internal_ledger.option_expiries
    assert (recorded.symbol, recorded.source) == (PUT, "OPEXP")
    realized = sum(p.realized_pnl for p in snapshot.internal_ledger.strategy_performance.values())
    assert realized == 60 + 300  # the call's closed contract, and the put's premium kept


# Exercise and assignment -------------------------------------------------------------------

OPTION_EVENTS = ROOT / "tests/contract/alpaca/payloads/activities"


def _rows(*names: str) -> list[AccountActivityV16]:
    """Alpaca's documented rows, from the contract fixtures (one object or an array each)."""
    rows: list[AccountActivityV16] = []
    for name in names:
        body = json.loads((OPTION_EVENTS / name).read_text(encoding="utf-8"))["body"]
        rows += [
            AccountActivityV16.from_api(raw) for raw in (body if isinstance(body, list) else [body])
        ]
    return rows


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        # Trading API docs: both rows of a pair under one (placeholder) id.
        (["docs_option_events_assignment_opasn_optrd.json"], ("2", "AAPL", "-200", "150")),
        # The docs' exercise row says price 90 for a 150 strike: kept as Alpaca wrote it.
        (["docs_option_events_exercise_opexc_optrd.json"], ("-2", "AAPL", "200", "90")),
        # Options Trading Overview: two rows with their own ids.
        (
            [
                "docs_broker_options_call_assignment_opasn.json",
                "docs_broker_options_call_assignment_optrd.json",
            ],
            ("1", "QS", "-100", "4.5"),
        ),
        (
            [
                "docs_broker_options_call_exercise_opexc.json",
                "docs_broker_options_call_exercise_optrd.json",
            ],
            ("-1", "QS", "100", "6.5"),
        ),
    ],
)
def test_alpacas_documented_exercise_and_assignment_rows_are_one_event(
    names: list[str], expected: tuple[str, str, str, str]
) -> None:
    rows = _rows(*names)
    contract, trade = rows[0], rows[-1]
    mapped = events_from_activities("acct-1", rows)
    assert mapped.unmapped == ()
    (event,) = mapped.events
    assert isinstance(event, OptionExercise)
    assert (event.event_id, event.trade_activity_id, event.symbol) == (
        contract.id,
        trade.id,
        contract.symbol,
    )
    assert (event.qty, event.underlying, event.shares, event.price) == tuple(
        Decimal(v) if i != 1 else v for i, v in enumerate(expected)
    )
    assert event.exercised == (contract.activity_type == "OPEXC")


def test_a_contract_row_without_its_shares_and_shares_without_a_contract_are_unmapped() -> None:
    """Apart, neither row says enough: both are left for an explicit event (the events check
    names them), never booked half. A trade of the wrong direction is no pair either: an
    assigned call sells its shares."""
    (alone,) = _rows("docs_broker_options_call_assignment_opasn.json")
    (other_day,) = _rows("docs_broker_options_call_exercise_optrd.json")
    mapped = events_from_activities("acct-1", [alone, other_day])
    assert mapped.events == ()
    assert {row.id for row in mapped.unmapped} == {alone.id, other_day.id}
    (sold,) = _rows("docs_broker_options_call_assignment_optrd.json")
    bought = sold.model_copy(update={"qty": Decimal(100), "net_amount": Decimal(-450)})
    mapped = events_from_activities("acct-1", [alone, bought])
    assert (mapped.events, len(mapped.unmapped)) == ((), 2)


def _exercise(symbol: str, qty: str, underlying: str, shares: str, price: str, **more: Any) -> Any:
    return parse_event(
        {
            "kind": "option_exercise",
            "event_id": more.pop("event_id", f"exercise-{symbol}"),
            "account_id": ACCOUNT,
            "effective_at": more.pop("at", DAY + timedelta(seconds=72_000)),
            "symbol": symbol,
            "qty": qty,
            "underlying": underlying,
            "shares": shares,
            "price": price,
            "source": "OPEXC" if qty.startswith("-") else "OPASN",
            **more,
        }
    )


def test_a_covered_call_assigned_sells_the_shares_at_the_strike_plus_the_premium() -> None:
    """100 AAPL at 95, a call at 100 written for 2.00, assigned: the shares are sold at 102,
    realising (102 - 95) x 100 = 700 (500 on the shares, 200 of premium), and nothing is
    left open."""
    call = "AAPL240621C00100000"
    fills = [
        fill(alpaca_uuid(1), "BUY", "100", "95"),
        fill(alpaca_uuid(2), "SELL", "1", "2", symbol=call, seconds=60),
    ]
    ledger = run_lots(attributions_of(fills), [_exercise(call, "1", "AAPL", "-100", "100")])
    assert ledger.lots == ()
    (match,) = ledger.matches
    assert (match.symbol, match.close_price, match.realized_pnl) == ("AAPL", 102, 700)
    assert ledger.realized_pnl("alpha") == 700


def test_a_long_call_exercised_buys_the_shares_at_the_strike_plus_the_premium() -> None:
    """2 calls at 1.50 exercised at a strike of 100: 200 shares at 101.50 (20,300 = 20,000 +
    300 of premium), nothing realised; a later sale at 105 realises 700."""
    call = "AAPL240621C00100000"
    fills = [fill(alpaca_uuid(1), "BUY", "2", "1.5", symbol=call)]
    exercise = _exercise(call, "-2", "AAPL", "200", "100")
    ledger = run_lots(attributions_of(fills), [exercise])
    (lot,) = ledger.lots
    assert (lot.symbol, lot.side, lot.qty, lot.price) == ("AAPL", "long", 200, Decimal("101.5"))
    assert (lot.order_id, lot.opened_at) == (exercise.event_id, exercise.effective_at)
    assert ledger.realized_pnl("alpha") == 0
    sold = fill(alpaca_uuid(2), "SELL", "200", "105", seconds=80_000)
    assert run_lots(attributions_of([*fills, sold]), [exercise]).realized_pnl("alpha") == 700


def test_a_put_exercised_against_shares_sells_at_the_strike_less_the_premium() -> None:
    """A protective put: 100 shares at 110, a put at 100 bought for 3.00, exercised: the
    shares go at 97, realising (97 - 110) x 100 = -1,300 (the shares' -1,000, the premium's
    -300)."""
    put = "AAPL240621P00100000"
    fills = [
        fill(alpaca_uuid(1), "BUY", "100", "110"),
        fill(alpaca_uuid(2), "BUY", "1", "3", symbol=put, seconds=60),
    ]
    ledger = run_lots(attributions_of(fills), [_exercise(put, "-1", "AAPL", "-100", "100")])
    assert ledger.lots == ()
    assert ledger.realized_pnl("alpha") == -1300


def test_a_written_put_assigned_buys_the_shares_at_the_strike_less_the_premium() -> None:
    """A put at 50 written for 1.20 and assigned: 100 shares at 48.80, nothing realised."""
    put = "KO240621P00050000"
    fills = [fill(alpaca_uuid(1), "SELL", "1", "1.2", symbol=put)]
    ledger = run_lots(attributions_of(fills), [_exercise(put, "1", "KO", "100", "50")])
    (lot,) = ledger.lots
    assert (lot.symbol, lot.side, lot.qty, lot.price) == ("KO", "long", 100, Decimal("48.8"))
    assert ledger.realized_pnl("alpha") == 0


def test_an_assignment_takes_the_oldest_written_contracts_across_strategies() -> None:
    """alpha wrote 1 call at 2.00, beta 2 at 3.00 later; 2 are assigned: alpha's and one of
    beta's, each strategy selling its own 100 shares at 100 plus its own premium. beta keeps
    one written contract; alpha, which held no shares, is short 100 at 102."""
    call = "AAPL240621C00100000"
    fills = [
        fill(alpaca_uuid(1), "SELL", "1", "2", symbol=call),
        fill(alpaca_uuid(2), "SELL", "2", "3", symbol=call, seconds=60, allocation={"beta": "1"}),
        fill(alpaca_uuid(3), "BUY", "100", "90", seconds=120, allocation={"beta": "1"}),
    ]
    ledger = run_lots(attributions_of(fills), [_exercise(call, "2", "AAPL", "-200", "100")])
    lots = {(lot.strategy, lot.symbol): (lot.side, lot.qty, lot.price) for lot in ledger.lots}
    assert lots == {
        ("alpha", "AAPL"): ("short", 100, Decimal(102)),
        ("beta", call): ("short", 1, Decimal(3)),
    }
    assert ledger.realized_pnl("beta") == (103 - 90) * 100
    assert ledger.unattributed_exercises == ()


def test_contracts_no_lot_holds_are_unattributed_and_deliver_nothing() -> None:
    """Alpaca assigned 2 contracts, the ledger held 1: its 100 shares move, the other 100
    are in no strategy (the positions check will say so) and the event is listed."""
    call = "AAPL240621C00100000"
    fills = [fill(alpaca_uuid(1), "SELL", "1", "2", symbol=call)]
    exercise = _exercise(call, "2", "AAPL", "-200", "100")
    ledger = run_lots(attributions_of(fills), [exercise])
    (lot,) = ledger.lots
    assert (lot.symbol, lot.side, lot.qty) == ("AAPL", "short", 100)
    assert ledger.unattributed_exercises == (exercise,)


@pytest.mark.parametrize(
    ("symbol", "qty", "shares", "message"),
    [
        ("AAPL240621C00100000", "1", "100", "a call assigned sells its shares"),
        ("AAPL240621P00100000", "-1", "100", "a put exercised sells its shares"),
        ("AAPL", "-1", "100", "no option contract"),
        ("AAPL240621C00100000", "-1.5", "150", "decimal places"),
        ("AAPL240621C00100000", "-2", "100", "2 contract.s. deliver 200 shares, not 100"),
        ("MSFT240621C00100000", "-1", "100", "delivers MSFT, not AAPL"),
    ],
)
def test_an_exercise_that_cannot_be_is_refused(
    symbol: str, qty: str, shares: str, message: str
) -> None:
    with pytest.raises(LedgerValidationError, match=message):
        _exercise(symbol, qty, "AAPL", shares, "100")


def test_a_class_share_is_the_underlying_of_its_root() -> None:
    """BRK.B's contracts have the root BRKB."""
    event = _exercise("BRKB240621C00400000", "-1", "BRK.B", "100", "400")
    assert event.underlying == "BRK.B"


def _row(kind: str, symbol: str, qty: str, price: str | None = None, n: int = 1) -> Any:
    """An Alpaca option-event row of 17 June 2024 (date-only id, as Alpaca writes them)."""
    raw: dict[str, Any] = {
        "id": f"20240617000000000::{alpaca_uuid(n)}",
        "activity_type": kind,
        "date": "2024-06-17",
        "net_amount": "0",
        "symbol": symbol,
        "qty": qty,
        "status": "executed",
    }
    if price is not None:
        raw |= {"price": price, "net_amount": str(-Decimal(qty) * Decimal(price))}
    return AccountActivityV16.from_api(raw)


def test_two_strikes_of_one_underlying_the_same_day_never_cross() -> None:
    """Two HOOD calls assigned the same day, 22.5 and 21.5, their share rows the other way
    round: each contract takes the trade at its own strike (the reviewer's case: crossed, the
    two strategies' P&L swapped 100 and every check still passed)."""
    high = _row("OPASN", "HOOD240614C00022500", "1", n=1)
    low = _row("OPASN", "HOOD240614C00021500", "1", n=2)
    at_low = _row("OPTRD", "HOOD", "-100", "21.5", n=3)
    at_high = _row("OPTRD", "HOOD", "-100", "22.5", n=4)
    mapped = events_from_activities("acct-1", [high, low, at_low, at_high])
    assert mapped.unmapped == ()
    paired = {e.symbol: (e.trade_activity_id, e.price) for e in mapped.events}  # type: ignore[union-attr]
    assert paired == {
        high.symbol: (at_high.id, Decimal("22.5")),
        low.symbol: (at_low.id, Decimal("21.5")),
    }


def test_a_trade_row_of_another_size_is_no_pair() -> None:
    """Assignments of 1 and 2 contracts and one trade of 300 shares: none of them pairs (a
    wrong pair books a wrong event; an unmapped row is named by the events check)."""
    one = _row("OPASN", "HOOD240614C00021500", "1", n=1)
    two = _row("OPASN", "HOOD240614C00021500", "2", n=2)
    trade = _row("OPTRD", "HOOD", "-300", "21.5", n=3)
    mapped = events_from_activities("acct-1", [one, two, trade])
    assert (mapped.events, len(mapped.unmapped)) == ((), 3)


def test_an_assignment_alpaca_posts_is_booked_and_agrees_with_its_positions(
    settings: TableSettings,
) -> None:
    """The written put of the option cycle (1 at 3.00, strike 550) is assigned at the day's
    end: Alpaca's OPASN and OPTRD rows become one event, the strategies that wrote the put
    buy 100 SPY at 547 (550 less the premium), and the positions and events checks pass."""
    cycle = _option_cycle()
    record_all(TradeLedgerRepository(settings), cycle.fills)
    assignment = _exercise(
        PUT,
        "1",
        "SPY",
        "100",
        "550",
        event_id="put-assignment",
        account_id=cycle.fills[0].account_id,
        at=datetime(2026, 8, 4, 21, tzinfo=UTC),
    )
    account = FakeAccount.from_history([cycle], events=[assignment], include_unfilled=False)
    positions = {p.symbol: p.qty for p in account.positions}
    assert (PUT in positions, positions["SPY"]) == (False, 100)
    snapshot = _checked_snapshot(settings, account)
    (recorded,) = snapshot.internal_ledger.option_exercises
    rows = {a.activity_type: a.id for a in snapshot.alpaca_activities}
    assert (recorded.event_id, recorded.trade_activity_id) == (rows["OPASN"], rows["OPTRD"])
    spy = [
        (lot.qty, lot.price)
        for p in snapshot.internal_ledger.strategy_performance.values()
        for lot in p.open_lots
        if lot.symbol == "SPY"
    ]
    assert sum(q for q, _ in spy) == 100
    assert {price for _, price in spy} == {Decimal(547)}
