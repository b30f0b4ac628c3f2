"""Realised P&L by first-in-first-out lot matching, per (strategy, symbol), by quantity.

Input: fills attributed to strategies (anything shaped like ``StrategyAttribution``). They are
processed in ``(filled_at, order_id, strategy)`` order whatever order they arrive in; each
(strategy, symbol) pair is an independent book:

* a BUY of ``q`` at ``p`` opens a lot ``(q, p)`` (a zero-quantity buy opens nothing);
* a SELL of ``q`` at ``s`` consumes the oldest open lots first, splitting the last one it
  touches when it closes it only partly; each matched slice of ``m`` from a lot bought at ``p``
  realises ``m * (s - p)``;
* a SELL larger than the open lots is an *oversell*: the matched part realises P&L as above, the
  unmatched quantity is reported as an ``Oversell`` record (strategy, symbol, order, unmatched
  quantity) and realises nothing. It is never an exception and never dropped; it opens no short
  lot either (the ledger tracks long positions; a short would need its own cost basis).

Fees are **not** part of ``realized_pnl``. ``fees`` is the sum of the fees of every fill of the
book (buys and sells, including buys whose lots are still open) and ``net_realized_pnl`` is
``realized_pnl - fees``: a cash view, not fees allocated to lots.

Precision: all arithmetic runs in a local decimal context of 76 significant digits (two
DynamoDB numbers of 38 digits multiply exactly) with ``Inexact`` trapped, so a result that would
need rounding raises ``LedgerValidationError`` instead of being silently rounded. Quantities are
exact (they are only added and subtracted). Money (proceeds, cost basis, realised P&L) is rounded
half-even to ``MONEY_PLACES`` = 18 decimal places **per sell**, and book totals are sums of those
per-sell amounts (so they always add up); for quantities of at most 9 decimal places and prices
of at most 9 decimal places that rounding never changes a value, i.e. the results are exact.
Fees are summed exactly. Every output is normalised (``1.50`` -> ``1.5``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import (
    MAX_EMAX,
    MIN_EMIN,
    Decimal,
    DecimalException,
    Inexact,
    localcontext,
)
from operator import attrgetter
from typing import Final, NamedTuple, Protocol

from pydantic import model_validator

from ledger_store.decimals import (
    DEFAULT_TRAPS,
    MAX_ADJUSTED_EXPONENT,
    MAX_SIGNIFICANT_DIGITS,
    MIN_ADJUSTED_EXPONENT,
    decimal_context,
    ledger_arithmetic,
    normalize,
)
from ledger_store.dto import (
    Frozen,
    Money,
    NonNegativeDecimal,
    OrderId,
    PositiveDecimal,
    Side,
    StrategyName,
    Symbol,
    UTCDateTime,
)
from ledger_store.errors import LedgerValidationError

#: Decimal places of every money amount the FIFO produces (half-even rounding, per sell).
MONEY_PLACES = 18
#: Working precision: a product of two 38-digit numbers is exact.
WORKING_DIGITS = MAX_SIGNIFICANT_DIGITS * 2

_ZERO = Decimal(0)
_MONEY_QUANTUM = Decimal(1).scaleb(-MONEY_PLACES)
_ROUNDING = decimal_context(WORKING_DIGITS)
#: Rounding a value to 38 digits is inexact exactly when ``normalize`` would reject it.
_FITS = decimal_context(MAX_SIGNIFICANT_DIGITS, emax=MAX_EMAX, emin=MIN_EMIN, traps=[Inexact])


class FifoFill(Protocol):
    """What the FIFO reads from a fill attribution (``StrategyAttribution`` fits)."""

    @property
    def order_id(self) -> str: ...
    @property
    def strategy(self) -> str: ...
    @property
    def symbol(self) -> str: ...
    @property
    def side(self) -> Side: ...
    @property
    def qty(self) -> Decimal: ...
    @property
    def price(self) -> Decimal: ...
    @property
    def fees(self) -> Decimal: ...
    @property
    def filled_at(self) -> datetime: ...


@contextmanager
def exact_arithmetic() -> Iterator[None]:
    """A 76-digit decimal context in which any rounding raises ``LedgerValidationError``."""
    try:
        # A context of its own (a copy of the caller's would keep the caller's other traps).
        exact = decimal_context(WORKING_DIGITS, traps=[Inexact, *DEFAULT_TRAPS])
        with localcontext(exact):
            yield
    except Inexact as exc:
        raise LedgerValidationError(
            f"numbers too far apart to add exactly in {WORKING_DIGITS} digits"
        ) from exc
    except DecimalException as exc:  # overflow, invalid operation: never a raw ArithmeticError
        raise LedgerValidationError(
            f"an amount out of range for exact arithmetic ({type(exc).__name__})"
        ) from exc


@ledger_arithmetic
def money(value: Decimal) -> Decimal:
    """Round a money amount half-even to ``MONEY_PLACES`` and normalise it."""
    try:
        return normalize(value.quantize(_MONEY_QUANTUM, context=_ROUNDING))
    except DecimalException as exc:
        raise LedgerValidationError(
            f"amount {value} is out of range: {type(exc).__name__}"
        ) from exc


class OpenLot(Frozen):
    """A lot still open at the end of the input: what remains of one buy, at its price.

    ``qty`` is the remaining quantity (the buy's quantity less what sells consumed).
    """

    strategy: StrategyName
    symbol: Symbol
    order_id: OrderId
    opened_at: UTCDateTime
    qty: PositiveDecimal
    price: PositiveDecimal


class Oversell(Frozen):
    """A sell that exceeded the strategy's open lots in the symbol.

    ``unmatched_qty`` (> 0) is the part of the sell's ``sell_qty`` that found no lot; it realised
    no P&L. The matched part (``sell_qty - unmatched_qty``) did.
    """

    strategy: StrategyName
    symbol: Symbol
    order_id: OrderId
    filled_at: UTCDateTime
    sell_qty: PositiveDecimal
    unmatched_qty: PositiveDecimal

    @model_validator(mode="after")
    def _unmatched_within_sell(self) -> Oversell:
        if self.unmatched_qty > self.sell_qty:
            raise ValueError("unmatched_qty exceeds sell_qty")
        return self


class Realization(Frozen):
    """What one sell realised: ``realized_pnl = proceeds - cost_basis`` over ``matched_qty``.

    ``proceeds = matched_qty * sell price``; ``cost_basis`` = sum of ``slice qty * lot price``
    over the lots consumed; both rounded to ``MONEY_PLACES``.
    """

    strategy: StrategyName
    symbol: Symbol
    order_id: OrderId
    filled_at: UTCDateTime
    sell_qty: NonNegativeDecimal
    matched_qty: NonNegativeDecimal
    proceeds: NonNegativeDecimal
    cost_basis: NonNegativeDecimal
    realized_pnl: Money

    @model_validator(mode="after")
    def _consistent(self) -> Realization:
        if self.matched_qty > self.sell_qty:
            raise ValueError("matched_qty exceeds sell_qty")
        with exact_arithmetic():
            if self.realized_pnl != self.proceeds - self.cost_basis:
                raise ValueError("realized_pnl must equal proceeds - cost_basis")
        return self


class FifoBook(Frozen):
    """The FIFO result of one (strategy, symbol).

    ``bought_qty``/``sold_qty`` are the totals of its buys/sells; ``matched_qty`` is the sold
    quantity that closed lots, so ``sold_qty = matched_qty + unmatched_qty`` and
    ``bought_qty = matched_qty + open quantity``. ``realized_pnl`` excludes fees;
    ``net_realized_pnl = realized_pnl - fees``.
    """

    strategy: StrategyName
    symbol: Symbol
    bought_qty: NonNegativeDecimal
    sold_qty: NonNegativeDecimal
    matched_qty: NonNegativeDecimal
    unmatched_qty: NonNegativeDecimal
    realized_pnl: Money
    fees: NonNegativeDecimal
    net_realized_pnl: Money
    open_lots: tuple[OpenLot, ...] = ()
    oversells: tuple[Oversell, ...] = ()
    realizations: tuple[Realization, ...] = ()

    @property
    def open_qty(self) -> Decimal:
        with exact_arithmetic():
            return normalize(sum((lot.qty for lot in self.open_lots), _ZERO))

    @model_validator(mode="after")
    def _balances(self) -> FifoBook:
        with exact_arithmetic():
            checks = {
                "sold_qty = matched_qty + unmatched_qty": self.sold_qty
                == self.matched_qty + self.unmatched_qty,
                "bought_qty = matched_qty + open lots": self.bought_qty
                == self.matched_qty + sum((lot.qty for lot in self.open_lots), _ZERO),
                "unmatched_qty = sum of oversells": self.unmatched_qty
                == sum((o.unmatched_qty for o in self.oversells), _ZERO),
                "realized_pnl = sum of realizations": self.realized_pnl
                == sum((r.realized_pnl for r in self.realizations), _ZERO),
                "net_realized_pnl = realized_pnl - fees": self.net_realized_pnl
                == self.realized_pnl - self.fees,
            }
        broken = [name for name, ok in checks.items() if not ok]
        if broken:
            raise ValueError("FIFO book does not balance: " + "; ".join(broken))
        owners = [(m.strategy, m.symbol) for m in self.open_lots]
        owners += [(m.strategy, m.symbol) for m in self.oversells]
        owners += [(m.strategy, m.symbol) for m in self.realizations]
        if any(owner != (self.strategy, self.symbol) for owner in owners):
            raise ValueError("every lot, oversell and realization must belong to the book")
        return self


class FifoResult(Frozen):
    """Every (strategy, symbol) book, sorted by strategy then symbol."""

    books: tuple[FifoBook, ...] = ()

    @model_validator(mode="after")
    def _sorted_unique(self) -> FifoResult:
        names = [(b.strategy, b.symbol) for b in self.books]
        if names != sorted(set(names)):
            raise ValueError("books must be unique and sorted by (strategy, symbol)")
        return self

    def book(self, strategy: str, symbol: str) -> FifoBook | None:
        return next((b for b in self.books if (b.strategy, b.symbol) == (strategy, symbol)), None)

    def for_strategy(self, strategy: str) -> tuple[FifoBook, ...]:
        return tuple(b for b in self.books if b.strategy == strategy)

    @property
    def realized_pnl(self) -> Decimal:
        with exact_arithmetic():
            return normalize(sum((b.realized_pnl for b in self.books), _ZERO))

    @property
    def fees(self) -> Decimal:
        with exact_arithmetic():
            return normalize(sum((b.fees for b in self.books), _ZERO))

    @property
    def net_realized_pnl(self) -> Decimal:
        with exact_arithmetic():
            return normalize(self.realized_pnl - self.fees)

    @property
    def open_lots(self) -> tuple[OpenLot, ...]:
        return tuple(lot for b in self.books for lot in b.open_lots)

    @property
    def oversells(self) -> tuple[Oversell, ...]:
        return tuple(o for b in self.books for o in b.oversells)

    def realizations_between(
        self, start: datetime | None, end: datetime | None, *, strategy: str | None = None
    ) -> tuple[Realization, ...]:
        """Realizations of sells with ``start <= filled_at < end`` (``None``: unbounded)."""
        return tuple(
            r
            for b in self.books
            if strategy is None or b.strategy == strategy
            for r in b.realizations
            if (start is None or r.filled_at >= start) and (end is None or r.filled_at < end)
        )


@dataclass(slots=True)
class _Lot:
    order_id: str
    opened_at: datetime
    qty: Decimal
    price: Decimal


class _Sale(NamedTuple):
    """What one sell realised, before it becomes a ``Realization`` (same fields and values)."""

    order_id: str
    filled_at: datetime
    sell_qty: Decimal
    matched_qty: Decimal
    proceeds: Decimal
    cost_basis: Decimal
    realized_pnl: Decimal


@dataclass(slots=True)
class _Book:
    strategy: str
    symbol: str
    lots: deque[_Lot] = field(default_factory=deque)
    bought: Decimal = _ZERO
    sold: Decimal = _ZERO
    matched: Decimal = _ZERO
    unmatched: Decimal = _ZERO
    realized: Decimal = _ZERO
    fees: Decimal = _ZERO
    sales: list[_Sale] = field(default_factory=list)  # fifo_records
    realizations: list[Realization] = field(default_factory=list)  # fifo_match
    oversells: list[Oversell] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class BookRecords:
    """What ``summarize_ledger`` reads of one (strategy, symbol) book (see ``fifo_records``).

    ``realized``: ``(filled_at, realized_pnl)`` of each sell, in FIFO order (the
    ``Realization`` records' values, without building the records).
    """

    strategy: str
    symbol: str
    realized: tuple[tuple[datetime, Decimal], ...]
    oversells: tuple[Oversell, ...]
    open_lots: tuple[OpenLot, ...]


#: Sort key of the order the FIFO processes fills in: ``(filled_at, order_id, strategy)``.
fifo_order: Final = attrgetter("filled_at", "order_id", "strategy")


@ledger_arithmetic
def fifo_match(fills: Iterable[FifoFill]) -> FifoResult:
    """Match sells against buys first-in-first-out, per (strategy, symbol). See the module doc.

    Raises ``LedgerValidationError`` if the same (strategy, order_id) appears twice (the input
    would double count) or a sum cannot be computed exactly.
    """
    ordered = sorted(fills, key=fifo_order)
    with exact_arithmetic():
        books = _run(ordered, validate=True)
        return FifoResult(books=tuple(_book_dto(books[name]) for name in sorted(books)))


@ledger_arithmetic
def fifo_records(ordered: Iterable[FifoFill]) -> tuple[BookRecords, ...]:
    """``fifo_match`` for validated ``StrategyAttribution`` s already in ``fifo_order``.

    The same matching, the same numbers and the same errors as ``fifo_match``, but the per-sell
    ``Realization`` and the per-book ``FifoBook`` records are not built: their invariants hold
    by construction for validated input (normalised decimals, ``qty``/``fees`` >= 0,
    ``price`` > 0), except that a computed amount may not normalise (more than 38 significant
    digits). That is checked (``fits``) for every amount the records would hold; when it fails
    the record is built (and validated) as ``fifo_match`` builds it, so the same error is
    raised.
    ``Oversell`` and ``OpenLot`` records are part of the result and are built validated.
    Books are returned sorted by (strategy, symbol).
    """
    with exact_arithmetic():
        books = _run(ordered, validate=False)
        return tuple(_book_records(books[name]) for name in sorted(books))


def _run(ordered: Iterable[FifoFill], *, validate: bool) -> dict[tuple[str, str], _Book]:
    """The matching itself, fills in ``fifo_order``; call inside ``exact_arithmetic``.

    ``validate``: build each sell's ``Realization`` as it happens (``fifo_match``); otherwise
    only check that its amounts fit (``fifo_records``).
    """
    seen: dict[str, set[str]] = {}  # order ids by strategy
    books: dict[tuple[str, str], _Book] = {}
    for fill in ordered:
        strategy, order_id = fill.strategy, fill.order_id
        orders = seen.get(strategy)
        if orders is None:
            orders = seen[strategy] = set()
        elif order_id in orders:
            raise LedgerValidationError(
                f"order {order_id} is attributed to strategy {strategy} twice"
            )
        orders.add(order_id)
        name = (strategy, fill.symbol)
        book = books.get(name)
        if book is None:
            book = books[name] = _Book(strategy, fill.symbol)
        book.fees += fill.fees
        if fill.side is Side.BUY:
            book.bought += fill.qty
            if fill.qty > 0:
                book.lots.append(_Lot(order_id, fill.filled_at, fill.qty, fill.price))
            continue
        book.sold += fill.qty
        sale, unmatched = _sell(book, fill)
        if validate:
            book.realizations.append(_realization(book, sale))
        else:
            if not (fits(sale.matched_qty) and fits(sale.realized_pnl)):
                _realization(book, sale)  # raises the ValidationError fifo_match would raise
            book.sales.append(sale)
        if unmatched > 0:
            book.unmatched += unmatched
            book.oversells.append(
                Oversell(
                    strategy=strategy,
                    symbol=fill.symbol,
                    order_id=order_id,
                    filled_at=fill.filled_at,
                    sell_qty=fill.qty,
                    unmatched_qty=unmatched,
                )
            )
    return books


def _sell(book: _Book, fill: FifoFill) -> tuple[_Sale, Decimal]:
    remaining = fill.qty
    cost = _ZERO
    lots = book.lots
    while remaining > 0 and lots:
        lot = lots[0]
        take = min(lot.qty, remaining)
        cost += take * lot.price
        lot.qty -= take
        remaining -= take
        if lot.qty == 0:
            lots.popleft()
    matched = fill.qty - remaining
    proceeds = money(matched * fill.price)
    cost_basis = money(cost)
    pnl = proceeds - cost_basis
    book.matched += matched
    book.realized += pnl
    sale = _Sale(fill.order_id, fill.filled_at, fill.qty, matched, proceeds, cost_basis, pnl)
    return sale, remaining


def _realization(book: _Book, sale: _Sale) -> Realization:
    return Realization(
        strategy=book.strategy,
        symbol=book.symbol,
        order_id=sale.order_id,
        filled_at=sale.filled_at,
        sell_qty=sale.sell_qty,
        matched_qty=sale.matched_qty,
        proceeds=sale.proceeds,
        cost_basis=sale.cost_basis,
        realized_pnl=sale.realized_pnl,
    )


def _open_lots(book: _Book) -> tuple[OpenLot, ...]:
    return tuple(
        OpenLot(
            strategy=book.strategy,
            symbol=book.symbol,
            order_id=lot.order_id,
            opened_at=lot.opened_at,
            qty=lot.qty,
            price=lot.price,
        )
        for lot in book.lots
    )


def _book_dto(book: _Book) -> FifoBook:
    return FifoBook(
        strategy=book.strategy,
        symbol=book.symbol,
        bought_qty=book.bought,
        sold_qty=book.sold,
        matched_qty=book.matched,
        unmatched_qty=book.unmatched,
        realized_pnl=book.realized,
        fees=book.fees,
        net_realized_pnl=book.realized - book.fees,
        open_lots=_open_lots(book),
        oversells=tuple(book.oversells),
        realizations=tuple(book.realizations),
    )


def _book_records(book: _Book) -> BookRecords:
    open_lots = _open_lots(book)
    net = book.realized - book.fees
    totals = (book.bought, book.sold, book.matched, book.unmatched, book.realized, book.fees, net)
    if not all(fits(value) for value in totals):
        # What fifo_match would do, so that the same ValidationError is raised.
        book.realizations = [_realization(book, sale) for sale in book.sales]
        _book_dto(book)
    return BookRecords(
        strategy=book.strategy,
        symbol=book.symbol,
        realized=tuple((sale.filled_at, sale.realized_pnl) for sale in book.sales),
        oversells=tuple(book.oversells),
        open_lots=open_lots,
    )


def fits(value: Decimal) -> bool:
    """Whether ``normalize`` accepts a finite ``value`` (cheaper than calling it).

    ``normalize`` rejects more than 38 significant digits (rounding to 38 digits is then
    inexact) and magnitudes outside ``[1E-38, 1E+38)``. Independent of the caller's context:
    ``_FITS`` is named, and ``is_zero`` and ``adjusted`` use none.
    """
    if value.is_zero():
        return True
    try:
        _FITS.plus(value)
    except Inexact:
        return False
    return MIN_ADJUSTED_EXPONENT <= value.adjusted() <= MAX_ADJUSTED_EXPONENT
