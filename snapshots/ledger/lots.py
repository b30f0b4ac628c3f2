"""The signed-lot ledger: fills and account events, in time order, to lots, matches and cash.

This is the accounting of ``snapshot_version`` 1.2 (issue 10; the 1.1 snapshots use
``snapshots.ledger.fifo``). Each (strategy, symbol) holds **signed lots**, all long or all
short, matched first-in-first-out:

* a BUY first covers the oldest open *short* lots; each covered slice of ``m`` shorted at ``s``
  and bought back at ``b`` realises ``m * (s - b)``; what is left of the buy opens a long lot;
* a SELL first closes the oldest open *long* lots; each slice of ``m`` bought at ``b`` and sold
  at ``s`` realises ``m * (s - b)``; what is left of the sell opens a short lot at ``s``;
* an option's slice counts its contract multiplier (100 shares a contract);
* a slice's P&L is rounded half-even to ``MONEY_PLACES`` (exact for prices and quantities of
  at most 9 places each; split-adjusted prices may carry 18); fees are never part of it.

Account events apply at their ``effective_at``, **before** the fills of the same instant (a
corporate action takes effect as the day starts; a dividend goes to the holders just before
its record time):

* ``split`` of ``symbol`` by ``ratio_new : ratio_old``: every lot's quantity becomes
  ``qty * new / old`` truncated to 9 places, and the shares that truncation leaves short of
  the position Alpaca rounds once (half-up to 9 places) go to the lots that lost the most
  (``_reshaped_quantities``); its price is ``cost / new qty`` (``cost`` = old qty times old
  price) rounded half-even to 18 places, so the cost basis is unchanged to far below a cent
  (a lot left with less than 1e-9 shares is gone);
* ``symbol_change``: the lots of ``symbol`` continue as ``new_symbol`` (same quantities,
  prices, opening orders and times), joining any lots the strategy already held in it in
  acquisition order ``(opened_at, order_id)`` (lots on the other side close against them
  first, as fills at their own prices);
* ``merger``: like a split into ``new_symbol``; ``cash_per_share`` times the old quantity is
  returned capital: it lowers the lot's basis (``price = max(cost - cash, 0) / new qty``, the
  cost of a short lot being its proceeds) and what exceeds the basis is realised, a gain for a
  long lot and a loss for a short one (the short owes the cash); a lot left with no shares
  still gets its cash and realises the rest of its basis (``ratio_new`` 0: a cash-only
  takeover);
* ``dividend`` of ``amount``: shared among the strategies holding lots of ``symbol`` by their
  signed holdings (a short pays its part; Alpaca paid the account's net holding), exactly:
  each share is truncated toward zero to 9 places and the remaining units (of either sign) go
  to the largest remainders in their direction (ties by strategy name). Held by no strategy,
  or netting to zero: ``unattributed``;
* ``cash_flow``: the account's capital, kept apart from every strategy's P&L;
* ``cash_in_lieu`` of ``amount``: the fraction of a share the strategies' long lots of the
  symbol hold together beyond whole shares (what a split left) is sold for the cash, taken
  from the newest lots first; each slice realises its share of the cash less its cost
  (``capital_realizations``). With no fraction held: ``unattributed_cash_in_lieu``;
* ``option_expiry`` of a contract: every lot of it, in every strategy, closes at 0: a long
  lot realises minus its premium (``qty * price * 100``), a written one keeps it
  (``capital_realizations``);
* ``option_exercise`` of ``qty`` contracts (an exercise closes long contracts, an assignment
  written ones): the contract's lots on that side close oldest first across strategies, at no
  P&L, and each strategy that held them trades the shares of its contracts (100 a contract)
  at the strike with the premium folded
  in, as US brokers report it: a call's premium is added to the price (the shares bought by
  an exercised call cost more, those sold by an assigned call fetch more), a put's is
  subtracted (an assigned put's shares cost less, an exercised put's fetch less). The premium
  is the lots' ``qty * price * 100``; the price per share is ``(strike * shares +/- premium) /
  shares`` rounded half-even to 18 places. The trade is a fill of the strategy at the event's
  time under the event's id: it closes lots of the other side FIFO (a covered call's shares)
  and opens a lot with what is left. Contracts no lot covers are ``unattributed_exercises``
  (their shares are in no strategy, and the positions check says so);
* ``asset_fee`` of ``qty`` (a crypto fee Alpaca took in the coin bought): taken from the
  newest long lots of the asset first (the buy it was charged on), across strategies, the pair
  spelt with or without its slash (``ETH/USD`` lots, ``ETHUSD`` fee). A lot keeps its cost
  (``price = cost / new qty``, as a split does): the fee is part of what the coins cost, and
  shows in the P&L when they are sold. A lot the fee empties loses its cost as a realised
  loss (``capital_realizations``). What no long lot covers is ``unattributed_asset_fees``;
  what each strategy's lots gave is its ``asset_fee_shares``.

Order within an instant: events by ``event_id``, then cash in lieu (after the split it pays
for), then fills by ``(order_id, strategy)``, then asset fees (Alpaca stamps a coin fee with
its fill's time, or just after).
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Final, Literal

from ledger_store.decimals import decimal_context, ledger_arithmetic, normalize, normalized
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
    contract_multiplier,
    option_terms,
)
from ledger_store.errors import LedgerValidationError
from ledger_store.events import (
    AssetFee,
    CashFlow,
    CashInLieu,
    Dividend,
    Event,
    Merger,
    OptionExercise,
    OptionExpiry,
    Split,
    SymbolChange,
)
from snapshots.ledger.fifo import MONEY_PLACES, FifoFill

LotSide = Literal["long", "short"]

_EXACT: Final = decimal_context(200)
_MONEY: Final = Decimal(1).scaleb(-MONEY_PLACES)
_QTY_PLACES: Final = 9
_QTY: Final = Decimal(1).scaleb(-_QTY_PLACES)
_ZERO: Final = Decimal(0)


def _money(value: Decimal) -> Decimal:
    return normalize(value.quantize(_MONEY, rounding=ROUND_HALF_EVEN, context=_EXACT))


def _fraction_to(value: Fraction, quantum: Decimal, rounding: str) -> Decimal:
    exact = _EXACT.divide(Decimal(value.numerator), Decimal(value.denominator))
    return normalize(exact.quantize(quantum, rounding=rounding, context=_EXACT))


class Lot(Frozen):
    """An open lot: what remains of one opening fill, long or short, at its (adjusted) price."""

    strategy: StrategyName
    symbol: Symbol
    side: LotSide
    order_id: OrderId
    opened_at: UTCDateTime
    qty: PositiveDecimal
    price: NonNegativeDecimal


def market_price(prices: Mapping[str, Decimal], symbol: str) -> Decimal | None:
    """``symbol``'s price in ``prices`` (Alpaca's positions by symbol); Alpaca names a crypto
    position without the pair's slash (BTC/USD: BTCUSD). ``None`` when it has none."""
    price = prices.get(symbol)
    return prices.get(symbol.replace("/", "")) if price is None else price


