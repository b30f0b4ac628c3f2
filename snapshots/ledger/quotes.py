"""Fills of pairs quoted in another currency than USD, as the USD ledger holds them (issue 24).

A fill of ``BASE/QUOTE`` (``ETH/BTC``, ``BTC/USDT``) carries ``quote_usd_rate`` r, the USD value
of one ``QUOTE`` at the fill's time. Its price p and fees are in ``QUOTE``. In USD it is two
trades of the same order at the same instant, one per coin, each on the coin's own USD book (the
book Alpaca's position of the coin is compared with, ``BTCUSD``):

* the **base leg** on ``BASE/USD``: the fill's side, its qty q at ``p * r`` USD, its fees
  times r;
* the **quote leg** on ``QUOTE/USD``: the other side, ``q * p`` of the quote coin at r, no fee.

Buying 1 ETH/BTC at 0.05 with BTC at 60,000 USD opens an ETH lot at 3,000 USD and sells
0.05 BTC at 60,000, closing the oldest BTC lots first (a realised gain or loss like any sale).
A stablecoin (USDT, USDC) is a coin like any other, at its own rate, never taken to be 1.

Both legs are worth ``q * p * r`` USD: a crossed fill adds that to the buy value and to the sell
value (one coin acquired, one disposed of) and moves no dollars.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Final

from ledger_store.decimals import decimal_context, normalize
from ledger_store.dto import (
    LEDGER_CURRENCY,
    Side,
    StrategyAttribution,
    quote_currency,
    quote_rate_problem,
)
from ledger_store.errors import IntegrityError

#: Products of two 38-digit numbers are exact in it.
_EXACT: Final = decimal_context(76)


@dataclass(frozen=True, slots=True)
class UsdLeg:
    """One strategy's trade of one coin (or share, or contract) in USD: what the lots, the
    FIFO and the strategy's figures read (``snapshots.ledger.fifo.FifoFill`` fits).

    ``pair`` is the fill's symbol as traded (``ETH/BTC``); ``symbol`` the book it trades on
    (``ETH/USD``). ``quote_leg``: the quote coin's side of a crossed fill, which is no order of
    its own (it is not counted as a trade)."""

    order_id: str
    strategy: str
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal
    fees: Decimal
    filled_at: datetime
    pair: str
    quote_leg: bool = False


def usd_book(coin: str) -> str:
    """The USD book of a coin: ``BTC`` -> ``BTC/USD``."""
    return f"{coin}/{LEDGER_CURRENCY}"


#: A trade in USD: an attribution priced in USD, or a leg of a crossed one.
Leg = UsdLeg | StrategyAttribution


def is_quote_leg(leg: Leg) -> bool:
    """Whether ``leg`` is the quote coin's side of a crossed fill (not a trade of its own)."""
    return isinstance(leg, UsdLeg) and leg.quote_leg


def usd_legs(attributions: Iterable[StrategyAttribution]) -> Iterator[Leg]:
    """Each attribution as its USD legs, in the order given: one leg for a fill priced in USD
    (the attribution itself), two for a crossed pair (its base leg, then its quote leg).

    Raises ``IntegrityError`` for an attribution of a pair not quoted in USD without its rate
    (stored before rates were kept): it is never summed as dollars; amend the fill with its
    ``quote_usd_rate``.
    """
    for a in attributions:
        rate = a.quote_usd_rate
        if rate is None:
            problem = quote_rate_problem(a.symbol, None)
            if problem is not None:
                raise IntegrityError(
                    f"order {a.order_id} was recorded without quote_usd_rate: {problem}. "
                    "Amend the fill with its quote_usd_rate ('trades amend') so the snapshot "
                    "can value it"
                )
            yield a  # priced in USD: the attribution is its own leg (a full read makes none)
            continue
        base, quote = a.symbol.split("/", 1)
        spent = normalize(_EXACT.multiply(a.qty, a.price))
        yield UsdLeg(
            a.order_id,
            a.strategy,
            usd_book(base),
            a.side,
            a.qty,
            normalize(_EXACT.multiply(a.price, rate)),
            normalize(_EXACT.multiply(a.fees, rate)),
            a.filled_at,
            a.symbol,
        )
        yield UsdLeg(
            a.order_id,
            a.strategy,
            usd_book(quote),
            Side.SELL if a.side is Side.BUY else Side.BUY,
            spent,
            rate,
            Decimal(0),
            a.filled_at,
            a.symbol,
            quote_leg=True,
        )


def is_crossed(symbol: str) -> bool:
    """Whether ``symbol`` is a pair quoted in another currency than USD."""
    return quote_currency(symbol) != LEDGER_CURRENCY


__all__ = ["Leg", "UsdLeg", "is_crossed", "is_quote_leg", "usd_book", "usd_legs"]
