"""Alpaca's non-trade activities as account events (``ledger_store.events``), where they allow.

* Only a row Alpaca has carried out becomes an event: ``status`` ``executed`` or ``correct``
  (or no status, as older rows have). A ``canceled`` row is listed apart (``canceled``): the
  snapshot job voids the event an earlier, executed version of it recorded.
* ``CSD`` / ``CSW`` / ``JNLC`` with a ``net_amount``: a ``cash_flow`` of that amount;
* ``DIV`` and its family (``DIVCGL``, ``DIVNRA``, ``DIVTW``, ...) with a ``symbol`` and a
  ``net_amount``: a ``dividend`` (negative for withholdings and fees). Its ``qty`` (the shares
  that earned it) is kept as Alpaca writes it, up to 18 places; a row whose ``qty`` an event
  cannot hold still books its amount, without the quantity;
* ``SSP`` (split): Alpaca moves the old shares out and the new ones in and may not state a
  ratio. The rows of one symbol and day that are exactly one share movement out (``qty < 0``)
  and one in (``qty > 0``) give the split ``new : old``: the simplest fraction (smallest
  denominator) that turns the shares out into the shares in as Alpaca rounds them, to 9
  places half-up (``split_ratio``): 200 out and 2,000 in make 10 : 1; 7 out and
  1.166666667 in make 1 : 6. Anything else (reversed and re-posted rows) is left for an
  explicit split event. Rows of the symbol and day that move cash and no shares (cash in lieu
  of a fraction, as Alpaca paid before it kept fractional shares) make one ``cash_in_lieu``
  event of their net amount (a posted and reversed pair nets to nothing), under the id of the
  last of them; the shares then came in whole, so the ratio is not theirs to tell: the share
  rows are left for an explicit split event;
* ``CFEE`` taking the fee in the coin (a ``symbol``, a negative ``qty``): an ``asset_fee`` of
  that quantity of the coin at the row's ``price``; a ``CFEE`` in dollars is a fee, read with
  the ``FEE`` rows (``AlpacaSource``), and no event;
* ``OPEXP`` (an option contract expired): an ``option_expiry`` of the contract, its ``qty``
  as Alpaca writes it (the position's change);
* ``OPEXC`` / ``OPASN`` (option contracts exercised or assigned) with the ``OPTRD`` row of the
  shares they delivered: an ``option_exercise`` of the contract (its ``qty`` as Alpaca writes
  it: < 0 exercised, > 0 assigned) and the trade's ``symbol``, ``qty`` and ``price``. The pair
  is the trade row of the same ``date`` whose symbol is the contract's root (``AAPL`` for
  ``AAPL230721C00150000``), of exactly 100 shares a contract, in the direction the contract's
  right implies (a call exercised or a put assigned buys); among several, the one at the
  strike. A row left without its pair (or with several and none at the strike), and a trade
  row no contract row claims, is unmapped;
* ``SC``, ``MA``, ``REORG``: the rows do not say reliably what became what; they are left for
  an explicit event (``trade-ledger events import``), as is any row whose values an event
  does not accept (a zero amount, a ratio of 1).

Every event takes the activity's id as ``event_id`` (for a split: the id of its incoming row),
its time (``activity_time``: ``transaction_time``/``created_at``, else the New York time of its
id) as ``effective_at`` and its type as ``source``, so recording is idempotent and a re-run of
the same period finds the events it recorded.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Final

from pydantic import ValidationError

from ledger_store.decimals import decimal_context
from ledger_store.dto import Frozen, clean_text, contract_multiplier, option_terms
from ledger_store.events import (
    MAX_RATIO,
    AssetFee,
    CashFlow,
    CashInLieu,
    Dividend,
    Event,
    OptionExercise,
    OptionExpiry,
    Split,
)
from snapshots.alpaca.models import (
    CASH_TYPES,
    DIVIDEND_TYPES,
    AccountActivity,
    AccountActivityV16,
    is_booked,
    is_canceled,
    is_coin_fee,
)

#: Alpaca rounds a split's fractional result to this many places.
SPLIT_RESULT_PLACES: Final = 9


class ActivityEvents(Frozen):
    """The events the activities describe, the activities that need an explicit event, and
    the canceled activities (whose events, if any were recorded, must be voided)."""

    events: tuple[Event, ...] = ()
    unmapped: tuple[AccountActivity, ...] = ()
    canceled: tuple[AccountActivity, ...] = ()


def events_from_activities(
    account_id: str, activities: Iterable[AccountActivity]
) -> ActivityEvents:
    """Map Alpaca's non-trade activities to account events (see the module docstring)."""
    events: list[Event] = []
    unmapped: list[AccountActivity] = []
    canceled: list[AccountActivity] = []
    splits: dict[tuple[str, date], list[AccountActivity]] = defaultdict(list)
    exercises: list[AccountActivity] = []
    trades: list[AccountActivity] = []
    for row in activities:
        if is_canceled(row):
            canceled.append(row)
            continue
        if not is_booked(row):
            unmapped.append(row)  # a status Alpaca may add later: not booked, named
            continue
        kind = row.activity_type
        event: Event | None = None
        if kind in CASH_TYPES and row.net_amount:
            event = _event(CashFlow, row, account_id, amount=row.net_amount)
        elif kind in DIVIDEND_TYPES and row.symbol and row.net_amount:
            fields = {
                "symbol": row.symbol,
                "amount": row.net_amount,
                "per_share_amount": row.per_share_amount,
            }
            event = _event(Dividend, row, account_id, **fields, qty=row.qty)
            if event is None and row.qty is not None:
                event = _event(Dividend, row, account_id, **fields)  # the amount is what counts
        elif is_coin_fee(row) and row.qty is not None:
            price = row.price if isinstance(row, AccountActivityV16) else None
            fields = {"symbol": row.symbol, "qty": -row.qty, "price": price}
            event = _event(AssetFee, row, account_id, **fields)
        elif kind == "OPEXP" and row.symbol and row.qty:
            event = _event(OptionExpiry, row, account_id, symbol=row.symbol, qty=row.qty)
        elif kind == "SSP" and row.symbol:
            splits[(row.symbol, row.date)].append(row)
            continue
        elif kind in EXERCISE_TYPES or kind == "OPTRD":
            (trades if kind == "OPTRD" else exercises).append(row)
            continue
        if event is None:
            unmapped.append(row)
        else:
            events.append(event)
    for (symbol, _), group in sorted(splits.items()):
        cash = [r for r in group if not r.qty and r.net_amount]
        rows = [r for r in group if r not in cash]
        if cash:
            lieu = _cash_in_lieu(account_id, symbol, cash)
            if lieu is None:
                unmapped.extend(cash)
            else:
                events.append(lieu)
        out = [r.qty for r in rows if r.qty is not None and r.qty < 0]
        into = [r.qty for r in rows if r.qty is not None and r.qty > 0]
        split = None
        if not cash and len(out) == 1 and len(into) == 1 and len(rows) == 2:
            ratio = split_ratio(-out[0], into[0])
            if ratio is not None:
                incoming = next(r for r in rows if r.qty is not None and r.qty > 0)
                split = _event(
                    Split,
                    incoming,
                    account_id,
                    symbol=symbol,
                    ratio_new=Decimal(ratio.numerator),
                    ratio_old=Decimal(ratio.denominator),
                )
        if split is None:
            unmapped.extend(rows)
        else:
            events.append(split)
    paired, unpaired = _exercises(account_id, exercises, trades)
    events.extend(paired)
    unmapped.extend(unpaired)
    return ActivityEvents(
        events=tuple(sorted(events, key=lambda e: (e.effective_at, e.event_id))),
        unmapped=tuple(sorted(unmapped, key=lambda a: (a.created_at, a.id))),
        canceled=tuple(sorted(canceled, key=lambda a: (a.created_at, a.id))),
    )