def marked_pnl(lot: Lot, price: Decimal) -> Decimal:
    """The unrealised P&L of ``lot`` at ``price``: the gain per unit on the lot's side, times
    its qty and contract multiplier, rounded half-even to the cent."""
    gain = (
        _EXACT.subtract(price, lot.price)
        if lot.side == "long"
        else _EXACT.subtract(lot.price, price)
    )
    value = _EXACT.multiply(
        _EXACT.multiply(lot.qty, gain), Decimal(contract_multiplier(lot.symbol))
    )
    return _money(value)


class Match(Frozen):
    """A round trip: ``qty`` of a lot opened by ``open_order_id`` closed by ``close_order_id``.

    ``side`` is the lot's: a long lot closed by a sell, a short lot covered by a buy.
    ``realized_pnl`` = ``qty * (close - open)`` for a long, ``qty * (open - close)`` for a short,
    times the contract multiplier (100 for an option, ``ledger_store.dto.contract_multiplier``).
    """

    strategy: StrategyName
    symbol: Symbol
    side: LotSide
    open_order_id: OrderId
    close_order_id: OrderId
    opened_at: UTCDateTime
    closed_at: UTCDateTime
    qty: PositiveDecimal
    open_price: NonNegativeDecimal
    close_price: NonNegativeDecimal
    realized_pnl: Money


