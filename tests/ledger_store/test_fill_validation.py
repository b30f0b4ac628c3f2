"""Validation of ``TradeFill`` (via ``parse_fill``) and the exact per-strategy split. No storage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, localcontext
from typing import Any

import pytest

from ledger_store.dto import TradeFill, parse_fill
from ledger_store.errors import LedgerValidationError
from tests.builders import T0, THIRDS, exact_sum, fill_data, make_fill

LONG_ID = "x" * 129
MAX_ID = "x" * 128

# (overrides, text the error must contain: the field path, then the reason)
REJECTED: list[Any] = [
    pytest.param({"qty": "0"}, "qty: must be > 0", id="qty-zero"),
    pytest.param({"qty": "-1"}, "qty: must be > 0", id="qty-negative"),
    pytest.param({"qty": "0.0000000001"}, "qty: at most 9 decimal places", id="qty-10-places"),
    pytest.param({"qty": "abc"}, "qty: not a decimal number", id="qty-not-a-number"),
    pytest.param({"qty": "NaN"}, "qty: number must be finite", id="qty-nan"),
    pytest.param({"qty": True}, "qty: expected a number", id="qty-bool"),
    pytest.param({"price": "0"}, "price: must be > 0", id="price-zero"),
    pytest.param({"price": "-187.25"}, "price: must be > 0", id="price-negative"),
    pytest.param({"fees": "-0.01"}, "fees: must be >= 0", id="fees-negative"),
    pytest.param({"fees": "0.0000000001"}, "fees: at most 9 decimal places", id="fees-10-places"),
    pytest.param(
        {"filled_at": datetime(2024, 3, 1, 14, 30)},  # noqa: DTZ001 - the naive input under test
        "filled_at: timestamp must be timezone-aware",
        id="naive-datetime",
    ),
    pytest.param(
        {"filled_at": "2024-03-01T14:30:00"},
        "filled_at: timestamp must be timezone-aware",
        id="naive-iso-string",
    ),
    pytest.param({"symbol": "aapl"}, "symbol: symbol 'aapl' is malformed", id="symbol-lower"),
    pytest.param({"symbol": " AAPL"}, "is malformed", id="symbol-leading-space"),
    pytest.param({"symbol": "AA PL"}, "is malformed", id="symbol-inner-space"),
    pytest.param({"symbol": "AAPL#"}, "is malformed", id="symbol-hash"),
    pytest.param({"symbol": ""}, "is malformed", id="symbol-empty"),
    pytest.param({"symbol": "AAPL\n"}, "is malformed", id="symbol-trailing-newline"),
    pytest.param({"symbol": "BRK.B.C"}, "is malformed", id="symbol-two-separators"),
    pytest.param({"side": "buy"}, "side: Input should be 'BUY' or 'SELL'", id="side-lower"),
    pytest.param({"order_type": "market_on_close"}, "order_type:", id="order-type-unknown"),
    pytest.param({"venue": "IEX"}, "venue: Extra inputs are not permitted", id="unknown-field"),
    pytest.param(
        {"bid_at_fill": "187.26", "ask_at_fill": "187.25"},
        "bid_at_fill 187.26 is above ask_at_fill 187.25",
        id="bid-above-ask",
    ),
    pytest.param({"bid_at_fill": "0"}, "bid_at_fill: must be > 0", id="bid-zero"),
    pytest.param(
        {"strategy_allocation": {"alpha": "0.5", "beta": "0.4"}},
        "strategy_allocation: weights must sum exactly to 1, got 0.9",
        id="weights-sum-below-1",
    ),
    pytest.param(
        {"strategy_allocation": {"alpha": "0.5", "beta": "0.6"}},
        "weights must sum exactly to 1, got 1.1",
        id="weights-sum-above-1",
    ),
    pytest.param(
        # Off by 1e-31: the default 28-digit decimal context would round the sum to exactly 1.
        {"strategy_allocation": {"alpha": "0.5", "beta": "0.5000000000000000000000000000001"}},
        "weights must sum exactly to 1, got 1.0000000000000000000000000000001",
        id="weights-sum-off-beyond-28-digits",
    ),
    pytest.param(
        {"strategy_allocation": {"alpha": "1.5", "beta": "-0.5"}},
        "strategy_allocation.beta: must be > 0",
        id="weight-negative",
    ),
    pytest.param(
        {"strategy_allocation": {"alpha": "1", "beta": "0"}},
        "strategy_allocation.beta: must be > 0",
        id="weight-zero",
    ),
    pytest.param(
        {"strategy_allocation": {}},
        "strategy_allocation: Dictionary should have at least 1",
        id="empty-allocation",
    ),
    # Values that once escaped as decimal.Overflow / InvalidOperation / OverflowError.
    pytest.param(
        {"qty": "1E+999999999"}, "qty: number '1E+999999999' is out of range", id="qty-1e999999999"
    ),
    pytest.param({"price": "1E+76"}, "price: number '1E+76' is out of range", id="price-1e76"),
    pytest.param(
        {"fees": "1E-999999999"},
        "fees: number '1E-999999999' is out of range",
        id="fees-1e-999999999",
    ),
    pytest.param(
        {"qty": 10**5000},
        "qty: number (an integer of 16610 bits) is out of range",
        id="qty-huge-int",
    ),
    pytest.param({"qty": "1" * 200}, "qty: number text is 200 characters long", id="qty-long-text"),
    pytest.param(
        {"filled_at": "0001-01-01T00:00:00+01:00"},
        "filled_at: timestamp 0001-01-01T00:00:00+01:00 is out of range",
        id="year-1-with-offset",
    ),
    pytest.param(
        {"filled_at": "0999-12-31T23:59:59Z"}, "filled_at: timestamp 0999-12-31", id="year-999"
    ),
    pytest.param(
        {"filled_at": "1969-12-31T23:59:59Z"}, "is out of range: from 1970-01-01", id="before-1970"
    ),
    # Bounds that keep every aggregate within 38 significant digits.
    pytest.param(
        {"qty": "10000000000.000000001"}, "qty: must be at most 10000000000", id="qty-above-max"
    ),
    pytest.param(
        {"price": "10000000.000000001"}, "price: must be at most 10000000", id="price-above-max"
    ),
    pytest.param(
        {"price": "1.0000000001"}, "price: at most 9 decimal places", id="price-10-places"
    ),
    pytest.param(
        {"ask_at_fill": "20000000"}, "ask_at_fill: must be at most 10000000", id="ask-above-max"
    ),
    pytest.param(
        {"fees": "10000000.000000001"}, "fees: must be at most 10000000", id="fees-above-max"
    ),
    pytest.param(
        {"qty": "100000", "price": "10000.000000001"},
        "notional qty x price 1000000000.0001 is above the limit 1000000000",
        id="notional-above-max",
    ),
    pytest.param(
        # 41 strategies whose weights do sum to 1: only the count is wrong.
        {"strategy_allocation": {f"s{i:02d}": "0.024" for i in range(40)} | {"s40": "0.04"}},
        "at most 40 strategies per fill, got 41",
        id="41-strategies",
    ),
]

ID_FIELDS = ["order_id", "account_id", "correlation_id"]
INVISIBLE = "must not contain control or invisible characters"
BAD_IDS: list[Any] = [
    pytest.param("a#b", "must not contain '#'", id="hash"),
    pytest.param("a\x00b", INVISIBLE, id="nul"),
    pytest.param("a\tb", INVISIBLE, id="tab"),
    pytest.param("a\x85b", INVISIBLE, id="c1-control"),
    pytest.param("a\u2028b", INVISIBLE, id="line-separator"),
    pytest.param("a\u200bb", INVISIBLE, id="zero-width-space"),
    pytest.param("a\u202eb", INVISIBLE, id="bidi-override"),
    pytest.param("", "must not be empty", id="empty"),
    pytest.param("   ", "must not be empty", id="whitespace-only"),
    pytest.param(" a", "must not start or end with whitespace", id="leading-space"),
    pytest.param("a ", "must not start or end with whitespace", id="trailing-space"),
    pytest.param(LONG_ID, "is 129 characters long; the limit is 128", id="129-chars"),
]


def test_the_base_fill_is_valid() -> None:
    """Guards every rejection below: each one changes exactly one thing in this fill."""
    fill = make_fill()
    assert fill.qty == Decimal(10)
    assert fill.filled_at == T0


@pytest.mark.parametrize(("overrides", "message"), REJECTED)
def test_invalid_fill_is_rejected(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(LedgerValidationError) as caught:
        parse_fill(fill_data(**overrides))
    assert message in str(caught.value)


@pytest.mark.parametrize("field", ID_FIELDS)
@pytest.mark.parametrize(("value", "reason"), BAD_IDS)
def test_invalid_id_is_rejected(field: str, value: str, reason: str) -> None:
    with pytest.raises(LedgerValidationError) as caught:
        parse_fill(fill_data(**{field: value}))
    assert f"{field}: {field} {reason}" in str(caught.value)


@pytest.mark.parametrize(("value", "reason"), BAD_IDS)
def test_invalid_strategy_name_is_rejected(value: str, reason: str) -> None:
    with pytest.raises(LedgerValidationError) as caught:
        parse_fill(fill_data(strategy_allocation={"alpha": "0.5", value: "0.5"}))
    assert f"strategy {reason}" in str(caught.value)


def test_every_problem_is_reported_without_urls() -> None:
    with pytest.raises(LedgerValidationError) as caught:
        parse_fill(fill_data(qty="0", symbol="aapl", order_id="a#b"))
    message = str(caught.value)
    assert message.count("; ") == 2
    for field in ("qty:", "symbol:", "order_id:"):
        assert field in message
    assert "http" not in message


@pytest.mark.parametrize("symbol", ["AAPL", "BRK.B", "BTC/USD", "A", "SPY2"])
def test_valid_symbols_are_accepted(symbol: str) -> None:
    assert make_fill(symbol=symbol).symbol == symbol


@pytest.mark.parametrize("field", ID_FIELDS)
@pytest.mark.parametrize(
    "value", [MAX_ID, "a", "order-ÄÖü-1", "a b"], ids=["128", "1", "uni", "sp"]
)
def test_valid_ids_are_accepted(field: str, value: str) -> None:
    assert getattr(make_fill(**{field: value}), field) == value


def test_boundary_values_are_accepted() -> None:
    fill = make_fill(
        qty="0.000000001",
        fees="0",
        bid_at_fill="187.25",
        ask_at_fill="187.25",
        strategy_allocation={f"s{i:02d}": "0.025" for i in range(40)},
    )
    assert fill.qty == Decimal("0.000000001")
    assert len(fill.strategy_allocation) == 40
    assert fill.bid_at_fill == fill.ask_at_fill


def test_the_largest_fill_is_accepted() -> None:
    fill = make_fill(
        qty="100000", price="10000", fees="10000000", bid_at_fill="10000000", ask_at_fill="10000000"
    )
    assert fill.notional == Decimal(10) ** 9
    assert make_fill(qty="10000000000", price="0.1").notional == Decimal(10) ** 9
    assert make_fill(filled_at="1970-01-01T00:00:00Z").filled_at == datetime(1970, 1, 1, tzinfo=UTC)


def test_a_fill_dated_in_the_future_beyond_clock_skew_is_rejected() -> None:
    soon = datetime.now(UTC) + timedelta(minutes=4)
    assert make_fill(filled_at=soon).filled_at == soon
    later = datetime.now(UTC) + timedelta(minutes=6)
    with pytest.raises(LedgerValidationError, match=r"filled_at: .* is in the future"):
        parse_fill(fill_data(filled_at=later))


@pytest.mark.parametrize("field", [*ID_FIELDS, "strategy"])
def test_key_parts_are_normalised_to_nfc(field: str) -> None:
    """NFD "é" (e + combining acute) and NFC "é" are one id, one strategy."""
    nfd, nfc = "caf\u0065\u0301", "caf\u00e9"

    def fill_with(name: str) -> TradeFill:
        if field == "strategy":
            return make_fill(strategy_allocation={name: "1"})
        return make_fill(**{field: name})

    decomposed, composed = fill_with(nfd), fill_with(nfc)
    assert decomposed == composed
    assert decomposed.content_sha256() == composed.content_sha256()
    if field == "strategy":
        assert decomposed.attributions()[0].strategy == nfc
    else:
        assert getattr(decomposed, field) == nfc


def test_fill_is_frozen() -> None:
    fill = make_fill()
    with pytest.raises(ValueError, match="frozen"):
        fill.qty = Decimal(1)  # type: ignore[misc]


# Normalisation ------------------------------------------------------------------------------


def test_equal_values_written_differently_are_the_same_fill() -> None:
    a = make_fill(
        qty="1.50", price="100.000", fees="0.10", strategy_allocation={"b": "0.50", "a": "0.5"}
    )
    b = make_fill(qty="1.5", price="1E+2", fees="0.1", strategy_allocation={"a": "0.5", "b": "0.5"})
    assert a == b
    assert a.content_sha256() == b.content_sha256()
    assert str(a.qty) == "1.5"
    assert str(a.price) == "100"  # positional, not 1E+2
    assert str(a.fees) == "0.1"
    assert list(a.strategy_allocation) == ["a", "b"]


def test_floats_are_taken_by_their_text_not_their_binary_value() -> None:
    assert make_fill(qty=0.1, price=187.3).qty == Decimal("0.1")
    assert make_fill(qty=0.1, price=187.3).price == Decimal("187.3")


@pytest.mark.parametrize(
    "change",
    [
        {"qty": "10.000000001"},
        {"price": "187.26"},
        {"fees": "0.02"},
        {"side": "SELL"},
        {"filled_at": T0 + timedelta(microseconds=1)},
        {"strategy_allocation": {"alpha": "0.5", "beta": "0.5"}},
        {"bid_at_fill": "187.2"},
    ],
    ids=["qty", "price", "fees", "side", "filled_at", "allocation", "bid"],
)
def test_content_hash_changes_with_any_field(change: dict[str, Any]) -> None:
    assert make_fill(**change).content_sha256() != make_fill().content_sha256()


@pytest.mark.parametrize(
    "filled_at",
    [
        "2024-03-01T09:30:00-05:00",
        "2024-03-01T20:00:00+05:30",
        datetime(2024, 3, 1, 15, 30, tzinfo=timezone(timedelta(hours=1))),
        "2024-03-01T14:30:00Z",
    ],
    ids=["new-york", "india", "aware-datetime", "zulu"],
)
def test_timestamps_are_converted_to_utc(filled_at: Any) -> None:
    fill = make_fill(filled_at=filled_at)
    assert fill.filled_at == T0
    assert fill.filled_at.utcoffset() == timedelta(0)
    assert fill.filled_at.tzinfo == UTC
    assert fill.content_sha256() == make_fill(filled_at=T0).content_sha256()


# The per-strategy split ---------------------------------------------------------------------


@pytest.mark.parametrize("qty", ["1", "7", "0.000000001", "123.456789123", "9999999999.999999999"])
@pytest.mark.parametrize("fees", ["0", "0.01", "1.000000001", "0.000000002", "9999999.999999999"])
def test_split_sums_exactly_to_qty_and_fees(qty: str, fees: str) -> None:
    # The largest quantity and fee a fill accepts, at a price that keeps the notional legal.
    fill = make_fill(qty=qty, price="0.01", fees=fees, strategy_allocation=THIRDS)
    shares = fill.attributions()
    assert [a.strategy for a in shares] == ["alpha", "beta", "gamma"]
    assert exact_sum(a.qty for a in shares) == fill.qty
    assert exact_sum(a.fees for a in shares) == fill.fees
    for share in shares:
        assert share.qty >= 0
        assert share.fees >= 0
        assert -share.qty.as_tuple().exponent <= 9  # type: ignore[operator]
        assert -share.fees.as_tuple().exponent <= 9  # type: ignore[operator]
        assert share.weight == Decimal(THIRDS[share.strategy])
        # never further than one unit (1e-9) from the exact proportional share
        with localcontext(prec=200):
            assert abs(share.qty - fill.qty * share.weight) < Decimal("1e-9")


@pytest.mark.parametrize(
    ("qty", "expected"),
    [
        ("1", ["0.333333333", "0.333333333", "0.333333334"]),
        ("7", ["2.333333331", "2.333333331", "2.333333338"]),
        # all three truncate to 0; the one unit goes to the largest remainder (gamma)
        ("0.000000001", ["0", "0", "0.000000001"]),
        # two units: gamma's remainder is largest; alpha wins the alpha/beta tie by position
        ("0.000000002", ["0.000000001", "0", "0.000000001"]),
    ],
    ids=["1", "7", "1-unit", "2-units"],
)
def test_split_of_awkward_weights(qty: str, expected: list[str]) -> None:
    shares = make_fill(qty=qty, strategy_allocation=THIRDS).attributions()
    assert [a.qty for a in shares] == [Decimal(e) for e in expected]


def test_split_is_deterministic_and_ordered_by_strategy() -> None:
    # Equal remainders: the leftover unit goes to the first strategy by name, whatever the
    # order the allocation was given in.
    forward = make_fill(qty="0.000000001", strategy_allocation={"a": "0.5", "b": "0.5"})
    backward = make_fill(qty="0.000000001", strategy_allocation={"b": "0.5", "a": "0.5"})
    assert forward.attributions() == backward.attributions() == forward.attributions()
    assert [(a.strategy, a.qty) for a in backward.attributions()] == [
        ("a", Decimal("0.000000001")),
        ("b", Decimal(0)),
    ]


def test_attributions_carry_the_fill() -> None:
    fill = make_fill(side="SELL", filled_at="2024-03-01T09:30:00-05:00")
    for share in fill.attributions():
        assert (share.order_id, share.account_id, share.correlation_id) == (
            fill.order_id,
            fill.account_id,
            fill.correlation_id,
        )
        assert (share.symbol, share.side, share.price, share.filled_at) == (
            fill.symbol,
            fill.side,
            fill.price,
            fill.filled_at,
        )
    assert isinstance(fill, TradeFill)
