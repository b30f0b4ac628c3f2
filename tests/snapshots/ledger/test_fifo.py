"""FIFO lot matching (pure: no table). Expected numbers are worked out by hand in comments."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

import pytest
from pydantic import ValidationError

from ledger_store.decimals import normalize, plain
from ledger_store.dto import Side, StrategyAttribution
from ledger_store.errors import LedgerValidationError
from snapshots.ledger.fifo import (
    MONEY_PLACES,
    BookRecords,
    FifoBook,
    FifoResult,
    OpenLot,
    Oversell,
    fifo_match,
    fifo_order,
    fifo_records,
    fits,
)
from tests.builders import T0, THIRDS, at, attributions_of, exact_sum, strategy_fill


def run(*fills: object) -> FifoResult:
    return fifo_match(attributions_of(fills))  # type: ignore[arg-type]


def only_book(result: FifoResult, strategy: str = "alpha", symbol: str = "AAPL") -> FifoBook:
    book = result.book(strategy, symbol)
    assert book is not None
    return book


def lots(book: FifoBook) -> list[tuple[str, str, str]]:
    """(opening order, remaining qty, price) of each open lot, oldest first."""
    return [(lot.order_id, plain(lot.qty), plain(lot.price)) for lot in book.open_lots]


def test_simple_round_trip() -> None:
    result = run(
        strategy_fill("b1", "BUY", "10", "100", fees="1.25"),
        strategy_fill("s1", "SELL", "10", "110", seconds=60, fees="0.75"),
    )
    book = only_book(result)
    assert book.realized_pnl == Decimal("100")  # 10 x (110 - 100)
    assert book.fees == Decimal("2")  # fees are not in realized_pnl ...
    assert book.net_realized_pnl == Decimal("98")  # ... but in net_realized_pnl
    assert book.open_lots == ()
    assert book.oversells == ()
    assert (book.bought_qty, book.sold_qty, book.matched_qty) == (10, 10, 10)
    assert (result.realized_pnl, result.fees, result.net_realized_pnl) == (100, 2, 98)
    [realization] = book.realizations
    assert (realization.proceeds, realization.cost_basis, realization.realized_pnl) == (
        1100,
        1000,
        100,
    )


def test_a_loss_is_negative() -> None:
    book = only_book(
        run(
            strategy_fill("b1", "BUY", "4", "50"),
            strategy_fill("s1", "SELL", "4", "47.5", seconds=1),
        )
    )
    assert book.realized_pnl == Decimal("-10")  # 4 x (47.5 - 50)


def test_partial_closes_split_the_lot() -> None:
    buy = strategy_fill("b1", "BUY", "10", "100")
    first = run(buy, strategy_fill("s1", "SELL", "4", "105", seconds=1))
    book = only_book(first)
    assert book.realized_pnl == Decimal("20")  # 4 x 5
    assert lots(book) == [("b1", "6", "100")]
    assert book.open_lots[0].opened_at == T0  # the remainder keeps the buy's time

    second = run(
        buy,
        strategy_fill("s1", "SELL", "4", "105", seconds=1),
        strategy_fill("s2", "SELL", "3", "90", seconds=2),
    )
    book = only_book(second)
    assert book.realized_pnl == Decimal("-10")  # 20 + 3 x (90 - 100)
    assert lots(book) == [("b1", "3", "100")]
    assert [plain(r.realized_pnl) for r in book.realizations] == ["20", "-30"]


def test_one_sell_consumes_several_lots_oldest_first() -> None:
    book = only_book(
        run(
            strategy_fill("b1", "BUY", "5", "100", seconds=0),
            strategy_fill("b2", "BUY", "5", "110", seconds=1),
            strategy_fill("b3", "BUY", "5", "120", seconds=2),
            strategy_fill("s1", "SELL", "12", "130", seconds=3),
        )
    )
    # 5 x 30 + 5 x 20 + 2 x 10: the newest lot is the one left open
    assert book.realized_pnl == Decimal("270")
    [realization] = book.realizations
    assert realization.cost_basis == Decimal("1290")  # 500 + 550 + 240
    assert realization.proceeds == Decimal("1560")  # 12 x 130
    assert lots(book) == [("b3", "3", "120")]


def test_input_order_does_not_matter_fills_are_ordered_by_time_then_order_id() -> None:
    fills = [
        strategy_fill("b1", "BUY", "5", "100", seconds=0),
        strategy_fill("b2", "BUY", "5", "110", seconds=1),
        strategy_fill("s1", "SELL", "7", "120", seconds=2),
        strategy_fill("b3", "BUY", "2", "90", seconds=3),
        strategy_fill("s2", "SELL", "4", "95", seconds=4),
    ]
    expected = run(*fills)
    # 5 x 20 + 2 x 10 = 120; then 3 x (95 - 110) + 1 x (95 - 90) = -40
    assert only_book(expected).realized_pnl == Decimal("80")
    assert lots(only_book(expected)) == [("b3", "1", "90")]
    shuffled = list(fills)
    random.Random(7).shuffle(shuffled)
    assert run(*shuffled) == expected
    assert run(*reversed(fills)) == expected


def test_ties_in_time_are_broken_by_order_id() -> None:
    # Same instant: "a-buy" < "b-sell", so the buy comes first and the sell is matched.
    matched = only_book(
        run(
            strategy_fill("b-sell", "SELL", "1", "110"),
            strategy_fill("a-buy", "BUY", "1", "100"),
        )
    )
    assert matched.realized_pnl == 10
    assert matched.oversells == ()
    # Same instant: "a-sell" < "b-buy", so the sell comes first and finds no lot.
    oversold = only_book(
        run(
            strategy_fill("b-buy", "BUY", "1", "100"),
            strategy_fill("a-sell", "SELL", "1", "110"),
        )
    )
    assert oversold.realized_pnl == 0
    assert [o.order_id for o in oversold.oversells] == ["a-sell"]
    assert lots(oversold) == [("b-buy", "1", "100")]


def test_strategies_sharing_a_fill_by_weight_have_separate_books() -> None:
    result = run(
        strategy_fill("b1", "BUY", "10", "100", allocation=THIRDS, fees="0.03"),
        strategy_fill("s1", "SELL", "10", "110", allocation=THIRDS, seconds=1),
    )
    assert [b.strategy for b in result.books] == ["alpha", "beta", "gamma"]
    # 10 x 0.333333333 = 3.33333333 shares for alpha and beta, 3.33333334 for gamma
    assert only_book(result, "alpha").realized_pnl == Decimal("33.3333333")
    assert only_book(result, "beta").realized_pnl == Decimal("33.3333333")
    assert only_book(result, "gamma").realized_pnl == Decimal("33.3333334")
    assert result.realized_pnl == Decimal("100")  # the shares add up to the whole fill exactly
    assert result.fees == Decimal("0.03")
    # 0.03 x weights = 0.00999999999, 0.00999999999, 0.01000000002: truncated to 9 places and the
    # two leftover units go to the largest remainders (alpha, beta) -> 0.01 each
    assert [plain(b.fees) for b in result.books] == ["0.01", "0.01", "0.01"]


def test_a_sell_allocated_differently_from_the_buy() -> None:
    result = run(
        strategy_fill("b1", "BUY", "10", "100", allocation={"alpha": "0.6", "beta": "0.4"}),
        strategy_fill(
            "s1", "SELL", "10", "105", seconds=1, allocation={"alpha": "0.5", "beta": "0.5"}
        ),
    )
    alpha, beta = only_book(result, "alpha"), only_book(result, "beta")
    assert alpha.realized_pnl == Decimal("25")  # sells 5 of its 6
    assert lots(alpha) == [("b1", "1", "100")]
    assert alpha.oversells == ()
    assert beta.realized_pnl == Decimal("20")  # sells 5 but holds 4
    assert beta.oversells == (
        Oversell(
            strategy="beta",
            symbol="AAPL",
            order_id="s1",
            filled_at=at(seconds=1),
            sell_qty=Decimal("5"),
            unmatched_qty=Decimal("1"),
        ),
    )


def test_an_oversell_is_reported_not_raised_and_realises_only_the_matched_part() -> None:
    result = run(
        strategy_fill("b1", "BUY", "3", "100"),
        strategy_fill("s1", "SELL", "5", "110", seconds=1),
        strategy_fill("b2", "BUY", "4", "120", seconds=2),
    )
    book = only_book(result)
    assert book.realized_pnl == Decimal("30")  # 3 x 10; the 2 unmatched realise nothing
    [oversell] = book.oversells
    assert (oversell.order_id, oversell.sell_qty, oversell.unmatched_qty) == ("s1", 5, 2)
    assert (book.sold_qty, book.matched_qty, book.unmatched_qty) == (5, 3, 2)
    # no short lot is opened: the later buy opens a plain long lot
    assert lots(book) == [("b2", "4", "120")]
    assert result.oversells == (oversell,)
    [realization] = book.realizations
    assert (realization.sell_qty, realization.matched_qty) == (5, 3)


def test_a_sell_with_no_lots_at_all_is_entirely_unmatched() -> None:
    book = only_book(run(strategy_fill("s1", "SELL", "2.5", "10")))
    assert book.realized_pnl == 0
    assert [(o.order_id, plain(o.unmatched_qty)) for o in book.oversells] == [("s1", "2.5")]
    assert book.open_lots == ()


def test_symbols_are_independent() -> None:
    result = run(
        strategy_fill("b1", "BUY", "10", "100", symbol="AAPL"),
        strategy_fill("s1", "SELL", "5", "300", symbol="MSFT", seconds=1),
        strategy_fill("s2", "SELL", "4", "101", symbol="AAPL", seconds=2),
    )
    assert [(b.strategy, b.symbol) for b in result.books] == [("alpha", "AAPL"), ("alpha", "MSFT")]
    aapl, msft = only_book(result, symbol="AAPL"), only_book(result, symbol="MSFT")
    assert aapl.realized_pnl == 4
    assert lots(aapl) == [("b1", "6", "100")]
    assert msft.realized_pnl == 0
    assert [plain(o.unmatched_qty) for o in msft.oversells] == ["5"]
    assert [o.symbol for o in result.oversells] == ["MSFT"]


def test_fractional_quantities() -> None:
    book = only_book(
        run(
            strategy_fill("b1", "BUY", "0.123456789", "187.25"),
            strategy_fill("b2", "BUY", "1.5", "190.1", seconds=1),
            strategy_fill("s1", "SELL", "1.000000001", "200", seconds=2),
        )
    )
    # 0.123456789 x 12.75 + (1.000000001 - 0.123456789 = 0.876543212) x 9.9
    # = 1.57407405975 + 8.6777777988
    assert book.realized_pnl == Decimal("10.25185185855")
    assert lots(book) == [("b2", "0.623456788", "190.1")]  # 1.5 - 0.876543212


def test_arithmetic_is_exact() -> None:
    # float would give 0.30000000000000004
    small = only_book(
        run(
            strategy_fill("b1", "BUY", "1", "0.1"),
            strategy_fill("b2", "BUY", "1", "0.2", seconds=1),
            strategy_fill("s1", "SELL", "2", "0.3", seconds=2),
        )
    )
    assert small.realized_pnl == Decimal("0.3")
    assert plain(small.realized_pnl) == "0.3"
    # A sum of 29 significant digits, more than the default decimal context's 28: 37
    # round trips near the largest notional a fill may have (10^9), each realising
    # Q x (S - B) with 18 decimal places.
    qty, buy, sell = "12345.123456789", "0.000000001", "80999.999999999"
    trips = 37
    fills = []
    for n in range(trips):
        fills.append(strategy_fill(f"b{n:02d}", "BUY", qty, buy, seconds=2 * n))
        fills.append(strategy_fill(f"s{n:02d}", "SELL", qty, sell, seconds=2 * n + 1))
    big = only_book(run(*fills))
    exact = trips * Fraction(qty) * (Fraction(sell) - Fraction(buy))
    assert Fraction(big.realized_pnl) == exact
    assert len(big.realized_pnl.as_tuple().digits) == 29
    assert big.realized_pnl == Decimal("36998334999.995719460864197614")


def test_money_beyond_the_documented_places_is_rounded_half_even_per_sell() -> None:
    """A fill's qty and price have at most 9 places each, so its amounts fit 18 exactly; the
    rounding guards attributions built otherwise (``share``: 10-place prices)."""
    assert MONEY_PLACES == 18
    book = only_book(
        fifo_match(
            [
                share("b1", "BUY", "0.000000001", "1"),
                # proceeds 0.000000001 x 1.0000000005 = 0.0000000010000000005 (19 places)
                # -> 0.000000001000000000 (half-even: the kept digit 0 is even)
                share("s1", "SELL", "0.000000001", "1.0000000005", 1),
                share("b2", "BUY", "0.000000001", "1", 2),
                # 0.0000000010000000015 -> 0.000000001000000002 (kept digit 1 is odd: rounds up)
                share("s2", "SELL", "0.000000001", "1.0000000015", 3),
            ]
        )
    )
    assert [plain(r.proceeds) for r in book.realizations] == ["0.000000001", "0.000000001000000002"]
    assert book.realized_pnl == Decimal("0.000000000000000002")


def test_fees_include_buys_whose_lots_are_still_open() -> None:
    book = only_book(
        run(
            strategy_fill("b1", "BUY", "2", "10", fees="0.1"),
            strategy_fill("s1", "SELL", "1", "12", seconds=1, fees="0.05"),
        )
    )
    assert book.realized_pnl == 2
    assert book.fees == Decimal("0.15")
    assert book.net_realized_pnl == Decimal("1.85")
    assert lots(book) == [("b1", "1", "10")]


def test_a_zero_quantity_share_opens_no_lot() -> None:
    # 0.000000001 split 50/50 at 9 places: alpha gets the unit, beta gets 0
    result = run(
        strategy_fill("b1", "BUY", "0.000000001", "10", allocation={"alpha": "0.5", "beta": "0.5"})
    )
    assert lots(only_book(result, "alpha")) == [("b1", "0.000000001", "10")]
    beta = only_book(result, "beta")
    assert beta.open_lots == ()
    assert beta.bought_qty == 0


def test_realizations_between_is_half_open() -> None:
    result = run(
        strategy_fill("b1", "BUY", "3", "10"),
        strategy_fill("s1", "SELL", "1", "11", seconds=10),
        strategy_fill("s2", "SELL", "1", "12", seconds=20),
        strategy_fill("s3", "SELL", "1", "13", seconds=30),
    )
    window = result.realizations_between(at(seconds=10), at(seconds=30))
    assert [r.order_id for r in window] == ["s1", "s2"]
    assert exact_sum(r.realized_pnl for r in window) == 3
    assert [r.order_id for r in result.realizations_between(None, None)] == ["s1", "s2", "s3"]
    assert result.realizations_between(None, None, strategy="beta") == ()


def test_the_same_attribution_twice_is_rejected() -> None:
    fill = strategy_fill("b1", "BUY", "1", "10")
    with pytest.raises(LedgerValidationError, match="twice"):
        run(fill, fill)


@dataclass(frozen=True)
class _RawFill:
    order_id: str
    qty: Decimal
    fees: Decimal
    strategy: str = "alpha"
    symbol: str = "AAPL"
    side: Side = Side.BUY
    price: Decimal = Decimal(1)
    filled_at: datetime = T0


def test_sums_that_would_need_rounding_raise_instead() -> None:
    far_apart = [
        _RawFill("o1", Decimal(1), Decimal("1E+37")),
        _RawFill("o2", Decimal(1), Decimal("1E-40")),
    ]
    with pytest.raises(LedgerValidationError, match="exactly"):
        fifo_match(far_apart)


def test_an_unbalanced_book_cannot_be_built() -> None:
    good = only_book(run(strategy_fill("b1", "BUY", "2", "10", fees="0.1")))
    data = good.model_dump()
    with pytest.raises(ValidationError, match="bought_qty"):
        FifoBook.model_validate({**data, "bought_qty": Decimal(3)})
    with pytest.raises(ValidationError, match="net_realized_pnl"):
        FifoBook.model_validate({**data, "net_realized_pnl": Decimal(0)})
    foreign = OpenLot(
        strategy="beta", symbol="AAPL", order_id="b1", opened_at=T0, qty=Decimal(2), price=10
    )
    with pytest.raises(ValidationError, match="belong"):
        FifoBook.model_validate({**data, "open_lots": (foreign,)})
    with pytest.raises(ValidationError, match="sorted"):
        FifoResult(books=(good, good))


# fifo_records: the FIFO summarize_ledger runs (no per-sell or per-book models) -----------------


def random_attributions(seed: int, fills: int = 80) -> list[StrategyAttribution]:
    """A seeded mix of buys and sells (ties in time, oversells, shared and zero shares)."""
    rng = random.Random(seed)
    allocations = [{"alpha": "1"}, {"beta": "1"}, {"alpha": "0.6", "beta": "0.4"}, THIRDS]
    history = []
    for n in range(fills):
        qty = Decimal(rng.randint(1, 4000)) / 100 if rng.random() < 0.9 else Decimal("1E-9")
        history.append(
            strategy_fill(
                f"o{n:03d}",
                "BUY" if rng.random() < 0.55 else "SELL",
                str(qty),
                str(Decimal(rng.randint(100, 50_000)) / 100),
                seconds=rng.randint(0, fills // 2),
                symbol=rng.choice(["AAPL", "MSFT"]),
                fees=str(Decimal(rng.randint(0, 300)) / 1000),
                allocation=rng.choice(allocations),
            )
        )
    return attributions_of(history)


def as_records(result: FifoResult) -> tuple[BookRecords, ...]:
    """What ``fifo_records`` must give: ``fifo_match``'s books without the per-sell models."""
    return tuple(
        BookRecords(
            strategy=b.strategy,
            symbol=b.symbol,
            realized=tuple((r.filled_at, r.realized_pnl) for r in b.realizations),
            oversells=b.oversells,
            open_lots=b.open_lots,
        )
        for b in result.books
    )