class DividendShare(Frozen):
    """A strategy's part of a dividend (or of a withholding, negative); ``qty_held`` is its
    signed holding (a short pays the dividend: its part has the other sign)."""

    strategy: StrategyName
    symbol: Symbol
    event_id: str
    effective_at: UTCDateTime
    qty_held: Money
    amount: Money


class AssetFeeShare(Frozen):
    """The part of a coin fee (``asset_fee``) taken from one strategy's lots of ``symbol``:
    ``qty`` of the coin, which the strategy's lots lost at the same cost."""

    strategy: StrategyName
    symbol: Symbol
    event_id: str
    effective_at: UTCDateTime
    qty: PositiveDecimal


class CapitalRealization(Frozen):
    """P&L an event realised on a lot (``order_id``: the lot's opener): a merger's cash beyond
    the lot's basis, or the cost of a lot an asset fee took entirely."""

    strategy: StrategyName
    symbol: Symbol
    event_id: str
    order_id: OrderId
    effective_at: UTCDateTime
    realized_pnl: Money


class LotLedger(Frozen):
    """Everything the signed-lot ledger found, ordered for equal inputs to give equal output.

    ``lots`` by (strategy, symbol, opened_at, order_id); ``matches`` by (strategy, closed_at,
    close order, open order); ``dividends`` by (strategy, effective_at, event_id);
    ``unattributed_dividends`` and ``cash_flows`` by (effective_at, event_id).
    """

    lots: tuple[Lot, ...] = ()
    matches: tuple[Match, ...] = ()
    capital_realizations: tuple[CapitalRealization, ...] = ()
    dividends: tuple[DividendShare, ...] = ()
    unattributed_dividends: tuple[Dividend, ...] = ()
    cash_flows: tuple[CashFlow, ...] = ()
    unattributed_asset_fees: tuple[AssetFee, ...] = ()
    asset_fee_shares: tuple[AssetFeeShare, ...] = ()
    unattributed_cash_in_lieu: tuple[CashInLieu, ...] = ()
    unattributed_exercises: tuple[OptionExercise, ...] = ()

    def realized_pnl(self, strategy: str) -> Decimal:
        """Matches plus merger cash beyond basis, fees excluded."""
        total = sum((m.realized_pnl for m in self.matches if m.strategy == strategy), _ZERO)
        total += sum(
            (r.realized_pnl for r in self.capital_realizations if r.strategy == strategy), _ZERO
        )
        return normalize(total)

    def dividend_income(self, strategy: str) -> Decimal:
        return normalize(sum((d.amount for d in self.dividends if d.strategy == strategy), _ZERO))

    def net_deposits(self) -> Decimal:
        return normalize(sum((c.amount for c in self.cash_flows), _ZERO))


# The engine ------------------------------------------------------------------------------------


@dataclass
class _Lot:
    side: LotSide
    order_id: str
    opened_at: datetime
    qty: Decimal
    price: Decimal


@dataclass
class _State:
    books: dict[tuple[str, str], deque[_Lot]] = field(default_factory=lambda: defaultdict(deque))
    matches: list[Match] = field(default_factory=list)
    capital: list[CapitalRealization] = field(default_factory=list)
    dividends: list[DividendShare] = field(default_factory=list)
    unattributed: list[Dividend] = field(default_factory=list)
    cash_flows: list[CashFlow] = field(default_factory=list)
    unattributed_fees: list[AssetFee] = field(default_factory=list)
    fee_shares: dict[tuple[str, str, str, datetime], Fraction] = field(default_factory=dict)
    unattributed_lieu: list[CashInLieu] = field(default_factory=list)
    unattributed_exercises: list[OptionExercise] = field(default_factory=list)


