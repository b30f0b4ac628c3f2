"""Integrity checks of a snapshot: Alpaca's data against the ledger's view of the same period.

The consistent scenario (account acct-1, period = 2024-03-02, UTC), worked out by hand:

    before  #50  BUY  AAPL 10 @ 100    alpha 0.6 / beta 0.4  fees 0.10  2024-03-01 14:30
    period  #1   SELL AAPL  4 @ 110    alpha 0.6 / beta 0.4  fees 0.05  2024-03-02 14:30
    period  #2   BUY  MSFT  3 @ 400    alpha                 fees 0.02  2024-03-02 15:30
    period  #3   BUY  TSLA  2 @ 200.5  gamma                            2024-03-02 16:30

    ledger totals of the period: buy 1200 + 401 = 1601, sell 440, fees 0.07
    net positions: AAPL 6, MSFT 3, TSLA 2
    Alpaca: orders #1-#3 filled as above, #4 canceled unfilled; positions AAPL 6, MSFT 3,
    TSLA 2; equity 5000.25 = cash 1000.5 + long 3999.75 + short 0
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from ledger_store.decimals import plain
from ledger_store.dto import TradeFill
from ledger_store.errors import IntegrityError, LedgerValidationError
from snapshots import canonical
from snapshots.alpaca.models import AlpacaData
from snapshots.integrity import (
    EQUITY_CHECK,
    FILLS_CHECK,
    POSITIONS_CHECK,
    STRATEGY_TOTALS_CHECK,
    IntegrityCheckFailed,
    IntegrityTolerances,
    enforce_strict,
    failed,
    filled_in_period,
    run_integrity_checks,
    worst_status,
)
from snapshots.ledger.metrics import LedgerView, summarize_ledger
from snapshots.schema import CheckStatus, IntegrityCheck, InternalLedger, compose_snapshot
from tests.builders import (
    ACCOUNT,
    CORRELATION,
    PERIOD_END,
    PERIOD_START,
    alpaca_account,
    alpaca_data,
    alpaca_order,
    alpaca_position,
    alpaca_uuid,
    attributions_of,
    strategy_fill,
)

DAY, HOUR = 86_400, 3_600
SPLIT = {"alpha": "0.6", "beta": "0.4"}
PASS, WARN, FAIL = CheckStatus.PASS, CheckStatus.WARN, CheckStatus.FAIL
ID1, ID2, ID3 = alpaca_uuid(1), alpaca_uuid(2), alpaca_uuid(3)
NAMES = [EQUITY_CHECK, FILLS_CHECK, POSITIONS_CHECK, STRATEGY_TOTALS_CHECK]


# Builders ----------------------------------------------------------------------------------


def fills(*extra: TradeFill, msft_price: str = "400") -> list[TradeFill]:
    return [
        strategy_fill(alpaca_uuid(50), "BUY", "10", "100", allocation=SPLIT, fees="0.10"),
        strategy_fill(ID1, "SELL", "4", "110", allocation=SPLIT, fees="0.05", seconds=DAY),
        strategy_fill(ID2, "BUY", "3", msft_price, symbol="MSFT", fees="0.02", seconds=DAY + HOUR),
        strategy_fill(
            ID3,
            "BUY",
            "2",
            "200.5",
            symbol="TSLA",
            allocation={"gamma": "1"},
            seconds=DAY + 2 * HOUR,
        ),
        *extra,
    ]


def view(ledger_fills: list[TradeFill] | None = None) -> LedgerView:
    return summarize_ledger(
        attributions_of(fills() if ledger_fills is None else ledger_fills),
        account_id=ACCOUNT,
        period_start=PERIOD_START,
        period_end=PERIOD_END,
        ledger_id="ledger-test",
    )


def order(n: int, side: str, symbol: str, qty: str, price: str | None, **overrides: Any) -> Any:
    return alpaca_order(
        n, side=side, symbol=symbol, filled_qty=qty, filled_avg_price=price, **overrides
    )


def orders() -> list[Any]:
    return [
        order(1, "sell", "AAPL", "4", "110"),
        order(2, "buy", "MSFT", "3", "400"),
        order(3, "buy", "TSLA", "2", "200.5"),
        order(4, "buy", "AAPL", "0", None, status="canceled", filled_at=None),
    ]


def positions() -> list[Any]:
    return [
        alpaca_position("AAPL", qty="6"),
        alpaca_position("MSFT", qty="3"),
        alpaca_position("TSLA", qty="2"),
    ]


def data(**overrides: Any) -> AlpacaData:
    fields: dict[str, Any] = {
        "orders": tuple(orders()),
        "positions": tuple(positions()),
        "filled_order_ids": (ID1, ID2, ID3),
    }
    fields.update(overrides)
    result: AlpacaData = alpaca_data(**fields)
    return result


def run(alpaca: AlpacaData | None = None, ledger: LedgerView | None = None, **kw: Any) -> Any:
    return run_integrity_checks(data() if alpaca is None else alpaca, ledger or view(), **kw)


def named(checks: tuple[IntegrityCheck, ...], name: str) -> IntegrityCheck:
    (check,) = [c for c in checks if c.name == name]
    return check


def fills_check(alpaca: AlpacaData | None = None, ledger: LedgerView | None = None) -> Any:
    return named(run(alpaca, ledger), FILLS_CHECK)


def positions_check(alpaca: AlpacaData | None = None, ledger: LedgerView | None = None) -> Any:
    return named(run(alpaca, ledger), POSITIONS_CHECK)


def equity_check(**account: Any) -> Any:
    return named(run(data(account=alpaca_account(**account))), EQUITY_CHECK)


def strategy_check(ledger: LedgerView) -> Any:
    return named(run(ledger=ledger), STRATEGY_TOTALS_CHECK)


def with_internal(ledger: LedgerView, **fields: Any) -> LedgerView:
    internal = InternalLedger.model_validate({**dict(ledger.internal_ledger), **fields})
    return LedgerView.model_validate({**dict(ledger), "internal_ledger": internal})


def with_strategies(ledger: LedgerView, order_id: str, strategies: tuple[str, ...]) -> LedgerView:
    changed = ledger.period_fills[order_id].model_copy(update={"strategies": strategies})
    period_fills = {**ledger.period_fills, order_id: changed}
    return LedgerView.model_validate({**dict(ledger), "period_fills": period_fills})


# The consistent scenario -------------------------------------------------------------------


def test_consistent_data_passes_every_check_with_the_figures() -> None:
    checks = run()
    assert [c.name for c in checks] == NAMES
    assert [c.status for c in checks] == [PASS] * 4
    by_name = {c.name: c for c in checks}
    assert by_name[FILLS_CHECK].details == {
        "alpaca_filled_orders": 3,
        "ledger_fills": 3,
        "matched": 3,
        "price_tolerance": "0.0001",
        "worst_price_deviation": "0",
    }
    assert by_name[FILLS_CHECK].message == (
        "Alpaca filled 3 order(s) in the period, the ledger has 3 fill(s), 3 matched by order "
        "id; they all agree."
    )
    assert by_name[POSITIONS_CHECK].details == {
        "alpaca_positions": 3,
        "differing": 0,
        "ledger_positions": 3,
        "matched": 3,
        "untracked": 0,
    }
    assert by_name[EQUITY_CHECK].details == {
        "absolute_tolerance": "0.01",
        "balances": "5000.25",
        "cash": "1000.5",
        "difference": "0",
        "equity": "5000.25",
        "long_market_value": "3999.75",
        "relative_tolerance": "0.0001",
        "short_market_value": "0",
    }
    assert by_name[STRATEGY_TOTALS_CHECK].details == {
        "buy_value_difference": "0",
        "fees_difference": "0",
        "fill_attributions": 4,
        "ledger_buy_value": "1601",
        "ledger_fees": "0.07",
        "ledger_sell_value": "440",
        "sell_value_difference": "0",
        "strategies": 3,
        "strategies_active": 3,
        "strategies_buy_value": "1601",
        "strategies_fees": "0.07",
        "strategies_sell_value": "440",
        "strategy_period_trades": 4,
    }
    assert worst_status(checks) is PASS
    assert failed(checks) == ()


def test_checks_compose_into_a_snapshot_in_schema_order() -> None:
    alpaca = data(
        positions=(*positions(), alpaca_position("NVDA", qty="1")),  # untracked: warn
        account=alpaca_account(equity="6000"),  # fail
    )
    ledger = view()
    checks = run_integrity_checks(alpaca, ledger)
    body = compose_snapshot(
        account_id=ACCOUNT,
        period_start=PERIOD_START,
        period_end=PERIOD_END,
        correlation_id=CORRELATION,
        alpaca=alpaca,
        internal_ledger=ledger.internal_ledger,
        integrity_checks=reversed(checks),
    )
    assert body.integrity_checks == checks
    assert [c.status for c in body.integrity_checks] == [FAIL, PASS, WARN, PASS]


def test_results_are_deterministic_whatever_the_input_order() -> None:
    first = run(data(), view())
    second = run(
        data(orders=tuple(reversed(orders())), positions=tuple(reversed(positions()))),
        view(list(reversed(fills()))),
    )
    assert first == second
    assert canonical.canonical_bytes(first) == canonical.canonical_bytes(second)
    for check in run(data(orders=(order(1, "buy", "AMZN", "5", "1"),))):
        assert list(check.details) == sorted(check.details)


def test_data_of_different_periods_is_rejected() -> None:
    other = summarize_ledger(
        attributions_of(fills()),
        account_id=ACCOUNT,
        period_start=PERIOD_START,
        period_end=PERIOD_END + timedelta(days=1),
        ledger_id="ledger-test",
    )
    with pytest.raises(LedgerValidationError, match="one period"):
        run(ledger=other)


# Fills against Alpaca's orders -------------------------------------------------------------


def test_an_order_filled_at_alpaca_but_missing_from_the_ledger_fails() -> None:
    check = fills_check(ledger=view(fills()[:3]))
    assert check.status is FAIL
    assert check.details["missing_from_ledger"] == ID3
    assert (check.details["alpaca_filled_orders"], check.details["ledger_fills"]) == (3, 2)
    assert check.details["matched"] == 2
    assert check.message.endswith("problems: 1 missing from the ledger.")


def test_a_ledger_fill_not_filled_at_alpaca_in_the_period_fails() -> None:
    alpaca = data(orders=tuple(orders()[:2]), filled_order_ids=(ID1, ID2))
    check = fills_check(alpaca)
    assert check.status is FAIL
    assert check.details["not_filled_at_alpaca"] == ID3
    assert (check.details["alpaca_filled_orders"], check.details["matched"]) == (2, 2)


def test_an_order_still_open_at_alpaca_and_not_yet_recorded_only_warns() -> None:
    still_filling = order(5, "buy", "AAPL", "2", "111", status="partially_filled", filled_at=None)
    alpaca = data(
        orders=(*orders(), still_filling), filled_order_ids=(ID1, ID2, ID3, still_filling.id)
    )
    check = fills_check(alpaca)
    assert check.status is WARN
    assert check.details["open_at_alpaca_not_in_ledger"] == alpaca_uuid(5)
    assert "missing_from_ledger" not in check.details

    done = order(5, "buy", "AAPL", "2", "111", status="canceled", filled_at=None)
    alpaca = data(orders=(*orders(), done), filled_order_ids=(ID1, ID2, ID3, done.id))
    assert fills_check(alpaca).details["missing_from_ledger"] == alpaca_uuid(5)


def test_symbol_side_and_quantity_differences_fail_with_the_figures() -> None:
    alpaca = data(
        orders=(
            order(1, "sell", "AAPL", "4.5", "110"),
            order(2, "sell", "AMZN", "3", "400"),
            order(3, "buy", "TSLA", "2", "200.5"),
        )
    )
    check = fills_check(alpaca)
    assert check.status is FAIL
    assert check.details["qty_mismatch"] == ID1
    assert check.details["side_mismatch"] == ID2
    assert check.details["symbol_mismatch"] == ID2
    assert check.details[ID1] == "qty alpaca 4.5, ledger 4"
    assert check.details[ID2] == "symbol alpaca AMZN, ledger MSFT; side alpaca sell, ledger BUY"
    assert ID3 not in check.details
    assert check.details["matched"] == 3
    assert check.message.endswith(
        "problems: 1 with another symbol, 1 with another side, 1 with another quantity."
    )


def test_price_exactly_at_the_tolerance_warns_and_just_beyond_fails() -> None:
    at_limit = fills_check(ledger=view(fills(msft_price="400.04")))  # 0.04 = 0.0001 * 400
    assert at_limit.status is WARN
    assert at_limit.details["price_within_tolerance"] == ID2
    assert at_limit.details[ID2] == "price alpaca 400, ledger 400.04 (relative 0.0001)"
    assert at_limit.details["worst_price_deviation"] == "0.0001"
    assert at_limit.details["worst_price_order"] == ID2

    beyond = fills_check(ledger=view(fills(msft_price="400.0400004")))
    assert beyond.status is FAIL
    assert beyond.details["price_mismatch"] == ID2
    assert beyond.details["worst_price_deviation"] == "0.000100001"
    assert "price_within_tolerance" not in beyond.details


def test_price_tolerance_is_configurable() -> None:
    ledger = view(fills(msft_price="400.04"))
    strict = named(
        run(ledger=ledger, tolerances=IntegrityTolerances(price_relative=0)), FILLS_CHECK
    )
    assert strict.status is FAIL
    loose = IntegrityTolerances(price_relative=Decimal("0.001"))
    assert named(run(ledger=ledger, tolerances=loose), FILLS_CHECK).status is WARN
    assert (
        named(run(ledger=ledger, tolerances=loose), FILLS_CHECK).details["price_tolerance"]
        == "0.001"
    )


def test_the_worst_price_deviation_is_the_largest_relative_gap() -> None:
    alpaca = data(
        orders=(
            order(1, "sell", "AAPL", "4", "110.011"),  # 0.011 / 110.011 ~ 0.0000999900
            order(2, "buy", "MSFT", "3", "400.02"),  # 0.02 / 400.02 ~ 0.0000499975
            order(3, "buy", "TSLA", "2", "200.5"),
        )
    )
    check = fills_check(alpaca)
    assert check.status is WARN
    assert check.details["price_within_tolerance"] == f"{ID1}, {ID2}"
    assert check.details["worst_price_order"] == ID1
    assert check.details["worst_price_deviation"] == "0.00009999"


def test_a_filled_order_without_an_average_price_says_what_is_missing() -> None:
    alpaca = data(orders=(*orders()[:1], order(2, "buy", "MSFT", "3", None), orders()[2]))
    check = fills_check(alpaca)
    assert check.status is WARN  # nothing contradicts the ledger; the price cannot be compared
    assert check.details["incomplete_at_alpaca"] == ID2
    assert check.details[ID2] == "Alpaca did not report filled_avg_price of the order"
    assert "price_mismatch" not in check.details
    assert "1 that Alpaca reported without a figure to compare" in check.message


def test_a_filled_order_without_filled_qty_or_side_is_matched_and_says_what_is_missing() -> None:
    bare = order(2, "buy", "MSFT", "3", "400").model_copy(update={"filled_qty": None, "side": None})
    check = fills_check(data(orders=(*orders()[:1], bare, orders()[2])))
    assert check.status is WARN
    assert check.details["matched"] == 3
    assert check.details[ID2] == "Alpaca did not report side, filled_qty of the order"
    assert "qty_mismatch" not in check.details
    assert "side_mismatch" not in check.details


def test_legs_of_multi_leg_orders_are_compared_like_orders() -> None:
    take_profit = order(6, "sell", "NVDA", "1", "950", type="limit")
    stop_loss = order(7, "sell", "NVDA", "0", None, type="stop", status="canceled", filled_at=None)
    bracket = order(
        5, "buy", "NVDA", "1", "900", order_class="bracket", legs=(take_profit, stop_loss)
    )
    alpaca = data(orders=(*orders(), bracket))
    assert list(filled_in_period(alpaca)) == [ID1, ID2, ID3, alpaca_uuid(5), alpaca_uuid(6)]

    entry = strategy_fill(alpaca_uuid(5), "BUY", "1", "900", symbol="NVDA", seconds=DAY + 3 * HOUR)
    exit_ = strategy_fill(alpaca_uuid(6), "SELL", "1", "950", symbol="NVDA", seconds=DAY + 4 * HOUR)
    check = fills_check(alpaca, view(fills(entry, exit_)))
    assert check.status is PASS
    assert (check.details["alpaca_filled_orders"], check.details["matched"]) == (5, 5)

    check = fills_check(alpaca, view(fills(entry)))
    assert check.status is FAIL
    assert check.details["missing_from_ledger"] == alpaca_uuid(6)


def test_which_orders_count_as_filled_in_the_period() -> None:
    before = PERIOD_START - timedelta(days=1)
    early = {"submitted_at": before, "created_at": before, "updated_at": before}
    alpaca = data(
        orders=(
            # submitted before the period, FILL activity in it (filled_at not set yet)
            order(
                10, "buy", "AAPL", "1", "100", filled_at=None, status="partially_filled", **early
            ),
            # submitted before the period, filled_at in it, activity not (yet) listed
            order(11, "buy", "AAPL", "1", "100", filled_at=PERIOD_START, **early),
            # filled_at at period_end: the period is half-open
            order(12, "buy", "AAPL", "1", "100", filled_at=PERIOD_END),
            # filled before the period, no activity in it
            order(
                13,
                "buy",
                "AAPL",
                "1",
                "100",
                filled_at=PERIOD_START - timedelta(seconds=1),
                **early,
            ),
            # a FILL activity but nothing filled (zero quantity)
            order(14, "buy", "AAPL", "0", None, filled_at=None, status="canceled"),
        ),
        filled_order_ids=(alpaca_uuid(10), alpaca_uuid(14)),
    )
    assert list(filled_in_period(alpaca)) == [alpaca_uuid(10), alpaca_uuid(11)]


def test_an_order_submitted_before_the_period_matches_its_ledger_fill() -> None:
    before = PERIOD_START - timedelta(days=1)
    early = order(
        2, "buy", "MSFT", "3", "400", submitted_at=before, created_at=before, filled_at=None
    )
    alpaca = data(orders=(orders()[0], early, orders()[2]))
    assert fills_check(alpaca).status is PASS


def test_long_id_lists_are_capped_with_a_count_of_the_rest() -> None:
    many = [order(100 + i, "buy", "AAPL", "1", "100") for i in range(25)]
    check = fills_check(data(orders=(*orders(), *many)))
    ids = sorted(o.id for o in many)
    assert check.details["missing_from_ledger"] == ", ".join(ids[:20]) + " … (+5 more)"
    assert check.details["alpaca_filled_orders"] == 28


def test_per_order_descriptions_are_capped() -> None:
    ledger_fills = [
        strategy_fill(alpaca_uuid(100 + i), "BUY", "1", "10", seconds=DAY + i) for i in range(25)
    ]
    alpaca = data(
        orders=tuple(order(100 + i, "buy", "AAPL", "2", "10") for i in range(25)),
        positions=(alpaca_position("AAPL", qty="25"),),
        filled_order_ids=(),
    )
    check = fills_check(alpaca, view(ledger_fills))
    described = [key for key in check.details if key.startswith("00000000-")]
    assert described == sorted(alpaca_uuid(100 + i) for i in range(20))
    assert check.details["qty_mismatch"].endswith(" … (+5 more)")


# Positions ---------------------------------------------------------------------------------


def test_a_differing_position_fails_with_both_quantities() -> None:
    alpaca = data(positions=(alpaca_position("AAPL", qty="5"), *positions()[1:]))
    check = positions_check(alpaca)
    assert check.status is FAIL
    assert check.details["AAPL"] == "alpaca 5, ledger 6"
    assert (check.details["differing"], check.details["matched"]) == (1, 2)
    assert "1 differ (AAPL)" in check.message


def test_a_ledger_position_absent_at_alpaca_fails() -> None:
    check = positions_check(data(positions=tuple(positions()[:2])))
    assert check.status is FAIL
    assert check.details["TSLA"] == "alpaca 0, ledger 2"
    assert check.details["alpaca_positions"] == 2


def test_an_untracked_alpaca_position_warns() -> None:
    alpaca = data(positions=(*positions(), alpaca_position("NVDA", qty="1.5")))
    check = positions_check(alpaca)
    assert check.status is WARN
    assert check.details["NVDA"] == "alpaca 1.5, ledger never traded it"
    assert (check.details["untracked"], check.details["alpaca_positions"]) == (1, 4)
    assert "1 held at Alpaca but never traded in the ledger (NVDA)" in check.message


def test_flat_ledger_symbols_and_zero_quantity_positions_are_fine() -> None:
    flat = [
        strategy_fill(alpaca_uuid(60), "BUY", "1", "10", symbol="GME", seconds=10),
        strategy_fill(alpaca_uuid(61), "SELL", "1", "12", symbol="GME", seconds=20),
    ]
    alpaca = data(positions=(*positions(), alpaca_position("IBM", qty="0")))
    check = positions_check(alpaca, view(fills(*flat)))
    assert check.status is PASS
    assert check.details["ledger_positions"] == 3
    assert "GME" not in check.details
    assert "IBM" not in check.details

    alpaca = data(positions=(*positions(), alpaca_position("GME", qty="1")))
    check = positions_check(alpaca, view(fills(*flat)))
    assert check.status is FAIL
    assert check.details["GME"] == "alpaca 1, ledger 0"


@pytest.mark.parametrize("alpaca_qty", ["-2", "2"])
def test_short_positions_are_negative(alpaca_qty: str) -> None:
    oversell = strategy_fill(alpaca_uuid(70), "SELL", "2", "300", symbol="QQQ", seconds=30)
    short = alpaca_position("QQQ", qty=alpaca_qty, side="short")
    check = positions_check(data(positions=(*positions(), short)), view(fills(oversell)))
    assert check.status is PASS
    assert check.details["matched"] == 4

    check = positions_check(data(), view(fills(oversell)))
    assert check.details["QQQ"] == "alpaca 0, ledger -2"


def test_crypto_pairs_match_alpacas_position_symbol_without_the_slash() -> None:
    btc = strategy_fill(alpaca_uuid(80), "BUY", "0.5", "60000", symbol="BTC/USD", seconds=40)
    crypto = {"asset_class": "crypto", "exchange": "CRYPTO"}
    alpaca = data(positions=(*positions(), alpaca_position("BTCUSD", qty="0.5", **crypto)))
    assert positions_check(alpaca, view(fills(btc))).status is PASS

    alpaca = data(positions=(*positions(), alpaca_position("BTCUSD", qty="0.4", **crypto)))
    check = positions_check(alpaca, view(fills(btc)))
    assert check.details["BTC/USD"] == "alpaca 0.4, ledger 0.5"


def test_positions_of_one_symbol_are_summed() -> None:
    split = (alpaca_position("AAPL", qty="4"), alpaca_position("AAPL", qty="2", asset_class="x"))
    assert positions_check(data(positions=(*split, *positions()[1:]))).status is PASS


# Equity ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cash", "status", "difference"),
    [
        ("1000.5", PASS, "0"),
        ("1000.51", PASS, "-0.01"),  # exactly the absolute tolerance
        ("1000.52", WARN, "-0.02"),
        ("999.999975", WARN, "0.500025"),  # exactly 0.0001 * 5000.25
        ("999.999974", FAIL, "0.500026"),
    ],
)
def test_equity_tolerance_boundaries(cash: str, status: CheckStatus, difference: str) -> None:
    check = equity_check(cash=cash)
    assert check.status is status
    assert check.details["difference"] == difference
    assert check.details["cash"] == plain(Decimal(cash))


def test_negative_cash_and_short_market_value_add_up() -> None:
    check = equity_check(cash="-500", long_market_value="6000", short_market_value="-499.75")
    assert check.status is PASS
    assert check.details["balances"] == "5000.25"
    assert check.message == (
        "Alpaca equity 5000.25 vs cash -500 + long 6000 + short -499.75 = 5000.25: difference 0."
    )


def test_equity_tolerances_are_configurable() -> None:
    tolerances = IntegrityTolerances(equity_absolute=0, equity_relative=0)
    alpaca = data(account=alpaca_account(cash="1000.51"))
    assert named(run(alpaca, tolerances=tolerances), EQUITY_CHECK).status is FAIL


# Strategy totals ---------------------------------------------------------------------------


def test_a_rounding_sized_difference_warns_and_a_larger_one_fails() -> None:
    ledger = view()
    check = strategy_check(with_internal(ledger, total_buy_value="1601.000000001"))
    assert check.status is WARN
    assert check.details["buy_value_difference"] == "-0.000000001"
    assert check.details["ledger_buy_value"] == "1601.000000001"

    check = strategy_check(with_internal(ledger, total_sell_value="439.9999999989"))
    assert check.status is FAIL
    assert check.details["sell_value_difference"] == "0.0000000011"


def test_a_fee_difference_fails() -> None:
    check = strategy_check(with_internal(view(), total_fees="0.08"))
    assert check.status is FAIL
    assert (check.details["strategies_fees"], check.details["ledger_fees"]) == ("0.07", "0.08")
    assert check.details["fees_difference"] == "-0.01"
    assert "fees 0.07 vs 0.08" in check.message


def test_a_fill_attributed_to_an_inactive_strategy_fails() -> None:
    check = strategy_check(with_strategies(view(), ID3, ("gamma", "zeta")))
    assert check.status is FAIL
    assert check.details["fills_with_inactive_strategies"] == ID3
    assert check.details["inactive_strategies"] == "zeta"
    assert (check.details["fill_attributions"], check.details["strategy_period_trades"]) == (5, 4)


def test_an_active_strategy_without_period_fills_fails() -> None:
    check = strategy_check(with_strategies(view(), ID3, ("alpha",)))
    assert check.status is FAIL
    assert check.details["active_strategies_without_fills"] == "gamma"
    assert "fills_with_inactive_strategies" not in check.details


def test_a_period_without_fills_passes() -> None:
    ledger = view(fills()[:1])
    alpaca = data(orders=(), filled_order_ids=(), positions=(alpaca_position("AAPL", qty="10"),))
    checks = run(alpaca, ledger)
    assert [c.status for c in checks] == [PASS] * 4
    assert named(checks, STRATEGY_TOTALS_CHECK).details["strategies_active"] == 0
    assert named(checks, FILLS_CHECK).details["matched"] == 0
    assert "worst_price_deviation" not in named(checks, FILLS_CHECK).details


# Tolerances, summaries and strict mode -----------------------------------------------------


def test_tolerances_are_validated() -> None:
    assert IntegrityTolerances() == IntegrityTolerances(
        price_relative="0.0001", equity_absolute="0.01", equity_relative="0.0001"
    )
    with pytest.raises(ValidationError, match="must be >= 0"):
        IntegrityTolerances(equity_absolute="-0.01")
    with pytest.raises(ValidationError, match="extra"):
        IntegrityTolerances(price_absolute="1")  # type: ignore[call-arg]
    tolerances = IntegrityTolerances()
    with pytest.raises(ValidationError, match="frozen"):
        tolerances.price_relative = Decimal(1)  # type: ignore[misc]


def _check(name: str, status: CheckStatus) -> IntegrityCheck:
    return IntegrityCheck(name=name, status=status, message=f"{name} is {status.value}")


def test_worst_status_and_failed() -> None:
    checks = [_check("a", WARN), _check("b", FAIL), _check("c", PASS), _check("d", FAIL)]
    assert worst_status([]) is PASS
    assert worst_status(checks[2:3]) is PASS
    assert worst_status([checks[0], checks[2]]) is WARN
    assert worst_status(checks) is FAIL
    assert [c.name for c in failed(checks)] == ["b", "d"]


def test_strict_mode_raises_for_failures_naming_the_snapshot_and_checks() -> None:
    alpaca = data(account=alpaca_account(equity="6000"), positions=tuple(positions()[:2]))
    checks = run(alpaca)
    describe = "snapshot S (account acct-1, period_end 2024-03-03T00:00:00Z)"
    with pytest.raises(IntegrityCheckFailed) as raised:
        enforce_strict(checks, describe=describe)
    error = raised.value
    assert isinstance(error, IntegrityError)
    assert [c.name for c in error.checks] == [EQUITY_CHECK, POSITIONS_CHECK]
    message = str(error)
    assert message.startswith(f"{describe} failed 2 integrity check(s)")
    for check in error.checks:
        assert f"{check.name}: {check.message}" in message


def test_strict_mode_lets_warnings_through() -> None:
    alpaca = data(positions=(*positions(), alpaca_position("NVDA", qty="1")))
    checks = run(alpaca, view(fills(msft_price="400.04")))
    assert worst_status(checks) is WARN
    enforce_strict(checks, describe="snapshot S")
    enforce_strict(run(), describe="snapshot S")
