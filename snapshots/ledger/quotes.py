"""Fills of pairs quoted in another currency than USD, as the USD ledger holds them (issue 24).

A fill of ``BASE/QUOTE`` (``ETH/BTC``, ``BTC/USDT``) carries ``quote_usd_rate`` r, the USD value
of one ``QUOTE`` at the fill's time. Its price p and fees are in ``QUOTE``. In USD it is two
trades of the same order at the same instant, one per coin, each on the coin's own USD book (the
book Alpaca's position of the coin is compared with, ``BTCUSD``):

* the **base leg** on ``BASE/USD``: the fill's side, its qty q at ``p * r`` USD, its fees
  times r; its value ``q * p * r`` rounded half-even to 18 places (``MONEY_PLACES``);
* the **quote leg** on ``QUOTE/USD``: the other side, the quote coin the fill moves at r, no
  fee. The fill moves ``quote_amount(q, p)`` = ``q * p`` rounded half-even to 9 places (a coin
  position's precision), shared among the fill's strategies by their weights as its quantity is
  (``split_exact``), so the strategies' quote coin adds up to the fill's.

Buying 1 ETH/BTC at 0.05 with BTC at 60,000 USD opens an ETH lot at 3,000 USD and sells
0.05 BTC at 60,000, closing the oldest BTC lots first (a realised gain or loss like any sale).
A stablecoin (USDT, USDC) is a coin like any other, at its own rate, never taken to be 1.

A crossed fill buys one coin and sells the other: the base leg's value counts on its side, the
quote leg's (``quote_amount * r``) on the other, and no dollars move.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Final

from ledger_store.decimals import decimal_context, normalize
from ledger_store.dto import (
    QUOTE_PLACES,
    Side,
    StrategyAttribution,
    is_crossed,
    quote_amount,
    quote_rate_problem,
    split_exact,
    usd_pair,
    usd_price,
    value_of,
)
from ledger_store.errors import IntegrityError
from snapshots.ledger.fifo import money

#: Products of two 38-digit numbers are exact in it.
_EXACT: Final = decimal_context(76)
_ZERO: Final = Decimal(0)


@dataclass(frozen=True, slots=True)
class UsdLeg:
    """One strategy's trade of one coin in USD, from a fill of a crossed pair: what the lots,
    the FIFO and the strategy's figures read (``snapshots.ledger.fifo.FifoFill`` fits).

    ``pair`` is the fill's symbol as traded (``ETH/BTC``); ``symbol`` the book it trades on
    (``ETH/USD``); ``value`` its USD value (18 places). ``quote_leg``: the quote coin's side,
    which is no order of its own (it is not counted as a trade)."""

    order_id: str
    strategy: str
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal
    fees: Decimal
    filled_at: datetime
    pair: str
    value: Decimal
    quote_leg: bool = False


#: A trade in USD: an attribution priced in USD, or a leg of a crossed one.
Leg = UsdLeg | StrategyAttribution


def is_quote_leg(leg: Leg) -> bool:
    """Whether ``leg`` is the quote coin's side of a crossed fill (not a trade of its own)."""
    return isinstance(leg, UsdLeg) and leg.quote_leg


def leg_value(leg: Leg) -> Decimal:
    """What ``leg`` is worth in USD before fees (an attribution priced in USD: ``qty * price``,
    times 100 for an option; exact)."""
    if isinstance(leg, UsdLeg):
        return leg.value
    return value_of(leg.symbol, leg.qty, leg.price)


def base_value(qty: Decimal, price: Decimal, rate: Decimal) -> Decimal:
    """A share of a crossed fill in USD: ``qty * price * rate``, half-even to 18 places."""
    return money(_EXACT.multiply(_EXACT.multiply(qty, price), rate))


def quote_shares(shares: Iterable[StrategyAttribution]) -> dict[str, Decimal]:
    """The quote coin each strategy's share of one crossed fill moves, by strategy: the fill's
    ``quote_amount`` split by the strategies' weights (exact: they add up to it). ``shares``
    are all the fill's attributions; a partial set (its weights short of 1) is split share by
    share instead."""
    ordered = sorted(shares, key=lambda a: a.strategy)
    weights = [a.weight for a in ordered]
    if sum(map(Fraction, weights), Fraction(0)) != 1:
        return {a.strategy: quote_amount(a.qty, a.price) for a in ordered}
    with localcontext(_EXACT):
        total = normalize(sum((a.qty for a in ordered), _ZERO))
    amount = quote_amount(total, ordered[0].price)
    parts = split_exact(amount, weights, QUOTE_PLACES)
    return {a.strategy: part for a, part in zip(ordered, parts, strict=True)}


def usd_legs(attributions: Iterable[StrategyAttribution]) -> list[Leg]:
    """Each attribution as its USD legs, in the order given: one leg for a fill priced in USD
    (the attribution itself), two for a crossed pair (its base leg, then its quote leg; none
    when its share of the quote coin rounds to 0). All attributions of a crossed order must be
    among ``attributions`` (a snapshot's read has them: they share the fill's time).

    Raises ``IntegrityError`` for an attribution of a pair not quoted in USD without its rate
    (stored before rates were kept): it is never summed as dollars; amend the fill with its
    ``quote_usd_rate``.
    """
    listed = list(attributions)
    crossed: dict[str, list[StrategyAttribution]] = {}
    for a in listed:
        if a.quote_usd_rate is not None:
            crossed.setdefault(a.order_id, []).append(a)
            continue
        if is_crossed(a.symbol):
            raise IntegrityError(
                f"order {a.order_id} was recorded without quote_usd_rate: "
                f"{quote_rate_problem(a.symbol, None)}. Amend the fill with its quote_usd_rate "
                "('trades amend') so the snapshot can value it"
            )
    if not crossed:
        return list(listed)  # priced in USD: each attribution is its own leg
    moved = {order_id: quote_shares(shares) for order_id, shares in crossed.items()}
    legs: list[Leg] = []
    for a in listed:
        rate = a.quote_usd_rate
        if rate is None:
            legs.append(a)
            continue
        base, quote = a.symbol.split("/", 1)
        legs.append(
            UsdLeg(
                a.order_id,
                a.strategy,
                usd_pair(base),
                a.side,
                a.qty,
                usd_price(a.price, rate),
                normalize(_EXACT.multiply(a.fees, rate)),
                a.filled_at,
                a.symbol,
                base_value(a.qty, a.price, rate),
            )
        )
        spent = moved[a.order_id][a.strategy]
        if spent:
            legs.append(
                UsdLeg(
                    a.order_id,
                    a.strategy,
                    usd_pair(quote),
                    Side.SELL if a.side is Side.BUY else Side.BUY,
                    spent,
                    rate,
                    _ZERO,
                    a.filled_at,
                    a.symbol,
                    normalize(_EXACT.multiply(spent, rate)),
                    quote_leg=True,
                )
            )
    return legs


__all__ = [
    "Leg",
    "UsdLeg",
    "base_value",
    "is_quote_leg",
    "leg_value",
    "quote_shares",
    "usd_legs",
]