def _cash_in_lieu(account_id: str, symbol: str, rows: list[AccountActivity]) -> CashInLieu | None:
    """One event for a symbol's cash-in-lieu rows of a day: their net amount, under the id of
    the last of them; ``None`` when they net to nothing or less (left for an explicit split)."""
    with localcontext(decimal_context(60)):
        net = sum((r.net_amount for r in rows if r.net_amount is not None), Decimal(0))
    if net <= 0:
        return None
    last = max(rows, key=lambda r: (r.created_at, r.id))
    event = _event(CashInLieu, last, account_id, symbol=symbol, amount=net)
    return event if isinstance(event, CashInLieu) else None


#: Alpaca's activity types of option contracts exercised (by the account) or assigned (to it).
EXERCISE_TYPES: Final = frozenset({"OPEXC", "OPASN"})


def _exercises(
    account_id: str, rows: list[AccountActivity], trades: list[AccountActivity]
) -> tuple[list[Event], list[AccountActivity]]:
    """Pair each exercise or assignment row with the ``OPTRD`` row of its shares (see the
    module docstring): the events, and the rows left unmapped."""
    events: list[Event] = []
    unmapped: list[AccountActivity] = []
    free = sorted(trades, key=lambda a: (a.created_at, a.id))
    for row in sorted(rows, key=lambda a: (a.created_at, a.id)):
        trade = _delivery(row, free)
        event = None
        if trade is not None:
            event = _event(
                OptionExercise,
                row,
                account_id,
                symbol=row.symbol,
                qty=row.qty,
                underlying=trade.symbol,
                shares=trade.qty,
                price=trade.price,
                trade_activity_id=trade.id,
            )
        if event is None or trade is None:
            unmapped.append(row)
        else:
            free.remove(trade)
            events.append(event)
    return events, unmapped + free


