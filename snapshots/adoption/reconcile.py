"""Reconcile the ledger with Alpaca for a period: what differs, and the repair of each.

``reconcile_account`` compares the ledger's fills of ``[period_start, period_end)`` with the
orders Alpaca filled in it (by order id: symbol, side, quantity, price) and the ledger's events
with Alpaca's non-trade activities of the period. Each difference comes with its repair, the
append-only correction the ledger already has:

* an order Alpaca filled that the ledger lacks: **record** it, attributed by the rules;
* a ledger fill Alpaca never made (no such order, or not filled): **void** it;
* a fill whose symbol, side, quantity or price differs, or that Alpaca filled at a time outside
  the period: **amend** it to Alpaca's figures (its strategy allocation and fees kept);
* an activity whose event the ledger lacks: **record** the event (as ``events sync`` does).

Without ``apply`` nothing is written. With it the repairs are made, each with actor
``reconcile`` and a reason naming Alpaca's order, and a snapshot of the period then passes its
fills check. The ledger fill's time is not compared: a bot records its own clock's time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from ledger_store import keys
from ledger_store.accounts import AccountBindingRepository
from ledger_store.decimals import plain
from ledger_store.dto import Side, TradeFill, describe_validation_error
from ledger_store.errors import (
    AccountMismatchError,
    LedgerError,
    LedgerValidationError,
    NotFoundError,
)
from ledger_store.events import AccountEventRepository, revised_id
from ledger_store.trades import TradeLedgerRepository
from snapshots.adoption.adopt import AdoptionSource, fill_of
from snapshots.alpaca.activities import events_from_activities
from snapshots.alpaca.fills import DoneOrder, OpenOrder, done_orders, ledger_symbol
from snapshots.alpaca.models import AlpacaOrder
from snapshots.builder import EventSync, record_activity_events
from snapshots.ledger.rules import AttributionRules

#: Who the ledger names for reconcile's corrections.
ACTOR = "reconcile"

Repair = Literal["record", "void", "amend", "record_event", "none"]


class Difference(BaseModel):
    """One difference between the ledger and Alpaca, and what repairs it.

    ``kind``: ``missing_from_ledger``, ``not_at_alpaca``, ``differs`` (figures),
    ``voided_in_ledger`` (Alpaca filled an order the ledger voided: no automatic repair),
    ``event_missing``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal[
        "missing_from_ledger", "not_at_alpaca", "differs", "voided_in_ledger", "event_missing"
    ]
    order_id: str
    detail: str
    repair: Repair
    fill: TradeFill | None = None
    status: Literal["pending", "repaired", "unchanged", "failed"] = "pending"
    error: str | None = None


