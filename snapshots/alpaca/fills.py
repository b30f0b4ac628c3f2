"""An account's trading history as Alpaca keeps it: FILL activities and the orders they fill.

Alpaca writes one ``FILL`` activity per execution (``type`` ``fill`` or ``partial_fill``, its
own ``qty`` and ``price``, the order's ``cum_qty`` and ``leaves_qty`` after it), so an order
filled in three pieces has three rows; the order carries the totals (``filled_qty``,
``filled_avg_price``, ``filled_at``). The ledger records one fill per order, as the bot does once
an order is done: ``done_orders`` turns the history into those, from the order's totals (the
executions' when Alpaca did not send them), and sets apart the orders still open. Pure: no
alpaca-py, no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction
from typing import Any, Final, Literal

from pydantic import model_validator

from ledger_store.decimals import decimal_context, normalize
from ledger_store.dto import PRICE_PLACES, Frozen, Money, UTCDateTime
from snapshots.alpaca.models import (
    OPEN_ORDER_STATUSES,
    AlpacaOrder,
    AlpacaUuid,
    LowerText,
    OptionalLowerText,
    OptionalMoney,
    OptionalText,
    Text,
    is_combination,
    order_sort_key,
)

#: The quote currencies of Alpaca's crypto pairs: ``BTCUSD`` (a position, an old order) is
#: ``BTC/USD`` in the ledger, which names a pair with a slash.
CRYPTO_QUOTES: Final = ("USDT", "USDC", "USD", "BTC")
#: The order types the ledger records; any other (none so far) is recorded as ``market``.
LEDGER_ORDER_TYPES: Final = frozenset({"market", "limit", "stop", "stop_limit", "trailing_stop"})

_PRICE = Decimal(1).scaleb(-PRICE_PLACES)


class FillExecution(Frozen):
    """One ``FILL`` activity: an execution of (part of) an order."""

    id: Text
    order_id: AlpacaUuid
    transaction_time: UTCDateTime
    #: ``fill`` (the order is done) or ``partial_fill``.
    type: LowerText
    symbol: Text
    side: LowerText
    qty: Money
    price: Money
    cum_qty: OptionalMoney = None
    leaves_qty: OptionalMoney = None
    order_status: OptionalLowerText = None

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> FillExecution:
        fields = {name: raw[name] for name in cls.model_fields if name in raw}
        return cls.model_validate(fields)


class TradingHistory(Frozen):
    """The executions of ``[start, end)`` and every order they belong to (legs nested)."""

    start: UTCDateTime
    end: UTCDateTime
    executions: tuple[FillExecution, ...]
    orders: tuple[AlpacaOrder, ...]

    @model_validator(mode="after")
    def _sorted(self) -> TradingHistory:
        executions = tuple(sorted(self.executions, key=lambda e: (e.transaction_time, e.id)))
        orders = tuple(sorted(self.orders, key=order_sort_key))
        object.__setattr__(self, "executions", executions)
        object.__setattr__(self, "orders", orders)
        return self


class DoneOrder(Frozen):
    """An order Alpaca is done with and filled (some of) in the range: one ledger fill.

    ``symbol`` is in the ledger's spelling (``BTC/USD``); ``price`` at most 9 places (Alpaca's
    average rounded half-even when longer, ``price_rounded`` then says so).
    """

    order_id: AlpacaUuid
    client_order_id: OptionalText = None
    symbol: Text
    side: Literal["buy", "sell"]
    qty: Money
    price: Money
    filled_at: UTCDateTime
    order_type: str
    asset_class: OptionalLowerText = None
    status: LowerText
    executions: int
    price_rounded: bool = False


class OpenOrder(Frozen):
    """An order with executions in the range that may still fill: not recorded yet."""

    order_id: AlpacaUuid
    symbol: Text
    status: LowerText
    filled_qty: Money


class HistoryProblem(Frozen):
    """An order of the history that cannot become a ledger fill, and why."""

    order_id: str
    reason: Text


class DoneOrders(Frozen):
    """What ``done_orders`` made of a history."""

    done: tuple[DoneOrder, ...]
    open: tuple[OpenOrder, ...]
    problems: tuple[HistoryProblem, ...]


def done_orders(history: TradingHistory) -> DoneOrders:
    """The ledger fills of a history: one per order done and filled in ``[start, end)``.

    An order counts when it has executions and its last execution (Alpaca's ``filled_at`` when
    sent) lies in the range; an order still open (``partially_filled``…) is set apart. The
    parent of a multi-leg order is never a fill: its legs are, each with its own executions.
    """
    by_order: dict[str, list[FillExecution]] = defaultdict(list)
    for execution in history.executions:
        by_order[execution.order_id].append(execution)
    orders: dict[str, tuple[AlpacaOrder, AlpacaOrder | None]] = {}
    for order in history.orders:
        for found, parent in _with_legs(order, None):
            orders.setdefault(found.id, (found, parent))
    done: list[DoneOrder] = []
    still_open: list[OpenOrder] = []
    problems: list[HistoryProblem] = []
    for order_id in sorted(by_order):
        executions = by_order[order_id]
        if order_id not in orders:
            problems.append(HistoryProblem(order_id=order_id, reason="Alpaca sent no such order"))
            continue
        order, parent = orders[order_id]
        outcome = _done(order, parent, executions, history)
        if isinstance(outcome, OpenOrder):
            still_open.append(outcome)
        elif isinstance(outcome, DoneOrder):
            done.append(outcome)
        elif outcome is not None:
            problems.append(HistoryProblem(order_id=order_id, reason=outcome))
    done.sort(key=lambda d: (d.filled_at, d.order_id))
    return DoneOrders(done=tuple(done), open=tuple(still_open), problems=tuple(problems))


def _with_legs(
    order: AlpacaOrder, parent: AlpacaOrder | None
) -> Iterable[tuple[AlpacaOrder, AlpacaOrder | None]]:
    if not is_combination(order):
        yield order, parent
    for leg in order.legs:
        yield from _with_legs(leg, order)


def _done(
    order: AlpacaOrder,
    parent: AlpacaOrder | None,
    executions: Sequence[FillExecution],
    history: TradingHistory,
) -> DoneOrder | OpenOrder | str | None:
    """The ledger fill of one order; an ``OpenOrder``; a reason it cannot be one; ``None`` when
    it does not belong to the range (filled after its end)."""
    qty = order.filled_qty if order.filled_qty is not None else _sum_qty(executions)
    symbol = order.symbol or executions[-1].symbol
    if order.status in OPEN_ORDER_STATUSES:
        return OpenOrder(order_id=order.id, symbol=symbol, status=order.status, filled_qty=qty)
    filled_at = order.filled_at or executions[-1].transaction_time
    if not history.start <= filled_at < history.end:
        return None  # done after the range: the next range's
    if qty <= 0:
        return "Alpaca reports executions but no filled quantity"
    side = order.side or executions[-1].side
    if side not in ("buy", "sell"):
        return f"side {side!r} is neither buy nor sell"
    price, rounded = _price(order.filled_avg_price, executions)
    if price is None:
        return "neither a filled_avg_price nor priced executions"
    client_order_id = order.client_order_id
    if client_order_id is None and parent is not None:
        client_order_id = parent.client_order_id
    order_type = (order.type or (parent.type if parent else None) or "market").lower()
    return DoneOrder(
        order_id=order.id,
        client_order_id=client_order_id,
        symbol=ledger_symbol(symbol, order.asset_class),
        side="buy" if side == "buy" else "sell",
        qty=qty,
        price=price,
        filled_at=filled_at,
        order_type=order_type if order_type in LEDGER_ORDER_TYPES else "market",
        asset_class=order.asset_class,
        status=order.status,
        executions=len(executions),
        price_rounded=rounded,
    )


def _sum_qty(executions: Sequence[FillExecution]) -> Decimal:
    with localcontext(decimal_context(60)):
        return normalize(sum((e.qty for e in executions), Decimal(0)))


def _price(
    average: Decimal | None, executions: Sequence[FillExecution]
) -> tuple[Decimal | None, bool]:
    """Alpaca's average price, else the executions' weighted one; at most 9 places."""
    if average is None:
        total = sum((Fraction(e.qty) for e in executions), Fraction(0))
        if total <= 0:
            return None, False
        exact = sum((Fraction(e.qty) * Fraction(e.price) for e in executions), Fraction(0))
        ratio = exact / total
        with localcontext(decimal_context(60)):
            average = Decimal(ratio.numerator) / Decimal(ratio.denominator)
    return ledger_price(average)


def ledger_price(price: Decimal) -> tuple[Decimal, bool]:
    """Alpaca's price at the ledger's 9 places (half even), and whether that rounded it."""
    with localcontext(decimal_context(60)):
        rounded = price.quantize(_PRICE, rounding=ROUND_HALF_EVEN)
    return normalize(rounded), rounded != price


def ledger_symbol(symbol: str, asset_class: str | None) -> str:
    """Alpaca's symbol as the ledger spells it: a crypto pair with a slash (``BTC/USD``)."""
    if asset_class == "crypto" and "/" not in symbol:
        for quote in CRYPTO_QUOTES:
            if symbol.endswith(quote) and len(symbol) > len(quote):
                return f"{symbol[: -len(quote)]}/{quote}"
    return symbol
