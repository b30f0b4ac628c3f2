"""The figures of the account report and their text, computed only from a sealed snapshot.

Everything here is pure and deterministic: ``Decimal`` arithmetic in explicit contexts (never the
thread's current context, which a caller may have changed), no floats, no locale, no clock.
``snapshots.report.pdf`` lays these figures out; tests check them against hand-computed values.

Definitions (``ReportFigures``):

* Balances (equity, cash, buying power, long/short market value) are Alpaca's account values.
* Returns, risk and drawdowns are in ``snapshots.report.performance`` (flow-adjusted, from the
  daily equity); ``equity_samples`` counts the period's valued portfolio-history samples.
* ``alpaca_fees`` is the period's fee total as a positive amount (``-sum(net_amount)`` of the FEE
  activities; a rebate lowers it); ``ledger_fees`` is the internal ledger's ``total_fees``.
* An order is filled when its whole quantity was (``filled_qty >= qty``, or status ``filled``
  when Alpaca sent no quantity), whatever status text Alpaca gave it; ``partially_filled_orders``
  filled some but not all of it. Legs of multi-leg orders are not counted: they are part of
  their parent order.
* A position's exposure is its market value (Alpaca's, else ``qty * current_price``), negative
  for shorts, and its fraction of equity (``None`` when equity is not positive).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Final

from ledger_store.decimals import decimal_context, explicit_context
from ledger_store.dto import Frozen, value_of
from snapshots.alpaca.models import AlpacaOrder, AlpacaPosition, EquityPoint
from snapshots.schema import AnySnapshot, CheckStatus

#: Sums and products: wide enough that two 38-digit numbers combine exactly (the report's
#: other modules use it too).
EXACT: Final = decimal_context(80)
#: Ratios (returns, drawdowns, weights) are kept to this many decimal places.
FRACTION_PLACES: Final = 10
_FRACTION_QUANTUM: Final = Decimal(1).scaleb(-FRACTION_PLACES)
_ZERO: Final = Decimal(0)


class PositionExposure(Frozen):
    """One position's exposure: signed market value and its fraction of account equity."""

    symbol: str
    asset_class: str | None
    side: str | None
    qty: Decimal
    avg_entry_price: Decimal | None
    current_price: Decimal | None
    market_value: Decimal | None
    unrealized_pl: Decimal | None
    equity_fraction: Decimal | None


class FeeTotal(Frozen):
    """The FEE activities of one sub type (REG, TAF, ...; ``None`` when Alpaca gave none)."""

    sub_type: str | None
    count: int
    amount: Decimal


class ReportFigures(Frozen):
    """The report's key figures (see the module docstring for every definition)."""

    currency: str
    equity: Decimal
    cash: Decimal
    buying_power: Decimal | None
    long_market_value: Decimal
    short_market_value: Decimal
    gross_exposure: Decimal
    net_exposure: Decimal
    equity_samples: int
    alpaca_fees: Decimal
    alpaca_fees_by_sub_type: tuple[FeeTotal, ...]
    ledger_fees: Decimal
    orders: int
    filled_orders: int
    partially_filled_orders: int
    order_legs: int
    ledger_trades: int
    ledger_buy_value: Decimal
    ledger_sell_value: Decimal
    checks_passed: int
    checks_warned: int
    checks_failed: int
    exposures: tuple[PositionExposure, ...]


@explicit_context
def exact_sum(values: Iterable[Decimal]) -> Decimal:
    """The exact sum of ``values`` (0 for none), in ``EXACT``, never the thread's context."""
    total = _ZERO
    for value in values:
        total = EXACT.add(total, value)
    return total


def _fraction(numerator: Decimal, denominator: Decimal) -> Decimal:
    """``numerator / denominator`` rounded half-even to ``FRACTION_PLACES``."""
    return EXACT.divide(numerator, denominator).quantize(_FRACTION_QUANTUM, context=EXACT)