@ledger_arithmetic
def run_lots(
    fills: Iterable[FifoFill], events: Iterable[Event], *, opening: Iterable[Lot] = ()
) -> LotLedger:
    """Apply ``events`` and ``fills`` (any order given) in time order; see the module docstring.

    ``opening`` are lots already open before the first fill and event (those a snapshot carried
    forward, as ``LotLedger.lots`` or a snapshot's ``open_lots`` list them): each (strategy,
    symbol) book starts with them in acquisition order. Only ``lots`` then covers what was open
    before; matches, dividends and cash flows are those of ``fills`` and ``events``.
    """
    timeline: list[tuple[datetime, int, str, str, Event | FifoFill]] = [
        (e.effective_at, _TIER.get(type(e), 0), e.event_id, "", e) for e in events
    ]
    timeline += [(f.filled_at, _FILLS, f.order_id, f.strategy, f) for f in fills]
    timeline.sort(key=lambda entry: entry[:4])
    state = _State()
    for lot in sorted(opening, key=lambda x: (x.strategy, x.symbol, x.opened_at, x.order_id)):
        book = state.books[(lot.strategy, lot.symbol)]
        if book and book[0].side != lot.side:
            raise LedgerValidationError(
                f"opening lots of {lot.strategy} in {lot.symbol} are both long and short"
            )
        book.append(_Lot(lot.side, lot.order_id, lot.opened_at, lot.qty, lot.price))
    for _, kind, _, _, entry in timeline:
        if kind == _FILLS:
            _apply_fill(state, entry)  # type: ignore[arg-type]
        else:
            _apply_event(state, entry)  # type: ignore[arg-type]
    lots = [
        Lot(
            strategy=strategy,
            symbol=symbol,
            side=lot.side,
            order_id=lot.order_id,
            opened_at=lot.opened_at,
            qty=lot.qty,
            price=lot.price,
        )
        for (strategy, symbol), book in state.books.items()
        for lot in book
    ]
    return LotLedger(
        lots=tuple(sorted(lots, key=lambda x: (x.strategy, x.symbol, x.opened_at, x.order_id))),
        matches=tuple(
            sorted(
                state.matches,
                key=lambda m: (
                    m.strategy,
                    m.closed_at,
                    m.close_order_id,
                    m.opened_at,
                    m.open_order_id,
                ),
            )
        ),
        capital_realizations=tuple(state.capital),
        dividends=tuple(
            sorted(state.dividends, key=lambda d: (d.strategy, d.effective_at, d.event_id))
        ),
        unattributed_dividends=tuple(state.unattributed),
        cash_flows=tuple(state.cash_flows),
        unattributed_asset_fees=tuple(state.unattributed_fees),
        asset_fee_shares=_fee_shares(state),
        unattributed_cash_in_lieu=tuple(state.unattributed_lieu),
        unattributed_exercises=tuple(state.unattributed_exercises),
    )


def _match_key(m: Match) -> tuple[str, datetime, str, datetime, str]:
    return (m.strategy, m.closed_at, m.close_order_id, m.opened_at, m.open_order_id)


def _apply_fill(state: _State, fill: FifoFill) -> None:
    if fill.qty <= 0:
        return
    _trade(
        state,
        fill.strategy,
        fill.symbol,
        fill.side,
        fill.qty,
        fill.price,
        fill.order_id,
        fill.filled_at,
    )


def _trade(
    state: _State,
    strategy: str,
    symbol: str,
    side: Side,
    qty: Decimal,
    price: Decimal,
    order_id: str,
    at: datetime,
) -> None:
    """A fill of ``strategy``: close the other side's lots FIFO, open a lot with the rest."""
    book = state.books[(strategy, symbol)]
    closing: LotSide = "short" if side is Side.BUY else "long"
    left = qty
    while left > 0 and book and book[0].side == closing:
        lot = book[0]
        taken = min(left, lot.qty)
        gain = price - lot.price if closing == "long" else lot.price - price
        gain *= contract_multiplier(symbol)
        state.matches.append(
            # Every value is a validated fill's or exact arithmetic on them (``_money`` of the
            # P&L): validating a full read's ~10^5 matches again was a third of its fold.
            Match.model_construct(
                strategy=strategy,
                symbol=symbol,
                side=closing,
                open_order_id=lot.order_id,
                close_order_id=order_id,
                opened_at=lot.opened_at,
                closed_at=at,
                qty=taken,
                open_price=lot.price,
                close_price=price,
                realized_pnl=_money(_EXACT.multiply(taken, gain)),
            )
        )
        # differences of two quantities in range are in range: normalised, not checked again
        lot.qty = normalized(_EXACT.subtract(lot.qty, taken))
        left = normalized(_EXACT.subtract(left, taken))
        if lot.qty == 0:
            book.popleft()
    if left > 0:
        opened: LotSide = "long" if side is Side.BUY else "short"
        book.append(_Lot(opened, order_id, at, left, price))


