"""The account by asset class: Alpaca's ``us_equity``, ``us_option`` and ``crypto``.

For each class the snapshot touches (a position, an option order filled in the period, a coin
fee): its positions' long and short market values and unrealised P&L (Alpaca's), and what is
particular to it:

* **options**: the *delta-free notional* of the open contracts, ``qty x strike x 100`` signed
  by side (what the contracts would deliver at their strikes, not a delta-adjusted exposure),
  and the premium paid and received in the period (the option orders and multi-leg legs Alpaca
  filled in it: ``filled_qty x filled_avg_price x 100``, buys paid, sells received);
* **crypto**: the coin fees of the period (``asset_fee`` events) at Alpaca's dollar price of
  the coin when it was taken. They are part of the lots' cost (the P&L shows them when the coin
  is sold), so this figure says what they were worth and is never subtracted again.

Pure and exact (``Decimal`` in ``EXACT``), from the sealed snapshot alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Final

from ledger_store.decimals import explicit_context, normalize
from ledger_store.dto import Frozen, asset_class_of, contract_multiplier, option_terms, value_of
from snapshots.alpaca.models import AlpacaOrder, AlpacaPosition, is_combination
from snapshots.ledger.models import AccountLedgerV16, AccountLedgerV17
from snapshots.report.figures import EXACT, exact_sum, position_value
from snapshots.schema import AnySnapshot

#: The classes in the order the report lists them.
CLASSES: Final = ("us_equity", "us_option", "crypto")


class AssetClassFigures(Frozen):
    """One asset class of the account (see the module docstring); amounts normalised."""

    asset_class: str
    positions: int
    long_value: Decimal
    short_value: Decimal
    #: Alpaca's unrealised P&L of the class's positions (``None`` when one lacks it).
    unrealized_pl: Decimal | None
    #: Options: the open contracts' delta-free notional, long minus short.
    notional: Decimal | None = None
    #: Options: premium paid and received in the period (positive amounts).
    premium_paid: Decimal | None = None
    premium_received: Decimal | None = None
    #: Crypto: the period's coin fees at Alpaca's price (``None`` when a fee has no price),
    #: and (since 1.7) by the strategies whose lots paid them (``coin_fees_by_strategy``).
    coin_fees: Decimal | None = None
    coin_fees_by_strategy: dict[str, Decimal | None] | None = None


def class_of_position(position: AlpacaPosition) -> str:
    """Alpaca's asset class of a position, else the one its symbol names."""
    return position.asset_class or asset_class_of(position.symbol)


@explicit_context
def by_asset_class(snapshot: AnySnapshot) -> tuple[AssetClassFigures, ...]:
    """The classes the snapshot touches, in ``CLASSES`` order (then any other by name)."""
    positions: dict[str, list[AlpacaPosition]] = {}
    for position in snapshot.alpaca_positions:
        positions.setdefault(class_of_position(position), []).append(position)
    paid, received = option_premiums(
        snapshot.alpaca_orders, snapshot.period_start, snapshot.period_end
    )
    fees = _coin_fees(snapshot)
    touched = set(positions) | _traded_classes(snapshot)
    if fees:
        touched.add("crypto")
    ordered = [c for c in CLASSES if c in touched] + sorted(touched - set(CLASSES))
    by_strategy = coin_fees_by_strategy(snapshot)
    return tuple(
        _figures(name, positions.get(name, []), paid, received, fees, by_strategy)
        for name in ordered
    )


def _figures(
    name: str,
    held: list[AlpacaPosition],
    paid: list[Decimal],
    received: list[Decimal],
    fees: list[Decimal | None],
    by_strategy: dict[str, Decimal | None],
) -> AssetClassFigures:
    values = [v for v in (position_value(p) for p in held) if v is not None]
    unrealized = [p.unrealized_pl for p in held]
    figures = AssetClassFigures(
        asset_class=name,
        positions=len(held),
        long_value=_sum(v for v in values if v > 0),
        short_value=_sum(v for v in values if v < 0),
        unrealized_pl=None if None in unrealized else _sum(u for u in unrealized if u),
    )
    if name == "us_option":
        return figures.model_copy(
            update={
                "notional": _sum(_notional(p) for p in held),
                "premium_paid": _sum(paid),
                "premium_received": _sum(received),
            }
        )
    if name == "crypto":
        known = [f for f in fees if f is not None]
        total = _sum(known) if len(known) == len(fees) else None
        return figures.model_copy(
            update={"coin_fees": total, "coin_fees_by_strategy": by_strategy or None}
        )
    return figures