class Reconciliation(BaseModel):
    """What ``reconcile_account`` compared, found and (with ``apply``) repaired."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    account_id: str
    period_start: datetime
    period_end: datetime
    alpaca_orders: int
    ledger_fills: int
    matched: int
    differences: tuple[Difference, ...]
    open_orders: tuple[OpenOrder, ...]
    applied: bool
    events: EventSync | None = None

    @property
    def clean(self) -> bool:
        """Whether nothing differs (or, applied, everything was repaired)."""
        return all(d.status in ("repaired", "unchanged") for d in self.differences) and (
            self.applied or not self.differences
        )


class _LedgerSide(BaseModel):
    """A ledger fill of the period, from its attributions (the figures the check compares)."""

    model_config = ConfigDict(frozen=True)

    order_id: str
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal
    strategies: tuple[str, ...]


def reconcile_account(
    *,
    account_id: str,
    alpaca: AdoptionSource,
    ledger: TradeLedgerRepository,
    events: AccountEventRepository,
    period_start: datetime,
    period_end: datetime,
    rules: AttributionRules | None = None,
    apply: bool = False,
    progress: Callable[[str, int, int | None], object] | None = None,
) -> Reconciliation:
    """Compare the ledger's period with Alpaca's and list each difference with its repair;
    with ``apply``, make the repairs (see the module docstring)."""
    keys.validate_key_part(account_id, "account_id")
    start = keys.require_utc(period_start, "period_start")
    end = keys.require_utc(period_end, "period_end")
    if start >= end:
        raise LedgerValidationError(
            f"period_start {keys.format_seconds(start)} must be before period_end "
            f"{keys.format_seconds(end)}"
        )
    rules = rules or AttributionRules()
    account = alpaca.fetch_account()
    bindings = AccountBindingRepository(ledger.settings)
    if apply:
        bindings.bind(account_id, account.id, account.account_number)  # before any write
    else:
        bound = bindings.find(account_id)
        if bound is not None and bound.alpaca_account_id != account.id:
            raise AccountMismatchError(
                f"ledger account {account_id} is bound to Alpaca account "
                f"{bound.alpaca_account_id}, but the keys read {account.id}",
                account_id=account_id,
                alpaca_account_id=account.id,
            )

    def read(kind: str, rows: int) -> None:
        if progress is not None:
            progress("reading", rows, None)

    history = alpaca.fetch_trading_history(start, end, progress=read)
    outcome = done_orders(history)
    at_alpaca = {order.order_id: order for order in outcome.done}
    open_ids = {order.order_id for order in outcome.open}
    in_ledger = _ledger_fills(ledger, account_id, start, end)

    differences: list[Difference] = []
    matched = 0
    for order_id in sorted(at_alpaca.keys() - in_ledger.keys()):
        differences.append(_missing(ledger, account_id, at_alpaca[order_id], rules))
    extra = sorted(in_ledger.keys() - at_alpaca.keys() - open_ids)
    known = alpaca.fetch_orders(extra) if extra else {}
    for order_id in extra:
        differences.append(_extra(ledger, in_ledger[order_id], known.get(order_id), start, end))
    for order_id in sorted(at_alpaca.keys() & in_ledger.keys()):
        found = _compare(ledger, in_ledger[order_id], at_alpaca[order_id])
        if found is None:
            matched += 1
        else:
            differences.append(found)

    activities = alpaca.fetch_activities(start, end)
    mapped = events_from_activities(account_id, activities)
    for event in mapped.events:
        if not events.revisions(account_id, revised_id(event.event_id)):
            differences.append(
                Difference(
                    kind="event_missing",
                    order_id=event.event_id,
                    detail=f"{event.kind.value} of {keys.format_micros(event.effective_at)}",
                    repair="record_event",
                )
            )

    sync = None
    if apply:
        differences = _apply(ledger, differences, progress)
        sync = record_activity_events(events, account_id, activities)
        differences = [
            d.model_copy(update={"status": "repaired"}) if d.kind == "event_missing" else d
            for d in differences
        ]
    return Reconciliation(
        account_id=account_id,
        period_start=start,
        period_end=end,
        alpaca_orders=len(at_alpaca),
        ledger_fills=len(in_ledger),
        matched=matched,
        differences=tuple(differences),
        open_orders=outcome.open,
        applied=apply,
        events=sync,
    )


def _ledger_fills(
    ledger: TradeLedgerRepository, account_id: str, start: datetime, end: datetime
) -> dict[str, _LedgerSide]:
    """The ledger's active fills of the period, from every strategy's attributions."""
    shares: dict[str, list[tuple[str, Decimal, Side, str, Decimal]]] = defaultdict(list)
    for registration in ledger.strategies(account_id):
        for share in ledger.attributions_by_strategy(account_id, registration.strategy, start, end):
            shares[share.order_id].append(
                (share.strategy, share.qty, share.side, share.symbol, share.price)
            )
    fills = {}
    for order_id, parts in shares.items():
        _, _, side, symbol, price = parts[0]
        fills[order_id] = _LedgerSide(
            order_id=order_id,
            symbol=symbol,
            side=side,
            qty=sum((qty for _, qty, *_ in parts), Decimal(0)),
            price=price,
            strategies=tuple(sorted(strategy for strategy, *_ in parts)),
        )
    return fills


def _alpaca_text(order: DoneOrder) -> str:
    return (
        f"Alpaca order {order.order_id} ({order.client_order_id or 'no client id'}): "
        f"{order.side} {plain(order.qty)} {order.symbol} at {plain(order.price)}, "
        f"{order.executions} execution(s), filled {keys.format_micros(order.filled_at)}"
    )


def _missing(
    ledger: TradeLedgerRepository, account_id: str, order: DoneOrder, rules: AttributionRules
) -> Difference:
    try:
        recorded = ledger.get_trade(order.order_id)
    except NotFoundError:
        recorded = None
    if recorded is not None and recorded.status == "voided":
        return Difference(
            kind="voided_in_ledger",
            order_id=order.order_id,
            detail=f"{_alpaca_text(order)}; the ledger voided it: record it again by hand",
            repair="none",
        )
    if recorded is not None:  # recorded with a time outside the period
        fill = _amended(recorded.fill, order)
        return Difference(
            kind="differs",
            order_id=order.order_id,
            detail=f"{_alpaca_text(order)}; the ledger has it at "
            f"{keys.format_micros(recorded.fill.filled_at)}, outside the period",
            repair="amend",
            fill=fill.model_copy(update={"filled_at": order.filled_at}),
        )
    try:
        label, fill = fill_of(order, account_id, rules)
    except ValidationError as exc:
        return Difference(
            kind="missing_from_ledger",
            order_id=order.order_id,
            detail=f"{_alpaca_text(order)}; the ledger refuses it: "
            f"{describe_validation_error(exc)}",
            repair="none",
        )
    return Difference(
        kind="missing_from_ledger",
        order_id=order.order_id,
        detail=f"{_alpaca_text(order)}; attributed by {label}",
        repair="record",
        fill=fill,
    )


def _extra(
    ledger: TradeLedgerRepository,
    side: _LedgerSide,
    order: AlpacaOrder | None,
    start: datetime,
    end: datetime,
) -> Difference:
    ours = f"the ledger's {side.side.value} {plain(side.qty)} {side.symbol} at {plain(side.price)}"
    filled = order is not None and bool(order.filled_qty) and order.filled_avg_price is not None
    if order is not None and filled and order.filled_at is not None:
        # Alpaca filled it, at a time outside the period: the ledger's time (and figures) move.
        current = ledger.get_trade(side.order_id).fill
        done = DoneOrder(
            order_id=order.id,
            client_order_id=order.client_order_id,
            symbol=ledger_symbol(order.symbol or side.symbol, order.asset_class),
            side="buy" if (order.side or side.side.value.lower()) == "buy" else "sell",
            qty=order.filled_qty or side.qty,
            price=order.filled_avg_price or side.price,
            filled_at=order.filled_at,
            order_type=current.order_type.value,
            asset_class=order.asset_class,
            status=order.status,
            executions=0,
        )
        return Difference(
            kind="differs",
            order_id=side.order_id,
            detail=f"{ours}; Alpaca filled it at {keys.format_micros(order.filled_at)}, outside "
            f"{keys.format_seconds(start)}..{keys.format_seconds(end)}",
            repair="amend",
            fill=_amended(current, done).model_copy(update={"filled_at": order.filled_at}),
        )
    why = "Alpaca has no such order" if order is None else f"Alpaca's order is {order.status}"
    return Difference(
        kind="not_at_alpaca",
        order_id=side.order_id,
        detail=f"{ours}; {why}, unfilled",
        repair="void",
    )


def _compare(
    ledger: TradeLedgerRepository, side: _LedgerSide, order: DoneOrder
) -> Difference | None:
    differs = []
    if side.symbol.replace("/", "") != order.symbol.replace("/", ""):
        differs.append(f"symbol {side.symbol} (Alpaca {order.symbol})")
    if side.side.value.lower() != order.side:
        differs.append(f"side {side.side.value} (Alpaca {order.side})")
    if side.qty != order.qty:
        differs.append(f"qty {plain(side.qty)} (Alpaca {plain(order.qty)})")
    if side.price != order.price:
        differs.append(f"price {plain(side.price)} (Alpaca {plain(order.price)})")
    if not differs:
        return None
    current = ledger.get_trade(side.order_id).fill
    return Difference(
        kind="differs",
        order_id=side.order_id,
        detail=f"the ledger's {', '.join(differs)}; {_alpaca_text(order)}",
        repair="amend",
        fill=_amended(current, order),
    )


def _amended(current: TradeFill, order: DoneOrder) -> TradeFill:
    """The recorded fill with Alpaca's symbol, side, quantity and price (the rest kept)."""
    return current.model_copy(
        update={
            "symbol": order.symbol,
            "side": Side.BUY if order.side == "buy" else Side.SELL,
            "qty": order.qty,
            "price": order.price,
        }
    )


