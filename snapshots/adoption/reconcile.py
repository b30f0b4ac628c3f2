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

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from ledger_store import keys
from ledger_store.accounts import AccountBindingRepository
from ledger_store.decimals import plain
from ledger_store.dto import (
    Side,
    StrategyAttribution,
    TradeFill,
    describe_validation_error,
    quote_currency,
    symbol_key,
)
from ledger_store.errors import (
    AccountMismatchError,
    LedgerError,
    LedgerValidationError,
    NotFoundError,
)
from ledger_store.events import AccountEventRepository, revised_id
from ledger_store.trades import TradeLedgerRepository
from snapshots.adoption.adopt import AdoptionSource, fill_of, with_quote_rates
from snapshots.alpaca.activities import events_from_activities
from snapshots.alpaca.fills import DoneOrder, OpenOrder, done_orders, ledger_price, ledger_symbol
from snapshots.alpaca.models import AlpacaOrder
from snapshots.builder import EventSync, record_activity_events
from snapshots.ledger.metrics import LedgerFill, group_by_order
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

    differences = _priced(differences, alpaca)
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
        written = {revised_id(e) for e in (*sync.recorded, *sync.revised)}
        differences = [
            d.model_copy(update={"status": "repaired" if d.order_id in written else "unchanged"})
            if d.kind == "event_missing"
            else d
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


def _priced(differences: list[Difference], alpaca: AdoptionSource) -> list[Difference]:
    """The repairs that write a fill of a pair quoted in another currency, given its
    ``quote_usd_rate`` from Alpaca's crypto bars (``with_quote_rates``), or left undone with the
    reason when Alpaca cannot price it."""
    writing = [d.fill for d in differences if d.repair in ("record", "amend") and d.fill]
    rated, unpriced = with_quote_rates(writing, alpaca)
    fills = {fill.order_id: fill for fill in rated}
    reasons = {refused.order_id: refused.reason for refused in unpriced}
    priced = []
    for difference in differences:
        order_id = difference.order_id
        if difference.fill is not None and order_id in reasons:
            difference = difference.model_copy(
                update={
                    "repair": "none",
                    "fill": None,
                    "detail": f"{difference.detail}; the ledger refuses it: {reasons[order_id]}",
                }
            )
        elif difference.fill is not None and order_id in fills:
            difference = difference.model_copy(update={"fill": fills[order_id]})
        priced.append(difference)
    return priced


def _ledger_fills(
    ledger: TradeLedgerRepository, account_id: str, start: datetime, end: datetime
) -> dict[str, LedgerFill]:
    """The ledger's active fills of the period, rebuilt from every strategy's attributions as
    a snapshot rebuilds them (exact sums; attributions that disagree are an integrity error)."""
    shares: list[StrategyAttribution] = []
    for registration in ledger.strategies(account_id):
        shares.extend(
            ledger.attributions_by_strategy(account_id, registration.strategy, start, end)
        )
    return group_by_order(shares, start, end)[2]


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
        return _amend(
            recorded.fill,
            f"{_alpaca_text(order)}; the ledger has it at "
            f"{keys.format_micros(recorded.fill.filled_at)}, outside the period",
            symbol=order.symbol,
            side=order.side,
            qty=order.qty,
            price=order.price,
            filled_at=order.filled_at,
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
    fill: LedgerFill,
    order: AlpacaOrder | None,
    start: datetime,
    end: datetime,
) -> Difference:
    ours = f"the ledger's {fill.side.value} {plain(fill.qty)} {fill.symbol} at {plain(fill.price)}"
    if order is None or not order.filled_qty or order.filled_avg_price is None:
        why = "Alpaca has no such order" if order is None else f"Alpaca's order is {order.status}"
        return Difference(
            kind="not_at_alpaca",
            order_id=fill.order_id,
            detail=f"{ours}; {why}, unfilled",
            repair="void",
        )
    alpaca = f"Alpaca filled {plain(order.filled_qty)} at {plain(order.filled_avg_price)}"
    if order.filled_at is None:  # done without a fill time (canceled after a partial fill)
        return Difference(
            kind="differs",
            order_id=fill.order_id,
            detail=f"{ours}; {alpaca} ({order.status}) but not in the period, and says not "
            "when: see its FILL activities",
            repair="none",
        )
    # Alpaca filled it at a time outside the period: the ledger's time (and figures) move.
    price, _ = ledger_price(order.filled_avg_price)
    return _amend(
        ledger.get_trade(fill.order_id).fill,
        f"{ours}; {alpaca}, at {keys.format_micros(order.filled_at)}, outside "
        f"{keys.format_seconds(start)}..{keys.format_seconds(end)}",
        symbol=ledger_symbol(order.symbol or fill.symbol, order.asset_class),
        side=order.side or fill.side.value.lower(),
        qty=order.filled_qty,
        price=price,
        filled_at=order.filled_at,
    )


def _compare(
    ledger: TradeLedgerRepository, fill: LedgerFill, order: DoneOrder
) -> Difference | None:
    differs = []
    if symbol_key(fill.symbol) != symbol_key(order.symbol):
        differs.append(f"symbol {fill.symbol} (Alpaca {order.symbol})")
    if fill.side.value.lower() != order.side:
        differs.append(f"side {fill.side.value} (Alpaca {order.side})")
    if fill.qty != order.qty:
        differs.append(f"qty {plain(fill.qty)} (Alpaca {plain(order.qty)})")
    if fill.price != order.price:
        differs.append(f"price {plain(fill.price)} (Alpaca {plain(order.price)})")
    if not differs:
        return None
    return _amend(
        ledger.get_trade(fill.order_id).fill,
        f"the ledger's {', '.join(differs)}; {_alpaca_text(order)}",
        symbol=order.symbol,
        side=order.side,
        qty=order.qty,
        price=order.price,
    )


def _amend(
    current: TradeFill,
    detail: str,
    *,
    symbol: str,
    side: str,
    qty: Decimal,
    price: Decimal,
    filled_at: datetime | None = None,
) -> Difference:
    """The amend to Alpaca's symbol, side, quantity, price (and time), the rest of the recorded
    fill kept; a ``none`` repair saying why when the ledger would refuse the amended fill."""
    changed = {
        **current.model_dump(),
        "symbol": symbol,
        "side": Side.BUY if side == "buy" else Side.SELL,
        "qty": qty,
        "price": price,
    }
    if filled_at is not None:
        changed["filled_at"] = filled_at
    moved = filled_at is not None and filled_at != current.filled_at
    if moved or quote_currency(symbol) != quote_currency(current.symbol):
        # The rate is of the recorded time and quote coin: another is read for the new ones
        # (``_priced``), and a USD pair has none.
        changed.pop("quote_usd_rate", None)
    try:
        amended = TradeFill.model_validate(changed)
    except ValidationError as exc:
        return Difference(
            kind="differs",
            order_id=current.order_id,
            detail=f"{detail}; the ledger refuses Alpaca's figures: "
            f"{describe_validation_error(exc)}",
            repair="none",
        )
    return Difference(
        kind="differs", order_id=current.order_id, detail=detail, repair="amend", fill=amended
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
                    difference.fill,
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
