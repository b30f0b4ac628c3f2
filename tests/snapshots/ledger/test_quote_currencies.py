"""Pairs quoted in BTC and USDT valued in USD (issue 24): each fill is a trade of each coin on
its own USD book, at the USD value of one unit of the quote currency recorded with it.

The history, by hand (strategy ``alpha``; r is USD per unit of the quote currency):

=== ======================================== ================================= =============
t   fill                                     legs in USD                        realised USD
=== ======================================== ================================= =============
0   buy 40,000 USDT/USD at 1.0002            USDT lot 40,000 @ 1.0002
1   buy 1 BTC/USD at 50,000                  BTC lot 1 @ 50,000
2   buy 2 ETH/BTC at 0.05, r 60,000,         ETH lot 2 @ 3,000; sell 0.1 BTC   0.1 x 10,000
    fee 0.0001 BTC (6 USD)                   @ 60,000 (BTC lot 1 -> 0.9)        = 1,000
3   sell 2 ETH/BTC at 0.06, r 55,000         sell 2 ETH @ 3,300;               2 x 300 = 600
                                             buy 0.12 BTC @ 55,000
4   buy 0.5 BTC/USDT at 62,000, r 0.999      BTC lot 0.5 @ 61,938;             31,000 x
                                             sell 31,000 USDT @ 0.999           -0.0012 = -37.2
5   sell 0.5 BTC/USDT at 64,000, r 1.0001    sell 0.5 BTC @ 64,006.4 (the      0.5 x 14,006.4
                                             oldest: 50,000); buy 32,000 USDT   = 7,003.2
                                             @ 1.0001
=== ======================================== ================================= =============

Realised 8,566, fees 6, net 8,560. Left: BTC 0.4 @ 50,000, 0.12 @ 55,000, 0.5 @ 61,938 (1.02
BTC); USDT 9,000 @ 1.0002 and 32,000 @ 1.0001 (41,000); no ETH.
Buy value 40,008 + 50,000 + 6,000 + 6,600 + 30,969 + 32,003.2 = 165,580.2; sell value 6,000 +
6,600 + 30,969 + 32,003.2 = 75,572.2 (a crossed fill is on both sides: one coin acquired, one
disposed of).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from ledger_store.dto import TradeFill, parse_fill
from ledger_store.errors import IntegrityError, LedgerValidationError
from snapshots.integrity import check_strategy_totals
from snapshots.ledger.metrics import summarize_ledger
from snapshots.ledger.summary import AccountView, LedgerBase, summarize_account
from tests.builders import PERIOD_START, attributions_of, fill_data, strategy_fill

ACCOUNT = "acct-1"


def history() -> list[TradeFill]:
    return [
        strategy_fill("usdt-1", "BUY", "40000", "1.0002", seconds=0, symbol="USDT/USD"),
        strategy_fill("btc-1", "BUY", "1", "50000", seconds=60, symbol="BTC/USD"),
        strategy_fill(
            "ethbtc-1",
            "BUY",
            "2",
            "0.05",
            seconds=120,
            symbol="ETH/BTC",
            fees="0.0001",
            quote_usd_rate="60000",
        ),
        strategy_fill(
            "ethbtc-2", "SELL", "2", "0.06", seconds=180, symbol="ETH/BTC", quote_usd_rate="55000"
        ),
        strategy_fill(
            "btcusdt-1",
            "BUY",
            "0.5",
            "62000",
            seconds=240,
            symbol="BTC/USDT",
            quote_usd_rate="0.999",
        ),
        strategy_fill(
            "btcusdt-2",
            "SELL",
            "0.5",
            "64000",
            seconds=300,
            symbol="BTC/USDT",
            quote_usd_rate="1.0001",
        ),
    ]


def view_of(fills: list[TradeFill], *, until_seconds: int = 3600) -> AccountView:
    start = PERIOD_START - timedelta(days=1)  # the day of ``at()``
    return summarize_account(
        attributions_of(fills),
        [],
        account_id=ACCOUNT,
        period_start=start,
        period_end=fills[0].filled_at + timedelta(seconds=until_seconds),
        ledger_id="ledger-test",
        prices={"BTCUSD": Decimal("70000"), "USDTUSD": Decimal("1"), "ETHUSD": Decimal("3500")},
        revisions={},
        event_count=0,
    )


def test_round_trips_in_btc_and_usdt_realise_the_hand_computed_usd_pnl() -> None:
    alpha = view_of(history()).internal_ledger.strategy_performance["alpha"]
    realised = {(m.symbol, m.close_order_id): m.realized_pnl for m in alpha.period_round_trips}
    assert realised == {
        ("BTC/USD", "ethbtc-1"): Decimal("1000"),
        ("ETH/USD", "ethbtc-2"): Decimal("600"),
        ("USDT/USD", "btcusdt-1"): Decimal("-37.2"),
        ("BTC/USD", "btcusdt-2"): Decimal("7003.2"),
    }
    assert alpha.realized_pnl == Decimal("8566")
    assert alpha.fees == Decimal("6")
    assert alpha.net_realized_pnl == Decimal("8560")
    assert (alpha.total_buy_value, alpha.total_sell_value) == (
        Decimal("165580.2"),
        Decimal("75572.2"),
    )
    assert (alpha.total_trades, alpha.buy_trades, alpha.sell_trades) == (6, 4, 2)
    assert alpha.symbols_traded == ("BTC/USD", "ETH/USD", "USDT/USD")


def test_the_btc_lots_shrink_by_what_the_eth_purchase_spent() -> None:
    fills = history()
    after_eth = view_of(fills[:3], until_seconds=150)
    btc = list(after_eth.internal_ledger.strategy_performance["alpha"].open_lots)
    assert [(lot.symbol, lot.qty, lot.price) for lot in btc] == [
        ("BTC/USD", Decimal("0.9"), Decimal("50000")),
        ("ETH/USD", Decimal("2"), Decimal("3000")),
        ("USDT/USD", Decimal("40000"), Decimal("1.0002")),
    ]
    assert after_eth.net_positions["BTC/USD"] == Decimal("0.9")
    end = view_of(fills)
    lots = end.internal_ledger.strategy_performance["alpha"].open_lots
    assert [(lot.symbol, lot.qty, lot.price) for lot in lots] == [
        ("BTC/USD", Decimal("0.4"), Decimal("50000")),
        ("BTC/USD", Decimal("0.12"), Decimal("55000")),
        ("BTC/USD", Decimal("0.5"), Decimal("61938")),
        ("USDT/USD", Decimal("9000"), Decimal("1.0002")),
        ("USDT/USD", Decimal("32000"), Decimal("1.0001")),
    ]
    assert end.net_positions["BTC/USD"] == Decimal("1.02")
    assert end.net_positions["USDT/USD"] == Decimal("41000")
    assert end.net_positions["ETH/USD"] == 0
    # the pairs as traded are flat books of their own (no position is held in a pair)
    assert end.net_positions["ETH/BTC"] == 0


def test_the_accounts_totals_value_each_crossed_fill_on_both_sides_in_usd() -> None:
    ledger = view_of(history()).internal_ledger
    assert (ledger.total_buy_value, ledger.total_sell_value, ledger.total_fees) == (
        Decimal("165580.2"),
        Decimal("75572.2"),
        Decimal("6"),
    )


def test_a_stored_crossed_fill_without_its_rate_is_never_summed_as_dollars() -> None:
    """A fill recorded before rates existed (written past today's door) stops the snapshot
    with the order, the pair and what to do, instead of counting 0.1 BTC as 0.1 USD."""
    fill = TradeFill.model_validate({**history()[2].model_dump(), "quote_usd_rate": None})
    with pytest.raises(IntegrityError) as caught:
        view_of([history()[1], fill])
    message = str(caught.value)
    assert "order ethbtc-1 was recorded without quote_usd_rate" in message
    assert "ETH/BTC is quoted in BTC, not USD" in message
    assert "Amend the fill with its quote_usd_rate" in message


# Many-digit prices and rates: the quote coin at a coin's 9 places, values at 18 ----------------

#: 0.123456789 ETH sold at 0.030512345 BTC: 0.003766955845... BTC, settled as 0.003766956.
MANY = {"qty": "0.123456789", "price": "0.030512345", "quote_usd_rate": "61234.567891234"}


def test_the_quote_coin_a_fill_moves_is_settled_at_a_coin_positions_9_places() -> None:
    btc = strategy_fill("btc-1", "BUY", "1", "50000", seconds=0, symbol="BTC/USD")
    sell = strategy_fill("ethbtc-1", "SELL", seconds=60, symbol="ETH/BTC", **MANY)
    view = view_of([btc, sell])
    assert view.net_positions["BTC/USD"] == Decimal("1.003766956")
    assert view.net_positions["ETH/USD"] == Decimal("-0.123456789")
    (quoted,) = view.internal_ledger.quoted_fills
    assert quoted.quote_qty == Decimal("0.003766956")
    # the ETH's value rounded once, half-even, to 18 places (the exact product has 27)
    exact = Decimal("0.123456789") * Decimal("0.030512345") * Decimal("61234.567891234")
    assert quoted.usd_value == exact.quantize(Decimal("1E-18"))
    assert view.internal_ledger.total_sell_value == quoted.usd_value
    assert view.internal_ledger.total_buy_value == Decimal(50000) + Decimal(
        "0.003766956"
    ) * Decimal("61234.567891234")


def test_a_fill_shared_by_strategies_shares_its_quote_coin_exactly_and_the_totals_agree() -> None:
    """0.3 / 0.3 / 0.4 of a many-digit fill: each strategy's BTC is its weight's part of the
    fill's 9-place amount (largest remainders), they add up to it, and the strategies' values
    add up to the account's (the strategy-totals check passes, not warns)."""
    shared = strategy_fill(
        "ethbtc-1",
        "BUY",
        seconds=60,
        symbol="ETH/BTC",
        allocation={"a": "0.3", "b": "0.3", "c": "0.4"},
        **MANY,
    )
    view = view_of([shared])
    btc = {
        name: sum((lot.qty for lot in p.open_lots if lot.symbol == "BTC/USD"), Decimal(0))
        for name, p in view.internal_ledger.strategy_performance.items()
    }
    assert sum(btc.values()) == Decimal("0.003766956")  # shorts: the strategies held no BTC
    assert view.net_positions["BTC/USD"] == Decimal("-0.003766956")
    check = check_strategy_totals(view)
    assert check.status == "pass", check.message


def test_carried_forward_equals_rebuilt_with_many_digit_crossed_fills() -> None:
    """Each share's USD value is rounded before it is summed, so a ledger carried forward from
    a snapshot equals the one read from the start, byte for byte."""
    fills = [
        strategy_fill("btc-1", "BUY", "2", "50000", seconds=0, symbol="BTC/USD"),
        strategy_fill("ethbtc-1", "BUY", seconds=60, symbol="ETH/BTC", **MANY),
        strategy_fill(
            "ethbtc-2",
            "BUY",
            "0.987654321",
            "0.031234567",
            seconds=86_400 + 60,
            symbol="ETH/BTC",
            quote_usd_rate="60987.654321987",
        ),
    ]
    start = PERIOD_START - timedelta(days=1)
    middle, end = start + timedelta(days=1), start + timedelta(days=2)

    def view(period_start: datetime, base: LedgerBase | None = None) -> AccountView:
        since = base.period_end if base else None
        return summarize_account(
            [a for a in attributions_of(fills) if since is None or a.filled_at >= since],
            [],
            account_id=ACCOUNT,
            period_start=period_start,
            period_end=middle if period_start == start and base is None else end,
            ledger_id="ledger-test",
            prices={"BTCUSD": Decimal("70000"), "ETHUSD": Decimal("3500")},
            revisions={},
            event_count=0,
            base=base,
        )

    first = view(start)
    base = LedgerBase(snapshot_id="s-1", period_end=middle, ledger=first.internal_ledger)
    carried = view(middle, base)
    rebuilt = view(middle)
    assert carried.internal_ledger == rebuilt.internal_ledger
    buy_value = rebuilt.internal_ledger.strategy_performance["alpha"].total_buy_value
    assert buy_value.as_tuple().exponent == -18  # the ETH's 27-place products, rounded


def test_a_fill_too_small_to_move_a_unit_of_the_quote_coin_is_refused() -> None:
    with pytest.raises(LedgerValidationError, match="too small to move the quote coin"):
        parse_fill(
            fill_data(symbol="SHIB/USDC", qty="0.001", price="0.0000001", quote_usd_rate="1")
        )


def test_a_pair_of_a_coin_with_itself_is_refused() -> None:
    with pytest.raises(LedgerValidationError, match="BTC/BTC is a pair of BTC with itself"):
        parse_fill(fill_data(symbol="BTC/BTC", price="1", quote_usd_rate="60000"))


def test_the_1_1_ledger_refuses_crossed_fills_instead_of_summing_them_as_dollars() -> None:
    with pytest.raises(IntegrityError, match=r"quoted in another currency than USD \(ethbtc-1\)"):
        summarize_ledger(
            attributions_of(history()[:3]),
            account_id=ACCOUNT,
            period_start=PERIOD_START - timedelta(days=1),
            period_end=PERIOD_START,
            ledger_id="ledger-test",
        )