def _apply_event(state: _State, event: Event) -> None:
    if isinstance(event, CashFlow):
        state.cash_flows.append(event)
    elif isinstance(event, Dividend):
        _dividend(state, event)
    elif isinstance(event, Split):
        _reshape(state, event, event.symbol, event.symbol, event.ratio_new, event.ratio_old, None)
    elif isinstance(event, SymbolChange):
        _reshape(state, event, event.symbol, event.new_symbol, Decimal(1), Decimal(1), None)
    elif isinstance(event, AssetFee):
        _asset_fee(state, event)
    elif isinstance(event, CashInLieu):
        _cash_in_lieu(state, event)
    elif isinstance(event, OptionExpiry):
        _expire(state, event)
    elif isinstance(event, OptionExercise):
        _exercise(state, event)
    elif isinstance(event, Merger):
        _reshape(
            state,
            event,
            event.symbol,
            event.new_symbol,
            event.ratio_new,
            event.ratio_old,
            event.cash_per_share,
        )


def _reshape(
    state: _State,
    event: Event,
    symbol: str,
    new_symbol: str,
    ratio_new: Decimal,
    ratio_old: Decimal,
    cash_per_share: Decimal | None,
) -> None:
    """Split, rename or merge every strategy's lots of ``symbol`` into ``new_symbol``."""
    ratio = Fraction(ratio_new) / Fraction(ratio_old)
    quantities = _reshaped_quantities(state, symbol, ratio)
    for strategy, held in sorted(state.books.items()):
        strategy_name, book_symbol = strategy
        if book_symbol != symbol or not held:
            continue
        reshaped: deque[_Lot] = deque()
        for index, lot in enumerate(held):
            qty = quantities[(strategy_name, index)]
            cost = Fraction(lot.qty) * Fraction(lot.price)
            if cash_per_share:
                cash = Fraction(lot.qty) * Fraction(cash_per_share)
                sign = 1 if lot.side == "long" else -1
                excess = cash - cost
                cost = max(cost - cash, Fraction(0))
                if excess > 0:
                    _realize(state, strategy_name, symbol, event, lot, excess * sign)
            if qty == 0:
                # Nothing left to hold (a sliver below 1e-9 shares, or a cash-only takeover):
                # what is left of the basis is realised, after the cash above.
                if cost:
                    sign = 1 if lot.side == "long" else -1
                    _realize(state, strategy_name, symbol, event, lot, -cost * sign)
                continue
            price = _fraction_to(cost / Fraction(qty), _MONEY, ROUND_HALF_EVEN)
            reshaped.append(_Lot(lot.side, lot.order_id, lot.opened_at, qty, price))
        held.clear()
        target = state.books[(strategy_name, new_symbol)]
        if target and reshaped and target[0].side != reshaped[0].side:
            _net(state, strategy_name, new_symbol, target, reshaped, event)
        else:
            target.extend(reshaped)
        # A book is always in acquisition order: lots that arrive join by their opening time,
        # so the snapshot's open lots (sorted so) are exactly the FIFO queue to carry forward.
        ordered = sorted(target, key=lambda lot: (lot.opened_at, lot.order_id))
        target.clear()
        target.extend(ordered)


