"""The period's equity reconciliation and each difference from Alpaca's own figures, named.

The statement walks from the opening equity (the first daily sample of the period) to the
closing equity (the last one):

    opening + net deposits/withdrawals + realised P&L + dividends - fees + market moves = closing

Flows, realised P&L, dividends and fees are the ledger's; *market moves* is what is left: the
change in value of open positions and whatever the ledger does not hold. Then every figure that
Alpaca states differently is set beside the ledger's with the reason: the live equity taken after
the last sample, fee activities that post after the trade (a window of their own), deposits and
dividends Alpaca reported that the ledger has not recorded (or the reverse).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Final

from ledger_store.decimals import explicit_context
from ledger_store.dto import Frozen
from snapshots.alpaca.models import CASH_TYPES, DIVIDEND_TYPES, is_booked
from snapshots.report.figures import EXACT, exact_sum, fmt_date, fmt_datetime, fmt_money
from snapshots.report.performance import Performance
from snapshots.schema import AccountSnapshotV12, AnySnapshot

_ZERO: Final = Decimal(0)


class StatementLine(Frozen):
    """One line of the reconciliation: what it is, its amount, where it comes from."""

    key: str
    label: str
    amount: Decimal
    source: str


class Difference(Frozen):
    """A figure as Alpaca states it beside the ledger's (or the statement's), and why."""

    key: str
    label: str
    alpaca: Decimal
    ledger: Decimal
    difference: Decimal
    explanation: str


class Reconciliation(Frozen):
    """``lines`` sum to the closing equity; ``differences`` name every gap to Alpaca's figures."""

    lines: tuple[StatementLine, ...]
    closing: Decimal
    differences: tuple[Difference, ...]


def _stamp(value: datetime) -> str:
    return fmt_datetime(value, seconds=False)


@explicit_context
def reconcile(snapshot: AnySnapshot, perf: Performance) -> Reconciliation | None:
    """The period's reconciliation; ``None`` with fewer than two daily samples."""
    if perf.start_equity is None or perf.end_equity is None or len(perf.days) < 2:
        return None
    ledger = snapshot.internal_ledger
    strategies = ledger.strategy_performance.values()
    realized = exact_sum(p.period.realized_pnl for p in strategies)
    is_v12 = isinstance(snapshot, AccountSnapshotV12)
    dividends = _ZERO
    if isinstance(snapshot, AccountSnapshotV12):
        dividends = exact_sum(d.amount for d in snapshot.internal_ledger.dividends)
    fees = ledger.total_fees
    first = perf.days[0]
    moves = EXACT.subtract(
        perf.end_equity,
        exact_sum([perf.start_equity, perf.net_flows, realized, dividends, -fees]),
    )
    opening_label = f"Opening equity (close of {fmt_date(first.day)})"
    opening, flows = perf.start_equity, perf.net_flows
    in_opening = period_opening_flows(snapshot.period_start, perf)
    if in_opening:
        # the period opens on a close that already holds that day's flows: show them as
        # flows of the period (its cash-flow table lists them), the opening without them
        opening, flows = EXACT.subtract(opening, in_opening), EXACT.add(flows, in_opening)
        opening_label = (
            f"Opening equity (close of {fmt_date(first.day)}, less that day's deposits and "
            f"withdrawals, {fmt_money(in_opening, signed=True)})"
        )
    lines = [
        StatementLine(
            key="opening_equity",
            label=opening_label,
            amount=opening,
            source="Alpaca portfolio history",
        ),
        StatementLine(
            key="net_flows",
            label="Deposits and withdrawals",
            amount=flows,
            source="ledger cash flows" if is_v12 else "not recorded before snapshot 1.2",
        ),
        StatementLine(
            key="realized_pnl",
            label="Realised P&L (FIFO, all strategies)",
            amount=realized,
            source="ledger",
        ),
        StatementLine(
            key="dividends",
            label="Dividends",
            amount=dividends,
            source="ledger" if is_v12 else "not recorded before snapshot 1.2",
        ),
        StatementLine(key="fees", label="Fees", amount=-fees, source="ledger"),
        StatementLine(
            key="market_moves",
            label="Market moves and positions outside the ledger",
            amount=moves,
            source="the rest",
        ),
    ]
    differences = [_live_equity(snapshot, perf), _fees(snapshot)]
    if isinstance(snapshot, AccountSnapshotV12):
        differences += _activities(snapshot)
    return Reconciliation(
        lines=tuple(lines),
        closing=perf.end_equity,
        differences=tuple(d for d in differences if d is not None),
    )