def _delivery(row: AccountActivity, trades: list[AccountActivity]) -> AccountActivityV16 | None:
    """The ``OPTRD`` row of ``row``'s shares: of its ``date``, of the contract's root, in the
    direction its right implies and of exactly 100 shares a contract; among several, the one
    at the strike (two strikes of one underlying the same day must not cross); ``None`` when
    none, or several and none at the strike (left for an explicit event)."""
    terms = option_terms(row.symbol or "")
    if terms is None or not row.qty:
        return None
    buys = (terms.right == "call") == (row.qty < 0)
    shares = abs(row.qty) * contract_multiplier(row.symbol or "")
    candidates = [
        t
        for t in trades
        if isinstance(t, AccountActivityV16)
        and t.symbol is not None
        and t.symbol.replace(".", "") == terms.root
        and t.date == row.date
        and t.qty is not None
        and abs(t.qty) == shares
        and (t.qty > 0) == buys
        and t.price is not None
    ]
    at_strike = [t for t in candidates if t.price == terms.strike]
    if at_strike:
        return at_strike[0]
    return candidates[0] if len(candidates) == 1 else None


def split_ratio(shares_out: Decimal, shares_in: Decimal) -> Fraction | None:
    """``new / old`` of a split that turned ``shares_out`` into ``shares_in``, exactly.

    Alpaca writes the result rounded half-up to 9 places, so the ratio is any fraction ``r``
    with ``round(shares_out * r, 9) == shares_in``: the simplest one (smallest denominator,
    then numerator) is the split's (a 1 : 6 reverse split of 7 shares writes 1.166666667;
    ``1.166666667 / 7`` is no split ratio, ``1/6`` is). ``None`` when no ratio of at most
    ``MAX_RATIO`` on either side fits.
    """
    if shares_out <= 0 or shares_in <= 0:
        return None
    half = Fraction(1, 2 * 10**SPLIT_RESULT_PLACES)
    low = (Fraction(shares_in) - half) / Fraction(shares_out)
    high = (Fraction(shares_in) + half) / Fraction(shares_out)
    ratio = simplest_fraction_between(max(low, Fraction(0)), high)
    if ratio <= 0 or ratio.numerator > MAX_RATIO or ratio.denominator > MAX_RATIO:
        return None
    # The interval is half-open at its top, as half-up rounding is.
    scale = 10**SPLIT_RESULT_PLACES
    rounded = math.floor(Fraction(shares_out) * ratio * scale + Fraction(1, 2))
    return ratio if Fraction(rounded, scale) == Fraction(shares_in) else None


def simplest_fraction_between(low: Fraction, high: Fraction) -> Fraction:
    """The fraction of smallest denominator in ``[low, high]`` (``0 <= low <= high``).

    The classic continued-fraction walk (the Stern-Brocot tree's first node in the interval).
    """
    if low > high or low < 0:
        raise ValueError(f"not an interval of non-negative numbers: [{low}, {high}]")
    floor = low.numerator // low.denominator
    if Fraction(floor) == low:
        return Fraction(floor)
    if floor + 1 <= high:
        return Fraction(floor + 1)
    # low and high share the whole part: recurse on the reciprocals of the fractional parts.
    inner = simplest_fraction_between(1 / (high - floor), 1 / (low - floor))
    return floor + 1 / inner


def _event(
    model: type[CashFlow]
    | type[Dividend]
    | type[Split]
    | type[AssetFee]
    | type[CashInLieu]
    | type[OptionExpiry]
    | type[OptionExercise],
    row: AccountActivity,
    account_id: str,
    **fields: object,
) -> Event | None:
    """The event, or ``None`` when the row's values are not a valid event."""
    try:
        return model.model_validate(
            {
                "event_id": row.id,
                "account_id": account_id,
                "effective_at": row.created_at,
                "source": row.activity_type,
                "description": clean_text(row.description)[:500] if row.description else None,
                **fields,
            }
        )
    except ValidationError:
        return None