def _reshaped_quantities(
    state: _State, symbol: str, ratio: Fraction
) -> dict[tuple[str, int], Decimal]:
    """Every lot's quantity after ``symbol``'s shares become ``ratio`` times as many.

    Alpaca rounds the account's position once, half-up to 9 places (``7 * 1/6`` shares become
    1.166666667), not each lot: each lot's exact quantity is truncated to 9 places and the
    units that brings the signed total short of Alpaca's rounded position go one each to the
    lots that lost the most (ties by strategy, then acquisition order) on the side that moves
    the total toward it. The lots then add up to Alpaca's position exactly.
    """
    exact: dict[tuple[str, int], Fraction] = {}
    sides: dict[tuple[str, int], int] = {}
    for (strategy, book_symbol), held in sorted(state.books.items()):
        if book_symbol != symbol:
            continue
        for index, lot in enumerate(held):
            exact[(strategy, index)] = Fraction(lot.qty) * ratio
            sides[(strategy, index)] = 1 if lot.side == "long" else -1
    scale = 10**_QTY_PLACES
    units = {key: math.floor(value * scale) for key, value in exact.items()}
    signed_exact = sum((sides[k] * exact[k] * scale for k in exact), Fraction(0))
    target = math.floor(abs(signed_exact) + Fraction(1, 2)) * (1 if signed_exact >= 0 else -1)
    residual = target - sum(sides[k] * units[k] for k in units)
    side = 1 if residual > 0 else -1
    lost = sorted(
        (k for k in units if sides[k] == side and exact[k] * scale > units[k]),
        key=lambda k: (-(exact[k] * scale - units[k]), k),
    )
    for key in lost[: abs(residual)]:
        units[key] += 1
    return {
        key: normalize(Decimal(count).scaleb(-_QTY_PLACES, context=_EXACT))
        for key, count in units.items()
    }


def _net(
    state: _State,
    strategy: str,
    symbol: str,
    target: deque[_Lot],
    incoming: deque[_Lot],
    event: Event,
) -> None:
    """Lots arriving on the other side of what the strategy holds close against it, FIFO,
    as if each arriving lot were a fill at its own price at the event's time."""
    for lot in incoming:
        left = lot.qty
        while left > 0 and target and target[0].side != lot.side:
            held = target[0]
            qty = min(left, held.qty)
            gain = lot.price - held.price if held.side == "long" else held.price - lot.price
            gain *= contract_multiplier(symbol)
            state.matches.append(
                Match(
                    strategy=strategy,
                    symbol=symbol,
                    side=held.side,
                    open_order_id=held.order_id,
                    close_order_id=lot.order_id,
                    opened_at=held.opened_at,
                    closed_at=event.effective_at,
                    qty=qty,
                    open_price=held.price,
                    close_price=lot.price,
                    realized_pnl=_money(_EXACT.multiply(qty, gain)),
                )
            )
            held.qty = normalize(_EXACT.subtract(held.qty, qty))
            left = normalize(_EXACT.subtract(left, qty))
            if held.qty == 0:
                target.popleft()
        if left > 0:
            target.append(_Lot(lot.side, lot.order_id, lot.opened_at, left, lot.price))


#: Where an entry falls among those of its instant (see the module docstring).
_FILLS: Final = 2
_TIER: Final[dict[type, int]] = {CashInLieu: 1, AssetFee: 3}


def _realize(
    state: _State, strategy: str, symbol: str, event: Event, lot: _Lot | str, pnl: Fraction
) -> None:
    """P&L ``event`` realises on ``lot`` (or the order id it stands for), rounded half-even to
    18 places."""
    state.capital.append(
        CapitalRealization(
            strategy=strategy,
            symbol=symbol,
            event_id=event.event_id,
            order_id=lot if isinstance(lot, str) else lot.order_id,
            effective_at=event.effective_at,
            realized_pnl=_fraction_to(pnl, _MONEY, ROUND_HALF_EVEN),
        )
    )


def _newest_long_lots(state: _State, pair: str) -> list[tuple[str, str, _Lot]]:
    """``(strategy, symbol, lot)`` of every long lot of ``pair`` (``ETH/USD`` and ``ETHUSD`` are
    one), newest first: by opening time, order id, strategy, symbol, descending."""
    held = sorted(
        (
            (lot.opened_at, lot.order_id, strategy, symbol, lot)
            for (strategy, symbol), book in state.books.items()
            if symbol.replace("/", "") == pair
            for lot in book
            if lot.side == "long"
        ),
        key=lambda entry: entry[:4],
        reverse=True,
    )
    return [(strategy, symbol, lot) for _, _, strategy, symbol, lot in held]


