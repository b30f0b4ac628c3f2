"""The internal ledger of a snapshot, read from the trade ledger (moto and DynamoDB Local).

The scenario, worked out by hand (account acct-1, period = 2024-03-02, UTC):

    before  o1  BUY  AAPL 10 @ 100  alpha 0.6 / beta 0.4  fees 0.10   2024-03-01 14:30
    before  o2  BUY  MSFT  5 @ 400  alpha                fees 0       2024-03-01 15:30
    period  o3  SELL AAPL  5 @ 110  alpha 0.6 / beta 0.4  fees 0.05   2024-03-02 14:30
    period  o4  BUY  AAPL  2 @ 105  alpha                fees 0.01   2024-03-02 15:30
    period  o5  SELL MSFT  6 @ 390  alpha (oversells 1)  fees 0.02   2024-03-02 16:30
    period  o6  BUY  TSLA  1 @ 200  gamma                fees 0       2024-03-02 17:30
    after   o7  SELL AAPL  1 @ 1000 alpha                              2024-03-03 14:30
    after   o8  BUY  NVDA  1 @ 10   delta                              2024-03-03 14:30
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from pydantic import ValidationError

from ledger_store.decimals import plain
from ledger_store.dto import Side, StrategyAttribution, TradeFill
from ledger_store.errors import IntegrityError, LedgerValidationError
from ledger_store.models import LedgerItem, StrategyTradeItem
from ledger_store.trades import TradeLedgerRepository, _attribution_dto, _attribution_item
from snapshots.ledger.fifo import fifo_match
from snapshots.ledger.metrics import (
    LedgerView,
    build_internal_ledger,
    read_ledger,
    summarize_ledger,
)
from snapshots.schema import TradeMetrics
from tests.builders import (
    ACCOUNT,
    THIRDS,
    at,
    attributions_of,
    exact_sum,
    record_all,
    strategy_fill,
)

DAY, HOUR = 86_400, 3_600
START = datetime(2024, 3, 2, tzinfo=UTC)
END = datetime(2024, 3, 3, tzinfo=UTC)
SPLIT = {"alpha": "0.6", "beta": "0.4"}


def scenario() -> list[TradeFill]:
    return [
        strategy_fill("o1", "BUY", "10", "100", allocation=SPLIT, fees="0.10"),
        strategy_fill("o2", "BUY", "5", "400", symbol="MSFT", seconds=HOUR),
        strategy_fill("o3", "SELL", "5", "110", allocation=SPLIT, fees="0.05", seconds=DAY),
        strategy_fill("o4", "BUY", "2", "105", fees="0.01", seconds=DAY + HOUR),
        strategy_fill("o5", "SELL", "6", "390", symbol="MSFT", fees="0.02", seconds=DAY + 2 * HOUR),
        strategy_fill(
            "o6",
            "BUY",
            "1",
            "200",
            symbol="TSLA",
            allocation={"gamma": "1"},
            seconds=DAY + 3 * HOUR,
        ),
        strategy_fill("o7", "SELL", "1", "1000", seconds=2 * DAY),
        strategy_fill(
            "o8", "BUY", "1", "10", symbol="NVDA", allocation={"delta": "1"}, seconds=2 * DAY
        ),
    ]


def figures(metrics: TradeMetrics) -> dict[str, Any]:
    """The metrics as plain text, for compact hand-written expectations."""
    return {
        "trades": (metrics.total_trades, metrics.buy_trades, metrics.sell_trades),
        "buy": plain(metrics.total_buy_value),
        "sell": plain(metrics.total_sell_value),
        "gross": plain(metrics.gross_pnl),
        "realized": plain(metrics.realized_pnl),
        "fees": plain(metrics.fees),
        "net": plain(metrics.net_realized_pnl),
        "symbols": metrics.symbols_traded,
        "first": metrics.first_trade_at,
        "last": metrics.last_trade_at,
        "oversells": [(o.order_id, plain(o.unmatched_qty)) for o in metrics.oversells],
    }


def lots(performance: Any) -> list[tuple[str, str, str, str]]:
    return [
        (lot.symbol, lot.order_id, plain(lot.qty), plain(lot.price))
        for lot in performance.open_lots
    ]


@pytest.fixture
def recorded(ledger: TradeLedgerRepository) -> TradeLedgerRepository:
    record_all(ledger, scenario())
    return ledger


def test_ledger_totals_of_the_period(recorded: TradeLedgerRepository) -> None:
    internal = build_internal_ledger(recorded, ACCOUNT, START, END)
    assert internal.ledger_id == recorded.settings.table_name
    assert internal.total_trades == 4  # o3, o4, o5, o6: o3 is shared by alpha and beta
    assert internal.total_buy_value == Decimal("410")  # o4 2 x 105 + o6 1 x 200
    assert internal.total_sell_value == Decimal("2890")  # o3 5 x 110 + o5 6 x 390
    assert internal.total_fees == Decimal("0.08")  # 0.05 + 0.01 + 0.02
    assert internal.strategies_active == ("alpha", "beta", "gamma")
    # delta only trades after period_end: not part of this snapshot at all
    assert list(internal.strategy_performance) == ["alpha", "beta", "gamma"]


def test_strategy_metrics_cumulative_and_period(recorded: TradeLedgerRepository) -> None:
    performance = build_internal_ledger(recorded, ACCOUNT, START, END).strategy_performance
    alpha, beta, gamma = performance["alpha"], performance["beta"], performance["gamma"]

    # alpha: buys 6 AAPL @100, 5 MSFT @400, 2 AAPL @105; sells 3 AAPL @110, 6 MSFT @390
    assert figures(alpha) == {
        "trades": (5, 3, 2),
        "buy": "2810",  # 600 + 2000 + 210
        "sell": "2670",  # 330 + 2340
        "gross": "-140",
        "realized": "-20",  # 3 x (110 - 100) + 5 x (390 - 400); the 6th MSFT is unmatched
        "fees": "0.12",  # 0.06 + 0 + 0.03 + 0.01 + 0.02
        "net": "-20.12",
        "symbols": ("AAPL", "MSFT"),
        "first": at(),
        "last": at(seconds=DAY + 2 * HOUR),
        "oversells": [("o5", "1")],
    }
    assert figures(alpha.period) == {
        "trades": (3, 1, 2),
        "buy": "210",
        "sell": "2670",
        "gross": "2460",
        "realized": "-20",  # the period's sells, matched against lots bought before it
        "fees": "0.06",
        "net": "-20.06",
        "symbols": ("AAPL", "MSFT"),
        "first": at(seconds=DAY),
        "last": at(seconds=DAY + 2 * HOUR),
        "oversells": [("o5", "1")],
    }
    assert lots(alpha) == [("AAPL", "o1", "3", "100"), ("AAPL", "o4", "2", "105")]

    # beta: buys 4 AAPL @100, sells 2 @110
    assert figures(beta) == {
        "trades": (2, 1, 1),
        "buy": "400",
        "sell": "220",
        "gross": "-180",
        "realized": "20",
        "fees": "0.06",  # 0.04 + 0.02
        "net": "19.94",
        "symbols": ("AAPL",),
        "first": at(),
        "last": at(seconds=DAY),
        "oversells": [],
    }
    assert figures(beta.period)["trades"] == (1, 0, 1)
    assert figures(beta.period)["buy"] == "0"
    assert figures(beta.period)["net"] == "19.98"
    assert lots(beta) == [("AAPL", "o1", "2", "100")]

    # gamma only trades in the period: cumulative == period
    assert figures(gamma) == figures(gamma.period)
    assert figures(gamma)["gross"] == "-200"
    assert lots(gamma) == [("TSLA", "o6", "1", "200")]


def test_what_the_integrity_checks_need(recorded: TradeLedgerRepository) -> None:
    view = read_ledger(recorded, ACCOUNT, START, END)
    assert list(view.period_fills) == ["o3", "o4", "o5", "o6"]
    o3 = view.period_fills["o3"]
    assert (o3.symbol, o3.side, o3.qty, o3.price, o3.fees) == (
        "AAPL",
        Side.SELL,
        5,
        110,
        Decimal("0.05"),
    )
    assert o3.strategies == ("alpha", "beta")
    assert o3.notional == Decimal("550")
    # bought minus sold through period_end: AAPL 10 - 5 + 2, MSFT 5 - 6, TSLA 1 (no NVDA yet)
    assert {s: plain(q) for s, q in view.net_positions.items()} == {
        "AAPL": "7",
        "MSFT": "-1",
        "TSLA": "1",
    }
    assert view.internal_ledger == build_internal_ledger(recorded, ACCOUNT, START, END)


def test_an_earlier_period_ignores_later_fills(recorded: TradeLedgerRepository) -> None:
    first_day = build_internal_ledger(
        recorded, ACCOUNT, datetime(2024, 3, 1, tzinfo=UTC), START, ledger_id="prod-ledger"
    )
    assert first_day.ledger_id == "prod-ledger"
    assert first_day.total_trades == 2  # o1 and o2
    assert first_day.total_buy_value == Decimal("3000")  # 1000 + 2000
    assert first_day.total_sell_value == 0
    assert first_day.strategies_active == ("alpha", "beta")
    alpha = first_day.strategy_performance["alpha"]
    assert alpha.realized_pnl == 0
    assert lots(alpha) == [("AAPL", "o1", "6", "100"), ("MSFT", "o2", "5", "400")]


def test_a_period_without_fills(recorded: TradeLedgerRepository) -> None:
    quiet = build_internal_ledger(
        recorded,
        ACCOUNT,
        datetime(2024, 3, 2, 20, tzinfo=UTC),
        datetime(2024, 3, 2, 21, tzinfo=UTC),
    )
    assert (quiet.total_trades, quiet.total_buy_value, quiet.total_sell_value) == (0, 0, 0)
    assert quiet.strategies_active == ()
    alpha = quiet.strategy_performance["alpha"]
    assert alpha.total_trades == 5  # the cumulative history is still there
    assert alpha.period.total_trades == 0
    assert (alpha.period.first_trade_at, alpha.period.last_trade_at) == (None, None)


def test_an_unknown_account_has_an_empty_ledger(recorded: TradeLedgerRepository) -> None:
    empty = build_internal_ledger(recorded, "acct-2", START, END)
    assert (empty.total_trades, empty.strategy_performance, empty.strategies_active) == (0, {}, ())


def test_a_fill_split_in_thirds_is_valued_exactly(ledger: TradeLedgerRepository) -> None:
    record_all(ledger, [strategy_fill("t1", "BUY", "7", "187.25", allocation=THIRDS, seconds=DAY)])
    internal = build_internal_ledger(ledger, ACCOUNT, START, END)
    assert internal.total_trades == 1  # one order, three strategies
    assert internal.total_buy_value == Decimal("1310.75")  # 7 x 187.25
    shares = {n: p.period.total_buy_value for n, p in internal.strategy_performance.items()}
    # 7 x 0.333333333 = 2.333333331 (alpha, beta); gamma gets 2.333333338
    assert shares == {
        "alpha": Decimal("436.91666622975"),
        "beta": Decimal("436.91666622975"),
        "gamma": Decimal("436.9166675405"),
    }
    assert sum(shares.values()) == Decimal("1310.75")


def test_the_period_must_be_ordered_and_aware(ledger: TradeLedgerRepository) -> None:
    with pytest.raises(LedgerValidationError, match="before"):
        build_internal_ledger(ledger, ACCOUNT, END, START)
    with pytest.raises(LedgerValidationError, match="naive"):
        build_internal_ledger(ledger, ACCOUNT, datetime(2024, 3, 2), END)  # noqa: DTZ001


# The pure core: contradictory input is an IntegrityError ---------------------------------------


def summarize(attributions: list[Any]) -> LedgerView:
    return summarize_ledger(
        attributions, account_id=ACCOUNT, period_start=START, period_end=END, ledger_id="t"
    )


def test_summary_matches_the_repository_path() -> None:
    view = summarize(attributions_of(scenario()))
    assert view.internal_ledger.total_trades == 4
    assert view.internal_ledger.total_sell_value == Decimal("2890")


def test_attributions_of_one_order_must_agree() -> None:
    [alpha, beta] = strategy_fill("o1", "BUY", "10", "100", allocation=SPLIT).attributions()
    with pytest.raises(IntegrityError, match="o1"):
        summarize([alpha, beta.model_copy(update={"price": Decimal("101")})])
    with pytest.raises(IntegrityError, match="o1"):
        summarize([alpha, alpha])


def test_attributions_of_another_account_are_rejected() -> None:
    [share] = strategy_fill("o1", "BUY", "1", "100").attributions()
    with pytest.raises(IntegrityError, match="other accounts"):
        summarize([share.model_copy(update={"account_id": "acct-2"})])


def test_an_order_whose_shares_do_not_add_up_in_38_digits_is_rejected() -> None:
    # Valid shares (no TradeFill split makes them: more than 9 places) whose sum needs 40
    # digits: the fill cannot be rebuilt, whether it is in the period or before it.
    def shares(seconds: int) -> list[StrategyAttribution]:
        [alpha, beta] = strategy_fill(
            "o1", "BUY", "10", "100", allocation=SPLIT, seconds=seconds
        ).attributions()
        return [
            StrategyAttribution.model_validate({**alpha.model_dump(), "qty": Decimal("1E+21")}),
            StrategyAttribution.model_validate({**beta.model_dump(), "qty": Decimal("1E-18")}),
        ]

    for seconds in (0, DAY):  # before the period, in it
        with pytest.raises(ValidationError, match=r"LedgerFill\nqty"):
            summarize(shares(seconds))


# The summary against the validated FIFO (fifo_match), on seeded random histories ------------


def random_history(seed: int, fills: int = 90) -> list[TradeFill]:
    """Fills over three days (before, in and after the period): ties, oversells, shared fills."""
    rng = random.Random(seed)
    allocations = [{"alpha": "1"}, {"beta": "1"}, SPLIT, THIRDS]
    return [
        strategy_fill(
            f"o{n:03d}",
            "BUY" if rng.random() < 0.55 else "SELL",
            str(Decimal(rng.randint(1, 4000)) / 100),
            str(Decimal(rng.randint(100, 50_000)) / 100),
            seconds=rng.randrange(0, 3 * DAY, HOUR // 2),
            symbol=rng.choice(["AAPL", "MSFT", "TSLA"]),
            fees=str(Decimal(rng.randint(0, 300)) / 1000),
            allocation=rng.choice(allocations),
        )
        for n in range(fills)
    ]


@pytest.mark.parametrize("seed", range(8))
def test_the_summary_agrees_with_the_validated_fifo(seed: int) -> None:
    fills = random_history(seed)
    attributions = attributions_of(fills)
    shuffled = list(attributions)
    random.Random(seed).shuffle(shuffled)
    view = summarize(shuffled)
    assert view == summarize(attributions)  # input order does not matter

    cumulative = [a for a in attributions if a.filled_at < END]
    fifo = fifo_match(cumulative)
    performance = view.internal_ledger.strategy_performance
    assert set(performance) == {a.strategy for a in cumulative}
    for name, p in performance.items():
        books = fifo.for_strategy(name)
        assert p.realized_pnl == exact_sum(r.realized_pnl for b in books for r in b.realizations)
        assert p.period.realized_pnl == exact_sum(
            r.realized_pnl for r in fifo.realizations_between(START, END, strategy=name)
        )
        assert p.open_lots == tuple(
            sorted(
                (lot for b in books for lot in b.open_lots),
                key=lambda lot: (lot.symbol, lot.opened_at, lot.order_id),
            )
        )
        assert p.oversells == tuple(
            sorted(
                (o for b in books for o in b.oversells),
                key=lambda o: (o.filled_at, o.order_id, o.symbol),
            )
        )

    in_period = [f for f in fills if START <= f.filled_at < END]
    assert list(view.period_fills) == sorted(f.order_id for f in in_period)
    for fill in in_period:
        rebuilt = view.period_fills[fill.order_id]
        assert (rebuilt.symbol, rebuilt.side, rebuilt.qty, rebuilt.price, rebuilt.fees) == (
            fill.symbol,
            fill.side,
            fill.qty,
            fill.price,
            fill.fees,
        )
        assert rebuilt.strategies == tuple(fill.strategy_allocation)
    net = {
        symbol: exact_sum(
            f.qty if f.side is Side.BUY else -f.qty
            for f in fills
            if f.symbol == symbol and f.filled_at < END
        )
        for symbol in {f.symbol for f in fills if f.filled_at < END}
    }
    assert view.net_positions == dict(sorted(net.items()))


# Reading attributions back from their items (what GSI3 serves) ----------------------------------


def test_stored_attributions_read_back_as_their_dtos() -> None:
    assert set(StrategyAttribution.model_fields) <= set(StrategyTradeItem.get_attributes())
    for attribution in attributions_of(scenario()):
        raw = _attribution_item(attribution).serialize()
        item = LedgerItem.from_raw_data(raw)
        assert isinstance(item, StrategyTradeItem)
        read = _attribution_dto(item)
        assert read == attribution
        assert read.model_fields_set == attribution.model_fields_set


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("qty", Decimal(-1)),
        ("price", Decimal(0)),
        ("symbol", "aapl"),
        ("side", "HOLD"),
        ("order_id", "a#b"),
        ("strategy", None),  # a missing attribute
        ("filled_at", datetime(2024, 3, 2, 12)),  # noqa: DTZ001 - naive on purpose
    ],
)
def test_a_corrupt_stored_attribution_is_rejected_as_before(name: str, value: Any) -> None:
    [attribution] = strategy_fill("o1", "BUY", "1", "100").attributions()
    item = _attribution_item(attribution)
    setattr(item, name, value)
    with pytest.raises(ValidationError) as expected:
        StrategyAttribution(**{f: getattr(item, f) for f in StrategyAttribution.model_fields})
    # The library's own error, naming the item, with the DTO's very refusal as its cause.
    with pytest.raises(IntegrityError, match="TRADE#o1 / STRATEGY#alpha") as actual:
        _attribution_dto(item)
    cause = actual.value.__cause__
    assert isinstance(cause, ValidationError)
    assert str(cause) == str(expected.value)
    assert name in str(actual.value)


def test_a_ledger_of_fills_at_every_limit_aggregates_exactly() -> None:
    """The bounds of a fill keep every aggregate inside 38 significant digits: fills at the
    largest notional with 9 + 9 decimal places, the largest fee, split three ways."""
    from ledger_store.dto import MAX_NOTIONAL
    from snapshots.ledger.metrics import summarize_ledger

    qty, fee = "99.999999999", "9999999.999999999"
    buy, sell = "9999999.999999999", "9999999.999999998"
    fills = [
        strategy_fill(f"{side}{n:02d}", side, qty, price, seconds=at, fees=fee, allocation=THIRDS)
        for n in range(30)
        for side, price, at in (("BUY", buy, 2 * n), ("SELL", sell, 2 * n + 1))
    ]
    assert max(f.notional for f in fills) < MAX_NOTIONAL
    start, end = datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC)

    ledger = summarize_ledger(
        attributions_of(fills),
        account_id=ACCOUNT,
        period_start=start,
        period_end=end,
        ledger_id="t",
    ).internal_ledger

    assert Fraction(ledger.total_buy_value) == 30 * Fraction(qty) * Fraction(buy)  # exact
    assert Fraction(ledger.total_fees) == 60 * Fraction(fee)
    assert ledger.strategy_performance["alpha"].realized_pnl < 0
    assert len(plain(ledger.total_buy_value).replace(".", "")) <= 38
