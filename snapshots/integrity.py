"""Integrity checks of a snapshot: Alpaca's view against the ledger's, and each against itself.

``run_integrity_checks`` is pure (no I/O): it compares the ``AlpacaData`` of a period with the
``LedgerView`` of the same period and returns one ``IntegrityCheck`` per comparison, ordered by
name, each ``pass`` / ``warn`` / ``fail`` with the compared figures in ``details`` (plain decimal
strings, keys sorted) and one sentence with the numbers in ``message``:

* ``alpaca_equity_matches_balances``: Alpaca's equity against cash + long + short market value.
* ``ledger_fills_match_alpaca_orders``: the ledger's fills of the period against the orders
  Alpaca filled in the period (ids, symbol, side, quantity, price).
* ``ledger_positions_match_alpaca_positions``: the ledger's net quantity per symbol against
  Alpaca's positions.
* ``strategy_totals_match_ledger_totals``: the strategies' period totals against the ledger's.
* ``ledger_events_match_alpaca_activities`` (``snapshot_version`` 1.2): the ledger's account
  events of the period against Alpaca's non-trade activities (cash movements, dividends,
  corporate actions).

Ledger fees are not compared with Alpaca's FEE activities: Alpaca posts REG/TAF fees on the next
business day, so a period's fee rows belong to the previous period's fills and would differ on
every normal snapshot.

``enforce_strict`` is the strict mode: it raises ``IntegrityCheckFailed`` when any check failed
(warnings pass), so the caller refuses to write the snapshot. All arithmetic is exact
(``snapshots.ledger.fifo.exact_arithmetic``); no float is ever involved.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from ledger_store.decimals import decimal_context, explicit_context, plain
from ledger_store.dto import Frozen, NonNegativeDecimal, asset_class_of, symbol_key
from ledger_store.errors import IntegrityError, LedgerValidationError
from ledger_store.events import Merger, OptionExercise, Split, SymbolChange, revised_id
from snapshots import canonical
from snapshots.alpaca.models import (
    OPEN_ORDER_STATUSES,
    AlpacaData,
    AlpacaOrder,
    is_canceled,
    is_combination,
)
from snapshots.ledger.fifo import WORKING_DIGITS, exact_arithmetic
from snapshots.ledger.metrics import LedgerFill, LedgerView
from snapshots.ledger.summary import AccountView
from snapshots.schema import CheckStatus, Detail, IntegrityCheck

FILLS_CHECK: Final = "ledger_fills_match_alpaca_orders"
POSITIONS_CHECK: Final = "ledger_positions_match_alpaca_positions"
EQUITY_CHECK: Final = "alpaca_equity_matches_balances"
STRATEGY_TOTALS_CHECK: Final = "strategy_totals_match_ledger_totals"
EVENTS_CHECK: Final = "ledger_events_match_alpaca_activities"

#: At most this many ids (or per-order descriptions) are listed per problem in ``details``.
MAX_LISTED: Final = 20
#: Strategy sums that differ from the ledger totals by at most this much are rounding (``warn``).
ROUNDING_TOLERANCE: Final = Decimal("1e-9")
_ZERO = Decimal(0)
#: Relative deviations are shown to 6 significant digits (display only, never compared).
_DISPLAY = decimal_context(6)
_RATIO = decimal_context(WORKING_DIGITS)
_SEVERITY: Final = {CheckStatus.PASS: 0, CheckStatus.WARN: 1, CheckStatus.FAIL: 2}


class IntegrityTolerances(Frozen):
    """How far compared figures may drift before a check warns or fails (all >= 0).

    * ``price_relative``: ledger fill price vs Alpaca's ``filled_avg_price``: equal passes,
      ``|ledger - alpaca| <= price_relative * alpaca`` warns, more fails.
    * ``equity_absolute`` / ``equity_relative``: Alpaca's equity vs cash + long + short market
      value: a difference ``<= equity_absolute`` passes, ``<= equity_relative * |equity|`` warns,
      more fails.
    """

    price_relative: NonNegativeDecimal = Decimal("0.0001")
    equity_absolute: NonNegativeDecimal = Decimal("0.01")
    equity_relative: NonNegativeDecimal = Decimal("0.0001")


class IntegrityCheckFailed(IntegrityError):
    """Strict mode refused a snapshot: ``checks`` are the failing checks, in name order."""

    def __init__(self, describe: str, checks: Iterable[IntegrityCheck]) -> None:
        self.describe = describe
        self.checks = tuple(checks)
        listed = "; ".join(f"{c.name}: {c.message}" for c in self.checks)
        super().__init__(
            f"{describe} failed {len(self.checks)} integrity check(s), strict mode refuses "
            f"to write it: {listed}"
        )


@explicit_context
def run_integrity_checks(
    alpaca: AlpacaData,
    ledger: LedgerView | AccountView,
    tolerances: IntegrityTolerances | None = None,
) -> tuple[IntegrityCheck, ...]:
    """Every integrity check of the period, ordered by name (as the snapshot schema requires).

    Raises ``LedgerValidationError`` when the Alpaca data and the ledger view cover different
    periods (their figures could not be compared).
    """
    if (alpaca.period_start, alpaca.period_end) != (ledger.period_start, ledger.period_end):
        raise LedgerValidationError(
            "integrity checks need one period: the Alpaca data covers "
            f"{_period_text(alpaca.period_start, alpaca.period_end)}, the ledger "
            f"{_period_text(ledger.period_start, ledger.period_end)}"
        )
    limits = tolerances if tolerances is not None else IntegrityTolerances()
    checks = [
        check_fills(alpaca, ledger, limits),
        check_positions(alpaca, ledger),
        check_equity(alpaca, limits),
        check_strategy_totals(ledger),
    ]
    if isinstance(ledger, AccountView):
        checks.append(check_events(alpaca, ledger))
    return tuple(sorted(checks, key=lambda c: c.name))


@explicit_context
def worst_status(checks: Iterable[IntegrityCheck]) -> CheckStatus:
    """``fail`` if any check failed, else ``warn`` if any warned, else ``pass`` (also for none)."""
    return max((c.status for c in checks), key=_SEVERITY.__getitem__, default=CheckStatus.PASS)


@explicit_context
def failed(checks: Iterable[IntegrityCheck]) -> tuple[IntegrityCheck, ...]:
    """The checks whose status is ``fail``, in the order given."""
    return tuple(c for c in checks if c.status is CheckStatus.FAIL)


@explicit_context
def enforce_strict(checks: Iterable[IntegrityCheck], *, describe: str) -> None:
    """Strict mode: raise ``IntegrityCheckFailed`` when any check failed; warnings pass.

    ``describe`` names the snapshot in the message (e.g. ``AnySnapshot.describe()``).
    """
    failing = failed(checks)
    if failing:
        raise IntegrityCheckFailed(describe, failing)


# Fills -------------------------------------------------------------------------------------


@explicit_context
def filled_in_period(alpaca: AlpacaData) -> dict[str, AlpacaOrder]:
    """Alpaca's orders filled in the period, by id (sorted), legs of multi-leg orders included.

    An order (or leg) counts when it had a FILL activity in the period (``filled_order_ids``)
    or its ``filled_at`` lies in ``[period_start, period_end)``, unless its ``filled_qty`` is 0.
    (An order whose ``filled_qty`` Alpaca did not send counts: the fills check then says so.)
    The parent of a multi-leg order (``order_class`` ``mleg``) never counts: it is the
    combination, its quantity the number of combos; its legs are the fills.
    """
    filled_ids = set(alpaca.filled_order_ids)
    found: dict[str, AlpacaOrder] = {}

    def visit(order: AlpacaOrder) -> None:
        filled_at = order.filled_at
        in_period = filled_at is not None and alpaca.period_start <= filled_at < alpaca.period_end
        filled = order.filled_qty != 0 and (order.id in filled_ids or in_period)
        if filled and not is_combination(order):
            found.setdefault(order.id, order)
        for leg in order.legs:
            visit(leg)

    for order in alpaca.orders:
        visit(order)
    return dict(sorted(found.items()))


@explicit_context
def check_fills(
    alpaca: AlpacaData, ledger: LedgerView | AccountView, tolerances: IntegrityTolerances
) -> IntegrityCheck:
    """The ledger's fills of the period against the orders Alpaca filled in it, by order id.

    Fails for an order filled at Alpaca but missing from the ledger (only a warning while the
    order is still open at Alpaca, e.g. ``partially_filled``: the bot records an order once it is
    done), a ledger fill without an Alpaca order filled in the period, and a symbol, side,
    quantity (``filled_qty``) or asset class (Alpaca's against the one the ledger's symbol
    names: ``us_equity``, ``crypto``, ``us_option``) that differs. The price is compared with
    ``filled_avg_price``: equal passes, within ``price_relative`` warns, beyond fails. A figure
    Alpaca did not send (``filled_qty``, ``filled_avg_price``, ``side``, ``symbol``) cannot be
    compared: the check warns and names it (``incomplete_at_alpaca``). Ids are compared
    exactly: the ledger must record Alpaca's order id (lower-case UUID text).
    """
    orders = filled_in_period(alpaca)
    fills = ledger.period_fills
    problems: dict[str, list[str]] = defaultdict(list)
    notes: dict[str, list[str]] = {}
    worst: tuple[Decimal, str] | None = None
    for order_id, order in orders.items():
        if order_id not in fills:
            still_open = order.status in OPEN_ORDER_STATUSES
            category = "open_at_alpaca_not_in_ledger" if still_open else "missing_from_ledger"
            problems[category].append(order_id)
    for order_id in fills:
        if order_id not in orders:
            problems["not_filled_at_alpaca"].append(order_id)
    matched = sorted(set(orders) & set(fills))
    for order_id in matched:
        order, fill = orders[order_id], fills[order_id]
        found, deviation = _compare_fill(order, fill, tolerances)
        for category, note in found:
            problems[category].append(order_id)
            notes.setdefault(order_id, []).append(note)
        if deviation is not None and (worst is None or deviation > worst[0]):
            worst = (deviation, order_id)

    fail_categories = {
        "missing_from_ledger": "missing from the ledger",
        "not_filled_at_alpaca": "not filled at Alpaca in the period",
        "symbol_mismatch": "with another symbol",
        "asset_class_mismatch": "of another asset class",
        "side_mismatch": "with another side",
        "qty_mismatch": "with another quantity",
        "price_mismatch": "with a price beyond tolerance",
    }
    warn_categories = {
        "open_at_alpaca_not_in_ledger": "still open at Alpaca and not yet in the ledger",
        "price_within_tolerance": "with a price within tolerance",
        "incomplete_at_alpaca": "that Alpaca reported without a figure to compare",
    }
    status = _status(
        fail=any(problems.get(c) for c in fail_categories),
        warn=any(problems.get(c) for c in warn_categories),
    )
    details: dict[str, Detail] = {
        "alpaca_filled_orders": len(orders),
        "ledger_fills": len(fills),
        "matched": len(matched),
        "price_tolerance": plain(tolerances.price_relative),
    }
    for category, ids in problems.items():
        details[category] = _id_list(ids)
    for order_id in sorted(notes)[:MAX_LISTED]:
        details[order_id] = "; ".join(notes[order_id])
    if worst is not None:
        details["worst_price_deviation"] = _relative_text(worst[0])
        if worst[0]:
            details["worst_price_order"] = worst[1]

    counts = [
        f"{len(problems[c])} {label}"
        for c, label in {**fail_categories, **warn_categories}.items()
        if problems.get(c)
    ]
    summary = f"; problems: {', '.join(counts)}" if counts else "; they all agree"
    message = (
        f"Alpaca filled {len(orders)} order(s) in the period, the ledger has {len(fills)} "
        f"fill(s), {len(matched)} matched by order id{summary}."
    )
    return _check(FILLS_CHECK, status, message, details)


def _compare_fill(
    order: AlpacaOrder, fill: LedgerFill, tolerances: IntegrityTolerances
) -> tuple[list[tuple[str, str]], Decimal | None]:
    """Differences of one matched order as ``(category, note)``, and the relative price gap."""
    found: list[tuple[str, str]] = []
    missing = [
        name
        for name in ("symbol", "side", "filled_qty", "filled_avg_price")
        if getattr(order, name) is None
    ]
    if missing:
        found.append(
            ("incomplete_at_alpaca", f"Alpaca did not report {', '.join(missing)} of the order")
        )
    if order.symbol is not None and symbol_key(order.symbol) != symbol_key(fill.symbol):
        found.append(("symbol_mismatch", f"symbol alpaca {order.symbol}, ledger {fill.symbol}"))
    derived = asset_class_of(fill.symbol)
    if order.asset_class and order.asset_class != derived:
        found.append(
            ("asset_class_mismatch", f"asset class alpaca {order.asset_class}, ledger {derived}")
        )
    if order.side is not None and order.side != fill.side.value.lower():
        found.append(("side_mismatch", f"side alpaca {order.side}, ledger {fill.side.value}"))
    if order.filled_qty is not None and order.filled_qty != fill.qty:
        found.append(
            ("qty_mismatch", f"qty alpaca {plain(order.filled_qty)}, ledger {plain(fill.qty)}")
        )
    average = order.filled_avg_price
    if average is None:
        return found, None
    with exact_arithmetic():
        gap = abs(fill.price - average)
        allowed = tolerances.price_relative * average
    # The ratio may be inexact: it only orders and displays deviations, never decides a status.
    deviation = _RATIO.divide(gap, average) if average > 0 else None
    if gap:
        category = "price_within_tolerance" if gap <= allowed else "price_mismatch"
        relative = f" (relative {_relative_text(deviation)})" if deviation is not None else ""
        found.append(
            (category, f"price alpaca {plain(average)}, ledger {plain(fill.price)}{relative}")
        )
    return found, deviation


# Positions ---------------------------------------------------------------------------------


@explicit_context
def check_positions(alpaca: AlpacaData, ledger: LedgerView | AccountView) -> IntegrityCheck:
    """The ledger's net quantity per symbol (through ``period_end``) against Alpaca's positions.

    Alpaca's positions are as of the fetch: a snapshot built long after ``period_end`` can differ
    legitimately (trades after the period). Quantities are signed (shorts negative) and summed
    per symbol; ``BTC/USD`` matches Alpaca's position symbol ``BTCUSD``. A symbol the ledger
    traded whose quantity differs from Alpaca's (an absent position counts as 0) fails; an Alpaca
    position in a symbol the ledger never traded warns (untracked, e.g. held before the ledger
    started); a flat ledger symbol without an Alpaca position is fine.
    """
    held: dict[str, Decimal] = defaultdict(Decimal)
    booked: dict[str, Decimal] = defaultdict(Decimal)
    alpaca_names: dict[str, str] = {}
    ledger_names: dict[str, str] = {}
    with exact_arithmetic():
        for position in alpaca.positions:
            key = symbol_key(position.symbol)
            held[key] += -abs(position.qty) if position.side == "short" else position.qty
            # (without a side, the sign of qty says it: Alpaca sends shorts negative)
            alpaca_names.setdefault(key, position.symbol)
        for symbol, qty in sorted(ledger.net_positions.items()):
            key = symbol_key(symbol)
            booked[key] += qty
            ledger_names.setdefault(key, symbol)
    names = {**alpaca_names, **ledger_names}  # the ledger's spelling where it has one

    differing: dict[str, str] = {}
    untracked: dict[str, str] = {}
    matched = 0
    for key in sorted(set(held) | set(booked)):
        alpaca_qty = held.get(key, _ZERO)
        if key in booked:
            ledger_qty = booked[key]
            if alpaca_qty != ledger_qty:
                differing[names[key]] = f"alpaca {plain(alpaca_qty)}, ledger {plain(ledger_qty)}"
            elif ledger_qty:
                matched += 1
        elif alpaca_qty:
            untracked[names[key]] = f"alpaca {plain(alpaca_qty)}, ledger never traded it"

    status = _status(fail=bool(differing), warn=bool(untracked))
    details: dict[str, Detail] = {
        "alpaca_positions": sum(1 for q in held.values() if q),
        "ledger_positions": sum(1 for q in booked.values() if q),
        "matched": matched,
        "differing": len(differing),
        "untracked": len(untracked),
        **differing,
        **untracked,
    }
    parts = [f"{matched} open position(s) agree"]
    if differing:
        parts.append(f"{len(differing)} differ ({', '.join(sorted(differing))})")
    if untracked:
        parts.append(
            f"{len(untracked)} held at Alpaca but never traded in the ledger "
            f"({', '.join(sorted(untracked))})"
        )
    message = (
        "Ledger net positions through period_end vs Alpaca positions at fetch: "
        + ", ".join(parts)
        + "."
    )
    return _check(POSITIONS_CHECK, status, message, details)


# Equity ------------------------------------------------------------------------------------


@explicit_context
def check_equity(alpaca: AlpacaData, tolerances: IntegrityTolerances) -> IntegrityCheck:
    """Alpaca's ``equity`` against ``cash + long_market_value + short_market_value``.

    Alpaca's own figures must add up (``short_market_value`` is negative, ``cash`` may be):
    a difference within ``equity_absolute`` passes, within ``equity_relative * |equity|`` warns
    (e.g. prices moving between Alpaca's computations), beyond fails.
    """
    account = alpaca.account
    with exact_arithmetic():
        balances = account.cash + account.long_market_value + account.short_market_value
        difference = account.equity - balances
        gap = abs(difference)
        relative_allowed = tolerances.equity_relative * abs(account.equity)
    if gap <= tolerances.equity_absolute:
        status = CheckStatus.PASS
    elif gap <= relative_allowed:
        status = CheckStatus.WARN
    else:
        status = CheckStatus.FAIL
    details = {
        "equity": plain(account.equity),
        "cash": plain(account.cash),
        "long_market_value": plain(account.long_market_value),
        "short_market_value": plain(account.short_market_value),
        "balances": plain(balances),
        "difference": plain(difference),
        "absolute_tolerance": plain(tolerances.equity_absolute),
        "relative_tolerance": plain(tolerances.equity_relative),
    }
    message = (
        f"Alpaca equity {plain(account.equity)} vs cash {plain(account.cash)} + long "
        f"{plain(account.long_market_value)} + short {plain(account.short_market_value)} = "
        f"{plain(balances)}: difference {plain(difference)}."
    )
    return _check(EQUITY_CHECK, status, message, details)


# Account events ----------------------------------------------------------------------------


@explicit_context
def check_events(alpaca: AlpacaData, ledger: AccountView) -> IntegrityCheck:
    """Alpaca's non-trade activities of the period against the ledger's account events.

    An activity is accounted for when the ledger holds an event with its id (cash flows,
    dividends, splits recorded from Alpaca's rows; an option exercise also holds the id of
    its ``OPTRD`` share trade), or for a corporate action row (``SSP``,
    ``SC``, ``MA``, ``REORG``) when the ledger holds a corporate action of that symbol that day
    (an explicit event). An activity the ledger lacks fails: its cash or shares are missing
    from the ledger (import an explicit event). An activity whose event the ledger holds
    voided warns (someone took it out on purpose), as does a ledger event Alpaca did not
    report in the period (an event imported from a file under its own id, or dated
    differently).
    """
    events = ledger.period_events
    voided = {revised_id(event_id) for event_id in ledger.voided_event_ids}
    ids = {revised_id(e.event_id) for e in events}
    # An exercise or assignment also accounts for Alpaca's trade row of its shares.
    deliveries = {
        revised_id(e.trade_activity_id): revised_id(e.event_id)
        for e in events
        if isinstance(e, OptionExercise) and e.trade_activity_id
    }
    actions = {
        (e.symbol, e.effective_at.date())
        for e in events
        if isinstance(e, Split | SymbolChange | Merger)
    }
    missing: list[str] = []
    voided_rows: list[str] = []
    matched_ids: set[str] = set()
    matched_actions: set[tuple[str, Any]] = set()
    canceled_rows: list[str] = []
    booked_canceled: list[str] = []
    for activity in alpaca.activities:
        if is_canceled(activity):
            # Alpaca took it back: accounted for when the ledger books nothing for it.
            if activity.id in ids:
                matched_ids.add(activity.id)
                booked_canceled.append(activity.id)
            else:
                canceled_rows.append(activity.id)
            continue
        if activity.id in ids:
            matched_ids.add(activity.id)
            continue
        if activity.id in deliveries:
            continue
        day_action = (activity.symbol or "", activity.date)
        if activity.activity_type in CORPORATE_ACTION_TYPES and day_action in actions:
            matched_actions.add(day_action)
            continue
        if activity.id in voided:
            voided_rows.append(activity.id)
            continue
        missing.append(f"{activity.id} ({activity.activity_type} {activity.symbol or ''})".strip())
    unreported = [
        e.event_id
        for e in events
        if revised_id(e.event_id) not in matched_ids
        and not (
            isinstance(e, Split | SymbolChange | Merger)
            and (e.symbol, e.effective_at.date()) in matched_actions
        )
    ]
    status = _status(fail=bool(missing or booked_canceled), warn=bool(unreported or voided_rows))
    details: dict[str, Detail] = {
        "alpaca_activities": len(alpaca.activities),
        "ledger_events": len(events),
        "missing_from_ledger": len(missing),
        "not_reported_by_alpaca": len(unreported),
    }
    if canceled_rows:
        details["canceled_at_alpaca"] = len(canceled_rows)
    if booked_canceled:
        details["canceled_but_booked"] = _id_list(booked_canceled)
    if voided_rows:
        details["voided_in_ledger"] = len(voided_rows)
        details["voided_activities"] = _id_list(voided_rows)
    if missing:
        details["missing_activities"] = _id_list(missing)
    if unreported:
        details["unreported_events"] = _id_list(unreported)
    message = (
        f"Alpaca reported {len(alpaca.activities)} non-trade activit"
        f"{'y' if len(alpaca.activities) == 1 else 'ies'} in the period, the ledger holds "
        f"{len(events)} event(s); "
        + (
            f"{len(missing)} missing from the ledger (import an explicit event)"
            if missing
            else "none missing"
        )
        + (f", {len(unreported)} not reported by Alpaca" if unreported else "")
        + (
            f", {len(booked_canceled)} canceled by Alpaca but still booked in the ledger"
            if booked_canceled
            else ""
        )
        + (f", {len(canceled_rows)} canceled by Alpaca and not booked" if canceled_rows else "")
        + (f", {len(voided_rows)} voided in the ledger" if voided_rows else "")
        + "."
    )
    return _check(EVENTS_CHECK, status, message, details)


#: Alpaca activity types of corporate actions (matched to the ledger by symbol and day).
CORPORATE_ACTION_TYPES: Final = frozenset({"SSP", "SC", "MA", "REORG"})


# Strategy totals ---------------------------------------------------------------------------


@explicit_context
def check_strategy_totals(ledger: LedgerView | AccountView) -> IntegrityCheck:
    """The strategies' period totals against the ledger's totals of the period.

    Sums over strategies of ``period.total_buy_value``, ``period.total_sell_value`` and
    ``period.fees`` must equal the ledger's ``total_buy_value``, ``total_sell_value`` and
    ``total_fees`` (equal passes, within ``ROUNDING_TOLERANCE`` warns, beyond fails); the
    strategies' period trades must be the period fills' attributions, and the strategies of the
    period fills must be exactly ``strategies_active`` (otherwise fails).
    """
    internal = ledger.internal_ledger
    periods = [p.period for p in internal.strategy_performance.values()]
    with exact_arithmetic():
        figures = {
            "buy_value": (
                sum((p.total_buy_value for p in periods), _ZERO),
                internal.total_buy_value,
            ),
            "sell_value": (
                sum((p.total_sell_value for p in periods), _ZERO),
                internal.total_sell_value,
            ),
            "fees": (sum((p.fees for p in periods), _ZERO), internal.total_fees),
        }
        differences = {name: s - t for name, (s, t) in figures.items()}
    strategy_trades = sum(p.total_trades for p in periods)
    fill_attributions = sum(len(f.strategies) for f in ledger.period_fills.values())
    active = set(internal.strategies_active)
    attributed = {s for f in ledger.period_fills.values() for s in f.strategies}
    inactive_fills = sorted(
        order_id for order_id, f in ledger.period_fills.items() if not set(f.strategies) <= active
    )

    fail = (
        any(abs(d) > ROUNDING_TOLERANCE for d in differences.values())
        or strategy_trades != fill_attributions
        or bool(inactive_fills)
        or bool(active - attributed)
    )
    status = _status(fail=fail, warn=any(differences.values()))
    details: dict[str, Detail] = {
        "strategies": len(periods),
        "strategies_active": len(active),
        "strategy_period_trades": strategy_trades,
        "fill_attributions": fill_attributions,
    }
    for name, (strategies_sum, total) in figures.items():
        details[f"strategies_{name}"] = plain(strategies_sum)
        details[f"ledger_{name}"] = plain(total)
        details[f"{name}_difference"] = plain(differences[name])
    if inactive_fills:
        details["fills_with_inactive_strategies"] = _id_list(inactive_fills)
        details["inactive_strategies"] = _id_list(attributed - active)
    if active - attributed:
        details["active_strategies_without_fills"] = _id_list(active - attributed)

    sums = ", ".join(
        f"{name.replace('_', ' ')} {plain(s)} vs {plain(t)}" for name, (s, t) in figures.items()
    )
    message = (
        f"Sums over {len(periods)} strateg{'y' if len(periods) == 1 else 'ies'} vs ledger "
        f"totals of the period: {sums}; {strategy_trades} strategy trade(s) vs "
        f"{fill_attributions} fill attribution(s)"
    )
    if inactive_fills or active - attributed:
        message += (
            f"; {len(inactive_fills)} fill(s) with inactive strategies, "
            f"{len(active - attributed)} active strategy(ies) without fills"
        )
    return _check(STRATEGY_TOTALS_CHECK, status, message + ".", details)


# Helpers -----------------------------------------------------------------------------------


def _check(
    name: str, status: CheckStatus, message: str, details: Mapping[str, Detail]
) -> IntegrityCheck:
    return IntegrityCheck(
        name=name, status=status, message=message, details=dict(sorted(details.items()))
    )


def _status(*, fail: bool, warn: bool) -> CheckStatus:
    if fail:
        return CheckStatus.FAIL
    return CheckStatus.WARN if warn else CheckStatus.PASS


def _id_list(ids: Iterable[str]) -> str:
    """Sorted, comma-joined, at most ``MAX_LISTED`` shown then ``… (+N more)``."""
    ordered = sorted(set(ids))
    shown = ", ".join(ordered[:MAX_LISTED])
    extra = len(ordered) - MAX_LISTED
    return f"{shown} … (+{extra} more)" if extra > 0 else shown


def _relative_text(value: Decimal | None) -> str:
    return "none" if value is None else plain(_DISPLAY.plus(value))


def _period_text(start: datetime, end: datetime) -> str:
    return f"[{canonical.format_datetime(start)}, {canonical.format_datetime(end)})"


__all__ = [
    "EQUITY_CHECK",
    "FILLS_CHECK",
    "MAX_LISTED",
    "OPEN_ORDER_STATUSES",
    "POSITIONS_CHECK",
    "ROUNDING_TOLERANCE",
    "STRATEGY_TOTALS_CHECK",
    "IntegrityCheckFailed",
    "IntegrityTolerances",
    "check_equity",
    "check_fills",
    "check_positions",
    "check_strategy_totals",
    "enforce_strict",
    "failed",
    "filled_in_period",
    "run_integrity_checks",
    "worst_status",
]