@explicit_context
def position_value(position: AlpacaPosition) -> Decimal | None:
    """Alpaca's market value, else ``qty * current_price`` (times 100 for an option
    contract), else ``None`` (never a guess)."""
    if position.market_value is not None:
        return position.market_value
    if position.current_price is not None:
        return value_of(position.symbol, position.qty, position.current_price)
    return None


@explicit_context
def valued(series: Iterable[EquityPoint]) -> tuple[EquityPoint, ...]:
    """The samples that carry an equity value (Alpaca may send ``null`` for a day)."""
    return tuple(point for point in series if point.equity is not None)


@explicit_context
def fill_state(order: AlpacaOrder) -> str:
    """``filled``, ``partial`` or ``none``: by the quantities, so an unknown status still counts."""
    filled, qty = order.filled_qty, order.qty
    if filled is not None and filled > 0:
        if qty is None:  # a notional order: only its status tells a partial fill
            return "partial" if order.status == "partially_filled" else "filled"
        return "filled" if filled >= qty else "partial"
    if order.status == "filled":
        return "filled"
    return "partial" if order.status == "partially_filled" else "none"


@explicit_context
def compute_figures(snapshot: AnySnapshot) -> ReportFigures:
    """Every figure the report prints, computed from ``snapshot`` alone."""
    account = snapshot.alpaca_account
    series = valued(snapshot.equity_series)
    exposures = tuple(_exposure(position, account.equity) for position in snapshot.alpaca_positions)
    values = [e.market_value for e in exposures if e.market_value is not None]

    by_type: dict[str | None, list[Decimal]] = {}
    for fee in snapshot.alpaca_fees:
        # A crypto fee (CFEE) has no sub type: its type names it.
        label = fee.activity_sub_type or (fee.activity_type if fee.activity_type != "FEE" else None)
        by_type.setdefault(label, []).append(fee.net_amount)
    fee_totals = tuple(
        FeeTotal(sub_type=sub_type, count=len(amounts), amount=-exact_sum(amounts))
        for sub_type, amounts in sorted(by_type.items(), key=lambda item: item[0] or "")
    )
    statuses = [check.status for check in snapshot.integrity_checks]
    fills = [fill_state(order) for order in snapshot.alpaca_orders]
    ledger = snapshot.internal_ledger
    return ReportFigures(
        currency=account.currency,
        equity=account.equity,
        cash=account.cash,
        buying_power=account.buying_power,
        long_market_value=account.long_market_value,
        short_market_value=account.short_market_value,
        gross_exposure=exact_sum(abs(v) for v in values),
        net_exposure=exact_sum(values),
        equity_samples=len(series),
        alpaca_fees=-exact_sum(fee.net_amount for fee in snapshot.alpaca_fees),
        alpaca_fees_by_sub_type=fee_totals,
        ledger_fees=ledger.total_fees,
        orders=len(snapshot.alpaca_orders),
        filled_orders=fills.count("filled"),
        partially_filled_orders=fills.count("partial"),
        order_legs=sum(len(order.legs) for order in snapshot.alpaca_orders),
        ledger_trades=ledger.total_trades,
        ledger_buy_value=ledger.total_buy_value,
        ledger_sell_value=ledger.total_sell_value,
        checks_passed=statuses.count(CheckStatus.PASS),
        checks_warned=statuses.count(CheckStatus.WARN),
        checks_failed=statuses.count(CheckStatus.FAIL),
        exposures=exposures,
    )


def _exposure(position: AlpacaPosition, equity: Decimal) -> PositionExposure:
    value = position_value(position)
    return PositionExposure(
        symbol=position.symbol,
        asset_class=position.asset_class,
        side=position.side,
        qty=position.qty,
        avg_entry_price=position.avg_entry_price,
        current_price=position.current_price,
        market_value=value,
        unrealized_pl=position.unrealized_pl,
        equity_fraction=_fraction(value, equity) if value is not None and equity > 0 else None,
    )


# Text: numbers and dates formatted here, never by ``locale``, ``%n`` or ``strftime`` names. ----

#: What an absent value prints as.
NONE_TEXT: Final = "\u2014"