def _apply(
    ledger: TradeLedgerRepository,
    differences: Sequence[Difference],
    progress: Callable[[str, int, int | None], object] | None,
) -> list[Difference]:
    """Make each repair; every difference gets its status (and error, if any)."""
    repaired: list[Difference] = []
    fills = [d.fill for d in differences if d.repair == "record" and d.fill is not None]
    results = dict(
        zip(
            (f.order_id for f in fills),
            ledger.record_many(fills) if fills else [],
            strict=True,
        )
    )
    for done, difference in enumerate(differences, start=1):
        status: Literal["pending", "repaired", "unchanged", "failed"] = "pending"
        error = None
        try:
            if difference.repair == "record":
                result = results[difference.order_id]
                if isinstance(result, LedgerError):
                    raise result
                status = "repaired" if result.created else "unchanged"
            elif difference.repair == "void":
                outcome = ledger.void(
                    difference.order_id,
                    reason=f"reconcile: {difference.detail}"[:500],
                    actor=ACTOR,
                )
                status = "repaired" if outcome.status == "voided" else "unchanged"
            elif difference.repair == "amend" and difference.fill is not None:
                outcome = ledger.amend(
                    TradeFill.model_validate(difference.fill.model_dump()),
                    reason=f"reconcile: {difference.detail}"[:500],
                    actor=ACTOR,
                )
                status = "repaired" if outcome.status == "amended" else "unchanged"
        except LedgerError as exc:
            status, error = "failed", str(exc)
        repaired.append(difference.model_copy(update={"status": status, "error": error}))
        if progress is not None:
            progress("repairing", done, len(differences))
    return repaired
