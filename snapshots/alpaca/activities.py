"""Alpaca's non-trade activities as account events (``ledger_store.events``), where they allow.

* ``CSD`` / ``CSW`` / ``JNLC`` with a ``net_amount``: a ``cash_flow`` of that amount;
* ``DIV`` and its family (``DIVCGL``, ``DIVNRA``, ``DIVTW``, ...) with a ``symbol`` and a
  ``net_amount``: a ``dividend`` (negative for withholdings and fees);
* ``SSP`` (split): Alpaca moves the old shares out and the new ones in and may not state a
  ratio. The rows of one symbol and day that are exactly one share movement out (``qty < 0``)
  and one in (``qty > 0``) give the split ``new : old`` (whole counts in lowest terms: 200
  out and 2,000 in make 10 : 1); anything else (reversed and re-posted rows, a cash
  remainder without its pair) is left for an explicit split event;
* ``SC``, ``MA``, ``REORG``: the rows do not say reliably what became what; they are left for
  an explicit event (``trade-ledger events import``), as is any row whose values an event
  does not accept (a zero amount, a ratio of 1).

Every event takes the activity's id as ``event_id`` (for a split: the id of its incoming row),
its creation time as ``effective_at`` and its type as ``source``, so recording is idempotent
and a re-run of the same period finds the events it recorded.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from pydantic import ValidationError

from ledger_store.dto import Frozen
from ledger_store.events import CashFlow, Dividend, Event, Split
from snapshots.alpaca.models import CASH_TYPES, DIVIDEND_TYPES, AccountActivity


class ActivityEvents(Frozen):
    """The events the activities describe, and the activities that need an explicit event."""

    events: tuple[Event, ...] = ()
    unmapped: tuple[AccountActivity, ...] = ()


def events_from_activities(
    account_id: str, activities: Iterable[AccountActivity]
) -> ActivityEvents:
    """Map Alpaca's non-trade activities to account events (see the module docstring)."""
    events: list[Event] = []
    unmapped: list[AccountActivity] = []
    splits: dict[tuple[str, date], list[AccountActivity]] = defaultdict(list)
    for row in activities:
        kind = row.activity_type
        event: Event | None = None
        if kind in CASH_TYPES and row.net_amount:
            event = _event(CashFlow, row, account_id, amount=row.net_amount)
        elif kind in DIVIDEND_TYPES and row.symbol and row.net_amount:
            event = _event(
                Dividend,
                row,
                account_id,
                symbol=row.symbol,
                amount=row.net_amount,
                per_share_amount=row.per_share_amount,
                qty=row.qty,
            )
        elif kind == "SSP" and row.symbol:
            splits[(row.symbol, row.date)].append(row)
            continue
        if event is None:
            unmapped.append(row)
        else:
            events.append(event)
    for (symbol, _), rows in sorted(splits.items()):
        out = [r.qty for r in rows if r.qty is not None and r.qty < 0]
        into = [r.qty for r in rows if r.qty is not None and r.qty > 0]
        split = None
        if len(out) == 1 and len(into) == 1 and len(rows) == 2:
            old, new = _lowest_terms(-out[0], into[0])
            incoming = next(r for r in rows if r.qty is not None and r.qty > 0)
            split = _event(Split, incoming, account_id, symbol=symbol, ratio_new=new, ratio_old=old)
        if split is None:
            unmapped.extend(rows)
        else:
            events.append(split)
    return ActivityEvents(
        events=tuple(sorted(events, key=lambda e: (e.effective_at, e.event_id))),
        unmapped=tuple(sorted(unmapped, key=lambda a: (a.created_at, a.id))),
    )


def _lowest_terms(old: Decimal, new: Decimal) -> tuple[Decimal, Decimal]:
    """Whole share counts as the ratio in lowest terms (200 out, 2,000 in: 1 for 10)."""
    if old == old.to_integral_value() and new == new.to_integral_value():
        divisor = math.gcd(int(old), int(new))
        return Decimal(int(old) // divisor), Decimal(int(new) // divisor)
    return old, new


def _event(
    model: type[CashFlow] | type[Dividend] | type[Split],
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
                "description": row.description[:500] if row.description else None,
                **fields,
            }
        )
    except ValidationError:
        return None