def period_opening_flows(period_start: datetime, perf: Performance) -> Decimal:
    """The flows a period's opening close already holds when that close is in the period (a
    first snapshot, without an earlier close): flows of the period all the same. 0 when the
    period opens on an earlier day's close."""
    if perf.first_day is None or perf.first_day < period_start.date():
        return _ZERO
    return perf.opening_flows


def _live_equity(snapshot: AnySnapshot, perf: Performance) -> Difference:
    live = snapshot.alpaca_account.equity
    last = perf.days[-1]
    gap = EXACT.subtract(live, last.equity)
    explanation = (
        "equal"
        if gap.is_zero()
        else "the account's live equity was read when the snapshot was taken, after the close "
        f"of {fmt_date(last.day)} (the last daily sample): prices moved in between"
    )
    if perf.flows_after_last_sample:
        explanation += (
            f"; it holds {perf.flows_after_last_sample} of deposits and withdrawals dated after "
            "that day"
        )
    return Difference(
        key="live_equity",
        label="Equity: live account vs last daily close",
        alpaca=live,
        ledger=last.equity,
        difference=gap,
        explanation=explanation,
    )


def _fees(snapshot: AnySnapshot) -> Difference:
    alpaca = -exact_sum(f.net_amount for f in snapshot.alpaca_fees)
    ledger = snapshot.internal_ledger.total_fees
    gap = EXACT.subtract(alpaca, ledger)
    window = f"{_stamp(snapshot.fee_window_start)} \u2013 {_stamp(snapshot.fee_window_end)}"
    period = f"{_stamp(snapshot.period_start)} \u2013 {_stamp(snapshot.period_end)}"
    if gap.is_zero():
        explanation = "equal"
    else:
        explanation = (
            f"Alpaca's fee activities created {window} against the fees recorded on the ledger's "
            f"fills of {period}: Alpaca posts regulatory fees (REG, TAF) after the trade, so "
            "fees of earlier fills fall in the window and fees of its last fills after it"
        )
    return Difference(
        key="fees",
        label="Fees: Alpaca activities vs ledger fills",
        alpaca=alpaca,
        ledger=ledger,
        difference=gap,
        explanation=explanation,
    )


def _activities(snapshot: AccountSnapshotV12) -> list[Difference]:
    ledger = snapshot.internal_ledger
    found: list[Difference] = []
    for key, label, types, ledger_total in (
        (
            "cash_flows",
            "Deposits and withdrawals",
            CASH_TYPES,
            ledger.net_deposits,
        ),
        (
            "dividends",
            "Dividends",
            DIVIDEND_TYPES,
            exact_sum(d.amount for d in ledger.dividends),
        ),
    ):
        rows = [
            a
            for a in snapshot.alpaca_activities
            if a.activity_type in types and a.net_amount and is_booked(a)
        ]
        alpaca = exact_sum(a.net_amount for a in rows if a.net_amount is not None)
        gap = EXACT.subtract(alpaca, ledger_total)
        if gap.is_zero():
            explanation = "equal"
        elif gap > 0:
            explanation = (
                f"Alpaca reported {gap} more than the ledger recorded: record the missing "
                "events (trade-ledger events import) so that returns and P&L exclude them"
            )
        else:
            explanation = (
                f"the ledger recorded {-gap} more than Alpaca reported in the period: an event "
                "dated in the period that Alpaca posted at another time, or one to void"
            )
        found.append(
            Difference(
                key=key,
                label=f"{label}: Alpaca activities vs ledger events",
                alpaca=alpaca,
                ledger=ledger_total,
                difference=gap,
                explanation=explanation,
            )
        )
    return found


__all__ = [
    "Difference",
    "Reconciliation",
    "StatementLine",
    "period_opening_flows",
    "reconcile",
]