@pytest.mark.parametrize("seed", range(12))
def test_fifo_records_are_fifo_match_without_the_models(seed: int) -> None:
    attributions = random_attributions(seed)
    expected = as_records(fifo_match(attributions))
    records = fifo_records(sorted(attributions, key=fifo_order))
    assert records == expected
    assert [plain(pnl) for b in records for _, pnl in b.realized] == [
        plain(pnl) for b in expected for _, pnl in b.realized
    ]
    assert any(b.oversells for b in records)  # the mix exercises oversells and open lots
    assert any(b.open_lots for b in records)


def share(order_id: str, side: str, qty: str, price: str, seconds: int = 0) -> StrategyAttribution:
    """A valid attribution with amounts no ``TradeFill`` split can produce (> 9 places)."""
    return StrategyAttribution(
        order_id=order_id,
        account_id="acct-1",
        strategy="alpha",
        correlation_id="cycle-1",
        symbol="AAPL",
        side=Side(side),
        qty=Decimal(qty),
        price=Decimal(price),
        weight=Decimal(1),
        fees=Decimal(0),
        filled_at=at(seconds=seconds),
    )


@pytest.mark.parametrize(
    ("fills", "field"),
    [
        pytest.param(
            # matched 1E+21 + 1E-18 (40 digits); proceeds and cost round to 1E+20 at 0.1
            [
                share("b1", "BUY", "1E+21", "0.1"),
                share("b2", "BUY", "1E-18", "0.1", 1),
                share("s1", "SELL", "2E+21", "0.1", 2),
            ],
            "matched_qty",
            id="realization",
        ),
        pytest.param(
            # realised 1E+21 - 1E-18 (40 digits): proceeds 1000 x 1E+18, cost 1000 x 1E-21
            [share("b1", "BUY", "1000", "1E-21"), share("s1", "SELL", "1000", "1E+18", 1)],
            "realized_pnl",
            id="realization-pnl",
        ),
        pytest.param(
            # bought 1E+21 + 1E-18 (40 digits): both lots fit, the book total does not
            [share("b1", "BUY", "1E+21", "1"), share("b2", "BUY", "1E-18", "1", 1)],
            "bought_qty",
            id="book",
        ),
    ],
)
def test_fifo_records_fail_exactly_where_fifo_match_fails(
    fills: list[StrategyAttribution], field: str
) -> None:
    with pytest.raises(ValidationError, match=field) as expected:
        fifo_match(fills)
    with pytest.raises(ValidationError) as actual:
        fifo_records(sorted(fills, key=fifo_order))
    assert str(actual.value) == str(expected.value)


def test_fits_is_what_normalize_accepts() -> None:
    rng = random.Random(3)
    values = [Decimal(0), Decimal("-0.000"), Decimal("1E+40"), Decimal("1" * 38 + "000")]
    values += [Decimal("1" * 39), Decimal("9" * 38 + ".5"), Decimal("1." + "0" * 50)]
    values += [Decimal("9.9E+75"), Decimal("1E+76"), Decimal("0E+90"), Decimal("1E-90")]
    for _ in range(3000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 45)))
        sign = rng.choice(["", "-"])
        values.append(Decimal(f"{sign}{digits}E{rng.randint(-100, 100)}"))
    for value in values:
        try:
            normalize(value)
        except (LedgerValidationError, ArithmeticError):  # too many digits / too large
            accepted = False
        else:
            accepted = True
        assert fits(value) is accepted, value