def _expire(state: _State, event: OptionExpiry) -> None:
    """Close every lot of the expired contract at 0 (see the module docstring)."""
    multiplier = Fraction(contract_multiplier(event.symbol))
    for (strategy, symbol), book in sorted(state.books.items()):
        if symbol != event.symbol:
            continue
        for lot in book:
            premium = Fraction(lot.qty) * Fraction(lot.price) * multiplier
            _realize(
                state, strategy, symbol, event, lot, -premium if lot.side == "long" else premium
            )
        book.clear()


def _exercise(state: _State, event: OptionExercise) -> None:
    """Close the exercised or assigned contracts and deliver their shares (module docstring)."""
    closing: LotSide = "long" if event.exercised else "short"
    held = sorted(
        (
            (lot.opened_at, lot.order_id, strategy, lot)
            for (strategy, symbol), book in state.books.items()
            if symbol == event.symbol
            for lot in book
            if lot.side == closing
        ),
        key=lambda entry: entry[:3],
    )
    contracts = Fraction(abs(event.qty))
    multiplier = Fraction(contract_multiplier(event.symbol))
    left = contracts
    taken_by: dict[str, list[Fraction]] = defaultdict(lambda: [Fraction(0), Fraction(0)])
    for _, _, strategy, lot in held:
        if left == 0:
            break
        taken = min(left, Fraction(lot.qty))
        left -= taken
        taken_by[strategy][0] += taken
        taken_by[strategy][1] += taken * Fraction(lot.price) * multiplier
        _take(state, strategy, event.symbol, lot, taken)
    terms = option_terms(event.symbol)
    sign = 1 if terms is not None and terms.right == "call" else -1
    side = Side.BUY if event.shares > 0 else Side.SELL
    for strategy, (taken, premium) in sorted(taken_by.items()):
        # 100 shares a contract (the event holds Alpaca's delivery to exactly that).
        shares = _fraction_to(taken * multiplier, _QTY, ROUND_HALF_EVEN)
        value = Fraction(shares) * Fraction(event.price) + sign * premium
        if value < 0:
            # A premium beyond the strike's value (a put's, in theory only): what the price
            # cannot go below 0 for is realised at once.
            gain = -value if side is Side.BUY else value
            _realize(state, strategy, event.underlying, event, event.event_id, gain)
            value = Fraction(0)
        price = _fraction_to(value / Fraction(shares), _MONEY, ROUND_HALF_EVEN)
        _trade(
            state,
            strategy,
            event.underlying,
            side,
            shares,
            price,
            event.event_id,
            event.effective_at,
        )
    if left > 0:
        state.unattributed_exercises.append(event)


def _slices_of_newest(
    state: _State, symbol: str, qty: Fraction
) -> tuple[list[tuple[str, str, _Lot, Fraction]], Fraction]:
    """The slices ``(strategy, symbol, lot, qty)`` that ``qty`` takes from the newest long lots
    of ``symbol`` (``_newest_long_lots``), and what no lot covers."""
    slices: list[tuple[str, str, _Lot, Fraction]] = []
    left = qty
    for strategy, held_symbol, lot in _newest_long_lots(state, symbol.replace("/", "")):
        if left == 0:
            break
        taken = min(left, Fraction(lot.qty))
        left -= taken
        slices.append((strategy, held_symbol, lot, taken))
    return slices, left


def _take(state: _State, strategy: str, symbol: str, lot: _Lot, qty: Fraction) -> bool:
    """Take ``qty`` from ``lot``; a lot left empty leaves its book. ``True`` if it did."""
    lot.qty = _fraction_to(Fraction(lot.qty) - qty, _QTY, ROUND_HALF_EVEN)
    if lot.qty:
        return False
    book = state.books[(strategy, symbol)]
    del book[next(i for i, other in enumerate(book) if other is lot)]
    return True


def _cash_in_lieu(state: _State, event: CashInLieu) -> None:
    """Sell the fraction of a share the long lots hold beyond whole shares for the cash."""
    held = _newest_long_lots(state, event.symbol.replace("/", ""))
    total = sum((Fraction(lot.qty) for _, _, lot in held), Fraction(0))
    fraction = total - math.floor(total)
    if fraction == 0:
        state.unattributed_lieu.append(event)
        return
    cash = Fraction(event.amount)
    for strategy, symbol, lot, taken in _slices_of_newest(state, event.symbol, fraction)[0]:
        sold = cash * taken / fraction - taken * Fraction(lot.price)
        _realize(state, strategy, symbol, event, lot, sold)
        _take(state, strategy, symbol, lot, taken)