def _sum(values: Iterable[Decimal]) -> Decimal:
    return normalize(exact_sum(values))


def _traded_classes(snapshot: AnySnapshot) -> set[str]:
    """The asset classes of the orders (or legs) that filled something in the period."""
    classes: set[str] = set()

    def visit(order: AlpacaOrder) -> None:
        if is_combination(order):
            for leg in order.legs:
                visit(leg)
            return
        at = order.filled_at
        filled = bool(order.symbol and order.filled_qty) and at is not None
        if filled and at is not None and snapshot.period_start <= at < snapshot.period_end:
            classes.add(order.asset_class or asset_class_of(order.symbol or ""))

    for order in snapshot.alpaca_orders:
        visit(order)
    return classes


def _notional(position: AlpacaPosition) -> Decimal:
    terms = option_terms(position.symbol)
    if terms is None:
        return Decimal(0)
    signed = -abs(position.qty) if position.side == "short" else position.qty
    return EXACT.multiply(
        EXACT.multiply(signed, terms.strike), contract_multiplier(position.symbol)
    )


def _option_fills(orders: tuple[AlpacaOrder, ...]) -> Iterator[AlpacaOrder]:
    """Every option order or multi-leg leg that filled something (never a combination)."""
    for order in orders:
        if is_combination(order):
            yield from _option_fills(order.legs)
        elif order.symbol and asset_class_of(order.symbol) == "us_option" and order.filled_qty:
            yield order


@explicit_context
def option_premiums(
    orders: tuple[AlpacaOrder, ...], start: datetime, end: datetime
) -> tuple[list[Decimal], list[Decimal]]:
    """Premium paid (buys) and received (sells) of the option fills in ``[start, end)``: each
    option order, or each leg of a multi-leg order, ``filled_qty x filled_avg_price x 100``."""
    paid: list[Decimal] = []
    received: list[Decimal] = []
    for order in _option_fills(orders):
        at = order.filled_at
        if at is None or not start <= at < end:
            continue
        if order.filled_qty is None or order.filled_avg_price is None or order.symbol is None:
            continue
        value = value_of(order.symbol, order.filled_qty, order.filled_avg_price)
        (paid if order.side == "buy" else received).append(value)
    return paid, received


def _coin_fees(snapshot: AnySnapshot) -> list[Decimal | None]:
    """The period's coin fees at Alpaca's price (``None`` for a fee without one)."""
    ledger = snapshot.internal_ledger
    if not isinstance(ledger, AccountLedgerV16):
        return []
    return [
        None if fee.price is None else EXACT.multiply(fee.qty, fee.price)
        for fee in ledger.asset_fees
    ]


@explicit_context
def coin_fees_by_strategy(snapshot: AnySnapshot) -> dict[str, Decimal | None]:
    """Each strategy's part of the period's coin fees at Alpaca's price (since 1.7, whose
    ledger says which strategies' lots paid them); ``None`` for a strategy whose part includes
    a fee without a price (as the class's total is then), never a silent 0."""
    ledger = snapshot.internal_ledger
    if not isinstance(ledger, AccountLedgerV17):
        return {}
    prices = {fee.event_id: fee.price for fee in ledger.asset_fees}
    totals: dict[str, Decimal | None] = {}
    for share in ledger.asset_fee_shares:
        price = prices.get(share.event_id)
        so_far = totals.get(share.strategy, Decimal(0))
        if price is None or so_far is None:
            totals[share.strategy] = None
        else:
            totals[share.strategy] = EXACT.add(so_far, EXACT.multiply(share.qty, price))
    return {
        name: None if value is None else normalize(value) for name, value in sorted(totals.items())
    }


__all__ = [
    "CLASSES",
    "AssetClassFigures",
    "by_asset_class",
    "class_of_position",
    "coin_fees_by_strategy",
    "option_premiums",
]