def _quantized(value: Decimal, places: int) -> Decimal:
    result = value.quantize(Decimal(1).scaleb(-places), context=EXACT)
    return abs(result) if result.is_zero() else result  # never "-0.00"


@explicit_context
def shown(value: Decimal, places: int = 2) -> Decimal:
    """``value`` as ``fmt_money`` prints it: rounded half-even to ``places``."""
    return _quantized(value, places)


@lru_cache(maxsize=16384)
@explicit_context
def fmt_money(value: Decimal | None, *, places: int = 2, signed: bool = False) -> str:
    """``1234.5`` -> ``1,234.50`` (half-even); ``signed`` adds ``+`` to amounts above zero."""
    if value is None:
        return NONE_TEXT
    amount = _quantized(value, places)
    return format(amount, "+,f" if signed and amount > 0 else ",f")


@lru_cache(maxsize=16384)
@explicit_context
def fmt_price(value: Decimal | None) -> str:
    """A price with 2 to 4 decimals: ``110`` -> ``110.00``, ``101.428571429`` -> ``101.4286``."""
    if value is None:
        return NONE_TEXT
    text = format(_quantized(value, 4), ",f")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.rstrip('0').ljust(2, '0')}"


@lru_cache(maxsize=16384)
@explicit_context
def fmt_qty(value: Decimal | None) -> str:
    """A quantity as given, with thousands separators: ``1500`` -> ``1,500``, ``0.5`` -> ``0.5``."""
    if value is None:
        return NONE_TEXT
    reduced = value.normalize(EXACT)
    exponent = reduced.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        reduced = reduced.quantize(Decimal(1), context=EXACT)
    return format(abs(reduced) if reduced.is_zero() else reduced, ",f")


@explicit_context
def fmt_percent(fraction: Decimal | None, *, places: int = 2, signed: bool = False) -> str:
    """A fraction as a percentage: ``0.012345`` -> ``1.23%`` (``+1.23%`` when ``signed``)."""
    if fraction is None:
        return NONE_TEXT
    percent = _quantized(EXACT.multiply(fraction, Decimal(100)), places)
    return format(percent, "+,f" if signed and percent > 0 else ",f") + "%"


@lru_cache(maxsize=16384)
@explicit_context
def fmt_datetime(value: datetime | None, *, seconds: bool = True) -> str:
    """``2024-03-02 14:30:05`` in UTC, built from the fields (no ``strftime``, no locale)."""
    if value is None:
        return NONE_TEXT
    v = value.astimezone(UTC)
    text = f"{v.year:04d}-{v.month:02d}-{v.day:02d} {v.hour:02d}:{v.minute:02d}"
    return f"{text}:{v.second:02d}" if seconds else text


@explicit_context
def fmt_date(value: date | datetime | None) -> str:
    """``2024-03-02`` (a datetime is taken in UTC)."""
    if value is None:
        return NONE_TEXT
    if isinstance(value, datetime):
        value = value.astimezone(UTC)
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


@explicit_context
def mask_account_number(number: str | None) -> str:
    """Keep the first 3 and last 4 characters of a long account number: ``PA3••••EFGH``.

    Shorter numbers keep only their last quarter (at least one character is hidden); an
    account without a number (Alpaca did not send one) prints as ``NONE_TEXT``.
    """
    if number is None:
        return NONE_TEXT
    dots = "\u2022" * 4
    if len(number) >= 10:
        return f"{number[:3]}{dots}{number[-4:]}"
    return dots + number[len(number) - len(number) // 4 :] if len(number) >= 4 else dots


__all__ = [
    "EXACT",
    "FRACTION_PLACES",
    "NONE_TEXT",
    "FeeTotal",
    "PositionExposure",
    "ReportFigures",
    "compute_figures",
    "exact_sum",
    "fill_state",
    "fmt_date",
    "fmt_datetime",
    "fmt_money",
    "fmt_percent",
    "fmt_price",
    "fmt_qty",
    "mask_account_number",
    "position_value",
    "shown",
]