def _asset_fee(state: _State, event: AssetFee) -> None:
    """Take ``event.qty`` from the newest long lots of the asset (see the module docstring)."""
    slices, left = _slices_of_newest(state, event.symbol, Fraction(event.qty))
    for strategy, symbol, lot, taken in slices:
        key = (strategy, symbol, event.event_id, event.effective_at)
        state.fee_shares[key] = state.fee_shares.get(key, Fraction(0)) + taken
        cost = Fraction(lot.qty) * Fraction(lot.price)
        if _take(state, strategy, symbol, lot, taken):
            _realize(state, strategy, symbol, event, lot, -cost)
        else:
            lot.price = _fraction_to(cost / Fraction(lot.qty), _MONEY, ROUND_HALF_EVEN)
    if left > 0:
        state.unattributed_fees.append(event)


def _fee_shares(state: _State) -> tuple[AssetFeeShare, ...]:
    """Each strategy's part of each coin fee, by (strategy, time, event id, symbol)."""
    shares = [
        AssetFeeShare(
            strategy=strategy,
            symbol=symbol,
            event_id=event_id,
            effective_at=effective_at,
            qty=_fraction_to(qty, _QTY, ROUND_HALF_EVEN),
        )
        for (strategy, symbol, event_id, effective_at), qty in state.fee_shares.items()
    ]
    return tuple(sorted(shares, key=lambda s: (s.strategy, s.effective_at, s.event_id, s.symbol)))


def _dividend(state: _State, event: Dividend) -> None:
    holdings: dict[str, Decimal] = {}
    for (strategy, symbol), book in state.books.items():
        if symbol != event.symbol or not book:
            continue
        held = sum((lot.qty for lot in book), _ZERO)
        signed = held if book[0].side == "long" else -held
        holdings[strategy] = normalize(holdings.get(strategy, _ZERO) + signed)
    holdings = {name: qty for name, qty in holdings.items() if qty}
    if not holdings or sum(holdings.values(), _ZERO) == 0:
        state.unattributed.append(event)
        return
    for strategy, (qty, amount) in _allocate(event.amount, holdings).items():
        state.dividends.append(
            DividendShare(
                strategy=strategy,
                symbol=event.symbol,
                event_id=event.event_id,
                effective_at=event.effective_at,
                qty_held=qty,
                amount=amount,
            )
        )


def _allocate(amount: Decimal, holders: dict[str, Decimal]) -> dict[str, tuple[Decimal, Decimal]]:
    """Split ``amount`` by the holders' signed quantities, exactly at 9 places.

    Holder ``i`` gets ``amount * q_i / sum(q)`` (a short holding pays its part: the account's
    net holding earned ``amount``). Each share is truncated toward zero; the units that leaves
    over (of either sign) go one each, in that direction, to the largest remainders in it
    (ties by strategy name), so the shares add up to ``amount``.
    """
    names = sorted(holders)
    total_qty = sum((Fraction(holders[n]) for n in names), Fraction(0))
    unit = Fraction(1, 10**_QTY_PLACES)
    exact = {n: Fraction(amount) * Fraction(holders[n]) / total_qty for n in names}
    shares = {n: _toward_zero(exact[n], unit) for n in names}
    left = int((Fraction(amount) - sum(shares.values(), Fraction(0))) / unit)
    direction = 1 if left > 0 else -1
    order = sorted(names, key=lambda n: (-direction * (exact[n] - shares[n]), n))
    for name in order[: abs(left)]:
        shares[name] += direction * unit
    return {n: (holders[n], _fraction_to(shares[n], _QTY, ROUND_HALF_EVEN)) for n in names}


def _toward_zero(value: Fraction, unit: Fraction) -> Fraction:
    units = math.floor(abs(value) / unit)
    return units * unit if value >= 0 else -units * unit


@ledger_arithmetic
def lots_of(ledger: LotLedger, strategy: str) -> Sequence[Lot]:
    return [lot for lot in ledger.lots if lot.strategy == strategy]
